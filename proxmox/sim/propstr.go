package sim

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// propKind is the type of one key inside a property string.
type propKind int

const (
	pkString propKind = iota
	pkBool
	pkInt
	pkNumber
	pkEnum
	pkSize
	pkMAC
)

// propKey describes one key of a property-string format.
type propKey struct {
	kind     propKind
	min, max float64
	enum     []string
	re       *regexp.Regexp
}

// propFormat is a property-string format (PVE's "format" hashes): keys, the
// default key that may be written without "key=", and required keys.
type propFormat struct {
	defaultKey string
	aliases    map[string]string // alias -> key (volume -> file)
	keys       map[string]propKey
	required   []string
	// modelMAC: QEMU NICs accept "<model>=<mac>" as shorthand.
	modelMAC bool
}

var (
	reBridge   = regexp.MustCompile(`^[-_.\w\d]+$`)
	reMAC      = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$`)
	reTrunks   = regexp.MustCompile(`^\d+(-\d+)?(;\d+(-\d+)?)*$`)
	reSize     = regexp.MustCompile(`^(\d+(?:\.\d+)?)([KMGT])?(?:iB)?$`)
	reIPv4CIDR = regexp.MustCompile(`^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$`)
	reIPv4     = regexp.MustCompile(`^(\d{1,3}\.){3}\d{1,3}$`)
	reIPv6CIDR = regexp.MustCompile(`^[0-9a-fA-F:]+/\d{1,3}$`)
	reIPv6     = regexp.MustCompile(`^[0-9a-fA-F:]+$`)
	reIfName   = regexp.MustCompile(`^[-_.\w\d]+$`)
	reAlloc    = regexp.MustCompile(`^(([^/:\s]+):)?(\d+(\.\d+)?)$`)
	reTag      = regexp.MustCompile(`^(?i)[a-z0-9_][a-z0-9_\-+.]*$`)
	reDNSName  = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?))*$`)
	reURLEnc   = regexp.MustCompile(`^[-%a-zA-Z0-9_.!~*'()]*$`)
	reSnapName = regexp.MustCompile(`^(?i)[a-z][a-z0-9_-]+$`)
	rePoolID   = regexp.MustCompile(`^[A-Za-z0-9.\-_]+(/[A-Za-z0-9.\-_]+){0,2}$`)
	reNodeName = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
	reStorage  = regexp.MustCompile(`^(?i)[a-z][a-z0-9\-_.]*[a-z0-9]$`)
)

var qemuNICModels = []string{"e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e",
	"i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"}

