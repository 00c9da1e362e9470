package sim

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

func (g *guest) snap(name string) *snapshot {
	for _, s := range g.snaps {
		if s.name == name {
			return s
		}
	}
	return nil
}

// GET .../snapshot
func hSnapList(s *Server, q *req, typ string) (any, error) {
	if err := allow(q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Audit")
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, sn := range g.snaps {
		e := map[string]any{"name": sn.name, "snaptime": sn.snaptime, "description": sn.description}
		if typ == "qemu" {
			e["vmstate"] = b2i(sn.vmstate)
		}
		if sn.parent != "" {
			e["parent"] = sn.parent
		}
		out = append(out, e)
	}
	cur := map[string]any{"name": "current", "digest": g.digest(), "running": b2i(g.running), "description": "You are here!"}
	if p := g.conf["parent"]; p != "" {
		cur["parent"] = p
	}
	out = append(out, cur)
	return out, nil
}

func checkSnapName(name string) error {
	if name == "" {
		return param1("snapname", "property is missing and it is not optional")
	}
	if len(name) > 40 {
		return param1("snapname", "value may only be 40 characters long")
	}
	if !reSnapName.MatchString(name) {
		return param1("snapname", "invalid format - invalid configuration ID '"+name+"'\n")
	}
	if name == "current" || name == "pending" {
		return errf(500, "invalid snapshot name '%s'", name)
	}
	return nil
}

// POST .../snapshot
func hSnapCreate(s *Server, q *req, typ string) (any, error) {
	keys := []string{"snapname", "description"}
	if typ == "qemu" {
		keys = append(keys, "vmstate")
	}
	if err := allow(q, keys...); err != nil {
		return nil, err
	}
	name := q.params["snapname"]
	if err := checkSnapName(name); err != nil {
		return nil, err
	}
	vmstate, err := boolParam(q, "vmstate")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Snapshot")
	if err != nil {
		return nil, err
	}
	if err := g.lockedErr(); err != nil {
		return nil, err
	}
	dup := g.snap(name) != nil
	if !dup {
		g.conf["lock"] = "snapshot"
	}
	return s.startTask(q.who, g.node, taskType(typ, "qmsnapshot", "vzsnapshot"), strconv.Itoa(g.vmid), func(t *task) error {
		if dup {
			return fmt.Errorf("snapshot name '%s' already used", name)
		}
		delete(g.conf, "lock")
		conf := make(map[string]string, len(g.conf))
		for k, v := range g.conf {
			if k != "parent" {
				conf[k] = v
			}
		}
		sn := &snapshot{name: name, description: q.params["description"], snaptime: time.Now().Unix(),
			parent: g.conf["parent"], vmstate: vmstate && g.running, conf: conf}
		sn.rawLXC = append(sn.rawLXC, g.rawLXC...)
		if sn.parent != "" {
			sn.conf["parent"] = sn.parent
		}
		g.snaps = append(g.snaps, sn)
		g.conf["parent"] = name
		return nil
	}, func() {
		if !dup {
			delete(g.conf, "lock")
		}
	}), nil
}

// GET .../snapshot/{snapname}/config
func hSnapConfig(s *Server, q *req, typ string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Audit")
	if err != nil {
		return nil, err
	}
	sn := g.snap(q.vars["snapname"])
	if sn == nil {
		return nil, errf(500, "snapshot '%s' does not exist", q.vars["snapname"])
	}
	out := g.configJSON(sn.conf, sn.rawLXC)
	out["snaptime"] = sn.snaptime
	if sn.description != "" {
		out["description"] = sn.description
	}
	return out, nil
}

// POST .../snapshot/{snapname}/rollback
func hSnapRollback(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "start"); err != nil {
		return nil, err
	}
	startAfter, err := boolParam(q, "start")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Snapshot", "VM.Snapshot.Rollback")
	if err != nil {
		return nil, err
	}
	name := q.vars["snapname"]
	sn := g.snap(name)
	if sn == nil {
		return nil, errf(500, "snapshot '%s' does not exist", name)
	}
	if err := g.lockedErr(); err != nil {
		return nil, err
	}
	g.conf["lock"] = "rollback"
	return s.startTask(q.who, g.node, taskType(typ, "qmrollback", "vzrollback"), strconv.Itoa(g.vmid), func(t *task) error {
		conf := make(map[string]string, len(sn.conf)+1)
		for k, v := range sn.conf {
			conf[k] = v
		}
		conf["parent"] = name
		g.conf = conf
		g.rawLXC = append([][2]string(nil), sn.rawLXC...)
		g.pending, g.pendingDel = nil, nil
		g.running, g.paused = sn.vmstate, false
		if g.running || startAfter {
			g.running = true
			g.started = time.Now()
		}
		return nil
	}, func() { delete(g.conf, "lock") }), nil
}

