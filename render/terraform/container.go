package terraform

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/pmpc-dev/pmpc/render"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
)

// Provider defaults of proxmox_virtual_environment_container (the dv*
// constants of proxmoxtf/resource/container/container.go, used by
// Container() and compared against in containerRead) that decide whether
// Read puts a block into state on import.
const (
	dvCTConsoleMode  = "tty"
	dvCTConsoleTTY   = 2
	dvCTArch         = "amd64"
	dvCTCores        = 1
	dvCTUnits        = 1024
	dvCTMemory       = 512
	dvCTDiskStore    = "local"
	dvCTDiskSizeGiB  = 4
	dvCTOSType       = "unmanaged"
	maxCTDevices     = 128
	ctDevicePrefix   = "dev"
	ctConsoleKey     = "console"
	ctConsoleModeKey = "cmode"
	ctTTYKey         = "tty"
)

// ctTimeouts are the container's timeout attributes. containerRead in
// 0.111.1 never sets them (they were backfilled on import only later,
// bpg/terraform-provider-proxmox#3111), so after import they are null in
// state while the schema Defaults (1800, 1800, 60, 300, 1800) plan a
// change no configuration can avoid: an adopted container ignores them.
// Terraform reverts ignored paths after a legacy-SDK provider's plan too,
// so the Default does not come back.
var ctTimeouts = []string{"timeout_clone", "timeout_create", "timeout_delete", "timeout_start", "timeout_update"}

// container renders a container the way the provider's containerRead
// (proxmoxtf/resource/container/container.go) reads it back on import: a
// block Read leaves out when PVE's values are the defaults is left out too,
// and an adopted container ignores what Read cannot read back.
func (r *renderer) container(name string, ct *resource.Container) error {
	id := r.ctIDs[name]
	g := r.live.Container(name, ct)
	a := &adoption{g: g}
	b := r.guestBlock(TypeContainer, id, "container."+name, ct.Node, ct.VMID, g)
	ignoreStarted := r.guestAttrs(b, g, "start_on_boot", guestSpec{
		description: ct.Description, tags: ct.Tags, pool: ct.Pool, state: ct.State,
		onBoot: ct.OnBoot, template: ct.Template, protection: ct.Protection,
	})
	setBool(b, "unprivileged", ct.Unprivileged)
	extra := map[string]string{}
	for k, v := range ct.Extra {
		extra[k] = v
	}
	ctConsole(b, extra)
	ctCPU(b, ct)
	ctMemory(b, ct, a)
	ctDisk(b, ct.RootFS, a)
	ctOperatingSystem(b, ct, a)
	ctFeatures(b, ct.Features, a)
	ctMounts(b, ct.Mounts)
	ctDevices(b, extra)
	nics := ctNetworks(b, ct.Networks)
	r.ctInit(b, id, name, ct, nics, a)
	startup(b, ct.Startup)
	unmodelled(b, extra)
	if a.adopted() {
		// containerRead sets vm_id only to repair a stored -1, and never
		// sets pool_id or start_on_boot: after import they are null in
		// state (bpg/terraform-provider-proxmox#1406 shows the plan). vm_id
		// and pool_id are ForceNew, so stating them would replace the
		// container.
		a.ignore("vm_id")
		if ct.Pool != "" {
			a.ignore("pool_id")
		}
		a.ignore("start_on_boot")
		for _, t := range ctTimeouts {
			a.ignore(t)
		}
	}
	if ignoreStarted {
		a.ignore("started")
	}
	lifecycleIgnore(b, a.paths...)
	r.adopt(TypeContainer, id, g)
	return nil
}

// ctConsole renders console from PVE's console, cmode and tty keys.
// containerRead fills the block (enabled true, mode tty, 2 TTYs when a key
// is absent) and stores it only when it differs from those defaults.
func ctConsole(b *hclwrite.Body, extra map[string]string) {
	enabled, mode, tty := true, dvCTConsoleMode, dvCTConsoleTTY
	var ok bool
	if v, has := take(extra, ctConsoleKey); has {
		if enabled, ok = pve.ParseBool(v); !ok {
			extra[ctConsoleKey] = v
			enabled = true
		}
	}
	if v, has := take(extra, ctConsoleModeKey); has && v != "" {
		mode = v
	}
	if v, has := take(extra, ctTTYKey); has {
		n, err := strconv.Atoi(v)
		if err != nil {
			extra[ctTTYKey] = v
		} else {
			tty = n
		}
	}
	if enabled && mode == dvCTConsoleMode && tty == dvCTConsoleTTY {
		return
	}
	c := b.AppendNewBlock("console", nil).Body()
	if !enabled {
		c.SetAttributeValue("enabled", cty.False)
	}
	if mode != dvCTConsoleMode {
		c.SetAttributeValue("type", cty.StringVal(mode))
	}
	if tty != dvCTConsoleTTY {
		c.SetAttributeValue("tty_count", cty.NumberIntVal(int64(tty)))
	}
}

