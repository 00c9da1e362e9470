package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// schemaFile is `terraform providers schema -json` for bpg/proxmox
// ProviderVersion (MPL-2.0 provider; the schema is its published interface),
// kept beside the golden files so the check runs on a clean clone.
const schemaFile = "testdata/provider/bpg-proxmox-" + ProviderVersion + ".schema.json"

type tfSchema struct {
	ProviderSchemas map[string]struct {
		Provider        tfSchemaEntry            `json:"provider"`
		ResourceSchemas map[string]tfSchemaEntry `json:"resource_schemas"`
	} `json:"provider_schemas"`
}

type tfSchemaEntry struct {
	Block tfBlock `json:"block"`
}

type tfBlock struct {
	Attributes map[string]tfAttribute `json:"attributes"`
	BlockTypes map[string]tfBlockType `json:"block_types"`
}

type tfAttribute struct {
	Type     json.RawMessage `json:"type"`
	Required bool            `json:"required"`
	Optional bool            `json:"optional"`
	Computed bool            `json:"computed"`
}

type tfBlockType struct {
	NestingMode string  `json:"nesting_mode"`
	Block       tfBlock `json:"block"`
	MinItems    int     `json:"min_items"`
	MaxItems    int     `json:"max_items"`
}

func loadSchema(t *testing.T) (provider tfBlock, resources map[string]tfBlock) {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("provider schema: %v", err)
		}
		t.Skipf("provider schema not available: %v", err)
	}
	var s tfSchema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, p := range s.ProviderSchemas {
		resources = map[string]tfBlock{}
		for name, r := range p.ResourceSchemas {
			resources[name] = r.Block
		}
		return p.Provider.Block, resources
	}
	t.Fatal("schema has no provider")
	return
}

// metaBlocks and metaAttributes are Terraform's own, valid in any resource.
var metaBlocks = map[string]bool{"lifecycle": true, "provisioner": true, "connection": true}
var metaAttributes = map[string]bool{"depends_on": true, "count": true, "for_each": true, "provider": true}

// checkBody checks body against the schema block: every attribute and block
// exists, values convert to the attribute's type, required attributes and
// min_items blocks are present, max_items is respected, and computed-only
// attributes are not set. As Terraform itself does (blocktoattr), a
// list-of-object attribute of a legacy SDK provider may be written as
// repeated blocks.
func checkBody(path string, body *hclsyntax.Body, schema tfBlock, meta bool) []string {
	var errs []string
	for name, a := range body.Attributes {
		if meta && metaAttributes[name] {
			continue
		}
		sa, ok := schema.Attributes[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: no such attribute", path, name))
			continue
		}
		if sa.Computed && !sa.Optional && !sa.Required {
			errs = append(errs, fmt.Sprintf("%s.%s: computed-only attribute set", path, name))
		}
		var ty cty.Type
		if err := json.Unmarshal(sa.Type, &ty); err != nil {
			errs = append(errs, fmt.Sprintf("%s.%s: schema type: %v", path, name, err))
			continue
		}
		if len(a.Expr.Variables()) > 0 {
			continue // a reference: its type is the referenced attribute's
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			errs = append(errs, fmt.Sprintf("%s.%s: %s", path, name, diags.Error()))
			continue
		}
		if _, err := convert.Convert(v, ty); err != nil {
			errs = append(errs, fmt.Sprintf("%s.%s: value %#v does not fit %s: %v", path, name, v, ty.FriendlyName(), err))
		}
	}
	for name, sa := range schema.Attributes {
		if sa.Required {
			if _, ok := body.Attributes[name]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required attribute %s missing", path, name))
			}
		}
	}
	counts := map[string]int{}
	for _, b := range body.Blocks {
		if meta && metaBlocks[b.Type] {
			continue
		}
		counts[b.Type]++
		bp := fmt.Sprintf("%s.%s[%d]", path, b.Type, counts[b.Type]-1)
		if len(b.Labels) > 0 {
			errs = append(errs, fmt.Sprintf("%s: nested block with labels", bp))
		}
		if bt, ok := schema.BlockTypes[b.Type]; ok {
			errs = append(errs, checkBody(bp, b.Body, bt.Block, false)...)
			continue
		}
		if sa, ok := schema.Attributes[b.Type]; ok {
			if inner, ok := objectListAttr(sa); ok {
				errs = append(errs, checkBody(bp, b.Body, inner, false)...)
				continue
			}
			errs = append(errs, fmt.Sprintf("%s: %s is an attribute, written as a block", bp, b.Type))
			continue
		}
		errs = append(errs, fmt.Sprintf("%s: no such block", bp))
	}
	for name, bt := range schema.BlockTypes {
		n := counts[name]
		if bt.MaxItems > 0 && n > bt.MaxItems {
			errs = append(errs, fmt.Sprintf("%s: %d %s blocks, at most %d allowed", path, n, name, bt.MaxItems))
		}
		if n < bt.MinItems {
			errs = append(errs, fmt.Sprintf("%s: %d %s blocks, at least %d required", path, n, name, bt.MinItems))
		}
		if bt.NestingMode == "single" && n > 1 {
			errs = append(errs, fmt.Sprintf("%s: %s is a single block", path, name))
		}
	}
	sort.Strings(errs)
	return errs
}

