package pve

import "github.com/pmpc-dev/pmpc/resource"

// Config is a guest's flat PVE config: key -> value printed as PVE prints it.
// An absent key and an empty value mean the same thing: not set.
type Config map[string]string

// SubDiff is one difference Diff found inside a config key. SubKey names the
// property-string sub-key ("bridge", "size", "storage", ...) or is "" for a
// whole scalar value or a key that is present on one side only. Before is
// the observed value, After the desired one; "" means absent.
type SubDiff struct {
	SubKey string `json:"subkey,omitempty"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// CompileVM turns a desired VM into the flat config pmpc wants PVE to hold:
// only keys the spec sets, plus name (defaulting to the definition key
// name) and tags (always carrying resource.ManagedTag). Disks to allocate
// are written in PVE's allocation syntax ("local-lvm:32,iothread=1"), which
// is also what create sends. Secrets stay references: cipassword holds the
// SecretRef string, never the secret. Pool, power state, node, vmid and
// clone are not config keys and are not compiled.
func CompileVM(name string, vm *resource.VM) (Config, error) { return compileVM(name, vm) }

// CompileContainer is CompileVM for an LXC container. hostname defaults to
// the definition key. The create-only parameters that PVE does not keep in
// the config (ostemplate, password, ssh-public-keys) are not compiled: see
// ContainerCreateParams.
func CompileContainer(name string, ct *resource.Container) (Config, error) {
	return compileContainer(name, ct)
}

// CompilePool returns the pool's comment ("" when unset).
func CompilePool(p *resource.Pool) string {
	if p == nil || p.Comment == nil {
		return ""
	}
	return *p.Comment
}

// ImportVM turns an observed guest into a spec holding exactly what PVE
// returned: no invented defaults, keys PVE manages itself (Ignored) left out,
// MAC addresses and the masked cipassword left out, and every key the spec
// does not model kept verbatim in Extra. CompileVM of the result compared
// with g.Config key by key (Diff) shows no differences.
func ImportVM(g *resource.Guest) *resource.VM { return importVM(g) }

// ImportContainer is ImportVM for an LXC container. Raw lxc.* lines (the
// "lxc" key) go to Extra["lxc"]; hwaddr and type=veth are left out of NICs.
func ImportContainer(g *resource.Guest) *resource.Container { return importContainer(g) }

// Diff compares one key of a desired config with the observed one in PVE's
// terms and returns the differences sub-key by sub-key; nil means equal.
// Either value may be "" (absent). It knows that disks compare storage (not
// PVE's volume name), size (as bytes) and options, so allocation syntax
// matches the allocated volume; that MACs the desired value leaves unset are
// not compared; that tags compare as sets ignoring order, case and the
// ManagedTag; that booleans 1/on/yes/true are equal; that numbers "2" and
// "2.0" are equal; that sshkeys compare decoded; that qemu memory "4096"
// equals "current=4096"; and that boot compares its order list.
//
// Ignored keys never differ. Sensitive keys compare only presence, because
// PVE masks their value; their SubDiff values read "(sensitive)" — the plan
// detects a changed secret by other means (a salted hash). Diff does not
// consult DefaultedByPVE: callers decide which absent desired keys to
// compare at all.
func Diff(kind resource.Kind, key, desired, observed string) []SubDiff {
	return diff(kind, key, desired, observed)
}

// Ignored reports keys never compared and never imported because PVE manages
// them: digest, lock, parent, meta, vmgenid, smbios1, runningmachine,
// runningcpu, vmstate, snaptime, pending.
func Ignored(kind resource.Kind, key string) bool { return ignored(kind, key) }

// DefaultedByPVE reports keys PVE fills in at create when they are absent
// (qemu boot, machine for Windows; lxc arch, ostype, hostname, rootfs):
// compared only when the spec sets them, and never deleted because the spec
// leaves them out.
func DefaultedByPVE(kind resource.Kind, key string) bool { return defaultedByPVE(kind, key) }

// NotWritable reports keys the PVE API can neither set nor delete, not even
// for root@pam: an LXC container's raw lxc.* lines (the "lxc" key), which
// only an edit of /etc/pve/lxc/VMID.conf on the node changes. They are
// imported and compared, but a plan cannot write them: it leaves them alone
// when the spec does not set them, and refuses a spec that sets them to
// something else.
func NotWritable(kind resource.Kind, key string) bool {
	return kind == resource.KindContainer && key == "lxc"
}

// CreateOnly reports keys that cannot change after creation (lxc
// unprivileged, ostemplate): a change to one needs the guest replaced.
func CreateOnly(kind resource.Kind, key string) bool { return createOnly(kind, key) }

// UpdateValue returns the value to send in a config update for key, given the
// desired (compiled) value and the observed one. For a disk on the same
// storage it keeps the existing volume and applies the desired options — a
// size change is not made here, it is a resize (see DiskSizeChange); the
// size sub-key records the larger of the desired and the observed size, so
// the value agrees with the disk once the resize is done (a value that stays
// pending on a running guest would otherwise bring the old size back). For a NIC whose desired value pins no MAC it keeps the
// observed MAC (and for lxc the observed type). Otherwise it returns desired.
// An empty desired value means the key is to be deleted and returns "".
func UpdateValue(kind resource.Kind, key, desired, observed string) string {
	return updateValue(kind, key, desired, observed)
}

// DiskSizeChange reports, for a disk key (qemu drive slots, lxc rootfs and
// mpN), the desired and observed sizes in bytes. A size is 0 when unknown
// (no size in the value, or not a disk key); ok is true only when both are
// known. It does not say whether they differ: compare want and have.
func DiskSizeChange(kind resource.Kind, key, desired, observed string) (want, have int64, ok bool) {
	return diskSizeChange(kind, key, desired, observed)
}

// Sensitive reports keys whose value is a secret (qemu cipassword; lxc
// password). Their compiled value is a SecretRef to resolve at apply time,
// and PVE never returns them in clear.
func Sensitive(kind resource.Kind, key string) bool {
	switch kind {
	case resource.KindVM:
		return key == "cipassword"
	case resource.KindContainer:
		return key == "password"
	}
	return false
}
