package schema

import (
	"errors"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
)

// This file keeps docs/definitions.md, the reference users write
// definitions from, in step with the schema and the compiler:
//
//   - every field of the schema (walked from pmpc.cue itself, tree.go) has a
//     row in its kind's section, first column the dotted path
//     (`networks.<slot>.tag`), and every such row names a field that exists;
//   - every example marked with an HTML comment is loaded through the real
//     loader, and the PVE config an example says it becomes is what the
//     compiler makes of it.
//
// Markers, each on the line before a fenced block:
//
//	<!-- check: GROUP/FILE ... -->    the block is FILE of each GROUP; a group
//	                                  (a temporary workspace) must load
//	<!-- check-error: GROUP/FILE -->  as check, but the group must not load
//	<!-- error: GROUP -->             every line of the block appears in the
//	                                  group's load error
//	<!-- pve: GROUP KIND.NAME -->     the block ("key: value" lines) is the
//	                                  PVE config KIND.NAME of GROUP compiles to
//	<!-- config -->                   the block is a valid pmpc.cue
//
// Groups cue-NAME and yaml-NAME (cue-vm and yaml-vm) must decode to the
// same resources.

const docPath = "../docs/definitions.md"

// docBlock is a fenced block of the document and the marker above it.
type docBlock struct {
	line   int // of the opening fence
	marker string
	args   []string
	body   string
}

// docRow is a table row of a kind's section.
type docRow struct {
	line int
	text string
}

// parsedDoc is what the tests read from the document.
type parsedDoc struct {
	rows   map[string]docRow // "vm.networks.<slot>.tag" -> row
	blocks []docBlock
}

var (
	markerRE  = regexp.MustCompile(`^<!--\s*([a-z-]+):?\s*(.*?)\s*-->$`)
	kindHead  = regexp.MustCompile("^## `([a-z]+)`")
	rowPathRE = regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")
)

func readDoc(t *testing.T) *parsedDoc {
	t.Helper()
	src, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read the definitions reference: %v", err)
	}
	d := &parsedDoc{rows: map[string]docRow{}}
	lines := strings.Split(string(src), "\n")
	kind := ""
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			kind = ""
			if m := kindHead.FindStringSubmatch(l); m != nil && resource.Kind(m[1]).Valid() {
				kind = m[1]
			}
		case strings.HasPrefix(l, "```"):
			b := docBlock{line: i + 1}
			for j := i - 1; j >= 0; j-- {
				if p := strings.TrimSpace(lines[j]); p != "" {
					if m := markerRE.FindStringSubmatch(p); m != nil {
						b.marker, b.args = m[1], strings.Fields(m[2])
					}
					break
				}
			}
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("%s:%d: fenced block is not closed", docPath, b.line)
			}
			b.body = strings.Join(body, "\n") + "\n"
			d.blocks = append(d.blocks, b)
		case kind != "":
			if m := rowPathRE.FindStringSubmatch(l); m != nil {
				p := kind + "." + m[1]
				if old, dup := d.rows[p]; dup {
					t.Errorf("%s:%d: %s is documented twice (also line %d)", docPath, i+1, p, old.line)
				}
				d.rows[p] = docRow{line: i + 1, text: l}
			}
		}
	}
	return d
}

// schemaPath is a field of the schema by dotted path.
type schemaPath struct {
	path     string
	required bool
}

