package plan

import (
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// FormatVersion is the version of the JSON plan format. It changes only in
// ways documented in docs/plan-format.md.
const FormatVersion = "1"

// Action is what a change does to a resource.
type Action string

// The actions of a plan, in imperative form.
const (
	ActionCreate  Action = "create"
	ActionUpdate  Action = "update"
	ActionReplace Action = "replace"
	ActionDelete  Action = "delete"
	ActionStart   Action = "start"
	ActionStop    Action = "stop"
)

// Disruption says how disruptive a change is to a running guest.
type Disruption string

// Disruption classes, from least to most disruptive.
const (
	// DisruptionNone: the guest does not exist yet, is stopped, or the
	// change does not touch a guest (pools).
	DisruptionNone Disruption = "none"
	// DisruptionLive: applied live (hot-plugged or a "fast" option).
	DisruptionLive Disruption = "live"
	// DisruptionPending: stays pending in PVE until the guest's next
	// restart; pmpc does not restart it.
	DisruptionPending Disruption = "pending"
	// DisruptionRestart: pmpc restarts the guest to apply it (allowed by
	// the definition or --allow-restart).
	DisruptionRestart Disruption = "restart"
	// DisruptionReplace: the guest is destroyed and created again.
	DisruptionReplace Disruption = "replace"
	// DisruptionDestroy: the guest is deleted for good (prune).
	DisruptionDestroy Disruption = "destroy"
)

// disruptionRank orders disruption classes from least to most disruptive.
var disruptionRank = map[Disruption]int{
	"": 0, DisruptionNone: 0, DisruptionLive: 1, DisruptionPending: 2,
	DisruptionRestart: 3, DisruptionReplace: 4, DisruptionDestroy: 5,
}

// Worse returns the more disruptive of d and o.
func (d Disruption) Worse(o Disruption) Disruption {
	if disruptionRank[o] > disruptionRank[d] {
		return o
	}
	if d == "" {
		return DisruptionNone
	}
	return d
}

// FieldChange is one field-level change in PVE's terms: a config key, or one
// sub-key of a property string (Key "net0", SubKey "bridge").
type FieldChange struct {
	Key    string `json:"key"`
	SubKey string `json:"subkey,omitempty"`
	// Before and After are PVE's printed values; "" means absent. Sensitive
	// values are shown as "(sensitive)".
	Before    string `json:"before"`
	After     string `json:"after"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// Disruption is this field's own class; the change carries the worst.
	Disruption Disruption `json:"disruption,omitempty"`
	// ForcesReplace reports that this field forces replacement (it cannot
	// change after creation).
	ForcesReplace bool `json:"forces_replace,omitempty"`
	// Note is a short display-only remark ("detached: becomes unusedN").
	Note string `json:"note,omitempty"`
}

// OpKind is the kind of one API operation a change executes.
type OpKind string

// The operations apply knows how to execute.
const (
	OpCreate      OpKind = "create"       // POST /nodes/{node}/{type} with Params (+ vmid)
	OpClone       OpKind = "clone"        // POST .../{SourceVMID}/clone (Full, Storage, Target, Pool), then Params/Delete as a config update
	OpConfig      OpKind = "config"       // config update: Params set, Delete list, Digest
	OpResize      OpKind = "resize"       // PUT .../resize Disk, Size
	OpPower       OpKind = "power"        // POST .../status/{Power}
	OpMigrate     OpKind = "migrate"      // POST .../migrate Target
	OpTemplate    OpKind = "template"     // POST .../template
	OpDelete      OpKind = "delete"       // DELETE guest (Purge)
	OpPoolCreate  OpKind = "pool-create"  // POST /pools
	OpPoolUpdate  OpKind = "pool-update"  // PUT /pools?poolid= comment
	OpPoolDelete  OpKind = "pool-delete"  // DELETE /pools?poolid=
	OpPoolMembers OpKind = "pool-members" // PUT /pools?poolid= vms=VMID (add or remove)
)

// Op is one API operation of a change, in the order apply runs them. Params
// hold PVE keys and printed values; a secret appears only as its reference
// ("env:NAME"), resolved by apply at the moment it is sent.
type Op struct {
	Kind   OpKind            `json:"op"`
	Params map[string]string `json:"params,omitempty"`
	Delete []string          `json:"delete,omitempty"`
	// Digest is the config digest the plan saw; sent with config and resize
	// operations so PVE rejects a guest edited since. Only a change's first
	// config-writing operation carries it: that write changes the digest.
	Digest     string `json:"digest,omitempty"`
	Disk       string `json:"disk,omitempty"`
	Size       string `json:"size,omitempty"`
	Power      string `json:"power,omitempty"` // start, stop, shutdown, reboot
	Target     string `json:"target,omitempty"`
	SourceVMID int    `json:"source_vmid,omitempty"`
	// SourceAddress names the workspace template a clone comes from when its
	// vmid is not known at plan time (the template is created by this plan).
	SourceAddress string `json:"source_address,omitempty"`
	Pool          string `json:"pool,omitempty"`
	Remove        bool   `json:"remove,omitempty"` // pool-members: remove instead of add
	Purge         bool   `json:"purge,omitempty"`
	// Force, on a config operation, removes the disks named in Delete for
	// good (QEMU `force=1`) instead of detaching them to unusedN. Set only
	// when the plan was made with purge of removed disks.
	Force bool `json:"force,omitempty"`
	// Full and Storage are the clone's own parameters (`full`, `storage`);
	// Target is the node the clone is created on.
	Full    bool   `json:"full,omitempty"`
	Storage string `json:"storage,omitempty"`
}

// Change is one planned change to one resource.
type Change struct {
	Address    resource.Address `json:"-"`
	Action     Action           `json:"action"`
	Disruption Disruption       `json:"disruption"`
	// Reason is a human explanation kept for display only.
	Reason string `json:"reason,omitempty"`
	Node   string `json:"node,omitempty"`
	// VMID is the guest's id: pinned, observed, or 0 when PVE allocates it
	// at create.
	VMID int `json:"vmid,omitempty"`
	// Digest is the config digest the plan saw (empty for creates).
	Digest string        `json:"digest,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"`
	// DependsOn lists resources whose changes must succeed first.
	DependsOn []resource.Address `json:"-"`
	Ops       []Op               `json:"ops"`
}

// Unmanaged is a live guest (or pool) no definition manages. Pools have no
// VMID or Node.
type Unmanaged struct {
	Kind resource.Kind `json:"kind"`
	VMID int           `json:"vmid,omitempty"`
	Node string        `json:"node,omitempty"`
	Name string        `json:"name,omitempty"`
	// Tagged reports the guest carries the pmpc tag (it left the workspace;
	// prune would delete it).
	Tagged bool `json:"tagged,omitempty"`
}

// Plan is an ordered list of changes and what it was computed against.
type Plan struct {
	FormatVersion string `json:"format_version"`
	CreatedAt     time.Time
	// WorkspaceCommit is the git commit of the workspace definitions ("" if
	// none), with Dirty set when the work tree had uncommitted changes.
	WorkspaceCommit string
	Dirty           bool
	// SnapshotRevision identifies the observation the plan compared with.
	SnapshotRevision uint64
	Endpoint         string
	Changes          []Change
	Unmanaged        []Unmanaged
	// Pending lists managed running guests whose config matches their
	// definition (for the keys listed) but that still run older values:
	// PVE keeps the new ones pending until the guest restarts. They are not
	// changes (apply has nothing to send for them); with AllowRestart the
	// plan restarts such guests instead, as a change, and lists none here.
	Pending []PendingGuest
	// Errors are problems that stop some change from being planned (a disk
	// shrink, an ambiguous match); a plan with errors cannot be applied.
	Errors []string
}

// PendingGuest is a guest that runs older values than its config holds.
type PendingGuest struct {
	Address resource.Address `json:"-"`
	VMID    int              `json:"vmid"`
	Node    string           `json:"node,omitempty"`
	// Keys are the config keys PVE holds pending, sorted.
	Keys []PendingKey `json:"keys"`
}

// PendingKey is one config key whose new value waits for a restart.
type PendingKey struct {
	Key string `json:"key"`
	// Running is the value the guest runs ("" when the key is new);
	// Pending is the value its next start applies ("" when the key is
	// removed). Secrets read "(sensitive)".
	Running   string `json:"running"`
	Pending   string `json:"pending"`
	Sensitive bool   `json:"sensitive,omitempty"`
}