var (
	fmtQemuNet = &propFormat{
		defaultKey: "model",
		modelMAC:   true,
		required:   []string{"model"},
		keys: map[string]propKey{
			"model":     {kind: pkEnum, enum: qemuNICModels},
			"macaddr":   {kind: pkMAC},
			"bridge":    {kind: pkString, re: reBridge},
			"firewall":  {kind: pkBool},
			"link_down": {kind: pkBool},
			"tag":       {kind: pkInt, min: 1, max: 4094},
			"trunks":    {kind: pkString, re: reTrunks},
			"rate":      {kind: pkNumber, min: 0, max: math.Inf(1)},
			"queues":    {kind: pkInt, min: 0, max: 64},
			"mtu":       {kind: pkInt, min: 1, max: 65520},
		},
	}
	fmtLXCNet = &propFormat{
		required: []string{"name"},
		keys: map[string]propKey{
			"name":      {kind: pkString, re: reIfName},
			"bridge":    {kind: pkString, re: reBridge},
			"hwaddr":    {kind: pkMAC},
			"ip":        {kind: pkString},
			"gw":        {kind: pkString, re: reIPv4},
			"ip6":       {kind: pkString},
			"gw6":       {kind: pkString, re: reIPv6},
			"firewall":  {kind: pkBool},
			"link_down": {kind: pkBool},
			"tag":       {kind: pkInt, min: 1, max: 4094},
			"trunks":    {kind: pkString, re: reTrunks},
			"rate":      {kind: pkNumber, min: 0, max: math.Inf(1)},
			"mtu":       {kind: pkInt, min: 64, max: 65535},
			"type":      {kind: pkEnum, enum: []string{"veth"}},
		},
	}
	driveKeys = map[string]propKey{
		"file":               {kind: pkString},
		"media":              {kind: pkEnum, enum: []string{"cdrom", "disk"}},
		"size":               {kind: pkSize},
		"format":             {kind: pkEnum, enum: []string{"raw", "cow", "qcow", "qed", "qcow2", "vmdk", "cloop"}},
		"cache":              {kind: pkEnum, enum: []string{"none", "writethrough", "writeback", "unsafe", "directsync"}},
		"aio":                {kind: pkEnum, enum: []string{"native", "threads", "io_uring"}},
		"discard":            {kind: pkEnum, enum: []string{"ignore", "on"}},
		"iothread":           {kind: pkBool},
		"ssd":                {kind: pkBool},
		"backup":             {kind: pkBool},
		"replicate":          {kind: pkBool},
		"ro":                 {kind: pkBool},
		"shared":             {kind: pkBool},
		"snapshot":           {kind: pkBool},
		"serial":             {kind: pkString},
		"wwn":                {kind: pkString},
		"detect_zeroes":      {kind: pkBool},
		"werror":             {kind: pkEnum, enum: []string{"enospc", "ignore", "report", "stop"}},
		"rerror":             {kind: pkEnum, enum: []string{"ignore", "report", "stop"}},
		"import-from":        {kind: pkString},
		"iops":               {kind: pkInt, max: math.Inf(1)},
		"iops_rd":            {kind: pkInt, max: math.Inf(1)},
		"iops_wr":            {kind: pkInt, max: math.Inf(1)},
		"iops_max":           {kind: pkInt, max: math.Inf(1)},
		"iops_rd_max":        {kind: pkInt, max: math.Inf(1)},
		"iops_wr_max":        {kind: pkInt, max: math.Inf(1)},
		"mbps":               {kind: pkNumber, max: math.Inf(1)},
		"mbps_rd":            {kind: pkNumber, max: math.Inf(1)},
		"mbps_wr":            {kind: pkNumber, max: math.Inf(1)},
		"mbps_max":           {kind: pkNumber, max: math.Inf(1)},
		"mbps_rd_max":        {kind: pkNumber, max: math.Inf(1)},
		"mbps_wr_max":        {kind: pkNumber, max: math.Inf(1)},
		"efitype":            {kind: pkEnum, enum: []string{"2m", "4m"}},
		"pre-enrolled-keys":  {kind: pkBool},
		"version":            {kind: pkEnum, enum: []string{"v1.2", "v2.0"}},
		"ms-cert":            {kind: pkString},
		"queues":             {kind: pkInt, min: 2, max: 1024},
		"product":            {kind: pkString},
		"vendor":             {kind: pkString},
		"model":              {kind: pkString},
		"trans":              {kind: pkEnum, enum: []string{"none", "lba", "auto"}},
		"secs":               {kind: pkInt, max: math.Inf(1)},
		"heads":              {kind: pkInt, max: math.Inf(1)},
		"cyls":               {kind: pkInt, max: math.Inf(1)},
		"scsiblock":          {kind: pkBool},
		"iops_max_length":    {kind: pkInt, max: math.Inf(1)},
		"iops_rd_max_length": {kind: pkInt, max: math.Inf(1)},
		"iops_wr_max_length": {kind: pkInt, max: math.Inf(1)},
	}
	fmtDrive = &propFormat{defaultKey: "file", aliases: map[string]string{"volume": "file"},
		required: []string{"file"}, keys: driveKeys}
	fmtIPConfig = &propFormat{keys: map[string]propKey{
		"ip":  {kind: pkString},
		"gw":  {kind: pkString, re: reIPv4},
		"ip6": {kind: pkString},
		"gw6": {kind: pkString, re: reIPv6},
	}}
	mountKeys = map[string]propKey{
		"volume":       {kind: pkString},
		"mp":           {kind: pkString},
		"size":         {kind: pkSize},
		"acl":          {kind: pkBool},
		"ro":           {kind: pkBool},
		"quota":        {kind: pkBool},
		"replicate":    {kind: pkBool},
		"backup":       {kind: pkBool},
		"shared":       {kind: pkBool},
		"mountoptions": {kind: pkString, re: regexp.MustCompile(`^(noatime|lazytime|nodev|nosuid|noexec|discard)(;(noatime|lazytime|nodev|nosuid|noexec|discard))*$`)},
	}
	fmtRootfs = &propFormat{defaultKey: "volume", required: []string{"volume"}, keys: mountKeys}
	fmtMP     = &propFormat{defaultKey: "volume", required: []string{"volume", "mp"}, keys: mountKeys}
	fmtAgent  = &propFormat{defaultKey: "enabled", keys: map[string]propKey{
		"enabled":             {kind: pkBool},
		"fstrim_cloned_disks": {kind: pkBool},
		"freeze-fs-on-backup": {kind: pkBool},
		"type":                {kind: pkEnum, enum: []string{"virtio", "isa"}},
	}}
	fmtFeatures = &propFormat{keys: map[string]propKey{
		"nesting":      {kind: pkBool},
		"keyctl":       {kind: pkBool},
		"fuse":         {kind: pkBool},
		"mknod":        {kind: pkBool},
		"force_rw_sys": {kind: pkBool},
		"mount":        {kind: pkString},
	}}
	fmtStartup = &propFormat{defaultKey: "order", keys: map[string]propKey{
		"order": {kind: pkInt, min: 0, max: math.Inf(1)},
		"up":    {kind: pkInt, min: 0, max: math.Inf(1)},
		"down":  {kind: pkInt, min: 0, max: math.Inf(1)},
	}}
	fmtMemory = &propFormat{defaultKey: "current", required: []string{"current"}, keys: map[string]propKey{
		"current": {kind: pkInt, min: 16, max: math.Inf(1)},
	}}
)

