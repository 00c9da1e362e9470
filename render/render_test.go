package render

import (
	"slices"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

func TestFromLiveNames(t *testing.T) {
	c := &resource.Cluster{
		Guests: []resource.Guest{
			{Kind: resource.KindVM, VMID: 100, Node: "pve1", Name: "web", Tags: "pmpc", Config: map[string]string{"name": "web", "tags": "pmpc;a"}},
			{Kind: resource.KindVM, VMID: 101, Node: "pve1", Name: "web", Config: map[string]string{"name": "web"}},
			{Kind: resource.KindVM, VMID: 102, Node: "pve1", Config: map[string]string{}},
			{Kind: resource.KindContainer, VMID: 200, Node: "pve1", Config: map[string]string{"hostname": "web"}},
		},
		Pools: []resource.ObservedPool{{ID: "prod", Comment: "p"}},
	}
	set := FromLive(c)
	for _, k := range []string{"web-100", "web-101", "vm-102"} {
		if set.VMs[k] == nil {
			t.Errorf("no vm %q in %v", k, keysOf(set.VMs))
		}
	}
	if set.VMs["web-100"].Name != "web" {
		t.Errorf("web-100 name = %q, want web", set.VMs["web-100"].Name)
	}
	if !slices.Contains(set.VMs["web-100"].Tags, resource.ManagedTag) || slices.Contains(set.VMs["web-101"].Tags, resource.ManagedTag) {
		t.Errorf("managed tag: %v / %v", set.VMs["web-100"].Tags, set.VMs["web-101"].Tags)
	}
	if set.Containers["web"] == nil || set.Pools["prod"] == nil || *set.Pools["prod"].Comment != "p" {
		t.Errorf("containers %v pools %v", keysOf(set.Containers), set.Pools)
	}
}

func keysOf[T any](m map[string]T) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestTagsAndSlots(t *testing.T) {
	if got := Tags([]string{"Web", "db", "web"}, true); !slices.Equal(got, []string{"db", "pmpc", "web"}) {
		t.Errorf("Tags = %v", got)
	}
	if got := Tags(nil, false); len(got) != 0 {
		t.Errorf("Tags(nil, false) = %v", got)
	}
	keys, max := Slots(map[string]int{"net10": 0, "net2": 0, "net02": 0, "netx": 0, "scsi0": 0}, "net")
	if !slices.Equal(keys, []string{"net2", "net10"}) || max != 10 {
		t.Errorf("Slots = %v %d", keys, max)
	}
}

func TestLiveMatch(t *testing.T) {
	c := &resource.Cluster{Guests: []resource.Guest{
		{Kind: resource.KindVM, VMID: 1, Name: "a", Tags: "pmpc"},
		{Kind: resource.KindVM, VMID: 2, Name: "a"},
		{Kind: resource.KindVM, VMID: 3, Name: "b"},
		{Kind: resource.KindVM, VMID: 4, Name: "b"},
	}}
	l := NewLive(c)
	if g := l.VM("a", &resource.VM{}); g == nil || g.VMID != 1 {
		t.Errorf("a matched %v, want the pmpc-tagged vmid 1", g)
	}
	if g := l.VM("b", &resource.VM{}); g != nil {
		t.Errorf("ambiguous b matched vmid %d", g.VMID)
	}
	if g := l.VM("x", &resource.VM{VMID: 4}); g == nil || g.VMID != 4 {
		t.Errorf("pinned vmid 4 matched %v", g)
	}
}