// ctCPU renders cpu when it differs from the provider's defaults:
// containerRead fills architecture, cores and units (amd64, 1, 1024 for
// absent keys) and stores the block only when one differs; an all-default
// block would plan a change. A CPU limit (0 = none) also makes it differ.
func ctCPU(b *hclwrite.Body, ct *resource.Container) {
	limit, limitErr := strconv.ParseFloat(ct.CPULimit, 64)
	differs := (ct.Arch != "" && ct.Arch != dvCTArch) ||
		(ct.Cores != nil && *ct.Cores != dvCTCores) ||
		(ct.CPUUnits != nil && *ct.CPUUnits != dvCTUnits) ||
		(limitErr == nil && limit != 0)
	if !differs {
		return
	}
	c := b.AppendNewBlock("cpu", nil).Body()
	if ct.Arch != "" && ct.Arch != dvCTArch {
		c.SetAttributeValue("architecture", cty.StringVal(ct.Arch))
	}
	setInt(c, "cores", ct.Cores)
	if limitErr == nil && limit != 0 {
		c.SetAttributeValue("limit", cty.NumberFloatVal(limit))
	}
	setInt(c, "units", ct.CPUUnits)
}

// ctMemory renders memory when it differs from the provider's defaults:
// containerRead stores the block only when dedicated is not 512 or swap is
// not 0. With no memory key in PVE it reads dedicated 0, which the
// validator (16 and up) rejects, so an adopted container without one
// ignores the block.
func ctMemory(b *hclwrite.Body, ct *resource.Container, a *adoption) {
	if a.adopted() && !a.liveHas("memory") {
		a.ignore("memory")
	}
	dedicated := ct.Memory != nil && *ct.Memory != dvCTMemory
	swap := ct.Swap != nil && *ct.Swap != 0
	if !dedicated && !swap {
		return
	}
	m := b.AppendNewBlock("memory", nil).Body()
	setInt(m, "dedicated", ct.Memory)
	setInt(m, "swap", ct.Swap)
}

// ctDisk renders the root disk. The block is ForceNew, and containerRead
// stores it on import only when the datastore (the storage of the rootfs
// volume) is not "local" or its size is not 4 GiB, so a root disk at those
// defaults renders no block (it would replace an adopted container). A
// size that is not a whole number of GiB cannot be stated, nor can a
// rootfs the definition leaves out: an adopted container ignores them.
func ctDisk(b *hclwrite.Body, fs *resource.Mount, a *adoption) {
	if fs == nil {
		if a.adopted() && a.liveHas("rootfs") {
			a.ignore("disk")
		}
		return
	}
	store := datastore(fs.Storage, fs.Volume)
	var size int64
	sizeOK := false
	if bytes, ok := render.ParseSize(fs.Size); ok && bytes%(1<<30) == 0 {
		size, sizeOK = bytes>>30, true
	}
	flags := mountFlags(fs.Options, []string{"acl", "quota", "replicate"})
	mo := fs.Options["mountoptions"]
	atDefault := (store == "" || store == dvCTDiskStore) && (fs.Size == "" || (sizeOK && size == dvCTDiskSizeGiB)) &&
		len(flags) == 0 && mo == ""
	if atDefault {
		return
	}
	d := b.AppendNewBlock("disk", nil).Body()
	setString(d, "datastore_id", store)
	setSize(d, fs.Size)
	if fs.Size != "" && !sizeOK && a.adopted() {
		a.ignore("disk", "size")
	}
	for _, f := range flags {
		d.SetAttributeValue(f.name, cty.BoolVal(f.on))
	}
	mountOptions(d, fs.Options)
}

type mountFlag struct {
	name string
	on   bool
}

// mountFlags returns the boolean mount options among names that opts sets.
func mountFlags(opts map[string]string, names []string) []mountFlag {
	var out []mountFlag
	for _, n := range names {
		if v, ok := pve.ParseBool(opts[n]); ok {
			out = append(out, mountFlag{n, v})
		}
	}
	return out
}

