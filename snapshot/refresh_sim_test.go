package snapshot

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// simSource reads the cluster through the real API client, as cmd/pmpc's
// adapter does.
type simSource struct{ c *proxmox.Client }

func (s simSource) Inventory(ctx context.Context, need func(*resource.Guest) bool, progress func(done, total int)) (*resource.Cluster, error) {
	return s.c.Inventory(ctx, proxmox.InventoryOptions{Need: need, Progress: progress, Pending: true})
}

func (s simSource) Tasks(ctx context.Context) ([]Task, error) {
	ts, err := s.c.ClusterTasks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = Task{ID: t.ID, EndTime: t.EndTime}
	}
	return out, nil
}

// simClient connects a client to the fake at endpoint (the fake itself, or
// a front in front of it) whose certificate has fingerprint fp.
func simClient(tb testing.TB, srv *sim.Server, endpoint, fp string, tune ...func(*proxmox.Config)) *proxmox.Client {
	tb.Helper()
	cfg := proxmox.Config{Endpoint: endpoint, Token: srv.Token(), Fingerprint: fp,
		Retry: proxmox.Backoff{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond}}
	for _, f := range tune {
		f(&cfg)
	}
	c, err := proxmox.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

func memStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := OpenInMemory(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// guiPut changes a guest's config the way the web GUI does: a synchronous
// PUT .../config, which leaves no task in /cluster/tasks.
func guiPut(tb testing.TB, srv *sim.Server, vmid int, key, value string) {
	tb.Helper()
	st, ok := srv.Guest(vmid)
	if !ok {
		tb.Fatalf("guest %d does not exist", vmid)
	}
	u := fmt.Sprintf("%s/api2/json/nodes/%s/%s/%d/config", srv.URL(), st.Node, st.Type, vmid)
	req, err := http.NewRequest(http.MethodPut, u, strings.NewReader(url.Values{key: {value}}.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "PVEAPIToken="+srv.Token())
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("PUT %s %s=%s: %s", u, key, value, resp.Status)
	}
}

func refreshOK(tb testing.TB, src Source, st *Store, opts RefreshOptions) RefreshStats {
	tb.Helper()
	_, _, stats, err := Refresh(context.Background(), src, st, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return stats
}

// TestRefreshSimLarge runs incremental refreshes of 1,000 guests against the
// fake: (i) with nothing changed a refresh costs at most 2 % of the guests
// plus 2 requests; (ii) 1 % of the guests edited without a task, moving
// memory or CPU count, are all read by the next refresh.
func TestRefreshSimLarge(t *testing.T) {
	const n = 1000
	srv := sim.Test(t, sim.Options{Seed: sim.Large(n), RandSeed: 1})
	src := simSource{simClient(t, srv, srv.URL(), srv.Fingerprint())}
	st := memStore(t)

	if s := refreshOK(t, src, st, RefreshOptions{}); !s.Full || s.Read != n {
		t.Fatalf("first refresh: %+v, want all %d read", s, n)
	}

	// (i) Nothing changed.
	srv.ResetStats()
	s := refreshOK(t, src, st, RefreshOptions{})
	total := srv.Stats().Total
	budget := int64(n*2/100 + 2)
	t.Logf("unchanged refresh of %d guests: %d requests (budget %d), stats %+v", n, total, budget, s)
	if total > budget {
		t.Errorf("unchanged refresh made %d requests, budget is %d: %v", total, budget, srv.Stats().Requests)
	}
	if s.Read != n/100 || s.Verified != n/100 || s.Drifted != 0 || s.Reused != n-n/100 {
		t.Errorf("unchanged refresh stats = %+v, want %d verified, none drifted", s, n/100)
	}

	// (ii) 1 % edited without a task: half by hand (memory of running
	// VMs), half through the GUI's synchronous PUT (cores of stopped VMs,
	// which apply at once). Guests in the upper half are far from their
	// turn in the rotation, so only their signals can bring them in.
	var edited []int
	for vmid := 1000 + n/2; len(edited) < n/100; vmid++ {
		_, typ, _ := srv.Config(vmid)
		gs, _ := srv.Guest(vmid)
		switch {
		case typ != "qemu":
			continue
		case gs.Running && len(edited)%2 == 0:
			if err := srv.EditConfig(vmid, "memory", "65536"); err != nil {
				t.Fatal(err)
			}
		case !gs.Running && len(edited)%2 == 1:
			guiPut(t, srv, vmid, "cores", "7")
		default:
			continue
		}
		edited = append(edited, vmid)
	}
	srv.ResetStats()
	s = refreshOK(t, src, st, RefreshOptions{})
	if s.Read != 2*n/100 || s.Verified != n/100 || s.Drifted != 0 {
		t.Errorf("refresh after %d edits: stats %+v, want them read besides %d verified", len(edited), s, n/100)
	}
	for i, vmid := range edited {
		g, _, err := st.Guest(vmid)
		if err != nil {
			t.Fatal(err)
		}
		key, want := "memory", "65536"
		if i%2 == 1 {
			key, want = "cores", "7"
		}
		if got := g.Config[key]; got != want {
			t.Errorf("guest %d after refresh: %s = %q, want %q (the edit was missed)", vmid, key, got, want)
		}
	}
}

// TestRefreshSimRotationFindsSilentEdit: (iii) an edit that moves no cheap
// signal (a description, through the GUI's PUT) is found within 100
// refreshes by the rotating verification, and counted as drift.
func TestRefreshSimRotationFindsSilentEdit(t *testing.T) {
	const n = 50
	srv := sim.Test(t, sim.Options{Seed: sim.Large(n), RandSeed: 1})
	src := simSource{simClient(t, srv, srv.URL(), srv.Fingerprint())}
	st := memStore(t)
	refreshOK(t, src, st, RefreshOptions{Full: true})

	// The guest with the highest vmid is verified last.
	vmids := srv.VMIDs()
	vmid := vmids[len(vmids)-1]
	guiPut(t, srv, vmid, "description", "edited in the GUI")
	for i := 1; i <= 100; i++ {
		before := srv.Stats().Total
		s := refreshOK(t, src, st, RefreshOptions{})
		// A verified running guest whose digest changed also has its
		// pending values read again: one more request.
		if got := srv.Stats().Total - before; got > 5+int64(s.Drifted) {
			t.Fatalf("refresh %d made %d requests, want 4 + 1 verification (+ 1 pending read per drifted guest, %d)", i, got, s.Drifted)
		}
		if s.Verified != 1 {
			t.Fatalf("refresh %d verified %d configs, want 1 (1 %% of %d, rounded up)", i, s.Verified, n)
		}
		g, _, err := st.Guest(vmid)
		if err != nil {
			t.Fatal(err)
		}
		if g.Config["description"] == "edited in the GUI" {
			if s.Drifted != 1 {
				t.Errorf("refresh %d found the edit but counted %d drifted", i, s.Drifted)
			}
			if i != n {
				t.Errorf("found after %d refreshes, want %d (the last in a rotation of %d)", i, n, n)
			}
			return
		}
		if s.Drifted != 0 {
			t.Errorf("refresh %d: %d drifted, want 0", i, s.Drifted)
		}
	}
	t.Fatalf("an edit of guest %d that moved no signal was not found in 100 refreshes", vmid)
}

// faultFront serves the fake through a TLS front that can fail chosen
// requests, and counts them.
type faultFront struct {
	srv    *sim.Server
	ts     *httptest.Server
	mu     sync.Mutex
	path   string // fail GETs of this API path ...
	fails  int    // ... this many more times (-1: always)
	served map[string]int
}

func newFaultFront(t *testing.T, srv *sim.Server) *faultFront {
	f := &faultFront{srv: srv, served: map[string]int{}}
	f.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.served[r.Method+" "+r.URL.Path]++
		fail := r.Method == http.MethodGet && r.URL.Path == f.path && f.fails != 0
		if fail && f.fails > 0 {
			f.fails--
		}
		f.mu.Unlock()
		if fail {
			// pveproxy restarting: a 503 with no body.
			http.Error(w, "", http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	f.ts.StartTLS()
	t.Cleanup(f.ts.Close)
	return f
}

func (f *faultFront) fingerprint() string {
	sum := sha256.Sum256(f.ts.Certificate().Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func (f *faultFront) failGET(path string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.path, f.fails, f.served = path, times, map[string]int{}
}

func (f *faultFront) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[key]
}

// TestRefreshSimFailingConfigRead: (iv) a config GET that fails is retried
// and the refresh succeeds; one that keeps failing fails the refresh, which
// leaves the previous revision as it was.
func TestRefreshSimFailingConfigRead(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab(), RandSeed: 1})
	front := newFaultFront(t, srv)
	src := simSource{simClient(t, srv, front.ts.URL, front.fingerprint())}
	st := memStore(t)
	refreshOK(t, src, st, RefreshOptions{})

	const vmid = 101
	gs, _ := srv.Guest(vmid)
	path := fmt.Sprintf("/api2/json/nodes/%s/%s/%d/config", gs.Node, gs.Type, vmid)
	key := "GET " + path

	// Fails twice, then answers: the retries carry the refresh through.
	if err := srv.EditConfig(vmid, "cores", "6"); err != nil {
		t.Fatal(err)
	}
	front.failGET(path, 2)
	s := refreshOK(t, src, st, RefreshOptions{})
	if got := front.count(key); got != 3 {
		t.Errorf("config of %d requested %d times, want 3 (two failures, then the answer)", vmid, got)
	}
	if g, _, _ := st.Guest(vmid); g.Config["cores"] != "6" {
		t.Errorf("after the retried read, cores = %q, want 6 (stats %+v)", g.Config["cores"], s)
	}

	// Keeps failing: the refresh fails and writes nothing.
	_, prevRev, err := st.Latest()
	if err != nil {
		t.Fatal(err)
	}
	prevGuest, _, _ := st.Guest(vmid)
	if err := srv.EditConfig(vmid, "cores", "8"); err != nil {
		t.Fatal(err)
	}
	front.failGET(path, -1)
	_, _, _, err = Refresh(context.Background(), src, st, RefreshOptions{})
	if err == nil {
		t.Fatal("refresh succeeded although a config read kept failing")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("/%d/config", vmid)) || !strings.Contains(err.Error(), "503") {
		t.Errorf("error does not say which read failed and how: %v", err)
	}
	if got := front.count(key); got != 4 {
		t.Errorf("config of %d requested %d times, want 4 (the client's attempts)", vmid, got)
	}
	_, rev, err := st.Latest()
	if err != nil || rev.ID != prevRev.ID {
		t.Errorf("latest revision after the failed refresh = %v (%v), want %v", rev, err, prevRev)
	}
	if g, _, _ := st.Guest(vmid); g.Config["cores"] != prevGuest.Config["cores"] || g.Digest != prevGuest.Digest {
		t.Errorf("failed refresh changed guest %d: cores %q digest %q", vmid, g.Config["cores"], g.Digest)
	}

	// Once the read works again, the next refresh picks the edit up.
	front.failGET("", 0)
	refreshOK(t, src, st, RefreshOptions{})
	if g, _, _ := st.Guest(vmid); g.Config["cores"] != "8" {
		t.Errorf("after recovery, cores = %q, want 8", g.Config["cores"])
	}
}
