package sim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func keysFor(typ string) (map[string]*keyDef, map[string]int) {
	if typ == "lxc" {
		return lxcKeys, lxcSlots
	}
	return qemuKeys, qemuSlots
}

func (g *guest) keyDef(k string) *keyDef {
	t, sl := keysFor(g.typ)
	d, _ := lookupKey(t, sl, k)
	return d
}

// guest resolves {node}/{vmid} for typ, failing as PVE does when the config
// file is not on that node. With privs, it first demands one of them on the
// guest (a 403 comes before a missing guest).
func (s *Server) guest(q *req, typ string, privs ...string) (*guest, error) {
	if len(privs) > 0 {
		if err := q.who.requireAny(vmPath(q.vars["vmid"]), privs...); err != nil {
			return nil, err
		}
	}
	if _, err := s.node(q); err != nil {
		return nil, err
	}
	vmid, err := checkVMID(q.vars["vmid"])
	if err != nil {
		return nil, err
	}
	g := s.c.guests[vmid]
	if g == nil || g.typ != typ || g.node != q.vars["node"] {
		return nil, errf(500, "Configuration file '%s' does not exist", confPath(typ, q.vars["node"], vmid))
	}
	return g, nil
}

func vmPath(vmid string) string { return "/vms/" + vmid }

// GET /nodes/{node}/{qemu|lxc}
func hGuestList(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "full"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(q)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, g := range s.c.sortedGuests() {
		if g.node != n.name || g.typ != typ || !q.who.can(vmPath(strconv.Itoa(g.vmid)), "VM.Audit") {
			continue
		}
		e, _ := s.guestStats(g)
		out = append(out, e)
	}
	return out, nil
}

// guestStats is what a guest's list entry and its status/current share.
func (s *Server) guestStats(g *guest) (map[string]any, vmResource) {
	r := s.guestResource(g, false)
	e := map[string]any{"vmid": g.vmid, "name": r.Name, "status": r.Status, "uptime": r.Uptime,
		"cpu": r.CPU, "cpus": r.MaxCPU, "mem": r.Mem, "maxmem": r.MaxMem, "disk": r.Disk,
		"maxdisk": r.MaxDisk, "netin": r.NetIn, "netout": r.NetOut, "diskread": r.DiskRead, "diskwrite": r.DiskWrite}
	if g.running {
		e["pid"] = 10000 + g.vmid
	}
	if g.typ == "lxc" {
		e["type"] = "lxc"
		e["maxswap"] = int64(atoiDef(g.conf["swap"], 512)) << 20
		e["swap"] = 0
	}
	if r.Tags != "" {
		e["tags"] = r.Tags
	}
	if r.Lock != "" {
		e["lock"] = r.Lock
	}
	if g.conf["template"] == "1" {
		e["template"] = 1
	}
	return e, r
}

func hGuestDir(s *Server, q *req, typ string) (any, error) {
	s.mu.Lock()
	_, err := s.guest(q, typ)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if typ == "lxc" {
		return dir("config", "status", "snapshot", "clone", "migrate", "resize", "template", "pending", "interfaces")(s, q)
	}
	return dir("config", "status", "snapshot", "clone", "migrate", "resize", "template", "pending", "agent")(s, q)
}

// configJSON renders a config map with PVE's JSON typing.
func (g *guest) configJSON(conf map[string]string, raw [][2]string) map[string]any {
	out := make(map[string]any, len(conf)+2)
	for k, v := range conf {
		if k == "cipassword" {
			out[k] = "**********"
			continue
		}
		out[k] = typedValue(g.keyDef(k), v)
	}
	if len(raw) > 0 {
		list := make([][2]string, len(raw))
		copy(list, raw)
		out["lxc"] = list
	}
	return out
}

// merged is the config with pending changes applied, as the default GET
// returns it.
func (g *guest) merged() map[string]string {
	m := make(map[string]string, len(g.conf)+len(g.pending))
	for k, v := range g.conf {
		m[k] = v
	}
	for k, v := range g.pending {
		m[k] = v
	}
	for _, k := range g.pendingDel {
		delete(m, k)
	}
	return m
}

