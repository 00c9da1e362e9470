package pve

import (
	"github.com/pmpc-dev/pmpc/resource"
)

// guestFields points at the spec fields a VM and a container share, which
// PVE keeps under the same keys for both (description, tags, template,
// protection, onboot, startup). Everything else differs between qemu and
// lxc and stays in compileVM/compileContainer and importVMKey/importCTKey.
type guestFields struct {
	description                  **string
	tags                         *[]string
	template, protection, onboot **bool
	startup                      *string
}

func vmFields(vm *resource.VM) guestFields {
	return guestFields{&vm.Description, &vm.Tags, &vm.Template, &vm.Protection, &vm.OnBoot, &vm.Startup}
}

func ctFields(ct *resource.Container) guestFields {
	return guestFields{&ct.Description, &ct.Tags, &ct.Template, &ct.Protection, &ct.OnBoot, &ct.Startup}
}

// guest puts the shared keys; tags always carry the ownership tag.
func (c *compiler) guest(g guestFields) {
	if d := *g.description; d != nil {
		c.put("description", *d)
	}
	c.put("tags", tags(*g.tags))
	c.bool("template", *g.template)
	c.bool("protection", *g.protection)
	c.bool("onboot", *g.onboot)
	c.put("startup", *g.startup)
}

// importGuestKey sets the shared field for key k from v and reports whether
// it did; false also for a key that is not one of them.
func importGuestKey(g guestFields, k, v string) bool {
	var ok bool
	switch k {
	case "description":
		*g.description, ok = &v, true
	case "tags":
		*g.tags, ok = importTags(v), true
	case "template":
		*g.template, ok = boolPtr(v)
	case "protection":
		*g.protection, ok = boolPtr(v)
	case "onboot":
		*g.onboot, ok = boolPtr(v)
	case "startup":
		if _, err := ParseProps(Startup, v); err == nil {
			*g.startup, ok = v, true
		}
	}
	return ok
}

// importConfig passes each of g's config keys that kind does not ignore to
// set, and returns the keys set did not take (nil if none), for Extra.
func importConfig(g *resource.Guest, kind resource.Kind, set func(k, v string) bool) map[string]string {
	var extra map[string]string
	for _, k := range sortedKeys(g.Config) {
		v := g.Config[k]
		if v == "" || ignored(kind, k) {
			continue
		}
		if !set(k, v) {
			setKey(&extra, k, v)
		}
	}
	return extra
}
