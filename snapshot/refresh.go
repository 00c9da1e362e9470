package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// Source is what Refresh reads the live cluster through. cmd adapts
// *proxmox.Client to it; tests use a fake.
type Source interface {
	// Inventory reads the cluster: one GET /cluster/resources plus one
	// config GET for each guest need selects (need sees the guest as the
	// listing describes it, without Config). Guests not selected come back
	// with a nil Config. Selected guests that run come back with Pending
	// filled (GET .../pending): when need recorded a Digest and Pending on
	// the guest and the config read returns that same digest, the source
	// keeps that Pending rather than reading it again (the digest covers the
	// pending section). progress, if not nil, is called after each config
	// read. It must never call the guest agent. *proxmox.Client's Inventory
	// does all this with InventoryOptions{Need: need, Progress: progress,
	// Pending: true}.
	Inventory(ctx context.Context, need func(*resource.Guest) bool, progress func(done, total int)) (*resource.Cluster, error)
	// Tasks lists recent tasks cluster-wide (GET /cluster/tasks).
	Tasks(ctx context.Context) ([]Task, error)
}

// Task is the part of a /cluster/tasks entry Refresh uses.
type Task struct {
	// ID is the task's id field: the vmid for guest tasks, else free-form.
	ID string
	// EndTime is when the task ended (Unix seconds), 0 while it runs.
	EndTime int64
}

// RefreshOptions tune Refresh.
type RefreshOptions struct {
	// Full reads every guest's config, and the pending values of every
	// running one, ignoring what the latest revision says. A store without
	// revisions is always refreshed in full.
	Full bool
	// Progress receives "refresh: read N/M guest configs" lines while a
	// refresh runs long enough to leave the user wondering: one each
	// ProgressEvery, and a last one when the reads are done (stderr in the
	// CLI). A refresh shorter than ProgressEvery prints nothing. Nil is
	// silent.
	Progress io.Writer
	// Reread lists guests (by vmid) whose config is read whatever their
	// signals say: the guests an apply just changed. A synchronous config
	// update (every LXC one) leaves no task and need not move a signal.
	Reread []int
	// ProgressEvery is the interval between progress lines; 0 means 2 s.
	ProgressEvery time.Duration
	// Now is the clock for progress; nil means time.Now.
	Now func() time.Time
}

// RefreshStats says what a refresh did.
type RefreshStats struct {
	Guests int // guests in the new revision
	Read   int // configs read from the cluster
	// Reused is the number of configs carried over from the previous
	// revision because nothing suggested they changed.
	Reused int
	// Verified is the number of configs read only to verify them: the
	// least recently verified guests whose cheap signals did not move (see
	// VerifyShare). They are included in Read.
	Verified int
	// Drifted is the number of verified configs whose digest differed
	// from the one the previous revision held: edits no cheap signal showed.
	Drifted int
	// Full is true when every config was read.
	Full bool
}

// VerifyShare is the share of guests whose configs an incremental refresh
// reads even though nothing suggests they changed, least recently verified
// first: 1 %, rounded up, so at least one. With a stable set of guests every
// config is read again within 100 refreshes, so an edit that moved no cheap
// signal is seen by then at the latest.
const VerifyShare = 100 // one guest in VerifyShare, rounded up

// verifyCount is how many guests of n an incremental refresh verifies.
func verifyCount(n int) int {
	if n == 0 {
		return 0
	}
	return (n + VerifyShare - 1) / VerifyShare
}

