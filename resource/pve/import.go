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
	vm.Extra = importConfig(g, resource.KindVM, func(k, v string) bool {
		return importVMKey(vm, ci, g.VMID, k, v)
	})
	if !isZeroCloudInit(ci) {
		vm.CloudInit = ci
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
	if importGuestKey(vmFields(vm), k, v) {
		return true
	}
	var ok bool
	switch k {
	case "name":
		vm.Name = v
		return true
	case "numa":
		vm.NUMA, ok = boolPtr(v)
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
			setKey(&vm.Networks, k, n)
		}
		return ok
	case isProp && f == IPConfig:
		p, err := ParseProps(IPConfig, v)
		if err != nil || p.Len() == 0 {
			return false
		}
		setKey(&ci.IPConfig, k, resource.IPConfig{IP: p.Value("ip"), GW: p.Value("gw"), IP6: p.Value("ip6"), GW6: p.Value("gw6")})
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
			setKey(&vm.Disks, k, d)
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
	boolField(p, "fstrim_cloned_disks", &a.FSTrimCloned)
	boolField(p, "freeze-fs-on-backup", &a.FreezeFSOnBackup)
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
		setKey(&m, k, p.Value(k))
	}
	return m
}

func importDisk(vmid int, p Props) (resource.Disk, bool) {
	file := p.Value("file")
	if !importableVolume(file) {
		return resource.Disk{}, false
	}
	d := resource.Disk{Media: p.Value("media"), Format: p.Value("format")}
	var ok bool
	if d.Storage, d.Size, d.Volume, ok = importVolume(vmid, file, p); !ok {
		return d, false
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
	e.Storage, e.Volume = stateVolume(vmid, p.Value("file"))
	boolField(p, "pre-enrolled-keys", &e.PreEnrolledKeys)
	e.Options = options(p, "file", "size", "efitype", "pre-enrolled-keys")
	return e, true
}

func importTPM(vmid int, v string) (*resource.TPM, bool) {
	p, err := ParseProps(TPMState, v)
	if err != nil || !importableVolume(p.Value("file")) {
		return nil, false
	}
	t := &resource.TPM{Version: p.Value("version")}
	t.Storage, t.Volume = stateVolume(vmid, p.Value("file"))
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
	ct.Extra = importConfig(g, resource.KindContainer, func(k, v string) bool {
		return importCTKey(ct, g.VMID, k, v)
	})
	return ct
}

func importCTKey(ct *resource.Container, vmid int, k, v string) bool {
	if importGuestKey(ctFields(ct), k, v) {
		return true
	}
	var ok bool
	switch k {
	case "hostname":
		ct.Hostname = v
		return true
	case "unprivileged":
		ct.Unprivileged, ok = boolPtr(v)
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
			setKey(&ct.Networks, k, n)
		}
		return ok
	case isProp && f == LXCMount && strings.HasPrefix(k, "mp"):
		m, ok := importMount(vmid, v)
		if ok && m.Path != "" {
			setKey(&ct.Mounts, k, m)
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
	var ok bool
	if m.Storage, m.Size, m.Volume, ok = importVolume(vmid, vol, p); !ok {
		return m, false
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

// setKey sets (*m)[k] to v, making the map first if it is nil.
func setKey[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = map[string]V{}
	}
	(*m)[k] = v
}

// importVolume says how a spec names volume vol of guest vmid with
// property string p: by storage and size when the guest owns it and p has
// its size, else by the volume itself. It fails on a size PVE should not
// print.
func importVolume(vmid int, vol string, p Props) (storage, size, volume string, ok bool) {
	size, set := p.Get("size")
	if !set || !ownVolume(vmid, vol) {
		return "", "", vol, true
	}
	if b, err := ParseSize(size); err != nil || b <= 0 {
		return "", "", "", false
	}
	return volumeStorage(vol), size, "", true
}

// stateVolume says how a spec names the volume file of efidisk0 or
// tpmstate0 (which PVE sizes itself): by storage when guest vmid owns it,
// else by the volume itself.
func stateVolume(vmid int, file string) (storage, volume string) {
	if ownVolume(vmid, file) {
		return volumeStorage(file), ""
	}
	return "", file
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
