package sim

import (
	"fmt"
	"sort"
)

// EditConfig changes one key of a guest's current config out of band, as
// an admin editing /etc/pve by hand would: the digest changes, no task
// runs. An empty value deletes the key. Tests use it to provoke digest
// mismatches and drift.
func (s *Server) EditConfig(vmid int, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.c.guests[vmid]
	if g == nil {
		return fmt.Errorf("sim: edit config: guest %d does not exist", vmid)
	}
	if value == "" {
		delete(g.conf, key)
	} else {
		g.conf[key] = value
	}
	return nil
}

// Config returns a copy of a guest's current config (without pending
// changes) and its type ("qemu" or "lxc").
func (s *Server) Config(vmid int) (map[string]string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.c.guests[vmid]
	if g == nil {
		return nil, "", false
	}
	m := make(map[string]string, len(g.conf))
	for k, v := range g.conf {
		m[k] = v
	}
	return m, g.typ, true
}

// GuestState is what the fake knows about a guest beyond its config.
type GuestState struct {
	Type    string
	Node    string
	Running bool
	Pool    string
	Pending map[string]string
	Deletes []string
}

// Guest returns a guest's runtime state.
func (s *Server) Guest(vmid int) (GuestState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.c.guests[vmid]
	if g == nil {
		return GuestState{}, false
	}
	st := GuestState{Type: g.typ, Node: g.node, Running: g.running, Pool: g.pool, Deletes: append([]string(nil), g.pendingDel...)}
	if len(g.pending) > 0 {
		st.Pending = map[string]string{}
		for k, v := range g.pending {
			st.Pending[k] = v
		}
	}
	return st, true
}

// VMIDs lists every guest id, sorted.
func (s *Server) VMIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.c.guests))
	for id := range s.c.guests {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// SetRunning powers a guest on or off out of band (a crash, or a start
// from the host's console).
func (s *Server) SetRunning(vmid int, running bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.c.guests[vmid]
	if g == nil {
		return fmt.Errorf("sim: set running: guest %d does not exist", vmid)
	}
	if running && !g.running {
		s.startGuest(g)
	}
	g.running = running
	return nil
}
