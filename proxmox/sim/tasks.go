package sim

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// task is a worker as PVE runs it: a UPID, a log, running then stopped.
type task struct {
	upid      string
	node      string
	pid       uint32
	pstart    uint32
	start     time.Time
	end       time.Time
	typ       string
	id        string
	user      string // full: root@pam!pmpc
	done      bool
	exit      string
	log       []string
	work      func(t *task) error // runs under Server.mu when the task ends
	cleanup   func()              // runs under Server.mu instead, when the task fails by injection
	forceFail string
}

// maxTasks bounds how many finished tasks the fake remembers.
const maxTasks = 2000

var reUPID = regexp.MustCompile(`^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$`)

// startTask registers a task and runs it after Options.TaskDuration.
// Called with s.mu held. work makes the change (or fails with PVE's text);
// cleanup undoes what the request already did if the task fails.
func (s *Server) startTask(who *principal, node, typ, id string, work func(t *task) error, cleanup func()) string {
	c := s.c
	c.pid++
	now := time.Now()
	t := &task{
		node:    node,
		pid:     c.pid,
		pstart:  uint32(now.Sub(c.boot)/(10*time.Millisecond)) & 0xFFFFFFFF,
		start:   now,
		typ:     typ,
		id:      id,
		user:    who.full(),
		work:    work,
		cleanup: cleanup,
	}
	t.upid = fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, t.pid, t.pstart, uint32(now.Unix()), typ, id, t.user)
	if f := c.failNext[typ]; len(f) > 0 {
		t.forceFail = f[0]
		c.failNext[typ] = f[1:]
	} else if f := c.failNext[""]; len(f) > 0 {
		t.forceFail = f[0]
		c.failNext[""] = f[1:]
	}
	c.tasks[t.upid] = t
	c.taskList = append(c.taskList, t)
	if len(c.taskList) > maxTasks {
		old := c.taskList[0]
		if old.done {
			delete(c.tasks, old.upid)
			c.taskList = c.taskList[1:]
		}
	}
	s.tasksWG.Add(1)
	go s.runTask(t)
	return t.upid
}

func (s *Server) runTask(t *task) {
	defer s.tasksWG.Done()
	if d := s.opts.TaskDuration; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-s.closing:
			timer.Stop()
		}
	}
	fault := s.taskFault()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch {
	case t.forceFail != "":
		// The lines before the last are the task's output, as PVE logs
		// what a worker printed before it died; the last is the error.
		lines := strings.Split(strings.TrimRight(t.forceFail, "\n"), "\n")
		t.log = append(t.log, lines[:len(lines)-1]...)
		err = errors.New(lines[len(lines)-1])
	case fault:
		err = fmt.Errorf("simulated task failure (fault injection)")
	}
	if err != nil {
		if t.cleanup != nil {
			t.cleanup()
		}
	} else if t.work != nil {
		err = t.work(t)
	}
	t.done = true
	t.end = time.Now()
	if err != nil {
		msg := strings.TrimRight(err.Error(), "\n")
		msg, _, _ = strings.Cut(msg, "\n")
		t.exit = msg
		t.log = append(t.log, "TASK ERROR: "+msg)
	} else {
		t.exit = "OK"
		t.log = append(t.log, "TASK OK")
	}
	t.work, t.cleanup = nil, nil
}

// FailNextTask makes the next task of type typ (qmstart, vzcreate, ...;
// "" for any type) fail with msg as its exit status, without doing its work.
// A msg of several lines fails with its last line; the lines before it are
// the task's log output ("TASK ERROR: <last line>" ends the log).
func (s *Server) FailNextTask(typ, msg string) {
	s.mu.Lock()
	s.c.failNext[typ] = append(s.c.failNext[typ], msg)
	s.mu.Unlock()
}