// Refresh reads the live cluster through src and stores it in st as a new
// revision, which it returns with the cluster.
//
// It is incremental: besides the listing, it reads the configs of guests
// whose cheap signals moved since the latest revision — new guests, and
// guests whose kind, node, name, status, lock, tags, pool, template flag,
// CPU count, memory or boot disk size (maxcpu, maxmem, maxdisk) changed,
// whose uptime went back (a restart applies pending changes), or that had a
// task running or ending since that revision's task mark — plus, to verify
// them, the configs of the 1 % of guests (at least one) read least recently
// (see VerifyShare). The others keep the config the latest revision holds.
//
// Running guests whose config is read also get their pending values (keys
// PVE applies at the next restart, GET .../pending): one more request each,
// except when the config's digest is the one the latest revision holds,
// whose pending values are then kept (the digest covers the pending section,
// so they cannot have changed). Guests not read keep theirs too, so an
// unchanged refresh costs no pending reads at all.
//
// A config edited through a synchronous PUT .../config leaves no task; if it
// moved none of the signals above (a changed NIC, description, boot order or
// disk option), the incremental refresh sees it only when the guest's turn
// to be verified comes, within 100 refreshes; a full refresh sees it at
// once. Applies stay safe meanwhile because they send the config digest the
// plan saw, which PVE refuses once the config changed.
//
// A refresh that fails writes nothing.
func Refresh(ctx context.Context, src Source, st *Store, opts RefreshOptions) (*resource.Cluster, Revision, RefreshStats, error) {
	var stats RefreshStats
	prev, prevRev, err := st.Latest()
	var verified map[int]uint64
	switch {
	case errors.Is(err, ErrNoRevision):
		prev = nil
	case err != nil:
		return nil, Revision{}, stats, fmt.Errorf("refresh: read the latest revision: %w", err)
	default:
		if verified, _, err = st.Verified(); err != nil {
			return nil, Revision{}, stats, fmt.Errorf("refresh: read the latest revision: %w", err)
		}
	}
	full := opts.Full || prev == nil

	tasks, err := src.Tasks(ctx)
	if err != nil {
		return nil, Revision{}, stats, fmt.Errorf("refresh: %w", err)
	}
	mark := prevRev.TaskMark
	if mark == 0 && prev != nil {
		mark = prevRev.Time.Unix()
	}
	touched := map[int]bool{}
	for _, vmid := range opts.Reread {
		touched[vmid] = true
	}
	newMark := prevRev.TaskMark
	for _, t := range tasks {
		newMark = max(newMark, t.EndTime)
		if t.EndTime != 0 && t.EndTime < mark {
			continue
		}
		if vmid, err := strconv.Atoi(t.ID); err == nil && vmid > 0 {
			touched[vmid] = true
		}
	}

	before := map[int]*resource.Guest{}
	var rotation map[int]bool
	if prev != nil {
		for i := range prev.Guests {
			before[prev.Guests[i].VMID] = &prev.Guests[i]
		}
		rotation = pickRotation(prev.Guests, verified, verifyCount(len(prev.Guests)))
	}
	var mu sync.Mutex // need may be called from several goroutines
	verifyOnly := map[int]bool{}
	// Pending values (GET .../pending) are read only where a guest can
	// have gained some: it ran a task or an apply changed it since the last
	// refresh, it had pending values then, or the refresh is --full. The
	// first refresh reads none, so it costs one config read per guest.
	askPending := func(g *resource.Guest) {
		if g.Pending == nil {
			g.Pending = map[string]string{}
		}
	}
	need := func(g *resource.Guest) bool {
		if opts.Full {
			askPending(g)
			return true
		}
		if full {
			return true
		}
		p, ok := before[g.VMID]
		if !ok || p.Config == nil {
			if touched[g.VMID] {
				askPending(g)
			}
			return true
		}
		moved := touched[g.VMID] || signalsMoved(p, g)
		if !moved && !rotation[g.VMID] {
			return false
		}
		if !moved {
			mu.Lock()
			verifyOnly[g.VMID] = true
			mu.Unlock()
		}
		// The pending values go with the digest: if the config read
		// returns the same one, the source keeps them instead of reading
		// them again.
		if p.Kind == g.Kind {
			g.Digest, g.Pending = p.Digest, p.Pending
		}
		if touched[g.VMID] {
			askPending(g)
		}
		return true
	}
	pr := &progress{w: opts.Progress, every: opts.ProgressEvery, now: opts.Now}
	if pr.every == 0 {
		pr.every = 2 * time.Second
	}
	if pr.now == nil {
		pr.now = time.Now
	}
	pr.next = pr.now().Add(pr.every)
	cur, err := src.Inventory(ctx, need, pr.report)
	if err != nil {
		return nil, Revision{}, stats, fmt.Errorf("refresh: %w", err)
	}
	carried := map[int]uint64{}
	for i := range cur.Guests {
		g := &cur.Guests[i]
		p, ok := before[g.VMID]
		if g.Config != nil {
			stats.Read++
			if verifyOnly[g.VMID] {
				stats.Verified++
				if ok && p.Digest != g.Digest {
					stats.Drifted++
				}
			}
			continue
		}
		if ok && p.Config != nil && p.Kind == g.Kind {
			g.Config, g.Digest, g.Pending = p.Config, p.Digest, p.Pending
			carried[g.VMID] = verified[g.VMID]
			stats.Reused++
		}
	}
	rev, err := st.Put(ctx, cur, WithTaskMark(newMark), WithCarried(carried))
	if err != nil {
		return nil, Revision{}, stats, fmt.Errorf("refresh: %w", err)
	}
	stats.Guests, stats.Full = len(cur.Guests), full
	return cur, rev, stats, nil
}

// pickRotation returns the n guests verified least recently (oldest
// Verified revision first, then lowest vmid).
func pickRotation(guests []resource.Guest, verified map[int]uint64, n int) map[int]bool {
	ids := make([]int, len(guests))
	for i := range guests {
		ids[i] = guests[i].VMID
	}
	slices.SortFunc(ids, func(a, b int) int {
		if c := cmp.Compare(verified[a], verified[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := make(map[int]bool, n)
	for _, id := range ids[:min(n, len(ids))] {
		out[id] = true
	}
	return out
}

// signalsMoved reports whether the listing of a guest differs from what the
// previous revision saw in a way that can come with a config change.
func signalsMoved(prev, cur *resource.Guest) bool {
	return prev.Kind != cur.Kind || prev.Node != cur.Node || prev.Name != cur.Name ||
		prev.Status != cur.Status || prev.Lock != cur.Lock || prev.Tags != cur.Tags ||
		prev.Pool != cur.Pool || prev.Template != cur.Template || cur.Uptime < prev.Uptime ||
		prev.MaxCPU != cur.MaxCPU || prev.MaxMem != cur.MaxMem || prev.MaxDisk != cur.MaxDisk
}

// progress prints "refresh: read N/M guest configs" at each tenth.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	every   time.Duration
	now     func() time.Time
	next    time.Time // when the next line is due
	printed bool
}

// report is called after each config read; it prints at most one line per
// interval, and the final count if it printed anything before.
func (p *progress) report(done, total int) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	last := done == total && p.printed
	if t := p.now(); !last && t.Before(p.next) {
		return
	} else {
		p.next = t.Add(p.every)
	}
	p.printed = true
	fmt.Fprintf(p.w, "refresh: read %d/%d guest configs\n", done, total)
}
