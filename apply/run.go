package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
)

// Options configure Run. Client is required; everything else has a default.
type Options struct {
	Client Client
	// Parallelism bounds how many changes run at once (default 4).
	Parallelism int
	// PerNode bounds changes at once on one node (0: no bound but Parallelism).
	PerNode int
	// PerTemplate bounds parallel clones of one template (0: no bound).
	PerTemplate int
	// Journal, when set, records every intent before it is sent so that a
	// crashed run can be recovered.
	Journal *Journal
	// Progress receives one line per event (change started, task, result).
	Progress io.Writer
	// RunID identifies the run (default NewRunID).
	RunID string
	// ResolveSecret turns a secret reference into its value at the moment it
	// is sent (default: env: and file: relative to the working directory).
	ResolveSecret func(resource.SecretRef) (string, error)
	// RecordSecret, when set, is called after a change applied with each
	// secret it sent (resolved), so that a salted hash of it can be kept for
	// the plan's change detection (snapshot.Store.SetSecret). It must not
	// keep the value itself.
	RecordSecret func(addr resource.Address, key, value string) error
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
	// Refuse names changes that must not be attempted, with the reason
	// (e.g. a saved plan's guests that changed since). Their dependents are
	// skipped.
	Refuse map[resource.Address]string
	// Who and Host name the person and machine applying, for the record.
	Who, Host string
	// Retry paces retries of lock timeouts (default 6 attempts, 250ms
	// doubling to 4s) and of failed tasks.
	Retry Backoff
	// TaskRetries is how often an operation whose task failed is sent again
	// (default 2; -1 for never). A failed PVE task changed nothing, so
	// sending it again is safe; a create is only sent again when the failed
	// task left no guest behind.
	TaskRetries int
}

// Backoff says how often and how fast an operation is retried.
type Backoff struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

func (b Backoff) delay(attempt int) time.Duration {
	d := b.Base << attempt
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	return d
}

// Run applies p and returns the record of what happened. Failed, refused
// or skipped changes do not make Run return an error; they are in the
// record. Run returns an error only when it cannot start (an invalid plan,
// a journal it cannot write); when ctx ends, the changes in flight are
// recorded as interrupted and the record is returned with ctx's error.
func Run(ctx context.Context, p *plan.Plan, opts Options) (*Record, error) {
	if opts.Client == nil {
		return nil, errors.New("apply: no client")
	}
	if len(p.Errors) > 0 {
		return nil, fmt.Errorf("apply: the plan has errors and cannot be applied:\n  %s", strings.Join(p.Errors, "\n  "))
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID(opts.Now())
	}
	if opts.ResolveSecret == nil {
		opts.ResolveSecret = ResolveSecretRef("")
	}
	if opts.Retry.Attempts == 0 {
		opts.Retry = Backoff{Attempts: 6, Base: 250 * time.Millisecond, Max: 4 * time.Second}
	}
	switch {
	case opts.TaskRetries == 0:
		opts.TaskRetries = 2
	case opts.TaskRetries < 0:
		opts.TaskRetries = 0
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if err := checkDeps(p); err != nil {
		return nil, err
	}

	rec := &Record{
		Version:   RecordVersion,
		RunID:     opts.RunID,
		Who:       opts.Who,
		Host:      opts.Host,
		Started:   opts.Now().UTC(),
		Endpoint:  p.Endpoint,
		Workspace: p.WorkspaceCommit,
		Dirty:     p.Dirty,
		Plan:      p,
		Changes:   make([]ChangeRecord, len(p.Changes)),
	}
	for i, c := range p.Changes {
		rec.Changes[i] = ChangeRecord{Address: c.Address.String(), Action: c.Action, Node: c.Node, VMID: c.VMID}
	}
	if opts.Journal != nil {
		if err := opts.Journal.begin(rec, os.Getpid()); err != nil {
			return nil, fmt.Errorf("apply: journal run %s: %w", rec.RunID, err)
		}
	}

	r := newRunner(p, rec, opts)
	r.run(ctx)

	rec.Finished = opts.Now().UTC()
	if ctx.Err() != nil {
		rec.Interrupted = true
	}
	rec.Tally()
	r.progressf("%s", summaryLine(rec))
	if opts.Journal != nil {
		if err := opts.Journal.finish(rec); err != nil {
			return rec, fmt.Errorf("apply: journal run %s: %w", rec.RunID, err)
		}
	}
	if err := r.journalErr(); err != nil {
		return rec, err
	}
	if ctx.Err() != nil {
		return rec, ctx.Err()
	}
	return rec, nil
}

func summaryLine(rec *Record) string {
	s := rec.Summary
	head := "Apply complete"
	if rec.Interrupted {
		head = "Apply interrupted"
	}
	line := fmt.Sprintf("%s: %d applied, %d failed, %d refused, %d skipped", head, s.Applied, s.Failed, s.Refused, s.Skipped)
	if s.Interrupted > 0 {
		line += fmt.Sprintf(", %d in flight", s.Interrupted)
	}
	return line + fmt.Sprintf(" (run %s)", rec.RunID)
}

// checkDeps rejects a plan whose dependencies form a cycle (Run would wait
// forever).
func checkDeps(p *plan.Plan) error {
	idx := indexChanges(p)
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(p.Changes))
	var visit func(i int) error
	visit = func(i int) error {
		color[i] = grey
		for _, d := range p.Changes[i].DependsOn {
			for _, j := range idx[d] {
				if j == i {
					continue
				}
				switch color[j] {
				case grey:
					return fmt.Errorf("apply: dependency cycle between %s and %s", p.Changes[i].Address, p.Changes[j].Address)
				case white:
					if err := visit(j); err != nil {
						return err
					}
				}
			}
		}
		color[i] = black
		return nil
	}
	for i := range p.Changes {
		if color[i] == white {
			if err := visit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func indexChanges(p *plan.Plan) map[resource.Address][]int {
	idx := map[resource.Address][]int{}
	for i, c := range p.Changes {
		idx[c.Address] = append(idx[c.Address], i)
	}
	return idx
}

// runner holds the state of one run.
type runner struct {
	p    *plan.Plan
	rec  *Record
	opts Options

	global chan struct{}
	mu     sync.Mutex
	nodes  map[string]chan struct{}
	tmpls  map[string]chan struct{}
	// vmids and nodeOf hold guests' ids and nodes as changes establish them
	// (allocated at create, moved by migrate), for later changes.
	vmids  map[resource.Address]int
	nodeOf map[resource.Address]string
	jerr   error

	// allocMu serialises VMID allocation with the create call that takes
	// the id, so that two creates of one run never pick the same id.
	allocMu sync.Mutex
	outMu   sync.Mutex
}

func newRunner(p *plan.Plan, rec *Record, opts Options) *runner {
	return &runner{
		p: p, rec: rec, opts: opts,
		global: make(chan struct{}, opts.Parallelism),
		nodes:  map[string]chan struct{}{},
		tmpls:  map[string]chan struct{}{},
		vmids:  map[resource.Address]int{},
		nodeOf: map[resource.Address]string{},
	}
}

func (r *runner) progressf(format string, args ...any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.opts.Progress, format+"\n", args...)
}

func (r *runner) journalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jerr
}

func (r *runner) noteJournal(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jerr == nil {
		r.jerr = fmt.Errorf("apply: journal run %s: %w", r.rec.RunID, err)
	}
}

// sem returns the semaphore for key in m, creating it with size n.
func (r *runner) sem(m map[string]chan struct{}, key string, n int) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := m[key]
	if !ok {
		s = make(chan struct{}, n)
		m[key] = s
	}
	return s
}

