package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/pmpc-dev/pmpc/resource"
)

// backends are the store constructors every conformance test runs against.
var backends = []struct {
	name string
	open func(t testing.TB, opts Options) *Store
}{
	{"memory", func(t testing.TB, opts Options) *Store {
		t.Helper()
		s, err := OpenInMemory(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"disk", func(t testing.TB, opts Options) *Store {
		t.Helper()
		s, err := Open(t.TempDir()+"/snapshot", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// forEachBackend runs test against every backend.
func forEachBackend(t *testing.T, opts Options, test func(t *testing.T, s *Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t, opts)) })
	}
}

func guest(kind resource.Kind, vmid int, name string, cfg map[string]string) resource.Guest {
	c := map[string]string{"name": name}
	for k, v := range cfg {
		c[k] = v
	}
	return resource.Guest{
		Kind: kind, VMID: vmid, Node: "pve1", Name: name, Status: "running",
		Uptime: 100, Digest: fmt.Sprintf("%040d", vmid), Config: c,
	}
}

func cluster(t time.Time, guests ...resource.Guest) *resource.Cluster {
	return &resource.Cluster{
		Endpoint: "https://pve1:8006", Version: "8.3.2", Time: t.UTC(),
		Nodes:   []resource.Node{{Name: "pve1", Status: "online"}},
		Storage: []resource.Storage{{ID: "local-lvm", Node: "pve1", Type: "lvmthin", Content: "images,rootdir"}},
		Pools:   []resource.ObservedPool{{ID: "prod", Comment: "production", Members: []int{100}}},
		Guests:  guests,
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestEmptyStore(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		if _, _, err := s.Latest(); !errors.Is(err, ErrNoRevision) {
			t.Errorf("Latest on empty store: err = %v, want ErrNoRevision", err)
		}
		if _, _, err := s.Guest(100); !errors.Is(err, ErrNoRevision) {
			t.Errorf("Guest on empty store: err = %v, want ErrNoRevision", err)
		}
		if _, _, err := s.At(1); !errors.Is(err, ErrNotFound) {
			t.Errorf("At(1) on empty store: err = %v, want ErrNotFound", err)
		}
		revs, err := s.Revisions()
		if err != nil || len(revs) != 0 {
			t.Errorf("Revisions = %v, %v; want none", revs, err)
		}
		h, err := s.History(100)
		if err != nil || len(h) != 0 {
			t.Errorf("History = %v, %v; want none", h, err)
		}
	})
}

func TestPutLatestRoundTrip(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ct := guest(resource.KindContainer, 101, "ct-01", map[string]string{"hostname": "ct-01", "lxc": "lxc.apparmor.profile: unconfined\nlxc.cap.drop: "})
		ct.Lock, ct.Pool, ct.Tags, ct.Template = "backup", "prod", "prod;web", true
		vm := guest(resource.KindVM, 100, "web-01", map[string]string{"cores": "2", "net0": "virtio=BC:24:11:2E:4A:01,bridge=vmbr0,firewall=1"})
		vm.Pending = map[string]string{"cores": "1"}
		in := cluster(t0, ct, vm) // not in vmid order
		rev, err := s.Put(ctx, in, WithTaskMark(1700000000))
		if err != nil {
			t.Fatal(err)
		}
		want := Revision{ID: 1, Time: t0, Endpoint: in.Endpoint, Version: in.Version, Guests: 2, TaskMark: 1700000000}
		if diff := cmp.Diff(want, rev); diff != "" {
			t.Errorf("Put revision (-want +got):\n%s", diff)
		}
		got, grev, err := s.Latest()
		if err != nil {
			t.Fatal(err)
		}
		if grev != rev {
			t.Errorf("Latest revision = %+v, want %+v", grev, rev)
		}
		wantC := cluster(t0, vm, ct) // guests come back ordered by vmid
		if diff := cmp.Diff(wantC, got); diff != "" {
			t.Errorf("Latest (-want +got):\n%s", diff)
		}
	})
}

