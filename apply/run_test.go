package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
)

func vmAddr(name string) resource.Address { return resource.Address{Kind: resource.KindVM, Name: name} }

func createChange(name, node string, deps ...string) plan.Change {
	c := plan.Change{
		Address: vmAddr(name), Action: plan.ActionCreate, Node: node,
		Ops: []plan.Op{{Kind: plan.OpCreate, Params: map[string]string{"name": name, "cores": "1", "tags": "pmpc"}}},
	}
	for _, d := range deps {
		c.DependsOn = append(c.DependsOn, vmAddr(d))
	}
	return c
}

func fastRetry() Backoff {
	return Backoff{Attempts: 5, Base: time.Millisecond, Max: 5 * time.Millisecond}
}

func byAddr(rec *Record) map[string]ChangeRecord {
	m := map[string]ChangeRecord{}
	for _, c := range rec.Changes {
		m[c.Address] = c
	}
	return m
}

func TestDependentsOfAFailedChangeAreSkippedOthersContinue(t *testing.T) {
	f := newFake(5 * time.Millisecond)
	f.failTask["db"] = "storage 'local-lvm' does not exist"
	p := &plan.Plan{Changes: []plan.Change{
		createChange("db", "pve1"),
		createChange("app", "pve1", "db"),
		createChange("web", "pve1", "app"),
		createChange("cache", "pve1"),
	}}
	var progress bytes.Buffer
	rec, err := Run(context.Background(), p, Options{Client: f, Progress: &progress, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	got := byAddr(rec)
	want := map[string]Result{"vm.db": ResultFailed, "vm.app": ResultSkipped, "vm.web": ResultSkipped, "vm.cache": ResultApplied}
	for a, w := range want {
		if got[a].Result != w {
			t.Errorf("%s: result %q, want %q (error %q)", a, got[a].Result, w, got[a].Error)
		}
	}
	if !strings.Contains(got["vm.db"].Error, "storage 'local-lvm' does not exist") || len(got["vm.db"].TaskLog) == 0 {
		t.Errorf("failed change should carry the task's error and log tail: %+v", got["vm.db"])
	}
	if !strings.Contains(got["vm.app"].Error, "depends on vm.db, which failed") {
		t.Errorf("skip reason = %q", got["vm.app"].Error)
	}
	if rec.Summary != (Summary{Applied: 1, Failed: 1, Skipped: 2}) {
		t.Errorf("summary = %+v", rec.Summary)
	}
	if f.createsPerName["app"] != 0 || f.createsPerName["web"] != 0 {
		t.Errorf("dependents were created: %v", f.createsPerName)
	}
	if !strings.Contains(rec.Line(), "1 changed, 1 failed") {
		t.Errorf("line = %q", rec.Line())
	}
	out := progress.String()
	for _, s := range []string{"vm.cache: create on pve1 ...", "vm.cache: task UPID:", "vm.cache: applied in", "vm.db: failed after", "Apply complete: 1 applied, 1 failed, 0 refused, 2 skipped"} {
		if !strings.Contains(out, s) {
			t.Errorf("progress lacks %q:\n%s", s, out)
		}
	}
}

func TestParallelismAndPerNodeBounds(t *testing.T) {
	f := newFake(20 * time.Millisecond)
	var p plan.Plan
	for i := range 24 {
		node := "pve1"
		if i%2 == 1 {
			node = "pve2"
		}
		p.Changes = append(p.Changes, createChange(fmt.Sprintf("vm%02d", i), node))
	}
	rec, err := Run(context.Background(), &p, Options{Client: f, Parallelism: 6, PerNode: 2, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Summary.Applied != 24 {
		t.Fatalf("summary %+v", rec.Summary)
	}
	if f.nodePeak["pve1"] > 2 || f.nodePeak["pve2"] > 2 {
		t.Errorf("per-node peak %v exceeds 2", f.nodePeak)
	}
	if f.peak > 4 || f.peak < 3 {
		t.Errorf("peak %d, want 3..4 (2 per node x 2 nodes)", f.peak)
	}

	f2 := newFake(20 * time.Millisecond)
	if _, err := Run(context.Background(), &p, Options{Client: f2, Parallelism: 5, Retry: fastRetry()}); err != nil {
		t.Fatal(err)
	}
	if f2.peak != 5 {
		t.Errorf("peak %d with parallelism 5, want exactly 5", f2.peak)
	}
}

func TestPerTemplateCloneLimit(t *testing.T) {
	f := newFake(20 * time.Millisecond)
	f.guests[9000] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "tmpl", digest: "d"}
	f.guests[9001] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "tmpl2", digest: "d"}
	var p plan.Plan
	for i := range 12 {
		src := 9000 + i%2
		p.Changes = append(p.Changes, plan.Change{
			Address: vmAddr(fmt.Sprintf("c%02d", i)), Action: plan.ActionCreate, Node: "pve1",
			Ops: []plan.Op{{Kind: plan.OpClone, SourceVMID: src, Params: map[string]string{"name": fmt.Sprintf("c%02d", i), "cores": "2"}}},
		})
	}
	rec, err := Run(context.Background(), &p, Options{Client: f, Parallelism: 8, PerTemplate: 2, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Summary.Applied != 12 {
		t.Fatalf("summary %+v: %+v", rec.Summary, rec.Changes)
	}
	for src, pk := range f.tmplPeak {
		if pk != 2 {
			t.Errorf("template %d: %d clones at once, want 2", src, pk)
		}
	}
	// The non-clone parameters were set by a config update after the clone.
	var cfgs int
	for _, m := range f.received {
		if m["cores"] == "2" {
			cfgs++
		}
	}
	if cfgs != 12 {
		t.Errorf("%d config updates with cores after clone, want 12", cfgs)
	}
}

func TestConcurrentCreatesNeverShareAVMID(t *testing.T) {
	f := newFake(10 * time.Millisecond)
	f.stealNextID = 3 // someone else takes the id NextID offered, three times
	var p plan.Plan
	for i := range 16 {
		p.Changes = append(p.Changes, createChange(fmt.Sprintf("vm%02d", i), "pve1"))
	}
	rec, err := Run(context.Background(), &p, Options{Client: f, Parallelism: 8, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]string{}
	for _, c := range rec.Changes {
		if c.Result != ResultApplied {
			t.Fatalf("%s: %s %s", c.Address, c.Result, c.Error)
		}
		if prev, dup := seen[c.VMID]; dup {
			t.Errorf("vmid %d given to %s and %s", c.VMID, prev, c.Address)
		}
		seen[c.VMID] = c.Address
		if g := f.guests[c.VMID]; g == nil || g.name != strings.TrimPrefix(c.Address, "vm.") {
			t.Errorf("%s: record says vmid %d, cluster has %+v", c.Address, c.VMID, g)
		}
	}
	var retries int
	for _, c := range rec.Changes {
		retries += c.Ops[0].Retries
	}
	if retries != 0 {
		// NextID is asked under the allocation lock, and the stolen ids are
		// taken before NextID returns, so no retry is needed here; a
		// collision at create is covered below.
		t.Logf("retries %d", retries)
	}
}

// collidingClient makes the create of vmid 100 collide, as when another
// tool created that guest between nextid and the create.
type collidingClient struct {
	*fakeClient
	collided map[int]bool
}

func (c *collidingClient) CreateGuest(ctx context.Context, kind resource.Kind, node string, vmid int, params map[string]string) (string, error) {
	c.mu.Lock()
	if vmid == 100 && !c.collided[vmid] {
		c.collided[vmid] = true
		c.guests[vmid] = &fakeGuest{kind: kind, node: "pve2", name: "other-tool", status: "stopped"}
		c.mu.Unlock()
		return "", fmt.Errorf("unable to create VM %d - VM %d already exists on node 'pve2': %w", vmid, vmid, ErrAlreadyExists)
	}
	c.mu.Unlock()
	return c.fakeClient.CreateGuest(ctx, kind, node, vmid, params)
}

func TestCreateCollisionRetriesWithFreshID(t *testing.T) {
	f := &collidingClient{fakeClient: newFake(time.Millisecond), collided: map[int]bool{}}
	p := &plan.Plan{Changes: []plan.Change{createChange("web", "pve1")}}
	rec, err := Run(context.Background(), p, Options{Client: f, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	c := rec.Changes[0]
	if c.Result != ResultApplied || c.VMID != 101 || c.Ops[0].Retries != 1 {
		t.Fatalf("got %+v, want applied as vmid 101 after one retry", c)
	}
	if f.guests[100].name != "other-tool" || f.guests[101].name != "web" {
		t.Errorf("guests %v", f.guests)
	}

	// A pinned vmid that is taken is not silently replaced by another id.
	f2 := newFake(time.Millisecond)
	f2.guests[150] = &fakeGuest{name: "squatter"}
	pc := createChange("db", "pve1")
	pc.VMID = 150
	rec, err = Run(context.Background(), &plan.Plan{Changes: []plan.Change{pc}}, Options{Client: f2, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Changes[0].Result != ResultFailed || !strings.Contains(rec.Changes[0].Error, "vmid 150 is taken") {
		t.Errorf("pinned collision: %+v", rec.Changes[0])
	}
}

func TestLockTimeoutsAreRetried(t *testing.T) {
	f := newFake(time.Millisecond)
	f.guests[100] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "web", digest: "abc"}
	f.lockTimeouts = 2
	p := &plan.Plan{Changes: []plan.Change{{
		Address: vmAddr("web"), Action: plan.ActionUpdate, Node: "pve1", VMID: 100, Digest: "abc",
		Ops: []plan.Op{{Kind: plan.OpConfig, Params: map[string]string{"memory": "4096"}, Digest: "abc"},
			{Kind: plan.OpResize, Disk: "scsi0", Size: "40G", Digest: "abc"}},
	}}}
	rec, err := Run(context.Background(), p, Options{Client: f, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	c := rec.Changes[0]
	if c.Result != ResultApplied || c.Ops[0].Retries != 2 {
		t.Fatalf("got %+v", c)
	}
	// The resize after the config update did not send the plan's (now
	// outdated by our own write) digest.
	if len(c.Ops) != 2 || c.Ops[1].Result != ResultApplied {
		t.Errorf("resize: %+v", c.Ops)
	}
}

func TestGuestEditedOutOfBandIsRefusedOthersApplied(t *testing.T) {
	f := newFake(time.Millisecond)
	f.guests[100] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "web", digest: "edited-since"}
	f.guests[101] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "db", digest: "d1"}
	upd := func(name string, vmid int, digest string) plan.Change {
		return plan.Change{Address: vmAddr(name), Action: plan.ActionUpdate, Node: "pve1", VMID: vmid, Digest: digest,
			Ops: []plan.Op{{Kind: plan.OpConfig, Params: map[string]string{"cores": "4"}, Digest: digest}}}
	}
	p := &plan.Plan{Changes: []plan.Change{upd("web", 100, "seen-by-plan"), upd("db", 101, "d1"), createChange("app", "pve1", "web")}}
	rec, err := Run(context.Background(), p, Options{Client: f, Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	got := byAddr(rec)
	if got["vm.web"].Result != ResultRefused || !strings.Contains(got["vm.web"].Error, "vm.web changed since the plan was made") {
		t.Errorf("web: %+v", got["vm.web"])
	}
	if got["vm.db"].Result != ResultApplied || got["vm.app"].Result != ResultSkipped {
		t.Errorf("db %s, app %s", got["vm.db"].Result, got["vm.app"].Result)
	}
	if rec.OK() {
		t.Error("record with a refused change reports OK")
	}
}

func TestRefusedByCallerIsNotAttempted(t *testing.T) {
	f := newFake(time.Millisecond)
	p := &plan.Plan{Changes: []plan.Change{createChange("web", "pve1"), createChange("db", "pve1")}}
	rec, err := Run(context.Background(), p, Options{Client: f, Retry: fastRetry(),
		Refuse: map[resource.Address]string{vmAddr("web"): "vm.web changed since the plan: memory 2048 -> 4096"}})
	if err != nil {
		t.Fatal(err)
	}
	got := byAddr(rec)
	if got["vm.web"].Result != ResultRefused || f.createsPerName["web"] != 0 {
		t.Errorf("web: %+v, creates %d", got["vm.web"], f.createsPerName["web"])
	}
	if got["vm.db"].Result != ResultApplied {
		t.Errorf("db: %+v", got["vm.db"])
	}
}

func TestSecretsAreSentButNeverRecorded(t *testing.T) {
	const secret = "hunter2-very-secret"
	t.Setenv("PMPC_TEST_CIPW", secret)
	f := newFake(time.Millisecond)
	c := createChange("web", "pve1")
	c.Ops[0].Params["cipassword"] = "env:PMPC_TEST_CIPW"
	c.Fields = []plan.FieldChange{{Key: "cipassword", After: "(sensitive)", Sensitive: true}}
	missing := createChange("db", "pve1")
	missing.Ops[0].Params["cipassword"] = "env:PMPC_TEST_NOT_SET"
	dir := t.TempDir()
	j, err := OpenJournal(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var progress bytes.Buffer
	p := &plan.Plan{Changes: []plan.Change{c, missing}}
	recorded := map[string]string{}
	rec, err := Run(context.Background(), p, Options{Client: f, Journal: j, Progress: &progress, Retry: fastRetry(),
		RecordSecret: func(addr resource.Address, key, value string) error {
			recorded[addr.String()+"/"+key] = plan.HashSecret("salt", value)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if f.received[0]["cipassword"] != secret {
		t.Fatalf("client got cipassword %q, want the resolved secret", f.received[0]["cipassword"])
	}
	if p.Changes[0].Ops[0].Params["cipassword"] != "env:PMPC_TEST_CIPW" {
		t.Error("the plan was modified with the resolved secret")
	}
	got := byAddr(rec)
	if got["vm.db"].Result != ResultFailed || !strings.Contains(got["vm.db"].Error, "env:PMPC_TEST_NOT_SET") {
		t.Errorf("db: %+v", got["vm.db"])
	}
	b, _ := json.Marshal(rec)
	if bytes.Contains(b, []byte(secret)) || strings.Contains(progress.String(), secret) {
		t.Error("resolved secret in the record or progress")
	}
	var leaked bool
	if err := scanJournal(j, func(k, v []byte) {
		if bytes.Contains(v, []byte(secret)) {
			leaked = true
		}
	}); err != nil {
		t.Fatal(err)
	}
	if leaked {
		t.Error("resolved secret in the journal")
	}
	if len(recorded) != 1 || !plan.SecretMatches(recorded["vm.web/cipassword"], secret) {
		t.Errorf("secrets handed to RecordSecret: %v, want only vm.web's cipassword", recorded)
	}
}

// scanJournal calls fn for every key and value in the journal.
func scanJournal(j *Journal, fn func(k, v []byte)) error {
	return j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			fn(it.Item().KeyCopy(nil), v)
		}
		return nil
	})
}

func TestInterruptRecordsChangesInFlight(t *testing.T) {
	f := newFake(time.Millisecond)
	f.blockWait = make(chan struct{}) // tasks never finish
	f.sentBeforeSignal = make(chan string, 8)
	j, err := OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	p := &plan.Plan{Changes: []plan.Change{createChange("a", "pve1"), createChange("b", "pve1"), createChange("c", "pve1", "a")}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.sentBeforeSignal
		<-f.sentBeforeSignal
		cancel()
	}()
	rec, err := Run(ctx, p, Options{Client: f, Journal: j, Parallelism: 2, Retry: fastRetry()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	got := byAddr(rec)
	if !rec.Interrupted || got["vm.a"].Result != ResultInterrupted || got["vm.b"].Result != ResultInterrupted || got["vm.c"].Result != ResultSkipped {
		t.Fatalf("interrupted=%v results a=%s b=%s c=%s", rec.Interrupted, got["vm.a"].Result, got["vm.b"].Result, got["vm.c"].Result)
	}
	if len(got["vm.a"].UPIDs) != 1 || got["vm.a"].VMID == 0 {
		t.Errorf("in-flight change lost its task or vmid: %+v", got["vm.a"])
	}
	if !strings.Contains(rec.Line(), "interrupted") || !strings.Contains(rec.Line(), "2 in flight") {
		t.Errorf("line %q", rec.Line())
	}
	// The finished record waits in the journal until it is audited.
	pending, err := Pending(context.Background(), j, f, time.Second, nil)
	if err != nil || len(pending) != 1 || pending[0].RunID != rec.RunID || !pending[0].Interrupted {
		t.Fatalf("pending %v %v", pending, err)
	}
	if err := j.MarkAudited(rec.RunID, "abc"); err != nil {
		t.Fatal(err)
	}
	if pending, _ := Pending(context.Background(), j, f, time.Second, nil); len(pending) != 0 {
		t.Errorf("audited run still pending")
	}
}

// TestSecretsEchoedByPVEErrorsNeverLand: PVE's 400s may quote a parameter's
// value back ("value '…' does not match"). A resolved secret in such an
// error must not reach the journal (intents are written before the error
// is handed up), the progress (retry lines), nor the record.
func TestSecretsEchoedByPVEErrorsNeverLand(t *testing.T) {
	const secret = "s3cr3t-echoed-back"
	t.Setenv("PMPC_TEST_ECHO_PW", secret)
	for _, kind := range []plan.OpKind{plan.OpCreate, plan.OpConfig} {
		t.Run(string(kind), func(t *testing.T) {
			f := newFake(time.Millisecond)
			f.echoParams = 2 // a retried lock timeout, then a 400
			c := createChange("web", "pve1")
			if kind == plan.OpConfig {
				f.guests[120] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "web", digest: "d0", status: "stopped"}
				c = plan.Change{Address: vmAddr("web"), Action: plan.ActionUpdate, Node: "pve1", VMID: 120, Digest: "d0",
					Ops: []plan.Op{{Kind: plan.OpConfig, Params: map[string]string{"ciuser": "ops"}, Digest: "d0"}}}
			}
			c.Ops[0].Params["cipassword"] = "env:PMPC_TEST_ECHO_PW"
			c.Fields = []plan.FieldChange{{Key: "cipassword", After: "(sensitive)", Sensitive: true}}
			j, err := OpenJournal(filepath.Join(t.TempDir(), "journal"))
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			var progress bytes.Buffer
			rec, err := Run(context.Background(), &plan.Plan{Changes: []plan.Change{c}},
				Options{Client: f, Journal: j, Progress: &progress, Retry: fastRetry()})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.received) < 2 || f.received[0]["cipassword"] != secret {
				t.Fatalf("the fake was not sent the secret: %v", f.received)
			}
			if r := rec.Changes[0]; r.Result != ResultFailed || !strings.Contains(r.Error, "(sensitive)") {
				t.Errorf("result %s, error %q: want failed, the value replaced", r.Result, r.Error)
			}
			b, _ := json.Marshal(rec)
			if bytes.Contains(b, []byte(secret)) {
				t.Error("secret in the record")
			}
			if strings.Contains(progress.String(), secret) {
				t.Errorf("secret in the progress:\n%s", progress.String())
			}
			if err := scanJournal(j, func(k, v []byte) {
				if bytes.Contains(v, []byte(secret)) {
					t.Errorf("secret in the journal at %s", k)
				}
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEditBeforeADestructiveChangeIsRefused: a change whose first
// operation sends no digest (a prune or a replace: stop, then destroy)
// must still check the digest the plan saw before it does anything; the
// first write's digest is what makes PVE refuse an edited guest, and a
// stop or a destroy has none.
func TestEditBeforeADestructiveChangeIsRefused(t *testing.T) {
	for _, edited := range []bool{true, false} {
		f := newFake(time.Millisecond)
		f.guests[130] = &fakeGuest{kind: resource.KindVM, node: "pve1", name: "old", digest: "d0", status: "running"}
		if edited {
			f.guests[130].digest = "d0-edited-by-hand"
		}
		p := &plan.Plan{Changes: []plan.Change{{Address: vmAddr("old"), Action: plan.ActionDelete, Node: "pve1", VMID: 130, Digest: "d0",
			Ops: []plan.Op{{Kind: plan.OpPower, Power: "stop"}, {Kind: plan.OpDelete, Purge: true}}}}}
		rec, err := Run(context.Background(), p, Options{Client: f, Retry: fastRetry()})
		if err != nil {
			t.Fatal(err)
		}
		g, exists := f.guests[130]
		cr := rec.Changes[0]
		if edited {
			if cr.Result != ResultRefused || !strings.Contains(cr.Error, "vm.old changed since the plan was made") {
				t.Errorf("edited guest: %s %q, want refused", cr.Result, cr.Error)
			}
			if !exists || g.status != "running" {
				t.Errorf("edited guest was stopped or destroyed anyway (exists %v)", exists)
			}
		} else if cr.Result != ResultApplied || exists {
			t.Errorf("unedited guest: %s %q, exists %v", cr.Result, cr.Error, exists)
		}
	}
}
