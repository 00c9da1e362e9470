package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/snapshot"
)

const planTestSeed = `{
  "version": "8.3.2",
  "nodes": [{"node": "pve1", "maxcpu": 16, "maxmem": 68719476736, "status": "online"}],
  "storage": [{"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir", "total": 500107862016}],
  "guests": [
    {"type": "qemu", "node": "pve1", "vmid": 100, "status": "running",
     "config": {"name": "web-01", "cores": 2, "memory": "4096",
                "net0": "virtio=BC:24:11:2E:4A:01,bridge=vmbr0",
                "scsi0": "local-lvm:vm-100-disk-0,size=32G", "tags": "pmpc"}}
  ]
}`

const planTestDef = `vm: "web-01": {
	node:   "pve1"
	cores:  2
	memory: 4096
	disks: scsi0: {storage: "local-lvm", size: "%SIZE%"}
	networks: net0: {model: "virtio", bridge: "vmbr0"}
}
`

// planEnv starts the fake with one VM and returns a workspace matching it.
func planEnv(t *testing.T) (*sim.Server, string) {
	t.Helper()
	dir := t.TempDir()
	seedPath := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(seedPath, []byte(planTestSeed), 0o644); err != nil {
		t.Fatal(err)
	}
	seed, err := sim.LoadSeed(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Options{Seed: seed, RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	t.Setenv("PMPC_ENDPOINT", s.URL())
	t.Setenv("PMPC_TOKEN", s.Token())
	t.Setenv("PMPC_TLS_FINGERPRINT", s.Fingerprint())
	t.Setenv("NO_COLOR", "1")
	ws := filepath.Join(dir, "ws")
	writePlanDef(t, ws, "32G")
	if err := os.WriteFile(filepath.Join(ws, "pmpc.cue"), []byte("defaults: node: \"pve1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, ws
}

func writePlanDef(t *testing.T, ws, size string) {
	t.Helper()
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	def := strings.ReplaceAll(planTestDef, "%SIZE%", size)
	if err := os.WriteFile(filepath.Join(ws, "web.cue"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fullRefresh reads every config: edits through EditConfig (like a
// synchronous config PUT) leave no signal for the incremental refresh.
func fullRefresh(t *testing.T, ws string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-C", ws, "refresh", "--full"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("refresh --full: exit %d: %s", code, errb.String())
	}
}

func runPlanCmd(t *testing.T, ws string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"-C", ws, "plan"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPlanExitCodes(t *testing.T) {
	s, ws := planEnv(t)
	if code, out, errs := runPlanCmd(t, ws, "--detailed-exitcode"); code != exitOK || !strings.Contains(out, "No changes.") {
		t.Fatalf("matching workspace: exit %d\n%s%s", code, out, errs)
	}
	if err := s.EditConfig(100, "memory", "2048"); err != nil {
		t.Fatal(err)
	}
	fullRefresh(t, ws)
	if code, out, errs := runPlanCmd(t, ws, "--detailed-exitcode"); code != exitChanges || !strings.Contains(out, `~ memory = "2048" -> "4096"`) {
		t.Fatalf("drift with --detailed-exitcode: exit %d, want 2\n%s%s", code, out, errs)
	}
	if code, _, _ := runPlanCmd(t, ws); code != exitOK {
		t.Errorf("changes without --detailed-exitcode: exit %d, want 0", code)
	}
	if code, _, errs := runPlanCmd(t, ws, "-o", "yaml"); code != exitError || !strings.Contains(errs, "yaml") {
		t.Errorf("-o yaml: exit %d, want 1: %s", code, errs)
	}

	writePlanDef(t, ws, "16G")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, errs := runPlanCmd(t, ws, "--out", planFile)
	if code != exitError || !strings.Contains(out, "disk scsi0 cannot shrink") || !strings.Contains(errs, "1 error") {
		t.Errorf("disk shrink: exit %d, want 1\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(planFile); err == nil {
		t.Error("a plan with errors must not be saved")
	}

	if err := os.WriteFile(filepath.Join(ws, "web.cue"), []byte(`vm: "web-01": {cores: 0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runPlanCmd(t, ws); code != exitInvalid {
		t.Errorf("invalid definitions: exit %d, want 3: %s", code, errs)
	}
}

func TestPlanOutSavesAFileApplyCanCheck(t *testing.T) {
	s, ws := planEnv(t)
	if err := s.EditConfig(100, "cores", "4"); err != nil {
		t.Fatal(err)
	}
	fullRefresh(t, ws)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if code, out, errs := runPlanCmd(t, ws, "-o", "markdown", "--out", planFile); code != exitOK || !strings.HasPrefix(out, "### pmpc plan") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	f, err := os.Open(planFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := plan.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].Digest == "" || p.SnapshotRevision == 0 {
		t.Fatalf("saved plan must record the change, its digest and the snapshot revision: %+v", p)
	}
	// The guest changes again behind the plan's back: the saved plan is stale.
	if err := s.EditConfig(100, "cores", "8"); err != nil {
		t.Fatal(err)
	}
	fullRefresh(t, ws)
	store, err := snapshot.Open(filepath.Join(ws, ".pmpc", "snapshot"), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	observed, _, err := store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	stale := plan.CheckStale(p, observed)
	if len(stale) != 1 || stale[0].VMID != 100 || !strings.Contains(stale[0].Reason, "config changed") {
		t.Errorf("stale: %v", stale)
	}
}