func TestRevisionsAndLookups(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a1 := guest(resource.KindVM, 100, "web", map[string]string{"cores": "1"})
		b := guest(resource.KindVM, 101, "web", nil) // duplicate name
		c := guest(resource.KindContainer, 102, "web", nil)
		if _, err := s.Put(ctx, cluster(t0, a1, b, c)); err != nil {
			t.Fatal(err)
		}
		a2 := a1
		a2.Config = map[string]string{"name": "web", "cores": "4"}
		a2.Status = "stopped"
		r2, err := s.Put(ctx, cluster(t0.Add(time.Minute), a2, c)) // b deleted
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, cluster(t0.Add(2*time.Minute), b, c)); err != nil { // a deleted, b back
			t.Fatal(err)
		}

		revs, err := s.Revisions()
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, r := range revs {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff([]uint64{1, 2, 3}, ids); diff != "" {
			t.Errorf("revision ids (-want +got):\n%s", diff)
		}

		old, rev, err := s.At(2)
		if err != nil {
			t.Fatal(err)
		}
		if rev != r2 || len(old.Guests) != 2 || old.Guests[0].Config["cores"] != "4" {
			t.Errorf("At(2) = %v %+v, want r2 with web at 4 cores", rev, old.Guests)
		}
		if _, _, err := s.At(4); !errors.Is(err, ErrNotFound) {
			t.Errorf("At(4): err = %v, want ErrNotFound", err)
		}

		if _, _, err := s.Guest(100); !errors.Is(err, ErrNotFound) {
			t.Errorf("Guest(100) after its deletion: err = %v, want ErrNotFound", err)
		}
		g, rev, err := s.Guest(101)
		if err != nil || rev.ID != 3 || g.VMID != 101 || g.Config["name"] != "web" {
			t.Errorf("Guest(101) = %+v, %v, %v", g, rev, err)
		}
		byName, _, err := s.GuestByName(resource.KindVM, "web")
		if err != nil || len(byName) != 1 || byName[0].VMID != 101 {
			t.Errorf("GuestByName(vm, web) = %+v, %v; want only 101 (102 is a container)", byName, err)
		}
		byName, _, err = s.GuestByName(resource.KindContainer, "nope")
		if err != nil || len(byName) != 0 {
			t.Errorf("GuestByName(container, nope) = %+v, %v; want none", byName, err)
		}

		hist, err := s.History(100)
		if err != nil {
			t.Fatal(err)
		}
		var cores []string
		for _, h := range hist {
			cores = append(cores, fmt.Sprintf("r%d:%s:%s", h.Revision.ID, h.Guest.Status, h.Guest.Config["cores"]))
		}
		if diff := cmp.Diff([]string{"r1:running:1", "r2:stopped:4"}, cores); diff != "" {
			t.Errorf("History(100) (-want +got):\n%s", diff)
		}
		hist, _ = s.History(101)
		if len(hist) != 2 || hist[0].Revision.ID != 1 || hist[1].Revision.ID != 3 {
			t.Errorf("History(101) = %+v, want r1 and r3", hist)
		}
	})
}

func TestPutRejectsBadClusters(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		pool := guest(resource.KindPool, 100, "p", nil)
		for name, c := range map[string]*resource.Cluster{
			"duplicate vmid": cluster(t0, guest(resource.KindVM, 100, "a", nil), guest(resource.KindContainer, 100, "b", nil)),
			"no vmid":        cluster(t0, guest(resource.KindVM, 0, "a", nil)),
			"pool kind":      cluster(t0, pool),
			"nil":            nil,
		} {
			if _, err := s.Put(ctx, c); err == nil {
				t.Errorf("%s: Put succeeded", name)
			}
		}
		if revs, _ := s.Revisions(); len(revs) != 0 {
			t.Errorf("rejected Puts left revisions %v", revs)
		}
	})
}

func TestRetention(t *testing.T) {
	forEachBackend(t, Options{Retain: 3}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		stable := guest(resource.KindVM, 100, "stable", map[string]string{"cores": "2"})
		for i := range 6 {
			changing := guest(resource.KindVM, 101, "changing", map[string]string{"cores": fmt.Sprint(i + 1)})
			if _, err := s.Put(ctx, cluster(t0.Add(time.Duration(i)*time.Minute), stable, changing)); err != nil {
				t.Fatal(err)
			}
		}
		revs, err := s.Revisions()
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) != 3 || revs[0].ID != 4 || revs[2].ID != 6 {
			t.Fatalf("Revisions = %+v, want r4..r6", revs)
		}
		if _, _, err := s.At(3); !errors.Is(err, ErrNotFound) {
			t.Errorf("At(3) after pruning: err = %v, want ErrNotFound", err)
		}
		for _, r := range revs {
			if _, _, err := s.At(r.ID); err != nil {
				t.Errorf("At(%d): %v", r.ID, err)
			}
		}
		// Pruned revisions leave nothing behind: 3 revisions x 2 guests, and
		// the shared config of "stable" plus one config of "changing" per
		// kept revision.
		if n := countKeys(t, s, prefixGuest); n != 6 {
			t.Errorf("%d guest entries, want 6", n)
		}
		if n := countKeys(t, s, prefixBlob); n != 4 {
			t.Errorf("%d config blobs, want 4", n)
		}
		if n := countKeys(t, s, prefixRef); n != 4 {
			t.Errorf("%d blob references, want 4", n)
		}
	})
}

func TestUnchangedConfigsAreStoredOnce(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var gs []resource.Guest
		for i := range 20 {
			gs = append(gs, guest(resource.KindVM, 100+i, fmt.Sprint("vm-", i), nil))
		}
		for i := range 5 {
			gs[0].Uptime = int64(i) // volatile fields do not copy the config
			if _, err := s.Put(ctx, cluster(t0, gs...)); err != nil {
				t.Fatal(err)
			}
		}
		if n := countKeys(t, s, prefixBlob); n != 20 {
			t.Errorf("%d config blobs after 5 identical refreshes of 20 guests, want 20", n)
		}
		h, _ := s.History(100)
		if len(h) != 5 || h[4].Guest.Uptime != 4 {
			t.Errorf("History(100) = %d revisions, last uptime %d; want 5 and 4", len(h), h[len(h)-1].Guest.Uptime)
		}
	})
}

