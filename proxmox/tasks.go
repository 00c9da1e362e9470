package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// TaskStatus is a task's state from GET /nodes/{node}/tasks/{upid}/status.
type TaskStatus struct {
	UPID UPID
	// Status is "running" or "stopped".
	Status string
	// ExitStatus is set once the task stopped: "OK", "WARNINGS: n", or the
	// error text.
	ExitStatus string
	StartTime  int64
}

// Running reports whether the task is still running.
func (s TaskStatus) Running() bool { return s.Status == "running" }

// OK reports whether the task finished successfully; "WARNINGS: n" counts
// as success.
func (s TaskStatus) OK() bool {
	return s.Status == "stopped" && (s.ExitStatus == "OK" || strings.HasPrefix(s.ExitStatus, "WARNINGS"))
}

// Warnings is n of an exit status "WARNINGS: n", else 0.
func (s TaskStatus) Warnings() int {
	rest, ok := strings.CutPrefix(s.ExitStatus, "WARNINGS:")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(rest))
	return n
}

type taskStatusJSON struct {
	Status     flexString `json:"status"`
	ExitStatus flexString `json:"exitstatus"`
	StartTime  flexInt    `json:"starttime"`
}

// TaskStatus reads the status of a task once.
func (c *Client) TaskStatus(ctx context.Context, upid UPID) (TaskStatus, error) {
	var ans taskStatusJSON
	r := &request{method: http.MethodGet, path: taskPath(upid) + "/status"}
	if err := c.call(ctx, r, &ans); err != nil {
		return TaskStatus{}, err
	}
	return TaskStatus{UPID: upid, Status: string(ans.Status), ExitStatus: string(ans.ExitStatus), StartTime: int64(ans.StartTime)}, nil
}

func taskPath(upid UPID) string {
	return "/nodes/" + upid.Node + "/tasks/" + upid.String()
}

// taskLogTail is how many log lines a TaskError carries.
const taskLogTail = 10

// WaitTask polls the task's status until it stops or ctx ends: quickly at
// first (Config.TaskPoll, default 50 ms doubling to 500 ms). A task that ends
// with an exit status other than OK or "WARNINGS: n" returns a *TaskError
// carrying the last lines of its log. The zero UPID (a call PVE completed
// synchronously) returns at once with success.
//
// A status poll that fails with 400 "no such task" is retried a few times:
// on a cluster the task may not yet be visible on the node that answers.
func (c *Client) WaitTask(ctx context.Context, upid UPID) (TaskStatus, error) {
	if upid.IsZero() {
		return TaskStatus{Status: "stopped", ExitStatus: "OK"}, nil
	}
	notFound := 0
	for n := 1; ; n++ {
		st, err := c.TaskStatus(ctx, upid)
		if err != nil {
			if IsNotFound(err) && notFound < 5 && ctx.Err() == nil {
				notFound++
			} else {
				return TaskStatus{}, fmt.Errorf("wait for task %s: %w", upid, err)
			}
		} else if !st.Running() {
			if st.OK() {
				return st, nil
			}
			tail, lerr := c.TaskLogTail(ctx, upid, taskLogTail)
			if lerr != nil {
				c.log.Debug("pve task log unavailable", "upid", upid.String(), "error", lerr.Error())
			}
			return st, &TaskError{UPID: upid, ExitStatus: st.ExitStatus, LogTail: tail}
		}
		if err := c.sleep(ctx, c.cfg.TaskPoll.delay(n, false)); err != nil {
			return TaskStatus{}, fmt.Errorf("wait for task %s: %w", upid, err)
		}
	}
}

type logLine struct {
	N flexInt    `json:"n"`
	T flexString `json:"t"`
}

// TaskLogTail returns the last n lines of a task's log.
func (c *Client) TaskLogTail(ctx context.Context, upid UPID, n int) ([]string, error) {
	// One small call learns the total, the second reads the tail.
	var total struct {
		Data  []logLine `json:"data"`
		Total flexInt   `json:"total"`
	}
	r := &request{method: http.MethodGet, path: taskPath(upid) + "/log", query: url.Values{"start": {"0"}, "limit": {"1"}}, whole: true}
	if err := c.call(ctx, r, &total); err != nil {
		return nil, err
	}
	start := int(total.Total) - n
	if start < 0 {
		start = 0
	}
	var lines []logLine
	r = &request{method: http.MethodGet, path: taskPath(upid) + "/log", query: url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(n)}}}
	if total.Total == 0 {
		// No total: read everything and keep the tail.
		r.query.Set("start", "0")
		r.query.Set("limit", "0")
	}
	if err := c.call(ctx, r, &lines); err != nil {
		return nil, err
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, string(l.T))
	}
	return out, nil
}

// Task is one entry of GET /cluster/tasks.
type Task struct {
	UPID      UPID
	Node      string
	Type      string
	ID        string
	User      string
	StartTime int64
	EndTime   int64
	// Status is empty while running, else the exit status ("OK", an error).
	Status string
}

type taskJSON struct {
	UPID      flexString `json:"upid"`
	Node      flexString `json:"node"`
	Type      flexString `json:"type"`
	ID        flexString `json:"id"`
	User      flexString `json:"user"`
	StartTime flexInt    `json:"starttime"`
	EndTime   flexInt    `json:"endtime"`
	Status    flexString `json:"status"`
}

// ClusterTasks lists recent tasks cluster-wide (GET /cluster/tasks).
func (c *Client) ClusterTasks(ctx context.Context) ([]Task, error) {
	var raw []taskJSON
	if err := c.call(ctx, &request{method: http.MethodGet, path: "/cluster/tasks", subject: "list cluster tasks"}, &raw); err != nil {
		return nil, err
	}
	out := make([]Task, 0, len(raw))
	for _, t := range raw {
		u, err := ParseUPID(string(t.UPID))
		if err != nil {
			continue // not ours to judge; skip what we cannot use
		}
		out = append(out, Task{UPID: u, Node: string(t.Node), Type: string(t.Type), ID: string(t.ID), User: string(t.User),
			StartTime: int64(t.StartTime), EndTime: int64(t.EndTime), Status: string(t.Status)})
	}
	return out, nil
}