// ctOperatingSystem renders operating_system, a ForceNew block whose
// template_file_id is required. containerRead stores type from PVE's
// ostype ("" when absent) and copies template_file_id from the prior state,
// which is empty on import: PVE does not keep the template a container was
// made from. Read leaves the block out only when ostype is "unmanaged".
// So an adopted container ignores template_file_id when the definition
// names the template, and the whole block when it does not (no
// configuration can state the block without a template).
func ctOperatingSystem(b *hclwrite.Body, ct *resource.Container, a *adoption) {
	osType := ct.OSType
	if osType == "" && a.liveHas("ostype") {
		osType = a.g.Config["ostype"]
	}
	if ct.OSTemplate == "" {
		switch {
		case a.adopted() && osType != dvCTOSType:
			a.ignore("operating_system")
		case !a.adopted() && ct.OSType != "":
			commentBody(b, fmt.Sprintf("ostype %q: the provider's operating_system block needs the template file (ostemplate), which the definition does not name", ct.OSType))
		}
		return
	}
	os := b.AppendNewBlock("operating_system", nil).Body()
	os.SetAttributeValue("template_file_id", cty.StringVal(ct.OSTemplate))
	setString(os, "type", osType)
	switch {
	case a.adopted() && osType == "":
		a.ignore("operating_system") // Read stores type "", which the validator rejects
	case a.adopted():
		a.ignore("operating_system", "template_file_id")
	}
}

// ctFeatures renders features. containerRead (at the commit read, see the
// package test) does not read features back, so after import the block is
// empty in state: an adopted container whose PVE config has features
// ignores the block rather than plan to re-send them.
func ctFeatures(b *hclwrite.Body, f *resource.Features, a *adoption) {
	if f == nil {
		return
	}
	fb := b.AppendNewBlock("features", nil).Body()
	setBool(fb, "nesting", f.Nesting)
	setBool(fb, "keyctl", f.Keyctl)
	setBool(fb, "fuse", f.Fuse)
	setBool(fb, "mknod", f.Mknod)
	if len(f.Mount) > 0 {
		fb.SetAttributeValue("mount", stringList(f.Mount))
	}
	for _, k := range slices.Sorted(maps.Keys(f.Options)) {
		commentBody(fb, fmt.Sprintf("not rendered (no provider attribute): features %s=%s", k, f.Options[k]))
	}
	if a.adopted() && a.liveHas("features") {
		a.ignore("features")
	}
}

// ctMounts renders mpN as mount_point blocks. containerRead stores every
// mount point with all its flags (absent ones as the schema defaults) and
// the volume id PVE allocated, which the schema's DiffSuppressFunc matches
// against a storage name; path is matched with or without its leading "/".
func ctMounts(b *hclwrite.Body, mounts map[string]resource.Mount) {
	slots, _ := render.Slots(mounts, "mp")
	for _, slot := range slots {
		m := mounts[slot]
		mb := b.AppendNewBlock("mount_point", nil).Body()
		if m.Volume != "" {
			mb.SetAttributeValue("volume", cty.StringVal(m.Volume))
		} else {
			mb.SetAttributeValue("volume", cty.StringVal(m.Storage))
		}
		mb.SetAttributeValue("path", cty.StringVal(m.Path))
		setString(mb, "size", m.Size)
		for _, o := range []struct{ pve, tf string }{{"ro", "read_only"}, {"backup", "backup"}, {"acl", "acl"}, {"quota", "quota"}, {"replicate", "replicate"}, {"shared", "shared"}} {
			if v, ok := pve.ParseBool(m.Options[o.pve]); ok {
				mb.SetAttributeValue(o.tf, cty.BoolVal(v))
			}
		}
		mountOptions(mb, m.Options)
	}
}

// ctDevices renders PVE's devN keys as device_passthrough blocks:
// containerRead stores each one (deny_write false, gid and uid 0, mode ""
// when absent), so leaving them out would plan their removal.
func ctDevices(b *hclwrite.Body, extra map[string]string) {
	slots, _ := render.Slots(extra, ctDevicePrefix)
	for _, slot := range slots {
		if n, _ := render.SlotIndex(slot, ctDevicePrefix); n >= maxCTDevices {
			continue
		}
		p := render.SplitProps(extra[slot])
		path := p["path"]
		if path == "" {
			path = p[""]
		}
		if path == "" {
			continue // left to unmodelled
		}
		delete(extra, slot)
		db := b.AppendNewBlock("device_passthrough", nil).Body()
		db.SetAttributeValue("path", cty.StringVal(path))
		if on, ok := pve.ParseBool(p["deny-write"]); ok && on {
			db.SetAttributeValue("deny_write", cty.True)
		}
		for _, k := range []string{"gid", "uid"} {
			if n, err := strconv.Atoi(p[k]); err == nil {
				db.SetAttributeValue(k, cty.NumberIntVal(int64(n)))
			}
		}
		setString(db, "mode", p["mode"])
	}
}