// schemaPaths walks the schema's field tree: struct fields by name, map
// entries of a slot definition as <slot>; free-form maps (options, extra)
// and lists of scalars end a path.
func schemaPaths() []schemaPath {
	var out []schemaPath
	var walk func(n *snode, prefix string, depth int)
	walk = func(n *snode, prefix string, depth int) {
		if n == nil || depth > 8 {
			return
		}
		for _, name := range n.order {
			f := n.fields[name]
			p := prefix + name
			out = append(out, schemaPath{path: p, required: f.required})
			c := f.node
			switch {
			case c.fields != nil:
				walk(c, p+".", depth+1)
			case c.pattern && c.elem != nil && c.elem.fields != nil:
				walk(c.elem, p+".<slot>.", depth+1)
			case c.list && c.elem != nil && c.elem.fields != nil:
				walk(c.elem, p+".<n>.", depth+1)
			}
		}
	}
	root := schemaShape().root
	for _, kind := range root.order {
		k := root.fields[kind].node
		if k.pattern && k.elem != nil {
			walk(k.elem, kind+".", 0)
		}
	}
	return out
}

func TestDocsDocumentEveryField(t *testing.T) {
	doc := readDoc(t)
	paths := schemaPaths()
	if len(paths) < 100 {
		t.Fatalf("walked only %d schema fields; the walk of the schema is broken", len(paths))
	}
	inSchema := map[string]bool{}
	for _, p := range paths {
		inSchema[p.path] = true
		row, ok := doc.rows[p.path]
		if !ok {
			kind, field, _ := strings.Cut(p.path, ".")
			t.Errorf("%s: schema field %s is not documented: add a row starting with | `%s` | to the ## `%s` section", docPath, p.path, field, kind)
			continue
		}
		if p.required && !strings.Contains(strings.ToLower(row.text), "required") {
			t.Errorf("%s:%d: %s is required by the schema, but its row does not say so", docPath, row.line, p.path)
		}
	}
	for p, row := range doc.rows {
		if !inSchema[p] {
			t.Errorf("%s:%d: documents %s, which the schema does not have", docPath, row.line, p)
		}
	}
}

// docGroups collects the files of each example group.
func docGroups(t *testing.T, doc *parsedDoc) (files map[string]map[string]string, wantErr map[string]bool) {
	t.Helper()
	files, wantErr = map[string]map[string]string{}, map[string]bool{}
	for _, b := range doc.blocks {
		if b.marker != "check" && b.marker != "check-error" {
			continue
		}
		if len(b.args) == 0 {
			t.Fatalf("%s:%d: %s names no GROUP/FILE", docPath, b.line, b.marker)
		}
		for _, a := range b.args {
			group, file, ok := strings.Cut(a, "/")
			if !ok || file == "" {
				t.Fatalf("%s:%d: %q: want GROUP/FILE", docPath, b.line, a)
			}
			if files[group] == nil {
				files[group] = map[string]string{}
			}
			if _, dup := files[group][file]; dup {
				t.Fatalf("%s:%d: %s is written twice", docPath, b.line, a)
			}
			files[group][file] = b.body
			if b.marker == "check-error" {
				wantErr[group] = true
			}
		}
	}
	return files, wantErr
}

