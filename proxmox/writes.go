package proxmox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// Writes are form-encoded, like PVE's own web interface; callers pass
// values already printed as PVE wants them (booleans 0/1, property strings
// built by resource/pve, sshkeys URL-encoded).
//
// A write is never resent blindly. When its connection fails after the
// request was sent, the client waits Config.AmbiguitySettle and reads the
// cluster back: if the change (or the task it started) is visible, the
// write succeeded; if the state shows it certainly did not happen, the
// request is sent once more; otherwise the error wraps ErrAmbiguous.

// outcome is what reading back after an ambiguous write found.
type outcome int

const (
	outcomeUnknown    outcome = iota
	outcomeApplied            // the write took effect
	outcomeNotApplied         // it certainly did not: resend
)

// write performs r; on an ambiguous failure it resolves with resolve.
func (c *Client) write(ctx context.Context, r *request, out any, resolve func(ctx context.Context) (outcome, error)) error {
	err := c.call(ctx, r, out)
	if err == nil || !errors.Is(err, ErrAmbiguous) || resolve == nil {
		return err
	}
	if serr := c.sleep(ctx, c.cfg.AmbiguitySettle); serr != nil {
		return err
	}
	o, rerr := resolve(ctx)
	switch {
	case rerr != nil:
		c.log.Debug("pve read-back failed", "path", r.path, "error", rerr.Error())
		return err
	case o == outcomeApplied:
		c.log.Debug("pve write confirmed by read-back", "method", r.method, "path", r.path)
		return nil
	case o == outcomeNotApplied:
		c.log.Debug("pve write not applied; resending", "method", r.method, "path", r.path)
		rerr := c.call(ctx, r, out)
		if rerr == nil || !IsAlreadyExists(rerr) {
			return rerr
		}
		// The read-back ran before the first request reached PVE (a slow
		// proxy, a busy pveproxy), and it landed before the resend. If the
		// read-back now finds our own change, that is what exists.
		if o, err2 := resolve(ctx); err2 == nil && o == outcomeApplied {
			c.log.Debug("pve write confirmed by read-back after its resend collided", "method", r.method, "path", r.path)
			return nil
		}
		return rerr
	}
	return err
}

// identity is the user id tasks started by this client carry.
func (c *Client) identity() string {
	if c.cfg.Token != "" {
		id, _, _ := splitToken(c.cfg.Token)
		return id
	}
	return c.cfg.Username
}

// findTask looks for the newest task of one of types on node for id,
// started by this client at or after since (with slack for clock skew).
func (c *Client) findTask(ctx context.Context, node string, id string, since time.Time, types ...string) (UPID, bool, error) {
	var raw []taskJSON
	q := url.Values{"source": {"all"}, "limit": {"100"}}
	if id != "" {
		q.Set("vmid", id)
	}
	r := &request{method: http.MethodGet, path: "/nodes/" + node + "/tasks", query: q, subject: "look for the task of an interrupted call"}
	if err := c.call(ctx, r, &raw); err != nil {
		return UPID{}, false, err
	}
	me := c.identity()
	floor := since.Add(-5 * time.Minute).Unix()
	var best UPID
	for _, t := range raw {
		u, err := ParseUPID(string(t.UPID))
		if err != nil || !slices.Contains(types, u.Type) || u.ID != id || u.Node != node {
			continue
		}
		if me != "" && u.User != me {
			continue
		}
		if int64(u.StartTime) < floor {
			continue
		}
		if best.IsZero() || u.StartTime > best.StartTime || u.StartTime == best.StartTime && u.PID > best.PID {
			best = u
		}
	}
	return best, !best.IsZero(), nil
}

// taskResolver reads back an ambiguous UPID write by finding its task; when
// absent and gone(ctx) says the change certainly did not happen, it resends.
func (c *Client) taskResolver(upid *UPID, node, id string, sent time.Time, types []string, notApplied func(context.Context) (bool, error)) func(context.Context) (outcome, error) {
	return func(ctx context.Context) (outcome, error) {
		u, ok, err := c.findTask(ctx, node, id, sent, types...)
		if err != nil {
			return outcomeUnknown, err
		}
		if ok {
			*upid = u
			return outcomeApplied, nil
		}
		if notApplied != nil {
			na, err := notApplied(ctx)
			if err != nil {
				return outcomeUnknown, err
			}
			if na {
				return outcomeNotApplied, nil
			}
		}
		return outcomeUnknown, nil
	}
}

// upidAnswer decodes a UPID-or-null "data".
type upidAnswer struct{ u *UPID }

