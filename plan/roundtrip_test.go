package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
)

// TestImportThenPlanShowsNoChanges: importing any guest and planning shows
// no changes (round trip is law), over the codec's corpus of guests in PVE's
// own shapes.
func TestImportThenPlanShowsNoChanges(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "resource", "pve", "testdata", "guests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var guests []resource.Guest
	if err := json.Unmarshal(b, &guests); err != nil {
		t.Fatal(err)
	}
	observed := &resource.Cluster{}
	desired := resource.NewSet()
	pools := map[string]bool{}
	for i, g := range guests {
		if g.Digest == "" {
			g.Digest = "d" + itoa(g.VMID)
		}
		observed.Guests = append(observed.Guests, g)
		key := guestName(&g)
		if g.Config["name"] == "" && g.Config["hostname"] == "" {
			// PVE holds it without a name: the spec leaves its name unset.
			key = "unnamed-" + itoa(i)
		}
		switch g.Kind {
		case resource.KindVM:
			vm := pve.ImportVM(&g)
			vm.VMID, vm.Node = g.VMID, g.Node
			desired.VMs[key] = vm
		case resource.KindContainer:
			ct := pve.ImportContainer(&g)
			ct.VMID, ct.Node = g.VMID, g.Node
			desired.Containers[key] = ct
		}
		if g.Pool != "" && !pools[g.Pool] {
			pools[g.Pool] = true
			observed.Pools = append(observed.Pools, resource.ObservedPool{ID: g.Pool})
		}
	}
	if len(guests) < 3 {
		t.Fatalf("corpus too small: %d guests", len(guests))
	}
	p, err := Make(desired, observed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 || len(p.Errors) != 0 {
		var out []byte
		out, _ = json.MarshalIndent(p, "", "  ")
		t.Errorf("import then plan must show no changes, got:\n%s", out)
	}
}
