package snapshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmpc-dev/pmpc/resource"
)

// fakeSource is a cluster in memory that counts config reads.
type fakeSource struct {
	mu      sync.Mutex
	guests  map[int]*resource.Guest // with Config
	tasks   []Task
	reads   []int
	failInv error
	failTsk error
}

func newFakeSource(n int) *fakeSource {
	f := &fakeSource{guests: map[int]*resource.Guest{}}
	for i := range n {
		g := guest(resource.KindVM, 100+i, fmt.Sprint("vm-", i), map[string]string{"cores": "1"})
		g.Uptime = 1000
		f.guests[g.VMID] = &g
	}
	return f
}

func (f *fakeSource) Inventory(ctx context.Context, need func(*resource.Guest) bool, progress func(done, total int)) (*resource.Cluster, error) {
	if f.failInv != nil {
		return nil, f.failInv
	}
	c := cluster(t0)
	var work []int
	for _, vmid := range slices.Sorted(maps.Keys(f.guests)) {
		g := *f.guests[vmid]
		g.Config, g.Digest, g.Pending = nil, "", nil
		c.Guests = append(c.Guests, g)
		if need(&c.Guests[len(c.Guests)-1]) {
			work = append(work, len(c.Guests)-1)
		}
	}
	for n, i := range work {
		g := &c.Guests[i]
		src := f.guests[g.VMID]
		g.Config, g.Digest = maps.Clone(src.Config), src.Digest
		f.mu.Lock()
		f.reads = append(f.reads, g.VMID)
		f.mu.Unlock()
		if progress != nil {
			progress(n+1, len(work))
		}
	}
	return c, nil
}

func (f *fakeSource) Tasks(context.Context) ([]Task, error) { return f.tasks, f.failTsk }

func (f *fakeSource) takeReads() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reads
	f.reads = nil
	return r
}

