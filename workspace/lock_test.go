package workspace

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLocalLockExcludesSecondApply(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l, err := AcquireLock(ctx, dir, LockInfo{Who: "alice"}, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(ctx, dir, LockInfo{Who: "bob"}, LockOptions{})
	var held *LockHeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v, want LockHeldError", err)
	}
	host, _ := os.Hostname()
	if held.Info.Who != "alice" || held.Info.Host != host || held.Info.PID != os.Getpid() {
		t.Errorf("holder %+v", held.Info)
	}
	if !strings.Contains(err.Error(), "alice on host "+host) {
		t.Errorf("message %q", err)
	}
	// unlock without --force refuses a live holder.
	if _, err := Unlock(ctx, dir, LockOptions{}, false); !errors.As(err, &held) {
		t.Errorf("unlock of a live lock: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := AcquireLock(ctx, dir, LockInfo{Who: "bob"}, LockOptions{})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release(ctx)
}

func TestStaleLocalLockIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	// A process that has exited leaves its lock behind.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	host, _ := os.Hostname()
	dead := cmd.Process.Pid
	os.MkdirAll(filepath.Join(dir, ".pmpc"), 0o755)
	os.WriteFile(filepath.Join(dir, LockFile), []byte(`{"who":"ghost","host":"`+host+`","pid":`+strconv.Itoa(dead)+`,"since":"2026-01-01T00:00:00Z"}`), 0o644)
	l, err := AcquireLock(context.Background(), dir, LockInfo{Who: "alice"}, LockOptions{})
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	l.Release(context.Background())

	// Another host's lock is never judged stale; unlock --force clears it.
	os.WriteFile(filepath.Join(dir, LockFile), []byte(`{"who":"ci","host":"runner-7","pid":1,"since":"2026-01-01T00:00:00Z"}`), 0o644)
	if _, err := AcquireLock(context.Background(), dir, LockInfo{Who: "alice"}, LockOptions{}); err == nil {
		t.Fatal("lock of another host taken over")
	}
	cleared, err := Unlock(context.Background(), dir, LockOptions{}, true)
	if err != nil || len(cleared) != 1 || !strings.Contains(cleared[0], "runner-7") {
		t.Fatalf("unlock --force: %v %v", cleared, err)
	}
}

func TestRemoteLockRefExcludesAnotherClone(t *testing.T) {
	remote := t.TempDir()
	gitCmd(t, remote, "init", "--bare", "-q")
	a, b := gitRepo(t), gitRepo(t)
	for _, d := range []string{a, b} {
		gitCmd(t, d, "remote", "add", "origin", remote)
	}
	ctx := context.Background()
	la, err := AcquireLock(ctx, a, LockInfo{Who: "runner-a", Host: "ci-a", PID: 42}, LockOptions{Now: func() time.Time { return time.Now() }})
	if err != nil {
		t.Fatal(err)
	}
	if out := gitCmd(t, remote, "for-each-ref", LockRef); !strings.Contains(out, LockRef) {
		t.Fatalf("no lock ref on the remote: %q", out)
	}
	_, err = AcquireLock(ctx, b, LockInfo{Who: "runner-b", Host: "ci-b"}, LockOptions{})
	var held *LockHeldError
	if !errors.As(err, &held) || held.Info.Who != "runner-a" || held.Info.Host != "ci-a" || held.Where != "remote origin" {
		t.Fatalf("second clone: %v (%+v)", err, held)
	}
	// b's local lock was not left behind by the failed attempt.
	if _, err := os.Stat(filepath.Join(b, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local lock left after failing the remote one: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if out := gitCmd(t, remote, "for-each-ref", LockRef); out != "" {
		t.Fatalf("lock ref still on the remote after release: %q", out)
	}
	lb, err := AcquireLock(ctx, b, LockInfo{Who: "runner-b", Host: "ci-b"}, LockOptions{})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	// A forced unlock from the other clone removes b's remote lock.
	cleared, err := Unlock(ctx, a, LockOptions{}, true)
	if err != nil || len(cleared) != 1 || !strings.Contains(cleared[0], "runner-b") {
		t.Fatalf("unlock --force: %v %v", cleared, err)
	}
	_ = lb
}

func TestUnreachableRemoteFallsBackToLocalLock(t *testing.T) {
	dir := gitRepo(t)
	gitCmd(t, dir, "remote", "add", "origin", filepath.Join(t.TempDir(), "no-such-repo"))
	ctx := context.Background()
	l, err := AcquireLock(ctx, dir, LockInfo{Who: "alice"}, LockOptions{})
	if err != nil {
		t.Fatalf("unreachable remote: %v", err)
	}
	if !strings.Contains(l.Warning, "only the local lock protects this apply") {
		t.Errorf("warning %q", l.Warning)
	}
	if _, err := AcquireLock(ctx, dir, LockInfo{Who: "bob"}, LockOptions{}); err == nil {
		t.Error("local lock not held")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(ctx, dir, LockInfo{Who: "bob"}, LockOptions{RemoteRequired: true}); err == nil {
		t.Error("RemoteRequired with an unreachable remote succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("failed acquire left the local lock")
	}
}
