package sim

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSeedFiles(t *testing.T) {
	files, err := filepath.Glob("../../testdata/seeds/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed files: %v", err)
	}
	for _, f := range files {
		seed, err := LoadSeed(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		s := Test(t, Options{Seed: seed})
		a := newAPI(t, s)
		list := ok(t, a.get("/cluster/resources", form("type", "vm"))).dataList(t)
		if len(list) != len(seed.Guests) {
			t.Errorf("%s: %d guests served, seed has %d", f, len(list), len(seed.Guests))
		}
		for _, g := range seed.Guests {
			c := ok(t, a.get("/nodes/"+g.Node+"/"+g.Type+"/"+itoa(g.VMID)+"/config", nil)).dataMap(t)
			for k, v := range g.Config {
				got := c[k]
				if k == "lxc" {
					continue
				}
				if s, isStr := v.(string); isStr && got != s {
					t.Errorf("%s: %d %s = %v, want %q", f, g.VMID, k, got, s)
				}
			}
		}
	}
}

func TestSeedFromDesignDoc(t *testing.T) {
	seed, err := LoadSeed("../../testdata/seeds/small.json")
	if err != nil {
		t.Fatal(err)
	}
	s := Test(t, Options{Seed: seed})
	a := newAPI(t, s)
	c := ok(t, a.get("/nodes/pve1/qemu/100/config", nil)).dataMap(t)
	// Numbers in the seed come back typed as PVE types them.
	if c["cores"] != float64(2) || c["memory"] != "4096" || len(c["digest"].(string)) != 40 {
		t.Errorf("config = %v", c)
	}
	p := ok(t, a.get("/pools", form("poolid", "prod"))).dataList(t)[0].(map[string]any)
	m := p["members"].([]any)[0].(map[string]any)
	if m["id"] != "qemu/100" || m["vmid"] != float64(100) {
		t.Errorf("pool members = %v", p)
	}
	v := ok(t, a.get("/version", nil)).dataMap(t)
	if v["version"] != "8.3.2" {
		t.Errorf("version = %v", v)
	}
}

func TestSeedErrors(t *testing.T) {
	for _, tc := range []struct{ seed, err string }{
		{`{"nodes":[{"node":"pve1"}],"guest":[]}`, `unknown top-level key "guest"`},
		{`{"nodes":[]}`, "no nodes"},
		{`{"nodes":[{"node":"pve1","cpus":4}]}`, `unknown field "cpus"`},
		{`{"nodes":[{"node":"pve1"}],"guests":[{"type":"vm","node":"pve1","vmid":100,"config":{}}]}`, "type must be qemu or lxc"},
		{`{"nodes":[{"node":"pve1"}],"guests":[{"type":"qemu","node":"pve9","vmid":100,"config":{}}]}`, `unknown node "pve9"`},
		{`{"nodes":[{"node":"pve1"}],"guests":[{"type":"qemu","node":"pve1","vmid":100,"config":{}},{"type":"lxc","node":"pve1","vmid":100,"config":{}}]}`, "duplicate vmid 100"},
		{`{"nodes":[{"node":"pve1"}],"guests":[{"type":"qemu","node":"pve1","vmid":100,"config":{"digest":"x"}}]}`, "must not carry digest"},
		{`{"nodes":[{"node":"pve1"}],"pools":[{"poolid":"p","members":[7]}]}`, "member 7 is not a guest"},
		{`{"nodes":[{"node":"pve1"}],"storage":[{"storage":"s1","type":"dir","items":[{"volid":"other:iso/x.iso","content":"iso"}]}]}`, "is not on this storage"},
	} {
		_, err := ParseSeed(strings.NewReader(tc.seed))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.seed, err, tc.err)
		}
	}
}

// TestHomelabVariety pins the variety the homelab preset promises.
func TestHomelabVariety(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	list := ok(t, a.get("/cluster/resources", nil)).dataList(t)
	names := map[string]int{}
	var nodes, qemu, lxc, pools, templates int
	for _, e := range list {
		m := e.(map[string]any)
		switch m["type"] {
		case "node":
			nodes++
		case "pool":
			pools++
		case "qemu":
			qemu++
		case "lxc":
			lxc++
		}
		if m["template"] == float64(1) {
			templates++
		}
		if n, ok := m["name"].(string); ok {
			names[n]++
		}
	}
	if nodes != 3 || qemu+lxc < 28 || qemu+lxc > 34 || lxc < 8 || pools != 3 || templates != 1 {
		t.Errorf("nodes %d qemu %d lxc %d pools %d templates %d", nodes, qemu, lxc, pools, templates)
	}
	if names["test"] < 2 || names["VM 109"] != 1 || names["CT208"] != 1 {
		t.Errorf("want a duplicate name and unnamed guests: %v", names)
	}
	win := ok(t, a.get("/nodes/pve1/qemu/106/config", nil)).dataMap(t)
	if win["efidisk0"] == nil || win["tpmstate0"] == nil {
		t.Errorf("no EFI/TPM disks: %v", win)
	}
	content := ok(t, a.get("/nodes/pve1/storage/local/content", nil)).dataList(t)
	kinds := map[any]int{}
	for _, e := range content {
		kinds[e.(map[string]any)["content"]]++
	}
	if kinds["iso"] == 0 || kinds["vztmpl"] == 0 {
		t.Errorf("storage content kinds %v", kinds)
	}
	snaps := ok(t, a.get("/nodes/pve2/qemu/105/snapshot", nil)).dataList(t)
	if len(snaps) != 2 {
		t.Errorf("snapshots of 105: %v", snaps)
	}
	linked := ok(t, a.get("/nodes/pve1/storage/local-lvm/content", form("vmid", "101"))).dataList(t)
	if len(linked) == 0 || linked[0].(map[string]any)["parent"] != "base-100-disk-0" {
		t.Errorf("linked clone volume: %v", linked)
	}
}

func TestPresetNames(t *testing.T) {
	for _, n := range Presets {
		if _, err := Preset(n, 50); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if s, _ := Preset("large", 50); len(s.Guests) != 50 {
		t.Errorf("large 50: %d guests", len(s.Guests))
	}
	if _, err := Preset("huge", 0); err == nil {
		t.Error("unknown preset accepted")
	}
}

// TestPresetsAreNormalised: every NIC and drive in the generated presets is
// in the form PVE itself prints, so a client's round trip starts clean.
func TestPresetsAreNormalised(t *testing.T) {
	for name, seed := range map[string]*Seed{"homelab": Homelab(), "large": Large(40), "empty": Empty()} {
		for _, g := range seed.Guests {
			for k, v := range g.Config {
				sv, isStr := v.(string)
				if !isStr {
					continue
				}
				var f *propFormat
				switch {
				case isNIC(k) && g.Type == "qemu":
					f = fmtQemuNet
				case isNIC(k):
					f = fmtLXCNet
				case g.Type == "lxc" && k == "rootfs":
					f = fmtRootfs
				case g.Type == "lxc" && strings.HasPrefix(k, "mp"):
					f = fmtMP
				case g.Type == "qemu" && (&guest{typ: "qemu"}).isDiskKey(k) && !strings.HasPrefix(k, "unused"):
					f = fmtDrive
				default:
					continue
				}
				p, err := parseProp(f, k, sv)
				if err != nil {
					t.Errorf("%s %d %s=%q: %v", name, g.VMID, k, sv, err)
					continue
				}
				if got := p.print(f); got != sv {
					t.Errorf("%s %d %s=%q, PVE prints %q", name, g.VMID, k, sv, got)
				}
			}
		}
	}
}
