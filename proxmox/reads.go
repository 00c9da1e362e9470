package proxmox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// VersionInfo is GET /version.
type VersionInfo struct {
	Version string `json:"version"`
	Release string `json:"release"`
	RepoID  string `json:"repoid"`
}

// Version reads the PVE version (GET /version). It is also the cheapest
// way to check that the endpoint and credentials work.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v struct {
		Version flexString `json:"version"`
		Release flexString `json:"release"`
		RepoID  flexString `json:"repoid"`
	}
	if err := c.call(ctx, &request{method: http.MethodGet, path: "/version", subject: "read version"}, &v); err != nil {
		return VersionInfo{}, err
	}
	return VersionInfo{Version: string(v.Version), Release: string(v.Release), RepoID: string(v.RepoID)}, nil
}

// Nodes lists the cluster's nodes (GET /nodes), sorted by name.
func (c *Client) Nodes(ctx context.Context) ([]resource.Node, error) {
	var raw []struct {
		Node   flexString `json:"node"`
		Status flexString `json:"status"`
	}
	if err := c.call(ctx, &request{method: http.MethodGet, path: "/nodes", subject: "list nodes"}, &raw); err != nil {
		return nil, err
	}
	out := make([]resource.Node, 0, len(raw))
	for _, n := range raw {
		out = append(out, resource.Node{Name: string(n.Node), Status: string(n.Status)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Resource is one raw entry of GET /cluster/resources. Fields PVE leaves out
// (name and stats shortly after a create, tags and lock when unset) are zero.
type Resource struct {
	ID     string `json:"id"`
	Type   string `json:"type"` // qemu, lxc, node, storage, pool, sdn, ...
	Node   string `json:"node,omitempty"`
	VMID   int    `json:"vmid,omitempty"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status,omitempty"`
	// Template is PVE's 0/1 template flag.
	Template bool    `json:"template,omitempty"`
	Tags     string  `json:"tags,omitempty"`
	Lock     string  `json:"lock,omitempty"`
	Pool     string  `json:"pool,omitempty"`
	HAState  string  `json:"hastate,omitempty"`
	Uptime   int64   `json:"uptime,omitempty"`
	MaxCPU   float64 `json:"maxcpu,omitempty"`
	MaxMem   int64   `json:"maxmem,omitempty"`
	MaxDisk  int64   `json:"maxdisk,omitempty"`
	// Storage fields (type "storage").
	Storage    string `json:"storage,omitempty"`
	PluginType string `json:"plugintype,omitempty"`
	Content    string `json:"content,omitempty"`
	Shared     bool   `json:"shared,omitempty"`
}

type resourceJSON struct {
	ID         flexString `json:"id"`
	Type       flexString `json:"type"`
	Node       flexString `json:"node"`
	VMID       flexInt    `json:"vmid"`
	Name       flexString `json:"name"`
	Status     flexString `json:"status"`
	Template   flexInt    `json:"template"`
	Tags       flexString `json:"tags"`
	Lock       flexString `json:"lock"`
	Pool       flexString `json:"pool"`
	HAState    flexString `json:"hastate"`
	Uptime     flexInt    `json:"uptime"`
	MaxCPU     flexFloat  `json:"maxcpu"`
	MaxMem     flexInt    `json:"maxmem"`
	MaxDisk    flexInt    `json:"maxdisk"`
	Storage    flexString `json:"storage"`
	PluginType flexString `json:"plugintype"`
	Content    flexString `json:"content"`
	Shared     flexInt    `json:"shared"`
}

// Resources lists GET /cluster/resources, filtered by typ ("vm", "node",
// "storage", "sdn") unless typ is empty.
func (c *Client) Resources(ctx context.Context, typ string) ([]Resource, error) {
	r := &request{method: http.MethodGet, path: "/cluster/resources", subject: "list cluster resources"}
	if typ != "" {
		r.query = url.Values{"type": {typ}}
	}
	var raw []resourceJSON
	if err := c.call(ctx, r, &raw); err != nil {
		return nil, err
	}
	out := make([]Resource, len(raw))
	for i, x := range raw {
		out[i] = Resource{
			ID: string(x.ID), Type: string(x.Type), Node: string(x.Node), VMID: int(x.VMID), Name: string(x.Name),
			Status: string(x.Status), Template: x.Template != 0, Tags: string(x.Tags), Lock: string(x.Lock),
			Pool: string(x.Pool), HAState: string(x.HAState), Uptime: int64(x.Uptime), MaxCPU: float64(x.MaxCPU),
			MaxMem: int64(x.MaxMem), MaxDisk: int64(x.MaxDisk), Storage: string(x.Storage),
			PluginType: string(x.PluginType), Content: string(x.Content), Shared: x.Shared != 0,
		}
		if out[i].Type == "" {
			// Older or trimmed answers: derive the type from the id.
			t, _, _ := strings.Cut(out[i].ID, "/")
			out[i].Type = t
		}
		if out[i].VMID == 0 && (out[i].Type == "qemu" || out[i].Type == "lxc") {
			_, id, _ := strings.Cut(out[i].ID, "/")
			out[i].VMID, _ = strconv.Atoi(id)
		}
	}
	return out, nil
}

// IsGuest reports whether the resource is a QEMU VM or an LXC container.
func (r Resource) IsGuest() bool { return r.Type == "qemu" || r.Type == "lxc" }

// storageOf converts storage resources to resource.Storage, sorted by
// storage then node.
func storageOf(rs []Resource) []resource.Storage {
	var out []resource.Storage
	for _, r := range rs {
		if r.Type != "storage" {
			continue
		}
		out = append(out, resource.Storage{ID: r.Storage, Node: r.Node, Type: r.PluginType, Content: r.Content, Shared: r.Shared})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Node < out[j].Node
	})
	return out
}

// Storage lists every storage on every node where it is enabled, from
// GET /cluster/resources?type=storage.
func (c *Client) Storage(ctx context.Context) ([]resource.Storage, error) {
	rs, err := c.Resources(ctx, "storage")
	if err != nil {
		return nil, err
	}
	return storageOf(rs), nil
}

type poolJSON struct {
	PoolID  flexString `json:"poolid"`
	Comment flexString `json:"comment"`
	Members []struct {
		ID   flexString `json:"id"`
		Type flexString `json:"type"`
		VMID flexInt    `json:"vmid"`
	} `json:"members"`
}

func (c *Client) listPools(ctx context.Context) ([]poolJSON, error) {
	var raw []poolJSON
	if err := c.call(ctx, &request{method: http.MethodGet, path: "/pools", subject: "list pools"}, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// poolsOf joins GET /pools with the guests' pool field from
// /cluster/resources; member lists in the pools answer, where PVE gives
// them, are used too.
func poolsOf(raw []poolJSON, rs []Resource) []resource.ObservedPool {
	byID := map[string]*resource.ObservedPool{}
	var out []resource.ObservedPool
	for _, p := range raw {
		out = append(out, resource.ObservedPool{ID: string(p.PoolID), Comment: string(p.Comment)})
	}
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	seen := map[string]map[int]bool{}
	add := func(pool string, vmid int) {
		p := byID[pool]
		if p == nil || vmid == 0 {
			return
		}
		if seen[pool] == nil {
			seen[pool] = map[int]bool{}
		}
		if !seen[pool][vmid] {
			seen[pool][vmid] = true
			p.Members = append(p.Members, vmid)
		}
	}
	for _, p := range raw {
		for _, m := range p.Members {
			if t := string(m.Type); t == "qemu" || t == "lxc" {
				add(string(p.PoolID), int(m.VMID))
			}
		}
	}
	for _, r := range rs {
		if r.IsGuest() && r.Pool != "" {
			add(r.Pool, r.VMID)
		}
	}
	for i := range out {
		sort.Ints(out[i].Members)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Pools lists the pools with their comments and guest members
// (GET /pools plus GET /cluster/resources?type=vm for membership).
func (c *Client) Pools(ctx context.Context) ([]resource.ObservedPool, error) {
	raw, err := c.listPools(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := c.Resources(ctx, "vm")
	if err != nil {
		return nil, err
	}
	return poolsOf(raw, rs), nil
}

// guestPath is /nodes/{node}/{qemu|lxc}/{vmid}.
func guestPath(kind resource.Kind, node string, vmid int) (string, error) {
	t := kind.PVEType()
	if t == "" {
		return "", fmt.Errorf("kind %q is not a guest kind", kind)
	}
	if !nodeRE.MatchString(node) {
		return "", fmt.Errorf("%s %d: invalid node name %q", kind, vmid, node)
	}
	return "/nodes/" + node + "/" + t + "/" + strconv.Itoa(vmid), nil
}

// nodeRE is PVE's node name format; checked so that no name can reach
// another API path.
var nodeRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

// subject names a guest for error messages: "vm 100 on pve1".
func subject(verb string, kind resource.Kind, node string, vmid int) string {
	return fmt.Sprintf("%s %s %d on %s", verb, kind, vmid, node)
}

// GuestConfig reads a guest's config (GET .../config; pending changes
// merged, as PVE does by default). Every value is returned as the string PVE
// prints: integers without decimals, floats as PVE prints them, booleans as
// 0/1; LXC raw `lxc.*` pairs are joined as "key: value" lines under "lxc".
// The digest is returned apart and is not in the map.
func (c *Client) GuestConfig(ctx context.Context, kind resource.Kind, node string, vmid int) (map[string]string, string, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return nil, "", err
	}
	var raw map[string]json.RawMessage
	r := &request{method: http.MethodGet, path: p + "/config", subject: subject("read", kind, node, vmid)}
	if err := c.call(ctx, r, &raw); err != nil {
		return nil, "", err
	}
	cfg, digest, err := decodeConfig(raw)
	if err != nil {
		return nil, "", c.wrap(r, err)
	}
	return cfg, digest, nil
}

// PendingItem is one row of GET .../pending.
type PendingItem struct {
	Key string
	// Value is the current (running) value; HasValue says whether there is one.
	Value    string
	HasValue bool
	// Pending is the value waiting for the next restart; HasPending says
	// whether there is one.
	Pending    string
	HasPending bool
	// Delete is 1 (or 2 for a forced delete) when the key is pending deletion.
	Delete int
}

// IsPending reports whether the row describes a change still waiting for a
// restart.
func (p PendingItem) IsPending() bool { return p.HasPending || p.Delete != 0 }

// GuestPending reads GET .../pending, one row per config key (the digest
// row left out), sorted by key.
func (c *Client) GuestPending(ctx context.Context, kind resource.Kind, node string, vmid int) ([]PendingItem, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return nil, err
	}
	var raw []map[string]json.RawMessage
	r := &request{method: http.MethodGet, path: p + "/pending", subject: subject("read pending changes of", kind, node, vmid)}
	if err := c.call(ctx, r, &raw); err != nil {
		return nil, err
	}
	out := make([]PendingItem, 0, len(raw))
	for _, row := range raw {
		var it PendingItem
		k, _ := valueString(row["key"])
		if k == "" || k == "digest" {
			continue
		}
		it.Key = k
		if v, ok := row["value"]; ok && string(v) != "null" {
			it.Value, it.HasValue = pendingValue(k, v), true
		}
		if v, ok := row["pending"]; ok && string(v) != "null" {
			it.Pending, it.HasPending = pendingValue(k, v), true
		}
		if v, ok := row["delete"]; ok {
			var d flexInt
			_ = d.UnmarshalJSON(v)
			it.Delete = int(d)
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// pendingValue prints a pending row's value as GuestConfig prints the
// config's; a value of an unexpected shape prints as "".
func pendingValue(key string, v json.RawMessage) string {
	s, _ := configValue(key, v)
	return s
}

// PendingMap turns pending rows into resource.Guest.Pending: for every key
// with a change waiting for a restart, the value PVE still runs ("" when the
// key is new).
func PendingMap(items []PendingItem) map[string]string {
	var m map[string]string
	for _, it := range items {
		if !it.IsPending() {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[it.Key] = it.Value
	}
	return m
}

// GuestStatus is GET .../status/current, the fields pmpc uses.
type GuestStatus struct {
	VMID int
	Name string
	// Status is "running" or "stopped".
	Status string
	// QMPStatus is QEMU's own state (running, paused, prelaunch, ...);
	// empty for containers.
	QMPStatus string
	Lock      string
	Tags      string
	Template  bool
	Uptime    int64
	// HAManaged reports whether the guest is managed by PVE's HA stack.
	HAManaged bool
}

// GuestStatus reads a guest's current status.
func (c *Client) GuestStatus(ctx context.Context, kind resource.Kind, node string, vmid int) (GuestStatus, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return GuestStatus{}, err
	}
	var raw struct {
		VMID      flexInt    `json:"vmid"`
		Name      flexString `json:"name"`
		Status    flexString `json:"status"`
		QMPStatus flexString `json:"qmpstatus"`
		Lock      flexString `json:"lock"`
		Tags      flexString `json:"tags"`
		Template  flexInt    `json:"template"`
		Uptime    flexInt    `json:"uptime"`
		HA        struct {
			Managed flexInt `json:"managed"`
		} `json:"ha"`
	}
	r := &request{method: http.MethodGet, path: p + "/status/current", subject: subject("read status of", kind, node, vmid)}
	if err := c.call(ctx, r, &raw); err != nil {
		return GuestStatus{}, err
	}
	st := GuestStatus{VMID: int(raw.VMID), Name: string(raw.Name), Status: string(raw.Status), QMPStatus: string(raw.QMPStatus),
		Lock: string(raw.Lock), Tags: string(raw.Tags), Template: raw.Template != 0, Uptime: int64(raw.Uptime), HAManaged: raw.HA.Managed != 0}
	if st.VMID == 0 {
		st.VMID = vmid
	}
	return st, nil
}

// NextID asks PVE for a free VMID (GET /cluster/nextid). With want > 0 it
// checks that want is free and returns it, or an error for which
// IsAlreadyExists is true. PVE reserves nothing: a create can still race.
func (c *Client) NextID(ctx context.Context, want int) (int, error) {
	r := &request{method: http.MethodGet, path: "/cluster/nextid", subject: "allocate a vmid"}
	if want > 0 {
		r.query = url.Values{"vmid": {strconv.Itoa(want)}}
		r.subject = fmt.Sprintf("check vmid %d is free", want)
	}
	var id flexInt
	if err := c.call(ctx, r, &id); err != nil {
		return 0, err
	}
	if id <= 0 {
		return 0, c.wrap(r, fmt.Errorf("PVE returned no vmid"))
	}
	return int(id), nil
}

// Permissions reads the caller's effective privileges (GET
// /access/permissions): ACL path → privilege → 1 (0 or absent = not granted
// on that path; a 1 that propagates covers the subtree).
func (c *Client) Permissions(ctx context.Context) (map[string]map[string]int, error) {
	var raw map[string]map[string]flexInt
	if err := c.call(ctx, &request{method: http.MethodGet, path: "/access/permissions", subject: "read permissions"}, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]map[string]int, len(raw))
	for p, privs := range raw {
		m := make(map[string]int, len(privs))
		for k, v := range privs {
			m[k] = int(v)
		}
		out[p] = m
	}
	return out, nil
}
