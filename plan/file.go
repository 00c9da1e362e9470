package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// Summary counts a plan's changes by action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Replace   int `json:"replace"`
	Delete    int `json:"delete"`
	Start     int `json:"start"`
	Stop      int `json:"stop"`
	Errors    int `json:"errors"`
	Unmanaged int `json:"unmanaged"`
	// Pending counts guests listed as pending until restart (not changes).
	Pending int `json:"pending"`
}

// Summary counts p's changes by action.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			s.Update++
		case ActionReplace:
			s.Replace++
		case ActionDelete:
			s.Delete++
		case ActionStart:
			s.Start++
		case ActionStop:
			s.Stop++
		}
	}
	s.Errors, s.Unmanaged, s.Pending = len(p.Errors), len(p.Unmanaged), len(p.Pending)
	return s
}

// HasChanges reports whether applying p would change anything. Guests that
// only hold pending values (Plan.Pending) are not changes: apply has nothing
// to send for them.
func (p *Plan) HasChanges() bool { return len(p.Changes) > 0 }

// jsonPlan is the documented JSON form of a plan (docs/plan-format.md): the
// output of `pmpc plan -o json` and the content of a saved plan file.
type jsonPlan struct {
	FormatVersion    string        `json:"format_version"`
	CreatedAt        time.Time     `json:"created_at"`
	WorkspaceCommit  string        `json:"workspace_commit,omitempty"`
	Dirty            bool          `json:"workspace_dirty,omitempty"`
	SnapshotRevision uint64        `json:"snapshot_revision"`
	Endpoint         string        `json:"endpoint,omitempty"`
	Summary          Summary       `json:"summary"`
	Changes          []jsonChange  `json:"changes"`
	Unmanaged        []Unmanaged   `json:"unmanaged"`
	Pending          []jsonPending `json:"pending"`
	Errors           []string      `json:"errors"`
}

type jsonPending struct {
	Address string `json:"address"`
	*PendingGuest
}

type jsonChange struct {
	Address string `json:"address"`
	*Change
	DependsOn []string `json:"depends_on,omitempty"`
}

// MarshalJSON writes the plan in the documented JSON format.
func (p *Plan) MarshalJSON() ([]byte, error) {
	jp := jsonPlan{
		FormatVersion:    p.FormatVersion,
		CreatedAt:        p.CreatedAt,
		WorkspaceCommit:  p.WorkspaceCommit,
		Dirty:            p.Dirty,
		SnapshotRevision: p.SnapshotRevision,
		Endpoint:         p.Endpoint,
		Summary:          p.Summary(),
		Changes:          make([]jsonChange, len(p.Changes)),
		Unmanaged:        p.Unmanaged,
		Pending:          make([]jsonPending, len(p.Pending)),
		Errors:           p.Errors,
	}
	for i := range p.Pending {
		jp.Pending[i] = jsonPending{Address: p.Pending[i].Address.String(), PendingGuest: &p.Pending[i]}
	}
	if jp.FormatVersion == "" {
		jp.FormatVersion = FormatVersion
	}
	if jp.Unmanaged == nil {
		jp.Unmanaged = []Unmanaged{}
	}
	if jp.Errors == nil {
		jp.Errors = []string{}
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		jc := jsonChange{Address: c.Address.String(), Change: c}
		for _, a := range c.DependsOn {
			jc.DependsOn = append(jc.DependsOn, a.String())
		}
		jp.Changes[i] = jc
	}
	return json.Marshal(jp)
}

// UnmarshalJSON reads a plan in the documented JSON format.
func (p *Plan) UnmarshalJSON(b []byte) error {
	var jp jsonPlan
	if err := json.Unmarshal(b, &jp); err != nil {
		return err
	}
	if jp.FormatVersion != FormatVersion {
		return fmt.Errorf("plan format version %q is not supported (want %q)", jp.FormatVersion, FormatVersion)
	}
	*p = Plan{
		FormatVersion:    jp.FormatVersion,
		CreatedAt:        jp.CreatedAt,
		WorkspaceCommit:  jp.WorkspaceCommit,
		Dirty:            jp.Dirty,
		SnapshotRevision: jp.SnapshotRevision,
		Endpoint:         jp.Endpoint,
	}
	if len(jp.Unmanaged) > 0 {
		p.Unmanaged = jp.Unmanaged
	}
	if len(jp.Errors) > 0 {
		p.Errors = jp.Errors
	}
	for i, jg := range jp.Pending {
		if jg.PendingGuest == nil {
			return fmt.Errorf("pending %d (%s): empty", i, jg.Address)
		}
		g := *jg.PendingGuest
		a, err := resource.ParseAddress(jg.Address)
		if err != nil {
			return fmt.Errorf("pending %d: %w", i, err)
		}
		g.Address = a
		p.Pending = append(p.Pending, g)
	}
	for i, jc := range jp.Changes {
		if jc.Change == nil {
			return fmt.Errorf("change %d (%s): empty", i, jc.Address)
		}
		c := *jc.Change
		a, err := resource.ParseAddress(jc.Address)
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		c.Address = a
		for _, s := range jc.DependsOn {
			d, err := resource.ParseAddress(s)
			if err != nil {
				return fmt.Errorf("change %s: depends_on: %w", a, err)
			}
			c.DependsOn = append(c.DependsOn, d)
		}
		p.Changes = append(p.Changes, c)
	}
	return nil
}