// DELETE .../snapshot/{snapname}
func hSnapDelete(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "force"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Snapshot")
	if err != nil {
		return nil, err
	}
	name := q.vars["snapname"]
	sn := g.snap(name)
	if sn == nil {
		return nil, errf(500, "snapshot '%s' does not exist", name)
	}
	if err := g.lockedErr(); err != nil && q.params["force"] != "1" {
		return nil, err
	}
	g.conf["lock"] = "snapshot-delete"
	return s.startTask(q.who, g.node, taskType(typ, "qmdelsnapshot", "vzdelsnapshot"), strconv.Itoa(g.vmid), func(t *task) error {
		delete(g.conf, "lock")
		var keep []*snapshot
		for _, x := range g.snaps {
			if x == sn {
				continue
			}
			if x.parent == name {
				x.parent = sn.parent
				if sn.parent == "" {
					delete(x.conf, "parent")
				} else {
					x.conf["parent"] = sn.parent
				}
			}
			keep = append(keep, x)
		}
		g.snaps = keep
		if g.conf["parent"] == name {
			if sn.parent == "" {
				delete(g.conf, "parent")
			} else {
				g.conf["parent"] = sn.parent
			}
		}
		return nil
	}, func() { delete(g.conf, "lock") }), nil
}

// guestIP is the guest's address: the static ipconfig0/net0 address, or
// one derived from its vmid (a DHCP lease).
func guestIP(g *guest) (string, int) {
	src := g.conf["ipconfig0"]
	if g.typ == "lxc" {
		src = g.conf["net0"]
	}
	for _, part := range strings.Split(src, ",") {
		if v, ok := strings.CutPrefix(part, "ip="); ok && v != "dhcp" && v != "manual" {
			if ip, n, err := net.ParseCIDR(v); err == nil {
				ones, _ := n.Mask.Size()
				return ip.String(), ones
			}
		}
	}
	return fmt.Sprintf("10.%d.%d.%d", 10+g.vmid/65536%200, g.vmid/256%256, g.vmid%254+1), 24
}

func nicMAC(g *guest, key string) string {
	v := g.conf[key]
	if g.typ == "lxc" {
		for _, part := range strings.Split(v, ",") {
			if m, ok := strings.CutPrefix(part, "hwaddr="); ok {
				return strings.ToLower(m)
			}
		}
		return ""
	}
	first := firstField(v)
	if _, mac, ok := strings.Cut(first, "="); ok {
		return strings.ToLower(mac)
	}
	return ""
}

// GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces
func hAgentInterfaces(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.agentGuest(q)
	if err != nil {
		return nil, err
	}
	ip, prefix := guestIP(g)
	ifaces := []map[string]any{{
		"name": "lo", "hardware-address": "00:00:00:00:00:00",
		"ip-addresses": []map[string]any{{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
			{"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}},
		"statistics": map[string]any{"rx-bytes": 0, "rx-dropped": 0, "rx-errs": 0, "rx-packets": 0, "tx-bytes": 0, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 0},
	}}
	for i := 0; i <= 31; i++ {
		k := "net" + strconv.Itoa(i)
		if _, ok := g.conf[k]; !ok {
			continue
		}
		addrs := []map[string]any{}
		if i == 0 {
			addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": "ipv4", "prefix": prefix})
		}
		ifaces = append(ifaces, map[string]any{"name": fmt.Sprintf("eth%d", i), "hardware-address": nicMAC(g, k),
			"ip-addresses": addrs,
			"statistics":   map[string]any{"rx-bytes": 1024, "rx-dropped": 0, "rx-errs": 0, "rx-packets": 10, "tx-bytes": 512, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 5}})
	}
	return map[string]any{"result": ifaces}, nil
}

// agentGuest resolves a guest whose agent can answer, after the agent
// calls' privilege check.
func (s *Server) agentGuest(q *req) (*guest, error) {
	g, err := s.guest(q, "qemu", "VM.GuestAgent.Audit", "VM.Monitor", "VM.Audit")
	if err != nil {
		return nil, err
	}
	if !agentEnabled(g.conf["agent"]) {
		return nil, errf(500, "No QEMU guest agent configured")
	}
	if !g.running {
		return nil, errf(500, "VM %d is not running", g.vmid)
	}
	return g, nil
}

// POST /nodes/{node}/qemu/{vmid}/agent/ping
func hAgentPing(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.agentGuest(q); err != nil {
		return nil, err
	}
	return map[string]any{"result": map[string]any{}}, nil
}

// GET /nodes/{node}/lxc/{vmid}/interfaces
func hLXCInterfaces(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, "lxc", "VM.Audit")
	if err != nil {
		return nil, err
	}
	if !g.running {
		return nil, errf(500, "CT %d is not running", g.vmid)
	}
	out := []map[string]any{{"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"}}
	ip, prefix := guestIP(g)
	for i := 0; i <= 31; i++ {
		k := "net" + strconv.Itoa(i)
		v, ok := g.conf[k]
		if !ok {
			continue
		}
		name := fmt.Sprintf("eth%d", i)
		for _, part := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(part, "name="); ok {
				name = n
			}
		}
		e := map[string]any{"name": name, "hwaddr": nicMAC(g, k)}
		if i == 0 {
			e["inet"] = fmt.Sprintf("%s/%d", ip, prefix)
		}
		out = append(out, e)
	}
	return out, nil
}