// WaitTasks blocks until no task is running (or the timeout passes) and
// reports whether all finished.
func (s *Server) WaitTasks(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		busy := false
		for _, t := range s.c.taskList {
			if !t.done {
				busy = true
				break
			}
		}
		s.mu.Unlock()
		if !busy {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (t *task) statusJSON() map[string]any {
	m := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
		"starttime": t.start.Unix(), "type": t.typ, "id": t.id,
		"user": t.user, "status": "running",
	}
	if u, tok, ok := strings.Cut(t.user, "!"); ok {
		m["user"], m["tokenid"] = u, tok
	}
	if t.done {
		m["status"] = "stopped"
		m["exitstatus"] = t.exit
	}
	return m
}

func (t *task) listJSON() map[string]any {
	m := map[string]any{
		"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
		"starttime": t.start.Unix(), "type": t.typ, "id": t.id, "user": t.user,
	}
	if t.done {
		m["endtime"] = t.end.Unix()
		m["status"] = t.exit
	}
	return m
}

func (s *Server) findTask(q *req) (*task, error) {
	upid := q.vars["upid"]
	if !reUPID.MatchString(upid) {
		return nil, param1("upid", "unable to parse worker upid")
	}
	t := s.c.tasks[upid]
	if t == nil {
		return nil, param1("upid", "no such task")
	}
	return t, nil
}

// GET /nodes/{node}/tasks/{upid}/status
func hTaskStatus(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.node(q); err != nil {
		return nil, err
	}
	t, err := s.findTask(q)
	if err != nil {
		return nil, err
	}
	if t.user != q.who.full() {
		if err := q.who.require("/nodes/"+t.node, "Sys.Audit"); err != nil {
			return nil, err
		}
	}
	return t.statusJSON(), nil
}

// GET /nodes/{node}/tasks/{upid}/log
func hTaskLog(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.node(q); err != nil {
		return nil, err
	}
	t, err := s.findTask(q)
	if err != nil {
		return nil, err
	}
	start, limit := 0, 50
	if v, ok := q.params["start"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, param1("start", fmt.Sprintf("type check ('integer') failed - got '%s'", v))
		}
		start = n
	}
	if v, ok := q.params["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, param1("limit", fmt.Sprintf("type check ('integer') failed - got '%s'", v))
		}
		limit = n
	}
	lines := t.log
	if len(lines) == 0 {
		return withTotal{data: []map[string]any{{"n": 1, "t": "no content"}}, total: 1}, nil
	}
	out := []map[string]any{}
	for i := start; i < len(lines) && (limit == 0 || i < start+limit); i++ {
		out = append(out, map[string]any{"n": i + 1, "t": lines[i]})
	}
	return withTotal{data: out, total: len(lines)}, nil
}

// DELETE /nodes/{node}/tasks/{upid}
func hTaskStop(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTask(q)
	if err != nil {
		return nil, err
	}
	if !t.done {
		t.forceFail = "received interrupt"
	}
	return nil, nil
}

// GET /nodes/{node}/tasks
func hNodeTasks(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(q)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for i := len(s.c.taskList) - 1; i >= 0; i-- {
		t := s.c.taskList[i]
		if t.node != n.name {
			continue
		}
		if v := q.params["vmid"]; v != "" && t.id != v {
			continue
		}
		if v := q.params["typefilter"]; v != "" && t.typ != v {
			continue
		}
		if v := q.params["userfilter"]; v != "" && !strings.Contains(t.user, v) {
			continue
		}
		if q.params["errors"] == "1" && (!t.done || t.exit == "OK") {
			continue
		}
		switch q.params["source"] {
		case "active":
			if t.done {
				continue
			}
		case "", "archive":
			if !t.done {
				continue
			}
		}
		out = append(out, t.listJSON())
	}
	total := len(out)
	start, _ := strconv.Atoi(q.params["start"])
	limit := 50
	if v, ok := q.params["limit"]; ok {
		limit, _ = strconv.Atoi(v)
	}
	if start > len(out) {
		start = len(out)
	}
	out = out[start:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []map[string]any{}
	}
	return withTotal{data: out, total: total}, nil
}

// GET /cluster/tasks
func hClusterTasks(s *Server, q *req) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	list := append([]*task(nil), s.c.taskList...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].start.After(list[j].start) })
	for _, t := range list {
		if len(out) >= 1000 {
			break
		}
		m := t.listJSON()
		if t.done && t.exit != "OK" {
			m["saved"] = "1"
		}
		out = append(out, m)
	}
	return out, nil
}
