package plan

import (
	"slices"
	"sort"

	"github.com/pmpc-dev/pmpc/resource"
)

// order sorts the plan's changes into the order apply runs them:
//  1. pools created or updated;
//  2. guests created, updated, replaced, started or stopped — templates
//     before their clones (clone depth), then by address;
//  3. guests deleted, in reverse address order, templates last (their
//     linked clones go first);
//  4. pools deleted, in reverse address order.
//
// Ties are broken by address, so the same inputs always give the same plan.
func (b *builder) order() {
	depth := map[resource.Address]int{}
	for _, d := range b.defs {
		depth[d.addr] = d.depth
	}
	template := map[resource.Address]bool{}
	for _, c := range b.plan.Changes {
		if c.Action == ActionDelete && c.VMID != 0 {
			if g := b.byVMID[c.VMID]; g != nil && (g.Template || truthy(g.Config["template"])) {
				template[c.Address] = true
			}
		}
	}
	phase := func(c *Change) int {
		pool := c.Address.Kind == resource.KindPool
		switch {
		case pool && c.Action != ActionDelete:
			return 0
		case !pool && c.Action != ActionDelete:
			return 1
		case !pool:
			return 2
		}
		return 3
	}
	cs := b.plan.Changes
	// A clone waits for any change to its source template in this plan.
	at := map[resource.Address]int{}
	for i := range cs {
		at[cs[i].Address] = i
	}
	for _, d := range b.defs {
		if d.clone == nil {
			continue
		}
		src := b.defByVM[d.clone.From]
		i, has := at[d.addr]
		if src == nil || !has {
			continue
		}
		if _, changed := at[src.addr]; changed && !slices.Contains(cs[i].DependsOn, src.addr) {
			cs[i].DependsOn = append(cs[i].DependsOn, src.addr)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		a, c := &cs[i], &cs[j]
		pa, pc := phase(a), phase(c)
		if pa != pc {
			return pa < pc
		}
		switch pa {
		case 1:
			if depth[a.Address] != depth[c.Address] {
				return depth[a.Address] < depth[c.Address]
			}
		case 2:
			if template[a.Address] != template[c.Address] {
				return !template[a.Address]
			}
			return c.Address.Less(a.Address)
		case 3:
			return c.Address.Less(a.Address)
		}
		return a.Address.Less(c.Address)
	})
	for i := range cs {
		sort.Slice(cs[i].DependsOn, func(x, y int) bool { return cs[i].DependsOn[x].Less(cs[i].DependsOn[y]) })
	}
	sort.Slice(b.plan.Unmanaged, func(i, j int) bool {
		a, c := b.plan.Unmanaged[i], b.plan.Unmanaged[j]
		if a.Kind != c.Kind {
			return a.Kind < c.Kind
		}
		if a.VMID != c.VMID {
			return a.VMID < c.VMID
		}
		return a.Name < c.Name
	})
}
