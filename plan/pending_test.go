package plan

import (
	"bytes"
	"slices"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// heldCase: web-01 matches its definition but runs older cores and memory;
// web-02 gets a live onboot change and holds a pending cores value, plus a
// pending memory value that its definition now changes again.
func heldCase(allow bool, web02State string) testCase {
	g1 := guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"memory": "8192", "cores": "4"}))
	g1.Pending = map[string]string{"memory": "4096", "cores": "2"}
	g2 := guest(resource.KindVM, 101, "web-02", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"memory": "8192", "cores": "4"}))
	g2.Pending = map[string]string{"memory": "4096", "cores": "2"}
	return testCase{
		desired: set(func(s *resource.Set) {
			vm := webVM()
			vm.Cores, vm.Memory = ptr(4), ptr(8192)
			s.VMs["web-01"] = vm
			vm2 := webVM()
			vm2.Cores, vm2.Memory, vm2.OnBoot, vm2.State = ptr(4), ptr(16384), ptr(true), web02State
			s.VMs["web-02"] = vm2
		}),
		observed: cluster(g1, g2),
		opts:     Options{AllowRestart: allow},
	}
}

// Without --allow-restart, held values are listed (not changes); a key the
// plan writes again is the change's, not listed as held.
func TestPendingListedWithoutAllowRestart(t *testing.T) {
	p := makePlan(t, heldCase(false, "running"))
	if len(p.Pending) != 2 {
		t.Fatalf("pending = %+v, want web-01 and web-02", p.Pending)
	}
	if got := p.Pending[0]; got.Address.String() != "vm.web-01" || len(got.Keys) != 2 ||
		got.Keys[0] != (PendingKey{Key: "cores", Running: "2", Pending: "4"}) ||
		got.Keys[1] != (PendingKey{Key: "memory", Running: "4096", Pending: "8192"}) {
		t.Errorf("web-01 pending = %+v", got)
	}
	if got := p.Pending[1]; got.Address.String() != "vm.web-02" || len(got.Keys) != 1 || got.Keys[0].Key != "cores" {
		t.Errorf("web-02 pending = %+v, want only cores (memory is written again by this plan)", got)
	}
	if len(p.Changes) != 1 || p.Changes[0].Address.String() != "vm.web-02" {
		t.Fatalf("changes = %+v, want only web-02's update", p.Changes)
	}
	for _, op := range p.Changes[0].Ops {
		if op.Kind == OpPower {
			t.Errorf("web-02 restarted without --allow-restart: %+v", op)
		}
	}
	if !p.HasChanges() {
		t.Error("HasChanges = false with web-02's update")
	}
	// Pending alone is not a change.
	tc := heldCase(false, "running")
	delete(tc.desired.VMs, "web-02")
	tc.observed.Guests = tc.observed.Guests[:1]
	if p := makePlan(t, tc); p.HasChanges() || len(p.Pending) != 1 {
		t.Errorf("pending-only plan: HasChanges %v, pending %+v; want no changes and web-01 listed", p.HasChanges(), p.Pending)
	}
}

// With --allow-restart, each guest holding pending values is restarted, and
// none is listed as pending.
func TestPendingRestartedWithAllowRestart(t *testing.T) {
	p := makePlan(t, heldCase(true, "running"))
	if len(p.Pending) != 0 {
		t.Errorf("pending = %+v, want none with --allow-restart", p.Pending)
	}
	for _, addr := range []string{"vm.web-01", "vm.web-02"} {
		c := changeOf(t, p, addr)
		if c.Action != ActionUpdate || c.Disruption != DisruptionRestart {
			t.Errorf("%s: action %s, disruption %s; want update with restart", addr, c.Action, c.Disruption)
		}
		if last := c.Ops[len(c.Ops)-1]; last.Kind != OpPower || last.Power != "reboot" {
			t.Errorf("%s: last op %+v, want a reboot", addr, last)
		}
		if f := fieldOf(t, c, "cores", ""); f.Before != "2" || f.After != "4" || f.Disruption != DisruptionRestart {
			t.Errorf("%s: cores field %+v", addr, f)
		}
	}
	c := changeOf(t, p, "vm.web-01")
	if slices.ContainsFunc(c.Ops, func(o Op) bool { return o.Kind == OpConfig }) {
		t.Errorf("web-01 config already matches, but the plan writes it: %+v", c.Ops)
	}
}

// A guest the definition stops takes its pending values at its next start:
// nothing to list, no restart.
func TestPendingIgnoredWhenStopping(t *testing.T) {
	for _, allow := range []bool{false, true} {
		p := makePlan(t, heldCase(allow, "stopped"))
		for _, g := range p.Pending {
			if g.Address.String() == "vm.web-02" {
				t.Errorf("allow-restart %v: web-02 is shut down but listed as pending: %+v", allow, g)
			}
		}
		c := changeOf(t, p, "vm.web-02")
		if slices.ContainsFunc(c.Ops, func(o Op) bool { return o.Kind == OpPower && o.Power == "reboot" }) {
			t.Errorf("allow-restart %v: web-02 is shut down and also rebooted: %+v", allow, c.Ops)
		}
	}
}

// A saved plan keeps its pending list.
func TestPendingRoundTrip(t *testing.T) {
	p := makePlan(t, heldCase(false, "running"))
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	q, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Pending) != 2 || q.Pending[0].Address != p.Pending[0].Address || !slices.Equal(q.Pending[1].Keys, p.Pending[1].Keys) {
		t.Errorf("read back pending %+v, wrote %+v", q.Pending, p.Pending)
	}
}
