package render

import (
	"strconv"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
)

// FromLive turns an observed cluster into definitions, with resource/pve's
// import, so the renderers can render the cluster as it is. Guests are
// keyed by name; a name used by more than one guest of a kind, or no name,
// gets "-VMID" appended (vm-VMID when empty). Every guest keeps the tags PVE
// reports, resource.ManagedTag included when present: render the result
// with exact tags.
func FromLive(c *resource.Cluster) *resource.Set {
	set := resource.NewSet()
	if c == nil {
		return set
	}
	count := map[resource.Kind]map[string]int{resource.KindVM: {}, resource.KindContainer: {}}
	for i := range c.Guests {
		g := &c.Guests[i]
		count[g.Kind][GuestName(g)]++
	}
	for i := range c.Guests {
		g := &c.Guests[i]
		name := GuestName(g)
		if name == "" {
			name = string(g.Kind) + "-" + strconv.Itoa(g.VMID)
		} else if count[g.Kind][name] > 1 {
			name += "-" + strconv.Itoa(g.VMID)
		}
		managed := HasTag(g.Tags, resource.ManagedTag) || HasTag(g.Config["tags"], resource.ManagedTag)
		switch g.Kind {
		case resource.KindVM:
			vm := pve.ImportVM(g)
			if vm.Name == "" && GuestName(g) != name {
				vm.Name = GuestName(g)
			}
			if managed {
				vm.Tags = append(vm.Tags, resource.ManagedTag)
			}
			set.VMs[name] = vm
		case resource.KindContainer:
			ct := pve.ImportContainer(g)
			if ct.Hostname == "" && GuestName(g) != name {
				ct.Hostname = GuestName(g)
			}
			if managed {
				ct.Tags = append(ct.Tags, resource.ManagedTag)
			}
			set.Containers[name] = ct
		}
	}
	for _, p := range c.Pools {
		pool := &resource.Pool{}
		if p.Comment != "" {
			comment := p.Comment
			pool.Comment = &comment
		}
		set.Pools[p.ID] = pool
	}
	return set
}
