package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// fakeClient is an in-memory Client for scheduler tests: guests by vmid,
// tasks that take taskDur, counters of concurrency, and scripted failures.
type fakeClient struct {
	mu      sync.Mutex
	taskDur time.Duration
	guests  map[int]*fakeGuest
	tasks   map[string]fakeTask
	seq     int

	active, peak     int
	nodeActive       map[string]int
	nodePeak         map[string]int
	tmplActive       map[int]int
	tmplPeak         map[int]int
	failTask         map[string]string // guest name -> task exit status
	lockTimeouts     int               // UpdateConfig answers this many lock timeouts first
	echoParams       int               // CreateGuest and UpdateConfig answer this many errors quoting every parameter first, as PVE's 400s may
	lockedBy         string            // UpdateConfig answers "VM is locked (lockedBy)" while set
	stealNextID      int               // NextID hands out ids that a foreign create takes this many times
	received         []map[string]string
	createsPerName   map[string]int
	blockWait        chan struct{} // when set, WaitTask blocks until closed or ctx ends
	sentBeforeSignal chan string   // receives each UPID as a task starts, when set
}

type fakeGuest struct {
	kind   resource.Kind
	node   string
	name   string
	digest string
	status string
	lock   string
}

type fakeTask struct {
	end     time.Time
	vmid    int
	node    string
	tmpl    int
	fail    string
	counted bool
}

func newFake(taskDur time.Duration) *fakeClient {
	return &fakeClient{
		taskDur: taskDur, guests: map[int]*fakeGuest{}, tasks: map[string]fakeTask{},
		nodeActive: map[string]int{}, nodePeak: map[string]int{},
		tmplActive: map[int]int{}, tmplPeak: map[int]int{},
		failTask: map[string]string{}, createsPerName: map[string]int{},
	}
}

// startTask registers a task; the caller holds mu.
func (f *fakeClient) startTask(kind string, node string, vmid, tmpl int, fail string) string {
	f.seq++
	upid := fmt.Sprintf("UPID:%s:%08X:00000000:00000000:%s:%d:root@pam:", node, f.seq, kind, vmid)
	f.tasks[upid] = fakeTask{end: time.Now().Add(f.taskDur), vmid: vmid, node: node, tmpl: tmpl, fail: fail, counted: true}
	f.active++
	f.peak = max(f.peak, f.active)
	f.nodeActive[node]++
	f.nodePeak[node] = max(f.nodePeak[node], f.nodeActive[node])
	if tmpl != 0 {
		f.tmplActive[tmpl]++
		f.tmplPeak[tmpl] = max(f.tmplPeak[tmpl], f.tmplActive[tmpl])
	}
	if f.sentBeforeSignal != nil {
		select {
		case f.sentBeforeSignal <- upid:
		default:
		}
	}
	return upid
}

func (f *fakeClient) NextID(ctx context.Context, want int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if want != 0 {
		if _, ok := f.guests[want]; ok {
			return 0, fmt.Errorf("VM %d already exists: %w", want, ErrAlreadyExists)
		}
		return want, nil
	}
	id := 100
	for f.guests[id] != nil {
		id++
	}
	if f.stealNextID > 0 {
		f.stealNextID--
		f.guests[id] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "foreign", status: "stopped"}
	}
	return id, nil
}

func (f *fakeClient) CreateGuest(ctx context.Context, kind resource.Kind, node string, vmid int, params map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.received = append(f.received, params)
	if err := f.echo(params); err != nil {
		return "", err
	}
	if _, ok := f.guests[vmid]; ok {
		return "", fmt.Errorf("unable to create VM %d - VM %d already exists: %w", vmid, vmid, ErrAlreadyExists)
	}
	name := params["name"]
	f.createsPerName[name]++
	f.guests[vmid] = &fakeGuest{kind: kind, node: node, name: name, digest: "d0", status: "stopped", lock: "create"}
	return f.startTask("qmcreate", node, vmid, 0, f.failTask[name]), nil
}

func (f *fakeClient) Clone(ctx context.Context, kind resource.Kind, node string, vmid, newid int, params map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.guests[vmid]; !ok {
		return "", fmt.Errorf("clone source %d: %w", vmid, ErrNotFound)
	}
	if _, ok := f.guests[newid]; ok {
		return "", fmt.Errorf("unable to create VM %d: config file already exists: %w", newid, ErrAlreadyExists)
	}
	f.createsPerName[params["name"]]++
	f.guests[newid] = &fakeGuest{kind: kind, node: node, name: params["name"], digest: "d0", status: "stopped", lock: "clone"}
	return f.startTask("qmclone", node, newid, vmid, ""), nil
}

