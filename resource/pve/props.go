package pve

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// Format identifies one PVE property-string format: which keys it has, which
// key may be written bare (the default key), and whether PVE re-prints it in
// canonical order or stores it as sent.
type Format uint8

// The formats pmpc knows.
const (
	// Generic accepts any keys; a bare first value is kept under the key "".
	Generic Format = iota
	// QemuNet is a VM's netN: "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0".
	QemuNet
	// LXCNet is a container's netN: "name=eth0,bridge=vmbr0,hwaddr=...,type=veth".
	LXCNet
	// Drive is a VM disk slot (scsiN, virtioN, sataN, ideN) or unusedN.
	Drive
	// EFIDisk is a VM's efidisk0.
	EFIDisk
	// TPMState is a VM's tpmstate0.
	TPMState
	// LXCMount is a container's rootfs, mpN or unusedN.
	LXCMount
	// IPConfig is a VM's cloud-init ipconfigN.
	IPConfig
	// Agent is a VM's agent ("1" or "enabled=1,type=virtio").
	Agent
	// Boot is a VM's boot ("order=scsi0;net0").
	Boot
	// Startup is a guest's startup ("order=1,up=30,down=60").
	Startup
	// Features is a container's features ("nesting=1,keyctl=1").
	Features
	// Memory is a VM's memory on PVE 8.1+ ("4096" or "current=4096").
	Memory
	// CICustom is a VM's cicustom ("user=local:snippets/u.yaml").
	CICustom
)

type keyType uint8

const (
	tString keyType = iota
	tBool
	tInt
	tNumber
	tSize
)

type formatSpec struct {
	name string
	// defaultKey may be written without "key=".
	defaultKey string
	// required keys print right after the default key.
	required []string
	// keys lists the known keys and their value types; nil means any key.
	keys map[string]keyType
	// aliases maps an alternative key name to the key it stands for.
	aliases map[string]string
	// canonical formats are re-printed by PVE: default key, required keys,
	// then the rest sorted. Others are stored as sent and keep their order.
	canonical bool
	// values restricts the default key's value to a set, when non-nil.
	values map[string]bool
}

// nicModels are the QEMU NIC models; each doubles as a key standing for
// macaddr ("virtio=MAC").
var nicModels = []string{
	"e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e",
	"i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet",
	"rtl8139", "virtio", "vmxnet3",
}

