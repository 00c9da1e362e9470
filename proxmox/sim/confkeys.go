package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// valType is the JSON type PVE gives a config key when it re-reads the
// config file: integers and booleans become numbers, everything else
// (including QEMU memory and every "number" option such as cpulimit)
// stays a string.
type valType int

const (
	vtString valType = iota
	vtInt
	vtBool
	vtNumber // validated as a number, returned as a string
)

// keyDef describes one guest config key.
type keyDef struct {
	typ      valType
	min, max float64
	format   *propFormat
	enum     []string
	re       *regexp.Regexp
	maxLen   int
	priv     string // VM.Config.* privilege needed to change it
	// hot tells how a running guest takes a change: "fast" applies at once,
	// "network"/"disk"/"usb"/"memory"/"cpu" apply when that hotplug class
	// is enabled (QEMU) or always (LXC "hot"), "hotplug" applies unless
	// memory hot-plug is toggled, "" stays pending.
	hot      string
	readOnly bool // managed by PVE, not settable through the API
}

// lookupKey finds the definition of key in a slot-aware table.
func lookupKey(table map[string]*keyDef, slots map[string]int, key string) (*keyDef, bool) {
	if d, ok := table[key]; ok {
		return d, true
	}
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	if i == len(key) || i == 0 {
		return nil, false
	}
	prefix, num := key[:i], key[i:]
	max, ok := slots[prefix]
	if !ok || (len(num) > 1 && num[0] == '0') {
		return nil, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n > max {
		return nil, false
	}
	d, ok := table[prefix+"N"]
	return d, ok
}

var inf = math.Inf(1)

func intKey(min, max float64, priv, hot string) *keyDef {
	return &keyDef{typ: vtInt, min: min, max: max, priv: priv, hot: hot}
}
func boolKey(priv, hot string) *keyDef { return &keyDef{typ: vtBool, priv: priv, hot: hot} }
func strKey(priv, hot string) *keyDef  { return &keyDef{typ: vtString, priv: priv, hot: hot} }
func enumKey(priv, hot string, e ...string) *keyDef {
	return &keyDef{typ: vtString, enum: e, priv: priv, hot: hot}
}

const (
	privCPU      = "VM.Config.CPU"
	privMemory   = "VM.Config.Memory"
	privDisk     = "VM.Config.Disk"
	privCDROM    = "VM.Config.CDROM"
	privNetwork  = "VM.Config.Network"
	privHWType   = "VM.Config.HWType"
	privOptions  = "VM.Config.Options"
	privCloudini = "VM.Config.Cloudinit"
)

var qemuSlots = map[string]int{"net": 31, "scsi": 30, "virtio": 15, "sata": 5, "ide": 3,
	"ipconfig": 31, "unused": 255, "numa": 7, "serial": 3, "parallel": 2, "usb": 29,
	"hostpci": 15, "virtiofs": 9}

var qemuKeys = map[string]*keyDef{
	"acpi":               boolKey(privHWType, ""),
	"affinity":           strKey(privCPU, ""),
	"agent":              {typ: vtString, format: fmtAgent, priv: privOptions},
	"arch":               enumKey(privHWType, "", "x86_64", "aarch64"),
	"args":               strKey(privOptions, ""),
	"audio0":             strKey(privHWType, ""),
	"autostart":          boolKey(privOptions, ""),
	"balloon":            intKey(0, inf, privMemory, "fast"),
	"bios":               enumKey(privOptions, "", "seabios", "ovmf"),
	"boot":               strKey(privOptions, ""),
	"bootdisk":           strKey(privOptions, ""),
	"cicustom":           strKey(privCloudini, "fast"),
	"cipassword":         strKey(privCloudini, "fast"),
	"citype":             enumKey(privCloudini, "fast", "configdrive2", "nocloud", "opennebula"),
	"ciupgrade":          boolKey(privCloudini, "fast"),
	"ciuser":             strKey(privCloudini, "fast"),
	"cores":              intKey(1, inf, privCPU, ""),
	"cpu":                strKey(privCPU, ""),
	"cpulimit":           {typ: vtNumber, min: 0, max: 128, priv: privCPU, hot: "fast"},
	"cpuunits":           intKey(1, 262144, privCPU, "fast"),
	"description":        {typ: vtString, maxLen: 8192, priv: privOptions, hot: "fast"},
	"efidisk0":           {typ: vtString, format: fmtDrive, priv: privDisk},
	"freeze":             boolKey(privOptions, ""),
	"hookscript":         strKey(privOptions, "fast"),
	"hostpciN":           strKey(privHWType, ""),
	"hotplug":            strKey(privHWType, "hotplug"),
	"hugepages":          enumKey(privMemory, "", "any", "2", "1024"),
	"ideN":               {typ: vtString, format: fmtDrive, priv: privDisk, hot: "disk"},
	"ipconfigN":          {typ: vtString, format: fmtIPConfig, priv: privCloudini, hot: "fast"},
	"ivshmem":            strKey(privHWType, ""),
	"keephugepages":      boolKey(privMemory, ""),
	"keyboard":           strKey(privOptions, ""),
	"kvm":                boolKey(privHWType, ""),
	"localtime":          boolKey(privOptions, ""),
	"lock":               enumKey(privOptions, "", "backup", "clone", "create", "migrate", "rollback", "snapshot", "snapshot-delete", "suspending", "suspended"),
	"machine":            strKey(privHWType, ""),
	"memory":             {typ: vtString, format: fmtMemory, priv: privMemory, hot: "memory"},
	"meta":               strKey(privOptions, ""),
	"migrate_downtime":   {typ: vtNumber, min: 0, max: inf, priv: privOptions},
	"migrate_speed":      intKey(0, inf, privOptions, ""),
	"name":               {typ: vtString, re: reDNSName, priv: privOptions, hot: "fast"},
	"nameserver":         strKey(privCloudini, "fast"),
	"netN":               {typ: vtString, format: fmtQemuNet, priv: privNetwork, hot: "network"},
	"numa":               boolKey(privCPU, ""),
	"numaN":              strKey(privCPU, ""),
	"onboot":             boolKey(privOptions, "fast"),
	"ostype":             enumKey(privHWType, "", "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24", "l26", "solaris"),
	"parallelN":          strKey(privHWType, ""),
	"protection":         boolKey(privOptions, "fast"),
	"reboot":             boolKey(privOptions, ""),
	"rng0":               strKey(privHWType, ""),
	"sataN":              {typ: vtString, format: fmtDrive, priv: privDisk, hot: "disk"},
	"scsiN":              {typ: vtString, format: fmtDrive, priv: privDisk, hot: "disk"},
	"scsihw":             enumKey(privOptions, "", "lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi"),
	"searchdomain":       strKey(privCloudini, "fast"),
	"serialN":            strKey(privHWType, ""),
	"shares":             intKey(0, 50000, privMemory, "fast"),
	"smbios1":            strKey(privHWType, ""),
	"smp":                intKey(1, inf, privCPU, ""),
	"sockets":            intKey(1, inf, privCPU, ""),
	"spice_enhancements": strKey(privHWType, ""),
	"sshkeys":            {typ: vtString, re: reURLEnc, priv: privCloudini, hot: "fast"},
	"startdate":          strKey(privOptions, ""),
	"startup":            {typ: vtString, format: fmtStartup, priv: privOptions, hot: "fast"},
	"tablet":             boolKey(privHWType, ""),
	"tags":               {typ: vtString, priv: privOptions, hot: "fast"},
	"tdf":                boolKey(privOptions, ""),
	"template":           boolKey(privOptions, ""),
	"tpmstate0":          {typ: vtString, format: fmtDrive, priv: privDisk},
	"unusedN":            {typ: vtString, priv: privDisk, hot: "fast"},
	"usbN":               strKey(privHWType, "usb"),
	"vcpus":              intKey(1, inf, privCPU, "cpu"),
	"vga":                strKey(privHWType, ""),
	"virtioN":            {typ: vtString, format: fmtDrive, priv: privDisk, hot: "disk"},
	"virtiofsN":          strKey(privOptions, ""),
	"vmgenid":            strKey(privOptions, ""),
	"vmstatestorage":     strKey(privOptions, "fast"),
	"watchdog":           strKey(privHWType, ""),
	"parent":             {typ: vtString, readOnly: true},
	"runningmachine":     {typ: vtString, readOnly: true},
	"runningcpu":         {typ: vtString, readOnly: true},
	"vmstate":            {typ: vtString, readOnly: true},
}

var lxcSlots = map[string]int{"net": 31, "mp": 255, "unused": 255, "dev": 255}

var lxcKeys = map[string]*keyDef{
	"arch":         enumKey(privHWType, "", "amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"),
	"cmode":        enumKey(privOptions, "", "shell", "console", "tty"),
	"console":      boolKey(privOptions, ""),
	"cores":        intKey(1, 8192, privCPU, "fast"),
	"cpulimit":     {typ: vtNumber, min: 0, max: 8192, priv: privCPU, hot: "hot"},
	"cpuunits":     intKey(0, 500000, privCPU, "hot"),
	"debug":        boolKey(privOptions, ""),
	"description":  {typ: vtString, maxLen: 8192, priv: privOptions, hot: "fast"},
	"devN":         strKey(privDisk, ""),
	"features":     {typ: vtString, format: fmtFeatures, priv: privOptions},
	"hookscript":   strKey(privOptions, "fast"),
	"hostname":     {typ: vtString, re: reDNSName, maxLen: 255, priv: privOptions, hot: "fast"},
	"lock":         enumKey(privOptions, "", "backup", "create", "destroyed", "disk", "fstrim", "migrate", "mounted", "rollback", "snapshot", "snapshot-delete"),
	"memory":       intKey(16, inf, privMemory, "hot"),
	"mpN":          {typ: vtString, format: fmtMP, priv: privDisk, hot: "hotnew"},
	"nameserver":   strKey(privOptions, ""),
	"netN":         {typ: vtString, format: fmtLXCNet, priv: privNetwork, hot: "hot"},
	"onboot":       boolKey(privOptions, "fast"),
	"ostype":       enumKey(privOptions, "", "debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged"),
	"protection":   boolKey(privOptions, "fast"),
	"rootfs":       {typ: vtString, format: fmtRootfs, priv: privDisk},
	"searchdomain": strKey(privOptions, ""),
	"startup":      {typ: vtString, format: fmtStartup, priv: privOptions, hot: "fast"},
	"swap":         intKey(0, inf, privMemory, "hot"),
	"tags":         {typ: vtString, priv: privOptions, hot: "fast"},
	"template":     boolKey(privOptions, ""),
	"timezone":     strKey(privOptions, ""),
	"tty":          intKey(0, 6, privOptions, ""),
	"unprivileged": boolKey(privOptions, ""),
	"unusedN":      {typ: vtString, priv: privDisk, hot: "fast"},
	"entrypoint":   strKey(privOptions, ""),
	"env":          strKey(privOptions, ""),
	"parent":       {typ: vtString, readOnly: true},
}

// typedValue converts a stored config value to the JSON type PVE returns.
func typedValue(d *keyDef, v string) any {
	if d == nil {
		return v
	}
	switch d.typ {
	case vtInt, vtBool:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

// checkParam validates value for key against d and returns the value
// normalised as PVE stores it (booleans 0/1, NICs and drives re-printed
// later by the caller), or the errors-map text.
func checkParam(d *keyDef, key, value string) (string, string) {
	switch d.typ {
	case vtBool:
		switch value {
		case "0", "1":
			return value, ""
		}
		return value, fmt.Sprintf("type check ('boolean') failed - got '%s'", value)
	case vtInt:
		n, err := strconv.ParseInt(strings.TrimPrefix(value, "+"), 10, 64)
		if err != nil {
			return value, fmt.Sprintf("type check ('integer') failed - got '%s'", value)
		}
		if msg := checkRange(propKey{min: d.min, max: d.max}, float64(n)); msg != "" {
			return value, msg
		}
		return strconv.FormatInt(n, 10), ""
	case vtNumber:
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return value, fmt.Sprintf("type check ('number') failed - got '%s'", value)
		}
		if msg := checkRange(propKey{min: d.min, max: d.max}, n); msg != "" {
			return value, msg
		}
		return value, ""
	}
	if d.enum != nil && !contains(d.enum, value) {
		return value, fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", value, strings.Join(d.enum, ", "))
	}
	if d.re != nil && !d.re.MatchString(value) {
		return value, "value does not match the regex pattern"
	}
	if d.maxLen > 0 && len(value) > d.maxLen {
		return value, fmt.Sprintf("value may only be %d characters long", d.maxLen)
	}
	if key == "tags" && !validTags(value) {
		return value, "invalid characters in tag"
	}
	if d.format != nil {
		p, err := parseProp(d.format, key, value)
		if err != nil {
			return value, err.Error()
		}
		if d.format == fmtIPConfig {
			if msg := validIPConfig(p); msg != "" {
				return value, "invalid format - " + msg + "\n"
			}
		}
		if d.format == fmtLXCNet {
			if msg := validLXCNetIP(p); msg != "" {
				return value, msg
			}
		}
		if d.format == fmtMemory {
			return value, ""
		}
	}
	return value, ""
}

// jsonScalar turns a decoded JSON value into PVE's parameter text. JSON
// booleans become 1/0; arrays are joined with commas (the *-list rule).
func jsonScalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		var parts []string
		for _, e := range x {
			s, ok := jsonScalar(e)
			if ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ","), true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}
