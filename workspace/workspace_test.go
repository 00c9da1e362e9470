package workspace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmpc-dev/pmpc/resource"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFilesSkipsHiddenIgnoredAndConfig(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"pmpc.cue":                 "ignore: [\"drafts/\"]\n",
		"a.cue":                    "",
		"vms/b.yaml":               "",
		"vms/c.YML":                "",
		"pools.json":               "",
		"README.md":                "",
		".github/workflows/ci.yml": "",
		".gitlab-ci.yml":           "",
		".pmpc/cache/x.json":       "",
		"vms/.gitignore":           "tmp-*.cue\n",
		"vms/tmp-1.cue":            "",
		".gitignore":               "/generated/\n",
		"generated/x.cue":          "",
		"drafts/d.cue":             "",
		"cue.mod/module.cue":       "",
		"sub/pmpc.cue":             "",
	})
	ws, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ws.Files()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.cue", "pools.json", "sub/pmpc.cue", "vms/b.yaml", "vms/c.YML"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
}

func TestConfigDefaultsAndFind(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"pmpc.cue":   "cluster: endpoint: \"https://pve1:8006\"\nprotect: [\"vm.db-*\"]\ndefaults: node: \"pve1\"\n",
		"vms/a.yaml": "vm:\n  a: {cores: 1}\n",
	})
	ws, err := Find(filepath.Join(dir, "vms"))
	if err != nil {
		t.Fatal(err)
	}
	c := ws.Config
	if c.Cluster.Endpoint != "https://pve1:8006" || c.Prune || c.Audit.Branch != "pmpc/audit" {
		t.Errorf("config = %+v", c)
	}
	if !c.Protected(resource.Address{Kind: resource.KindVM, Name: "db-01"}) || c.Protected(resource.Address{Kind: resource.KindVM, Name: "web"}) {
		t.Error("protect patterns do not match as globs")
	}
	set, err := ws.Load()
	if err != nil {
		t.Fatal(err)
	}
	if set.VMs["a"].Node != "pve1" {
		t.Errorf("node = %q, want the default pve1", set.VMs["a"].Node)
	}
	if _, err := os.Stat(filepath.Join(dir, ".pmpc", "cache")); err != nil {
		t.Errorf("no cache written: %v", err)
	}
}

func TestFindOutsideWorkspace(t *testing.T) {
	if _, err := Find(t.TempDir()); err == nil {
		t.Fatal("Find outside a workspace succeeded")
	}
}