// ctNetworks renders netN as network_interface blocks and returns the
// NICs in slot order. containerRead skips unused slots, so later NICs
// shift down. It reads enabled back as true always: the provider's
// enabled=false deletes the NIC, so PVE's link_down is not mapped to it
// (the provider has no attribute for link_down, nor for trunks).
func ctNetworks(b *hclwrite.Body, nets map[string]resource.CTNIC) []resource.CTNIC {
	var out []resource.CTNIC
	_, maxNet := render.Slots(nets, "net")
	for i := 0; i <= maxNet; i++ {
		n, ok := nets["net"+strconv.Itoa(i)]
		if !ok {
			if i < maxNet {
				commentBody(b, fmt.Sprintf("net%d is unused; the provider numbers network interfaces by position, so later ones shift down", i))
			}
			continue
		}
		out = append(out, n)
		nb := b.AppendNewBlock("network_interface", nil).Body()
		nb.SetAttributeValue("name", cty.StringVal(n.Name))
		setString(nb, "bridge", n.Bridge)
		setString(nb, "mac_address", n.HWAddr)
		setNonZero(nb, "vlan_id", n.Tag)
		setBool(nb, "firewall", n.Firewall)
		setNonZero(nb, "mtu", n.MTU)
		setRate(nb, n.Rate)
		if n.LinkDown != nil && *n.LinkDown {
			commentBody(nb, "link_down=1 is not rendered: the provider has no attribute for it (enabled=false would delete the interface)")
		}
		if n.Trunks != "" {
			commentBody(nb, fmt.Sprintf("trunks=%s is not rendered: the provider has no attribute for it", n.Trunks))
		}
	}
	return out
}

func mountOptions(b *hclwrite.Body, opts map[string]string) {
	if mo := opts["mountoptions"]; mo != "" {
		b.SetAttributeValue("mount_options", stringList(strings.Split(mo, ";")))
	}
}

// ctInit renders initialization. containerRead always stores hostname;
// dns only when PVE has nameserver or searchdomain; one ip_config per NIC
// that has an address or gateway (so a NIC without any is skipped, while
// the provider pairs the n-th ip_config with the n-th NIC when it writes);
// and user_account only from the prior state, which is empty on import.
// user_account is ForceNew, and an ip_config list with an empty entry
// before a used one cannot match Read: an adopted container ignores them.
func (r *renderer) ctInit(b *hclwrite.Body, id, name string, ct *resource.Container, nics []resource.CTNIC, a *adoption) {
	ib := b.AppendNewBlock("initialization", nil).Body()
	ib.SetAttributeValue("hostname", cty.StringVal(render.ContainerHostname(name, ct)))
	dns(ib, ct.Nameserver, ct.Searchdomain)
	last := -1
	for i, n := range nics {
		if n.IP != "" || n.GW != "" || n.IP6 != "" || n.GW6 != "" {
			last = i
		}
	}
	gap := false
	for _, n := range nics[:last+1] {
		ipb := ib.AppendNewBlock("ip_config", nil).Body()
		if n.IP == "" && n.GW == "" && n.IP6 == "" && n.GW6 == "" {
			gap = true
		}
		ipBlocks(ipb, n.IP, n.GW, n.IP6, n.GW6)
	}
	if gap && a.adopted() {
		a.ignore("initialization", "ip_config")
	}
	if len(ct.SSHKeys) > 0 || ct.Password != "" {
		ub := ib.AppendNewBlock("user_account", nil).Body()
		if len(ct.SSHKeys) > 0 {
			ub.SetAttributeValue("keys", stringList(ct.SSHKeys))
		}
		if ct.Password != "" {
			ub.SetAttributeTraversal("password", r.secretVariable(id+"_password", ct.Password, "Root password of "+TypeContainer+"."+id))
		}
		if a.adopted() {
			a.ignore("initialization", "user_account")
		}
	}
}
