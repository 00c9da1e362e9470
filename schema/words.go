package schema

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file holds the plain words that error messages use for the schema's
// constraints, so that a Proxmox admin reads "want a size such as 32G"
// rather than a regular expression. Tests check that every pattern, slot
// definition and struct of pmpc.cue has its words here.

// slotWords lists the keys a slot definition accepts.
var slotWords = map[string]string{
	"#DiskSlot":     "scsi0 … scsi30, virtio0 … virtio15, sata0 … sata5, ide0 … ide3",
	"#NetSlot":      "net0 … net31",
	"#IPConfigSlot": "ipconfig0 … ipconfig31 (ipconfigN goes with netN)",
	"#MountSlot":    "mp0 … mp255",
}

const dnsRule = "letters, digits and hyphens, dot-separated; no underscores"

// patternWords says in words what a value matching a schema pattern looks
// like, keyed by where the pattern is declared: a definition or a field.
var patternWords = map[string]string{
	"#DNSName":      "a DNS name such as web-01 (" + dnsRule + ")",
	"#NodeName":     "a node name such as pve1 (letters, digits and hyphens; no dots or underscores)",
	"#Tag":          "a tag such as web or prod_eu (letters, digits and _ + . -, not starting with + . or -; no spaces)",
	"#PoolID":       "a pool id such as prod or prod/web (letters, digits, '.', '-' and '_'; up to three levels joined by '/')",
	"#Storage":      "a storage id such as local-lvm (a letter, then letters, digits, '.', '-' or '_', ending with a letter or digit)",
	"#Bridge":       "a bridge such as vmbr0 (letters, digits, '.', '-' and '_')",
	"#Size":         "a size such as 32G (a number with K, M, G or T)",
	"#MAC":          "a MAC address such as BC:24:11:2E:4A:01 (six hex pairs joined by ':')",
	"#Trunks":       "VLAN trunks such as 10;20-30 (VLAN ids and ranges joined by ';')",
	"#Rate":         "a rate limit in MB/s such as 12.5 (a plain number)",
	"#Startup":      "a startup order such as order=1,up=30 (order=N, up=N and down=N, comma-separated)",
	"#Secret":       `a secret reference: "env:NAME" (an environment variable) or "file:PATH" (a file relative to the workspace root)`,
	"#DiskSlot":     "a disk slot: " + slotWords["#DiskSlot"],
	"#NetSlot":      "a network slot: " + slotWords["#NetSlot"],
	"#IPConfigSlot": "an ipconfig slot: " + slotWords["#IPConfigSlot"],
	"#MountSlot":    "a mount point slot: " + slotWords["#MountSlot"],
	"#BootSlot":     "a boot device such as scsi0 or net0 (a disk or network slot, hostpciN or usbN)",

	"#CloudInit.drive":    "a cloud-init drive slot: ide0 … ide3, sata0 … sata5 or scsi0 … scsi30",
	"#Container.cpulimit": "a CPU limit such as 1.5 (a number of cores)",
	"#Mount.path":         "an absolute path such as /data",
	"#CTNIC.name":         "an interface name such as eth0 (1 to 15 letters, digits, '_', '.' or '-')",
	"#IPConfig.ip":        "an IPv4 address with prefix length such as 10.0.0.5/24",
	"#IPConfig.gw":        "an IPv4 address such as 10.0.0.1",
	"#IPConfig.ip6":       "an IPv6 address with prefix length such as 2001:db8::5/64",
	"#IPConfig.gw6":       "an IPv6 address such as 2001:db8::1",
	"#CTNIC.ip":           "an IPv4 address with prefix length such as 10.0.0.5/24",
	"#CTNIC.gw":           "an IPv4 address such as 10.0.0.1",
	"#CTNIC.ip6":          "an IPv6 address with prefix length such as 2001:db8::5/64",
	"#CTNIC.gw6":          "an IPv6 address such as 2001:db8::1",
}

// fieldWords override the words of a field whose pattern is shared.
var fieldWords = map[string]string{
	"#VM.name":            "a valid Proxmox VM name such as web-01 (" + dnsRule + ")",
	"#Container.hostname": "a valid hostname such as dns-01 (" + dnsRule + ")",
}

// structNouns name what a struct definition describes.
var structNouns = map[string]string{
	"#VM":        "a VM",
	"#Container": "a container",
	"#Pool":      "a pool",
	"#Clone":     "clone",
	"#Agent":     "agent",
	"#Disk":      "a disk",
	"#EFIDisk":   "efidisk",
	"#TPM":       "tpm",
	"#NIC":       "a VM network device",
	"#CloudInit": "cloudinit",
	"#IPConfig":  "an ipconfig",
	"#Features":  "features",
	"#Mount":     "a mount point",
	"#CTNIC":     "a container network device",
}