func (f *fakeClient) UpdateConfig(ctx context.Context, kind resource.Kind, node string, vmid int, set map[string]string, del []string, digest string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.received = append(f.received, set)
	if err := f.echo(set); err != nil {
		return "", err
	}
	if f.lockTimeouts > 0 {
		f.lockTimeouts--
		return "", fmt.Errorf("can't lock file '/var/lock/qemu-server/lock-%d.conf' - got timeout: %w", vmid, ErrLockTimeout)
	}
	if f.lockedBy != "" {
		return "", busyError(fmt.Sprintf("update vm %d on %s: PUT /nodes/%s/qemu/%d/config: 500 VM is locked (%s)", vmid, node, node, vmid, f.lockedBy))
	}
	g, ok := f.guests[vmid]
	if !ok {
		return "", fmt.Errorf("VM %d: %w", vmid, ErrNotFound)
	}
	if digest != "" && digest != g.digest {
		return "", fmt.Errorf("checksum mismatch (file change by other user?): %w", ErrDigestMismatch)
	}
	g.digest += "+"
	return "", nil
}

func (f *fakeClient) Resize(ctx context.Context, kind resource.Kind, node string, vmid int, disk, size, digest string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.guests[vmid]
	if digest != "" && digest != g.digest {
		return "", fmt.Errorf("checksum mismatch: %w", ErrDigestMismatch)
	}
	g.digest += "+"
	return f.startTask("resize", node, vmid, 0, ""), nil
}

func (f *fakeClient) Power(ctx context.Context, kind resource.Kind, node string, vmid int, action string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.guests[vmid]
	if action == "start" {
		g.status = "running"
	} else {
		g.status = "stopped"
	}
	return f.startTask("qm"+action, node, vmid, 0, f.failTask[g.name]), nil
}

func (f *fakeClient) Migrate(ctx context.Context, kind resource.Kind, node string, vmid int, target string, params map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guests[vmid].node = target
	return f.startTask("qmigrate", node, vmid, 0, ""), nil
}

func (f *fakeClient) ConvertToTemplate(ctx context.Context, kind resource.Kind, node string, vmid int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.startTask("qmtemplate", node, vmid, 0, ""), nil
}

func (f *fakeClient) DeleteGuest(ctx context.Context, kind resource.Kind, node string, vmid int, purge bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.guests[vmid]; !ok {
		return "", fmt.Errorf("VM %d: %w", vmid, ErrNotFound)
	}
	delete(f.guests, vmid)
	return f.startTask("qmdestroy", node, vmid, 0, ""), nil
}

func (f *fakeClient) CreatePool(ctx context.Context, id, comment string) error { return nil }
func (f *fakeClient) UpdatePool(ctx context.Context, id string, comment *string, vmids []int, remove bool) error {
	return nil
}
func (f *fakeClient) DeletePool(ctx context.Context, id string) error { return nil }

func (f *fakeClient) WaitTask(ctx context.Context, upid string) error {
	f.mu.Lock()
	t, ok := f.tasks[upid]
	block := f.blockWait
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("task %s: %w", upid, ErrNotFound)
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-time.After(time.Until(t.end)):
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.counted {
		t.counted = false
		f.tasks[upid] = t
		f.active--
		f.nodeActive[t.node]--
		if t.tmpl != 0 {
			f.tmplActive[t.tmpl]--
		}
		if g := f.guests[t.vmid]; g != nil {
			g.lock = ""
		}
	}
	if t.fail != "" {
		if t.vmid != 0 {
			delete(f.guests, t.vmid)
		}
		return &TaskFailure{UPID: upid, ExitStatus: t.fail, LogTail: []string{"TASK ERROR: " + t.fail}}
	}
	return nil
}

func (f *fakeClient) FindGuest(ctx context.Context, vmid int) (GuestInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.guests[vmid]
	if !ok {
		return GuestInfo{}, false, nil
	}
	return GuestInfo{Kind: g.kind, VMID: vmid, Node: g.node, Name: g.name, Status: g.status, Lock: g.lock}, true, nil
}

// busyError is PVE's text for a locked guest that is ErrLockTimeout, as
// apply/pveclient classifies it (the text unchanged).
type busyError string

func (e busyError) Error() string        { return string(e) }
func (e busyError) Is(target error) bool { return target == ErrLockTimeout }

// echo returns, while echoParams lasts, an error quoting every parameter's
// value: a lock timeout the first time (retried, so it reaches the
// progress), then a plain 400 the way PVE's schema validator words it.
// The caller holds mu.
func (f *fakeClient) echo(params map[string]string) error {
	if f.echoParams <= 0 {
		return nil
	}
	f.echoParams--
	var quoted []string
	for k, v := range params {
		quoted = append(quoted, fmt.Sprintf("%s: value '%s' does not match the regex pattern", k, v))
	}
	sort.Strings(quoted)
	if f.echoParams%2 == 1 {
		return fmt.Errorf("got timeout (%s): %w", strings.Join(quoted, "; "), ErrLockTimeout)
	}
	return fmt.Errorf("400 Parameter verification failed. (%s)", strings.Join(quoted, "; "))
}

func (f *fakeClient) ConfigDigest(ctx context.Context, kind resource.Kind, node string, vmid int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.guests[vmid]
	if !ok {
		return "", fmt.Errorf("VM %d: %w", vmid, ErrNotFound)
	}
	return g.digest, nil
}