// prop is a parsed property string: values by key, in input order.
type prop struct {
	keys []string
	vals map[string]string
}

func (p *prop) get(k string) string { return p.vals[k] }
func (p *prop) has(k string) bool   { _, ok := p.vals[k]; return ok }
func (p *prop) set(k, v string) {
	if _, ok := p.vals[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[k] = v
}
func (p *prop) del(k string) {
	if _, ok := p.vals[k]; !ok {
		return
	}
	delete(p.vals, k)
	for i, x := range p.keys {
		if x == k {
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			break
		}
	}
}

// formatError is the text PVE puts into the errors map for a property
// string that fails its format check.
func formatError(param string, errs map[string]string) string {
	var ks []string
	for k := range errs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	b.WriteString("invalid format - format error\n")
	for _, k := range ks {
		fmt.Fprintf(&b, "%s.%s: %s\n", param, k, errs[k])
	}
	return b.String()
}

// parseProp parses and validates value against f. param names the parameter
// (net0) in messages. The error text is what PVE puts in the errors map.
func parseProp(f *propFormat, param, value string) (*prop, error) {
	p := &prop{vals: map[string]string{}}
	for _, part := range strings.Split(value, ",") {
		if part == "" {
			continue
		}
		k, v, hasEq := strings.Cut(part, "=")
		if !hasEq {
			if f.defaultKey == "" {
				return nil, fmt.Errorf("invalid format - value without key, but schema does not define a default key\n")
			}
			if p.has(f.defaultKey) {
				return nil, fmt.Errorf("invalid format - duplicate key in comma-separated list property: %s\n", f.defaultKey)
			}
			p.set(f.defaultKey, part)
			continue
		}
		if a, ok := f.aliases[k]; ok {
			k = a
		}
		if f.modelMAC && contains(qemuNICModels, k) {
			if p.has("model") || p.has("macaddr") {
				return nil, fmt.Errorf("invalid format - duplicate key in comma-separated list property: model\n")
			}
			p.set("model", k)
			p.set("macaddr", v)
			continue
		}
		if _, ok := f.keys[k]; !ok {
			return nil, fmt.Errorf("invalid format - invalid key in comma-separated list property: %s\n", k)
		}
		if p.has(k) {
			return nil, fmt.Errorf("invalid format - duplicate key in comma-separated list property: %s\n", k)
		}
		p.set(k, v)
	}
	errs := map[string]string{}
	for _, r := range f.required {
		if !p.has(r) {
			errs[r] = "property is missing and it is not optional"
		}
	}
	for _, k := range p.keys {
		v := p.vals[k]
		d := f.keys[k]
		nv, msg := checkValue(d, v)
		if msg != "" {
			errs[k] = msg
			continue
		}
		p.vals[k] = nv
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", formatError(param, errs))
	}
	return p, nil
}

// checkValue validates one value and returns it normalised (booleans to
// 0/1), or a PVE-worded error message.
func checkValue(d propKey, v string) (string, string) {
	switch d.kind {
	case pkBool:
		switch strings.ToLower(v) {
		case "1", "on", "yes", "true":
			return "1", ""
		case "0", "off", "no", "false":
			return "0", ""
		}
		return v, fmt.Sprintf("type check ('boolean') failed - got '%s'", v)
	case pkInt:
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "+"), 10, 64)
		if err != nil {
			return v, fmt.Sprintf("type check ('integer') failed - got '%s'", v)
		}
		if msg := checkRange(d, float64(n)); msg != "" {
			return v, msg
		}
	case pkNumber:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return v, fmt.Sprintf("type check ('number') failed - got '%s'", v)
		}
		if msg := checkRange(d, n); msg != "" {
			return v, msg
		}
	case pkEnum:
		if !contains(d.enum, v) {
			return v, fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", v, strings.Join(d.enum, ", "))
		}
	case pkSize:
		if _, ok := parseSize(v); !ok {
			return v, "unable to parse value"
		}
	case pkMAC:
		if !reMAC.MatchString(v) {
			return v, "value does not match the regex pattern"
		}
		return strings.ToUpper(v), ""
	case pkString:
		if d.re != nil && !d.re.MatchString(v) {
			return v, "value does not match the regex pattern"
		}
	}
	return v, ""
}

