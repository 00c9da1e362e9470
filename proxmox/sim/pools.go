package sim

import (
	"fmt"
	"strconv"
	"strings"
)

func (s *Server) poolMembers(p *pool, typ string) []any {
	out := []any{}
	for _, m := range p.members {
		kind, id, _ := strings.Cut(m, "/")
		if typ != "" && kind != typ {
			continue
		}
		if kind == "storage" {
			st := s.c.storageBy[id]
			if st == nil {
				continue
			}
			for _, n := range s.c.nodes {
				if !st.onNode(n.name) {
					continue
				}
				out = append(out, map[string]any{"id": "storage/" + n.name + "/" + id, "type": "storage",
					"storage": id, "node": n.name, "plugintype": st.typ, "status": "available",
					"shared": b2i(st.shared), "content": st.content, "disk": st.used(), "maxdisk": st.total})
			}
			continue
		}
		vmid, _ := strconv.Atoi(id)
		if g := s.c.guests[vmid]; g != nil {
			out = append(out, s.guestResource(g, false))
		}
	}
	return out
}

// poolByParam resolves the pool of {poolid} or ?poolid=, demanding
// Pool.Audit on it and then each of also.
func (s *Server) poolByParam(q *req, also ...string) (*pool, error) {
	id := q.vars["poolid"]
	if id == "" {
		id = q.params["poolid"]
	}
	if id == "" {
		return nil, param1("poolid", "property is missing and it is not optional")
	}
	if err := q.who.require("/pool/"+id, "Pool.Audit"); err != nil {
		return nil, err
	}
	p := s.c.pools[id]
	if p == nil {
		return nil, errf(500, "pool '%s' does not exist", id)
	}
	for _, priv := range also {
		if err := q.who.require("/pool/"+id, priv); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// GET /pools[?poolid=X[&type=]]: the 8.1+ form; with poolid an array of one.
func hPoolsGet(s *Server, q *req) (any, error) {
	if err := allow(q, "poolid", "type"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := q.params["poolid"]; ok {
		p, err := s.poolByParam(q)
		if err != nil {
			return nil, err
		}
		typ := q.params["type"]
		switch typ {
		case "", "qemu", "lxc", "storage":
		default:
			return nil, param1("type", fmt.Sprintf("value '%s' does not have a value in the enumeration 'qemu, lxc, storage'", typ))
		}
		e := map[string]any{"poolid": p.id, "members": s.poolMembers(p, typ)}
		if p.comment != "" {
			e["comment"] = p.comment
		}
		return []any{e}, nil
	}
	out := []map[string]any{}
	for _, id := range s.sortedPools() {
		if !q.who.can("/pool/"+id, "Pool.Audit") {
			continue
		}
		e := map[string]any{"poolid": id}
		if c := s.c.pools[id].comment; c != "" {
			e["comment"] = c
		}
		out = append(out, e)
	}
	return out, nil
}

// GET /pools/{poolid} (deprecated form): a single object.
func hPoolGetOld(s *Server, q *req) (any, error) {
	if err := allow(q, "type"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.poolByParam(q)
	if err != nil {
		return nil, err
	}
	e := map[string]any{"members": s.poolMembers(p, q.params["type"])}
	if p.comment != "" {
		e["comment"] = p.comment
	}
	return e, nil
}

// POST /pools
func hPoolCreate(s *Server, q *req) (any, error) {
	if err := allow(q, "poolid", "comment"); err != nil {
		return nil, err
	}
	id := q.params["poolid"]
	if id == "" {
		return nil, param1("poolid", "property is missing and it is not optional")
	}
	if !rePoolID.MatchString(id) {
		return nil, param1("poolid", "invalid format - invalid pool ID '"+id+"'\n")
	}
	if err := q.who.require("/pool/"+id, "Pool.Allocate"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c.pools[id] != nil {
		return nil, errf(500, "create pool failed: pool '%s' already exists", id)
	}
	if i := strings.LastIndex(id, "/"); i > 0 && s.c.pools[id[:i]] == nil {
		return nil, errf(500, "create pool failed: parent '%s' does not exist", id[:i])
	}
	s.c.pools[id] = &pool{id: id, comment: q.params["comment"]}
	return nil, nil
}

// PUT /pools?poolid= and PUT /pools/{poolid}
func hPoolUpdate(s *Server, q *req) (any, error) {
	keys := []string{"comment", "vms", "storage", "delete", "allow-move"}
	if q.vars["poolid"] == "" {
		keys = append(keys, "poolid")
	}
	if err := allow(q, keys...); err != nil {
		return nil, err
	}
	del, err := boolParam(q, "delete")
	if err != nil {
		return nil, err
	}
	move, err := boolParam(q, "allow-move")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.poolByParam(q, "Pool.Allocate")
	if err != nil {
		return nil, err
	}
	if c, ok := q.params["comment"]; ok {
		p.comment = c
	}
	for _, v := range splitList(q.params["vms"]) {
		vmid, err := checkVMID(v)
		if err != nil {
			return nil, err
		}
		g := s.c.guests[vmid]
		if g == nil {
			return nil, errf(500, "VM %d does not exist", vmid)
		}
		member := g.typ + "/" + strconv.Itoa(vmid)
		if del {
			if g.pool == p.id {
				g.pool = ""
				p.members = removeStr(p.members, member)
			}
			continue
		}
		if g.pool == p.id {
			return nil, errf(500, "VM %d is already a pool member", vmid)
		}
		if g.pool != "" {
			if !move {
				return nil, errf(500, "VM %d belongs already to pool '%s' and 'allow-move' is not set", vmid, g.pool)
			}
			if old := s.c.pools[g.pool]; old != nil {
				old.members = removeStr(old.members, member)
			}
		}
		g.pool = p.id
		p.members = append(p.members, member)
	}
	for _, sid := range splitList(q.params["storage"]) {
		if s.c.storageBy[sid] == nil {
			return nil, errf(500, "storage '%s' does not exist", sid)
		}
		member := "storage/" + sid
		if del {
			p.members = removeStr(p.members, member)
		} else if !contains(p.members, member) {
			p.members = append(p.members, member)
		}
	}
	return nil, nil
}

// DELETE /pools?poolid= and /pools/{poolid}
func hPoolDelete(s *Server, q *req) (any, error) {
	keys := []string{}
	if q.vars["poolid"] == "" {
		keys = append(keys, "poolid")
	}
	if err := allow(q, keys...); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.poolByParam(q, "Pool.Allocate")
	if err != nil {
		return nil, err
	}
	if len(p.members) > 0 {
		return nil, errf(500, "delete pool failed: pool is not empty.")
	}
	for id := range s.c.pools {
		if strings.HasPrefix(id, p.id+"/") {
			return nil, errf(500, "delete pool failed: pool has sub-pools.")
		}
	}
	delete(s.c.pools, p.id)
	return nil, nil
}

func removeStr(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
