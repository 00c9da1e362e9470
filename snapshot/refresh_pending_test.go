package snapshot

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// pendingReads counts the GET .../pending requests the fake served since
// its counters were last reset.
func pendingReads(srv *sim.Server) int64 {
	var n int64
	for k, v := range srv.Stats().Requests {
		if strings.HasPrefix(k, "GET ") && strings.HasSuffix(k, "/pending") {
			n += v
		}
	}
	return n
}

func waitTask(t *testing.T, c *proxmox.Client, u proxmox.UPID) {
	t.Helper()
	st, err := c.WaitTask(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if !st.OK() {
		t.Fatalf("task %s: %+v", u, st)
	}
}

func storedGuest(t *testing.T, st *Store, vmid int) *resource.Guest {
	t.Helper()
	g, _, err := st.Guest(vmid)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRefreshPendingValues: a refresh records the values PVE keeps pending
// until a running guest restarts, reading them only for running guests that
// ran a task (or an apply changed) since the last refresh and whose digest
// changed, or on --full; unchanged guests keep theirs for free, and a
// restart clears them.
func TestRefreshPendingValues(t *testing.T) {
	const n = 20
	srv := sim.Test(t, sim.Options{Seed: sim.Large(n), RandSeed: 1})
	c := simClient(t, srv, srv.URL(), srv.Fingerprint())
	src := simSource{c}
	st := memStore(t)
	ctx := context.Background()

	running := 0
	for _, vmid := range srv.VMIDs() {
		if gs, _ := srv.Guest(vmid); gs.Running {
			running++
		}
	}
	// The first refresh costs one config read per guest and reads no
	// pending values: nothing pmpc knows of has left any yet.
	refreshOK(t, src, st, RefreshOptions{})
	if got := pendingReads(srv); got != 0 {
		t.Errorf("first refresh read pending values %d times, want none", got)
	}

	// vmid 1000 is a running VM without memory hot-plug: a memory change
	// stays pending. vmid 1003 is a stopped VM: its change applies at once.
	const vm, stopped = 1000, 1003
	if gs, _ := srv.Guest(vm); !gs.Running {
		t.Fatalf("vmid %d should be running in sim.Large", vm)
	}
	if gs, _ := srv.Guest(stopped); gs.Running {
		t.Fatalf("vmid %d should be stopped in sim.Large", stopped)
	}
	for vmid, val := range map[int]string{vm: "8192", stopped: "4096"} {
		gs, _ := srv.Guest(vmid)
		u, err := c.UpdateConfig(ctx, resource.KindVM, gs.Node, vmid, map[string]string{"memory": val}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		waitTask(t, c, *u)
	}
	srv.ResetStats()
	refreshOK(t, src, st, RefreshOptions{})
	g := storedGuest(t, st, vm)
	if want := map[string]string{"memory": "1024"}; !maps.Equal(g.Pending, want) || g.Config["memory"] != "8192" {
		t.Errorf("after a pending memory change: config memory %q, pending %v; want config 8192 and pending %v",
			g.Config["memory"], g.Pending, want)
	}
	if p := storedGuest(t, st, stopped).Pending; p != nil {
		t.Errorf("stopped guest has pending values %v, want none", p)
	}
	// The stopped guest is read but not asked for pending values; any
	// guest verified in rotation kept its digest, so its values are kept.
	if got := pendingReads(srv); got != 1 {
		t.Errorf("refresh after the change read pending values %d times, want 1 (the changed running guest)", got)
	}

	// Unchanged refreshes keep the pending values without reading them,
	// also when the guest's turn to be verified comes (same digest).
	srv.ResetStats()
	for i := 0; i < n; i++ {
		refreshOK(t, src, st, RefreshOptions{})
	}
	if got := pendingReads(srv); got != 0 {
		t.Errorf("%d unchanged refreshes read pending values %d times, want 0", n, got)
	}
	if p := storedGuest(t, st, vm).Pending; p["memory"] != "1024" {
		t.Errorf("after unchanged refreshes pending = %v, want memory still pending (running 1024)", p)
	}

	// A full refresh reads them all again.
	srv.ResetStats()
	refreshOK(t, src, st, RefreshOptions{Full: true})
	if got := pendingReads(srv); got != int64(running) {
		t.Errorf("full refresh read pending values %d times, want %d", got, running)
	}
	if p := storedGuest(t, st, vm).Pending; p["memory"] != "1024" {
		t.Errorf("after a full refresh pending = %v, want memory pending", p)
	}

	// A restart applies the pending change.
	gs, _ := srv.Guest(vm)
	u, err := c.Power(ctx, resource.KindVM, gs.Node, vm, "reboot", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, c, u)
	refreshOK(t, src, st, RefreshOptions{})
	if g := storedGuest(t, st, vm); g.Pending != nil || g.Config["memory"] != "8192" {
		t.Errorf("after a reboot: memory %q, pending %v; want 8192 and none pending", g.Config["memory"], g.Pending)
	}
}
