package terraform

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/pmpc-dev/pmpc/render"
	"github.com/pmpc-dev/pmpc/resource"
)

// cases are the fixtures rendered by the golden, parse and schema tests.
var cases = []struct {
	name, set, cluster string
}{
	{"homelab", "homelab.set.json", "homelab.cluster.json"},
	{"edge", "edge.set.json", ""},
	// live renders the cluster itself, as `pmpc render --from live` does.
	{"live", "", "homelab.cluster.json"},
}

func renderCase(t *testing.T, setFile, clusterFile string) []render.File {
	t.Helper()
	var opts Options
	var err error
	if clusterFile != "" {
		if opts.Cluster, err = render.LoadClusterJSON(filepath.Join("..", "testdata", clusterFile)); err != nil {
			t.Fatal(err)
		}
	}
	var set *resource.Set
	if setFile == "" {
		set, opts.ExactTags = render.FromLive(opts.Cluster), true
	} else if set, err = render.LoadSetJSON(filepath.Join("..", "testdata", setFile)); err != nil {
		t.Fatal(err)
	}
	files, err := Render(set, opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return files
}

// TestGolden compares the rendered files with testdata/<case>/; PMPC_UPDATE=1
// rewrites them.
func TestGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := renderCase(t, c.set, c.cluster)
			dir := filepath.Join("testdata", c.name)
			if os.Getenv("PMPC_UPDATE") != "" {
				os.RemoveAll(dir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			want, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
			if len(want) != len(files) {
				t.Errorf("rendered %d files, golden has %d", len(files), len(want))
			}
			for _, f := range files {
				golden, err := os.ReadFile(filepath.Join(dir, f.Name))
				if err != nil {
					t.Errorf("%v (PMPC_UPDATE=1 writes it)", err)
					continue
				}
				if !bytes.Equal(golden, f.Data) {
					t.Errorf("%s differs from golden (PMPC_UPDATE=1 rewrites):\n%s", f.Name, f.Data)
				}
			}
		})
	}
}

// TestParsesAndFormatted checks that every file parses and that
// hclwrite.Format leaves it unchanged, and that rendering twice gives the
// same bytes.
func TestParsesAndFormatted(t *testing.T) {
	for _, c := range cases {
		files := renderCase(t, c.set, c.cluster)
		again := renderCase(t, c.set, c.cluster)
		for i, f := range files {
			if _, diags := hclsyntax.ParseConfig(f.Data, f.Name, hcl.InitialPos); diags.HasErrors() {
				t.Errorf("%s/%s: %s", c.name, f.Name, diags.Error())
			}
			if got := hclwrite.Format(f.Data); !bytes.Equal(got, f.Data) {
				t.Errorf("%s/%s: not hclwrite.Format-clean", c.name, f.Name)
			}
			if !bytes.Equal(f.Data, again[i].Data) {
				t.Errorf("%s/%s: not deterministic", c.name, f.Name)
			}
		}
	}
}

// resourceBody finds resource TYPE NAME in the rendered main.tf.
func resourceBody(t *testing.T, files []render.File, typ, name string) *hclsyntax.Body {
	t.Helper()
	for _, f := range files {
		file, diags := hclsyntax.ParseConfig(f.Data, f.Name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if b.Type == "resource" && b.Labels[0] == typ && b.Labels[1] == name {
				return b.Body
			}
		}
	}
	t.Fatalf("no resource %s.%s", typ, name)
	return nil
}

