package schema

import (
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmpc-dev/pmpc/resource"
)

// Every pattern of the schema has words, so no message ever shows a
// regular expression of pmpc's own; every slot definition lists its slots
// and every struct has a noun.
func TestSchemaWordsComplete(t *testing.T) {
	s := schemaShape()
	if len(s.regexDef) == 0 {
		t.Fatal("no patterns found in the schema")
	}
	for lit, where := range s.regexDef {
		if _, ok := patternWords[where]; !ok {
			t.Errorf("pattern %s (at %s) has no words in patternWords", lit, where)
		}
	}
	seen := map[*snode]bool{}
	var walk func(n *snode, at string)
	walk = func(n *snode, at string) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.pattern && n.keyDef != "" && slotWords[n.keyDef] == "" {
			t.Errorf("%s: slot definition %s has no slotWords", at, n.keyDef)
		}
		if n.fields != nil && n != s.root && structNouns[n.def] == "" {
			t.Errorf("%s: struct %q has no noun in structNouns", at, n.def)
		}
		for _, name := range n.order {
			f := n.fields[name]
			if f.required {
				if _, ok := requiredHints[f.key()]; !ok {
					t.Errorf("required field %s has no hint in requiredHints", f.key())
				}
			}
			walk(f.node, at+"."+name)
		}
		walk(n.elem, at+".*")
	}
	walk(s.root, "")
	for _, tab := range []map[string]string{fieldWords, units, requiredHints} {
		for k := range tab {
			def, field, _ := strings.Cut(k, ".")
			if _, n := s.lookupDef(def); n == nil || n.fields[field] == nil {
				t.Errorf("word table names %s, which the schema does not have", k)
			}
		}
	}
	for def, m := range aliases {
		_, n := s.lookupDef(def)
		for from, to := range m {
			if n == nil || n.fields[to] == nil {
				t.Errorf("alias %s %s -> %s: no such field", def, from, to)
			}
			if n != nil && n.fields[from] != nil {
				t.Errorf("alias %s %s shadows a real field", def, from)
			}
		}
	}
}

// lookupDef returns the node of a named definition.
func (s *shape) lookupDef(name string) (string, *snode) {
	var found *snode
	seen := map[*snode]bool{}
	var walk func(n *snode)
	walk = func(n *snode) {
		if n == nil || seen[n] || found != nil {
			return
		}
		seen[n] = true
		if n.def == name {
			found = n
			return
		}
		for _, f := range n.fields {
			walk(f.node)
		}
		walk(n.elem)
	}
	walk(s.root)
	return name, found
}

// The schema's structs have exactly the fields of the Go types in package
// resource (their JSON tags are the contract), and a field the schema
// requires has no omitempty in Go.
func TestSchemaShapeMatchesResourceTypes(t *testing.T) {
	s := schemaShape()
	types := map[string]reflect.Type{
		"#VM": reflect.TypeFor[resource.VM](), "#Container": reflect.TypeFor[resource.Container](),
		"#Pool": reflect.TypeFor[resource.Pool](), "#Clone": reflect.TypeFor[resource.Clone](),
		"#Agent": reflect.TypeFor[resource.Agent](), "#Disk": reflect.TypeFor[resource.Disk](),
		"#EFIDisk": reflect.TypeFor[resource.EFIDisk](), "#TPM": reflect.TypeFor[resource.TPM](),
		"#NIC": reflect.TypeFor[resource.NIC](), "#CloudInit": reflect.TypeFor[resource.CloudInit](),
		"#IPConfig": reflect.TypeFor[resource.IPConfig](), "#Features": reflect.TypeFor[resource.Features](),
		"#Mount": reflect.TypeFor[resource.Mount](), "#CTNIC": reflect.TypeFor[resource.CTNIC](),
	}
	for def, typ := range types {
		_, n := s.lookupDef(def)
		if n == nil {
			t.Errorf("%s: not in the schema", def)
			continue
		}
		var goFields, goRequired []string
		for i := range typ.NumField() {
			tag := typ.Field(i).Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			goFields = append(goFields, name)
			if !strings.Contains(opts, "omitempty") {
				goRequired = append(goRequired, name)
			}
		}
		schemaFields := slices.Clone(n.order)
		sort.Strings(goFields)
		sort.Strings(schemaFields)
		if d := cmp.Diff(goFields, schemaFields); d != "" {
			t.Errorf("%s fields (-Go +schema):\n%s", def, d)
		}
		for _, name := range n.order {
			if n.fields[name].required && !slices.Contains(goRequired, name) {
				t.Errorf("%s.%s is required in the schema but omitempty in Go", def, name)
			}
		}
	}
}