// objectListAttr returns, for a list-of-object attribute, its element type
// as a block schema of optional attributes.
func objectListAttr(sa tfAttribute) (tfBlock, bool) {
	var ty cty.Type
	if err := json.Unmarshal(sa.Type, &ty); err != nil {
		return tfBlock{}, false
	}
	if !(ty.IsListType() || ty.IsSetType()) || !ty.ElementType().IsObjectType() {
		return tfBlock{}, false
	}
	b := tfBlock{Attributes: map[string]tfAttribute{}}
	for name, at := range ty.ElementType().AttributeTypes() {
		raw, _ := json.Marshal(at)
		b.Attributes[name] = tfAttribute{Type: raw, Optional: true}
	}
	return b, true
}

// TestProviderSchema checks every rendered resource and the provider block
// against the provider's own schema.
func TestProviderSchema(t *testing.T) {
	provider, resources := loadSchema(t)
	for _, c := range cases {
		files := renderCase(t, c.set, c.cluster)
		checked := 0
		for _, f := range files {
			file, diags := hclsyntax.ParseConfig(f.Data, f.Name, hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for _, b := range file.Body.(*hclsyntax.Body).Blocks {
				switch b.Type {
				case "resource":
					schema, ok := resources[b.Labels[0]]
					if !ok {
						t.Errorf("%s: unknown resource type %s", c.name, b.Labels[0])
						continue
					}
					for _, e := range checkBody(b.Labels[0]+"."+b.Labels[1], b.Body, schema, true) {
						t.Errorf("%s: %s", c.name, e)
					}
					checked++
				case "provider":
					for _, e := range checkBody("provider.proxmox", b.Body, provider, false) {
						t.Errorf("%s: %s", c.name, e)
					}
				}
			}
		}
		if checked == 0 {
			t.Errorf("%s: no resource checked", c.name)
		}
	}
}

// TestSchemaCheckCatches makes sure the checker itself fails on the
// mistakes it exists to catch.
func TestSchemaCheckCatches(t *testing.T) {
	_, resources := loadSchema(t)
	src := `resource "proxmox_virtual_environment_vm" "x" {
  vm_id = "not a number"
  no_such = 1
  ipv4_addresses = []
  cpu { cores = 1 }
  cpu { cores = 2 }
  disk { size = 1 }
  node_name { }
}`
	file, diags := hclsyntax.ParseConfig([]byte(src), "x.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	b := file.Body.(*hclsyntax.Body).Blocks[0]
	errs := checkBody("vm.x", b.Body, resources["proxmox_virtual_environment_vm"], true)
	want := []string{
		"vm.x.vm_id: value",                     // type
		"vm.x.no_such: no such attribute",       // name
		"vm.x.ipv4_addresses: computed-only",    // computed
		"vm.x: 2 cpu blocks, at most 1 allowed", // max_items
		"required attribute interface missing",  // required in a block
		"required attribute node_name missing",  // required at the top
		"node_name is an attribute, written as a block",
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			if strings.Contains(e, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("checker missed %q; got:\n%v", w, errs)
		}
	}
}
