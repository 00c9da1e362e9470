package resource

import (
	"strconv"
	"time"
)

// ManagedTag is the tag pmpc puts on every guest it creates or adopts. A live
// guest carrying it is owned by some pmpc workspace; one without it is never
// changed or deleted unless a definition names it by vmid. The tag is a
// marker, not configuration: plans never show it as a change.
const ManagedTag = "pmpc"

// Origin is where a resource is defined: a workspace-relative file and the
// position of its key.
type Origin struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String prints the origin as "file:line:col".
func (o Origin) String() string {
	if o.Line == 0 {
		return o.File
	}
	return o.File + ":" + itoa(o.Line) + ":" + itoa(o.Col)
}

// Set is the desired state of a workspace: every resource its definitions
// declare, by kind and name.
type Set struct {
	VMs        map[string]*VM        `json:"vm,omitempty"`
	Containers map[string]*Container `json:"container,omitempty"`
	Pools      map[string]*Pool      `json:"pool,omitempty"`
	// Origins says where each resource is defined. It may be empty for sets
	// built in code.
	Origins map[Address]Origin `json:"-"`
}

// NewSet returns an empty set with its maps allocated.
func NewSet() *Set {
	return &Set{
		VMs:        map[string]*VM{},
		Containers: map[string]*Container{},
		Pools:      map[string]*Pool{},
		Origins:    map[Address]Origin{},
	}
}

// Len is the number of resources in the set.
func (s *Set) Len() int { return len(s.VMs) + len(s.Containers) + len(s.Pools) }

// Guest is one guest as the cluster reports it: the entry of
// GET /cluster/resources plus its config from GET .../config.
type Guest struct {
	Kind     Kind   `json:"kind"`
	VMID     int    `json:"vmid"`
	Node     string `json:"node"`
	Name     string `json:"name,omitempty"`
	Status   string `json:"status"`
	Template bool   `json:"template,omitempty"`
	Lock     string `json:"lock,omitempty"`
	Pool     string `json:"pool,omitempty"`
	// Tags is the raw tag list as PVE returns it ("prod;web").
	Tags   string `json:"tags,omitempty"`
	Uptime int64  `json:"uptime,omitempty"`
	// MaxCPU, MaxMem (bytes) and MaxDisk (bytes, the boot disk) are the
	// sizes /cluster/resources reports, derived by PVE from the config
	// (cores × sockets or vcpus, memory, the boot disk's size). They are 0
	// when PVE left them out (its status daemon had not published the
	// guest yet). Refresh compares them to spot config edits.
	MaxCPU  float64 `json:"maxcpu,omitempty"`
	MaxMem  int64   `json:"maxmem,omitempty"`
	MaxDisk int64   `json:"maxdisk,omitempty"`
	// Digest is the config digest PVE returned with Config.
	Digest string `json:"digest,omitempty"`
	// Config is the guest's flat config as GET .../config returns it (pending
	// changes merged), every value printed as a string the way PVE prints it
	// ("cores": "2", "cpulimit": "1.5", "net0": "virtio=BC:24:11:..,bridge=vmbr0").
	// `digest` itself is not in the map. LXC raw keys (`lxc` pairs) are
	// joined under the key "lxc" as "key: value" lines.
	Config map[string]string `json:"config"`
	// Pending lists config keys whose value is pending until the guest
	// restarts (from GET .../pending), with the value PVE still runs.
	Pending map[string]string `json:"pending,omitempty"`
}

// ID returns the id PVE uses for the guest in /cluster/resources,
// e.g. "qemu/100".
func (g *Guest) ID() string { return g.Kind.PVEType() + "/" + itoa(g.VMID) }

// ObservedPool is a pool as the cluster reports it.
type ObservedPool struct {
	ID      string `json:"poolid"`
	Comment string `json:"comment,omitempty"`
	// Members are the vmids of the guests in the pool.
	Members []int `json:"members,omitempty"`
}

// Node is a cluster node as the cluster reports it.
type Node struct {
	Name   string `json:"node"`
	Status string `json:"status"`
}

// Storage is a storage as one node reports it.
type Storage struct {
	ID      string `json:"storage"`
	Node    string `json:"node"`
	Type    string `json:"type"`
	Content string `json:"content"`
	Shared  bool   `json:"shared,omitempty"`
}

// Cluster is one observation of a whole cluster.
type Cluster struct {
	Endpoint string         `json:"endpoint"`
	Version  string         `json:"version"`
	Time     time.Time      `json:"time"`
	Nodes    []Node         `json:"nodes"`
	Storage  []Storage      `json:"storage,omitempty"`
	Guests   []Guest        `json:"guests"`
	Pools    []ObservedPool `json:"pools"`
}

func itoa(n int) string { return strconv.Itoa(n) }
