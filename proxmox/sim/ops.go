package sim

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

func taskType(typ, qm, vz string) string {
	if typ == "lxc" {
		return vz
	}
	return qm
}

// startGuest marks g running and applies its pending changes, as a fresh
// QEMU process or container start does.
func (s *Server) startGuest(g *guest) {
	s.applyPending(g, nil)
	g.running = true
	g.paused = false
	g.started = time.Now()
}

// POST .../status/{action}
func hGuestPower(s *Server, q *req, typ, action string) (any, error) {
	allowed := map[string][]string{
		"start":    {"timeout", "machine", "force-cpu", "skiplock", "migratedfrom", "migration_type", "migration_network", "stateuri", "targetstorage", "debug"},
		"stop":     {"timeout", "keepActive", "overrule-shutdown", "skiplock", "migratedfrom"},
		"shutdown": {"timeout", "forceStop", "keepActive"},
		"reboot":   {"timeout"},
		"reset":    {"skiplock"},
		"suspend":  {"todisk", "statestorage", "skiplock"},
		"resume":   {"skiplock", "nocheck"},
	}[action]
	if err := allow(q, allowed...); err != nil {
		return nil, err
	}
	if err := boolParams(q, "forceStop", "keepActive", "todisk", "skiplock", "overrule-shutdown"); err != nil {
		return nil, err
	}
	if q.has("skiplock") && q.who.full() != "root@pam" {
		return nil, param1("skiplock", "Only root may use this option.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.PowerMgmt")
	if err != nil {
		return nil, err
	}
	lbl := g.label()
	skiplock := q.params["skiplock"] == "1"
	lockCheck := func() error {
		if skiplock {
			return nil
		}
		return g.lockedErr()
	}
	var work func(t *task) error
	switch action {
	case "start":
		if typ == "lxc" && g.running {
			return nil, errf(500, "CT %d already running", g.vmid)
		}
		work = func(t *task) error {
			if g.conf["lock"] == "suspended" {
				delete(g.conf, "lock")
				s.startGuest(g)
				return nil
			}
			if err := lockCheck(); err != nil {
				return err
			}
			if g.running {
				return fmt.Errorf("%s %d already running", lbl, g.vmid)
			}
			if g.conf["template"] == "1" {
				if typ == "lxc" {
					return fmt.Errorf("cannot start container template")
				}
				return fmt.Errorf("you can't start a vm if it's a template")
			}
			s.startGuest(g)
			return nil
		}
	case "stop", "shutdown":
		if typ == "lxc" && !g.running {
			return nil, errf(500, "CT %d not running", g.vmid)
		}
		if action == "shutdown" && g.paused && q.params["forceStop"] != "1" {
			return nil, errf(500, "VM is paused - cannot shutdown")
		}
		work = func(t *task) error {
			if err := lockCheck(); err != nil {
				return err
			}
			g.running, g.paused = false, false
			return nil
		}
	case "reboot", "reset":
		if !g.running {
			return nil, errf(500, "%s %d not running", lbl, g.vmid)
		}
		work = func(t *task) error {
			if err := lockCheck(); err != nil {
				return err
			}
			if action == "reboot" {
				s.startGuest(g)
			}
			return nil
		}
	case "suspend":
		if !g.running {
			return nil, errf(500, "%s %d not running", lbl, g.vmid)
		}
		todisk := q.params["todisk"] == "1"
		if todisk {
			g.conf["lock"] = "suspending"
		}
		work = func(t *task) error {
			if todisk {
				g.running, g.paused = false, false
				g.conf["lock"] = "suspended"
				return nil
			}
			if err := lockCheck(); err != nil {
				return err
			}
			g.paused = true
			return nil
		}
	case "resume":
		if !g.running && g.conf["lock"] != "suspended" {
			return nil, errf(500, "%s %d not running", lbl, g.vmid)
		}
		work = func(t *task) error {
			if g.conf["lock"] == "suspended" {
				delete(g.conf, "lock")
				s.startGuest(g)
				return nil
			}
			g.paused = false
			return nil
		}
	}
	return s.startTask(q.who, g.node, taskType(typ, "qm"+action, "vz"+action), strconv.Itoa(g.vmid), work, func() {
		if g.conf["lock"] == "suspending" {
			delete(g.conf, "lock")
		}
	}), nil
}

// DELETE /nodes/{node}/{type}/{vmid}
func hGuestDelete(s *Server, q *req, typ string) (any, error) {
	keys := []string{"purge", "destroy-unreferenced-disks", "skiplock"}
	if typ == "lxc" {
		keys = append(keys, "force")
	}
	if err := allow(q, keys...); err != nil {
		return nil, err
	}
	if err := boolParams(q, keys...); err != nil {
		return nil, err
	}
	if q.has("skiplock") && q.who.full() != "root@pam" {
		return nil, param1("skiplock", "Only root may use this option.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Allocate")
	if err != nil {
		return nil, err
	}
	if g.conf["protection"] == "1" {
		return nil, errf(500, "can't remove %s %d - protection mode enabled", g.label(), g.vmid)
	}
	force := q.params["force"] == "1"
	if g.running && !force {
		return nil, errf(500, "%s %d is running - destroy failed", g.label(), g.vmid)
	}
	skiplock := q.params["skiplock"] == "1"
	return s.startTask(q.who, g.node, taskType(typ, "qmdestroy", "vzdestroy"), strconv.Itoa(g.vmid), func(t *task) error {
		if !skiplock {
			if err := g.lockedErr(); err != nil {
				return err
			}
		}
		if g.running && !force {
			return fmt.Errorf("%s %d is running - destroy failed", g.label(), g.vmid)
		}
		g.running = false
		s.freeGuestVolumes(g, g.conf)
		for k, v := range g.pending {
			if g.isDiskKey(k) {
				s.c.freeVolume(v)
			}
		}
		for _, sn := range g.snaps {
			s.freeGuestVolumes(g, sn.conf)
		}
		if q.params["destroy-unreferenced-disks"] != "0" {
			for _, st := range s.c.storages {
				for name, v := range st.vols {
					if v.vmid == g.vmid {
						delete(st.vols, name)
					}
				}
			}
		}
		if p := s.c.pools[g.pool]; p != nil {
			p.members = removeStr(p.members, g.typ+"/"+strconv.Itoa(g.vmid))
		}
		delete(s.c.guests, g.vmid)
		t.log = append(t.log, fmt.Sprintf("destroyed %s %d", strings.ToLower(g.label()), g.vmid))
		return nil
	}, nil), nil
}

// POST .../clone
func hGuestClone(s *Server, q *req, typ string) (any, error) {
	keys := []string{"newid", "name", "description", "pool", "snapname", "full", "storage", "format", "target", "bwlimit"}
	if typ == "lxc" {
		keys = []string{"newid", "hostname", "description", "pool", "snapname", "full", "storage", "target", "bwlimit"}
	}
	if err := allow(q, keys...); err != nil {
		return nil, err
	}
	nv, ok := q.params["newid"]
	if !ok {
		return nil, param1("newid", "property is missing and it is not optional")
	}
	newid, err := checkVMID(nv)
	if err != nil {
		return nil, paramErr(map[string]string{"newid": err.(*apiError).errors["vmid"]})
	}
	if n, ok := q.params["name"]; ok && !reDNSName.MatchString(n) {
		return nil, param1("name", "value does not match the regex pattern")
	}
	if n, ok := q.params["hostname"]; ok && !reDNSName.MatchString(n) {
		return nil, param1("hostname", "value does not match the regex pattern")
	}
	if _, err := boolParam(q, "full"); err != nil {
		return nil, err
	}
	if err := q.who.require(vmPath(q.vars["vmid"]), "VM.Clone"); err != nil {
		return nil, err
	}
	if err := q.who.require(vmPath(nv), "VM.Allocate"); err != nil {
		if p := q.params["pool"]; p == "" || q.who.require("/pool/"+p, "VM.Allocate") != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := s.guest(q, typ)
	if err != nil {
		return nil, err
	}
	if err := src.lockedErr(); err != nil {
		return nil, err
	}
	if old := s.c.guests[newid]; old != nil {
		return nil, errf(500, "unable to create %s %d: config file already exists", src.label(), newid)
	}
	poolID := q.params["pool"]
	if poolID != "" && s.c.pools[poolID] == nil {
		return nil, errf(403, "Permission check failed (pool '%s' does not exist)", poolID)
	}
	isTemplate := src.conf["template"] == "1"
	full := !isTemplate
	if v, ok := q.params["full"]; ok {
		full = v == "1"
	}
	if !full && !isTemplate {
		return nil, errf(500, "Linked clone feature is not supported for drive 'scsi0'")
	}
	if !full && (q.has("storage") || q.has("format")) {
		return nil, errf(500, "parameter 'storage' not allowed for linked clones")
	}
	srcConf := src.conf
	if sn := q.params["snapname"]; sn != "" {
		snap := src.snap(sn)
		if snap == nil {
			return nil, errf(500, "snapshot '%s' does not exist", sn)
		}
		srcConf = snap.conf
	}
	target := q.params["target"]
	if target != "" {
		tn := s.c.nodeByName[target]
		if tn == nil {
			return nil, errf(500, "no such cluster node '%s'", target)
		}
	}
	tgtStorage := q.params["storage"]
	if tgtStorage != "" && s.c.storageBy[tgtStorage] == nil {
		return nil, errf(500, "storage '%s' does not exist", tgtStorage)
	}
	// Like qemu-server and pve-container: a clone can only be moved to
	// another node when every disk (or the target storage) is shared.
	if target != "" && target != src.node {
		if tgtStorage != "" {
			if !s.c.storageBy[tgtStorage].shared {
				return nil, errf(500, "can't clone to non-shared storage '%s'", tgtStorage)
			}
		} else {
			for k, v := range srcConf {
				if !src.isDiskKey(k) || strings.HasPrefix(k, "unused") || strings.Contains(v, "media=cdrom") {
					continue
				}
				if st, _ := s.c.volOf(v); st != nil && !st.shared {
					// qemu-server's wording; pve-container refuses the
					// same case, worded after it here.
					what := "VM"
					if typ == "lxc" {
						what = "CT"
					}
					return nil, errf(500, "can't clone %s to node '%s' (%s uses local storage)", what, target, what)
				}
			}
		}
	}
	ng := &guest{typ: typ, vmid: newid, node: src.node, conf: map[string]string{}}
	for k, v := range srcConf {
		switch k {
		case "lock", "parent", "template", "snaptime", "vmstate", "runningmachine", "runningcpu", "meta", "vmgenid":
			continue
		}
		if strings.HasPrefix(k, "unused") {
			continue
		}
		ng.conf[k] = v
	}
	ng.rawLXC = append(ng.rawLXC, src.rawLXC...)
	for k, v := range ng.conf {
		switch {
		case isNIC(k):
			f := fmtQemuNet
			if typ == "lxc" {
				f = fmtLXCNet
			}
			if p, err := parseProp(f, k, v); err == nil {
				if typ == "lxc" {
					p.set("hwaddr", s.c.newMAC())
				} else {
					p.set("macaddr", s.c.newMAC())
				}
				ng.conf[k] = p.print(f)
			}
		case ng.isDiskKey(k) && !strings.Contains(v, "media=cdrom"):
			st, name := s.c.volOf(v)
			if st == nil {
				continue
			}
			size := diskSize(v)
			rest := strings.TrimPrefix(v, firstField(v))
			if full {
				dst := st
				if tgtStorage != "" {
					dst = s.c.storageBy[tgtStorage]
				}
				nname := s.c.allocVolume(dst, ng, size, "")
				ng.conf[k] = dst.id + ":" + nname + rest
			} else {
				nname := s.c.allocVolume(st, ng, size, "")
				delete(st.vols, nname)
				linked := name + "/" + nname
				st.vols[linked] = &volume{vmid: newid, size: size, content: "images", node: ng.node}
				if typ == "lxc" {
					st.vols[linked].content = "rootdir"
				}
				ng.conf[k] = st.id + ":" + linked + rest
			}
		case strings.Contains(v, "-cloudinit"):
			st, _ := s.c.volOf(v)
			if st != nil {
				ng.conf[k] = st.id + ":" + s.c.allocCloudinit(st, ng) + ",media=cdrom"
			}
		}
	}
	if typ == "qemu" {
		ng.conf["name"] = "Copy-of-VM-" + src.name()
		if n := q.params["name"]; n != "" {
			ng.conf["name"] = n
		}
		ng.conf["smbios1"] = "uuid=" + s.c.newUUID()
		ng.conf["vmgenid"] = s.c.newUUID()
	} else if h := q.params["hostname"]; h != "" {
		ng.conf["hostname"] = h
	}
	if d, ok := q.params["description"]; ok {
		ng.conf["description"] = d
	}
	ng.conf["lock"] = "clone"
	s.c.guests[newid] = ng
	return s.startTask(q.who, src.node, taskType(typ, "qmclone", "vzclone"), strconv.Itoa(src.vmid), func(t *task) error {
		delete(ng.conf, "lock")
		s.c.joinPool(ng, poolID)
		if target != "" {
			ng.node = target
			s.moveVolumes(ng)
		}
		return nil
	}, func() {
		s.freeGuestVolumes(ng, ng.conf)
		delete(s.c.guests, newid)
	}), nil
}

func (s *Server) moveVolumes(g *guest) {
	for k, v := range g.conf {
		if g.isDiskKey(k) {
			if st, name := s.c.volOf(v); st != nil {
				if vol := st.vols[name]; vol != nil {
					vol.node = g.node
				}
			}
		}
	}
}

// POST .../template
func hGuestTemplate(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "disk"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Allocate")
	if err != nil {
		return nil, err
	}
	if err := g.lockedErr(); err != nil {
		return nil, err
	}
	if g.conf["template"] == "1" {
		return nil, errf(500, "you can't convert a template to a template")
	}
	if g.running {
		if typ == "lxc" {
			return nil, errf(500, "you can't convert a CT to template if the CT is running")
		}
		return nil, errf(500, "you can't convert a VM to template if VM is running")
	}
	return s.startTask(q.who, g.node, taskType(typ, "qmtemplate", "vztemplate"), strconv.Itoa(g.vmid), func(t *task) error {
		for k, v := range g.conf {
			if !g.isDiskKey(k) || strings.HasPrefix(k, "unused") || strings.Contains(v, "media=cdrom") {
				continue
			}
			st, name := s.c.volOf(v)
			if st == nil || strings.Contains(name, "/") && !st.fileBased() {
				continue
			}
			nname := strings.Replace(name, "vm-", "base-", 1)
			nname = strings.Replace(nname, "subvol-", "basevol-", 1)
			if vol := st.vols[name]; vol != nil {
				delete(st.vols, name)
				st.vols[nname] = vol
			}
			g.conf[k] = st.id + ":" + nname + strings.TrimPrefix(v, firstField(v))
		}
		g.conf["template"] = "1"
		return nil
	}, nil), nil
}

// PUT .../resize
func hGuestResize(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "disk", "size", "digest", "skiplock"); err != nil {
		return nil, err
	}
	disk, size := q.params["disk"], q.params["size"]
	errs := map[string]string{}
	if disk == "" {
		errs["disk"] = "property is missing and it is not optional"
	}
	if size == "" {
		errs["size"] = "property is missing and it is not optional"
	} else if _, ok := parseSize(strings.TrimPrefix(size, "+")); !ok {
		errs["size"] = "value does not match the regex pattern"
	}
	if len(errs) > 0 {
		return nil, paramErr(errs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Config.Disk")
	if err != nil {
		return nil, err
	}
	if err := g.digestErr(q); err != nil {
		return nil, err
	}
	return s.startTask(q.who, g.node, "resize", strconv.Itoa(g.vmid), func(t *task) error {
		if err := g.lockedErr(); err != nil && q.params["skiplock"] != "1" {
			return err
		}
		v, ok := g.conf[disk]
		if !ok || !g.isDiskKey(disk) || strings.HasPrefix(disk, "unused") {
			return fmt.Errorf("disk '%s' does not exist", disk)
		}
		if strings.Contains(v, "media=cdrom") {
			return fmt.Errorf("you can't resize a cdrom")
		}
		// PVE grows from the volume's real size, not the size= the config
		// records (which a config update may have set to anything).
		cur := diskSize(v)
		st, name := s.c.volOf(v)
		if st != nil && st.vols[name] != nil {
			cur = st.vols[name].size
		}
		n, _ := parseSize(strings.TrimPrefix(size, "+"))
		newSize := n
		if strings.HasPrefix(size, "+") {
			newSize = cur + n
		}
		if newSize < cur {
			return fmt.Errorf("shrinking disks is not supported")
		}
		if newSize == cur {
			return nil
		}
		if st != nil {
			if vol := st.vols[name]; vol != nil {
				vol.size = newSize
			}
		}
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if !strings.HasPrefix(p, "size=") {
				parts = append(parts, p)
			}
		}
		f := diskFormat(typ, disk)
		p, err := parseProp(f, disk, strings.Join(parts, ","))
		if err != nil {
			return err
		}
		p.set("size", formatSize(newSize))
		g.conf[disk] = p.print(f)
		return nil
	}, nil), nil
}

// POST .../migrate
func hGuestMigrate(s *Server, q *req, typ string) (any, error) {
	keys := []string{"target", "online", "with-local-disks", "targetstorage", "force", "migration_type", "migration_network", "bwlimit", "with-conntrack-state"}
	if typ == "lxc" {
		keys = []string{"target", "online", "restart", "target-storage", "timeout", "bwlimit"}
	}
	if err := allow(q, keys...); err != nil {
		return nil, err
	}
	target := q.params["target"]
	if target == "" {
		return nil, param1("target", "property is missing and it is not optional")
	}
	if err := boolParams(q, "online", "with-local-disks", "force", "restart"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Migrate")
	if err != nil {
		return nil, err
	}
	if target == g.node {
		return nil, errf(500, "target is local node.")
	}
	tn := s.c.nodeByName[target]
	if tn == nil {
		return nil, errf(500, "no such cluster node '%s'", target)
	}
	if !tn.online() {
		return nil, errf(500, "target node '%s' is not online", target)
	}
	if g.running {
		if typ == "qemu" && q.params["online"] != "1" {
			return nil, errf(500, "can't migrate running VM without --online")
		}
		if typ == "lxc" && q.params["restart"] != "1" {
			return nil, errf(500, "lxc live migration is currently not implemented. Use --restart to migrate a running container")
		}
	}
	if err := g.lockedErr(); err != nil {
		return nil, err
	}
	g.conf["lock"] = "migrate"
	// Like QemuMigrate: a running VM's local disks move only with
	// with-local-disks; without it the task fails while scanning volumes.
	var localDisks []string
	if typ == "qemu" && g.running && q.params["with-local-disks"] != "1" {
		for _, k := range slices.Sorted(maps.Keys(g.conf)) {
			v := g.conf[k]
			if !g.isDiskKey(k) || strings.HasPrefix(k, "unused") || strings.Contains(v, "media=cdrom") {
				continue
			}
			if st, name := s.c.volOf(v); st != nil && !st.shared {
				localDisks = append(localDisks, st.id+":"+name)
			}
		}
	}
	return s.startTask(q.who, g.node, taskType(typ, "qmigrate", "vzmigrate"), strconv.Itoa(g.vmid), func(t *task) error {
		delete(g.conf, "lock")
		if len(localDisks) > 0 {
			t.log = append(t.log, fmt.Sprintf("starting migration of VM %d to node '%s'", g.vmid, target))
			for _, v := range localDisks {
				t.log = append(t.log, fmt.Sprintf("found local disk '%s' (in current VM config)", v),
					fmt.Sprintf("can't migrate local disk '%s': can't live migrate attached local disks without with-local-disks option", v))
			}
			t.log = append(t.log, "ERROR: Problem found while scanning volumes - can't migrate VM - check log",
				"aborting phase 1 - cleanup resources",
				"ERROR: migration aborted (duration 00:00:01): Problem found while scanning volumes - can't migrate VM - check log")
			return errors.New("migration aborted")
		}
		g.node = target
		s.moveVolumes(g)
		t.log = append(t.log, fmt.Sprintf("migration finished successfully (duration 00:00:01)"))
		return nil
	}, func() { delete(g.conf, "lock") }), nil
}