func TestDocsExamplesLoad(t *testing.T) {
	doc := readDoc(t)
	groups, wantErr := docGroups(t, doc)
	if len(groups) == 0 {
		t.Fatal("the reference has no checked examples")
	}
	sets := map[string]*resource.Set{}
	errs := map[string]error{}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		dir, names := writeWorkspace(t, groups[g])
		set, err := Load(dir, names)
		switch {
		case wantErr[g] && err == nil:
			t.Errorf("example group %s loads, but the reference says it is rejected", g)
		case wantErr[g]:
			var se *Errors
			if !errors.As(err, &se) {
				t.Errorf("example group %s: want invalid definitions, got %v", g, err)
			}
			errs[g] = err
		case err != nil:
			t.Errorf("example group %s does not load:\n%v", g, err)
		default:
			sets[g] = set
		}
	}

	// CUE and YAML twins say the same.
	for g, set := range sets {
		rest, ok := strings.CutPrefix(g, "yaml-")
		if !ok {
			continue
		}
		twin, ok := sets["cue-"+rest]
		if !ok {
			if _, exists := groups["cue-"+rest]; !exists {
				t.Errorf("example group %s has no CUE twin cue-%s", g, rest)
			}
			continue
		}
		if d := cmp.Diff(twin, set, cmpopts.IgnoreFields(resource.Set{}, "Origins")); d != "" {
			t.Errorf("examples cue-%s and %s differ (-cue +yaml):\n%s", rest, g, d)
		}
	}

	seen := map[string]bool{}
	for _, b := range doc.blocks {
		switch b.marker {
		case "error":
			if len(b.args) != 1 {
				t.Fatalf("%s:%d: error wants one GROUP", docPath, b.line)
			}
			err, ok := errs[b.args[0]]
			if !ok {
				t.Errorf("%s:%d: no rejected example group %s", docPath, b.line, b.args[0])
				continue
			}
			for _, l := range strings.Split(strings.TrimSpace(b.body), "\n") {
				if !strings.Contains(err.Error(), strings.TrimSpace(l)) {
					t.Errorf("%s:%d: example group %s: the error does not say %q; it says:\n%v", docPath, b.line, b.args[0], l, err)
				}
			}
		case "pve":
			if len(b.args) != 2 {
				t.Fatalf("%s:%d: pve wants GROUP KIND.NAME", docPath, b.line)
			}
			seen[b.args[0]] = true
			checkCompiled(t, b, sets[b.args[0]])
		case "config":
			checkConfig(t, b)
		}
	}
	for _, kind := range []string{"vm", "container"} {
		if !seen["cue-"+kind] {
			t.Errorf("the reference shows no PVE config for example group cue-%s", kind)
		}
	}
}

// checkCompiled compares a `pve:` block with the compiled config.
func checkCompiled(t *testing.T, b docBlock, set *resource.Set) {
	t.Helper()
	if set == nil {
		t.Errorf("%s:%d: no loaded example group %s", docPath, b.line, b.args[0])
		return
	}
	kind, name, _ := strings.Cut(b.args[1], ".")
	var (
		got pve.Config
		err error
	)
	switch resource.Kind(kind) {
	case resource.KindVM:
		vm := set.VMs[name]
		if vm == nil {
			t.Errorf("%s:%d: example group %s defines no %s", docPath, b.line, b.args[0], b.args[1])
			return
		}
		got, err = pve.CompileVM(name, vm)
	case resource.KindContainer:
		ct := set.Containers[name]
		if ct == nil {
			t.Errorf("%s:%d: example group %s defines no %s", docPath, b.line, b.args[0], b.args[1])
			return
		}
		got, err = pve.CompileContainer(name, ct)
	default:
		t.Errorf("%s:%d: pve: %s is no guest", docPath, b.line, b.args[1])
		return
	}
	if err != nil {
		t.Errorf("%s:%d: compile %s: %v", docPath, b.line, b.args[1], err)
		return
	}
	want := pve.Config{}
	for _, l := range strings.Split(strings.TrimSpace(b.body), "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Errorf("%s:%d: %q: want key: value", docPath, b.line, l)
			continue
		}
		want[k] = v
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s:%d: %s compiles to another PVE config than the reference shows (-doc +compiled):\n%s", docPath, b.line, b.args[1], d)
	}
}

// checkConfig validates a pmpc.cue example against the workspace config
// schema (workspace/config.cue), as the workspace package does.
func checkConfig(t *testing.T, b docBlock) {
	t.Helper()
	src, err := os.ReadFile(path.Join("..", "workspace", "config.cue"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := cuecontext.New()
	def := ctx.CompileBytes(src).LookupPath(cue.ParsePath("#Config"))
	if err := def.Err(); err != nil {
		t.Fatal(err)
	}
	v := ctx.CompileBytes([]byte(b.body), cue.Filename("pmpc.cue"))
	u := def.Unify(v)
	if err := u.Validate(cue.Concrete(true), cue.Final()); err != nil {
		t.Errorf("%s:%d: the pmpc.cue example is not valid: %v", docPath, b.line, err)
	}
}
