package pve

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

func guestState(g *resource.Guest) string {
	if g.Template {
		return ""
	}
	switch g.Status {
	case "running", "stopped":
		return g.Status
	}
	return ""
}

func importTags(v string) []string {
	t := slices.DeleteFunc(ParseTags(v), func(s string) bool { return s == resource.ManagedTag })
	if len(t) == 0 {
		return nil
	}
	return t
}

func boolPtr(v string) (*bool, bool) {
	b, ok := ParseBool(v)
	if !ok {
		return nil, false
	}
	return &b, true
}

func intPtr(v string) (*int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, false
	}
	return &n, true
}

func importVM(g *resource.Guest) *resource.VM {
	if g == nil {
		return &resource.VM{}
	}
	vm := &resource.VM{Node: g.Node, VMID: g.VMID, Pool: g.Pool, State: guestState(g)}
	ci := &resource.CloudInit{}
	extra := map[string]string{}
	for _, k := range sortedKeys(g.Config) {
		v := g.Config[k]
		if v == "" || ignored(resource.KindVM, k) {
			continue
		}
		if !importVMKey(vm, ci, g.VMID, k, v) {
			extra[k] = v
		}
	}
	if !isZeroCloudInit(ci) {
		vm.CloudInit = ci
	}
	if len(extra) > 0 {
		vm.Extra = extra
	}
	return vm
}

func isZeroCloudInit(ci *resource.CloudInit) bool {
	return ci.Drive == "" && ci.User == "" && len(ci.SSHKeys) == 0 && len(ci.IPConfig) == 0 &&
		ci.Nameserver == "" && ci.Searchdomain == "" && ci.Type == "" && ci.Custom == "" && ci.Upgrade == nil
}

// importVMKey sets the field for key k from v and reports whether it did;
// a key it cannot model faithfully goes to Extra.
func importVMKey(vm *resource.VM, ci *resource.CloudInit, vmid int, k, v string) bool {
	var ok bool
	switch k {
	case "name":
		vm.Name = v
		return true
	case "description":
		vm.Description = &v
		return true
	case "tags":
		vm.Tags = importTags(v)
		return true
	case "template":
		vm.Template, ok = boolPtr(v)
	case "protection":
		vm.Protection, ok = boolPtr(v)
	case "onboot":
		vm.OnBoot, ok = boolPtr(v)
	case "numa":
		vm.NUMA, ok = boolPtr(v)
	case "startup":
		_, err := ParseProps(Startup, v)
		if err == nil {
			vm.Startup, ok = v, true
		}
	case "cores":
		vm.Cores, ok = intPtr(v)
	case "sockets":
		vm.Sockets, ok = intPtr(v)
	case "vcpus":
		vm.VCPUs, ok = intPtr(v)
	case "balloon":
		vm.Balloon, ok = intPtr(v)
	case "memory":
		p, err := ParseProps(Memory, v)
		if err == nil && p.Len() == 1 {
			vm.Memory, ok = intPtr(p.Value("current"))
		}
	case "cpu":
		vm.CPU, ok = v, true
	case "ostype":
		vm.OSType, ok = v, true
	case "machine":
		vm.Machine, ok = v, true
	case "bios":
		vm.BIOS, ok = v, true
	case "scsihw":
		vm.SCSIHW, ok = v, true
	case "hotplug":
		vm.Hotplug, ok = v, true
	case "agent":
		vm.Agent, ok = importAgent(v)
	case "boot":
		p, err := ParseProps(Boot, v)
		if order, set := p.Get("order"); err == nil && set && p.Len() == 1 {
			vm.Boot, ok = strings.Split(order, ";"), true
		}
	case "efidisk0":
		vm.EFIDisk, ok = importEFIDisk(vmid, v)
	case "tpmstate0":
		vm.TPM, ok = importTPM(vmid, v)
	case "ciuser":
		ci.User, ok = v, true
	case "cipassword":
		// PVE masks it; the spec references the secret instead.
		return true
	case "sshkeys":
		keys, err := DecodeSSHKeys(v)
		if err == nil && len(keys) > 0 {
			// Diff compares decoded keys, so PVE's spelling (a trailing
			// %0A, lower-case hex) need not survive.
			ci.SSHKeys, ok = keys, true
		}
	case "nameserver":
		ci.Nameserver, ok = v, true
	case "searchdomain":
		ci.Searchdomain, ok = v, true
	case "citype":
		ci.Type, ok = v, true
	case "cicustom":
		_, err := ParseProps(CICustom, v)
		if err == nil {
			ci.Custom, ok = v, true
		}
	case "ciupgrade":
		ci.Upgrade, ok = boolPtr(v)
	}
	if ok {
		return true
	}
	f, isProp := FormatOf(resource.KindVM, k)
	switch {
	case isProp && f == QemuNet:
		n, ok := importNIC(v)
		if ok {
			if vm.Networks == nil {
				vm.Networks = map[string]resource.NIC{}
			}
			vm.Networks[k] = n
		}
		return ok
	case isProp && f == IPConfig:
		p, err := ParseProps(IPConfig, v)
		if err != nil || p.Len() == 0 {
			return false
		}
		if ci.IPConfig == nil {
			ci.IPConfig = map[string]resource.IPConfig{}
		}
		ci.IPConfig[k] = resource.IPConfig{IP: p.Value("ip"), GW: p.Value("gw"), IP6: p.Value("ip6"), GW6: p.Value("gw6")}
		return true
	case IsDriveSlot(k):
		p, err := ParseProps(Drive, v)
		if err != nil {
			return false
		}
		file := p.Value("file")
		if ci.Drive == "" && reCloudInitVol.MatchString(file) {
			ci.Drive, ci.Storage = k, volumeStorage(file)
			return true
		}
		d, ok := importDisk(vmid, p)
		if ok {
			if vm.Disks == nil {
				vm.Disks = map[string]resource.Disk{}
			}
			vm.Disks[k] = d
		}
		return ok
	}
	return false
}

