package render

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
)

// File is one rendered file: a name relative to the output directory and its
// contents.
type File struct {
	Name string
	Data []byte
}

// VMName is the name PVE knows a desired VM by: its Name, else its key.
func VMName(key string, vm *resource.VM) string {
	if vm.Name != "" {
		return vm.Name
	}
	return key
}

// ContainerHostname is the hostname of a desired container: its Hostname,
// else its key.
func ContainerHostname(key string, ct *resource.Container) string {
	if ct.Hostname != "" {
		return ct.Hostname
	}
	return key
}

// Live finds, for each guest of a set, the live guest it describes: the guest
// of the same kind with the pinned vmid, or else the one guest of that kind
// whose name (hostname for containers) matches. When several guests share
// the name, the one carrying resource.ManagedTag wins; when that still leaves
// more than one, the definition matches none of them.
type Live struct {
	byVMID map[resource.Kind]map[int]*resource.Guest
	byName map[resource.Kind]map[string][]*resource.Guest
	pools  map[string]bool
}

// NewLive indexes c. A nil cluster matches nothing.
func NewLive(c *resource.Cluster) *Live {
	l := &Live{
		byVMID: map[resource.Kind]map[int]*resource.Guest{},
		byName: map[resource.Kind]map[string][]*resource.Guest{},
		pools:  map[string]bool{},
	}
	if c == nil {
		return l
	}
	for i := range c.Guests {
		g := &c.Guests[i]
		if l.byVMID[g.Kind] == nil {
			l.byVMID[g.Kind] = map[int]*resource.Guest{}
			l.byName[g.Kind] = map[string][]*resource.Guest{}
		}
		l.byVMID[g.Kind][g.VMID] = g
		name := GuestName(g)
		l.byName[g.Kind][name] = append(l.byName[g.Kind][name], g)
	}
	for _, p := range c.Pools {
		l.pools[p.ID] = true
	}
	return l
}

// GuestName is the name of a live guest: its name, or for containers its
// hostname when the resource list carries no name.
func GuestName(g *resource.Guest) string {
	if g.Name != "" {
		return g.Name
	}
	if g.Kind == resource.KindContainer {
		return g.Config["hostname"]
	}
	return g.Config["name"]
}

// Guest returns the live guest of kind with vmid (when non-zero) or name.
func (l *Live) Guest(kind resource.Kind, vmid int, name string) *resource.Guest {
	if vmid != 0 {
		return l.byVMID[kind][vmid]
	}
	cands := l.byName[kind][name]
	if len(cands) == 1 {
		return cands[0]
	}
	var owned []*resource.Guest
	for _, g := range cands {
		if HasTag(g.Tags, resource.ManagedTag) {
			owned = append(owned, g)
		}
	}
	if len(owned) == 1 {
		return owned[0]
	}
	return nil
}

// VM returns the live guest a desired VM describes, or nil.
func (l *Live) VM(key string, vm *resource.VM) *resource.Guest {
	return l.Guest(resource.KindVM, vm.VMID, VMName(key, vm))
}

// Container returns the live guest a desired container describes, or nil.
func (l *Live) Container(key string, ct *resource.Container) *resource.Guest {
	return l.Guest(resource.KindContainer, ct.VMID, ContainerHostname(key, ct))
}

// Pool reports whether the cluster has a pool with id.
func (l *Live) Pool(id string) bool { return l.pools[id] }

// HasTag reports whether PVE's tag list s ("a;b", also "," or " "
// separated) holds tag, ignoring case.
func HasTag(s, tag string) bool {
	for _, t := range SplitTags(s) {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// SplitTags splits PVE's tag list on ';', ',' and spaces.
func SplitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
}

// Tags returns the tags a guest carries in PVE: the definition's tags,
// plus resource.ManagedTag when managed (pmpc tags every guest it manages),
// lowercased, de-duplicated and sorted, as PVE normalises them.
func Tags(tags []string, managed bool) []string {
	seen := map[string]bool{}
	var out []string
	all := append([]string{}, tags...)
	if managed {
		all = append(all, resource.ManagedTag)
	}
	for _, t := range all {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Slots returns the keys of m that are prefix+N, ordered by N, and the
// largest N (-1 when there is none). Keys of another shape are left out.
func Slots[T any](m map[string]T, prefix string) (keys []string, max int) {
	type slot struct {
		key string
		n   int
	}
	var s []slot
	max = -1
	for k := range m {
		n, ok := SlotIndex(k, prefix)
		if !ok {
			continue
		}
		s = append(s, slot{k, n})
		if n > max {
			max = n
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i].n < s[j].n })
	for _, x := range s {
		keys = append(keys, x.key)
	}
	return keys, max
}

// SlotIndex parses key as prefix followed by a decimal index.
func SlotIndex(key, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// SplitProps splits a PVE property string ("a=1,b=2,c") into its parts; a
// part without '=' is returned under the key "". It does no validation.
func SplitProps(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			out[""] = k
			continue
		}
		out[k] = v
	}
	return out
}

// ParseSize parses PVE's disk-size format ("32G", "512M", "1024") into
// bytes with resource/pve's codec.
func ParseSize(s string) (int64, bool) {
	n, err := pve.ParseSize(s)
	return n, err == nil
}

// VMOrder lists the set's VM keys by name, except that templates come
// first, so that a clone follows the template it is made from in rendered
// files (and in the order tools create them).
func VMOrder(set *resource.Set) []string {
	var tmpl, rest []string
	for _, name := range slices.Sorted(maps.Keys(set.VMs)) {
		if vm := set.VMs[name]; vm.Template != nil && *vm.Template {
			tmpl = append(tmpl, name)
		} else {
			rest = append(rest, name)
		}
	}
	return append(tmpl, rest...)
}
