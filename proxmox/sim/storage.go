package sim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func (st *storage) configJSON() map[string]any {
	m := map[string]any{"storage": st.id, "type": st.typ, "content": st.content}
	if st.path != "" {
		m["path"] = st.path
	}
	switch st.typ {
	case "lvmthin":
		m["vgname"], m["thinpool"] = "pve", "data"
	case "lvm":
		m["vgname"] = "pve"
	case "zfspool":
		m["pool"] = "rpool/data"
		m["sparse"] = 1
	}
	if st.shared || st.fileBased() && st.typ != "dir" {
		m["shared"] = b2i(st.shared)
	}
	if st.nodes != nil {
		m["nodes"] = strings.Join(st.nodes, ",")
	}
	if st.disabled {
		m["disable"] = 1
	}
	return m
}

func (s *Server) storageDigest() string {
	h := sha1.New()
	for _, st := range s.c.storages {
		fmt.Fprintf(h, "%s: %s\n\tcontent %s\n", st.typ, st.id, st.content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// GET /storage[?type=]
func hStorageList(s *Server, q *req) (any, error) {
	if err := allow(q, "type"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.storageDigest()
	out := []map[string]any{}
	for _, st := range s.c.storages {
		if t := q.params["type"]; t != "" && st.typ != t {
			continue
		}
		if !q.who.can("/storage/"+st.id, "Datastore.Audit") && !q.who.can("/storage/"+st.id, "Datastore.AllocateSpace") {
			continue
		}
		m := st.configJSON()
		m["digest"] = d
		out = append(out, m)
	}
	return out, nil
}

// GET /storage/{storage}
func hStorageGet(s *Server, q *req) (any, error) {
	if err := q.who.requireAny("/storage/"+q.vars["storage"], "Datastore.Audit", "Datastore.Allocate"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.c.storageBy[q.vars["storage"]]
	if st == nil {
		return nil, errf(500, "storage '%s' does not exist", q.vars["storage"])
	}
	m := st.configJSON()
	m["digest"] = s.storageDigest()
	return m, nil
}

func (s *Server) storageStatus(st *storage, n *node) map[string]any {
	used := st.used()
	return map[string]any{"storage": st.id, "type": st.typ, "content": st.content,
		"active": 1, "enabled": b2i(!st.disabled), "shared": b2i(st.shared),
		"total": st.total, "used": used, "avail": st.total - used,
		"used_fraction": float64(used) / float64(st.total)}
}

// GET /nodes/{node}/storage
func hNodeStorage(s *Server, q *req) (any, error) {
	if err := allow(q, "content", "enabled", "storage", "target", "format"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(q)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, st := range s.c.storages {
		if !st.onNode(n.name) {
			continue
		}
		if v := q.params["storage"]; v != "" && v != st.id {
			continue
		}
		if v := q.params["content"]; v != "" {
			ok := false
			for _, c := range splitList(v) {
				if st.hasContent(c) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if q.params["enabled"] == "1" && st.disabled {
			continue
		}
		if t := q.params["target"]; t != "" && t != n.name && !st.shared {
			continue
		}
		if !q.who.can("/storage/"+st.id, "Datastore.Audit") && !q.who.can("/storage/"+st.id, "Datastore.AllocateSpace") {
			continue
		}
		out = append(out, s.storageStatus(st, n))
	}
	return out, nil
}

// nodeStorage resolves {node}/{storage} after demanding one of privs on the
// storage.
func (s *Server) nodeStorage(q *req, privs ...string) (*node, *storage, error) {
	if err := q.who.requireAny("/storage/"+q.vars["storage"], privs...); err != nil {
		return nil, nil, err
	}
	n, err := s.node(q)
	if err != nil {
		return nil, nil, err
	}
	st := s.c.storageBy[q.vars["storage"]]
	if st == nil || !st.onNode(n.name) {
		return nil, nil, errf(500, "storage '%s' does not exist", q.vars["storage"])
	}
	return n, st, nil
}

// GET /nodes/{node}/storage/{storage}/status
func hNodeStorageStatus(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, st, err := s.nodeStorage(q, "Datastore.Audit", "Datastore.AllocateSpace")
	if err != nil {
		return nil, err
	}
	return s.storageStatus(st, n), nil
}

// GET /nodes/{node}/storage/{storage}/content[?content=&vmid=]
func hStorageContent(s *Server, q *req) (any, error) {
	if err := allow(q, "content", "vmid"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, st, err := s.nodeStorage(q, "Datastore.Audit", "Datastore.AllocateSpace")
	if err != nil {
		return nil, err
	}
	want := q.params["content"]
	vmid := q.params["vmid"]
	out := []map[string]any{}
	for _, it := range st.items {
		if it.Node != "" && !st.shared && it.Node != n.name {
			continue
		}
		if want != "" && it.Content != want {
			continue
		}
		if vmid != "" && strconv.Itoa(it.VMID) != vmid {
			continue
		}
		m := map[string]any{"volid": it.Volid, "content": it.Content, "format": it.Format, "size": it.Size, "ctime": it.Ctime}
		if it.VMID != 0 {
			m["vmid"] = it.VMID
		}
		if it.Notes != "" {
			m["notes"] = it.Notes
		}
		out = append(out, m)
	}
	names := make([]string, 0, len(st.vols))
	for name, v := range st.vols {
		if !st.shared && v.node != n.name {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := st.vols[name]
		if want != "" && v.content != want {
			continue
		}
		if vmid != "" && strconv.Itoa(v.vmid) != vmid {
			continue
		}
		format := "raw"
		if strings.HasSuffix(name, ".qcow2") {
			format = "qcow2"
		} else if strings.HasPrefix(name, "subvol-") {
			format = "subvol"
		}
		m := map[string]any{"volid": st.id + ":" + name, "content": v.content, "format": format,
			"size": v.size, "used": v.size / 3, "vmid": v.vmid, "ctime": 1727046066}
		if base, _, ok := strings.Cut(name, "/vm-"); ok && strings.HasPrefix(base, "base-") {
			m["parent"] = base
		}
		out = append(out, m)
	}
	return out, nil
}