// aliases are what admins write for a field under another name (often
// PVE's own key), by struct.
var aliases = map[string]map[string]string{
	"#VM":        {"hostname": "name", "ram": "memory", "disk": "disks", "net": "networks", "nics": "networks", "efidisk0": "efidisk", "tpmstate0": "tpm"},
	"#Container": {"name": "hostname", "ram": "memory", "net": "networks", "nics": "networks", "sshkeys": "ssh_keys"},
	"#NIC":       {"vlan": "tag", "mac": "macaddr", "hwaddr": "macaddr", "type": "model"},
	"#CTNIC":     {"vlan": "tag", "mac": "hwaddr", "macaddr": "hwaddr", "ip4": "ip"},
	"#CloudInit": {"sshkeys": "ssh_keys", "ciuser": "user", "cipassword": "password", "citype": "type", "cicustom": "custom"},
	"#EFIDisk":   {"efitype": "type"},
	"#Disk":      {"file": "volume", "iso": "volume"},
}

// units name the unit of numeric fields.
var units = map[string]string{
	"#VM.memory":        "MiB",
	"#VM.balloon":       "MiB",
	"#Container.memory": "MiB",
	"#Container.swap":   "MiB",
	"#NIC.mtu":          "bytes",
	"#CTNIC.mtu":        "bytes",
}

// requiredHints say what to write for a missing required field.
var requiredHints = map[string]string{
	"#NIC.model":     "set model, e.g. model: virtio",
	"#CTNIC.name":    "set name, the interface name inside the container, e.g. name: eth0",
	"#Clone.from":    "set from to the template's vm key or VMID",
	"#Agent.enabled": "set enabled: true or false",
}

// missingNode is the message for a guest with no node.
const missingNode = "required field is missing; set node, or defaults.node in pmpc.cue"

// words returns the words for a schema pattern literal (as CUE prints it,
// `=~"..."`) met at field f (may be nil).
func (s *shape) words(f *sfield, lit string) (string, bool) {
	where, ok := s.regexDef[lit]
	if !ok {
		return "", false
	}
	if f != nil {
		if w, ok := fieldWords[f.key()]; ok {
			return w, true
		}
		// A pattern written at the field (the same literal may serve
		// another field too).
		if w, ok := patternWords[f.key()]; ok && f.node != nil && slices.Contains(s.regexesOf(f.node.expr), lit) {
			return w, true
		}
	}
	w, ok := patternWords[where]
	return w, ok
}

// want describes in words the value a field wants, for type errors: its
// pattern's words, its choices, or its kind.
func (s *shape) want(f *sfield, n *snode) string {
	if f != nil {
		if w, ok := fieldWords[f.key()]; ok {
			return w
		}
	}
	if n == nil {
		return ""
	}
	if n.expr != nil {
		if rs := s.regexesOf(n.expr); len(rs) == 1 && len(s.alternatives(n.expr)) == 1 {
			if w, ok := s.words(f, rs[0]); ok {
				return w
			}
		}
		if e := s.enumOf(n.expr); len(e) > 0 {
			return joinOr(e)
		}
	}
	switch s.kindOf(n) {
	case "int":
		return "a whole number"
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "struct":
		switch {
		case n.pattern && slotWords[n.keyDef] != "":
			first, _, _ := strings.Cut(slotWords[n.keyDef], " ")
			return fmt.Sprintf("a mapping of slots (%s) to devices, e.g. %s: {...}", slotWords[n.keyDef], first)
		case len(n.order) > 0 && len(n.order) <= 6:
			return "a mapping with " + joinOr(n.order)
		}
		return "a mapping of fields"
	case "list":
		if n.elem != nil {
			if w := patternWords[n.elem.def]; w != "" {
				return "a list, each " + w
			}
		}
		return "a list"
	}
	return ""
}