func importAgent(v string) (*resource.Agent, bool) {
	p, err := ParseProps(Agent, v)
	if err != nil {
		return nil, false
	}
	en, set := p.Get("enabled")
	if !set {
		return nil, false
	}
	a := &resource.Agent{}
	a.Enabled, _ = ParseBool(en)
	if s, set := p.Get("fstrim_cloned_disks"); set {
		a.FSTrimCloned, _ = boolPtr(s)
	}
	if s, set := p.Get("freeze-fs-on-backup"); set {
		a.FreezeFSOnBackup, _ = boolPtr(s)
	}
	a.Type = p.Value("type")
	return a, true
}

// options returns p's keys other than skip, or nil if there are none.
func options(p Props, skip ...string) map[string]string {
	var m map[string]string
	for _, k := range p.Keys() {
		if slices.Contains(skip, k) {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = p.Value(k)
	}
	return m
}

func importDisk(vmid int, p Props) (resource.Disk, bool) {
	file := p.Value("file")
	if !importableVolume(file) {
		return resource.Disk{}, false
	}
	size, hasSize := p.Get("size")
	d := resource.Disk{Media: p.Value("media"), Format: p.Value("format")}
	if hasSize && ownVolume(vmid, file) {
		if b, err := ParseSize(size); err != nil || b <= 0 {
			return d, false
		}
		d.Storage, d.Size = volumeStorage(file), size
	} else {
		d.Volume = file
	}
	d.Options = options(p, "file", "media", "format", "size")
	return d, true
}

func importEFIDisk(vmid int, v string) (*resource.EFIDisk, bool) {
	p, err := ParseProps(EFIDisk, v)
	if err != nil || !importableVolume(p.Value("file")) {
		return nil, false
	}
	e := &resource.EFIDisk{Type: p.Value("efitype")}
	if file := p.Value("file"); ownVolume(vmid, file) {
		e.Storage = volumeStorage(file)
	} else {
		e.Volume = file
	}
	if s, set := p.Get("pre-enrolled-keys"); set {
		e.PreEnrolledKeys, _ = boolPtr(s)
	}
	e.Options = options(p, "file", "size", "efitype", "pre-enrolled-keys")
	return e, true
}

func importTPM(vmid int, v string) (*resource.TPM, bool) {
	p, err := ParseProps(TPMState, v)
	if err != nil || !importableVolume(p.Value("file")) {
		return nil, false
	}
	t := &resource.TPM{Version: p.Value("version")}
	if file := p.Value("file"); ownVolume(vmid, file) {
		t.Storage = volumeStorage(file)
	} else {
		t.Volume = file
	}
	t.Options = options(p, "file", "size", "version")
	return t, true
}

func atoiField(p Props, k string, dst *int) bool {
	s, set := p.Get(k)
	if !set {
		return true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n == 0 {
		return false
	}
	*dst = n
	return true
}

func boolField(p Props, k string, dst **bool) {
	if s, set := p.Get(k); set {
		*dst, _ = boolPtr(s)
	}
}

func importNIC(v string) (resource.NIC, bool) {
	p, err := ParseProps(QemuNet, v)
	if err != nil || p.Value("model") == "" {
		return resource.NIC{}, false
	}
	// The MAC is left out: PVE-generated and pinned MACs look the same, and
	// a spec without one keeps whatever PVE has.
	n := resource.NIC{Model: p.Value("model"), Bridge: p.Value("bridge"), Rate: p.Value("rate"), Trunks: p.Value("trunks")}
	boolField(p, "firewall", &n.Firewall)
	boolField(p, "link_down", &n.LinkDown)
	ok := atoiField(p, "tag", &n.Tag) && atoiField(p, "mtu", &n.MTU) && atoiField(p, "queues", &n.Queues)
	return n, ok
}

func importContainer(g *resource.Guest) *resource.Container {
	if g == nil {
		return &resource.Container{}
	}
	ct := &resource.Container{Node: g.Node, VMID: g.VMID, Pool: g.Pool, State: guestState(g)}
	extra := map[string]string{}
	for _, k := range sortedKeys(g.Config) {
		v := g.Config[k]
		if v == "" || ignored(resource.KindContainer, k) {
			continue
		}
		if !importCTKey(ct, g.VMID, k, v) {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		ct.Extra = extra
	}
	return ct
}

func importCTKey(ct *resource.Container, vmid int, k, v string) bool {
	var ok bool
	switch k {
	case "hostname":
		ct.Hostname = v
		return true
	case "description":
		ct.Description = &v
		return true
	case "tags":
		ct.Tags = importTags(v)
		return true
	case "template":
		ct.Template, ok = boolPtr(v)
	case "protection":
		ct.Protection, ok = boolPtr(v)
	case "onboot":
		ct.OnBoot, ok = boolPtr(v)
	case "unprivileged":
		ct.Unprivileged, ok = boolPtr(v)
	case "startup":
		_, err := ParseProps(Startup, v)
		if err == nil {
			ct.Startup, ok = v, true
		}
	case "ostype":
		ct.OSType, ok = v, true
	case "arch":
		ct.Arch, ok = v, true
	case "features":
		ct.Features, ok = importFeatures(v)
	case "cores":
		ct.Cores, ok = intPtr(v)
	case "cpulimit":
		_, err := strconv.ParseFloat(v, 64)
		if err == nil {
			ct.CPULimit, ok = v, true
		}
	case "cpuunits":
		ct.CPUUnits, ok = intPtr(v)
	case "memory":
		ct.Memory, ok = intPtr(v)
	case "swap":
		ct.Swap, ok = intPtr(v)
	case "nameserver":
		ct.Nameserver, ok = v, true
	case "searchdomain":
		ct.Searchdomain, ok = v, true
	case "rootfs":
		m, mok := importMount(vmid, v)
		if mok && m.Path == "" {
			ct.RootFS, ok = &m, true
		}
	}
	if ok {
		return true
	}
	f, isProp := FormatOf(resource.KindContainer, k)
	switch {
	case isProp && f == LXCNet:
		n, ok := importCTNIC(v)
		if ok {
			if ct.Networks == nil {
				ct.Networks = map[string]resource.CTNIC{}
			}
			ct.Networks[k] = n
		}
		return ok
	case isProp && f == LXCMount && strings.HasPrefix(k, "mp"):
		m, ok := importMount(vmid, v)
		if ok && m.Path != "" {
			if ct.Mounts == nil {
				ct.Mounts = map[string]resource.Mount{}
			}
			ct.Mounts[k] = m
			return true
		}
	}
	return false
}

func importFeatures(v string) (*resource.Features, bool) {
	p, err := ParseProps(Features, v)
	if err != nil || p.Len() == 0 {
		return nil, false
	}
	f := &resource.Features{}
	boolField(p, "nesting", &f.Nesting)
	boolField(p, "keyctl", &f.Keyctl)
	boolField(p, "fuse", &f.Fuse)
	boolField(p, "mknod", &f.Mknod)
	if m, set := p.Get("mount"); set {
		f.Mount = strings.Split(m, ";")
		if slices.Contains(f.Mount, "") {
			return nil, false
		}
	}
	f.Options = options(p, "nesting", "keyctl", "fuse", "mknod", "mount")
	return f, true
}

func importMount(vmid int, v string) (resource.Mount, bool) {
	p, err := ParseProps(LXCMount, v)
	if err != nil {
		return resource.Mount{}, false
	}
	vol := p.Value("volume")
	if !importableVolume(vol) {
		return resource.Mount{}, false
	}
	m := resource.Mount{Path: p.Value("mp")}
	if size, set := p.Get("size"); set && ownVolume(vmid, vol) {
		if b, err := ParseSize(size); err != nil || b <= 0 {
			return m, false
		}
		m.Storage, m.Size = volumeStorage(vol), size
	} else {
		m.Volume = vol
	}
	m.Options = options(p, "volume", "mp", "size")
	return m, true
}

func importCTNIC(v string) (resource.CTNIC, bool) {
	p, err := ParseProps(LXCNet, v)
	if err != nil || p.Value("name") == "" {
		return resource.CTNIC{}, false
	}
	if t, set := p.Get("type"); set && t != "veth" {
		return resource.CTNIC{}, false
	}
	// hwaddr is left out like a VM's MAC; type=veth is PVE's own.
	n := resource.CTNIC{Name: p.Value("name"), Bridge: p.Value("bridge"), IP: p.Value("ip"), GW: p.Value("gw"),
		IP6: p.Value("ip6"), GW6: p.Value("gw6"), Rate: p.Value("rate"), Trunks: p.Value("trunks")}
	boolField(p, "firewall", &n.Firewall)
	boolField(p, "link_down", &n.LinkDown)
	if _, set := p.Get("host-managed"); set {
		return resource.CTNIC{}, false
	}
	ok := atoiField(p, "tag", &n.Tag) && atoiField(p, "mtu", &n.MTU)
	return n, ok
}

// importableVolume reports whether an observed volume can stand in a spec
// as a volume name: not empty, and not something compile would read as a
// request to allocate (PVE never returns those, but a spec must not either).
func importableVolume(v string) bool {
	if v == "" || reCloudInitAlloc.MatchString(v) {
		return false
	}
	_, _, alloc := parseAlloc(v)
	return !alloc
}
