package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pmpc-dev/pmpc/plan"
)

// Pending returns the records of runs that are not yet in the audit trail,
// oldest first: runs that finished but whose audit commit did not happen,
// and runs that never finished (killed, crashed), which are completed here
// and marked interrupted. For an unfinished run, Recover asks the cluster
// what became of each operation in flight: a task it knows is waited for
// (at most wait), a create or clone whose call was sent is looked up by the
// VMID the intent chose — a guest with that id and name counts as created.
//
// Commit each record to the audit trail and then call MarkAudited. Call it
// before Run, never while a Run on the same journal is in progress.
func Pending(ctx context.Context, j *Journal, cl Client, wait time.Duration, now func() time.Time) ([]*Record, error) {
	if now == nil {
		now = time.Now
	}
	metas, ids, err := j.runs()
	if err != nil {
		return nil, fmt.Errorf("apply journal: %w", err)
	}
	var out []*Record
	for _, id := range ids {
		m := metas[id]
		// A run still "running" is dead: its process would hold the
		// journal open, and Badger lets only one process do that.
		if m.State == stateAudited {
			continue
		}
		meta, changes, intents, err := j.load(id)
		if err != nil {
			return out, err
		}
		rec := meta.Record
		if rec == nil {
			rec = &Record{Version: RecordVersion, RunID: id}
		}
		rec.Changes = changes
		if meta.State == stateRunning {
			if cl == nil {
				return out, fmt.Errorf("apply run %s did not finish; recovering it needs the cluster", id)
			}
			recoverRun(ctx, rec, intents, cl, wait)
			rec.Interrupted = true
			if rec.Finished.IsZero() {
				rec.Finished = now().UTC()
			}
			rec.Tally()
			if err := j.finish(rec); err != nil {
				return out, fmt.Errorf("apply journal run %s: %w", id, err)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// recoverRun settles every change of an unfinished run.
func recoverRun(ctx context.Context, rec *Record, intents []Intent, cl Client, wait time.Duration) {
	byChange := map[int][]Intent{}
	for _, in := range intents {
		byChange[in.Change] = append(byChange[in.Change], in)
	}
	var p *plan.Plan = rec.Plan
	for i := range rec.Changes {
		cr := &rec.Changes[i]
		if p != nil && i < len(p.Changes) && cr.Address == "" {
			c := p.Changes[i]
			cr.Address, cr.Action, cr.Node, cr.VMID = c.Address.String(), c.Action, c.Node, c.VMID
		}
		if cr.Result != "" && cr.Result != ResultInterrupted {
			continue // finished before the run stopped
		}
		ins := byChange[i]
		if len(ins) == 0 {
			cr.Result, cr.Error = ResultSkipped, "not started: the run was interrupted"
			continue
		}
		sort.Slice(ins, func(a, b int) bool {
			if ins[a].Op != ins[b].Op {
				return ins[a].Op < ins[b].Op
			}
			return ins[a].Attempt < ins[b].Attempt
		})
		cr.Result = ResultInterrupted
		var notes []string
		allDone := true
		lastOp := -1
		for _, in := range ins {
			lastOp = max(lastOp, in.Op)
			if in.UPID != "" && !contains(cr.UPIDs, in.UPID) {
				cr.UPIDs = append(cr.UPIDs, in.UPID)
			}
			if in.VMID != 0 && (in.Kind == plan.OpCreate || in.Kind == plan.OpClone) {
				cr.VMID = in.VMID
			}
			switch in.State {
			case intentDone:
				continue
			case intentFailed:
				// A failed attempt followed by a later one is superseded.
				if later(ins, in) {
					continue
				}
				allDone = false
				notes = append(notes, fmt.Sprintf("%s failed: %s", in.Kind, firstLine(in.Error)))
				continue
			}
			ok, note := settle(ctx, in, cl, wait)
			notes = append(notes, note)
			if !ok {
				allDone = false
			}
		}
		nOps := 0
		if p != nil && i < len(p.Changes) {
			nOps = len(p.Changes[i].Ops)
		}
		if allDone && lastOp+1 < nOps {
			allDone = false
			notes = append(notes, fmt.Sprintf("%d of %d operations were not started", nOps-lastOp-1, nOps))
		}
		if allDone && len(notes) > 0 {
			cr.Result = ResultApplied
		}
		cr.Recovered = strings.Join(notes, "; ")
		if cr.Error == "" && cr.Result != ResultApplied {
			cr.Error = "the run stopped while this change was in flight"
		}
	}
}

func later(ins []Intent, in Intent) bool {
	for _, o := range ins {
		if o.Op == in.Op && o.Attempt > in.Attempt {
			return true
		}
		if o.Op > in.Op {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// settle finds out what happened to an operation whose outcome the crashed
// run did not see. It reports whether the operation is known to have taken
// effect, and a note for the record.
func settle(ctx context.Context, in Intent, cl Client, wait time.Duration) (bool, string) {
	if in.UPID != "" {
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		err := cl.WaitTask(wctx, in.UPID)
		switch {
		case err == nil:
			if in.Kind == plan.OpCreate || in.Kind == plan.OpClone {
				return true, fmt.Sprintf("%s of vmid %d: task %s finished OK", in.Kind, in.VMID, in.UPID)
			}
			return true, fmt.Sprintf("%s: task %s finished OK", in.Kind, in.UPID)
		case wctx.Err() != nil:
			return false, fmt.Sprintf("%s: task %s still running after %s", in.Kind, in.UPID, wait)
		default:
			return false, fmt.Sprintf("%s: task %s failed: %s", in.Kind, in.UPID, firstLine(err.Error()))
		}
	}
	switch in.Kind {
	case plan.OpCreate, plan.OpClone:
		g, ok, err := cl.FindGuest(ctx, in.VMID)
		switch {
		case err != nil:
			return false, fmt.Sprintf("%s of vmid %d: could not look it up: %v", in.Kind, in.VMID, err)
		case !ok:
			return false, fmt.Sprintf("%s of vmid %d: not created (no guest with that id)", in.Kind, in.VMID)
		case g.Name != in.Name:
			return false, fmt.Sprintf("%s of vmid %d: not created by this run (vmid %d is %q)", in.Kind, in.VMID, in.VMID, g.Name)
		case g.Lock != "":
			return false, fmt.Sprintf("%s of vmid %d: guest exists, still locked (%s)", in.Kind, in.VMID, g.Lock)
		}
		return true, fmt.Sprintf("%s of vmid %d: guest %q exists, counted as created", in.Kind, in.VMID, g.Name)
	case plan.OpDelete:
		if in.VMID != 0 {
			_, ok, err := cl.FindGuest(ctx, in.VMID)
			if err == nil && !ok {
				return true, fmt.Sprintf("delete of vmid %d: guest is gone", in.VMID)
			}
		}
	}
	return false, fmt.Sprintf("%s: sent, outcome unknown; the next plan shows what remains", in.Kind)
}
