package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/pmpc-dev/pmpc/resource"
)

// Source is what Refresh reads the live cluster through. cmd adapts
// *proxmox.Client to it; tests use a fake.
type Source interface {
	// Inventory reads the cluster: one GET /cluster/resources plus one
	// config GET for each guest need selects (need sees the guest as the
	// listing describes it, without Config). Guests not selected come back
	// with a nil Config. progress, if not nil, is called after each config
	// read. It must never call the guest agent.
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
	// Full reads every guest's config, ignoring what the latest revision
	// says. A store without revisions is always refreshed in full.
	Full bool
	// Progress receives a line per tenth of the config reads when there are
	// at least ProgressMin of them (stderr in the CLI). Nil is silent.
	Progress io.Writer
	// ProgressMin is the number of config reads from which progress is
	// shown; 0 means 100.
	ProgressMin int
}

// RefreshStats says what a refresh did.
type RefreshStats struct {
	Guests int // guests in the new revision
	Read   int // configs read from the cluster
	// Reused is the number of configs carried over from the previous
	// revision because nothing suggested they changed.
	Reused int
	// Full is true when every config was read.
	Full bool
}

// Refresh reads the live cluster through src and stores it in st as a new
// revision, which it returns with the cluster.
//
// It is incremental: besides the listing, it reads only the configs of
// guests whose cheap signals moved since the latest revision — new guests,
// and guests whose kind, node, name, status, lock, tags, pool or template
// flag changed, whose uptime went back (a restart applies pending changes),
// or that had a task running or ending since that revision's task mark.
// The others keep the config the latest revision holds. A config edited
// through a synchronous PUT leaves none of these signals; such edits show
// up at the next full refresh, and applies stay safe because they send the
// config digest the plan saw.
//
// A refresh that fails writes nothing.
func Refresh(ctx context.Context, src Source, st *Store, opts RefreshOptions) (*resource.Cluster, Revision, RefreshStats, error) {
	var stats RefreshStats
	prev, prevRev, err := st.Latest()
	switch {
	case errors.Is(err, ErrNoRevision):
		prev = nil
	case err != nil:
		return nil, Revision{}, stats, fmt.Errorf("refresh: read the latest revision: %w", err)
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
	if prev != nil {
		for i := range prev.Guests {
			before[prev.Guests[i].VMID] = &prev.Guests[i]
		}
	}
	need := func(g *resource.Guest) bool {
		if full {
			return true
		}
		p, ok := before[g.VMID]
		return !ok || p.Config == nil || touched[g.VMID] || signalsMoved(p, g)
	}
	pr := &progress{w: opts.Progress, min: opts.ProgressMin}
	if pr.min == 0 {
		pr.min = 100
	}
	cur, err := src.Inventory(ctx, need, pr.report)
	if err != nil {
		return nil, Revision{}, stats, fmt.Errorf("refresh: %w", err)
	}
	for i := range cur.Guests {
		g := &cur.Guests[i]
		if g.Config != nil {
			stats.Read++
			continue
		}
		if p, ok := before[g.VMID]; ok && p.Config != nil && p.Kind == g.Kind {
			g.Config, g.Digest, g.Pending = p.Config, p.Digest, p.Pending
			stats.Reused++
		}
	}
	rev, err := st.Put(ctx, cur, WithTaskMark(newMark))
	if err != nil {
		return nil, Revision{}, stats, fmt.Errorf("refresh: %w", err)
	}
	stats.Guests, stats.Full = len(cur.Guests), full
	return cur, rev, stats, nil
}

// signalsMoved reports whether the listing of a guest differs from what the
// previous revision saw in a way that can come with a config change.
func signalsMoved(prev, cur *resource.Guest) bool {
	return prev.Kind != cur.Kind || prev.Node != cur.Node || prev.Name != cur.Name ||
		prev.Status != cur.Status || prev.Lock != cur.Lock || prev.Tags != cur.Tags ||
		prev.Pool != cur.Pool || prev.Template != cur.Template || cur.Uptime < prev.Uptime
}

// progress prints "refresh: read N/M guest configs" at each tenth.
type progress struct {
	w    io.Writer
	min  int
	last int // last tenth printed
}

func (p *progress) report(done, total int) {
	if p.w == nil || total < p.min {
		return
	}
	tenth := done * 10 / total
	if tenth == p.last {
		return
	}
	p.last = tenth
	fmt.Fprintf(p.w, "refresh: read %d/%d guest configs\n", done, total)
}
