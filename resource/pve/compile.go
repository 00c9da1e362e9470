package pve

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/pmpc-dev/pmpc/resource"
)

// compiler collects config keys and refuses to set one twice.
type compiler struct {
	cfg  Config
	kind resource.Kind
	err  error
}

func (c *compiler) put(key, value string) {
	if c.err != nil || value == "" {
		return
	}
	if _, dup := c.cfg[key]; dup {
		c.err = fmt.Errorf("%s is set twice", key)
		return
	}
	c.cfg[key] = value
}

func (c *compiler) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// compiled puts key=v, or fails with err under the spec field's name.
func (c *compiler) compiled(field, key, v string, err error) {
	if err != nil {
		c.fail(fmt.Errorf("%s: %w", field, err))
		return
	}
	c.put(key, v)
}

func (c *compiler) bool(key string, b *bool) {
	if b != nil {
		c.put(key, FormatBool(*b))
	}
}

func (c *compiler) int(key string, n *int) {
	if n != nil {
		c.put(key, strconv.Itoa(*n))
	}
}

func (c *compiler) extra(extra map[string]string) {
	for _, k := range sortedKeys(extra) {
		if _, dup := c.cfg[k]; dup {
			c.fail(fmt.Errorf("extra.%s: %s is already set by a field of the spec", k, k))
			return
		}
		c.put(k, extra[k])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func tags(t []string) string {
	return FormatTags(append(slices.Clone(t), resource.ManagedTag))
}

func compileVM(name string, vm *resource.VM) (Config, error) {
	if vm == nil {
		return nil, fmt.Errorf("vm.%s: no spec", name)
	}
	c := &compiler{cfg: Config{}, kind: resource.KindVM}
	c.put("name", cmpOr(vm.Name, name))
	c.guest(vmFields(vm))
	c.int("cores", vm.Cores)
	c.int("sockets", vm.Sockets)
	c.int("vcpus", vm.VCPUs)
	c.put("cpu", vm.CPU)
	c.bool("numa", vm.NUMA)
	c.int("memory", vm.Memory)
	c.int("balloon", vm.Balloon)
	c.put("ostype", vm.OSType)
	c.put("machine", vm.Machine)
	c.put("bios", vm.BIOS)
	c.put("scsihw", vm.SCSIHW)
	c.put("hotplug", vm.Hotplug)
	if a := vm.Agent; a != nil {
		p := NewProps(Agent)
		p.Set("enabled", FormatBool(a.Enabled))
		setBool(&p, "fstrim_cloned_disks", a.FSTrimCloned)
		setBool(&p, "freeze-fs-on-backup", a.FreezeFSOnBackup)
		p.Set("type", a.Type)
		c.put("agent", p.String())
	}
	if len(vm.Boot) > 0 {
		c.put("boot", "order="+joinSemi(vm.Boot))
	}
	for _, slot := range sortedKeys(vm.Disks) {
		if !IsDriveSlot(slot) {
			c.fail(fmt.Errorf("disks.%s: not a disk slot (want scsiN, virtioN, sataN or ideN)", slot))
			continue
		}
		v, err := compileDisk(vm.Disks[slot])
		c.compiled("disks."+slot, slot, v, err)
	}
	if e := vm.EFIDisk; e != nil {
		p, err := compileVolumeProps(EFIDisk, e.Storage, "", e.Volume, e.Options, "efitype", "pre-enrolled-keys")
		p.Set("efitype", e.Type)
		setBool(&p, "pre-enrolled-keys", e.PreEnrolledKeys)
		c.compiled("efidisk", "efidisk0", p.String(), err)
	}
	if t := vm.TPM; t != nil {
		p, err := compileVolumeProps(TPMState, t.Storage, "", t.Volume, t.Options, "version")
		p.Set("version", t.Version)
		c.compiled("tpm", "tpmstate0", p.String(), err)
	}
	for _, slot := range sortedKeys(vm.Networks) {
		if f, _ := FormatOf(resource.KindVM, slot); f != QemuNet {
			c.fail(fmt.Errorf("networks.%s: not a network slot (want netN)", slot))
			continue
		}
		v, err := compileNIC(vm.Networks[slot])
		c.compiled("networks."+slot, slot, v, err)
	}
	if ci := vm.CloudInit; ci != nil {
		compileCloudInit(c, ci)
	}
	c.extra(vm.Extra)
	if c.err != nil {
		return nil, fmt.Errorf("vm.%s: %w", name, c.err)
	}
	return c.cfg, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func joinSemi(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ";"
		}
		out += s
	}
	return out
}

// compileVolumeProps starts a drive-like property string: allocation on
// storage (with allocSize, a PVE size; "" lets PVE pick it) or an existing
// volume, then options.
// reserved lists option keys that have a field of their own.
func compileVolumeProps(f Format, storage, allocSize, volume string, options map[string]string, reserved ...string) (Props, error) {
	p := NewProps(f)
	switch {
	case storage != "" && volume != "":
		return p, fmt.Errorf("set storage (to allocate) or volume (to attach), not both")
	case storage != "":
		if allocSize == "" {
			// efidisk0 and tpmstate0: PVE picks the size itself.
			p.Set(f.DefaultKey(), storage+":1")
		} else {
			v, err := allocValue(storage, allocSize)
			if err != nil {
				return p, err
			}
			p.Set(f.DefaultKey(), v)
		}
	case volume != "":
		p.Set(f.DefaultKey(), volume)
	default:
		return p, fmt.Errorf("set storage (to allocate) or volume (to attach)")
	}
	sp := f.spec()
	for _, k := range sortedKeys(options) {
		if k == sp.defaultKey || sp.aliases[k] != "" || k == "size" || slices.Contains(reserved, k) {
			return p, fmt.Errorf("options.%s: use the field of its own", k)
		}
		if _, known := sp.keys[k]; !known {
			return p, fmt.Errorf("options.%s: unknown %s option", k, sp.name)
		}
		if sp.keys[k] == tBool {
			if _, ok := ParseBool(options[k]); !ok {
				return p, fmt.Errorf("options.%s: %q is not a boolean", k, options[k])
			}
		}
		p.Set(k, options[k])
	}
	return p, nil
}

func compileDisk(d resource.Disk) (string, error) {
	size := d.Size
	if d.Storage != "" && size == "" {
		return "", fmt.Errorf("storage %q needs a size", d.Storage)
	}
	if d.Storage == "" && d.Volume == "" && d.Media == "cdrom" {
		d.Volume = "none"
	}
	if d.Volume != "" && d.Size != "" && d.Storage == "" {
		return "", fmt.Errorf("size applies to a disk allocated on a storage, not to volume %q", d.Volume)
	}
	p, err := compileVolumeProps(Drive, d.Storage, size, d.Volume, d.Options, "media", "format")
	if err != nil {
		return "", err
	}
	p.Set("media", d.Media)
	p.Set("format", d.Format)
	return p.String(), nil
}

func compileNIC(n resource.NIC) (string, error) {
	if n.Model == "" {
		return "", fmt.Errorf("model is required (e.g. virtio)")
	}
	if !specs[QemuNet].values[n.Model] {
		return "", fmt.Errorf("model %q: want one of %v", n.Model, nicModels)
	}
	p := NewProps(QemuNet)
	p.Set("model", n.Model)
	p.Set("macaddr", n.MACAddr)
	p.Set("bridge", n.Bridge)
	setBool(&p, "firewall", n.Firewall)
	setBool(&p, "link_down", n.LinkDown)
	setInt(&p, "tag", n.Tag)
	setInt(&p, "mtu", n.MTU)
	setInt(&p, "queues", n.Queues)
	p.Set("rate", n.Rate)
	p.Set("trunks", n.Trunks)
	return p.String(), nil
}

func setInt(p *Props, k string, n int) {
	if n != 0 {
		p.Set(k, strconv.Itoa(n))
	}
}

func setBool(p *Props, k string, b *bool) {
	if b != nil {
		p.Set(k, FormatBool(*b))
	}
}

func compileCloudInit(c *compiler, ci *resource.CloudInit) {
	switch {
	case ci.Drive != "" && ci.Storage != "":
		if !IsDriveSlot(ci.Drive) {
			c.fail(fmt.Errorf("cloudinit.drive %q: not a disk slot (e.g. ide2)", ci.Drive))
			return
		}
		c.put(ci.Drive, ci.Storage+":cloudinit")
	case ci.Drive != "" || ci.Storage != "":
		c.fail(fmt.Errorf("cloudinit: set both drive and storage, or neither"))
		return
	}
	c.put("ciuser", ci.User)
	c.put("cipassword", string(ci.Password))
	if len(ci.SSHKeys) > 0 {
		c.put("sshkeys", EncodeSSHKeys(ci.SSHKeys))
	}
	for _, slot := range sortedKeys(ci.IPConfig) {
		if f, _ := FormatOf(resource.KindVM, slot); f != IPConfig {
			c.fail(fmt.Errorf("cloudinit.ipconfig.%s: not an ipconfig slot (want ipconfigN)", slot))
			return
		}
		ip := ci.IPConfig[slot]
		p := NewProps(IPConfig)
		p.Set("ip", ip.IP)
		p.Set("gw", ip.GW)
		p.Set("ip6", ip.IP6)
		p.Set("gw6", ip.GW6)
		if p.Len() == 0 {
			c.fail(fmt.Errorf("cloudinit.ipconfig.%s: empty", slot))
			return
		}
		c.put(slot, p.String())
	}
	c.put("nameserver", ci.Nameserver)
	c.put("searchdomain", ci.Searchdomain)
	c.put("citype", ci.Type)
	c.put("cicustom", ci.Custom)
	c.bool("ciupgrade", ci.Upgrade)
}

func compileContainer(name string, ct *resource.Container) (Config, error) {
	if ct == nil {
		return nil, fmt.Errorf("container.%s: no spec", name)
	}
	c := &compiler{cfg: Config{}, kind: resource.KindContainer}
	c.put("hostname", cmpOr(ct.Hostname, name))
	c.guest(ctFields(ct))
	c.put("ostype", ct.OSType)
	c.put("arch", ct.Arch)
	c.bool("unprivileged", ct.Unprivileged)
	if f := ct.Features; f != nil {
		v, err := compileFeatures(f)
		c.compiled("features", "features", v, err)
	}
	c.int("cores", ct.Cores)
	c.put("cpulimit", ct.CPULimit)
	c.int("cpuunits", ct.CPUUnits)
	c.int("memory", ct.Memory)
	c.int("swap", ct.Swap)
	if ct.RootFS != nil {
		if ct.RootFS.Path != "" {
			c.fail(fmt.Errorf("rootfs: path applies to mount points only"))
		}
		v, err := compileMount(*ct.RootFS)
		c.compiled("rootfs", "rootfs", v, err)
	}
	for _, slot := range sortedKeys(ct.Mounts) {
		if f, _ := FormatOf(resource.KindContainer, slot); f != LXCMount || slot == "rootfs" || slot[0] != 'm' {
			c.fail(fmt.Errorf("mounts.%s: not a mount point slot (want mpN)", slot))
			continue
		}
		m := ct.Mounts[slot]
		if m.Path == "" {
			c.fail(fmt.Errorf("mounts.%s: path is required", slot))
			continue
		}
		v, err := compileMount(m)
		c.compiled("mounts."+slot, slot, v, err)
	}
	for _, slot := range sortedKeys(ct.Networks) {
		if f, _ := FormatOf(resource.KindContainer, slot); f != LXCNet {
			c.fail(fmt.Errorf("networks.%s: not a network slot (want netN)", slot))
			continue
		}
		v, err := compileCTNIC(ct.Networks[slot])
		c.compiled("networks."+slot, slot, v, err)
	}
	c.put("nameserver", ct.Nameserver)
	c.put("searchdomain", ct.Searchdomain)
	c.extra(ct.Extra)
	if c.err != nil {
		return nil, fmt.Errorf("container.%s: %w", name, c.err)
	}
	return c.cfg, nil
}

func compileFeatures(f *resource.Features) (string, error) {
	p := NewProps(Features)
	setBool(&p, "nesting", f.Nesting)
	setBool(&p, "keyctl", f.Keyctl)
	setBool(&p, "fuse", f.Fuse)
	setBool(&p, "mknod", f.Mknod)
	if len(f.Mount) > 0 {
		p.Set("mount", joinSemi(f.Mount))
	}
	sp := Features.spec()
	for _, k := range sortedKeys(f.Options) {
		if _, known := sp.keys[k]; !known {
			return "", fmt.Errorf("options.%s: unknown feature", k)
		}
		if _, set := p.Get(k); set {
			return "", fmt.Errorf("options.%s: use the field of its own", k)
		}
		p.Set(k, f.Options[k])
	}
	return p.String(), nil
}

func compileMount(m resource.Mount) (string, error) {
	if m.Storage != "" && m.Size == "" {
		return "", fmt.Errorf("storage %q needs a size", m.Storage)
	}
	if m.Volume != "" && m.Size != "" && m.Storage == "" {
		return "", fmt.Errorf("size applies to a volume allocated on a storage, not to volume %q", m.Volume)
	}
	p, err := compileVolumeProps(LXCMount, m.Storage, m.Size, m.Volume, m.Options, "mp")
	if err != nil {
		return "", err
	}
	p.Set("mp", m.Path)
	return p.String(), nil
}

func compileCTNIC(n resource.CTNIC) (string, error) {
	if n.Name == "" {
		return "", fmt.Errorf("name is required (e.g. eth0)")
	}
	p := NewProps(LXCNet)
	p.Set("name", n.Name)
	p.Set("bridge", n.Bridge)
	p.Set("hwaddr", n.HWAddr)
	p.Set("ip", n.IP)
	p.Set("gw", n.GW)
	p.Set("ip6", n.IP6)
	p.Set("gw6", n.GW6)
	setBool(&p, "firewall", n.Firewall)
	setBool(&p, "link_down", n.LinkDown)
	setInt(&p, "tag", n.Tag)
	setInt(&p, "mtu", n.MTU)
	p.Set("rate", n.Rate)
	p.Set("trunks", n.Trunks)
	return p.String(), nil
}

// ContainerCreateParams returns the create-only parameters of a container
// that PVE does not keep in its config: ostemplate, password (the SecretRef
// string, to resolve at apply) and ssh-public-keys (plain OpenSSH lines, not
// URL-encoded). Send them with POST /nodes/{node}/lxc next to the compiled
// config; never compare them.
func ContainerCreateParams(ct *resource.Container) Config {
	c := Config{}
	if ct == nil {
		return c
	}
	if ct.OSTemplate != "" {
		c["ostemplate"] = ct.OSTemplate
	}
	if ct.Password != "" {
		c["password"] = string(ct.Password)
	}
	if len(ct.SSHKeys) > 0 {
		s := ""
		for _, k := range ct.SSHKeys {
			s += k + "\n"
		}
		c["ssh-public-keys"] = s
	}
	return c
}