// GET .../config[?current=1|snapshot=name]
func hGuestConfigGet(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "current", "snapshot"); err != nil {
		return nil, err
	}
	cur, err := boolParam(q, "current")
	if err != nil {
		return nil, err
	}
	if cur && q.has("snapshot") {
		return nil, paramErr(map[string]string{"snapshot": "option conflicts with option 'current'", "current": "option conflicts with option 'snapshot'"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Audit")
	if err != nil {
		return nil, err
	}
	if name, ok := q.params["snapshot"]; ok {
		sn := g.snap(name)
		if sn == nil {
			return nil, errf(500, "snapshot '%s' does not exist", name)
		}
		out := g.configJSON(sn.conf, sn.rawLXC)
		out["digest"] = g.digest()
		return out, nil
	}
	conf := g.conf
	if !cur {
		conf = g.merged()
	}
	out := g.configJSON(conf, g.rawLXC)
	out["digest"] = g.digest()
	return out, nil
}

// GET .../pending
func hGuestPending(s *Server, q *req, typ string) (any, error) {
	if err := allow(q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Audit")
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range g.conf {
		keys[k] = true
	}
	for k := range g.pending {
		keys[k] = true
	}
	for _, k := range g.pendingDel {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	out := []map[string]any{}
	for _, k := range names {
		d := g.keyDef(k)
		row := map[string]any{"key": k}
		if v, ok := g.conf[k]; ok {
			row["value"] = typedValue(d, v)
		}
		if v, ok := g.pending[k]; ok {
			row["pending"] = typedValue(d, v)
		}
		if contains(g.pendingDel, k) {
			row["delete"] = 1
		}
		if k == "cipassword" {
			for _, f := range []string{"value", "pending"} {
				if _, ok := row[f]; ok {
					row[f] = "**********"
				}
			}
		}
		out = append(out, row)
	}
	out = append(out, map[string]any{"key": "digest", "value": g.digest()})
	return out, nil
}

// GET .../status/current
func hGuestStatus(s *Server, q *req, typ string) (any, error) {
	if err := allow(q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Audit")
	if err != nil {
		return nil, err
	}
	out, r := s.guestStats(g)
	out["ha"] = map[string]any{"managed": 0}
	if typ == "qemu" {
		qmp := r.Status
		if g.paused {
			qmp = "paused"
		}
		out["qmpstatus"] = qmp
		if agentEnabled(g.conf["agent"]) {
			out["agent"] = 1
		}
		if g.running {
			out["running-machine"] = "pc-i440fx-8.1+pve0"
			out["running-qemu"] = "8.1.5"
			out["freemem"] = r.MaxMem - r.Mem
			out["balloon"] = r.MaxMem
			nics := map[string]any{}
			for k := range g.conf {
				if strings.HasPrefix(k, "net") {
					nics["tap"+strconv.Itoa(g.vmid)+"i"+k[3:]] = map[string]any{"netin": r.NetIn, "netout": r.NetOut}
				}
			}
			out["nics"] = nics
		}
	}
	return out, nil
}

func agentEnabled(v string) bool {
	if v == "" {
		return false
	}
	p, err := parseProp(fmtAgent, "agent", v)
	return err == nil && p.get("enabled") == "1"
}

// configInput is a validated config change.
type configInput struct {
	set  map[string]string // normalised values
	keys []string          // set keys, sorted
	del  []string
}

// validateConfig checks every config key of params against the guest type's
// schema; extra lists the method's own parameters. Unknown keys and bad
// values give one 400 with every error.
func validateConfig(typ string, params map[string]string, extra ...string) (*configInput, error) {
	table, slots := keysFor(typ)
	in := &configInput{set: map[string]string{}}
	errs := map[string]string{}
	for k, v := range params {
		if contains(extra, k) {
			continue
		}
		if typ == "qemu" && k == "cdrom" {
			// cdrom is an alias for ide2 as a CD-ROM drive.
			if _, both := params["ide2"]; both {
				errs[k] = "option conflicts with option 'ide2'"
				continue
			}
			k, v = "ide2", v+",media=cdrom"
		}
		d, ok := lookupKey(table, slots, k)
		if !ok || d.readOnly || k == "lock" {
			if ok && k == "lock" {
				errs[k] = "only root can set 'lock' config"
				continue
			}
			errs[k] = "property is not defined in schema and the schema does not allow additional properties"
			continue
		}
		nv, msg := checkParam(d, k, v)
		if msg != "" {
			errs[k] = msg
			continue
		}
		in.set[k] = nv
		in.keys = append(in.keys, k)
	}
	if len(errs) > 0 {
		return nil, paramErr(errs)
	}
	sort.Strings(in.keys)
	return in, nil
}

// splitDelete parses the delete parameter (comma, semicolon or space list;
// cdrom is ide2).
func splitDelete(typ, v string) []string {
	var out []string
	for _, k := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if typ == "qemu" && k == "cdrom" {
			k = "ide2"
		}
		if !contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// checkRootOnly refuses QEMU keys only root@pam may set or delete
// ("args"; "lock" is refused by validateConfig). A token of root is not
// root@pam (pve-api.md §2.1).
func checkRootOnly(who *principal, typ string, keys []string) error {
	if typ != "qemu" || who.full() == "root@pam" {
		return nil
	}
	for _, k := range keys {
		if k == "args" {
			return errf(500, "only root can set '%s' config", k)
		}
	}
	return nil
}

// checkConfigPerms demands the VM.Config.* privilege of each key.
func checkConfigPerms(who *principal, vmid string, typ string, keys []string, vals map[string]string) error {
	if err := checkRootOnly(who, typ, keys); err != nil {
		return err
	}
	table, slots := keysFor(typ)
	for _, k := range keys {
		d, ok := lookupKey(table, slots, k)
		if !ok {
			continue
		}
		priv := d.priv
		if priv == privDisk && strings.Contains(vals[k], "media=cdrom") {
			priv = privCDROM
		}
		if priv == "" {
			priv = privOptions
		}
		if err := who.require(vmPath(vmid), priv); err != nil {
			return err
		}
	}
	return nil
}

// diskFormat is the property-string format of disk key: a QEMU drive, an
// LXC rootfs or an LXC mount point.
func diskFormat(typ, key string) *propFormat {
	switch {
	case typ != "lxc":
		return fmtDrive
	case strings.HasPrefix(key, "mp"):
		return fmtMP
	}
	return fmtRootfs
}

var reCloudinit = regexp.MustCompile(`^([^/:\s]+):cloudinit$`)

// prepareDisk normalises a disk value for g, allocating volumes for the
// STORAGE:SIZE syntax, and returns the stored form.
func (s *Server) prepareDisk(who *principal, g *guest, key, value, defStorage string) (string, error) {
	f := diskFormat(g.typ, key)
	if strings.HasPrefix(key, "unused") {
		return value, nil
	}
	p, err := parseProp(f, key, value)
	if err != nil {
		return "", param1(key, err.Error())
	}
	vk := f.defaultKey
	vol := p.get(vk)
	content, contentErr := "images", "vm images"
	if g.typ == "lxc" {
		content, contentErr = "rootdir", "container directories"
	}
	storageFor := func(sid string) (*storage, error) {
		st := s.c.storageBy[sid]
		if st == nil || !st.onNode(g.node) {
			return nil, errf(500, "storage '%s' does not exist", sid)
		}
		if err := who.require("/storage/"+sid, "Datastore.AllocateSpace"); err != nil {
			return nil, err
		}
		if !st.hasContent(content) {
			return nil, errf(500, "storage '%s' does not support %s", sid, contentErr)
		}
		return st, nil
	}
	switch {
	case vol == "none" || vol == "cdrom" || strings.HasPrefix(vol, "/"):
	case reCloudinit.MatchString(vol) && g.typ == "qemu":
		sid := reCloudinit.FindStringSubmatch(vol)[1]
		st, err := storageFor(sid)
		if err != nil {
			return "", err
		}
		for k, v := range g.merged() {
			if k != key && strings.Contains(v, "-cloudinit") {
				return "", errf(500, "%s - cloud-init drive is already attached at '%s'", key, k)
			}
		}
		name := s.c.allocCloudinit(st, g)
		p.set(vk, sid+":"+name)
		p.set("media", "cdrom")
	case reAlloc.MatchString(vol):
		m := reAlloc.FindStringSubmatch(vol)
		sid := m[2]
		if sid == "" {
			sid = defStorage
		}
		if sid == "" {
			return "", param1(key, "invalid format - missing storage\n")
		}
		st, err := storageFor(sid)
		if err != nil {
			return "", err
		}
		gib, _ := strconv.ParseFloat(m[3], 64)
		size := int64(gib * (1 << 30))
		if key == "efidisk0" || key == "tpmstate0" {
			size = 4 << 20
		}
		if from := p.get("import-from"); from != "" {
			size = 2 << 30
			if fst, name := s.c.volOf(from); fst != nil {
				for _, it := range fst.items {
					if it.Volid == fst.id+":"+name && it.Size > 0 {
						size = it.Size
					}
				}
			}
			p.del("import-from")
		}
		if size == 0 && g.typ == "lxc" {
			return "", param1(key, "invalid format - size must be greater than 0\n")
		}
		name := s.c.allocVolume(st, g, size, "")
		p.set(vk, sid+":"+name)
		p.set("size", formatSize(size))
		p.del("format")
	default:
		st, name := s.c.volOf(vol)
		if st == nil {
			sid, _, _ := strings.Cut(vol, ":")
			return "", errf(500, "storage '%s' does not exist", sid)
		}
		size := int64(-1)
		if v, ok := st.vols[name]; ok {
			size = v.size
		}
		for _, it := range st.items {
			if it.Volid == vol {
				size = it.Size
			}
		}
		if size < 0 {
			return "", errf(500, "volume '%s' does not exist", vol)
		}
		if !p.has("size") && size > 0 {
			p.set("size", formatSize(size))
		}
	}
	return p.print(f), nil
}

// prepareNIC adds a MAC (and LXC's type=veth) and re-prints the NIC.
func (s *Server) prepareNIC(g *guest, key, value string) (string, error) {
	if g.typ == "lxc" {
		p, err := parseProp(fmtLXCNet, key, value)
		if err != nil {
			return "", param1(key, err.Error())
		}
		if !p.has("hwaddr") {
			p.set("hwaddr", s.c.newMAC())
		}
		p.set("type", "veth")
		return p.print(fmtLXCNet), nil
	}
	p, err := parseProp(fmtQemuNet, key, value)
	if err != nil {
		return "", param1(key, err.Error())
	}
	if !p.has("macaddr") {
		p.set("macaddr", s.c.newMAC())
	}
	return p.print(fmtQemuNet), nil
}

func isNIC(k string) bool {
	if !strings.HasPrefix(k, "net") {
		return false
	}
	_, err := strconv.Atoi(k[3:])
	return err == nil
}

// prepareValues turns validated input into stored values: disks allocated,
// NICs with MACs, tags normalised (when normTags).
func (s *Server) prepareValues(who *principal, g *guest, in *configInput, defStorage string, normTags bool) error {
	keys := append([]string(nil), in.keys...)
	sort.SliceStable(keys, func(i, j int) bool { return diskOrder(keys[i]) < diskOrder(keys[j]) })
	for _, k := range keys {
		v := in.set[k]
		var err error
		switch {
		case isNIC(k):
			v, err = s.prepareNIC(g, k, v)
		case g.isDiskKey(k):
			v, err = s.prepareDisk(who, g, k, v, defStorage)
		case k == "tags" && normTags:
			v, err = normaliseTags(v, true)
			if err != nil {
				err = param1("tags", "invalid characters in tag")
			}
		case k == "memory" && g.typ == "qemu":
			// accepted as "4096" or "current=4096"; stored as sent
		}
		if err != nil {
			return err
		}
		in.set[k] = v
	}
	if order, ok := in.set["boot"]; ok && g.typ == "qemu" {
		merged := g.merged()
		for k, v := range in.set {
			merged[k] = v
		}
		for _, k := range in.del {
			delete(merged, k)
		}
		if err := checkBootOrder(order, merged); err != nil {
			return err
		}
	}
	return nil
}

// checkBootOrder checks that every device of boot=order=... exists.
func checkBootOrder(boot string, conf map[string]string) error {
	order, ok := strings.CutPrefix(boot, "order=")
	if !ok {
		return nil // legacy c/d/n letters
	}
	for _, dev := range strings.Split(order, ";") {
		if dev == "" {
			continue
		}
		if _, exists := conf[dev]; !exists {
			return param1("boot", fmt.Sprintf("invalid bootorder: device '%s' does not exist'", dev))
		}
	}
	return nil
}

// hot reports whether key can change on the running guest at once.
func (g *guest) hot(key string) bool {
	d := g.keyDef(key)
	if d == nil {
		return false
	}
	switch d.hot {
	case "fast":
		return true
	case "hotplug":
		// qemu-server applies a hotplug change at once unless it turns
		// memory hot-plug on or off.
		nv := g.pending[key] // "" when the key is deleted
		return contains(hotplugClasses(g.conf["hotplug"]), "memory") == contains(hotplugClasses(nv), "memory")
	case "":
		return false
	case "hot":
		return g.typ == "lxc"
	case "hotnew":
		_, exists := g.conf[key]
		return !exists
	}
	hp := hotplugClasses(g.conf["hotplug"])
	if g.typ == "qemu" && d.format == fmtDrive {
		// A CD-ROM's medium changes at once, whatever hotplug says; other
		// drive edits hot-plug only on scsi and virtio (qemu-server
		// skips ide and sata, and deleting a drive, on a running VM).
		nv, set := g.pending[key]
		if set && strings.Contains(g.conf[key], "media=cdrom") && strings.Contains(nv, "media=cdrom") {
			return true
		}
		if strings.HasPrefix(key, "ide") || strings.HasPrefix(key, "sata") {
			return false
		}
	}
	return contains(hp, d.hot)
}

// hotplugClasses lists the hot-plug classes of a QEMU hotplug value ("" and
// "1" are PVE's default network,disk,usb; "0" is none).
func hotplugClasses(v string) []string {
	switch v {
	case "", "1":
		v = "network,disk,usb"
	case "0":
		v = ""
	}
	return splitList(v)
}

// stage writes input into the pending section, then applies what it can:
// everything on a stopped guest, the hot-pluggable keys on a running one.
func (s *Server) stage(g *guest, in *configInput) {
	if g.pending == nil {
		g.pending = map[string]string{}
	}
	for _, k := range in.keys {
		g.pending[k] = in.set[k]
		g.pendingDel = removeStr(g.pendingDel, k)
	}
	for _, k := range in.del {
		_, inConf := g.conf[k]
		_, inPend := g.pending[k]
		if !inConf && !inPend {
			continue // "cannot delete 'k' - not set in current configuration!"
		}
		if inPend && !inConf {
			delete(g.pending, k)
			continue
		}
		delete(g.pending, k)
		if !contains(g.pendingDel, k) {
			g.pendingDel = append(g.pendingDel, k)
		}
	}
	if !g.running {
		s.applyPending(g, nil)
		return
	}
	s.applyPending(g, g.hot)
}

// applyPending moves pending values (those ok accepts; all if ok is nil)
// into the config. Replaced or removed disks become unusedN.
func (s *Server) applyPending(g *guest, ok func(string) bool) {
	keys := make([]string, 0, len(g.pending))
	for k := range g.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ok != nil && !ok(k) {
			continue
		}
		v := g.pending[k]
		if old, had := g.conf[k]; had && g.isDiskKey(k) && !strings.HasPrefix(k, "unused") {
			if ov, _, _ := strings.Cut(old, ","); ov != firstField(v) {
				s.unuse(g, old)
			}
		}
		g.conf[k] = v
		delete(g.pending, k)
	}
	var keep []string
	for _, k := range g.pendingDel {
		if ok != nil && !ok(k) {
			keep = append(keep, k)
			continue
		}
		old := g.conf[k]
		if g.isDiskKey(k) {
			if strings.HasPrefix(k, "unused") {
				s.c.freeVolume(old)
			} else {
				s.unuse(g, old)
			}
		}
		delete(g.conf, k)
	}
	g.pendingDel = keep
	if len(g.pending) == 0 {
		g.pending = nil
	}
}

func firstField(v string) string { f, _, _ := strings.Cut(v, ","); return f }

// unuse keeps a detached disk as unusedN (cdroms and cloud-init drives are
// simply dropped).
func (s *Server) unuse(g *guest, value string) {
	if strings.Contains(value, "media=cdrom") {
		if strings.Contains(value, "-cloudinit") {
			s.c.freeVolume(value)
		}
		return
	}
	st, name := s.c.volOf(value)
	if st == nil {
		return
	}
	for i := 0; i <= 255; i++ {
		k := "unused" + strconv.Itoa(i)
		if _, taken := g.conf[k]; !taken {
			g.conf[k] = st.id + ":" + name
			return
		}
	}
}

// PUT .../config (synchronous)
func hGuestConfigPut(s *Server, q *req, typ string) (any, error) {
	return s.updateConfig(q, typ, false)
}

// POST .../config (QEMU only; asynchronous, qmconfig task). With
// background_delay=N it waits up to N seconds and returns null if the task
// finished by then (its error if it failed), else the UPID.
func hGuestConfigPost(s *Server, q *req, typ string) (any, error) {
	var delay int
	if v, ok := q.params["background_delay"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, param1("background_delay", fmt.Sprintf("type check ('integer') failed - got '%s'", v))
		}
		if n < 1 || n > 30 {
			return nil, param1("background_delay", "value must have a minimum value of 1 and a maximum of 30")
		}
		delay = n
	}
	res, err := s.updateConfig(q, typ, true)
	if err != nil || delay == 0 {
		return res, err
	}
	upid := res.(string)
	deadline := time.Now().Add(time.Duration(delay) * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		t := s.c.tasks[upid]
		done, exit := t != nil && t.done, ""
		if t != nil {
			exit = t.exit
		}
		s.mu.Unlock()
		if done {
			if exit == "OK" || strings.HasPrefix(exit, "WARNINGS") {
				return nil, nil
			}
			return nil, errf(500, "%s", exit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return upid, nil
}

func (s *Server) updateConfig(q *req, typ string, async bool) (any, error) {
	extra := []string{"delete", "revert", "digest", "skiplock", "force"}
	if async {
		extra = append(extra, "background_delay")
	}
	in, err := validateConfig(typ, q.params, extra...)
	if err != nil {
		return nil, err
	}
	in.del = splitDelete(typ, q.params["delete"])
	revert := splitDelete(typ, q.params["revert"])
	for _, k := range in.del {
		if _, ok := in.set[k]; ok {
			return nil, param1("delete", fmt.Sprintf("you can't use '-%s' and -delete %s' at the same time", k, k))
		}
		table, slots := keysFor(typ)
		if _, ok := lookupKey(table, slots, k); !ok {
			return nil, param1("delete", fmt.Sprintf("invalid configuration option '%s'", k))
		}
	}
	if len(in.keys) == 0 && len(in.del) == 0 && len(revert) == 0 {
		return nil, errf(500, "no options specified")
	}
	if q.has("skiplock") && q.who.full() != "root@pam" {
		return nil, param1("skiplock", "Only root may use this option.")
	}
	if err := checkConfigPerms(q.who, q.vars["vmid"], typ, append(append([]string{}, in.keys...), in.del...), in.set); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ)
	if err != nil {
		return nil, err
	}
	if err := g.digestErr(q); err != nil {
		return nil, err
	}
	if !q.has("skiplock") {
		if err := g.lockedErr(); err != nil {
			return nil, err
		}
	}
	if g.conf["protection"] == "1" {
		for _, k := range in.del {
			if g.isDiskKey(k) && !strings.Contains(g.conf[k], "media=cdrom") {
				return nil, errf(500, "unable to delete disk '%s' - protection mode enabled", k)
			}
		}
	}
	if typ == "lxc" {
		if _, ok := in.set["unprivileged"]; ok && in.set["unprivileged"] != g.conf["unprivileged"] {
			return nil, param1("unprivileged", "unable to modify read-only option: 'unprivileged'")
		}
		if err := checkFeatures(q.who, in.set["features"]); err != nil {
			return nil, err
		}
	}
	if err := s.prepareValues(q.who, g, in, "", true); err != nil {
		return nil, err
	}
	apply := func() {
		for _, k := range revert {
			delete(g.pending, k)
			g.pendingDel = removeStr(g.pendingDel, k)
		}
		s.stage(g, in)
	}
	if !async {
		apply()
		return nil, nil
	}
	return s.startTask(q.who, g.node, "qmconfig", strconv.Itoa(g.vmid), func(t *task) error {
		if err := g.lockedErr(); err != nil && !q.has("skiplock") {
			return err
		}
		for _, k := range in.keys {
			t.log = append(t.log, fmt.Sprintf("update VM %d: -%s %s", g.vmid, k, in.set[k]))
		}
		apply()
		return nil
	}, nil), nil
}

// checkFeatures refuses LXC feature flags other than nesting for anyone
// but root@pam itself, as PVE does: a token of root (root@pam!pmpc) is not
// root@pam (pve-api.md §2.1).
func checkFeatures(who *principal, features string) error {
	if features == "" || who.full() == "root@pam" {
		return nil
	}
	p, err := parseProp(fmtFeatures, "features", features)
	if err != nil {
		return nil
	}
	for _, k := range p.keys {
		if k != "nesting" && p.get(k) != "0" {
			return errf(403, "Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)")
		}
	}
	return nil
}

var qemuCreateExtra = []string{"vmid", "pool", "start", "storage", "archive", "force", "unique", "live-restore", "bwlimit"}
var lxcCreateExtra = []string{"vmid", "pool", "start", "storage", "ostemplate", "password", "ssh-public-keys",
	"ignore-unpack-errors", "force", "unique", "restore", "bwlimit"}

// POST /nodes/{node}/{qemu|lxc}
func hGuestCreate(s *Server, q *req, typ string) (any, error) {
	extra := qemuCreateExtra
	if typ == "lxc" {
		extra = lxcCreateExtra
	}
	v, ok := q.params["vmid"]
	if !ok {
		return nil, param1("vmid", "property is missing and it is not optional")
	}
	vmid, err := checkVMID(v)
	if err != nil {
		return nil, err
	}
	in, err := validateConfig(typ, q.params, extra...)
	if err != nil {
		return nil, err
	}
	if err := boolParams(q, "start", "unique", "force", "restore", "live-restore", "ignore-unpack-errors"); err != nil {
		return nil, err
	}
	start := q.params["start"] == "1"
	if typ == "lxc" {
		if q.params["ostemplate"] == "" {
			return nil, param1("ostemplate", "property is missing and it is not optional")
		}
		if pw, ok := q.params["password"]; ok && len(pw) < 5 {
			return nil, param1("password", "value must be at least 5 characters long")
		}
	}
	id := strconv.Itoa(vmid)
	poolID := q.params["pool"]
	if err := q.who.require(vmPath(id), "VM.Allocate"); err != nil {
		if poolID == "" || q.who.require("/pool/"+poolID, "VM.Allocate") != nil {
			return nil, err
		}
	}
	if err := checkRootOnly(q.who, typ, in.keys); err != nil {
		return nil, err
	}
	if typ == "lxc" {
		if err := checkFeatures(q.who, in.set["features"]); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(q)
	if err != nil {
		return nil, err
	}
	if poolID != "" && s.c.pools[poolID] == nil {
		return nil, errf(403, "Permission check failed (pool '%s' does not exist)", poolID)
	}
	if old := s.c.guests[vmid]; old != nil {
		if typ == "lxc" {
			return nil, errf(500, "CT %d already exists on node '%s'", vmid, old.node)
		}
		return nil, errf(500, "unable to create VM %d - VM %d already exists on node '%s'", vmid, vmid, old.node)
	}
	g := &guest{typ: typ, vmid: vmid, node: n.name, conf: map[string]string{}}
	defStorage := q.params["storage"]
	if typ == "lxc" {
		tmpl := q.params["ostemplate"]
		st, name := s.c.volOf(tmpl)
		found := false
		if st != nil {
			for _, it := range st.items {
				if it.Volid == st.id+":"+name && (it.Content == "vztmpl" || it.Content == "backup") {
					found = true
				}
			}
		}
		if !found {
			return nil, errf(500, "volume '%s' does not exist", tmpl)
		}
		if defStorage == "" {
			defStorage = "local"
		}
		if _, ok := in.set["rootfs"]; !ok {
			in.set["rootfs"] = defStorage + ":4"
			in.keys = append(in.keys, "rootfs")
			sort.Strings(in.keys)
		} else if r := in.set["rootfs"]; regexp.MustCompile(`^\d+(\.\d+)?(,|$)`).MatchString(r) {
			in.set["rootfs"] = defStorage + ":" + r
		}
	}
	// LXC create normalises tags; QEMU create stores them as sent.
	if err := s.prepareValues(q.who, g, in, defStorage, typ == "lxc"); err != nil {
		s.freeGuestVolumes(g, in.set)
		return nil, err
	}
	for _, k := range in.keys {
		g.conf[k] = in.set[k]
	}
	g.conf["lock"] = "create"
	s.c.guests[vmid] = g
	ttype := "qmcreate"
	if typ == "lxc" {
		ttype = "vzcreate"
	}
	return s.startTask(q.who, n.name, ttype, id, func(t *task) error {
		delete(g.conf, "lock")
		if typ == "qemu" {
			if _, ok := g.conf["boot"]; !ok {
				g.conf["boot"] = defaultBootOrder(g.conf)
			}
			g.conf["smbios1"] = "uuid=" + s.c.newUUID()
			g.conf["vmgenid"] = s.c.newUUID()
			g.conf["meta"] = fmt.Sprintf("creation-qemu=8.1.5,ctime=%d", time.Now().Unix())
		} else {
			if _, ok := g.conf["hostname"]; !ok {
				g.conf["hostname"] = "CT" + id
			}
			if _, ok := g.conf["arch"]; !ok {
				g.conf["arch"] = "amd64"
			}
			if _, ok := g.conf["ostype"]; !ok {
				g.conf["ostype"] = ostypeOf(q.params["ostemplate"])
			}
			t.log = append(t.log, "extracting archive '"+q.params["ostemplate"]+"'")
		}
		s.c.joinPool(g, poolID)
		if start {
			g.running = true
			g.started = time.Now()
		}
		return nil
	}, func() {
		s.freeGuestVolumes(g, g.conf)
		delete(s.c.guests, vmid)
	}), nil
}

func (s *Server) freeGuestVolumes(g *guest, conf map[string]string) {
	for k, v := range conf {
		if g.isDiskKey(k) && !strings.Contains(v, "iso/") {
			if st, name := s.c.volOf(v); st != nil {
				if vol := st.vols[name]; vol != nil && vol.vmid == g.vmid {
					delete(st.vols, name)
				}
			}
		}
	}
}

func ostypeOf(tmpl string) string {
	base := tmpl[strings.LastIndex(tmpl, "/")+1:]
	for _, os := range []string{"debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "opensuse", "gentoo", "devuan", "nixos"} {
		if strings.HasPrefix(base, os) {
			return os
		}
	}
	if strings.HasPrefix(base, "rocky") || strings.HasPrefix(base, "alma") {
		return "centos"
	}
	return "unmanaged"
}

// defaultBootOrder is PVE's: the first hard disk, the first CD-ROM, the
// first NIC.
func defaultBootOrder(conf map[string]string) string {
	var disk, cd, nic string
	for _, bus := range []string{"scsi", "virtio", "sata", "ide"} {
		max := qemuSlots[bus]
		for i := 0; i <= max; i++ {
			k := bus + strconv.Itoa(i)
			v, ok := conf[k]
			if !ok {
				continue
			}
			if strings.Contains(v, "media=cdrom") {
				if cd == "" && !strings.Contains(v, "-cloudinit") {
					cd = k
				}
			} else if disk == "" {
				disk = k
			}
		}
	}
	for i := 0; i <= 31; i++ {
		if _, ok := conf["net"+strconv.Itoa(i)]; ok {
			nic = "net" + strconv.Itoa(i)
			break
		}
	}
	var order []string
	for _, d := range []string{disk, cd, nic} {
		if d != "" {
			order = append(order, d)
		}
	}
	return "order=" + strings.Join(order, ";")
}

// diskOrder sorts keys the way PVE walks volumes when it allocates them:
// LXC rootfs then mpN; QEMU ide, sata, scsi, virtio, efidisk, tpmstate;
// each by number. Other keys sort after all disks.
func diskOrder(k string) int {
	buses := []string{"rootfs", "mp", "ide", "sata", "scsi", "virtio", "efidisk", "tpmstate", "unused"}
	for i, b := range buses {
		if k == b {
			return i * 1000
		}
		if rest, ok := strings.CutPrefix(k, b); ok {
			if n, err := strconv.Atoi(rest); err == nil {
				return i*1000 + n
			}
		}
	}
	return 1 << 20
}