func TestRefreshReadsOnlyWhatMoved(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		src := newFakeSource(5) // vmids 100..104
		refresh := func(opts RefreshOptions) RefreshStats {
			t.Helper()
			_, _, stats, err := Refresh(ctx, src, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			return stats
		}
		wantReads := func(step string, want ...int) {
			t.Helper()
			got := src.takeReads()
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: config reads (-want +got):\n%s", step, diff)
			}
		}

		st := refresh(RefreshOptions{})
		wantReads("first refresh", 100, 101, 102, 103, 104)
		if !st.Full || st.Read != 5 || st.Guests != 5 {
			t.Errorf("first refresh stats = %+v, want full, 5 read", st)
		}

		// Nothing changed: only the rotation verifies one config (1 % of 5
		// guests, rounded up), the lowest vmid among the least recently read.
		st = refresh(RefreshOptions{})
		wantReads("nothing changed", 100)
		if st.Full || st.Reused != 4 || st.Read != 1 || st.Verified != 1 || st.Drifted != 0 {
			t.Errorf("unchanged refresh stats = %+v, want 4 reused, 1 read to verify", st)
		}
		c, _, err := s.Latest()
		if err != nil || c.Guests[2].Config["cores"] != "1" || c.Guests[2].Digest == "" {
			t.Fatalf("carried-over config lost: %+v, %v", c.Guests[2], err)
		}

		src.guests[100].Status = "stopped"
		src.guests[101].Lock = "backup"
		src.guests[102].Uptime = 5 // restarted
		src.guests[103].Uptime = 2000
		src.guests[104].Tags = "web"
		// (The rotation's pick, 101, is read for its lock anyway.)
		st = refresh(RefreshOptions{})
		wantReads("status, lock, uptime back, tags", 100, 101, 102, 104)
		if st.Verified != 0 {
			t.Errorf("stats = %+v: a guest read for its signals counted as verified", st)
		}

		src.guests[105] = &resource.Guest{Kind: resource.KindContainer, VMID: 105, Node: "pve1", Status: "running", Config: map[string]string{"hostname": "ct"}}
		delete(src.guests, 100)
		src.guests[101].Node = "pve2"
		refresh(RefreshOptions{})
		wantReads("new guest, migrated guest (and 103, least recently read)", 101, 103, 105)
		c, _, _ = s.Latest()
		if _, _, err := s.Guest(100); !errors.Is(err, ErrNotFound) || len(c.Guests) != 5 {
			t.Errorf("deleted guest 100 still in the snapshot (%d guests, %v)", len(c.Guests), err)
		}

		// Tasks: one that ended since the last refresh, one still running,
		// and one that ended long ago.
		_, rev, _ := s.Latest()
		src.tasks = []Task{
			{ID: "102", EndTime: rev.Time.Unix() + 10},
			{ID: "103", EndTime: 0},
			{ID: "104", EndTime: rev.Time.Unix() - 3600},
			{ID: "", EndTime: rev.Time.Unix() + 20}, // not a guest task
		}
		_, rev, _, err = Refresh(ctx, src, s, RefreshOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantReads("tasks (the rotation picks 102, read anyway)", 102, 103)
		if rev.TaskMark != t0.Unix()+20 {
			t.Errorf("TaskMark = %d, want the newest task end %d", rev.TaskMark, t0.Unix()+20)
		}
		// The same tasks again: only the one ending at the mark and the
		// running one are read again.
		src.tasks = src.tasks[:2]
		src.tasks[0].EndTime = rev.TaskMark - 1
		refresh(RefreshOptions{})
		wantReads("tasks before the mark (and 104, least recently read)", 103, 104)

		// A config edit with no signal is not seen until its guest's turn
		// in the rotation comes (101 is next), or by a full refresh.
		src.tasks = nil
		src.guests[104].Config = map[string]string{"cores": "8"}
		src.guests[104].Digest = "edited"
		refresh(RefreshOptions{})
		wantReads("silent edit", 101)
		if g, _, _ := s.Guest(104); g.Config["cores"] != "1" {
			t.Errorf("incremental refresh saw a silent edit?")
		}
		st = refresh(RefreshOptions{Full: true})
		wantReads("full", 101, 102, 103, 104, 105)
		if g, _, _ := s.Guest(104); g.Config["cores"] != "8" || !st.Full {
			t.Errorf("full refresh: guest 104 cores = %q, stats %+v", g.Config["cores"], st)
		}
	})
}

func TestRefreshFailureWritesNothing(t *testing.T) {
	forEachBackend(t, Options{}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		src := newFakeSource(3)
		if _, _, _, err := Refresh(ctx, src, s, RefreshOptions{}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("500 Internal Server Error")
		src.failInv = boom
		if _, _, _, err := Refresh(ctx, src, s, RefreshOptions{}); !errors.Is(err, boom) {
			t.Errorf("failing inventory: err = %v", err)
		}
		src.failInv, src.failTsk = nil, boom
		if _, _, _, err := Refresh(ctx, src, s, RefreshOptions{}); !errors.Is(err, boom) {
			t.Errorf("failing task list: err = %v", err)
		}
		if revs, _ := s.Revisions(); len(revs) != 1 {
			t.Errorf("failed refreshes left %d revisions, want 1", len(revs))
		}
	})
}