func (a *upidAnswer) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		*a.u = UPID{}
		return nil
	}
	var f flexString
	if err := f.UnmarshalJSON(b); err != nil {
		return err
	}
	u, err := ParseUPID(string(f))
	if err != nil {
		return err
	}
	*a.u = u
	return nil
}

func formOf(params map[string]string) url.Values {
	f := make(url.Values, len(params)+2)
	for k, v := range params {
		f.Set(k, v)
	}
	return f
}

// taskType is the one PVE task type name of kind: qemu's or lxc's.
func taskType(kind resource.Kind, qemu, lxc string) []string {
	if kind == resource.KindContainer {
		return []string{lxc}
	}
	return []string{qemu}
}

// exists reports whether a guest's config exists on node.
func (c *Client) exists(ctx context.Context, kind resource.Kind, node string, vmid int) (bool, error) {
	_, _, err := c.GuestConfig(ctx, kind, node, vmid)
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// CreateGuest creates a VM or container (POST /nodes/{node}/{qemu|lxc})
// with vmid and params and returns the create task's UPID.
func (c *Client) CreateGuest(ctx context.Context, kind resource.Kind, node string, vmid int, params map[string]string) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	form := formOf(params)
	form.Set("vmid", strconv.Itoa(vmid))
	var u UPID
	r := &request{method: http.MethodPost, path: strings.TrimSuffix(p, "/"+strconv.Itoa(vmid)), form: form, subject: subject("create", kind, node, vmid)}
	sent := time.Now()
	notApplied := func(ctx context.Context) (bool, error) {
		ok, err := c.exists(ctx, kind, node, vmid)
		return !ok, err
	}
	err = c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), sent, taskType(kind, "qmcreate", "vzcreate"), notApplied))
	return u, err
}

// UpdateConfig changes a guest's config: set keys to values, delete keys in
// del, and (when digest is not empty) only if the config still has that
// digest. QEMU is updated with the asynchronous POST and returns the task's
// UPID; LXC only has the synchronous PUT and returns nil. Nothing to change
// returns nil, nil without a call.
func (c *Client) UpdateConfig(ctx context.Context, kind resource.Kind, node string, vmid int, set map[string]string, del []string, digest string) (*UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return nil, err
	}
	if len(set) == 0 && len(del) == 0 {
		return nil, nil
	}
	form := formOf(set)
	if len(del) > 0 {
		d := append([]string(nil), del...)
		sort.Strings(d)
		form.Set("delete", strings.Join(d, ","))
	}
	if digest != "" {
		form.Set("digest", digest)
	}
	r := &request{method: http.MethodPost, path: p + "/config", form: form, subject: subject("update", kind, node, vmid)}
	// Unchanged digest after a lost answer: the write never happened.
	notApplied := func(ctx context.Context) (bool, error) {
		if digest == "" {
			return false, nil
		}
		_, now, err := c.GuestConfig(ctx, kind, node, vmid)
		return err == nil && now == digest, err
	}
	if kind == resource.KindContainer {
		r.method = http.MethodPut
		err := c.write(ctx, r, nil, func(ctx context.Context) (outcome, error) {
			na, err := notApplied(ctx)
			if na {
				return outcomeNotApplied, err
			}
			return outcomeUnknown, err
		})
		return nil, err
	}
	var u UPID
	sent := time.Now()
	if err := c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), sent, []string{"qmconfig"}, notApplied)); err != nil {
		return nil, err
	}
	if u.IsZero() {
		return nil, nil
	}
	return &u, nil
}

var powerActions = map[string][2]string{
	"start": {"qmstart", "vzstart"}, "stop": {"qmstop", "vzstop"}, "shutdown": {"qmshutdown", "vzshutdown"},
	"reboot": {"qmreboot", "vzreboot"}, "reset": {"qmreset", ""}, "suspend": {"qmsuspend", "vzsuspend"},
	"resume": {"qmresume", "vzresume"},
}

// Power starts, stops, shuts down, reboots, resets (QEMU only), suspends or
// resumes a guest (POST .../status/{action}) and returns the task's UPID.
// params are the action's options (e.g. "timeout", "forceStop").
func (c *Client) Power(ctx context.Context, kind resource.Kind, node string, vmid int, action string, params map[string]string) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	types, ok := powerActions[action]
	if !ok || kind == resource.KindContainer && types[1] == "" {
		return UPID{}, fmt.Errorf("%s: unknown power action %q", subject("power", kind, node, vmid), action)
	}
	var u UPID
	r := &request{method: http.MethodPost, path: p + "/status/" + action, form: formOf(params), subject: subject(action, kind, node, vmid)}
	tt := []string{types[0], "hastart", "hastop"}
	if kind == resource.KindContainer {
		tt[0] = types[1]
	}
	err = c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), time.Now(), tt, nil))
	return u, err
}

