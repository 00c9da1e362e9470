package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Seed is a cluster described in PVE's own terms, as `pmpc sim --seed FILE`
// reads it (see DESIGN.md, "Seeds for the fake"). Config is exactly what
// GET .../config returns, less digest.
type Seed struct {
	Version string        `json:"version,omitempty"`
	Cluster string        `json:"cluster,omitempty"` // cluster name; default "sim"
	Nodes   []SeedNode    `json:"nodes"`
	Storage []SeedStorage `json:"storage,omitempty"`
	Pools   []SeedPool    `json:"pools,omitempty"`
	Guests  []SeedGuest   `json:"guests,omitempty"`
}

// SeedNode is one cluster node.
type SeedNode struct {
	Node    string `json:"node"`
	MaxCPU  int    `json:"maxcpu,omitempty"`
	MaxMem  int64  `json:"maxmem,omitempty"`
	MaxDisk int64  `json:"maxdisk,omitempty"`
	Status  string `json:"status,omitempty"` // online (default) or offline
	IP      string `json:"ip,omitempty"`
}

// SeedStorage is one storage definition and, optionally, its listed items.
type SeedStorage struct {
	Storage string     `json:"storage"`
	Type    string     `json:"type"`
	Content string     `json:"content,omitempty"`
	Nodes   string     `json:"nodes,omitempty"` // comma list; all nodes when empty
	Shared  int        `json:"shared,omitempty"`
	Total   int64      `json:"total,omitempty"`
	Path    string     `json:"path,omitempty"`
	Disable int        `json:"disable,omitempty"`
	Items   []SeedItem `json:"items,omitempty"`
}

// SeedItem is a volume listed in storage content (ISO, template, backup).
type SeedItem struct {
	Volid   string `json:"volid"`
	Content string `json:"content"`
	Size    int64  `json:"size,omitempty"`
	Format  string `json:"format,omitempty"`
	Ctime   int64  `json:"ctime,omitempty"`
	VMID    int    `json:"vmid,omitempty"`
	Notes   string `json:"notes,omitempty"`
	Node    string `json:"node,omitempty"` // for local storages: the node holding it; all when empty
}

// SeedPool is a resource pool and its guest members.
type SeedPool struct {
	PoolID  string `json:"poolid"`
	Comment string `json:"comment,omitempty"`
	Members []int  `json:"members,omitempty"`
}

// SeedGuest is one QEMU VM or LXC container.
type SeedGuest struct {
	Type      string         `json:"type"` // qemu or lxc
	Node      string         `json:"node"`
	VMID      int            `json:"vmid"`
	Status    string         `json:"status,omitempty"` // running or stopped (default)
	Config    map[string]any `json:"config"`
	Snapshots []SeedSnapshot `json:"snapshots,omitempty"`
}

// SeedSnapshot is a guest snapshot; Config is the guest config at the time.
type SeedSnapshot struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Snaptime    int64          `json:"snaptime,omitempty"`
	Parent      string         `json:"parent,omitempty"`
	Config      map[string]any `json:"config,omitempty"`
}

// ParseSeed reads a seed. Unknown keys at the top level and in nodes,
// storages, pools and guests are errors, so typos do not pass silently.
func ParseSeed(r io.Reader) (*Seed, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	known := map[string]bool{"version": true, "cluster": true, "nodes": true, "storage": true, "pools": true, "guests": true}
	var unknown []string
	for k := range top {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("seed: unknown top-level key %q (known: version, cluster, nodes, storage, pools, guests)", unknown[0])
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadSeed reads a seed file.
func LoadSeed(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ParseSeed(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Seed) check() error {
	if len(s.Nodes) == 0 {
		return fmt.Errorf("seed: no nodes")
	}
	nodes := map[string]bool{}
	for i, n := range s.Nodes {
		if !reNodeName.MatchString(n.Node) {
			return fmt.Errorf("seed: nodes[%d]: invalid node name %q", i, n.Node)
		}
		if nodes[n.Node] {
			return fmt.Errorf("seed: nodes[%d]: duplicate node %q", i, n.Node)
		}
		nodes[n.Node] = true
	}
	stores := map[string]bool{}
	for i, st := range s.Storage {
		if !reStorage.MatchString(st.Storage) {
			return fmt.Errorf("seed: storage[%d]: invalid storage id %q", i, st.Storage)
		}
		if stores[st.Storage] {
			return fmt.Errorf("seed: storage[%d]: duplicate storage %q", i, st.Storage)
		}
		stores[st.Storage] = true
		if st.Type == "" {
			return fmt.Errorf("seed: storage %s: missing type", st.Storage)
		}
		for _, n := range splitList(st.Nodes) {
			if !nodes[n] {
				return fmt.Errorf("seed: storage %s: unknown node %q", st.Storage, n)
			}
		}
		for j, it := range st.Items {
			if !strings.HasPrefix(it.Volid, st.Storage+":") {
				return fmt.Errorf("seed: storage %s: items[%d]: volid %q is not on this storage", st.Storage, j, it.Volid)
			}
		}
	}
	ids := map[int]bool{}
	for i, g := range s.Guests {
		if g.Type != "qemu" && g.Type != "lxc" {
			return fmt.Errorf("seed: guests[%d]: type must be qemu or lxc, not %q", i, g.Type)
		}
		if g.VMID < 100 || g.VMID > 999999999 {
			return fmt.Errorf("seed: guests[%d]: vmid %d out of range 100-999999999", i, g.VMID)
		}
		if ids[g.VMID] {
			return fmt.Errorf("seed: guests[%d]: duplicate vmid %d", i, g.VMID)
		}
		ids[g.VMID] = true
		if !nodes[g.Node] {
			return fmt.Errorf("seed: guest %d: unknown node %q", g.VMID, g.Node)
		}
		switch g.Status {
		case "", "running", "stopped":
		default:
			return fmt.Errorf("seed: guest %d: status must be running or stopped, not %q", g.VMID, g.Status)
		}
		if _, ok := g.Config["digest"]; ok {
			return fmt.Errorf("seed: guest %d: config must not carry digest (the fake computes it)", g.VMID)
		}
	}
	for i, p := range s.Pools {
		if !rePoolID.MatchString(p.PoolID) {
			return fmt.Errorf("seed: pools[%d]: invalid pool id %q", i, p.PoolID)
		}
		for _, m := range p.Members {
			if !ids[m] {
				return fmt.Errorf("seed: pool %s: member %d is not a guest", p.PoolID, m)
			}
		}
	}
	return nil
}

// seedValue turns a seed config value (JSON string, number or bool) into
// the config text PVE keeps.
func seedValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case float64, float32, int, int64, int32, uint64, uint32:
		return fmt.Sprint(x), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("unsupported value %v (%T)", v, v)
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
}