func acquire(ctx context.Context, s chan struct{}) bool {
	if s == nil {
		return true
	}
	select {
	case s <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func release(s chan struct{}) {
	if s != nil {
		<-s
	}
}

// templateKey names the template a change clones from, or "".
func templateKey(c *plan.Change) string {
	for _, op := range c.Ops {
		if op.Kind == plan.OpClone {
			if op.SourceAddress != "" {
				return op.SourceAddress
			}
			return fmt.Sprint(op.SourceVMID)
		}
	}
	return ""
}

func (r *runner) run(ctx context.Context) {
	n := len(r.p.Changes)
	idx := indexChanges(r.p)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer close(done[i])
			c := &r.p.Changes[i]
			cr := &r.rec.Changes[i]
			for _, d := range c.DependsOn {
				for _, j := range idx[d] {
					if j == i {
						continue
					}
					<-done[j]
					if res := r.rec.Changes[j].Result; res != ResultApplied && cr.Result == "" {
						cr.Result = ResultSkipped
						cr.Error = fmt.Sprintf("depends on %s, which %s", d, describe(res))
					}
				}
			}
			if cr.Result == "" {
				if why, ok := r.opts.Refuse[c.Address]; ok {
					cr.Result, cr.Error = ResultRefused, why
				}
			}
			if cr.Result != "" {
				r.progressf("%s: %s: %s", c.Address, cr.Result, cr.Error)
				r.noteJournal(r.journalChange(i))
				return
			}
			var ts, ns chan struct{}
			if k := templateKey(c); k != "" && r.opts.PerTemplate > 0 {
				ts = r.sem(r.tmpls, k, r.opts.PerTemplate)
			}
			if r.opts.PerNode > 0 && c.Node != "" {
				ns = r.sem(r.nodes, c.Node, r.opts.PerNode)
			}
			if !acquire(ctx, ts) {
				r.interruptedBeforeStart(i)
				return
			}
			defer release(ts)
			if !acquire(ctx, ns) {
				r.interruptedBeforeStart(i)
				return
			}
			defer release(ns)
			if !acquire(ctx, r.global) {
				r.interruptedBeforeStart(i)
				return
			}
			defer release(r.global)
			if ctx.Err() != nil {
				r.interruptedBeforeStart(i)
				return
			}
			r.execChange(ctx, i)
		})
	}
	wg.Wait()
}

func describe(res Result) string {
	switch res {
	case ResultFailed:
		return "failed"
	case ResultRefused:
		return "was refused"
	case ResultSkipped:
		return "was skipped"
	case ResultInterrupted:
		return "was interrupted"
	}
	return "did not apply"
}

func (r *runner) interruptedBeforeStart(i int) {
	cr := &r.rec.Changes[i]
	cr.Result, cr.Error = ResultSkipped, "not started: the run was interrupted"
	r.noteJournal(r.journalChange(i))
}

func (r *runner) journalChange(i int) error {
	if r.opts.Journal == nil {
		return nil
	}
	return r.opts.Journal.putChange(r.rec.RunID, i, r.rec.Changes[i])
}

func (r *runner) journalIntent(in Intent) {
	if r.opts.Journal == nil {
		return
	}
	in.Time = r.opts.Now().UTC()
	r.noteJournal(r.opts.Journal.putIntent(r.rec.RunID, in))
}