// errAfter is a context whose Err starts failing after n calls, to stop a
// Put in the middle of writing.
type errAfter struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *errAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n <= 0 {
		return context.Canceled
	}
	c.n--
	return nil
}

func TestInterruptedPutLeavesNoRevision(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		first := cluster(t0, guest(resource.KindVM, 100, "a", nil))
		if _, err := s.Put(context.Background(), first); err != nil {
			t.Fatal(err)
		}
		var big []resource.Guest
		for i := range 5000 {
			big = append(big, guest(resource.KindVM, 100+i, fmt.Sprint("vm-", i), map[string]string{"description": strings.Repeat("x", 300)}))
		}
		// Fail after 3 checks: thousands of guests are already in the batch.
		_, err := s.Put(&errAfter{Context: context.Background(), n: 3}, cluster(t0.Add(time.Minute), big...))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted Put: err = %v, want context.Canceled", err)
		}
		got, rev, err := s.Latest()
		if err != nil || rev.ID != 1 || len(got.Guests) != 1 {
			t.Fatalf("after interrupted Put, Latest = %v guests, %v, %v; want r1 with 1 guest", len(got.Guests), rev, err)
		}
		if n := countKeys(t, s, prefixGuest); n <= 1 {
			t.Fatalf("interrupted Put wrote no guest entries (%d); the test no longer exercises the cleanup", n)
		}
		// The next Put clears what the interrupted one wrote.
		second := cluster(t0.Add(2*time.Minute), guest(resource.KindVM, 200, "b", nil))
		rev, err = s.Put(context.Background(), second)
		if err != nil || rev.ID != 2 {
			t.Fatalf("Put after interruption = %v, %v; want r2", rev, err)
		}
		got, _, err = s.Latest()
		if err != nil || len(got.Guests) != 1 || got.Guests[0].VMID != 200 {
			t.Fatalf("Latest after interruption = %+v, %v", got, err)
		}
		if n := countKeys(t, s, prefixGuest); n != 2 {
			t.Errorf("%d guest entries, want 2 (no leftovers of the interrupted Put)", n)
		}
	})
}

func TestSecrets(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		addr := resource.Address{Kind: resource.KindVM, Name: "web-01"}
		secret := []byte("hunter2-very-secret")
		known, same, err := s.SecretMatches(addr, "cipassword", secret)
		if err != nil || known || same {
			t.Fatalf("unknown secret: known=%v same=%v err=%v", known, same, err)
		}
		if err := s.SetSecret(addr, "cipassword", secret); err != nil {
			t.Fatal(err)
		}
		if known, same, _ := s.SecretMatches(addr, "cipassword", secret); !known || !same {
			t.Errorf("same secret: known=%v same=%v, want true true", known, same)
		}
		if known, same, _ := s.SecretMatches(addr, "cipassword", []byte("other")); !known || same {
			t.Errorf("changed secret: known=%v same=%v, want true false", known, same)
		}
		other := resource.Address{Kind: resource.KindContainer, Name: "web-01"}
		if known, _, _ := s.SecretMatches(other, "cipassword", secret); known {
			t.Error("secret of vm.web-01 is known for container.web-01")
		}
		// The secret itself is nowhere in the store.
		err = s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.DefaultIteratorOptions)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				v, _ := it.Item().ValueCopy(nil)
				if strings.Contains(string(v), "hunter2") || strings.Contains(string(it.Item().Key()), "hunter2") {
					t.Errorf("key %q holds the secret", it.Item().Key())
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ForgetSecret(addr, "cipassword"); err != nil {
			t.Fatal(err)
		}
		if known, _, _ := s.SecretMatches(addr, "cipassword", secret); known {
			t.Error("forgotten secret is still known")
		}
	})
}

func TestReadsDuringPut(t *testing.T) {
	forEachBackend(t, Options{Retain: 2}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		mk := func(i int) *resource.Cluster {
			var gs []resource.Guest
			for v := range 200 {
				gs = append(gs, guest(resource.KindVM, 100+v, "g", map[string]string{"cores": fmt.Sprint(i)}))
			}
			return cluster(t0.Add(time.Duration(i)*time.Second), gs...)
		}
		if _, err := s.Put(ctx, mk(0)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, rev, err := s.Latest()
				if err != nil {
					t.Errorf("Latest during Put: %v", err)
					return
				}
				// Every guest of a revision comes from the same refresh.
				want := c.Guests[0].Config["cores"]
				for _, g := range c.Guests {
					if g.Config["cores"] != want || len(c.Guests) != 200 {
						t.Errorf("%v mixes refreshes: guest %d has cores %s, guest 100 %s", rev, g.VMID, g.Config["cores"], want)
						return
					}
				}
			}
		}()
		for i := 1; i <= 10; i++ {
			if _, err := s.Put(ctx, mk(i)); err != nil {
				t.Error(err)
			}
		}
		close(stop)
		wg.Wait()
	})
}

func countKeys(t *testing.T, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