// The Go check of unknown fields and CUE's closedness agree: on files
// without value errors (where CUE reports every unknown field), both name
// the same fields.
func TestCheckShapeAgreesWithCUE(t *testing.T) {
	srcs := map[string]string{
		"a.cue": `vm: x: {node: "a", colour: 1, disks: {scsi0: {size: "1G", cache: "none"}, scsi31: {}, virtio15: {}}, networks: {net31: {model: "virtio", vlan: 2}, net32: {model: "virtio"}}}
vm: x: {cloudinit: {ipconfig: {ipconfig31: {}, ipconfig32: {}, ipconfig0: {ip4: "dhcp"}}, sshkeys: []}, agent: {enabled: true, fstrim: true}, extra: {anything: "x"}}
container: c: {node: "a", mounts: {mp255: {}, mp256: {}, mp0: {mp: "/"}}, features: {nesting: true, nfs: true}, rootfs: {path: "/", backup: "1"}, networks: net0: {name: "eth0", macaddr: "x"}}
pool: p: {comment: "x", members: []}
`,
		"b.yaml": "vm:\n  y:\n    node: a\n    efidisk: {storage: local, efitype: 4m}\n    tpm: {version: v2.0, size: 4M}\n    clone: {from: t, target: x}\n    tags: [a]\n",
		"c.json": `{"container": {"d": {"node": "a", "features": {"options": {"x": "y"}}, "arch": "amd64", "cpus": 2}}}`,
	}
	dir, names := writeWorkspace(t, srcs)
	_, err := Load(dir, names)
	var se *Errors
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	var goPaths []string
	for _, e := range se.List {
		goPaths = append(goPaths, e.File+" "+e.Path)
	}
	sort.Strings(goPaths)

	// CUE alone, on the same files.
	l := &Loader{Root: dir}
	fs, err := l.readAll(names)
	if err != nil {
		t.Fatal(err)
	}
	parseAll(fs)
	_, cueErrs := evaluate(fs, nil)
	var cuePaths []string
	for _, e := range cueErrs {
		if !strings.HasPrefix(e.Detail, "field not allowed") && !strings.HasPrefix(e.Msg, "field not allowed") {
			t.Errorf("unexpected CUE error %v", e)
			continue
		}
		cuePaths = append(cuePaths, e.File+" "+e.Path)
	}
	sort.Strings(cuePaths)
	cuePaths = slices.Compact(cuePaths)
	if d := cmp.Diff(cuePaths, goPaths); d != "" {
		t.Errorf("unknown fields (-CUE +Go):\n%s", d)
	}
	if len(goPaths) < 15 {
		t.Errorf("only %d unknown fields found: %v", len(goPaths), goPaths)
	}
}

// Messages keep CUE's wording in Detail, for debugging.
func TestErrorDetailKeepsConstraint(t *testing.T) {
	dir, names := writeWorkspace(t, map[string]string{"a.yaml": "vm:\n  x: {node: pve1, disks: {scsi0: {size: 10X}}}\n"})
	_, err := Load(dir, names)
	var se *Errors
	if !errors.As(err, &se) || len(se.List) != 1 {
		t.Fatalf("err = %v", err)
	}
	e := se.List[0]
	if want := `invalid value "10X": want a size such as 32G (a number with K, M, G or T)`; e.Msg != want {
		t.Errorf("msg = %q, want %q", e.Msg, want)
	}
	if !strings.Contains(e.Detail, `out of bound =~"^[0-9]+(\\.[0-9]+)?[KMGT]$"`) {
		t.Errorf("detail = %q, want CUE's constraint", e.Detail)
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"cores", "memory", "node", "name", "networks", "tags", "tag", "vmid"}
	for in, want := range map[string]string{
		"corse": "cores", "memroy": "memory", "Memory": "memory", "nod": "node",
		"network": "networks", "colour": "", "vlan": "", "x": "", "nmae": "name",
	} {
		if got := closest(in, cands); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNameProblem(t *testing.T) {
	for _, c := range []struct {
		kind, key string
		named     bool
		want      string
	}{
		{"vm", "web-01", false, ""},
		{"vm", "web.example.com", false, ""},
		{"vm", "Web_1", true, ""},
		{"vm", "Web_1", false, `the name "Web_1" is not a valid Proxmox VM name (letters, digits and hyphens, dot-separated; no underscores); rename the key or set name, e.g. name: "Web-1"`},
		{"container", "a_b.lan", false, `the hostname "a_b.lan" is not a valid Proxmox container hostname (letters, digits and hyphens, dot-separated; no underscores); rename the key or set hostname, e.g. hostname: "a-b.lan"`},
		{"vm", "_x", false, `"_x" is not a valid key (letters, digits, '.', '-' and '_', starting and ending with a letter or digit); rename the key`},
		{"pool", "a/b/c", false, ""},
		{"pool", "a b", false, `"a b" is not a valid Proxmox pool id (letters, digits, '.', '-' and '_'; up to three levels joined by '/'); rename the key`},
	} {
		if got := nameProblem(c.kind, c.key, c.named); got != c.want {
			t.Errorf("nameProblem(%s, %q, %v) = %q, want %q", c.kind, c.key, c.named, got, c.want)
		}
	}
}

// With a CUE policy in the workspace, unknown fields of plain files are
// still reported beside value errors, each once.
func TestUnknownFieldsBesidePolicyErrors(t *testing.T) {
	dir, names := writeWorkspace(t, map[string]string{
		"policy.cue": "vm: [_]: cores?: <=8\n",
		"web.yaml":   "vm:\n  web-01:\n    node: pve1\n    cores: 16\n    colour: red\n    networks:\n      net40: {model: virtio}\n",
	})
	_, err := Load(dir, names)
	want := `web.yaml:4:12: vm.web-01.cores: invalid value 16: want at most 8 (constraint at policy.cue:1:18)
web.yaml:5:5: vm.web-01.colour: field not allowed: a VM has no such field; check the spelling, or put a PVE key that pmpc does not model under extra
web.yaml:7:7: vm.web-01.networks.net40: no such slot: want net0 … net31`
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}
