package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// TestAuditCommitOfARunIsIdempotent: apply commits a run's record and then
// marks it audited in its journal. Killed between the two, the next apply
// finds the run still pending and commits it again: that must not make a
// second commit (nor a second file) for the same run.
func TestAuditCommitOfARunIsIdempotent(t *testing.T) {
	dir := gitRepo(t)
	who := object.Signature{Name: "ci", Email: "ci@example.com"}
	when := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	a := AuditCommit{RunID: "01RUNX", Summary: "pmpc apply: interrupted, 1 changed (run 01RUNX)", Data: []byte(`{"run_id":"01RUNX"}` + "\n"), Author: who, When: when}
	h1, err := CommitAudit(dir, a)
	if err != nil {
		t.Fatal(err)
	}
	// Another run lands on top meanwhile (a later apply, before the
	// journal was fixed up) — the retry must still find the first.
	if _, err := CommitAudit(dir, AuditCommit{RunID: "01RUNY", Summary: "y", Data: []byte("{}\n"), Author: who, When: when.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	h2, err := CommitAudit(dir, a)
	if err != nil {
		t.Fatal(err)
	}
	if h2 != h1 {
		t.Errorf("second commit of run 01RUNX made %s, want the first %s", h2, h1)
	}
	log := gitCmd(t, dir, "log", "--format=%s", DefaultAuditBranch)
	if n := strings.Count(log, "(run 01RUNX)"); n != 1 {
		t.Errorf("run 01RUNX is in the audit log %d times:\n%s", n, log)
	}
	if entries, _ := AuditLog(dir, ""); len(entries) != 2 {
		t.Errorf("%d audit entries, want 2", len(entries))
	}
}

// TestStaleLockTakeoverAdmitsExactlyOne: a lock left by a dead apply is
// taken over; when several applies find it at the same moment (CI retries
// started together), exactly one may win. Reading the dead holder's file,
// deleting it and creating one's own are three steps: a second taker that
// read the stale file deletes the winner's fresh lock and takes it too.
func TestStaleLockTakeoverAdmitsExactlyOne(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	host, _ := os.Hostname()
	ghost := `{"who":"ghost","host":"` + host + `","pid":` + strconv.Itoa(cmd.Process.Pid) + `,"since":"2026-01-01T00:00:00Z"}`
	for round := range 20 {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, ".pmpc"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(ghost), 0o644); err != nil {
			t.Fatal(err)
		}
		const takers = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*Lock
		start := make(chan struct{})
		for i := range takers {
			wg.Go(func() {
				<-start
				l, err := AcquireLock(context.Background(), dir, LockInfo{Who: fmt.Sprint("taker-", i)}, LockOptions{NoRemote: true})
				var held *LockHeldError
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, l)
					mu.Unlock()
				case !errors.As(err, &held):
					t.Errorf("taker %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d applies hold the lock at once, want 1", round, len(won))
		}
		if err := won[0].Release(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lock file left after release: %v", err)
		}
	}
}

// TestStaleRemoteLockTakenOverOnlyWhereItsPIDMeansSomething: a lock ref
// left on the shared remote by an apply that died on this host is taken
// over by the next apply from another clone. One that names this host's
// name but another PID namespace or boot (two CI containers with one
// hostname, a rebooted runner) is not: its pid says nothing here.
func TestStaleRemoteLockTakenOverOnlyWhereItsPIDMeansSomething(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	dead := cmd.Process.Pid
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		pidns    string
		takeOver bool
	}{
		{"same namespace", pidNamespace(), true},
		{"other namespace", "pid:[4026531999]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			remote := t.TempDir()
			gitCmd(t, remote, "init", "--bare", "-q")
			a, b := gitRepo(t), gitRepo(t)
			for _, d := range []string{a, b} {
				gitCmd(t, d, "remote", "add", "origin", remote)
			}
			ghost, err := AcquireLock(ctx, a, LockInfo{Who: "ghost", PID: dead, Boot: bootID(), PIDNS: tc.pidns}, LockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_ = ghost.releaseLocal() // it died: the remote ref stays
			lb, err := AcquireLock(ctx, b, LockInfo{Who: "next"}, LockOptions{})
			var held *LockHeldError
			switch {
			case tc.takeOver && err != nil:
				t.Fatalf("stale lock of a dead pid not taken over: %v", err)
			case !tc.takeOver && !errors.As(err, &held):
				t.Fatalf("lock of another pid namespace taken over: %v", err)
			case !tc.takeOver:
				host, _ := os.Hostname()
				if !strings.Contains(err.Error(), "ghost on host "+host) {
					t.Errorf("message %q does not name the holder and host", err)
				}
				return
			}
			out := gitCmd(t, remote, "log", "-1", "--format=%B", LockRef)
			if !strings.Contains(out, `"who":"next"`) {
				t.Errorf("remote lock ref after takeover: %s", out)
			}
			lb.Release(ctx)
		})
	}
}

// TestTwoClonesRaceForTheLockRef: two CI runners with their own clones of
// one repository start an apply at the same instant: exactly one gets the
// lock ref on the shared (file://, real git) remote, the other is told who
// holds it, from which host, and since when.
func TestTwoClonesRaceForTheLockRef(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	ctx := context.Background()
	for round := range 4 {
		remote := t.TempDir()
		gitCmd(t, remote, "init", "--bare", "-q")
		clones := []string{gitRepo(t), gitRepo(t)}
		for _, d := range clones {
			gitCmd(t, d, "remote", "add", "origin", "file://"+remote)
		}
		var wg sync.WaitGroup
		locks := make([]*Lock, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, d := range clones {
			wg.Go(func() {
				<-start
				locks[i], errs[i] = AcquireLock(ctx, d, LockInfo{Who: fmt.Sprint("runner-", i), Host: fmt.Sprint("ci-", i)}, LockOptions{RemoteRequired: true})
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range 2 {
			var held *LockHeldError
			switch {
			case errs[i] == nil:
				won++
			case errors.As(errs[i], &held):
				other := fmt.Sprint("runner-", 1-i)
				if !strings.Contains(errs[i].Error(), other+" on host ci-"+fmt.Sprint(1-i)) || !strings.Contains(errs[i].Error(), "remote origin") {
					t.Errorf("round %d: loser's message %q", round, errs[i])
				}
			default:
				t.Errorf("round %d: clone %d: %v", round, i, errs[i])
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d clones hold the lock, want 1 (%v)", round, won, errs)
		}
		for _, l := range locks {
			if l != nil {
				l.Release(ctx)
			}
		}
	}
}

func TestHumanAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * time.Second:                 "7s",
		90 * time.Second:                "1m30s",
		3*time.Hour + 25*time.Minute:    "3h25m",
		7873*time.Hour + 56*time.Minute: "328d1h",
	} {
		if got := humanAge(d); got != want {
			t.Errorf("humanAge(%v) = %q, want %q", d, got, want)
		}
	}
}
