package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
)

// changeExec is the state of one change while its operations run.
type changeExec struct {
	idx  int
	c    *plan.Change
	cr   *ChangeRecord
	kind resource.Kind // guest kind ("" for pools)
	node string
	vmid int
	// mutated is set after the first operation that changed the guest; the
	// plan's digest is only valid before it.
	mutated bool
	// secrets are the resolved secrets the change sent, by config key,
	// handed to Options.RecordSecret once the change applied. Memory only.
	secrets map[string]string
}

// cloneKeys are the parameters a clone call itself takes; the others of a
// clone operation are set by a config update after the clone.
var cloneKeys = map[string]bool{
	"name": true, "hostname": true, "description": true, "pool": true, "full": true,
	"storage": true, "format": true, "snapname": true, "bwlimit": true,
}

// secretKeys are PVE keys whose values are secrets, sent resolved.
var secretKeys = map[string]bool{"cipassword": true, "password": true}

func (r *runner) execChange(ctx context.Context, i int) {
	c := &r.p.Changes[i]
	cr := &r.rec.Changes[i]
	x := &changeExec{idx: i, c: c, cr: cr, node: c.Node, vmid: c.VMID}
	if c.Address.Kind != resource.KindPool {
		x.kind = c.Address.Kind
	}
	start := time.Now()
	cr.Started = r.opts.Now().UTC()
	r.progressf("%s: %s%s ...", c.Address, c.Action, where(x))
	r.noteJournal(r.journalChange(i))

	err := r.checkDigest(ctx, x)
	for oi, op := range c.Ops {
		if err != nil {
			break
		}
		or := OpRecord{Kind: op.Kind}
		opStart := time.Now()
		err = r.execOp(ctx, x, oi, op, &or)
		or.Elapsed = Duration(time.Since(opStart))
		if or.UPID != "" {
			cr.UPIDs = append(cr.UPIDs, or.UPID)
		}
		if err != nil {
			or.Result = classify(ctx, err)
			or.Error = err.Error()
			cr.Ops = append(cr.Ops, or)
			break
		}
		or.Result = ResultApplied
		cr.Ops = append(cr.Ops, or)
	}
	cr.VMID, cr.Node = x.vmid, x.node
	cr.Finished = r.opts.Now().UTC()
	cr.Elapsed = Duration(time.Since(start))
	if err == nil {
		cr.Result = ResultApplied
		r.mu.Lock()
		r.vmids[c.Address] = x.vmid
		r.nodeOf[c.Address] = x.node
		r.mu.Unlock()
		if r.opts.RecordSecret != nil {
			for k, v := range x.secrets {
				if err := r.opts.RecordSecret(c.Address, k, v); err != nil {
					r.progressf("%s: warning: could not record the applied secret's hash for %s: %v", c.Address, k, err)
				}
			}
		}
		r.progressf("%s: applied in %s", c.Address, shortDur(time.Since(start)))
	} else {
		cr.Result = classify(ctx, err)
		cr.Error = err.Error()
		var tf *TaskFailure
		if errors.As(err, &tf) {
			cr.TaskLog = tf.LogTail
		}
		if cr.Result == ResultRefused {
			cr.Error = fmt.Sprintf("%s changed since the plan was made; run pmpc plan again (%v)", c.Address, err)
		}
		if cr.Result == ResultFailed && errors.Is(err, ErrLockTimeout) {
			cr.Error += "\n" + lockHint(x, guestLock(cr.Error))
		}
		msg, more, _ := strings.Cut(cr.Error, "\n")
		r.progressf("%s: %s after %s: %s", c.Address, cr.Result, shortDur(time.Since(start)), msg)
		// What follows the first line (a failed task's log tail) is said
		// too, each line under the change's address: the progress of
		// parallel changes interleaves.
		if cr.Result == ResultFailed && more != "" {
			for _, l := range strings.Split(more, "\n") {
				r.progressf("%s:   %s", c.Address, l)
			}
		}
	}
	r.noteJournal(r.journalChange(i))
}

