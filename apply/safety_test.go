package apply_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// lossyFront is a TLS front for the fake PVE that passes requests through
// and, for requests its rule picks, loses the answer: the connection is
// closed without a response, so the client cannot know what happened.
type lossyFront struct {
	srv     *httptest.Server
	backend *sim.Server
	hc      *http.Client
	// rule is called for every request (with its body read); it returns
	// what to do with it.
	mu   sync.Mutex
	rule func(r *http.Request, n int) frontAction
	seen map[string]int
}

type frontAction int

const (
	passThrough   frontAction = iota
	forwardDrop               // forward, let PVE act, then lose the answer
	dropForwardOn             // lose the answer at once; the request reaches PVE later (see release)
)

func newLossyFront(t *testing.T, backend *sim.Server, rule func(r *http.Request, n int) frontAction) *lossyFront {
	t.Helper()
	f := &lossyFront{backend: backend, hc: backend.HTTPClient(), rule: rule, seen: map[string]int{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// late holds requests whose answer was lost and that reach PVE only when
// the next request of the same method and path arrives (a slow proxy: the
// client's read-back saw nothing, it resent, and the original lands first).
var late sync.Map // key -> chan struct{} closed once the original was served

func (f *lossyFront) forward(r *http.Request, body []byte) (*http.Response, error) {
	u := f.backend.URL() + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequest(r.Method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	return f.hc.Do(req)
}

func (f *lossyFront) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.seen[key]++
	n := f.seen[key]
	act := f.rule(r, n)
	f.mu.Unlock()
	drop := func() {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}
	if ch, ok := late.LoadAndDelete(key); ok {
		// A resend: let the original land first.
		ch.(chan chan struct{}) <- nil
		<-ch.(chan chan struct{})
	}
	switch act {
	case forwardDrop:
		if resp, err := f.forward(r, body); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		drop()
		return
	case dropForwardOn:
		ch := make(chan chan struct{})
		late.Store(key, ch)
		drop()
		go func() {
			<-ch // the resend arrived
			if resp, err := f.forward(r, body); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			ch <- nil // the original was served
		}()
		return
	}
	resp, err := f.forward(r, body)
	if err != nil {
		drop()
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// client is a real PVE client talking to the fake through the front.
func (f *lossyFront) client(t *testing.T) *proxmox.Client {
	t.Helper()
	c, err := proxmox.New(proxmox.Config{Endpoint: f.srv.URL, Token: f.backend.Token(), Fingerprint: proxmox.Fingerprint(f.srv.Certificate()),
		TaskPoll:        proxmox.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Retry:           proxmox.Backoff{Attempts: 4, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		AmbiguitySettle: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAmbiguousCreateNeverCreatesTwice: the create POST's answer is lost,
// in the two ways a real network loses it. Either PVE acted before the
// connection died, or the request was still on its way when the client
// read the cluster back (saw nothing), resent, and the original landed
// first. Both times exactly one guest named web exists afterwards, the
// record names its vmid, and the next plan is empty.
func TestAmbiguousCreateNeverCreatesTwice(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  frontAction
	}{
		{"answer lost after PVE acted", forwardDrop},
		{"original lands after the read-back", dropForwardOn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, direct := fakePVE(t, sim.Options{Seed: sim.Empty(), TaskDuration: 20 * time.Millisecond})
			front := newLossyFront(t, s, func(r *http.Request, n int) frontAction {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/nodes/pve1/qemu") && n == 1 {
					return tc.act
				}
				return passThrough
			})
			c := front.client(t)
			desired := resource.NewSet()
			desired.VMs["web"] = newVM("pve1", 1, "stopped")
			var progress bytes.Buffer
			opts := apply.Options{Client: pveclient.New(c), Progress: &progress,
				Retry: apply.Backoff{Attempts: 6, Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}}
			rec, err := apply.Run(context.Background(), makePlan(t, desired, direct), opts)
			if err != nil {
				t.Fatal(err)
			}
			s.WaitTasks(5 * time.Second)
			live := observe(t, direct)
			var webs []int
			for _, g := range live.Guests {
				if g.Name == "web" {
					webs = append(webs, g.VMID)
				}
			}
			if len(webs) != 1 {
				t.Fatalf("%d guests named web (vmids %v), want 1\nrecord: %s\n%s", len(webs), webs, rec.Line(), progress.String())
			}
			if cr := rec.Changes[0]; cr.Result != apply.ResultApplied || cr.VMID != webs[0] {
				t.Errorf("record: %s vmid %d (live %d): %s\n%s", cr.Result, cr.VMID, webs[0], cr.Error, progress.String())
			}
			if left := makePlan(t, desired, direct); len(left.Changes) != 0 {
				t.Errorf("plan after apply has %d changes", len(left.Changes))
			}
		})
	}
}

// TestFiftyCreatesUnderFaults: 50 creates at parallelism 8 against a fake
// that fails a tenth of requests and tasks. Across the runs it takes to
// converge, no two guests share a vmid or a name, and none is left half
// made (locked "create" with no task behind it).
func TestFiftyCreatesUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("50 guests")
	}
	s, c := fakePVE(t, sim.Options{Seed: sim.Empty(), TaskDuration: 5 * time.Millisecond, FaultRate: 0.1, RandSeed: 11})
	desired := resource.NewSet()
	for i := range 50 {
		desired.VMs[fmt.Sprintf("n-%02d", i)] = newVM("pve1", 1, "stopped")
	}
	converged := false
	for run := 1; run <= 4 && !converged; run++ {
		var p *plan.Plan
		var err error
		for range 5 { // the inventory read may meet a fault too
			var cl *resource.Cluster
			if cl, err = c.Inventory(context.Background(), proxmox.InventoryOptions{}); err == nil {
				p, err = plan.Make(desired, cl, plan.Options{})
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Changes) == 0 {
			converged = true
			break
		}
		opts := fastOpts(c)
		opts.Parallelism = 8
		rec, err := apply.Run(context.Background(), p, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %s", run, rec.Line())
		converged = rec.OK()
	}
	if !converged {
		t.Error("not converged within 4 runs")
	}
	s.WaitTasks(5 * time.Second)
	cl := observe(t, c)
	byID := map[int]string{}
	for _, g := range cl.Guests {
		if prev, dup := byID[g.VMID]; dup {
			t.Errorf("vmid %d is both %s and %s", g.VMID, prev, g.Name)
		}
		byID[g.VMID] = g.Name
		if g.Lock != "" {
			t.Errorf("%s (vmid %d) is left locked (%s)", g.Name, g.VMID, g.Lock)
		}
	}
	if live := guestsByName(t, cl); len(live) != 50 {
		t.Errorf("%d guests, want 50", len(live))
	}
}

// TestNoDisruptionUnlessPlanned: a change that needs a restart to take
// effect (cores of a running VM) is applied as pending, and the guest is
// neither stopped nor rebooted, unless the plan was made with
// --allow-restart; then it is rebooted exactly once.
func TestNoDisruptionUnlessPlanned(t *testing.T) {
	for _, allow := range []bool{false, true} {
		s, c := fakePVE(t, sim.Options{Seed: sim.Empty(), TaskDuration: 5 * time.Millisecond})
		desired := resource.NewSet()
		desired.VMs["app"] = newVM("pve1", 1, "running")
		if rec, err := apply.Run(context.Background(), makePlan(t, desired, c), fastOpts(c)); err != nil || !rec.OK() {
			t.Fatalf("create: %v", err)
		}
		desired.VMs["app"].Cores = ptr(4)
		desired.VMs["app"].Description = ptr("more cores")
		p, err := plan.Make(desired, observe(t, c), plan.Options{AllowRestart: allow})
		if err != nil {
			t.Fatal(err)
		}
		s.ResetStats()
		rec, err := apply.Run(context.Background(), p, fastOpts(c))
		if err != nil || !rec.OK() {
			t.Fatalf("update: %v %s", err, rec.Line())
		}
		power := map[string]int64{}
		for k, n := range s.Stats().Requests {
			if strings.Contains(k, "/status/") && strings.HasPrefix(k, "POST") {
				power[k] += n
			}
		}
		var total int64
		for _, n := range power {
			total += n
		}
		switch {
		case !allow && total != 0:
			t.Errorf("without --allow-restart the guest got power actions: %v", power)
		case allow && (total != 1 || power["POST /nodes/{node}/qemu/{vmid}/status/reboot"] != 1):
			t.Errorf("with --allow-restart: power actions %v, want one reboot", power)
		}
		live := guestsByName(t, observe(t, c))
		if live["app"].Status != "running" {
			t.Errorf("allow=%v: app is %s", allow, live["app"].Status)
		}
	}
}