// Write writes p as a saved plan file (the documented JSON format). The
// file records the workspace commit, the snapshot revision and the config
// digest of every guest the plan changes, so that apply can refuse it when
// stale; it never holds a secret, only references.
func Write(w io.Writer, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// Read reads a plan written by Write.
func Read(r io.Reader) (*Plan, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	p := &Plan{}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return p, nil
}

// Stale is one change of a saved plan that no longer fits the cluster.
type Stale struct {
	Address resource.Address `json:"-"`
	VMID    int              `json:"vmid,omitempty"`
	// Reason says what changed since the plan was made.
	Reason string `json:"reason"`
}

func (s Stale) String() string {
	if s.VMID != 0 {
		return fmt.Sprintf("%s (vmid %d): %s", s.Address, s.VMID, s.Reason)
	}
	return s.Address.String() + ": " + s.Reason
}

// CheckStale compares a saved plan with a fresh observation and returns the
// changes apply must refuse: a guest whose config digest changed, a guest
// that is gone, a pinned vmid (or a managed name) now taken, a pool created
// or removed behind the plan's back. Changes not listed are safe to apply.
func CheckStale(p *Plan, observed *resource.Cluster) []Stale {
	if observed == nil {
		observed = &resource.Cluster{}
	}
	byVMID := make(map[int]*resource.Guest, len(observed.Guests))
	managed := map[kindName]*resource.Guest{}
	for i := range observed.Guests {
		g := &observed.Guests[i]
		byVMID[g.VMID] = g
		if isManaged(g) {
			managed[kindName{g.Kind, guestName(g)}] = g
		}
	}
	pools := map[string]bool{}
	for _, op := range observed.Pools {
		pools[op.ID] = true
	}
	var out []Stale
	for _, c := range p.Changes {
		if c.Address.Kind == resource.KindPool {
			exists := pools[c.Address.Name]
			switch {
			case c.Action == ActionCreate && exists:
				out = append(out, Stale{Address: c.Address, Reason: "the pool was created since the plan was made"})
			case c.Action != ActionCreate && !exists:
				out = append(out, Stale{Address: c.Address, Reason: "the pool is gone"})
			}
			continue
		}
		if c.Action == ActionCreate {
			if c.VMID != 0 {
				if g := byVMID[c.VMID]; g != nil {
					out = append(out, Stale{Address: c.Address, VMID: c.VMID,
						Reason: fmt.Sprintf("vmid %d is now taken by %s %q on %s", c.VMID, g.Kind, guestName(g), g.Node)})
				}
				continue
			}
			if g := managed[kindName{c.Address.Kind, createdName(&c)}]; g != nil {
				out = append(out, Stale{Address: c.Address,
					Reason: fmt.Sprintf("a managed %s named %q now exists (vmid %d); plan again to adopt it", g.Kind, guestName(g), g.VMID)})
			}
			continue
		}
		g := byVMID[c.VMID]
		switch {
		case g == nil:
			out = append(out, Stale{Address: c.Address, VMID: c.VMID, Reason: "the guest is gone"})
		case g.Kind != c.Address.Kind:
			out = append(out, Stale{Address: c.Address, VMID: c.VMID,
				Reason: fmt.Sprintf("vmid %d is now a %s", c.VMID, g.Kind)})
		case c.Digest != "" && g.Digest != c.Digest:
			out = append(out, Stale{Address: c.Address, VMID: c.VMID,
				Reason: fmt.Sprintf("its config changed since the plan was made (digest %s, now %s)", short(c.Digest), short(g.Digest))})
		}
	}
	slices.SortStableFunc(out, func(a, b Stale) int {
		if a.Address.Less(b.Address) {
			return -1
		}
		if b.Address.Less(a.Address) {
			return 1
		}
		return 0
	})
	return out
}

// createdName is the PVE name a create change gives its guest.
func createdName(c *Change) string {
	key := "name"
	if c.Address.Kind == resource.KindContainer {
		key = "hostname"
	}
	for _, op := range c.Ops {
		if v := op.Params[key]; v != "" && (op.Kind == OpCreate || op.Kind == OpClone) {
			return v
		}
	}
	return c.Address.Name
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "none"
	}
	return d
}

// itoa is strconv.Itoa, for the views.
func itoa(n int) string { return strconv.Itoa(n) }