func checkRange(d propKey, n float64) string {
	if d.min == 0 && d.max == 0 {
		return ""
	}
	if n < d.min {
		return fmt.Sprintf("value must have a minimum value of %s", fmtNum(d.min))
	}
	if n > d.max {
		return fmt.Sprintf("value must have a maximum value of %s", fmtNum(d.max))
	}
	return ""
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// print renders p as PVE re-prints property strings: the default key first
// (QEMU NICs as model=MAC), then required keys, then the rest sorted.
func (p *prop) print(f *propFormat) string {
	var parts []string
	done := map[string]bool{}
	if f.modelMAC {
		if mac := p.get("macaddr"); mac != "" {
			parts = append(parts, p.get("model")+"="+mac)
		} else {
			parts = append(parts, p.get("model"))
		}
		done["model"], done["macaddr"] = true, true
	} else if f.defaultKey != "" && p.has(f.defaultKey) {
		parts = append(parts, p.get(f.defaultKey))
		done[f.defaultKey] = true
	}
	for _, r := range f.required {
		if !done[r] && p.has(r) {
			parts = append(parts, r+"="+p.get(r))
			done[r] = true
		}
	}
	var rest []string
	for _, k := range p.keys {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, k+"="+p.get(k))
	}
	return strings.Join(parts, ",")
}

// parseSize parses a disk-size value (32G, 512M, 1.5T, bytes) into bytes.
func parseSize(s string) (int64, bool) {
	m := reSize.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m[2]]
	return int64(f * mult), true
}

// formatSize prints bytes in whole units as PVE does: 34359738368 -> 32G.
func formatSize(b int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b >= u.n && b%u.n == 0 {
			return strconv.FormatInt(b/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(b, 10)
}

// normaliseTags splits a tag list on ; , or spaces, checks each tag, and
// returns it lowercased, de-duplicated, sorted and ;-joined, as PVE's
// update path does.
func normaliseTags(s string, sortTags bool) (string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
	seen := map[string]bool{}
	var out []string
	for _, t := range fields {
		if !reTag.MatchString(t) {
			return "", fmt.Errorf("invalid characters in tag")
		}
		t = strings.ToLower(t)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if sortTags {
		sort.Strings(out)
	}
	return strings.Join(out, ";"), nil
}

func validTags(s string) bool {
	_, err := normaliseTags(s, false)
	return err == nil
}

// validIPConfig checks ipconfigN semantics beyond the format.
func validIPConfig(p *prop) string {
	ip, ip6 := p.get("ip"), p.get("ip6")
	if ip != "" && ip != "dhcp" && !reIPv4CIDR.MatchString(ip) {
		return "ip: invalid format - unable to parse CIDR"
	}
	if ip6 != "" && ip6 != "dhcp" && ip6 != "auto" && !reIPv6CIDR.MatchString(ip6) {
		return "ip6: invalid format - unable to parse CIDR"
	}
	if p.has("gw") && ip == "" {
		return "gateway specified without specifying an IP address"
	}
	if p.has("gw6") && ip6 == "" {
		return "gateway specified without specifying an IP address"
	}
	return ""
}

func validLXCNetIP(p *prop) string {
	ip, ip6 := p.get("ip"), p.get("ip6")
	if ip != "" && ip != "dhcp" && ip != "manual" && !reIPv4CIDR.MatchString(ip) {
		return fmt.Sprintf("invalid format - format error\nip: value does not look like a valid IPv4 network configuration\n")
	}
	if ip6 != "" && ip6 != "dhcp" && ip6 != "auto" && ip6 != "manual" && !reIPv6CIDR.MatchString(ip6) {
		return fmt.Sprintf("invalid format - format error\nip6: value does not look like a valid IPv6 network configuration\n")
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