// TestRefreshProgress: a long refresh prints one progress line per
// interval and the final count; a short one prints nothing.
func TestRefreshProgress(t *testing.T) {
	s, err := OpenInMemory(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Each config read takes 100 ms on this clock: 250 reads take 25 s.
	clock := time.Unix(0, 0)
	tick := func() time.Time { clock = clock.Add(100 * time.Millisecond); return clock }
	var out strings.Builder
	opts := RefreshOptions{Progress: &out, ProgressEvery: 5 * time.Second, Now: tick}
	if _, _, _, err := Refresh(context.Background(), newFakeSource(250), s, opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 4 || len(lines) > 6 || lines[len(lines)-1] != "refresh: read 250/250 guest configs" {
		t.Errorf("progress of a 25 s refresh, a line each 5 s and the total:\n%s", out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "refresh: read ") {
			t.Errorf("progress line %q", l)
		}
	}

	// The same refresh on a fast clock is silent.
	out.Reset()
	opts.Now = func() time.Time { return clock }
	if _, _, _, err := Refresh(context.Background(), newFakeSource(250), s, RefreshOptions{Progress: &out, Full: true, Now: opts.Now}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("progress of an instant refresh:\n%s", out.String())
	}
}

func TestRefreshSizeSignals(t *testing.T) {
	s, err := OpenInMemory(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	src := newFakeSource(300) // 3 verified per refresh: 100, 101, 102 next
	for _, g := range src.guests {
		g.MaxCPU, g.MaxMem, g.MaxDisk = 2, 4<<30, 32<<30
	}
	for range 2 {
		if _, _, _, err := Refresh(ctx, src, s, RefreshOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	src.takeReads()
	src.guests[300].MaxCPU = 4
	src.guests[301].MaxMem = 8 << 30
	src.guests[302].MaxDisk = 64 << 30
	_, _, st, err := Refresh(ctx, src, s, RefreshOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := src.takeReads()
	slices.Sort(got)
	if diff := cmp.Diff([]int{103, 104, 105, 300, 301, 302}, got); diff != "" {
		t.Errorf("config reads (-want +got):\n%s", diff)
	}
	if st.Verified != 3 {
		t.Errorf("stats = %+v, want 3 verified (103..105)", st)
	}
	if g, _, _ := s.Guest(301); g.MaxMem != 8<<30 {
		t.Errorf("stored maxmem = %d, want %d", g.MaxMem, 8<<30)
	}
}

// TestRefreshRotation: every config is verified within 100 refreshes, least
// recently verified first, as the store records (Store.Verified).
func TestRefreshRotation(t *testing.T) {
	forEachBackend(t, Options{Retain: 5}, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 150 // 2 verified per refresh
		src := newFakeSource(n)
		if _, _, _, err := Refresh(ctx, src, s, RefreshOptions{}); err != nil {
			t.Fatal(err)
		}
		src.takeReads()
		// A silent edit of the guest verified last.
		src.guests[100+n-1].Config = map[string]string{"cores": "8"}
		src.guests[100+n-1].Digest = "edited"
		readAt := map[int]int{}
		for i := 1; i <= 100; i++ {
			_, _, st, err := Refresh(ctx, src, s, RefreshOptions{})
			if err != nil {
				t.Fatal(err)
			}
			reads := src.takeReads()
			if len(reads) != 2 || st.Verified != 2 {
				t.Fatalf("refresh %d read %v (stats %+v), want 2 verified", i, reads, st)
			}
			for _, vmid := range reads {
				if _, dup := readAt[vmid]; dup && len(readAt) < n {
					t.Errorf("refresh %d verified %d again before every guest had its turn", i, vmid)
				}
				readAt[vmid] = i
			}
			if wantDrift := slices.Contains(reads, 100+n-1); (st.Drifted == 1) != wantDrift {
				t.Errorf("refresh %d: drifted %d, reads %v", i, st.Drifted, reads)
			}
		}
		if len(readAt) != n {
			t.Errorf("%d of %d guests verified in 100 refreshes", len(readAt), n)
		}
		if g, _, _ := s.Guest(100 + n - 1); g.Config["cores"] != "8" {
			t.Errorf("silent edit not found in 100 refreshes")
		}
		v, rev, err := s.Verified()
		if err != nil {
			t.Fatal(err)
		}
		// The last refresh verified two guests: they carry its revision.
		var latest []int
		for vmid, r := range v {
			if r == rev.ID {
				latest = append(latest, vmid)
			}
		}
		if len(v) != n || len(latest) != 2 {
			t.Errorf("Verified: %d guests, %v at %v; want %d, two at the latest", len(v), latest, rev, n)
		}
	})
}