// DeleteGuest destroys a guest (DELETE /nodes/{node}/{type}/{vmid}); purge
// also removes it from backup, replication and HA jobs, destroyUnreferenced
// also frees disks on enabled storages that its config does not name.
func (c *Client) DeleteGuest(ctx context.Context, kind resource.Kind, node string, vmid int, purge, destroyUnreferenced bool) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	q := url.Values{}
	if purge {
		q.Set("purge", "1")
	}
	if destroyUnreferenced {
		q.Set("destroy-unreferenced-disks", "1")
	}
	var u UPID
	r := &request{method: http.MethodDelete, path: p, query: q, subject: subject("delete", kind, node, vmid)}
	resolve := c.taskResolver(&u, node, strconv.Itoa(vmid), time.Now(), taskType(kind, "qmdestroy", "vzdestroy"), nil)
	err = c.write(ctx, r, &upidAnswer{&u}, func(ctx context.Context) (outcome, error) {
		o, err := resolve(ctx)
		if o != outcomeUnknown || err != nil {
			return o, err
		}
		ok, err := c.exists(ctx, kind, node, vmid)
		if err != nil {
			return outcomeUnknown, err
		}
		if !ok {
			return outcomeApplied, nil // gone: nothing left to wait for
		}
		return outcomeNotApplied, nil // no task and still there
	})
	return u, err
}

// Clone clones guest vmid to newid (POST .../clone); params are PVE's clone
// options (name or hostname, full, storage, target, pool, ...).
func (c *Client) Clone(ctx context.Context, kind resource.Kind, node string, vmid, newid int, params map[string]string) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	form := formOf(params)
	form.Set("newid", strconv.Itoa(newid))
	var u UPID
	r := &request{method: http.MethodPost, path: p + "/clone", form: form, subject: fmt.Sprintf("clone %s %d on %s to %d", kind, vmid, node, newid)}
	notApplied := func(ctx context.Context) (bool, error) {
		// The new guest's config is written (locked) before PVE answers.
		rs, err := c.Resources(ctx, "vm")
		if err != nil {
			return false, err
		}
		for _, x := range rs {
			if x.VMID == newid {
				return false, nil
			}
		}
		return true, nil
	}
	err = c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), time.Now(), taskType(kind, "qmclone", "vzclone"), notApplied))
	return u, err
}

// Migrate moves a guest to node target (POST .../migrate). online migrates
// a running VM live; for a running container it means a restart migration
// (PVE has no live container migration).
func (c *Client) Migrate(ctx context.Context, kind resource.Kind, node string, vmid int, target string, online bool) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	form := url.Values{"target": {target}}
	if online {
		if kind == resource.KindContainer {
			form.Set("restart", "1")
		} else {
			// Live migration moves local disks only when asked to; with
			// shared storage the option is a no-op.
			form.Set("online", "1")
			form.Set("with-local-disks", "1")
		}
	}
	var u UPID
	r := &request{method: http.MethodPost, path: p + "/migrate", form: form, subject: fmt.Sprintf("migrate %s %d from %s to %s", kind, vmid, node, target)}
	err = c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), time.Now(), taskType(kind, "qmigrate", "vzmigrate"), nil))
	return u, err
}

// Resize grows disk (e.g. "scsi0", "rootfs") to size ("+10G" grows by,
// "50G" sets; PVE never shrinks) (PUT .../resize). PVE 8 returns a task;
// PVE 7 answered synchronously, which returns the zero UPID.
func (c *Client) Resize(ctx context.Context, kind resource.Kind, node string, vmid int, disk, size, digest string) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	form := url.Values{"disk": {disk}, "size": {size}}
	if digest != "" {
		form.Set("digest", digest)
	}
	var u UPID
	r := &request{method: http.MethodPut, path: p + "/resize", form: form, subject: fmt.Sprintf("resize %s of %s %d on %s", disk, kind, vmid, node)}
	err = c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), time.Now(), []string{"resize"}, nil))
	return u, err
}