func set(ss ...string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func keys(t keyType, m map[string]keyType, ks ...string) {
	for _, k := range ks {
		m[k] = t
	}
}

var specs = func() map[Format]*formatSpec {
	s := map[Format]*formatSpec{}
	s[Generic] = &formatSpec{name: "generic", defaultKey: ""}

	qn := map[string]keyType{}
	keys(tString, qn, "model", "macaddr", "bridge", "trunks")
	keys(tBool, qn, "firewall", "link_down")
	keys(tInt, qn, "tag", "queues", "mtu")
	keys(tNumber, qn, "rate")
	s[QemuNet] = &formatSpec{name: "qemu net", defaultKey: "model", keys: qn, canonical: true,
		values: set(nicModels...), aliases: map[string]string{}}

	ln := map[string]keyType{}
	keys(tString, ln, "name", "bridge", "hwaddr", "ip", "gw", "ip6", "gw6", "trunks", "type")
	keys(tBool, ln, "firewall", "link_down", "host-managed")
	keys(tInt, ln, "tag", "mtu")
	keys(tNumber, ln, "rate")
	s[LXCNet] = &formatSpec{name: "lxc net", required: []string{"name"}, keys: ln, canonical: true}

	dr := map[string]keyType{}
	keys(tString, dr, "file", "media", "format", "cache", "aio", "discard", "serial", "werror", "rerror",
		"trans", "model", "wwn", "import-from", "product", "vendor", "snapshot-as-volume-chain")
	keys(tBool, dr, "iothread", "ssd", "backup", "replicate", "ro", "shared", "snapshot", "detect_zeroes", "removable")
	keys(tInt, dr, "cyls", "heads", "secs", "queues",
		"iops", "iops_max", "iops_max_length", "iops_rd", "iops_rd_max", "iops_rd_max_length",
		"iops_wr", "iops_wr_max", "iops_wr_max_length",
		"bps", "bps_max_length", "bps_rd", "bps_rd_max_length", "bps_wr", "bps_wr_max_length")
	keys(tNumber, dr, "mbps", "mbps_max", "mbps_rd", "mbps_rd_max", "mbps_wr", "mbps_wr_max")
	keys(tSize, dr, "size")
	s[Drive] = &formatSpec{name: "drive", defaultKey: "file", keys: dr, canonical: true,
		aliases: map[string]string{"volume": "file"}}

	ef := map[string]keyType{}
	keys(tString, ef, "file", "efitype", "format", "import-from", "ms-cert")
	keys(tBool, ef, "pre-enrolled-keys")
	keys(tSize, ef, "size")
	s[EFIDisk] = &formatSpec{name: "efidisk", defaultKey: "file", keys: ef, canonical: true,
		aliases: map[string]string{"volume": "file"}}

	tp := map[string]keyType{}
	keys(tString, tp, "file", "version", "import-from")
	keys(tSize, tp, "size")
	s[TPMState] = &formatSpec{name: "tpmstate", defaultKey: "file", keys: tp, canonical: true,
		aliases: map[string]string{"volume": "file"}}

	mt := map[string]keyType{}
	keys(tString, mt, "volume", "mp", "mountoptions")
	keys(tBool, mt, "acl", "backup", "quota", "replicate", "ro", "shared")
	keys(tSize, mt, "size")
	s[LXCMount] = &formatSpec{name: "lxc mount", defaultKey: "volume", required: []string{"mp"}, keys: mt,
		canonical: true}

	ip := map[string]keyType{}
	keys(tString, ip, "ip", "gw", "ip6", "gw6")
	s[IPConfig] = &formatSpec{name: "ipconfig", keys: ip}

	ag := map[string]keyType{}
	keys(tBool, ag, "enabled", "fstrim_cloned_disks", "freeze-fs-on-backup")
	keys(tString, ag, "type")
	s[Agent] = &formatSpec{name: "agent", defaultKey: "enabled", keys: ag}

	bo := map[string]keyType{}
	keys(tString, bo, "order", "legacy")
	s[Boot] = &formatSpec{name: "boot", defaultKey: "legacy", keys: bo}

	st := map[string]keyType{}
	keys(tInt, st, "order", "up", "down")
	s[Startup] = &formatSpec{name: "startup", defaultKey: "order", keys: st}

	fe := map[string]keyType{}
	keys(tBool, fe, "nesting", "keyctl", "fuse", "mknod", "force_rw_sys")
	keys(tString, fe, "mount")
	s[Features] = &formatSpec{name: "features", keys: fe}

	me := map[string]keyType{}
	keys(tInt, me, "current")
	s[Memory] = &formatSpec{name: "memory", defaultKey: "current", keys: me}

	cc := map[string]keyType{}
	keys(tString, cc, "user", "network", "meta", "vendor")
	s[CICustom] = &formatSpec{name: "cicustom", keys: cc}

	for _, m := range nicModels {
		s[QemuNet].aliases[m] = "macaddr"
	}
	return s
}()

// String names the format, e.g. "qemu net".
func (f Format) String() string {
	if s, ok := specs[f]; ok {
		return s.name
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

func (f Format) spec() *formatSpec {
	if s, ok := specs[f]; ok {
		return s
	}
	return specs[Generic]
}

// DefaultKey is the key that may be written without "key=" ("model" for
// qemu net, "file" for drives, "volume" for lxc mounts), or "" if none.
func (f Format) DefaultKey() string { return f.spec().defaultKey }

// Props is a parsed property string. It keeps keys in the order they were
// parsed or set, resolves aliases ("volume" -> "file"; qemu "virtio=MAC" ->
// model=virtio plus macaddr=MAC) and records whether the default key was
// written bare. The zero Props is an empty Generic property string.
type Props struct {
	format Format
	keys   []string
	vals   map[string]string
	// bare records that the default key was written without "key=".
	bare bool
}

// NewProps returns an empty property string of the given format.
func NewProps(format Format) Props { return Props{format: format} }

// Format is the format p was parsed or created with.
func (p Props) Format() Format { return p.format }

// ParseProps parses s as a property string of the given format. Empty parts
// ("a,,b") are skipped as PVE does. It fails on a duplicate key, on a bare
// value when the format has no default key (or it was already given), on an
// empty key or value, and — in every format but Generic — on an unknown key
// or a boolean that is not one of 1/0/on/off/yes/no/true/false.
func ParseProps(format Format, s string) (Props, error) {
	sp := format.spec()
	p := Props{format: format}
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		k, v, hasEq := strings.Cut(part, "=")
		if !hasEq {
			// A bare value belongs to the default key.
			if sp.keys != nil && sp.defaultKey == "" {
				return Props{}, fmt.Errorf("%s %q: value %q without a key", sp.name, s, part)
			}
			k, v = sp.defaultKey, part
			if sp.values != nil && !sp.values[v] {
				return Props{}, fmt.Errorf("%s %q: unknown %s %q", sp.name, s, k, v)
			}
			if p.has(k) {
				return Props{}, fmt.Errorf("%s %q: duplicate %s", sp.name, s, describeKey(k))
			}
			if sp.keys[k] == tBool {
				if _, ok := ParseBool(v); !ok {
					return Props{}, fmt.Errorf("%s %q: %s %q is not a boolean", sp.name, s, k, v)
				}
			}
			p.bare = true
			p.set(k, v)
			continue
		}
		if k == "" {
			return Props{}, fmt.Errorf("%s %q: empty key in %q", sp.name, s, part)
		}
		if v == "" {
			return Props{}, fmt.Errorf("%s %q: key %q has no value", sp.name, s, k)
		}
		if target, ok := sp.aliases[k]; ok {
			if format == QemuNet {
				// "virtio=MAC" is model=virtio plus macaddr=MAC.
				if p.has("model") {
					return Props{}, fmt.Errorf("%s %q: duplicate key %q", sp.name, s, "model")
				}
				p.bare = true
				p.set("model", k)
			}
			k = target
		}
		if sp.keys != nil {
			t, known := sp.keys[k]
			if !known {
				return Props{}, fmt.Errorf("%s %q: unknown key %q", sp.name, s, k)
			}
			if t == tBool {
				if _, ok := ParseBool(v); !ok {
					return Props{}, fmt.Errorf("%s %q: key %q: %q is not a boolean", sp.name, s, k, v)
				}
			}
			if k == sp.defaultKey && sp.values != nil && !sp.values[v] {
				return Props{}, fmt.Errorf("%s %q: unknown %s %q", sp.name, s, k, v)
			}
		}
		if p.has(k) {
			return Props{}, fmt.Errorf("%s %q: duplicate key %q", sp.name, s, k)
		}
		p.set(k, v)
	}
	return p, nil
}

func describeKey(k string) string {
	if k == "" {
		return "bare value"
	}
	return "key " + strconv.Quote(k)
}

func (p *Props) has(k string) bool {
	_, ok := p.vals[k]
	return ok
}

func (p *Props) set(k, v string) {
	if p.vals == nil {
		p.vals = map[string]string{}
	}
	if _, ok := p.vals[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[k] = v
}

// Get returns the value of key k (aliases resolved) and whether it is set.
func (p Props) Get(k string) (string, bool) {
	if t, ok := p.format.spec().aliases[k]; ok && p.format != QemuNet {
		k = t
	}
	v, ok := p.vals[k]
	return v, ok
}

// Value returns the value of key k, or "" when it is not set.
func (p Props) Value(k string) string {
	v, _ := p.Get(k)
	return v
}

// Set sets key k to v, keeping k's position if it is already set. An empty
// v deletes k. Values must not contain ',': PVE has no way to quote one.
func (p *Props) Set(k, v string) {
	if t, ok := p.format.spec().aliases[k]; ok && p.format != QemuNet {
		k = t
	}
	if v == "" {
		p.Del(k)
		return
	}
	p.set(k, v)
}

// Del removes key k.
func (p *Props) Del(k string) {
	if _, ok := p.vals[k]; !ok {
		return
	}
	delete(p.vals, k)
	for i, x := range p.keys {
		if x == k {
			p.keys = append(p.keys[:i:i], p.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in p's print order (see String).
func (p Props) Keys() []string {
	sp := p.format.spec()
	if !sp.canonical {
		return append([]string(nil), p.keys...)
	}
	out := make([]string, 0, len(p.keys))
	seen := map[string]bool{}
	add := func(k string) {
		if _, ok := p.vals[k]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	add(sp.defaultKey)
	if p.format == QemuNet {
		add("macaddr")
	}
	for _, k := range sp.required {
		add(k)
	}
	rest := make([]string, 0, len(p.keys))
	for _, k := range p.keys {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Len is the number of keys set.
func (p Props) Len() int { return len(p.keys) }

// Map returns a copy of p's keys and values.
func (p Props) Map() map[string]string {
	m := make(map[string]string, len(p.vals))
	for k, v := range p.vals {
		m[k] = v
	}
	return m
}

// Equal reports whether p and q hold the same keys and values (order and
// bare-ness aside).
func (p Props) Equal(q Props) bool {
	if len(p.vals) != len(q.vals) {
		return false
	}
	for k, v := range p.vals {
		if w, ok := q.vals[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// String prints p as PVE does. Formats PVE re-prints (qemu and lxc net,
// drives, efidisk, tpmstate, lxc mounts) come out in PVE's canonical order:
// the default key bare first (qemu net: "virtio=MAC"), then required keys
// (lxc net name, mount mp), then the rest sorted. Formats PVE stores as sent
// keep their order, and their default key stays bare if it was parsed bare.
// So for every string PVE returns, String(ParseProps(s)) == s.
func (p Props) String() string {
	sp := p.format.spec()
	var b strings.Builder
	_, hasModel := p.vals["model"]
	for _, k := range p.Keys() {
		v := p.vals[k]
		if p.format == QemuNet && k == "macaddr" && hasModel {
			continue // printed with the model: "virtio=MAC"
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		switch {
		case p.format == QemuNet && k == "model":
			b.WriteString(v)
			if mac, ok := p.vals["macaddr"]; ok {
				b.WriteByte('=')
				b.WriteString(mac)
			}
			continue
		case k == sp.defaultKey && (sp.canonical || p.bare || k == "") && !strings.Contains(v, "="):
			b.WriteString(v)
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String()
}

// ParseBool parses a PVE boolean: 1/0, on/off, yes/no, true/false, in any case.
func ParseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "1", "on", "yes", "true":
		return true, true
	case "0", "off", "no", "false":
		return false, true
	}
	return false, false
}

// FormatBool prints a boolean as PVE does: "1" or "0".
func FormatBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var (
	reDriveSlot = regexp.MustCompile(`^(scsi|virtio|sata|ide)\d+$`)
	reSlot      = regexp.MustCompile(`^([a-z_]+?)(\d+)$`)
)

// IsDriveSlot reports whether key is a VM disk slot (scsiN, virtioN, sataN, ideN).
func IsDriveSlot(key string) bool { return reDriveSlot.MatchString(key) }

// FormatOf reports which property-string format a config key of the given
// kind has. Scalars (cores, name, ...) report false. Property strings pmpc
// does not model (hostpciN, usbN, vga, cpu, ...) report Generic.
func FormatOf(kind resource.Kind, key string) (Format, bool) {
	prefix := key
	if m := reSlot.FindStringSubmatch(key); m != nil {
		prefix = m[1]
	}
	switch kind {
	case resource.KindVM:
		switch prefix {
		case "net":
			return QemuNet, true
		case "scsi", "virtio", "sata", "ide", "unused":
			if prefix == key {
				return 0, false
			}
			return Drive, true
		case "ipconfig":
			return IPConfig, true
		case "hostpci", "usb", "numa", "serial", "parallel", "virtiofs":
			return Generic, true
		}
		switch key {
		case "efidisk0":
			return EFIDisk, true
		case "tpmstate0":
			return TPMState, true
		case "agent":
			return Agent, true
		case "boot":
			return Boot, true
		case "startup":
			return Startup, true
		case "memory":
			return Memory, true
		case "cicustom":
			return CICustom, true
		case "vga", "cpu", "rng0", "audio0", "spice_enhancements", "smbios1", "meta", "watchdog", "amd-sev", "intel-tdx":
			return Generic, true
		}
	case resource.KindContainer:
		switch prefix {
		case "net":
			return LXCNet, true
		case "mp", "unused":
			if prefix == key {
				return 0, false
			}
			return LXCMount, true
		case "dev":
			return Generic, true
		}
		switch key {
		case "rootfs":
			return LXCMount, true
		case "features":
			return Features, true
		case "startup":
			return Startup, true
		}
	}
	return 0, false
}
