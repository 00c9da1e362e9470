package pve

import (
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

func loadGuests(t testing.TB) []resource.Guest {
	t.Helper()
	b, err := os.ReadFile("testdata/guests.json")
	if err != nil {
		t.Fatal(err)
	}
	var gs []resource.Guest
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatalf("testdata/guests.json: %v", err)
	}
	return gs
}

// compileImported imports g and compiles the result under the key an
// importer would pick.
func compileImported(t *testing.T, g *resource.Guest) Config {
	t.Helper()
	var (
		cfg Config
		err error
	)
	switch g.Kind {
	case resource.KindVM:
		cfg, err = CompileVM(importKey(g), ImportVM(g))
	case resource.KindContainer:
		cfg, err = CompileContainer(importKey(g), ImportContainer(g))
	}
	if err != nil {
		t.Fatalf("compile of imported %s: %v", g.ID(), err)
	}
	return cfg
}

func importKey(g *resource.Guest) string {
	if g.Name != "" {
		return g.Name
	}
	return "guest-" + strconv.Itoa(g.VMID)
}

// TestImportCompileRoundTrip is the round-trip law at the config level: for
// every guest of the corpus, compiling its import gives a config that Diff
// finds equal to what PVE holds, key by key, and that leaves out no key
// except those PVE defaults itself or masks.
func TestImportCompileRoundTrip(t *testing.T) {
	for _, g := range loadGuests(t) {
		t.Run(g.ID(), func(t *testing.T) {
			cfg := compileImported(t, &g)
			keys := map[string]bool{}
			for k := range cfg {
				keys[k] = true
			}
			for k := range g.Config {
				keys[k] = true
			}
			var sorted []string
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				if Ignored(g.Kind, k) {
					if _, ok := cfg[k]; ok {
						t.Errorf("%s: ignored key was imported: %q", k, cfg[k])
					}
					continue
				}
				want, have := cfg[k], g.Config[k]
				if have == "" && (k == "name" || k == "hostname") {
					// A guest PVE holds without a name: the spec cannot say
					// "no name", so the first apply names it after its key.
					continue
				}
				if want == "" && have != "" && !DefaultedByPVE(g.Kind, k) && !Sensitive(g.Kind, k) {
					t.Errorf("%s: missing from the compiled config (PVE has %q)", k, have)
					continue
				}
				if want == "" {
					continue
				}
				if d := Diff(g.Kind, k, want, have); len(d) > 0 {
					t.Errorf("%s: compiled %q, PVE has %q: diff %+v", k, want, have, d)
				}
			}
		})
	}
}

// TestImportLeavesOutPVEOwnedValues: generated MACs, the masked password,
// lxc's type=veth and the keys PVE manages never reach a definition.
func TestImportLeavesOutPVEOwnedValues(t *testing.T) {
	for _, g := range loadGuests(t) {
		t.Run(g.ID(), func(t *testing.T) {
			var b []byte
			switch g.Kind {
			case resource.KindVM:
				b, _ = json.Marshal(ImportVM(&g))
			case resource.KindContainer:
				b, _ = json.Marshal(ImportContainer(&g))
			}
			s := string(b)
			for _, leak := range []string{"BC:24:11", "52:54:00", "**********", "vmgenid", "smbios1", "digest", "\"lock\"", "runningmachine", "veth"} {
				if strings.Contains(s, leak) {
					t.Errorf("import kept %q: %s", leak, s)
				}
			}
		})
	}
}

// TestImportCompileFixedPoint: importing a config, compiling it, and
// importing the compiled config as if PVE returned it gives the same spec —
// a second import writes the same definition.
func TestImportCompileFixedPoint(t *testing.T) {
	for _, g := range loadGuests(t) {
		t.Run(g.ID(), func(t *testing.T) {
			cfg := compileImported(t, &g)
			g2 := g
			g2.Config = map[string]string{}
			for k, v := range g.Config {
				// Keys compile leaves to PVE stay as observed.
				if _, ok := cfg[k]; !ok {
					g2.Config[k] = v
				}
			}
			for k, v := range cfg {
				g2.Config[k] = UpdateValue(g.Kind, k, v, g.Config[k])
			}
			var a, b any
			switch g.Kind {
			case resource.KindVM:
				vm := ImportVM(&g2)
				if g.Config["name"] == "" {
					vm.Name = "" // named after its key; see TestImportCompileRoundTrip
				}
				a, b = ImportVM(&g), vm
			case resource.KindContainer:
				ct := ImportContainer(&g2)
				if g.Config["hostname"] == "" {
					ct.Hostname = ""
				}
				a, b = ImportContainer(&g), ct
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Errorf("second import differs:\n first %s\nsecond %s", ja, jb)
			}
		})
	}
}

func TestImportGuestFields(t *testing.T) {
	gs := loadGuests(t)
	vm := ImportVM(&gs[0])
	if vm.Node != "pve1" || vm.VMID != 120 || vm.Pool != "team-a" || vm.State != "running" || vm.Name != "web01" {
		t.Errorf("ImportVM guest fields = node %q vmid %d pool %q state %q name %q", vm.Node, vm.VMID, vm.Pool, vm.State, vm.Name)
	}
	tmpl := ImportVM(&gs[1])
	if tmpl.State != "" || tmpl.Template == nil || !*tmpl.Template {
		t.Errorf("template: state %q template %v; want no state and template true", tmpl.State, tmpl.Template)
	}
	for _, g := range gs {
		if g.Kind == resource.KindContainer && g.VMID == 101 {
			ct := ImportContainer(&g)
			if ct.Hostname != "ct01" || ct.State != "running" || ct.Extra["lxc"] != g.Config["lxc"] {
				t.Errorf("ImportContainer = hostname %q state %q lxc %q", ct.Hostname, ct.State, ct.Extra["lxc"])
			}
		}
	}
}
