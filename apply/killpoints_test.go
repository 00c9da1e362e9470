package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/workspace"
)

// killingClient is the child's client: it SIGKILLs its own process at one
// point of the second create (PMPC_KILL_AT), the way a CI runner dies.
type killingClient struct {
	apply.Client
	at      string
	creates atomic.Int32
	waits   atomic.Int32
}

func die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func (k *killingClient) CreateGuest(ctx context.Context, kind resource.Kind, node string, vmid int, params map[string]string) (string, error) {
	n := k.creates.Add(1)
	if n == 2 && k.at == "before-post" {
		die() // the intent is journaled, nothing was sent
	}
	upid, err := k.Client.CreateGuest(ctx, kind, node, vmid, params)
	if n == 2 && k.at == "after-post" {
		die() // PVE created it; the UPID never reached the journal
	}
	return upid, err
}

func (k *killingClient) WaitTask(ctx context.Context, upid string) error {
	if !strings.Contains(upid, ":qmcreate:") || k.waits.Add(1) != 2 {
		return k.Client.WaitTask(ctx, upid)
	}
	switch k.at {
	case "during-wait":
		go func() { time.Sleep(50 * time.Millisecond); die() }()
	case "after-task":
		err := k.Client.WaitTask(ctx, upid)
		if err == nil {
			die() // the task ended OK; its result never reached the journal
		}
		return err
	}
	return k.Client.WaitTask(ctx, upid)
}

// TestKillAtEveryPoint kills an applying process at each point where its
// journal and the cluster can disagree, then does what the next pmpc apply
// does: take the lock (the dead one's must not be stuck), recover and
// commit the killed run's record (marked interrupted; committing it twice,
// as a kill during the audit commit causes, leaves one record), and apply
// again. It must converge with every guest once and every guest the killed
// run created accounted for in its record.
func TestKillAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, at := range []string{"before-post", "after-post", "during-wait", "after-task", "after-run"} {
		t.Run(at, func(t *testing.T) {
			s, c := fakePVE(t, sim.Options{Seed: sim.Empty(), TaskDuration: 150 * time.Millisecond})
			desired := resource.NewSet()
			for i := range 4 {
				desired.VMs[fmt.Sprintf("svc-%d", i)] = newVM("pve1", 1, "running")
			}
			dir := t.TempDir()
			ws := filepath.Join(dir, "ws")
			if _, err := git.PlainInit(ws, false); err != nil {
				t.Fatal(err)
			}
			planFile := filepath.Join(dir, "plan.json")
			f, err := os.Create(planFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Write(f, makePlan(t, desired, c)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			journal := filepath.Join(dir, "journal")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PMPC_APPLY_CHILD="+planFile, "PMPC_JOURNAL="+journal, "PMPC_KILL_AT="+at,
				"PMPC_LOCK_ROOT="+ws, "PMPC_ENDPOINT="+s.URL(), "PMPC_TOKEN="+s.Token(), "PMPC_TLS_FINGERPRINT="+s.Fingerprint())
			out, _ := cmd.CombinedOutput()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s (%v):\n%s", at, cmd.ProcessState, out)
			}

			// The next apply: the lock first.
			ctx := context.Background()
			lock, err := workspace.AcquireLock(ctx, ws, workspace.LockInfo{Who: "next"}, workspace.LockOptions{NoRemote: true})
			if err != nil {
				t.Fatalf("lock left by the killed apply is stuck: %v", err)
			}
			defer lock.Release(ctx)
			j, err := apply.OpenJournal(journal)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			pending, err := apply.Pending(ctx, j, pveclient.New(c), 10*time.Second, nil)
			if err != nil || len(pending) != 1 {
				t.Fatalf("pending: %d records, %v", len(pending), err)
			}
			rec := pending[0]
			if at != "after-run" && !rec.Interrupted {
				t.Errorf("record of the killed run is not marked interrupted: %s", rec.Line())
			}
			s.WaitTasks(5 * time.Second)
			recorded := map[int]bool{}
			for _, cr := range rec.Changes {
				if cr.Result == "" {
					t.Errorf("%s has no result after recovery", cr.Address)
				}
				if cr.VMID != 0 && (cr.Result == apply.ResultApplied || cr.Result == apply.ResultInterrupted) {
					recorded[cr.VMID] = true
				}
			}
			for name, g := range guestsByName(t, observe(t, c)) {
				if !recorded[g.VMID] {
					b, _ := json.MarshalIndent(rec.Changes, "", " ")
					t.Errorf("guest %s (vmid %d) exists but the killed run's record does not show it:\n%s", name, g.VMID, b)
				}
			}
			// Committed twice (killed after the commit, before MarkAudited).
			data, _ := json.Marshal(rec)
			a := workspace.AuditCommit{RunID: rec.RunID, Summary: rec.Line(), Data: data,
				Author: object.Signature{Name: "ci", Email: "ci@example.com"}, When: rec.Finished}
			h1, err := workspace.CommitAudit(ws, a)
			if err != nil {
				t.Fatal(err)
			}
			h2, err := workspace.CommitAudit(ws, a)
			if err != nil || h2 != h1 {
				t.Errorf("second audit commit of run %s: %s %v, want %s", rec.RunID, h2, err, h1)
			}
			if err := j.MarkAudited(rec.RunID, h1); err != nil {
				t.Fatal(err)
			}
			if entries, _ := workspace.AuditLog(ws, ""); len(entries) != 1 {
				t.Errorf("%d audit entries, want 1", len(entries))
			}

			opts := fastOpts(c)
			opts.Journal = j
			rec2, err := apply.Run(ctx, makePlan(t, desired, c), opts)
			if err != nil {
				t.Fatal(err)
			}
			if !rec2.OK() {
				t.Errorf("apply after recovery: %s", rec2.Line())
			}
			live := guestsByName(t, observe(t, c))
			if len(live) != 4 {
				t.Errorf("%d guests, want 4", len(live))
			}
			for name, g := range live {
				if g.Status != "running" || g.Lock != "" {
					t.Errorf("%s is %s (lock %q)", name, g.Status, g.Lock)
				}
			}
			if left := makePlan(t, desired, c); len(left.Changes) != 0 {
				t.Errorf("plan after recovery and apply has %d changes", len(left.Changes))
			}
		})
	}
}
