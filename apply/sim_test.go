package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// fakePVE starts the fake PVE and returns a real client for it.
func fakePVE(t testing.TB, opts sim.Options) (*sim.Server, *proxmox.Client) {
	t.Helper()
	s := sim.Test(t, opts)
	c, err := proxmox.New(proxmox.Config{Endpoint: s.URL(), Token: s.Token(), Fingerprint: s.Fingerprint(), Workers: 8,
		TaskPoll: proxmox.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Retry:    proxmox.Backoff{Attempts: 4, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}, AmbiguitySettle: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func observe(t testing.TB, c *proxmox.Client) *resource.Cluster {
	t.Helper()
	cl, err := c.Inventory(context.Background(), proxmox.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func makePlan(t testing.TB, desired *resource.Set, c *proxmox.Client) *plan.Plan {
	t.Helper()
	p, err := plan.Make(desired, observe(t, c), plan.Options{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 {
		t.Fatalf("plan errors: %v", p.Errors)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func newVM(node string, cores int, state string) *resource.VM {
	return &resource.VM{Node: node, Cores: ptr(cores), Memory: ptr(1024), State: state,
		Disks:    map[string]resource.Disk{"scsi0": {Storage: "local-lvm", Size: "4G"}},
		Networks: map[string]resource.NIC{"net0": {Model: "virtio", Bridge: "vmbr0"}}}
}

func fastOpts(c *proxmox.Client) apply.Options {
	return apply.Options{Client: pveclient.New(c), Parallelism: 4,
		Retry: apply.Backoff{Attempts: 6, Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}}
}

// guestsByName lists live guests by name, failing on duplicates.
func guestsByName(t *testing.T, cl *resource.Cluster) map[string]resource.Guest {
	t.Helper()
	out := map[string]resource.Guest{}
	for _, g := range cl.Guests {
		if prev, dup := out[g.Name]; dup {
			t.Errorf("two guests named %q: vmids %d and %d", g.Name, prev.VMID, g.VMID)
		}
		out[g.Name] = g
	}
	return out
}

func TestApplyEndToEndAgainstFake(t *testing.T) {
	seed := sim.Empty()
	seed.Nodes = append(seed.Nodes, sim.SeedNode{Node: "pve2", MaxCPU: 8, MaxMem: 32 << 30, MaxDisk: 100 << 30})
	for i := range seed.Storage {
		seed.Storage[i].Shared = 1 // so that migration needs no local-disk copy
	}
	_, c := fakePVE(t, sim.Options{Seed: seed, TaskDuration: 20 * time.Millisecond})
	ctx := context.Background()

	// 1: create a template, a VM that runs, and a pool.
	desired := resource.NewSet()
	desired.Pools["team"] = &resource.Pool{Comment: ptr("the team")}
	desired.VMs["tmpl"] = newVM("pve1", 1, "")
	desired.VMs["tmpl"].Template = ptr(true)
	desired.VMs["web"] = newVM("pve1", 2, "running")
	desired.VMs["web"].Pool = "team"
	desired.VMs["db"] = newVM("pve1", 2, "stopped")
	var progress bytes.Buffer
	opts := fastOpts(c)
	opts.Progress = &progress
	rec, err := apply.Run(ctx, makePlan(t, desired, c), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.OK() {
		t.Fatalf("first apply: %s\n%s", rec.Line(), progress.String())
	}
	live := guestsByName(t, observe(t, c))
	if live["web"].Status != "running" || live["db"].Status != "stopped" || !live["tmpl"].Template {
		t.Errorf("after create: web %s, db %s, tmpl template=%v", live["web"].Status, live["db"].Status, live["tmpl"].Template)
	}
	for _, cr := range rec.Changes {
		if cr.Address == "vm.web" && (cr.VMID != live["web"].VMID || len(cr.UPIDs) == 0) {
			t.Errorf("record of vm.web: vmid %d (live %d), upids %v", cr.VMID, live["web"].VMID, cr.UPIDs)
		}
	}
	if again := makePlan(t, desired, c); len(again.Changes) != 0 {
		t.Errorf("plan after apply is not empty: %d changes, first %s %s %+v", len(again.Changes), again.Changes[0].Address, again.Changes[0].Action, again.Changes[0].Fields)
	}

	// 2: update, stop, clone from the template, migrate, delete.
	desired.VMs["web"].Cores = ptr(4)
	desired.VMs["web"].State = "stopped"
	desired.VMs["db"].Node = "pve2"
	desired.VMs["clone"] = &resource.VM{Node: "pve1", Clone: &resource.Clone{From: "tmpl"}, Cores: ptr(3)}
	desired.VMs["gone"] = newVM("pve1", 1, "running")
	p := makePlan(t, desired, c)
	rec, err = apply.Run(ctx, p, fastOpts(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second apply: %s", rec.Line())
	live = guestsByName(t, observe(t, c))
	if live["web"].Status != "stopped" || live["web"].Config["cores"] != "4" {
		t.Errorf("web: status %s cores %s", live["web"].Status, live["web"].Config["cores"])
	}
	if live["db"].Node != "pve2" {
		t.Errorf("db on %s, want pve2", live["db"].Node)
	}
	if g, ok := live["clone"]; !ok || g.Config["cores"] != "3" {
		t.Errorf("clone: %+v", g)
	}
	if again := makePlan(t, desired, c); len(again.Changes) != 0 {
		var s []string
		for _, ch := range again.Changes {
			s = append(s, ch.Address.String()+" "+string(ch.Action))
		}
		t.Errorf("plan after second apply is not empty: %v\nrecord: %s", s, rec.Line())
	}
}

func TestOutOfBandEditIsRefusedOthersApplied(t *testing.T) {
	_, c := fakePVE(t, sim.Options{Seed: sim.Homelab(), TaskDuration: 5 * time.Millisecond})
	ctx := context.Background()
	obs := observe(t, c)
	byName := map[string]resource.Guest{}
	for _, g := range obs.Guests {
		byName[g.Name] = g
	}
	web1, web2 := byName["web-01"], byName["web-02"]
	upd := func(g resource.Guest) plan.Change {
		return plan.Change{Address: resource.Address{Kind: resource.KindVM, Name: g.Name}, Action: plan.ActionUpdate,
			Node: g.Node, VMID: g.VMID, Digest: g.Digest,
			Ops: []plan.Op{{Kind: plan.OpConfig, Params: map[string]string{"description": "managed"}, Digest: g.Digest}}}
	}
	p := &plan.Plan{Changes: []plan.Change{upd(web1), upd(web2)}}
	// Someone edits web-01 after the plan was made.
	u, err := c.UpdateConfig(ctx, resource.KindVM, web1.Node, web1.VMID, map[string]string{"memory": "8192"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if u != nil {
		if _, err := c.WaitTask(ctx, *u); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := apply.Run(ctx, p, fastOpts(c))
	if err != nil {
		t.Fatal(err)
	}
	if r := rec.Changes[0]; r.Result != apply.ResultRefused || !strings.Contains(r.Error, "vm.web-01 changed since the plan was made") {
		t.Errorf("web-01: %s %s", r.Result, r.Error)
	}
	if r := rec.Changes[1]; r.Result != apply.ResultApplied {
		t.Errorf("web-02: %s %s", r.Result, r.Error)
	}
	cfg, _, err := c.GuestConfig(ctx, resource.KindVM, web1.Node, web1.VMID)
	if err != nil || cfg["description"] == "managed" || cfg["memory"] != "8192" {
		t.Errorf("web-01 was changed despite the refusal: %v %v", cfg, err)
	}
}

// TestFaultyClusterConverges applies the same definitions repeatedly to a
// fake that fails a fifth of requests and tasks: within three runs nothing
// is left to do, no name was created twice, and every operation sent is in
// some run's record.
func TestFaultyClusterConverges(t *testing.T) {
	_, c := fakePVE(t, sim.Options{Seed: sim.Empty(), TaskDuration: 5 * time.Millisecond, FaultRate: 0.2, RandSeed: 7})
	desired := resource.NewSet()
	for i := range 8 {
		desired.VMs[fmt.Sprintf("app-%02d", i)] = newVM("pve1", 1+i%2, []string{"running", "stopped"}[i%2])
	}
	var records []*apply.Record
	converged := false
	for run := 1; run <= 3; run++ {
		var p *plan.Plan
		var err error
		for range 5 { // the inventory read itself may meet an injected fault
			var cl *resource.Cluster
			cl, err = c.Inventory(context.Background(), proxmox.InventoryOptions{})
			if err == nil {
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
		rec, err := apply.Run(context.Background(), p, fastOpts(c))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %s", run, rec.Line())
		records = append(records, rec)
		for _, cr := range rec.Changes {
			if cr.Result != apply.ResultApplied {
				t.Logf("  %s %s: %s", cr.Address, cr.Result, firstLine(cr.Error))
			}
			if cr.Result == apply.ResultFailed && cr.Error == "" {
				t.Errorf("run %d %s failed without an error", run, cr.Address)
			}
			for _, op := range cr.Ops {
				if op.Result == "" {
					t.Errorf("run %d %s: op %s without a result", run, cr.Address, op.Kind)
				}
			}
		}
		if rec.OK() {
			converged = true
			break
		}
	}
	if !converged {
		t.Fatal("not converged within 3 runs")
	}
	live := guestsByName(t, observe(t, c))
	if len(live) != 8 {
		t.Errorf("%d guests live, want 8", len(live))
	}
	// Every guest that exists was created by an applied (or failed-later)
	// create in some record: nothing happened that the trail does not show.
	created := map[int]bool{}
	for _, rec := range records {
		for _, cr := range rec.Changes {
			for _, op := range cr.Ops {
				if op.Kind == plan.OpCreate && op.UPID != "" && cr.VMID != 0 {
					created[cr.VMID] = true
				}
			}
		}
		if _, err := json.Marshal(rec); err != nil {
			t.Fatal(err)
		}
	}
	for name, g := range live {
		if !created[g.VMID] {
			t.Errorf("guest %s (vmid %d) exists but no record shows its create", name, g.VMID)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
