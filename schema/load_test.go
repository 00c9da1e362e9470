package schema

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmpc-dev/pmpc/resource"
)

// writeWorkspace writes files into a fresh directory and returns it with
// the sorted file names.
func writeWorkspace(t testing.TB, files map[string]string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for n, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return dir, names
}

func ptr[T any](v T) *T { return &v }

func TestLoadDecodesAllFormats(t *testing.T) {
	dir, names := writeWorkspace(t, map[string]string{
		"web.cue": `package infra
vm: "web-01": {
	node:   "pve1"
	cores:  2
	memory: 4Ki
	protection: false
	disks: scsi0: {storage: "local-lvm", size: "32G"}
}
vm: "web-01": networks: net0: {model: "virtio", firewall: true}
`,
		"dns.yaml":   "container:\n  dns:\n    node: pve2\n    hostname: ns1.example.com\n    memory: 512\n",
		"pools.json": `{"pool": {"prod": {"comment": "production"}}}`,
	})
	set, err := Load(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	want := &resource.Set{
		VMs: map[string]*resource.VM{"web-01": {
			Node: "pve1", Name: "web-01", Cores: ptr(2), Memory: ptr(4096), Protection: ptr(false),
			Disks:    map[string]resource.Disk{"scsi0": {Storage: "local-lvm", Size: "32G"}},
			Networks: map[string]resource.NIC{"net0": {Model: "virtio", Firewall: ptr(true)}},
		}},
		Containers: map[string]*resource.Container{"dns": {Node: "pve2", Hostname: "ns1.example.com", Memory: ptr(512)}},
		Pools:      map[string]*resource.Pool{"prod": {Comment: ptr("production")}},
		Origins: map[resource.Address]resource.Origin{
			{Kind: resource.KindVM, Name: "web-01"}:     {File: "web.cue", Line: 2, Col: 5},
			{Kind: resource.KindContainer, Name: "dns"}: {File: "dns.yaml", Line: 2, Col: 3},
			{Kind: resource.KindPool, Name: "prod"}:     {File: "pools.json", Line: 1, Col: 11},
		},
	}
	if d := cmp.Diff(want, set); d != "" {
		t.Errorf("set (-want +got):\n%s", d)
	}
}

// With a policy, resources are decoded from the evaluated value, so values
// the policy computes or defaults are in the set.
func TestLoadPolicyDefaults(t *testing.T) {
	dir, names := writeWorkspace(t, map[string]string{
		"policy.cue": "vm: [_]: {onboot: *true | bool}\n",
		"web.yaml":   "vm:\n  web-01: {node: pve1}\n  web-02: {node: pve1, onboot: false}\n",
	})
	set, err := Load(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.VMs["web-01"].OnBoot; got == nil || !*got {
		t.Errorf("web-01 onboot = %v, want true from the policy default", got)
	}
	if got := set.VMs["web-02"].OnBoot; got == nil || *got {
		t.Errorf("web-02 onboot = %v, want false", got)
	}
	if o := set.Origins[resource.Address{Kind: resource.KindVM, Name: "web-02"}]; o.String() != "web.yaml:3:3" {
		t.Errorf("origin = %v", o)
	}
}

func TestLoadErrorsAreTyped(t *testing.T) {
	dir, names := writeWorkspace(t, map[string]string{
		"a.cue": "vm: x: {node: \"pve1\", cores: 0}\n",
	})
	_, err := Load(dir, names)
	var se *Errors
	if !errors.As(err, &se) {
		t.Fatalf("err = %T %v, want *Errors", err, err)
	}
	if want := "a.cue:1:30: vm.x.cores: invalid value 0: want at least 1"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestLoadCacheIsIncremental(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d"} {
		files["vms/"+n+".cue"] = "vm: " + n + ": {node: \"pve1\", cores: 1}\n"
	}
	dir, names := writeWorkspace(t, files)
	l := &Loader{Root: dir, CacheDir: filepath.Join(dir, ".pmpc", "cache")}
	if _, err := l.Load(names); err != nil {
		t.Fatal(err)
	}
	if l.Stats.Evaluated != 4 {
		t.Fatalf("cold load evaluated %d files, want 4", l.Stats.Evaluated)
	}
	set, err := l.Load(names)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stats.Evaluated != 0 || set.Len() != 4 || *set.VMs["c"].Cores != 1 {
		t.Fatalf("warm load: stats %+v, %d resources", l.Stats, set.Len())
	}

	// A changed file is evaluated alone, and its new content wins.
	os.WriteFile(filepath.Join(dir, "vms/c.cue"), []byte("vm: c: {node: \"pve1\", cores: 3}\n"), 0o644)
	set, err = l.Load(names)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stats.Evaluated != 1 || *set.VMs["c"].Cores != 3 {
		t.Fatalf("after one change: stats %+v, cores %d", l.Stats, *set.VMs["c"].Cores)
	}

	// An invalid change is still caught, and a duplicate against a cached
	// file too.
	os.WriteFile(filepath.Join(dir, "vms/c.cue"), []byte("vm: c: {node: \"pve1\", cores: 0}\nvm: a: {node: \"pve1\"}\n"), 0o644)
	_, err = l.Load(names)
	if err == nil || !strings.Contains(err.Error(), "vm.c.cores: invalid value 0") || !strings.Contains(err.Error(), "vm.a: defined more than once") {
		t.Fatalf("err = %v", err)
	}

	// A policy applies to cached files too: every file is evaluated again.
	os.WriteFile(filepath.Join(dir, "vms/c.cue"), []byte("vm: c: {node: \"pve1\", cores: 1}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "policy.cue"), []byte("vm: [_]: cores?: >=2\n"), 0o644)
	_, err = l.Load(append(names, "policy.cue"))
	if err == nil || strings.Count(err.Error(), "want at least 2 (constraint at policy.cue") != 4 {
		t.Fatalf("err = %v, want all four VMs rejected by the policy", err)
	}
}

// TestDefaultStorageLeavesCDROMsEmpty: defaults.storage fills the storage
// of disks that allocate space, never a CD-ROM drive, which holds a medium.
func TestDefaultStorageLeavesCDROMsEmpty(t *testing.T) {
	root, files := writeWorkspace(t, map[string]string{
		"a.yaml": "vm:\n  cd-test:\n    node: pve1\n    disks:\n      ide2: {media: cdrom}\n      scsi0: {size: 4G}\n",
	})
	l := &Loader{Root: root, Defaults: Defaults{Storage: "local-lvm"}}
	set, err := l.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	d := set.VMs["cd-test"].Disks
	if d["ide2"].Storage != "" || d["scsi0"].Storage != "local-lvm" {
		t.Errorf("defaults applied to disks: ide2 %+v, scsi0 %+v", d["ide2"], d["scsi0"])
	}
}