// joinOr joins choices as `a, b or c`.
func joinOr(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// boundWords says in words what a numeric bound wants. When the bound is
// the schema's own, the field's whole range is given.
func (s *shape) boundWords(f *sfield, n *snode, op, num string) string {
	unit := ""
	if f != nil && units[f.key()] != "" {
		unit = " (" + units[f.key()] + ")"
	}
	if n != nil && n.expr != nil {
		bs := s.bounds(n.expr)
		var lo, hi string
		mine := false
		for _, b := range bs {
			if b.op == op && b.num == num {
				mine = true
			}
			switch b.op {
			case ">=":
				lo = b.num
			case "<=":
				hi = b.num
			}
		}
		if mine && lo != "" && hi != "" {
			return fmt.Sprintf("want %s to %s%s", lo, hi, unit)
		}
	}
	switch op {
	case ">=":
		return fmt.Sprintf("want at least %s%s", num, unit)
	case "<=":
		return fmt.Sprintf("want at most %s%s", num, unit)
	case ">":
		return fmt.Sprintf("want more than %s%s", num, unit)
	case "<":
		return fmt.Sprintf("want less than %s%s", num, unit)
	}
	return ""
}

// unknownField is the message for a field a struct does not allow: the
// likely intended field, else the fields there are.
func unknownField(n *snode, name string) string {
	if n.pattern && n.keyDef != "" && slotWords[n.keyDef] != "" {
		return "no such slot: want " + slotWords[n.keyDef]
	}
	if s := aliases[n.def][strings.ToLower(name)]; s != "" && n.fields[s] != nil {
		return fmt.Sprintf("field not allowed; did you mean %s?", s)
	}
	if s := closest(name, n.order); s != "" {
		return fmt.Sprintf("field not allowed; did you mean %s?", s)
	}
	noun := structNouns[n.def]
	switch {
	case n.def == "#VM" || n.def == "#Container":
		return fmt.Sprintf("field not allowed: %s has no such field; check the spelling, or put a PVE key that pmpc does not model under extra", noun)
	case noun != "" && n.fields["options"] != nil:
		return fmt.Sprintf("field not allowed: %s has only %s; put any other PVE sub-key under options, e.g. options: {%s: ...}", noun, joinAnd(n.order), name)
	case noun != "" && len(n.order) > 0:
		return fmt.Sprintf("field not allowed: %s has only %s", noun, joinAnd(n.order))
	case len(n.order) > 0:
		return "field not allowed: want " + joinOr(n.order)
	}
	return "field not allowed"
}

func joinAnd(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// closest returns the candidate a misspelt name most likely means, or "".
func closest(name string, cands []string) string {
	best, bestD := "", 0
	lname := strings.ToLower(name)
	for _, c := range cands {
		if lname == c {
			return c
		}
		d := editDistance(lname, c)
		limit := 1
		if utf8.RuneCountInString(c) >= 5 {
			limit = 2
		}
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance of two short strings.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	if len(x) > 64 || len(y) > 64 {
		return 1 << 20
	}
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

// missingField is the message for a required field that is not set.
func missingField(f *sfield) string {
	if h, ok := requiredHints[f.key()]; ok {
		return "required field is missing; " + h
	}
	return "required field is missing; set " + f.name
}

var (
	keyRE  = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$`)
	dnsRE  = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)
	poolRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,2}$`)
	badRun = regexp.MustCompile(`[^a-zA-Z0-9.]+`)
)

// nameProblem says what is wrong with a resource key, or "" when nothing
// is. named says the definition sets the name the key would default to
// (name for a VM, hostname for a container).
func nameProblem(kind, key string, named bool) string {
	q := fmt.Sprintf("%q", key)
	if kind == "pool" {
		if poolRE.MatchString(key) {
			return ""
		}
		return fmt.Sprintf("%s is not a valid Proxmox pool id (letters, digits, '.', '-' and '_'; up to three levels joined by '/'); rename the key", q)
	}
	if !keyRE.MatchString(key) {
		return fmt.Sprintf("%s is not a valid key (letters, digits, '.', '-' and '_', starting and ending with a letter or digit); rename the key", q)
	}
	if named || dnsRE.MatchString(key) {
		return ""
	}
	what, field := "VM name", "name"
	if kind == "container" {
		what, field = "container hostname", "hostname"
	}
	msg := fmt.Sprintf("the %s %s is not a valid Proxmox %s (%s); rename the key or set %s", field, q, what, dnsRule, field)
	if s := dnsSuggestion(key); s != "" {
		msg += fmt.Sprintf(", e.g. %s: %q", field, s)
	}
	return msg
}

// dnsSuggestion turns a key into a DNS name by replacing what is not
// allowed with hyphens, or returns "".
func dnsSuggestion(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		p = badRun.ReplaceAllString(p, "-")
		parts[i] = strings.Trim(p, "-")
	}
	s := strings.Join(parts, ".")
	if !dnsRE.MatchString(s) {
		return ""
	}
	return s
}