// ConvertToTemplate turns a stopped guest into a template (POST .../template).
// A synchronous answer returns the zero UPID.
func (c *Client) ConvertToTemplate(ctx context.Context, kind resource.Kind, node string, vmid int) (UPID, error) {
	p, err := guestPath(kind, node, vmid)
	if err != nil {
		return UPID{}, err
	}
	var u UPID
	r := &request{method: http.MethodPost, path: p + "/template", subject: subject("convert to template", kind, node, vmid)}
	err = c.write(ctx, r, &upidAnswer{&u}, c.taskResolver(&u, node, strconv.Itoa(vmid), time.Now(), taskType(kind, "qmtemplate", "vztemplate"), nil))
	return u, err
}

// pool reads one pool, or reports false when it does not exist.
func (c *Client) pool(ctx context.Context, id string) (resource.ObservedPool, bool, error) {
	ps, err := c.Pools(ctx)
	if err != nil {
		return resource.ObservedPool{}, false, err
	}
	for _, p := range ps {
		if p.ID == id {
			return p, true, nil
		}
	}
	return resource.ObservedPool{}, false, nil
}

// CreatePool creates a pool (POST /pools).
func (c *Client) CreatePool(ctx context.Context, id, comment string) error {
	form := url.Values{"poolid": {id}}
	if comment != "" {
		form.Set("comment", comment)
	}
	r := &request{method: http.MethodPost, path: "/pools", form: form, subject: "create pool " + id}
	return c.write(ctx, r, nil, func(ctx context.Context) (outcome, error) {
		p, ok, err := c.pool(ctx, id)
		switch {
		case err != nil:
			return outcomeUnknown, err
		case !ok:
			return outcomeNotApplied, nil
		case p.Comment == comment:
			return outcomeApplied, nil
		}
		return outcomeUnknown, nil
	})
}

// UpdatePool changes a pool (PUT /pools?poolid=): its comment when comment
// is not nil, and its guest members. Removal and addition are separate calls
// (PVE removes every listed member when delete=1). allowMove lets PVE take
// a guest out of another pool.
func (c *Client) UpdatePool(ctx context.Context, id string, comment *string, addVMs, removeVMs []int, allowMove bool) error {
	q := url.Values{"poolid": {id}}
	subj := "update pool " + id
	if len(removeVMs) > 0 {
		form := url.Values{"vms": {joinInts(removeVMs)}, "delete": {"1"}}
		r := &request{method: http.MethodPut, path: "/pools", query: q, form: form, subject: subj}
		if err := c.write(ctx, r, nil, c.poolResolver(id, nil, nil, removeVMs)); err != nil {
			return err
		}
	}
	if comment == nil && len(addVMs) == 0 {
		return nil
	}
	form := url.Values{}
	if comment != nil {
		form.Set("comment", *comment)
	}
	if len(addVMs) > 0 {
		form.Set("vms", joinInts(addVMs))
		if allowMove {
			form.Set("allow-move", "1")
		}
	}
	r := &request{method: http.MethodPut, path: "/pools", query: q, form: form, subject: subj}
	return c.write(ctx, r, nil, c.poolResolver(id, comment, addVMs, nil))
}

// poolResolver reads a pool back after an ambiguous update: all changes
// visible = applied, none = not applied (PVE applies a pool update whole).
func (c *Client) poolResolver(id string, comment *string, add, remove []int) func(context.Context) (outcome, error) {
	return func(ctx context.Context) (outcome, error) {
		p, ok, err := c.pool(ctx, id)
		if err != nil || !ok {
			return outcomeUnknown, err
		}
		done, total := 0, len(add)+len(remove)
		if comment != nil {
			total++
			if p.Comment == *comment {
				done++
			}
		}
		for _, v := range add {
			if slices.Contains(p.Members, v) {
				done++
			}
		}
		for _, v := range remove {
			if !slices.Contains(p.Members, v) {
				done++
			}
		}
		switch done {
		case total:
			return outcomeApplied, nil
		case 0:
			return outcomeNotApplied, nil
		}
		return outcomeUnknown, nil
	}
}

// DeletePool deletes an empty pool (DELETE /pools?poolid=).
func (c *Client) DeletePool(ctx context.Context, id string) error {
	r := &request{method: http.MethodDelete, path: "/pools", query: url.Values{"poolid": {id}}, subject: "delete pool " + id}
	return c.write(ctx, r, nil, func(ctx context.Context) (outcome, error) {
		_, ok, err := c.pool(ctx, id)
		switch {
		case err != nil:
			return outcomeUnknown, err
		case ok:
			return outcomeNotApplied, nil
		}
		return outcomeApplied, nil
	})
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