func where(x *changeExec) string {
	var s string
	if x.vmid != 0 {
		s += " " + strconv.Itoa(x.vmid)
	}
	if x.node != "" {
		s += " on " + x.node
	}
	return s
}

func shortDur(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// classify maps an operation's error to the change's result.
func classify(ctx context.Context, err error) Result {
	switch {
	case errors.Is(err, ErrDigestMismatch):
		return ResultRefused
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return ResultInterrupted
	}
	return ResultFailed
}

// resolveParams returns params with secret references resolved. Only the
// returned map holds resolved values; it must not be logged or stored.
func (r *runner) resolveParams(x *changeExec, params map[string]string) (map[string]string, error) {
	sensitive := map[string]bool{}
	for _, f := range x.c.Fields {
		if f.Sensitive {
			sensitive[f.Key] = true
		}
	}
	var out map[string]string
	for k, v := range params {
		if !secretKeys[k] && !sensitive[k] {
			continue
		}
		if !strings.HasPrefix(v, "env:") && !strings.HasPrefix(v, "file:") {
			continue
		}
		val, err := r.opts.ResolveSecret(resource.SecretRef(v))
		if err != nil {
			// The reference names where the secret lives, never its value.
			return nil, fmt.Errorf("%s: resolve %s: %w", k, v, err)
		}
		if out == nil {
			out = maps.Clone(params)
		}
		out[k] = val
		if x.secrets == nil {
			x.secrets = map[string]string{}
		}
		x.secrets[k] = val
	}
	if out == nil {
		return params, nil
	}
	return out, nil
}

// scrub removes resolved secret values from an error's text: a client may
// echo a parameter back (PVE's 400 errors quote some values).
func scrub(err error, resolved, plain map[string]string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for k, v := range resolved {
		if plain[k] != v && v != "" && strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, "(sensitive)")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }

// Is lets sentinel checks see through the scrubbed text without exposing it.
func (s *scrubbed) Is(target error) bool { return errors.Is(s.err, target) }

// guestName is the PVE name a create gives the guest.
func guestName(c *plan.Change, params map[string]string) string {
	if n := params["name"]; n != "" {
		return n
	}
	if n := params["hostname"]; n != "" {
		return n
	}
	return c.Address.Name
}

func (r *runner) intent(x *changeExec, oi int, op plan.Op) Intent {
	return Intent{Change: x.idx, Op: oi, Address: x.c.Address.String(), Kind: op.Kind,
		Guest: x.kind, Node: x.node, VMID: x.vmid, State: intentPending}
}

// call runs one mutating API call with its journal entries and lock-timeout
// retries, then waits for its task. do returns the task's UPID or "".
//
// A failed task is sent again up to Options.TaskRetries times (a failed
// task changed nothing in PVE); a call whose outcome is unknown is retried
// only when settled (may be nil) says it did not take effect.
func (r *runner) call(ctx context.Context, x *changeExec, in Intent, or *OpRecord, do func() (string, error), settled func() bool) error {
	base := in.Attempt
	taskRetries := 0
	for attempt := 0; ; attempt++ {
		in.Attempt = base + attempt
		in.State, in.UPID, in.Error = intentPending, "", ""
		r.journalIntent(in)
		upid, err := do()
		if err == nil && upid != "" {
			in.State, in.UPID = intentSent, upid
			r.journalIntent(in)
			or.UPID = upid
			r.progressf("%s: task %s", x.c.Address, upid)
			err = r.opts.Client.WaitTask(ctx, upid)
		}
		r.journalOutcome(ctx, x, in, err)
		if err == nil || ctx.Err() != nil {
			return err
		}
		var tf *TaskFailure
		switch {
		case retryable(err):
			if attempt+1 >= r.opts.Retry.Attempts {
				return err
			}
		case errors.As(err, &tf) && taskRetries < r.opts.TaskRetries:
			taskRetries++
		case errors.Is(err, ErrAmbiguous) && settled != nil && taskRetries < r.opts.TaskRetries:
			if settled() {
				r.journalOutcome(ctx, x, in, nil)
				return nil
			}
			taskRetries++
		default:
			return err
		}
		if !r.backoff(ctx, x, or, attempt, err) {
			return err
		}
	}
}

// journalOutcome journals how the call of an intent ended: done, failed,
// or still "sent" when ctx ended first (the outcome is unknown; recovery
// looks at it).
func (r *runner) journalOutcome(ctx context.Context, x *changeExec, in Intent, err error) {
	switch {
	case err == nil:
		in.State = intentDone
		x.mutated = true
	case ctx.Err() != nil:
		in.State, in.Error = intentSent, err.Error()
	default:
		in.State, in.Error = intentFailed, err.Error()
	}
	r.journalIntent(in)
}

// backoff counts a retry of an operation that failed with err, says so,
// and waits out the delay of attempt. It reports false if ctx ended first.
func (r *runner) backoff(ctx context.Context, x *changeExec, or *OpRecord, attempt int, err error) bool {
	or.Retries++
	d := r.opts.Retry.delay(attempt)
	r.progressf("%s: %s; retrying in %s", x.c.Address, firstLine(err.Error()), shortDur(d))
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// retryable reports whether err is a guest lock that may clear: PVE's file
// lock timeout, or a task that failed on a lock. A lock held for minutes or
// until someone acts (see longLocks) is not waited for.
func retryable(err error) bool {
	if longLocks[guestLock(err.Error())] {
		return false
	}
	if errors.Is(err, ErrLockTimeout) {
		return true
	}
	var tf *TaskFailure
	if errors.As(err, &tf) {
		return strings.Contains(tf.ExitStatus, "got timeout") || strings.Contains(tf.ExitStatus, "is locked (")
	}
	return false
}

// checkDigest makes sure the guest is as the plan saw it before a change
// whose first operation sends no digest (a stop or destroy of a prune or
// a replace, a power action): only a config write or resize carries the
// digest to PVE, and only the first one can (the change's own writes move
// it), so without this check a guest edited since the plan was reviewed
// would be stopped or destroyed all the same.
func (r *runner) checkDigest(ctx context.Context, x *changeExec) error {
	c := x.c
	if c.Digest == "" || x.kind == "" || x.vmid == 0 || len(c.Ops) == 0 {
		return nil
	}
	if k := c.Ops[0].Kind; k == plan.OpConfig || k == plan.OpResize {
		return nil // PVE checks the digest sent with it
	}
	if !slices.ContainsFunc(c.Ops, disruptive) {
		return nil // a start harms nothing an edit made
	}
	d, err := r.opts.Client.ConfigDigest(ctx, x.kind, x.node, x.vmid)
	if err != nil {
		return fmt.Errorf("read the config digest: %w", err)
	}
	if d != c.Digest {
		return fmt.Errorf("config digest is now %.12s, the plan saw %.12s: %w", d, c.Digest, ErrDigestMismatch)
	}
	return nil
}

// disruptive reports whether op stops or destroys a guest.
func disruptive(op plan.Op) bool {
	switch op.Kind {
	case plan.OpDelete:
		return true
	case plan.OpPower:
		return op.Power != "start" && op.Power != "resume"
	}
	return false
}

// digest returns the digest to send with op: the plan's, before the change
// mutated the guest; none after (the digest the plan saw is then stale by
// our own hand, and the first operation already checked it).
func (x *changeExec) digest(op plan.Op) string {
	if x.mutated {
		return ""
	}
	if op.Digest != "" {
		return op.Digest
	}
	return x.c.Digest
}

func (r *runner) execOp(ctx context.Context, x *changeExec, oi int, op plan.Op, or *OpRecord) error {
	cl := r.opts.Client
	in := r.intent(x, oi, op)
	switch op.Kind {
	case plan.OpCreate:
		if x.kind == "" {
			return r.createPool(ctx, x, in, op, or)
		}
		return r.create(ctx, x, in, op, or)
	case plan.OpClone:
		return r.clone(ctx, x, in, op, or)
	case plan.OpConfig:
		params, err := r.resolveParams(x, op.Params)
		if err != nil {
			return err
		}
		send := params
		if op.Force && len(op.Delete) > 0 {
			// Remove the deleted disks for good instead of detaching them.
			send = maps.Clone(params)
			if send == nil {
				send = map[string]string{}
			}
			send["force"] = "1"
		}
		dg := x.digest(op)
		// Scrubbed where the error arises: the journal and the retry
		// progress see it before call returns.
		return r.call(ctx, x, in, or, func() (string, error) {
			upid, err := cl.UpdateConfig(ctx, x.kind, x.node, x.vmid, send, op.Delete, dg)
			return upid, scrub(err, params, op.Params)
		}, nil)
	case plan.OpResize:
		dg := x.digest(op)
		return r.call(ctx, x, in, or, func() (string, error) {
			return cl.Resize(ctx, x.kind, x.node, x.vmid, op.Disk, op.Size, dg)
		}, nil)
	case plan.OpPower:
		return r.call(ctx, x, in, or, func() (string, error) {
			return cl.Power(ctx, x.kind, x.node, x.vmid, op.Power)
		}, func() bool { return r.powerSettled(ctx, x, op.Power) })
	case plan.OpMigrate:
		err := r.call(ctx, x, in, or, func() (string, error) {
			return cl.Migrate(ctx, x.kind, x.node, x.vmid, op.Target, op.Params)
		}, func() bool {
			g, ok, err := cl.FindGuest(ctx, x.vmid)
			return err == nil && ok && g.Node == op.Target && g.Lock == ""
		})
		if err == nil {
			x.node = op.Target
		}
		return err
	case plan.OpTemplate:
		return r.call(ctx, x, in, or, func() (string, error) {
			return cl.ConvertToTemplate(ctx, x.kind, x.node, x.vmid)
		}, nil)
	case plan.OpDelete:
		if x.kind == "" {
			return r.call(ctx, x, in, or, func() (string, error) {
				return "", cl.DeletePool(ctx, poolID(x, op))
			}, nil)
		}
		return r.call(ctx, x, in, or, func() (string, error) {
			return cl.DeleteGuest(ctx, x.kind, x.node, x.vmid, op.Purge)
		}, func() bool {
			_, ok, err := cl.FindGuest(ctx, x.vmid)
			return err == nil && !ok
		})
	case plan.OpPoolCreate:
		return r.createPool(ctx, x, in, op, or)
	case plan.OpPoolUpdate:
		var comment *string
		if v, ok := op.Params["comment"]; ok {
			comment = &v
		}
		return r.call(ctx, x, in, or, func() (string, error) {
			return "", cl.UpdatePool(ctx, poolID(x, op), comment, nil, false)
		}, nil)
	case plan.OpPoolDelete:
		return r.call(ctx, x, in, or, func() (string, error) {
			return "", cl.DeletePool(ctx, poolID(x, op))
		}, nil)
	case plan.OpPoolMembers:
		vmid := x.vmid
		if v, err := strconv.Atoi(op.Params["vms"]); err == nil && v > 0 {
			vmid = v
		}
		if vmid == 0 {
			return errors.New("pool membership: the guest's vmid is not known")
		}
		return r.call(ctx, x, in, or, func() (string, error) {
			return "", cl.UpdatePool(ctx, op.Pool, nil, []int{vmid}, op.Remove)
		}, nil)
	}
	return fmt.Errorf("unknown operation %q", op.Kind)
}

func poolID(x *changeExec, op plan.Op) string {
	if op.Pool != "" {
		return op.Pool
	}
	if id := op.Params["poolid"]; id != "" {
		return id
	}
	return x.c.Address.Name
}

func (r *runner) createPool(ctx context.Context, x *changeExec, in Intent, op plan.Op, or *OpRecord) error {
	id := poolID(x, op)
	err := r.call(ctx, x, in, or, func() (string, error) {
		return "", r.opts.Client.CreatePool(ctx, id, op.Params["comment"])
	}, nil)
	if errors.Is(err, ErrAmbiguous) {
		// Whether the pool was made is unknown; creating it again tells.
		err = r.opts.Client.CreatePool(ctx, id, op.Params["comment"])
		if errors.Is(err, ErrAlreadyExists) {
			err = nil
		}
	}
	return err
}

// maxIDAttempts bounds how often a create retries with a fresh VMID after
// finding the one it was given taken.
const maxIDAttempts = 5

// create creates a guest. The VMID is chosen (pinned and checked free, or
// the next free one) and journaled before the create call, and choosing and
// calling are serialised across the run, so no two creates take one id; a
// collision with someone else's create is retried with a fresh id.
func (r *runner) create(ctx context.Context, x *changeExec, in Intent, op plan.Op, or *OpRecord) error {
	return r.retryCreate(ctx, x, in, or, func(in Intent) error { return r.createOnce(ctx, x, in, op, or) })
}

// retryCreate runs a create or clone again after its task failed, when the
// failed task left no guest behind (PVE removes a guest whose create
// failed), up to Options.TaskRetries times.
func (r *runner) retryCreate(ctx context.Context, x *changeExec, in Intent, or *OpRecord, once func(Intent) error) error {
	for try := 0; ; try++ {
		in.Attempt = try * 10
		err := once(in)
		var tf *TaskFailure
		if err == nil || !errors.As(err, &tf) || try >= r.opts.TaskRetries || ctx.Err() != nil || x.mutated {
			return err
		}
		if _, exists, ferr := r.opts.Client.FindGuest(ctx, x.vmid); ferr != nil || exists {
			return err
		}
		if !r.backoff(ctx, x, or, try, err) {
			return err
		}
	}
}

func (r *runner) createOnce(ctx context.Context, x *changeExec, in Intent, op plan.Op, or *OpRecord) error {
	params, err := r.resolveParams(x, op.Params)
	if err != nil {
		return err
	}
	if op.Pool != "" && params["pool"] == "" {
		params = maps.Clone(params)
		params["pool"] = op.Pool
	}
	cl := r.opts.Client
	upid, err := r.allocSend(ctx, x, &in, or, guestName(x.c, op.Params), func(vmid int) (string, error) {
		upid, err := cl.CreateGuest(ctx, x.kind, x.node, vmid, params)
		return upid, scrub(err, params, op.Params)
	})
	if err != nil {
		return err
	}
	return r.finishCreate(ctx, x, in, or, upid)
}

// allocSend picks a vmid for a create or clone (the pinned one, or the
// next free one) and sends the call with it. When another client took a
// free id meanwhile it tries the next, up to maxIDAttempts. It returns the
// task of the call ("" if the guest was found created without one).
func (r *runner) allocSend(ctx context.Context, x *changeExec, in *Intent, or *OpRecord, name string, send func(vmid int) (string, error)) (string, error) {
	r.allocMu.Lock()
	defer r.allocMu.Unlock()
	pinned := x.c.VMID
	base := in.Attempt
	for idAttempt := 0; ; idAttempt++ {
		vmid, err := r.opts.Client.NextID(ctx, pinned)
		if err != nil {
			if pinned != 0 && errors.Is(err, ErrAlreadyExists) {
				return "", fmt.Errorf("vmid %d is taken by another guest: %w", pinned, err)
			}
			return "", fmt.Errorf("allocate vmid: %w", err)
		}
		x.vmid = vmid
		in.VMID, in.Name, in.Attempt = vmid, name, base+idAttempt
		err = r.sendCreate(ctx, x, in, or, func() (string, error) { return send(vmid) })
		if err == nil {
			return in.UPID, nil
		}
		if errors.Is(err, ErrAlreadyExists) && pinned == 0 && idAttempt+1 < maxIDAttempts {
			or.Retries++
			r.progressf("%s: vmid %d was taken meanwhile; trying another", x.c.Address, vmid)
			continue
		}
		return "", err
	}
}

// sendCreate sends a create (or clone) call whose intent names the chosen
// vmid, retrying lock timeouts. An ambiguous outcome is settled by looking
// for the guest. On success in.UPID holds the task ("" if it was found
// created without one).
func (r *runner) sendCreate(ctx context.Context, x *changeExec, in *Intent, or *OpRecord, do func() (string, error)) error {
	for lockAttempt := 0; ; lockAttempt++ {
		in.State, in.UPID, in.Error = intentPending, "", ""
		r.journalIntent(*in)
		upid, err := do()
		if err == nil {
			in.State, in.UPID = intentSent, upid
			r.journalIntent(*in)
			return nil
		}
		// Ambiguous, or "already exists" (an earlier send whose answer was
		// lost may have landed after the client's read-back): a guest with
		// the chosen id and our name is ours. Taking another id would make
		// a second guest of the same name.
		if errors.Is(err, ErrAmbiguous) || errors.Is(err, ErrAlreadyExists) {
			if g, ok, ferr := r.opts.Client.FindGuest(ctx, in.VMID); ferr == nil && ok && g.Name == in.Name {
				in.State = intentSent
				r.journalIntent(*in)
				return nil
			}
		}
		in.State, in.Error = intentFailed, err.Error()
		r.journalIntent(*in)
		if !errors.Is(err, ErrLockTimeout) || lockAttempt+1 >= r.opts.Retry.Attempts {
			return err
		}
		or.Retries++
		select {
		case <-time.After(r.opts.Retry.delay(lockAttempt)):
		case <-ctx.Done():
			return err
		}
	}
}

// finishCreate waits for a create or clone task (or, when the call's
// outcome was settled by finding the guest, for its lock to clear).
func (r *runner) finishCreate(ctx context.Context, x *changeExec, in Intent, or *OpRecord, upid string) error {
	var err error
	if upid != "" {
		or.UPID = upid
		r.progressf("%s: task %s", x.c.Address, upid)
		err = r.opts.Client.WaitTask(ctx, upid)
	} else {
		err = r.waitUnlocked(ctx, in.VMID)
	}
	r.journalOutcome(ctx, x, in, err)
	return err
}

// waitUnlocked polls a guest until it exists without a lock.
func (r *runner) waitUnlocked(ctx context.Context, vmid int) error {
	for d := 200 * time.Millisecond; ; d = min(2*d, 2*time.Second) {
		g, ok, err := r.opts.Client.FindGuest(ctx, vmid)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("guest %d: %w", vmid, ErrNotFound)
		}
		if g.Lock == "" {
			return nil
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// clone clones a template into a new guest (on op.Target, or the change's
// node), then sets the operation's remaining parameters and deletions with
// a config update.
func (r *runner) clone(ctx context.Context, x *changeExec, in Intent, op plan.Op, or *OpRecord) error {
	return r.retryCreate(ctx, x, in, or, func(in Intent) error { return r.cloneOnce(ctx, x, in, op, or) })
}

func (r *runner) cloneOnce(ctx context.Context, x *changeExec, in Intent, op plan.Op, or *OpRecord) error {
	src, srcNode := op.SourceVMID, ""
	if op.SourceAddress != "" {
		a, err := resource.ParseAddress(op.SourceAddress)
		if err != nil {
			return fmt.Errorf("clone source: %w", err)
		}
		r.mu.Lock()
		id, ok := r.vmids[a]
		srcNode = r.nodeOf[a]
		r.mu.Unlock()
		if src == 0 {
			if !ok || id == 0 {
				return fmt.Errorf("clone source %s has no vmid (was it created by this run?)", a)
			}
			src = id
		}
	}
	if src == 0 {
		return errors.New("clone without a source")
	}
	if srcNode == "" {
		g, ok, err := r.opts.Client.FindGuest(ctx, src)
		if err != nil {
			return fmt.Errorf("clone source %d: %w", src, err)
		}
		if !ok {
			return fmt.Errorf("clone source %d does not exist", src)
		}
		srcNode = g.Node
	}
	params, err := r.resolveParams(x, op.Params)
	if err != nil {
		return err
	}
	cloneParams, rest := map[string]string{}, map[string]string{}
	for k, v := range params {
		if cloneKeys[k] {
			cloneParams[k] = v
		} else {
			rest[k] = v
		}
	}
	if op.Full {
		cloneParams["full"] = "1"
	}
	if op.Storage != "" {
		cloneParams["storage"] = op.Storage
	}
	if op.Pool != "" {
		cloneParams["pool"] = op.Pool
	}
	if op.Target != "" {
		x.node = op.Target
	}
	if x.node == "" {
		x.node = srcNode
	}
	if x.node != srcNode {
		cloneParams["target"] = x.node
	}
	in.Node = x.node
	cl := r.opts.Client
	upid, err := r.allocSend(ctx, x, &in, or, guestName(x.c, op.Params), func(vmid int) (string, error) {
		upid, err := cl.Clone(ctx, x.kind, srcNode, src, vmid, cloneParams)
		return upid, scrub(err, params, op.Params)
	})
	if err != nil {
		return err
	}
	if err := r.finishCreate(ctx, x, in, or, upid); err != nil {
		return err
	}
	if len(rest) == 0 && len(op.Delete) == 0 {
		return nil
	}
	cfg := OpRecord{Kind: plan.OpConfig}
	cin := Intent{Change: x.idx, Op: in.Op, Attempt: 1000, Address: in.Address, Kind: plan.OpConfig,
		Guest: x.kind, Node: x.node, VMID: x.vmid, State: intentPending}
	err = r.call(ctx, x, cin, &cfg, func() (string, error) {
		upid, err := cl.UpdateConfig(ctx, x.kind, x.node, x.vmid, rest, op.Delete, "")
		return upid, scrub(err, params, op.Params)
	}, nil)
	if cfg.UPID != "" {
		x.cr.UPIDs = append(x.cr.UPIDs, cfg.UPID)
	}
	or.Retries += cfg.Retries
	return err
}

// powerSettled reports whether a guest is already in the state a power
// action leads to (after a call whose outcome was unknown).
func (r *runner) powerSettled(ctx context.Context, x *changeExec, action string) bool {
	g, ok, err := r.opts.Client.FindGuest(ctx, x.vmid)
	if err != nil || !ok || g.Lock != "" {
		return false
	}
	switch action {
	case "start", "resume":
		return g.Status == "running"
	case "stop", "shutdown":
		return g.Status == "stopped"
	}
	return false
}

// longLocks are PVE guest locks held for minutes or until someone acts: a
// backup or migration in progress, a hibernated VM, a mounted container.
// Retrying for seconds does not outlast them.
var longLocks = map[string]bool{"backup": true, "migrate": true, "suspended": true, "mounted": true}

// guestLock returns the lock named by PVE's "VM is locked (backup)" or "CT
// is locked (mounted)" in msg, "" when there is none.
func guestLock(msg string) string {
	_, rest, ok := strings.Cut(msg, "is locked (")
	if !ok {
		return ""
	}
	lock, _, ok := strings.Cut(rest, ")")
	if !ok {
		return ""
	}
	return lock
}

// lockHint says what to do about a change that failed because its guest
// stayed locked: wait for the holder, undo a lock someone set on purpose, or
// clear a lock no task holds.
func lockHint(x *changeExec, lock string) string {
	tool := "qm"
	if x.kind == resource.KindContainer {
		tool = "pct"
	}
	id := strconv.Itoa(x.vmid)
	switch lock {
	case "suspended":
		return "the VM is hibernated: start it (" + tool + " start " + id + " on " + x.node + " resumes it), then apply again"
	case "mounted":
		return "the container's volumes are mounted: " + tool + " unmount " + id + " on " + x.node + ", then apply again"
	}
	why := "another task holds the guest's lock"
	if lock != "" {
		why = "PVE holds the guest's lock (" + lock + ") for a task in progress"
	}
	return fmt.Sprintf("%s: apply again once it is done (the node's task list shows it); a lock that no running task holds is cleared on %s with: %s unlock %s",
		why, x.node, tool, id)
}
