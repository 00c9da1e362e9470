package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// allow rejects parameters that the method's schema does not define, with
// PVE's wording.
func allow(q *req, keys ...string) error {
	var errs map[string]string
	for k := range q.params {
		if !contains(keys, k) {
			if errs == nil {
				errs = map[string]string{}
			}
			errs[k] = "property is not defined in schema and the schema does not allow additional properties"
		}
	}
	if errs != nil {
		return paramErr(errs)
	}
	return nil
}

// boolParam reads a 0/1 parameter.
func boolParam(q *req, key string) (bool, error) {
	v, ok := q.params[key]
	if !ok {
		return false, nil
	}
	switch v {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, param1(key, fmt.Sprintf("type check ('boolean') failed - got '%s'", v))
}

// boolParams checks that each of keys, where given, is 0 or 1.
func boolParams(q *req, keys ...string) error {
	for _, k := range keys {
		if _, err := boolParam(q, k); err != nil {
			return err
		}
	}
	return nil
}

// node resolves {node}; a name outside the cluster fails as PVE's DNS
// fallback does, an offline node as the proxy does.
func (s *Server) node(q *req) (*node, error) {
	name := q.vars["node"]
	n := s.c.nodeByName[name]
	if n == nil {
		if !reNodeName.MatchString(name) {
			return nil, param1("node", "invalid format - value does not look like a valid node name\n")
		}
		return nil, errf(500, "hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", name, name)
	}
	if !n.online() {
		return nil, errf(595, "No route to host")
	}
	return n, nil
}

// GET /version
func hVersion(s *Server, q *req) (any, error) {
	if err := allow(q); err != nil {
		return nil, err
	}
	v := s.c.version
	rel := v
	if parts := strings.Split(v, "."); len(parts) >= 2 {
		rel = parts[0] + "." + parts[1]
	}
	return map[string]any{"version": v, "release": rel, "repoid": "2a5fa54a8503f96d"}, nil
}

// GET /cluster/status
func hClusterStatus(s *Server, q *req) (any, error) {
	if err := q.who.require("/", "Sys.Audit"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	single := len(s.c.nodes) == 1
	if !single {
		online := 0
		for _, n := range s.c.nodes {
			if n.online() {
				online++
			}
		}
		quorate := 0
		if online*2 > len(s.c.nodes) {
			quorate = 1
		}
		out = append(out, map[string]any{"type": "cluster", "id": "cluster", "name": s.c.name,
			"nodes": len(s.c.nodes), "version": len(s.c.nodes) + 2, "quorate": quorate})
	}
	for i, n := range s.c.nodes {
		e := map[string]any{"type": "node", "id": "node/" + n.name, "name": n.name, "nodeid": n.nodeid,
			"ip": n.ip, "local": b2i(i == 0), "online": b2i(n.online()), "level": ""}
		if single {
			e["nodeid"] = 0
		}
		out = append(out, e)
	}
	return out, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// GET /nodes
func hNodes(s *Server, q *req) (any, error) {
	if err := allow(q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, n := range s.c.nodes {
		e := map[string]any{"node": n.name, "id": "node/" + n.name, "type": "node", "status": n.status,
			"level": "", "ssl_fingerprint": n.fingerprint}
		if n.online() && q.who.can("/nodes/"+n.name, "Sys.Audit") {
			mem, _ := s.nodeUsage(n)
			e["cpu"] = 0.0312
			e["maxcpu"] = n.maxcpu
			e["mem"] = mem
			e["maxmem"] = n.maxmem
			e["disk"] = n.maxdisk / 7
			e["maxdisk"] = n.maxdisk
			e["uptime"] = s.nodeUptime()
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Server) nodeUptime() int64 {
	return int64(time.Since(s.c.boot).Seconds())
}

// nodeUsage sums the memory of running guests on n plus a base load.
func (s *Server) nodeUsage(n *node) (mem int64, running int) {
	mem = 2 << 30
	for _, g := range s.c.guests {
		if g.node == n.name && g.running {
			mem += g.memBytes() / 2
			running++
		}
	}
	if mem > n.maxmem {
		mem = n.maxmem
	}
	return mem, running
}

func hNodeDir(s *Server, q *req) (any, error) {
	s.mu.Lock()
	_, err := s.node(q)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return dir("qemu", "lxc", "status", "storage", "tasks", "network", "version")(s, q)
}

// GET /nodes/{node}/status
func hNodeStatus(s *Server, q *req) (any, error) {
	if err := q.who.require("/nodes/"+q.vars["node"], "Sys.Audit"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(q)
	if err != nil {
		return nil, err
	}
	mem, _ := s.nodeUsage(n)
	return map[string]any{
		"uptime": s.nodeUptime(), "idle": 0, "cpu": 0.0312, "wait": 0.0004,
		"loadavg":  []string{"0.15", "0.25", "0.30"},
		"kversion": "Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4 (2024-11-06T15:04Z)",
		"current-kernel": map[string]any{"sysname": "Linux", "release": "6.8.12-4-pve",
			"version": "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4 (2024-11-06T15:04Z)", "machine": "x86_64"},
		"boot-info": map[string]any{"mode": "efi", "secureboot": 0},
		"cpuinfo": map[string]any{"model": "Intel(R) Xeon(R) CPU E-2278G @ 3.40GHz", "cores": n.maxcpu / 2,
			"cpus": n.maxcpu, "sockets": 1, "mhz": "3400.000", "hvm": "1", "flags": "fpu vme de pse", "user_hz": 100},
		"memory":     map[string]any{"total": n.maxmem, "used": mem, "free": n.maxmem - mem},
		"swap":       map[string]any{"total": 8 << 30, "used": 0, "free": 8 << 30},
		"ksm":        map[string]any{"shared": 0},
		"rootfs":     map[string]any{"total": n.maxdisk, "used": n.maxdisk / 7, "free": n.maxdisk - n.maxdisk/7, "avail": n.maxdisk - n.maxdisk/7},
		"pveversion": "pve-manager/" + s.c.version + "/2a5fa54a8503f96d",
	}, nil
}

// GET /nodes/{node}/network
func hNodeNetwork(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(q)
	if err != nil {
		return nil, err
	}
	return []map[string]any{
		{"iface": "vmbr0", "type": "bridge", "method": "static", "method6": "manual", "families": []string{"inet"},
			"address": n.ip, "netmask": "24", "cidr": n.ip + "/24", "gateway": "192.0.2.1",
			"bridge_ports": "eno1", "bridge_stp": "off", "bridge_fd": "0", "bridge_vlan_aware": 1,
			"autostart": 1, "active": 1, "priority": 5},
		{"iface": "eno1", "type": "eth", "method": "manual", "method6": "manual", "families": []string{"inet"},
			"exists": 1, "active": 1, "priority": 3},
	}, nil
}

// vmResource is a guest entry of /cluster/resources (a struct: 10,000 of
// them are encoded per call on the large preset).
type vmResource struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	VMID      int     `json:"vmid"`
	Node      string  `json:"node"`
	Name      string  `json:"name"`
	Status    string  `json:"status"`
	Template  int     `json:"template"`
	Uptime    int64   `json:"uptime"`
	CPU       float64 `json:"cpu"`
	MaxCPU    int     `json:"maxcpu"`
	Mem       int64   `json:"mem"`
	MaxMem    int64   `json:"maxmem"`
	Disk      int64   `json:"disk"`
	MaxDisk   int64   `json:"maxdisk"`
	NetIn     int64   `json:"netin"`
	NetOut    int64   `json:"netout"`
	DiskRead  int64   `json:"diskread"`
	DiskWrite int64   `json:"diskwrite"`
	Tags      string  `json:"tags,omitempty"`
	Lock      string  `json:"lock,omitempty"`
	Pool      string  `json:"pool,omitempty"`
}

func (s *Server) guestResource(g *guest, withPool bool) vmResource {
	n := s.c.nodeByName[g.node]
	r := vmResource{ID: g.typ + "/" + strconv.Itoa(g.vmid), Type: g.typ, VMID: g.vmid, Node: g.node,
		Name: g.name(), Status: g.status(), Template: atoiDef(g.conf["template"], 0),
		MaxCPU: g.cpus(n.maxcpu), MaxMem: g.memBytes(), MaxDisk: g.bootDiskSize(),
		Tags: g.conf["tags"], Lock: g.conf["lock"]}
	if g.running {
		r.Uptime = g.uptime()
		r.CPU = 0.0123
		r.Mem = r.MaxMem * 2 / 5
		r.NetIn = int64(g.vmid) * 1531
		r.NetOut = int64(g.vmid) * 977
		r.DiskRead = int64(g.vmid) * 40961
		r.DiskWrite = int64(g.vmid) * 20483
		if g.typ == "lxc" {
			r.Disk = r.MaxDisk / 4
		}
	}
	if withPool {
		r.Pool = g.pool
	}
	return r
}

func atoiDef(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// GET /cluster/resources[?type=vm|storage|node|sdn]
func hClusterResources(s *Server, q *req) (any, error) {
	if err := allow(q, "type"); err != nil {
		return nil, err
	}
	typ := q.params["type"]
	switch typ {
	case "", "vm", "storage", "node", "sdn":
	default:
		return nil, param1("type", fmt.Sprintf("value '%s' does not have a value in the enumeration 'vm, storage, node, sdn'", typ))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, 0, len(s.c.guests)+len(s.c.nodes)*(len(s.c.storages)+2)+len(s.c.pools))
	if typ == "" || typ == "vm" {
		for _, g := range s.c.sortedGuests() {
			if !q.who.can(fmt.Sprintf("/vms/%d", g.vmid), "VM.Audit") {
				continue
			}
			out = append(out, s.guestResource(g, g.pool != "" && q.who.can("/pool/"+g.pool, "Pool.Audit")))
		}
	}
	if typ == "" || typ == "node" {
		for _, n := range s.c.nodes {
			if !q.who.can("/nodes/"+n.name, "Sys.Audit") {
				continue
			}
			e := map[string]any{"id": "node/" + n.name, "type": "node", "node": n.name, "status": n.status, "level": ""}
			if n.online() {
				mem, _ := s.nodeUsage(n)
				e["cgroup-mode"] = 2
				e["uptime"] = s.nodeUptime()
				e["cpu"] = 0.0312
				e["maxcpu"] = n.maxcpu
				e["mem"] = mem
				e["maxmem"] = n.maxmem
				e["disk"] = n.maxdisk / 7
				e["maxdisk"] = n.maxdisk
			}
			out = append(out, e)
		}
	}
	if typ == "" || typ == "storage" {
		for _, n := range s.c.nodes {
			for _, st := range s.c.storages {
				if !st.onNode(n.name) || st.disabled || !q.who.can("/storage/"+st.id, "Datastore.Audit") {
					continue
				}
				status := "available"
				if !n.online() {
					status = "unknown"
				}
				out = append(out, map[string]any{"id": "storage/" + n.name + "/" + st.id, "type": "storage",
					"storage": st.id, "node": n.name, "plugintype": st.typ, "status": status,
					"shared": b2i(st.shared), "content": st.content, "disk": st.used(), "maxdisk": st.total})
			}
		}
	}
	if typ == "" || typ == "sdn" {
		for _, n := range s.c.nodes {
			out = append(out, map[string]any{"id": "sdn/" + n.name + "/localnetwork", "type": "sdn",
				"sdn": "localnetwork", "node": n.name, "status": "ok"})
		}
	}
	if typ == "" {
		for _, id := range s.sortedPools() {
			if q.who.can("/pool/"+id, "Pool.Audit") {
				out = append(out, map[string]any{"id": "/pool/" + id, "type": "pool", "pool": id})
			}
		}
	}
	return out, nil
}

// GET /cluster/nextid[?vmid=N]
func hNextID(s *Server, q *req) (any, error) {
	if err := allow(q, "vmid"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := q.params["vmid"]; ok {
		n, err := checkVMID(v)
		if err != nil {
			return nil, err
		}
		if _, taken := s.c.guests[n]; taken {
			return nil, param1("vmid", fmt.Sprintf("VM %d already exists", n))
		}
		return strconv.Itoa(n), nil
	}
	for id := 100; id < 1000000; id++ {
		if _, taken := s.c.guests[id]; !taken {
			return strconv.Itoa(id), nil
		}
	}
	return nil, errf(500, "unable to get any free VMID in range [100, 1000000]")
}

// checkVMID validates a vmid parameter as PVE's schema does.
func checkVMID(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "+"))
	if err != nil {
		return 0, param1("vmid", fmt.Sprintf("type check ('integer') failed - got '%s'", v))
	}
	if n < 100 {
		return 0, param1("vmid", "value must have a minimum value of 100")
	}
	if n > 999999999 {
		return 0, param1("vmid", "value must have a maximum value of 999999999")
	}
	return n, nil
}

func (s *Server) sortedPools() []string {
	ids := make([]string, 0, len(s.c.pools))
	for id := range s.c.pools {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
