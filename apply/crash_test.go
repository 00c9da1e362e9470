package apply_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/workspace"
)

// TestMain lets the test binary act as an applying child process for the
// crash test: with PMPC_APPLY_CHILD set it applies the plan file named
// there and exits.
func TestMain(m *testing.M) {
	if os.Getenv("PMPC_APPLY_CHILD") != "" {
		os.Exit(applyChild())
	}
	os.Exit(m.Run())
}

func applyChild() int {
	c, err := proxmox.New(proxmox.Config{Endpoint: os.Getenv("PMPC_ENDPOINT"), Token: os.Getenv("PMPC_TOKEN"),
		Fingerprint: os.Getenv("PMPC_TLS_FINGERPRINT"),
		TaskPoll:    proxmox.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := os.Open(os.Getenv("PMPC_APPLY_CHILD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := plan.Read(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if root := os.Getenv("PMPC_LOCK_ROOT"); root != "" {
		// Held until the process dies, as pmpc apply holds it.
		if _, err := workspace.AcquireLock(context.Background(), root, workspace.LockInfo{Who: "child"}, workspace.LockOptions{NoRemote: true}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	j, err := apply.OpenJournal(os.Getenv("PMPC_JOURNAL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer j.Close()
	var cl apply.Client = pveclient.New(c)
	at := os.Getenv("PMPC_KILL_AT")
	if at != "" {
		cl = &killingClient{Client: cl, at: at}
	}
	_, err = apply.Run(context.Background(), p, apply.Options{Client: cl, Journal: j, Parallelism: 2, Progress: os.Stdout,
		Retry: apply.Backoff{Attempts: 6, Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if at == "after-run" {
		die() // the record is finished but neither committed nor marked audited
	}
	return 0
}

// TestKilledApplyIsRecovered kills an applying process (SIGKILL) while its
// tasks run, then recovers: the audit record of the killed run is marked
// interrupted and accounts for the guests it created, and the next apply
// converges without creating any guest twice.
func TestKilledApplyIsRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	s, c := fakePVE(t, sim.Options{Seed: sim.Empty(), TaskDuration: 300 * time.Millisecond})
	desired := resource.NewSet()
	for i := range 6 {
		desired.VMs[fmt.Sprintf("svc-%d", i)] = newVM("pve1", 1, "running")
	}
	dir := t.TempDir()
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
	cmd.Env = append(os.Environ(), "PMPC_APPLY_CHILD="+planFile, "PMPC_JOURNAL="+journal,
		"PMPC_ENDPOINT="+s.URL(), "PMPC_TOKEN="+s.Token(), "PMPC_TLS_FINGERPRINT="+s.Fingerprint())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once three tasks have started: two changes are mid-flight.
	sc := bufio.NewScanner(out)
	tasks := 0
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), ": task UPID:") {
			tasks++
			if tasks == 3 {
				break
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if tasks < 3 {
		t.Fatalf("child ended before three tasks started:\n%s", strings.Join(seen, "\n"))
	}

	j, err := apply.OpenJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	pending, err := apply.Pending(ctx, j, pveclient.New(c), 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("%d pending records, want the killed run's", len(pending))
	}
	rec := pending[0]
	if !rec.Interrupted || !strings.Contains(rec.Line(), "interrupted") {
		t.Errorf("record of the killed run: interrupted=%v line %q", rec.Interrupted, rec.Line())
	}
	live := guestsByName(t, observe(t, c))
	recorded := map[int]bool{}
	var recoveredNotes int
	for _, cr := range rec.Changes {
		t.Logf("%s: %s vmid %d %s", cr.Address, cr.Result, cr.VMID, cr.Recovered)
		if cr.Recovered != "" {
			recoveredNotes++
		}
		if cr.Result == apply.ResultApplied || cr.Result == apply.ResultInterrupted {
			recorded[cr.VMID] = true
		}
		if cr.Result == "" {
			t.Errorf("%s has no result after recovery", cr.Address)
		}
	}
	if recoveredNotes == 0 {
		t.Error("recovery noted nothing about the changes in flight")
	}
	for name, g := range live {
		if !recorded[g.VMID] {
			t.Errorf("guest %s (vmid %d) was created by the killed run but its record does not show it", name, g.VMID)
		}
	}
	if err := j.MarkAudited(rec.RunID, "0000000"); err != nil {
		t.Fatal(err)
	}
	if again, err := apply.Pending(ctx, j, pveclient.New(c), time.Second, nil); err != nil || len(again) != 0 {
		t.Errorf("after MarkAudited: %d pending, %v", len(again), err)
	}

	// The next apply starts from the truth and converges: nothing twice.
	p := makePlan(t, desired, c)
	opts := fastOpts(c)
	opts.Journal = j
	rec2, err := apply.Run(ctx, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rec2.OK() {
		t.Fatalf("apply after recovery: %s", rec2.Line())
	}
	live = guestsByName(t, observe(t, c))
	if len(live) != 6 {
		t.Errorf("%d guests, want 6", len(live))
	}
	for name, g := range live {
		if g.Status != "running" {
			t.Errorf("%s is %s", name, g.Status)
		}
	}
	if left := makePlan(t, desired, c); len(left.Changes) != 0 {
		t.Errorf("plan after recovery and apply has %d changes", len(left.Changes))
	}
}
