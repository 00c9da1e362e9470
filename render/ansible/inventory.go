package ansible

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pmpc-dev/pmpc/render"
	"github.com/pmpc-dev/pmpc/resource"
)

// GroupName sanitises a tag, pool or node name for a group: lowercase
// letters, digits and '_' after the prefix ("tag_", "pool_", "node_").
func GroupName(prefix, name string) string {
	return ident(prefix, name)
}

// hostAddress is the address Ansible reaches a guest at: the first static
// IPv4 of its cloud-init (VM) or network (container) config, else the first
// static IPv6, without the prefix length.
func hostAddress(v4, v6 []string) string {
	for _, list := range [][]string{v4, v6} {
		for _, ip := range list {
			if ip == "" || ip == "dhcp" || ip == "auto" || ip == "manual" {
				continue
			}
			addr, _, _ := strings.Cut(ip, "/")
			return addr
		}
	}
	return ""
}

type host struct {
	name, address, node string
	vmid                int
	kind                resource.Kind
	groups              []string
}

func (r *renderer) hosts() []host {
	var hosts []host
	for _, name := range slices.Sorted(maps.Keys(r.set.VMs)) {
		vm := r.set.VMs[name]
		if vm.Template != nil && *vm.Template {
			continue // templates never run
		}
		h := host{name: render.VMName(name, vm), node: vm.Node, vmid: r.vmID(name, vm), kind: resource.KindVM}
		if ci := vm.CloudInit; ci != nil {
			var v4, v6 []string
			slots, _ := render.Slots(ci.IPConfig, "ipconfig")
			for _, s := range slots {
				v4 = append(v4, ci.IPConfig[s].IP)
				v6 = append(v6, ci.IPConfig[s].IP6)
			}
			h.address = hostAddress(v4, v6)
		}
		h.groups = groups(vm.Tags, vm.Pool, vm.Node, "vms")
		hosts = append(hosts, h)
	}
	for _, name := range slices.Sorted(maps.Keys(r.set.Containers)) {
		ct := r.set.Containers[name]
		if ct.Template != nil && *ct.Template {
			continue
		}
		h := host{name: render.ContainerHostname(name, ct), node: ct.Node, vmid: r.ctID(name, ct), kind: resource.KindContainer}
		var v4, v6 []string
		slots, _ := render.Slots(ct.Networks, "net")
		for _, s := range slots {
			v4 = append(v4, ct.Networks[s].IP)
			v6 = append(v6, ct.Networks[s].IP6)
		}
		h.address = hostAddress(v4, v6)
		h.groups = groups(ct.Tags, ct.Pool, ct.Node, "containers")
		hosts = append(hosts, h)
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].name < hosts[j].name })
	return hosts
}

func groups(tags []string, pool, node, kind string) []string {
	gs := []string{kind, GroupName("node_", node)}
	if pool != "" {
		gs = append(gs, GroupName("pool_", pool))
	}
	for _, t := range tags {
		gs = append(gs, GroupName("tag_", t))
	}
	return gs
}

// inventory is the static YAML inventory: every guest under all.hosts with
// ansible_host, vmid and proxmox_node, and groups by kind, tag, pool and
// node under all.children.
func (r *renderer) inventory() *yaml.Node {
	hosts := r.hosts()
	all := newMap()
	hm := newMap()
	members := map[string]map[string]bool{}
	for _, h := range hosts {
		vars := newMap()
		if h.address != "" {
			vars.str("ansible_host", h.address)
		}
		if h.vmid != 0 {
			vars.int("vmid", h.vmid)
		}
		vars.str("proxmox_node", h.node)
		vars.str("proxmox_type", h.kind.PVEType())
		hm.sub(h.name, vars)
		for _, g := range h.groups {
			if members[g] == nil {
				members[g] = map[string]bool{}
			}
			members[g][h.name] = true
		}
	}
	if hm.len() > 0 {
		all.sub("hosts", hm)
	}
	children := newMap()
	for _, g := range slices.Sorted(maps.Keys(members)) {
		gh := newMap()
		for _, h := range slices.Sorted(maps.Keys(members[g])) {
			gh.node(h, nullNode())
		}
		children.sub(g, newMap().sub("hosts", gh))
	}
	if children.len() > 0 {
		all.sub("children", children)
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{newMap().sub("all", all).n}}
}
