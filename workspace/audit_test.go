package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// gitRepo makes a repository with one commit on main and returns its root.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web.cue"), []byte("vm: web: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	if _, err := wt.Add("web.cue"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Dev", Email: "dev@example.com", When: time.Now()}
	if _, err := wt.Commit("definitions", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestAuditCommitsLeaveWorkTreeAndIndexAlone(t *testing.T) {
	dir := gitRepo(t)
	// An uncommitted edit and a staged file must survive untouched.
	os.WriteFile(filepath.Join(dir, "web.cue"), []byte("vm: web: {cores: 2}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "db.cue"), []byte("vm: db: {}\n"), 0o644)
	gitCmd(t, dir, "add", "db.cue")
	before := gitCmd(t, dir, "status", "--porcelain")

	who := object.Signature{Name: "Alice Admin", Email: "alice@example.com"}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var hashes []string
	for i, run := range []string{"01RUNA", "01RUNB"} {
		h, err := CommitAudit(dir, AuditCommit{RunID: run, Summary: "pmpc apply: " + run,
			Data: []byte(`{"run_id":"` + run + `"}`), Author: who, When: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	if after := gitCmd(t, dir, "status", "--porcelain"); after != before {
		t.Errorf("status changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if head := strings.TrimSpace(gitCmd(t, dir, "symbolic-ref", "HEAD")); head != "refs/heads/main" {
		t.Errorf("HEAD moved to %s", head)
	}
	// Plain git reads the trail: newest first, both files in the tree.
	log := gitCmd(t, dir, "log", "--format=%H %an %s", DefaultAuditBranch)
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], hashes[1]+" Alice Admin pmpc apply: 01RUNB") {
		t.Fatalf("git log:\n%s", log)
	}
	tree := gitCmd(t, dir, "ls-tree", "-r", "--name-only", DefaultAuditBranch)
	for _, f := range []string{"audit/2026/11/26/100000-01RUNA.json", "audit/2026/11/26/100100-01RUNB.json"} {
		if !strings.Contains(tree, f) {
			t.Errorf("tree lacks %s:\n%s", f, tree)
		}
	}
	if got := gitCmd(t, dir, "show", DefaultAuditBranch+":audit/2026/11/26/100000-01RUNA.json"); got != `{"run_id":"01RUNA"}` {
		t.Errorf("git show = %q", got)
	}
	gitCmd(t, dir, "fsck", "--strict")

	entries, err := AuditLog(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].RunID != "01RUNB" || entries[1].Who != "Alice Admin" {
		t.Fatalf("entries %+v", entries)
	}
	e, data, err := AuditRecord(dir, "", "01RUNA")
	if err != nil || string(data) != `{"run_id":"01RUNA"}` || e.Summary != "pmpc apply: 01RUNA" {
		t.Fatalf("record %+v %q %v", e, data, err)
	}
	if _, _, err := AuditRecord(dir, "", "01RUN"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("prefix of two runs: %v", err)
	}
}

func TestAuditOnCurrentBranchKeepsTreeClean(t *testing.T) {
	dir := gitRepo(t)
	_, err := CommitAudit(dir, AuditCommit{Branch: "main", RunID: "01X", Summary: "pmpc apply: 1 changed (run 01X)",
		Data: []byte("{}\n"), Author: object.Signature{Name: "a", Email: "a@b"}, When: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if st := gitCmd(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("work tree not clean after audit on the current branch:\n%s", st)
	}
	if n := strings.Count(gitCmd(t, dir, "log", "--oneline", "main"), "\n"); n != 2 {
		t.Errorf("main has %d commits, want 2", n)
	}
}

func TestPushAuditReplaysOntoMovedRemote(t *testing.T) {
	remote := t.TempDir()
	gitCmd(t, remote, "init", "--bare", "-q")
	a, b := gitRepo(t), gitRepo(t)
	for _, d := range []string{a, b} {
		gitCmd(t, d, "remote", "add", "origin", remote)
	}
	who := object.Signature{Name: "ci", Email: "ci@example.com"}
	if _, err := CommitAudit(a, AuditCommit{RunID: "01A", Summary: "a", Data: []byte("a"), Author: who, When: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := PushAudit(context.Background(), a, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := CommitAudit(b, AuditCommit{RunID: "01B", Summary: "b", Data: []byte("b"), Author: who, When: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := PushAudit(context.Background(), b, "", ""); err != nil {
		t.Fatal(err)
	}
	log := gitCmd(t, remote, "log", "--format=%s", DefaultAuditBranch)
	if log != "b\na\n" {
		t.Errorf("remote audit log = %q, want both records", log)
	}
}
