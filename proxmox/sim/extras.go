package sim

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

func init() {
	for _, typ := range []string{"qemu", "lxc"} {
		typ := typ
		b := "/nodes/{node}/" + typ + "/{vmid}"
		handle("GET", b+"/migrate", func(s *Server, q *req) (any, error) { return hMigratePrecondition(s, q, typ) })
		handle("GET", b+"/feature", func(s *Server, q *req) (any, error) { return hFeature(s, q, typ) })
	}
	handle("GET", "/nodes/{node}/qemu/{vmid}/cloudinit", hCloudinitGet)
	handle("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit", hCloudinitPut)
	handle("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}", hContentDelete)
}

// GET .../migrate[?target=]: the precondition check.
func hMigratePrecondition(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "target"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Migrate")
	if err != nil {
		return nil, err
	}
	var local []map[string]any
	localStorages := map[string]bool{}
	for k, v := range g.conf {
		if !g.isDiskKey(k) || strings.Contains(v, "media=cdrom") {
			continue
		}
		if st, name := s.c.volOf(v); st != nil && !st.shared {
			localStorages[st.id] = true
			local = append(local, map[string]any{"volid": st.id + ":" + name, "drivename": k, "size": diskSize(v)})
		}
	}
	sort.Slice(local, func(i, j int) bool { return local[i]["drivename"].(string) < local[j]["drivename"].(string) })
	allowed, notAllowed := []string{}, map[string]any{}
	for _, n := range s.c.nodes {
		if n.name == g.node {
			continue
		}
		var missing []string
		for sid := range localStorages {
			if !s.c.storageBy[sid].onNode(n.name) {
				missing = append(missing, sid)
			}
		}
		if !n.online() || len(missing) > 0 {
			sort.Strings(missing)
			notAllowed[n.name] = map[string]any{"unavailable_storages": missing}
			continue
		}
		allowed = append(allowed, n.name)
	}
	if local == nil {
		local = []map[string]any{}
	}
	return map[string]any{"running": b2i(g.running), "allowed_nodes": allowed, "not_allowed_nodes": notAllowed,
		"local_disks": local, "local_resources": []string{}}, nil
}

// GET .../feature?feature=snapshot|clone|copy
func hFeature(s *Server, q *req, typ string) (any, error) {
	if err := allow(q, "feature", "snapname"); err != nil {
		return nil, err
	}
	f := q.params["feature"]
	switch f {
	case "snapshot", "clone", "copy":
	case "":
		return nil, param1("feature", "property is missing and it is not optional")
	default:
		return nil, param1("feature", fmt.Sprintf("value '%s' does not have a value in the enumeration 'snapshot, clone, copy'", f))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, typ, "VM.Audit")
	if err != nil {
		return nil, err
	}
	has := 1
	if f == "clone" && g.conf["template"] != "1" {
		has = 0 // linked clones need a template
	}
	nodes := []string{}
	for _, n := range s.c.nodes {
		nodes = append(nodes, n.name)
	}
	return map[string]any{"hasFeature": has, "nodes": nodes}, nil
}

var cloudinitKeys = []string{"ciuser", "cipassword", "citype", "ciupgrade", "cicustom", "nameserver", "searchdomain", "sshkeys"}

// GET /nodes/{node}/qemu/{vmid}/cloudinit: cloud-init values, with what the
// generated drive would hold and what is pending regeneration.
func hCloudinitGet(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.guest(q, "qemu", "VM.Audit")
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range g.merged() {
		if contains(cloudinitKeys, k) || strings.HasPrefix(k, "ipconfig") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := []map[string]any{}
	m := g.merged()
	for _, k := range keys {
		v := m[k]
		if k == "cipassword" {
			v = "**********"
		}
		out = append(out, map[string]any{"key": k, "value": v})
	}
	return out, nil
}

// PUT /nodes/{node}/qemu/{vmid}/cloudinit regenerates the drive: null.
func hCloudinitPut(s *Server, q *req) (any, error) {
	if err := allow(q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.guest(q, "qemu", "VM.Config.Cloudinit"); err != nil {
		return nil, err
	}
	return nil, nil
}

// DELETE /nodes/{node}/storage/{storage}/content/{volume}: an imgdel task.
// The volume may be a full volid or the name on the storage.
func hContentDelete(s *Server, q *req) (any, error) {
	if err := allow(q, "delay"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, st, err := s.nodeStorage(q, "Datastore.Allocate")
	if err != nil {
		return nil, err
	}
	vol, _ := url.PathUnescape(q.vars["volume"])
	name := strings.TrimPrefix(vol, st.id+":")
	volid := st.id + ":" + name
	// A UPID field cannot hold ':' or '/' (PVE's parser rejects them).
	taskID := strings.NewReplacer(":", "_", "/", "_").Replace(volid)
	if v := st.vols[name]; v != nil {
		for _, g := range s.c.guests {
			for k, val := range g.conf {
				if g.isDiskKey(k) && firstField(val) == volid && !strings.HasPrefix(k, "unused") {
					return nil, errf(500, "volume '%s' is still in use by %s %d as '%s'", volid, g.label(), g.vmid, k)
				}
			}
		}
		return s.startTask(q.who, n.name, "imgdel", taskID, func(*task) error {
			delete(st.vols, name)
			return nil
		}, nil), nil
	}
	for _, it := range st.items {
		if it.Volid == volid {
			return s.startTask(q.who, n.name, "imgdel", taskID, func(*task) error {
				for j := range st.items {
					if st.items[j].Volid == volid {
						st.items = append(st.items[:j], st.items[j+1:]...)
						break
					}
				}
				return nil
			}, nil), nil
		}
	}
	return nil, errf(500, "volume '%s' does not exist", volid)
}
