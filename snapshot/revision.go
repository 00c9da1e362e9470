package snapshot

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// Revision describes one stored observation of the cluster.
type Revision struct {
	// ID numbers revisions from 1 upwards, in the order they were written.
	// IDs are not reused once a revision is committed.
	ID       uint64    `json:"id"`
	Time     time.Time `json:"time"`
	Endpoint string    `json:"endpoint"`
	Version  string    `json:"version"`
	// Guests is how many guests the revision holds.
	Guests int `json:"guests"`
	// TaskMark is the end time (Unix seconds) of the newest finished task
	// the refresh that wrote this revision saw in /cluster/tasks; the next
	// refresh re-reads the config of every guest with a task that ended
	// at or after it. 0 if unknown.
	TaskMark int64 `json:"taskmark,omitempty"`
}

// String prints the revision as "r42".
func (r Revision) String() string { return fmt.Sprintf("r%d", r.ID) }

// GuestRevision is one guest as one revision saw it.
type GuestRevision struct {
	Revision Revision
	Guest    resource.Guest
}

// header is the value of h/<rev>: everything of a revision but its guests.
type header struct {
	Revision
	Nodes   []resource.Node         `json:"nodes"`
	Storage []resource.Storage      `json:"storage,omitempty"`
	Pools   []resource.ObservedPool `json:"pools"`
}

// guestEntry is the value of g/<rev>/<vmid>: the cheap fields of a guest
// (what /cluster/resources reports) and the hash of its config blob.
type guestEntry struct {
	Kind     resource.Kind `json:"k"`
	Node     string        `json:"n"`
	Name     string        `json:"nm,omitempty"`
	Status   string        `json:"s"`
	Template bool          `json:"t,omitempty"`
	Lock     string        `json:"l,omitempty"`
	Pool     string        `json:"p,omitempty"`
	Tags     string        `json:"tg,omitempty"`
	Uptime   int64         `json:"u,omitempty"`
	MaxCPU   float64       `json:"mc,omitempty"`
	MaxMem   int64         `json:"mm,omitempty"`
	MaxDisk  int64         `json:"md,omitempty"`
	Blob     []byte        `json:"c"`
	// Verified is the revision whose refresh last read this config from
	// the cluster (see WithCarried); 0 in stores written before it was
	// recorded, which Refresh treats as never verified.
	Verified uint64 `json:"v,omitempty"`
}

// configBlob is the value of c/<sha256>: a guest's config as GET .../config
// returned it. Blobs are content-addressed so that an unchanged guest costs
// one small entry per revision, not a copy of its config.
type configBlob struct {
	Digest  string            `json:"digest,omitempty"`
	Config  map[string]string `json:"config"`
	Pending map[string]string `json:"pending,omitempty"`
}

func splitGuest(g *resource.Guest) (guestEntry, []byte, []byte, error) {
	blob, err := json.Marshal(configBlob{Digest: g.Digest, Config: g.Config, Pending: g.Pending})
	if err != nil {
		return guestEntry{}, nil, nil, err
	}
	sum := sha256.Sum256(blob)
	e := guestEntry{
		Kind: g.Kind, Node: g.Node, Name: g.Name, Status: g.Status, Template: g.Template,
		Lock: g.Lock, Pool: g.Pool, Tags: g.Tags, Uptime: g.Uptime, Blob: sum[:],
		MaxCPU: g.MaxCPU, MaxMem: g.MaxMem, MaxDisk: g.MaxDisk,
	}
	return e, blob, sum[:], nil
}

func (e *guestEntry) guest(vmid int, b *configBlob) resource.Guest {
	return resource.Guest{
		Kind: e.Kind, VMID: vmid, Node: e.Node, Name: e.Name, Status: e.Status,
		Template: e.Template, Lock: e.Lock, Pool: e.Pool, Tags: e.Tags, Uptime: e.Uptime,
		MaxCPU: e.MaxCPU, MaxMem: e.MaxMem, MaxDisk: e.MaxDisk,
		Digest: b.Digest, Config: b.Config, Pending: b.Pending,
	}
}
