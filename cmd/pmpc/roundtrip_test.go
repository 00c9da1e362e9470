package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pmpc-dev/pmpc/proxmox/sim"
)

// Script commands for the round-trip scripts:
//
//	seedfile NAME         copies testdata/seeds/NAME into $WORK/NAME
//	subst FILE OLD NEW    replaces the one occurrence of OLD in FILE with NEW
//	                      (fails if OLD occurs zero or several times)
func init() {
	scriptCmds["seedfile"] = cmdSeedFile
	scriptCmds["subst"] = cmdSubst
}

func cmdSeedFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || strings.ContainsAny(args[0], `/\`) {
		ts.Fatalf("usage: seedfile NAME (a file of testdata/seeds)")
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "seeds", args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: subst FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if n := strings.Count(string(b), args[1]); n != 1 {
		ts.Fatalf("subst: %q occurs %d times in %s, want once", args[1], n, args[0])
	}
	ts.Check(os.WriteFile(path, []byte(strings.Replace(string(b), args[1], args[2], 1)), 0o644))
}

// pmpcRun runs pmpc in-process in dir and returns its exit code and output.
func pmpcRun(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"-C", dir}, args...), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestRoundTripLarge: round trip is law at scale. After pmpc import --all of
// the large preset (1,000 guests here; a manual run with the default
// 10,000 is noted in the report), the workspace validates and plan shows no
// changes. Then one edit of a definition plans exactly that change, apply
// makes it, and plan shows no changes again.
func TestRoundTripLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 guests; not with -short")
	}
	const n = 1000
	srv := sim.Test(t, sim.Options{Seed: sim.Large(n), RandSeed: 1})
	t.Setenv("PMPC_ENDPOINT", srv.URL())
	t.Setenv("PMPC_TOKEN", srv.Token())
	t.Setenv("PMPC_TLS_FINGERPRINT", srv.Fingerprint())
	t.Setenv("NO_COLOR", "1")
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "pmpc.cue"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := pmpcRun(t, ws, "import", "--all")
	if code != 0 {
		t.Fatalf("import --all: exit %d\n%s", code, stderr)
	}
	if want := "Imported 1004 resources"; !strings.Contains(stderr, want) {
		t.Errorf("import --all: stderr does not say %q:\n%s", want, lastLines(stderr, 3))
	}
	vms, _ := filepath.Glob(filepath.Join(ws, "vms", "*.cue"))
	cts, _ := filepath.Glob(filepath.Join(ws, "containers", "*.cue"))
	if len(vms)+len(cts) != n {
		t.Errorf("import wrote %d VM and %d container files, want %d in all", len(vms), len(cts), n)
	}
	if code, stdout, stderr := pmpcRun(t, ws, "validate"); code != 0 || stdout != "" {
		t.Fatalf("validate after import: exit %d\n%s%s", code, stdout, lastLines(stderr, 20))
	}
	code, stdout, stderr := pmpcRun(t, ws, "plan", "--detailed-exitcode")
	if code != 0 || !strings.Contains(stdout, "No changes. The cluster matches the workspace.") {
		t.Fatalf("plan after import: exit %d, want 0\n%s%s", code, lastLines(stdout, 40), lastLines(stderr, 20))
	}

	// One edit: a tag more on vm-00001 (vmid 1001).
	def := filepath.Join(ws, "vms", "vm-00001.cue")
	b, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	const old = `tags: ["db", "team-b"]`
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s does not hold %s once:\n%s", def, old, b)
	}
	if err := os.WriteFile(def, []byte(strings.Replace(string(b), old, `tags: ["db", "edited", "team-b"]`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = pmpcRun(t, ws, "plan", "--detailed-exitcode", "--refresh=false")
	if code != exitChanges || !strings.Contains(stdout, "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete") ||
		!strings.Contains(stdout, `~ tags = "db;pmpc;team-b" -> "db;edited;pmpc;team-b"`) {
		t.Fatalf("plan after one edit: exit %d, want 2 and one tag change\n%s", code, lastLines(stdout, 40))
	}
	if code, stdout, stderr := pmpcRun(t, ws, "apply", "--auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, lastLines(stdout, 20), lastLines(stderr, 20))
	}
	if cfg, _, _ := srv.Config(1001); cfg["tags"] != "db;edited;pmpc;team-b" {
		t.Errorf("after apply the fake holds tags %q", cfg["tags"])
	}
	code, stdout, stderr = pmpcRun(t, ws, "plan", "--detailed-exitcode")
	if code != 0 || !strings.Contains(stdout, "No changes. The cluster matches the workspace.") {
		t.Fatalf("plan after apply: exit %d, want 0\n%s%s", code, lastLines(stdout, 40), lastLines(stderr, 20))
	}
}

// lastLines returns the last n lines of s, for failure messages.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n+1 {
		lines = append([]string{"...\n"}, lines[len(lines)-n-1:]...)
	}
	return strings.Join(lines, "")
}