func stringAttr(t *testing.T, body *hclsyntax.Body, name string) string {
	t.Helper()
	a, ok := body.Attributes[name]
	if !ok {
		t.Fatalf("no attribute %s", name)
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return v.AsString()
}

// TestEscaping reads strings back through HCL's own evaluator: quotes,
// template sequences and newlines survive verbatim and nothing is
// interpolated.
func TestEscaping(t *testing.T) {
	set, err := render.LoadSetJSON("../testdata/edge.set.json")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vm := resourceBody(t, files, TypeVM, "web_01_2")
	if got, want := stringAttr(t, vm, "description"), *set.VMs["Web.01"].Description; got != want {
		t.Errorf("description = %q, want %q", got, want)
	}
	if got := stringAttr(t, vm, "name"); got != "Web.01" {
		t.Errorf("name = %q", got)
	}
	pool := resourceBody(t, files, TypePool, "team_ops")
	if got, want := stringAttr(t, pool, "comment"), *set.Pools["Team.Ops"].Comment; got != want {
		t.Errorf("comment = %q, want %q", got, want)
	}
	// A raw value with a newline stays inside its comment line.
	main := string(files[1].Data)
	if strings.Contains(main, "\n# injected") {
		t.Errorf("extra value broke out of its comment:\n%s", main)
	}
}

// TestSecretsNeverInline checks that passwords become sensitive variables
// and that no token or password value is written.
func TestSecretsNeverInline(t *testing.T) {
	files := renderCase(t, "homelab.set.json", "homelab.cluster.json")
	all := ""
	for _, f := range files {
		all += string(f.Data)
	}
	for _, bad := range []string{"api_token", "env:WEB_PASSWORD", "**********"} {
		if strings.Contains(all, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	vm := resourceBody(t, files, TypeVM, "web_01")
	init := vm.Blocks[indexOfBlock(vm, "initialization")].Body
	ua := init.Blocks[indexOfBlock(init, "user_account")].Body
	trav, diags := hcl.AbsTraversalForExpr(ua.Attributes["password"].Expr)
	if diags.HasErrors() || trav.RootName() != "var" {
		t.Fatalf("password is not a variable reference")
	}
	if !strings.Contains(string(files[0].Data), `variable "web_01_cloudinit_password"`) ||
		!strings.Contains(string(files[0].Data), "sensitive   = true") {
		t.Errorf("providers.tf lacks the sensitive password variable:\n%s", files[0].Data)
	}
}

func indexOfBlock(b *hclsyntax.Body, typ string) int {
	for i, blk := range b.Blocks {
		if blk.Type == typ {
			return i
		}
	}
	return -1
}

// TestImports checks the import blocks: every existing guest and pool, with
// the provider's import id formats, and nothing for guests that do not exist.
func TestImports(t *testing.T) {
	files := renderCase(t, "homelab.set.json", "homelab.cluster.json")
	var imports []render.File
	for _, f := range files {
		if f.Name == FileImports {
			imports = append(imports, f)
		}
	}
	if len(imports) != 1 {
		t.Fatalf("no %s", FileImports)
	}
	file, diags := hclsyntax.ParseConfig(imports[0].Data, FileImports, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := map[string]string{}
	for _, b := range file.Body.(*hclsyntax.Body).Blocks {
		to, diags := hcl.AbsTraversalForExpr(b.Body.Attributes["to"].Expr)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		id, _ := b.Body.Attributes["id"].Expr.Value(nil)
		got[to.RootName()+"."+to[1].(hcl.TraverseAttr).Name] = id.AsString()
	}
	want := map[string]string{
		TypePool + ".prod":        "prod",
		TypeVM + ".debian_tmpl":   "pve1/9000",
		TypeVM + ".web_01":        "pve1/101",
		TypeContainer + ".pihole": "pve1/300",
	}
	if len(got) != len(want) {
		t.Errorf("imports = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("import %s id = %q, want %q", k, got[k], v)
		}
	}
}

func TestAssignNames(t *testing.T) {
	got := assignNames("vm_", []string{"web-01", "Web.01", "web_01", "1st", "web_01_2", "ÄÖ", ""})
	want := map[string]string{
		"web_01":   "web_01",   // already an identifier: keeps it
		"web_01_2": "web_01_2", // likewise
		"1st":      "vm_1st",
		"Web.01":   "web_01_3", // byte order: "Web.01" < "web-01"
		"web-01":   "web_01_4",
		"ÄÖ":       "vm___",
		"":         "vm_",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("assignNames[%q] = %q, want %q", k, got[k], v)
		}
	}
	// Stable under reordering of the input.
	again := assignNames("vm_", []string{"", "ÄÖ", "web_01_2", "1st", "web_01", "Web.01", "web-01"})
	for k := range want {
		if got[k] != again[k] {
			t.Errorf("%q: %q then %q", k, got[k], again[k])
		}
	}
}

func TestCloneSourceMissing(t *testing.T) {
	set := resource.NewSet()
	set.VMs["a"] = &resource.VM{Node: "pve1", Clone: &resource.Clone{From: "nowhere"}}
	if _, err := Render(set, Options{}); err == nil || !strings.Contains(err.Error(), "vm.a") {
		t.Errorf("err = %v, want an error naming vm.a", err)
	}
}
