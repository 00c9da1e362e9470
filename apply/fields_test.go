package apply_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// This file proves principle 3 ("apply followed by plan shows no changes")
// field by field: for every field a definition can set, a guest is created
// with it, the field is changed, and the field is removed, each step applied
// against the fake PVE and followed by a plan that must be empty. The
// update step also checks that the plan names exactly the changed field and
// says how disruptive it is, and that the fake agrees: a change planned as
// pending is pending in PVE after the apply, a live one is not.

// fieldHarness is one fake PVE with a client and the secret bookkeeping an
// apply and a plan share (salted hashes by address and key).
type fieldHarness struct {
	t      *testing.T
	c      *proxmox.Client
	dir    string // secret files live here (refs are file:NAME)
	mu     sync.Mutex
	hashes map[string]string
}

func newFieldHarness(t *testing.T) *fieldHarness {
	t.Helper()
	seed := sim.Empty()
	seed.Pools = append(seed.Pools, sim.SeedPool{PoolID: "blue", Comment: "blue team"}, sim.SeedPool{PoolID: "green"})
	_, c := fakePVE(t, sim.Options{Seed: seed, TaskDuration: time.Millisecond})
	h := &fieldHarness{t: t, c: c, dir: t.TempDir(), hashes: map[string]string{}}
	// The secrets cases reference.
	for name, v := range map[string]string{"vmpw": "s3cret one", "vmpw2": "s3cret two", "ctpw": "container-pw", "ctpw2": "container-pw2"} {
		h.secret(name, v)
	}
	return h
}

func (h *fieldHarness) secret(name, value string) resource.SecretRef {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte(value+"\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return resource.SecretRef("file:" + name)
}

func (h *fieldHarness) planOpts(o plan.Options) plan.Options {
	o.ResolveSecret = apply.ResolveSecretRef(h.dir)
	o.SecretHash = func(addr resource.Address, key string) (string, bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		v, ok := h.hashes[addr.String()+"/"+key]
		return v, ok
	}
	return o
}

// observe reads the guests named in names (and all pools), with pending
// values, and leaves every other guest out.
func (h *fieldHarness) observe(names map[string]bool) *resource.Cluster {
	h.t.Helper()
	need := func(g *resource.Guest) bool {
		if !names[g.Name] && !names[fmt.Sprintf("#%d", g.VMID)] {
			return false
		}
		g.Pending = map[string]string{} // ask for its pending values
		return true
	}
	cl, err := h.c.Inventory(context.Background(), proxmox.InventoryOptions{Need: need, Pending: true})
	if err != nil {
		h.t.Fatal(err)
	}
	cl.Guests = slices.DeleteFunc(cl.Guests, func(g resource.Guest) bool { return g.Config == nil })
	return cl
}

// setNames lists the names of the set's guests, and "#VMID" for pinned ones.
func setNames(s *resource.Set) map[string]bool {
	out := map[string]bool{}
	for k, vm := range s.VMs {
		out[cmpOr(vm.Name, k)] = true
		out[fmt.Sprintf("#%d", vm.VMID)] = vm.VMID != 0
	}
	for k, ct := range s.Containers {
		out[cmpOr(ct.Hostname, k)] = true
		out[fmt.Sprintf("#%d", ct.VMID)] = ct.VMID != 0
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (h *fieldHarness) plan(s *resource.Set, o plan.Options) (*plan.Plan, *resource.Cluster) {
	h.t.Helper()
	obs := h.observe(setNames(s))
	p, err := plan.Make(s, obs, h.planOpts(o))
	if err != nil {
		h.t.Fatal(err)
	}
	return p, obs
}

// apply runs p and returns the record; failed changes are the caller's to judge.
func (h *fieldHarness) apply(p *plan.Plan) *apply.Record {
	h.t.Helper()
	opts := fastOpts(h.c)
	opts.ResolveSecret = apply.ResolveSecretRef(h.dir)
	opts.RecordSecret = func(addr resource.Address, key, value string) error {
		salt, err := plan.NewSalt()
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.hashes[addr.String()+"/"+key] = plan.HashSecret(salt, value)
		h.mu.Unlock()
		return nil
	}
	rec, err := apply.Run(context.Background(), p, opts)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	return rec
}

func describe(p *plan.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "\n  %s %s (%s) %s", c.Address, c.Action, c.Disruption, c.Reason)
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "\n    %s %q -> %q (%s)", fieldName(f), f.Before, f.After, f.Disruption)
		}
		for _, op := range c.Ops {
			fmt.Fprintf(&b, "\n    op %s %v del=%v", op.Kind, op.Params, op.Delete)
		}
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "\n  error: %s", e)
	}
	return b.String()
}

func fieldName(f plan.FieldChange) string {
	if f.SubKey != "" {
		return f.Key + "." + f.SubKey
	}
	return f.Key
}

func recordErrors(rec *apply.Record) string {
	var out []string
	for _, cr := range rec.Changes {
		if cr.Result != apply.ResultApplied {
			out = append(out, fmt.Sprintf("%s %s: %s", cr.Address, cr.Result, cr.Error))
		}
	}
	return strings.Join(out, "\n")
}

// converge applies p (which must be error free and apply cleanly) and
// checks that the next plan is empty.
func (h *fieldHarness) converge(step string, s *resource.Set, p *plan.Plan, o plan.Options) {
	h.t.Helper()
	if len(p.Errors) > 0 {
		h.t.Fatalf("%s: plan errors:%s", step, describe(p))
	}
	rec := h.apply(p)
	if !rec.OK() {
		h.t.Fatalf("%s: apply failed:\n%s\nplan:%s", step, recordErrors(rec), describe(p))
	}
	again, _ := h.plan(s, o)
	if len(again.Changes) > 0 || len(again.Errors) > 0 {
		h.t.Fatalf("%s: plan after apply is not empty:%s\napplied plan:%s", step, describe(again), describe(p))
	}
}

// outcome says what a step's plan must look like.
type outcome struct {
	// fields are the changed fields ("key" or "key.subkey") the plan must
	// name, exactly (create: ignored). nil with none false means "any".
	fields []string
	// none: the step plans no change at all.
	none bool
	// stopped and running are the change's disruption on a stopped and a
	// running guest ("" = not checked).
	stopped, running plan.Disruption
	// planErr: the plan must fail with an error containing this text.
	planErr string
	// applyErr: the apply must fail with an error containing this text
	// (what PVE refuses, e.g. root-only keys for an API token).
	applyErr string
	// detached: the removed disk becomes unusedN.
	detached bool
}

// fieldCase is one field of one kind: how to set it on a base definition,
// how to change it and how to remove it, and what each step plans.
type fieldCase struct {
	name string
	// vm or ct sets the field on the base definition (exactly one is set).
	vm func(*resource.VM)
	ct func(*resource.Container)
	// create is the outcome of creating the guest with the field.
	create outcome
	// update and remove change the definition after the create.
	updVM func(*resource.VM)
	updCT func(*resource.Container)
	upd   outcome
	rmVM  func(*resource.VM)
	rmCT  func(*resource.Container)
	rm    outcome
	// pool, updPool and rmPool do the same for a pool definition.
	pool, updPool, rmPool func(*resource.Pool)
	// states lists the power states to run the case in (default stopped).
	states []string
	// extra adds other definitions (a template to clone, ...).
	extra func(*resource.Set)
	// opts are the plan options of every step.
	opts plan.Options
}

func baseVM(state string) *resource.VM {
	return &resource.VM{Node: "pve1", Cores: ptr(1), Memory: ptr(512), State: state, SCSIHW: "virtio-scsi-single",
		Disks:    map[string]resource.Disk{"scsi0": {Storage: "local-lvm", Size: "1G"}},
		Networks: map[string]resource.NIC{"net0": {Model: "virtio", Bridge: "vmbr0"}}}
}

func baseCT(state string) *resource.Container {
	return &resource.Container{Node: "pve1", State: state, Cores: ptr(1), Memory: ptr(256),
		OSTemplate:   "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		Unprivileged: ptr(true),
		RootFS:       &resource.Mount{Storage: "local-lvm", Size: "1G"},
		Networks:     map[string]resource.CTNIC{"net0": {Name: "eth0", Bridge: "vmbr0", IP: "dhcp"}}}
}

func TestEveryFieldRoundTrips(t *testing.T) {
	t.Parallel()
	cases := append(vmFieldCases(), vmMoreCases()...)
	cases = append(cases, ctFieldCases()...)
	cases = append(cases, poolFieldCases()...)
	seen := map[string]bool{}
	for _, fc := range cases {
		if seen[fc.name] {
			t.Fatalf("case %q twice", fc.name)
		}
		seen[fc.name] = true
		states := fc.states
		if len(states) == 0 {
			states = []string{"stopped"}
		}
		for _, st := range states {
			t.Run(fc.name+"/"+st, func(t *testing.T) {
				t.Parallel()
				runFieldCase(t, fc, st)
			})
		}
	}
}

func (fc fieldCase) kind() resource.Kind {
	if fc.pool != nil {
		return resource.KindPool
	}
	if fc.ct != nil {
		return resource.KindContainer
	}
	if fc.vm != nil {
		return resource.KindVM
	}
	return resource.KindPool
}

func runFieldCase(t *testing.T, fc fieldCase, state string) {
	h := newFieldHarness(t)
	key := "g-" + strings.NewReplacer("_", "-", ".", "-", "/", "-").Replace(fc.name)
	s := resource.NewSet()
	addr := resource.Address{Kind: fc.kind(), Name: key}
	switch addr.Kind {
	case resource.KindVM:
		vm := baseVM(state)
		fc.vm(vm)
		s.VMs[key] = vm
	case resource.KindContainer:
		ct := baseCT(state)
		fc.ct(ct)
		s.Containers[key] = ct
	case resource.KindPool:
		p := &resource.Pool{}
		fc.pool(p)
		s.Pools[key] = p
	}
	if fc.extra != nil {
		fc.extra(s)
	}

	step := func(name string, want outcome) {
		t.Helper()
		p, _ := h.plan(s, fc.opts)
		if want.planErr != "" {
			if !slices.ContainsFunc(p.Errors, func(e string) bool { return strings.Contains(e, want.planErr) }) {
				t.Fatalf("%s: want a plan error containing %q, got:%s", name, want.planErr, describe(p))
			}
			return
		}
		if len(p.Errors) > 0 {
			t.Fatalf("%s: plan errors:%s", name, describe(p))
		}
		var c *plan.Change
		for i := range p.Changes {
			if p.Changes[i].Address == addr {
				c = &p.Changes[i]
			}
		}
		if want.none {
			if len(p.Changes) > 0 {
				t.Fatalf("%s: want no change, got:%s", name, describe(p))
			}
			return
		}
		if c == nil {
			t.Fatalf("%s: no change for %s:%s", name, addr, describe(p))
		}
		if want.fields != nil {
			var got []string
			for _, f := range c.Fields {
				got = append(got, fieldName(f))
			}
			sort.Strings(got)
			exp := slices.Sorted(slices.Values(want.fields))
			if !slices.Equal(got, exp) {
				t.Errorf("%s: fields %v, want %v; plan:%s", name, got, exp, describe(p))
			}
		}
		wantDis := want.stopped
		if state == "running" {
			wantDis = want.running
		}
		if wantDis != "" && c.Disruption != wantDis {
			t.Errorf("%s (%s guest): disruption %s, want %s; plan:%s", name, state, c.Disruption, wantDis, describe(p))
		}
		if want.applyErr != "" {
			rec := h.apply(p)
			if errs := recordErrors(rec); !strings.Contains(errs, want.applyErr) {
				t.Fatalf("%s: want the apply to fail with %q, got %q", name, want.applyErr, errs)
			}
			return
		}
		h.converge(name, s, p, fc.opts)
		if addr.Kind == resource.KindPool || c.Action == plan.ActionCreate {
			return
		}
		after := h.observe(setNames(s))
		var g *resource.Guest
		for i := range after.Guests {
			if after.Guests[i].VMID == c.VMID {
				g = &after.Guests[i]
			}
		}
		if g == nil {
			t.Fatalf("%s: vmid %d is gone", name, c.VMID)
		}
		// The plan's disruption and the fake's pending section agree.
		keyPending := map[string]bool{}
		for _, f := range c.Fields {
			keyPending[f.Key] = keyPending[f.Key] || f.Disruption == plan.DisruptionPending
		}
		for _, f := range c.Fields {
			_, pending := g.Pending[f.Key]
			switch {
			case f.Disruption == plan.DisruptionPending && !pending && f.Key != "state" && f.Key != "pool":
				t.Errorf("%s: %s was planned as pending, but PVE applied it at once (pending: %v)", name, fieldName(f), g.Pending)
			case f.Disruption != plan.DisruptionPending && pending && !keyPending[f.Key]:
				t.Errorf("%s: %s was planned as %s, but PVE keeps it pending", name, fieldName(f), f.Disruption)
			}
		}
		if want.detached && !pendingAny(g, want.fields) {
			unused := false
			for k := range g.Config {
				unused = unused || strings.HasPrefix(k, "unused")
			}
			if !unused {
				t.Errorf("%s: the removed disk was not kept as unusedN: %v", name, g.Config)
			}
		}
	}

	step("create", fc.create)
	if fc.create.planErr != "" || fc.create.applyErr != "" {
		return
	}
	if fc.updVM != nil || fc.updCT != nil || fc.updPool != nil {
		switch {
		case fc.updVM != nil:
			fc.updVM(s.VMs[key])
		case fc.updCT != nil:
			fc.updCT(s.Containers[key])
		default:
			fc.updPool(s.Pools[key])
		}
		step("update", fc.upd)
		if fc.upd.planErr != "" || fc.upd.applyErr != "" {
			return
		}
	}
	if fc.rmVM != nil || fc.rmCT != nil || fc.rmPool != nil {
		switch {
		case fc.rmVM != nil:
			fc.rmVM(s.VMs[key])
		case fc.rmCT != nil:
			fc.rmCT(s.Containers[key])
		default:
			fc.rmPool(s.Pools[key])
		}
		step("remove", fc.rm)
	}
}

func pendingAny(g *resource.Guest, keys []string) bool {
	for _, k := range keys {
		if _, ok := g.Pending[k]; ok {
			return true
		}
	}
	return false
}

// changed is the outcome of an update or removal of one field.
func changed(stopped, running plan.Disruption, fields ...string) outcome {
	return outcome{fields: fields, stopped: stopped, running: running}
}

var (
	none    = plan.DisruptionNone
	live    = plan.DisruptionLive
	pending = plan.DisruptionPending
)

func vmFieldCases() []fieldCase {
	both := []string{"stopped", "running"}
	return []fieldCase{
		{name: "description", states: both,
			vm:    func(v *resource.VM) { v.Description = ptr("first line\nsecond ${not.a.ref} \\ \"quoted\"\n") },
			updVM: func(v *resource.VM) { v.Description = ptr("changed\n\n${x}") }, upd: changed(none, live, "description"),
			rmVM: func(v *resource.VM) { v.Description = nil }, rm: changed(none, live, "description")},
		{name: "tags", states: both,
			vm:    func(v *resource.VM) { v.Tags = []string{"Web", "prod", "a-b.c_d+e"} },
			updVM: func(v *resource.VM) { v.Tags = []string{"prod", "DB"} }, upd: changed(none, live, "tags"),
			rmVM: func(v *resource.VM) { v.Tags = nil }, rm: changed(none, live, "tags")},
		{name: "tags-order", vm: func(v *resource.VM) { v.Tags = []string{"zeta", "Alpha", "mid"} },
			updVM: func(v *resource.VM) { v.Tags = []string{"MID", "alpha", "Zeta"} }, upd: outcome{none: true}},
		{name: "name", states: both,
			// The name is how an unpinned guest is found again, so renaming
			// one needs its vmid pinned.
			vm:    func(v *resource.VM) { v.Name = "explicit-name"; v.VMID = 150 },
			updVM: func(v *resource.VM) { v.Name = "other-name" }, upd: changed(none, live, "name")},
		{name: "protection", states: both,
			vm:    func(v *resource.VM) { v.Protection = ptr(true) },
			updVM: func(v *resource.VM) { v.Protection = ptr(false) }, upd: changed(none, live, "protection"),
			rmVM: func(v *resource.VM) { v.Protection = nil }, rm: changed(none, live, "protection")},
		{name: "onboot", states: both,
			vm:    func(v *resource.VM) { v.OnBoot = ptr(true) },
			updVM: func(v *resource.VM) { v.OnBoot = ptr(false) }, upd: changed(none, live, "onboot"),
			rmVM: func(v *resource.VM) { v.OnBoot = nil }, rm: changed(none, live, "onboot")},
		{name: "startup", states: both,
			vm:    func(v *resource.VM) { v.Startup = "order=1,up=30" },
			updVM: func(v *resource.VM) { v.Startup = "order=2,up=30,down=60" }, upd: changed(none, live, "startup.order", "startup.down"),
			rmVM: func(v *resource.VM) { v.Startup = "" }, rm: changed(none, live, "startup")},
		{name: "cores", states: both,
			vm:    func(v *resource.VM) { v.Cores = ptr(2) },
			updVM: func(v *resource.VM) { v.Cores = ptr(3) }, upd: changed(none, pending, "cores"),
			rmVM: func(v *resource.VM) { v.Cores = nil }, rm: changed(none, pending, "cores")},
		{name: "sockets", states: both,
			vm:    func(v *resource.VM) { v.Sockets = ptr(2) },
			updVM: func(v *resource.VM) { v.Sockets = ptr(1) }, upd: changed(none, pending, "sockets"),
			rmVM: func(v *resource.VM) { v.Sockets = nil }, rm: changed(none, pending, "sockets")},
		{name: "vcpus", states: both,
			vm:    func(v *resource.VM) { v.Cores = ptr(4); v.VCPUs = ptr(2) },
			updVM: func(v *resource.VM) { v.VCPUs = ptr(3) }, upd: changed(none, pending, "vcpus"),
			rmVM: func(v *resource.VM) { v.VCPUs = nil }, rm: changed(none, pending, "vcpus")},
		{name: "vcpus-hotplug-cpu", states: []string{"running"},
			vm:    func(v *resource.VM) { v.Cores = ptr(4); v.VCPUs = ptr(2); v.Hotplug = "network,disk,cpu" },
			updVM: func(v *resource.VM) { v.VCPUs = ptr(3) }, upd: changed(none, live, "vcpus")},
		{name: "cpu", states: both,
			vm:    func(v *resource.VM) { v.CPU = "host" },
			updVM: func(v *resource.VM) { v.CPU = "x86-64-v2-AES" }, upd: changed(none, pending, "cpu"),
			rmVM: func(v *resource.VM) { v.CPU = "" }, rm: changed(none, pending, "cpu")},
		{name: "numa", states: both,
			vm:    func(v *resource.VM) { v.NUMA = ptr(true) },
			updVM: func(v *resource.VM) { v.NUMA = ptr(false) }, upd: changed(none, pending, "numa"),
			rmVM: func(v *resource.VM) { v.NUMA = nil }, rm: changed(none, pending, "numa")},
		{name: "memory", states: both,
			vm:    func(v *resource.VM) { v.Memory = ptr(1024) },
			updVM: func(v *resource.VM) { v.Memory = ptr(2048) }, upd: changed(none, pending, "memory"),
			rmVM: func(v *resource.VM) { v.Memory = nil }, rm: changed(none, pending, "memory")},
		{name: "memory-hotplug", states: []string{"running"},
			vm:    func(v *resource.VM) { v.Memory = ptr(1024); v.Hotplug = "network,disk,memory"; v.NUMA = ptr(true) },
			updVM: func(v *resource.VM) { v.Memory = ptr(2048) }, upd: changed(none, live, "memory")},
		{name: "balloon", states: both,
			vm:    func(v *resource.VM) { v.Memory = ptr(2048); v.Balloon = ptr(1024) },
			updVM: func(v *resource.VM) { v.Balloon = ptr(0) }, upd: changed(none, live, "balloon"),
			rmVM: func(v *resource.VM) { v.Balloon = nil }, rm: changed(none, live, "balloon")},
		{name: "ostype", states: both,
			vm:    func(v *resource.VM) { v.OSType = "l26" },
			updVM: func(v *resource.VM) { v.OSType = "other" }, upd: changed(none, pending, "ostype"),
			rmVM: func(v *resource.VM) { v.OSType = "" }, rm: changed(none, pending, "ostype")},
		{name: "machine", states: both,
			vm:    func(v *resource.VM) { v.Machine = "q35" },
			updVM: func(v *resource.VM) { v.Machine = "pc-i440fx-8.1" }, upd: changed(none, pending, "machine"),
			// machine is DefaultedByPVE: leaving it out keeps it.
			rmVM: func(v *resource.VM) { v.Machine = "" }, rm: outcome{none: true}},
		{name: "bios", states: both,
			vm:    func(v *resource.VM) { v.BIOS = "ovmf" },
			updVM: func(v *resource.VM) { v.BIOS = "seabios" }, upd: changed(none, pending, "bios"),
			rmVM: func(v *resource.VM) { v.BIOS = "" }, rm: changed(none, pending, "bios")},
		{name: "scsihw", states: both,
			vm:    func(v *resource.VM) { v.SCSIHW = "virtio-scsi-pci" },
			updVM: func(v *resource.VM) { v.SCSIHW = "lsi" }, upd: changed(none, pending, "scsihw"),
			rmVM: func(v *resource.VM) { v.SCSIHW = "" }, rm: changed(none, pending, "scsihw")},
		{name: "hotplug", states: both,
			vm:    func(v *resource.VM) { v.Hotplug = "network,disk,usb" },
			updVM: func(v *resource.VM) { v.Hotplug = "network,disk" }, upd: changed(none, live, "hotplug"),
			rmVM: func(v *resource.VM) { v.Hotplug = "" }, rm: changed(none, live, "hotplug")},
		{name: "hotplug-memory", states: []string{"running"},
			vm:    func(v *resource.VM) { v.Hotplug = "network,disk" },
			updVM: func(v *resource.VM) { v.Hotplug = "network,disk,memory" }, upd: changed(none, pending, "hotplug")},
		{name: "agent", states: both,
			vm: func(v *resource.VM) { v.Agent = &resource.Agent{Enabled: true} },
			updVM: func(v *resource.VM) {
				v.Agent = &resource.Agent{Enabled: true, FSTrimCloned: ptr(true), FreezeFSOnBackup: ptr(false), Type: "isa"}
			},
			upd:  changed(none, pending, "agent.fstrim_cloned_disks", "agent.freeze-fs-on-backup", "agent.type"),
			rmVM: func(v *resource.VM) { v.Agent = nil }, rm: changed(none, pending, "agent")},
		{name: "agent-disabled",
			vm:    func(v *resource.VM) { v.Agent = &resource.Agent{Enabled: false} },
			updVM: func(v *resource.VM) { v.Agent = &resource.Agent{Enabled: true} }, upd: changed(none, pending, "agent.enabled")},
		{name: "boot", states: both,
			vm: func(v *resource.VM) {
				v.Disks["ide2"] = resource.Disk{Media: "cdrom", Volume: "local:iso/debian-12.7.0-amd64-netinst.iso"}
				v.Boot = []string{"scsi0", "net0"}
			},
			updVM: func(v *resource.VM) { v.Boot = []string{"ide2", "scsi0", "net0"} }, upd: changed(none, pending, "boot.order"),
			// boot is DefaultedByPVE: leaving it out keeps it.
			rmVM: func(v *resource.VM) { v.Boot = nil }, rm: outcome{none: true}},
		// Disks, one slot kind each.
		{name: "disk-scsi", states: both,
			vm: func(v *resource.VM) {
				v.Disks["scsi1"] = resource.Disk{Storage: "local-lvm", Size: "2G",
					Options: map[string]string{"iothread": "1", "discard": "on", "ssd": "1", "cache": "writeback", "backup": "0"}}
			},
			updVM: func(v *resource.VM) {
				v.Disks["scsi1"] = resource.Disk{Storage: "local-lvm", Size: "3G",
					Options: map[string]string{"iothread": "1", "discard": "ignore", "ssd": "1", "cache": "none"}}
			},
			upd:  changed(none, live, "scsi1.size", "scsi1.discard", "scsi1.cache", "scsi1.backup"),
			rmVM: func(v *resource.VM) { delete(v.Disks, "scsi1") }, rm: outcome{fields: []string{"scsi1"}, stopped: none, running: live, detached: true}},
		{name: "disk-virtio", states: both,
			vm: func(v *resource.VM) {
				v.Disks["virtio0"] = resource.Disk{Storage: "local-lvm", Size: "1G", Options: map[string]string{"iothread": "1"}}
			},
			updVM: func(v *resource.VM) {
				v.Disks["virtio0"] = resource.Disk{Storage: "local-lvm", Size: "1G", Options: map[string]string{"iothread": "0", "ro": "1"}}
			},
			upd:  changed(none, live, "virtio0.iothread", "virtio0.ro"),
			rmVM: func(v *resource.VM) { delete(v.Disks, "virtio0") }, rm: outcome{fields: []string{"virtio0"}, detached: true}},
		{name: "disk-sata", states: both,
			vm: func(v *resource.VM) {
				v.Disks["sata0"] = resource.Disk{Storage: "local-lvm", Size: "1G", Options: map[string]string{"ssd": "1"}}
			},
			updVM: func(v *resource.VM) {
				v.Disks["sata0"] = resource.Disk{Storage: "local-lvm", Size: "1G", Options: map[string]string{"ssd": "0"}}
			},
			upd:  changed(none, pending, "sata0.ssd"),
			rmVM: func(v *resource.VM) { delete(v.Disks, "sata0") }, rm: outcome{fields: []string{"sata0"}, detached: true}},
		{name: "disk-ide", states: both,
			vm: func(v *resource.VM) {
				v.Disks["ide0"] = resource.Disk{Storage: "local-lvm", Size: "1G", Format: "raw"}
			},
			updVM: func(v *resource.VM) {
				v.Disks["ide0"] = resource.Disk{Storage: "local-lvm", Size: "2G", Format: "raw"}
			},
			upd:  changed(none, live, "ide0.size"),
			rmVM: func(v *resource.VM) { delete(v.Disks, "ide0") }, rm: outcome{fields: []string{"ide0"}, detached: true}},
		{name: "disk-existing-volume",
			vm: func(v *resource.VM) {
				v.Disks["scsi2"] = resource.Disk{Volume: "local:iso/debian-12.7.0-amd64-netinst.iso", Media: "cdrom"}
			},
			updVM: func(v *resource.VM) { v.Disks["scsi2"] = resource.Disk{Volume: "none", Media: "cdrom"} },
			upd:   changed(none, live, "scsi2.file"),
			rmVM:  func(v *resource.VM) { delete(v.Disks, "scsi2") }, rm: changed(none, live, "scsi2")},
		{name: "cdrom", states: both,
			vm: func(v *resource.VM) {
				v.Disks["ide2"] = resource.Disk{Media: "cdrom", Volume: "local:iso/debian-12.7.0-amd64-netinst.iso"}
			},
			updVM: func(v *resource.VM) { v.Disks["ide2"] = resource.Disk{Media: "cdrom"} }, upd: changed(none, live, "ide2.file"),
			rmVM: func(v *resource.VM) { delete(v.Disks, "ide2") }, rm: changed(none, pending, "ide2")},
		{name: "cdrom-no-hotplug", states: []string{"running"},
			vm: func(v *resource.VM) {
				v.Hotplug = "network"
				v.Disks["scsi4"] = resource.Disk{Media: "cdrom", Volume: "local:iso/debian-12.7.0-amd64-netinst.iso"}
			},
			updVM: func(v *resource.VM) { v.Disks["scsi4"] = resource.Disk{Media: "cdrom"} }, upd: changed(none, live, "scsi4.file")},
		{name: "cdrom-none",
			vm:    func(v *resource.VM) { v.Disks["ide2"] = resource.Disk{Media: "cdrom", Volume: "none"} },
			updVM: func(v *resource.VM) { v.Disks["ide2"] = resource.Disk{Media: "cdrom"} }, upd: outcome{none: true}},
		{name: "efidisk",
			vm: func(v *resource.VM) {
				v.BIOS = "ovmf"
				v.EFIDisk = &resource.EFIDisk{Storage: "local-lvm", Type: "4m", PreEnrolledKeys: ptr(true)}
			},
			updVM: func(v *resource.VM) {
				v.EFIDisk = &resource.EFIDisk{Storage: "local-lvm", Type: "4m", PreEnrolledKeys: ptr(false)}
			},
			upd:  changed(none, pending, "efidisk0.pre-enrolled-keys"),
			rmVM: func(v *resource.VM) { v.EFIDisk = nil }, rm: outcome{fields: []string{"efidisk0"}, detached: true}},
		{name: "tpm",
			vm:    func(v *resource.VM) { v.TPM = &resource.TPM{Storage: "local-lvm", Version: "v2.0"} },
			updVM: func(v *resource.VM) { v.TPM = &resource.TPM{Storage: "local-lvm"} }, upd: outcome{none: true},
			rmVM: func(v *resource.VM) { v.TPM = nil }, rm: outcome{fields: []string{"tpmstate0"}, detached: true}},
		// NICs.
		{name: "nic", states: both,
			vm: func(v *resource.VM) {
				v.Networks["net1"] = resource.NIC{Model: "virtio", Bridge: "vmbr0", Firewall: ptr(true), Tag: 20, MTU: 1400,
					Queues: 2, Rate: "12.5", LinkDown: ptr(false), Trunks: "10;20-30"}
			},
			updVM: func(v *resource.VM) {
				v.Networks["net1"] = resource.NIC{Model: "e1000", Bridge: "vmbr1", Firewall: ptr(false), Tag: 30, MTU: 1500,
					Queues: 4, Rate: "100", LinkDown: ptr(true), Trunks: "40"}
			},
			upd: changed(none, live, "net1.model", "net1.bridge", "net1.firewall", "net1.tag", "net1.mtu", "net1.queues",
				"net1.rate", "net1.link_down", "net1.trunks"),
			rmVM: func(v *resource.VM) { delete(v.Networks, "net1") }, rm: changed(none, live, "net1")},
		{name: "nic-macaddr", states: both,
			vm: func(v *resource.VM) {
				v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0", MACAddr: "BC:24:11:AA:BB:CC"}
			},
			updVM: func(v *resource.VM) {
				v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0", MACAddr: "bc:24:11:aa:bb:dd"}
			},
			upd: changed(none, live, "net0.macaddr"),
			// Unpinning the MAC keeps the one PVE has.
			rmVM: func(v *resource.VM) { v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0"} }, rm: outcome{none: true}},
		{name: "nic-tag-only", states: []string{"running"},
			vm:    func(v *resource.VM) { v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0", Tag: 5} },
			updVM: func(v *resource.VM) { v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0"} },
			upd:   changed(none, live, "net0.tag")},
		{name: "nic-no-hotplug", states: []string{"running"},
			vm:    func(v *resource.VM) { v.Hotplug = "disk" },
			updVM: func(v *resource.VM) { v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0", Tag: 7} },
			upd:   changed(none, pending, "net0.tag")},
	}
}

// sshKeys are OpenSSH public key lines with the spaces and characters
// that URL encoding must survive.
var sshKeys = []string{
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm3yQx1kPq0r5s+/ops@host",
	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== comment with spaces & 100% special;chars,=+?",
	`ecdsa-sha2-nistp256 AAAAE2VjZHNh== "quoted" <tag> #hash`,
}

func vmMoreCases() []fieldCase {
	both := []string{"stopped", "running"}
	ci := func(f func(*resource.CloudInit)) func(*resource.VM) {
		return func(v *resource.VM) {
			if v.CloudInit == nil {
				v.CloudInit = &resource.CloudInit{}
			}
			f(v.CloudInit)
		}
	}
	template := func(s *resource.Set) {
		t := baseVM("")
		t.Template = ptr(true)
		s.VMs["tmpl"] = t
	}
	return []fieldCase{
		// Cloud-init.
		{name: "ci-drive", states: both,
			vm:   ci(func(c *resource.CloudInit) { c.Drive, c.Storage = "ide2", "local-lvm" }),
			rmVM: ci(func(c *resource.CloudInit) { c.Drive, c.Storage = "", "" }), rm: changed(none, pending, "ide2")},
		{name: "ci-drive-scsi", vm: ci(func(c *resource.CloudInit) { c.Drive, c.Storage = "scsi3", "local-lvm" }),
			rmVM: ci(func(c *resource.CloudInit) { c.Drive, c.Storage = "", "" }), rm: changed(none, live, "scsi3")},
		{name: "ci-user", states: both,
			vm:    ci(func(c *resource.CloudInit) { c.User = "ops" }),
			updVM: ci(func(c *resource.CloudInit) { c.User = "admin" }), upd: changed(none, live, "ciuser"),
			rmVM: ci(func(c *resource.CloudInit) { c.User = "" }), rm: changed(none, live, "ciuser")},
		{name: "ci-sshkeys", states: both,
			vm:    ci(func(c *resource.CloudInit) { c.SSHKeys = sshKeys }),
			updVM: ci(func(c *resource.CloudInit) { c.SSHKeys = sshKeys[1:] }), upd: changed(none, live, "sshkeys"),
			rmVM: ci(func(c *resource.CloudInit) { c.SSHKeys = nil }), rm: changed(none, live, "sshkeys")},
		{name: "ci-ipconfig", states: both,
			vm: ci(func(c *resource.CloudInit) {
				c.IPConfig = map[string]resource.IPConfig{
					"ipconfig0": {IP: "10.0.0.5/24", GW: "10.0.0.1"},
					"ipconfig1": {IP6: "2001:db8::5/64", GW6: "2001:db8::1"},
					"ipconfig2": {IP: "dhcp", IP6: "auto"},
				}
			}),
			updVM: ci(func(c *resource.CloudInit) {
				c.IPConfig["ipconfig0"] = resource.IPConfig{IP: "10.0.0.6/24", GW: "10.0.0.1", IP6: "dhcp"}
				c.IPConfig["ipconfig2"] = resource.IPConfig{IP: "dhcp"}
			}),
			upd:  changed(none, live, "ipconfig0.ip", "ipconfig0.ip6", "ipconfig2.ip6"),
			rmVM: ci(func(c *resource.CloudInit) { delete(c.IPConfig, "ipconfig1") }), rm: changed(none, live, "ipconfig1")},
		{name: "ci-dns", states: both,
			vm: ci(func(c *resource.CloudInit) {
				c.Nameserver, c.Searchdomain = "1.1.1.1 9.9.9.9", "example.com lab.example.com"
			}),
			updVM: ci(func(c *resource.CloudInit) { c.Nameserver = "10.0.0.53" }), upd: changed(none, live, "nameserver"),
			rmVM: ci(func(c *resource.CloudInit) { c.Nameserver, c.Searchdomain = "", "" }), rm: changed(none, live, "nameserver", "searchdomain")},
		{name: "ci-type-custom-upgrade", states: both,
			vm: ci(func(c *resource.CloudInit) {
				c.Type, c.Custom, c.Upgrade = "nocloud", "user=local:snippets/u.yaml", ptr(true)
			}),
			updVM: ci(func(c *resource.CloudInit) {
				c.Type, c.Custom, c.Upgrade = "configdrive2", "user=local:snippets/u.yaml,network=local:snippets/n.yaml", ptr(false)
			}),
			upd:  changed(none, live, "citype", "cicustom.network", "ciupgrade"),
			rmVM: ci(func(c *resource.CloudInit) { c.Type, c.Custom, c.Upgrade = "", "", nil }),
			rm:   changed(none, live, "citype", "cicustom", "ciupgrade")},
		{name: "ci-password", states: both,
			vm:    ci(func(c *resource.CloudInit) { c.User, c.Password = "ops", "file:vmpw" }),
			updVM: ci(func(c *resource.CloudInit) { c.Password = "file:vmpw2" }), upd: changed(none, live, "cipassword"),
			// PVE masks the password: leaving it out keeps it.
			rmVM: ci(func(c *resource.CloudInit) { c.Password = "" }), rm: outcome{none: true}},
		{name: "ci-password-same-secret",
			vm:    ci(func(c *resource.CloudInit) { c.Password = "file:vmpw" }),
			updVM: ci(func(c *resource.CloudInit) { c.User = "ops" }), upd: changed(none, live, "ciuser")},
		// A pending change with --allow-restart restarts the guest.
		{name: "cores-allow-restart", states: []string{"running"}, opts: plan.Options{AllowRestart: true},
			vm:    func(v *resource.VM) { v.Cores = ptr(2) },
			updVM: func(v *resource.VM) { v.Cores = ptr(4); v.Description = ptr("x") },
			upd:   changed(none, plan.DisruptionRestart, "cores", "description")},
		// Power state, template, clone, pool.
		{name: "state", vm: func(v *resource.VM) { v.State = "stopped" },
			updVM: func(v *resource.VM) { v.State = "running" }, upd: changed(none, none, "state"),
			rmVM: func(v *resource.VM) { v.State = "" }, rm: outcome{none: true}},
		{name: "state-stop", vm: func(v *resource.VM) { v.State = "running" },
			updVM: func(v *resource.VM) { v.State = "stopped" }, upd: outcome{fields: []string{"state"}, stopped: plan.DisruptionRestart}},
		{name: "template", vm: func(v *resource.VM) { v.Template = ptr(true); v.State = "" },
			updVM: func(v *resource.VM) { v.Template = ptr(false) }, upd: outcome{planErr: "PVE cannot turn it back into a guest"}},
		{name: "template-later", states: both,
			vm:    func(v *resource.VM) {},
			updVM: func(v *resource.VM) { v.Template = ptr(true); v.State = "" },
			upd:   outcome{stopped: none, running: plan.DisruptionRestart},
			rmVM:  func(v *resource.VM) { v.Template = nil }, rm: outcome{none: true}},
		{name: "clone-linked", states: both, extra: template,
			vm:    func(v *resource.VM) { v.Clone = &resource.Clone{From: "tmpl"}; v.Cores = ptr(2) },
			updVM: func(v *resource.VM) { v.Cores = ptr(3) }, upd: changed(none, pending, "cores"),
			rmVM: func(v *resource.VM) { v.Clone = nil }, rm: outcome{none: true}},
		{name: "clone-full", extra: template,
			vm: func(v *resource.VM) {
				v.Clone = &resource.Clone{From: "tmpl", Full: ptr(true), Storage: "local-lvm"}
				v.Disks["scsi0"] = resource.Disk{Storage: "local-lvm", Size: "2G", Options: map[string]string{"discard": "on"}}
				v.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr0", Tag: 3}
				v.Description = ptr("cloned")
			},
			updVM: func(v *resource.VM) { v.Description = ptr("cloned\nagain") }, upd: changed(none, live, "description")},
		{name: "pool", states: both,
			vm:    func(v *resource.VM) { v.Pool = "blue" },
			updVM: func(v *resource.VM) { v.Pool = "green" }, upd: changed(none, none, "pool"),
			// Leaving pool out leaves the membership as it is.
			rmVM: func(v *resource.VM) { v.Pool = "" }, rm: outcome{none: true}},
		{name: "pool-new", extra: func(s *resource.Set) { s.Pools["red"] = &resource.Pool{} },
			vm: func(v *resource.VM) { v.Pool = "red" }},
		// Keys the spec does not model, carried raw.
		{name: "extra-serial-vga", states: both,
			vm:    func(v *resource.VM) { v.Extra = map[string]string{"serial0": "socket", "vga": "serial0"} },
			updVM: func(v *resource.VM) { v.Extra = map[string]string{"serial0": "socket", "vga": "std,memory=32"} },
			upd:   changed(none, pending, "vga"),
			rmVM:  func(v *resource.VM) { v.Extra = nil }, rm: changed(none, pending, "serial0", "vga")},
		{name: "extra-hostpci",
			vm: func(v *resource.VM) {
				v.Machine = "q35"
				v.Extra = map[string]string{"hostpci0": "0000:01:00.0,pcie=1"}
			},
			updVM: func(v *resource.VM) { v.Extra = map[string]string{"hostpci0": "0000:02:00.0,pcie=1,x-vga=1"} },
			upd:   changed(none, none, "hostpci0"),
			rmVM:  func(v *resource.VM) { v.Extra = nil }, rm: changed(none, none, "hostpci0")},
		{name: "extra-numa0", states: both,
			vm: func(v *resource.VM) {
				v.NUMA = ptr(true)
				v.Extra = map[string]string{"numa0": "cpus=0,hostnodes=0,memory=512,policy=bind"}
			},
			updVM: func(v *resource.VM) { v.Extra = map[string]string{"numa0": "cpus=0,memory=512"} },
			upd:   changed(none, pending, "numa0"),
			rmVM:  func(v *resource.VM) { v.Extra = nil }, rm: changed(none, pending, "numa0")},
		{name: "extra-usb", states: both,
			vm:    func(v *resource.VM) { v.Extra = map[string]string{"usb0": "spice"} },
			updVM: func(v *resource.VM) { v.Extra = map[string]string{"usb0": "host=1234:5678,usb3=1"} },
			upd:   changed(none, live, "usb0"),
			rmVM:  func(v *resource.VM) { v.Extra = nil }, rm: changed(none, live, "usb0")},
		// args is root@pam's alone; an API token, even root's, is refused.
		{name: "extra-args", vm: func(v *resource.VM) { v.Extra = map[string]string{"args": "-cpu host,+kvm_pv_unhalt"} },
			create: outcome{applyErr: "only root can set 'args' config"}},
	}
}

func ctFieldCases() []fieldCase {
	both := []string{"stopped", "running"}
	return []fieldCase{
		{name: "ct-hostname", states: both,
			ct:    func(c *resource.Container) { c.Hostname = "explicit-host"; c.VMID = 160 },
			updCT: func(c *resource.Container) { c.Hostname = "other-host" }, upd: changed(none, live, "hostname"),
			// Left out, the hostname is the definition's key again.
			rmCT: func(c *resource.Container) { c.Hostname = "" }, rm: changed(none, live, "hostname")},
		{name: "ct-description", states: both,
			ct:    func(c *resource.Container) { c.Description = ptr("multi\nline ${var}\n") },
			updCT: func(c *resource.Container) { c.Description = ptr("other") }, upd: changed(none, live, "description"),
			rmCT: func(c *resource.Container) { c.Description = nil }, rm: changed(none, live, "description")},
		{name: "ct-tags", states: both,
			ct:    func(c *resource.Container) { c.Tags = []string{"Zeta", "alpha", "ALPHA"} },
			updCT: func(c *resource.Container) { c.Tags = []string{"beta"} }, upd: changed(none, live, "tags"),
			rmCT: func(c *resource.Container) { c.Tags = nil }, rm: changed(none, live, "tags")},
		{name: "ct-protection-onboot-startup", states: both,
			ct: func(c *resource.Container) {
				c.Protection, c.OnBoot, c.Startup = ptr(true), ptr(true), "order=3"
			},
			updCT: func(c *resource.Container) {
				c.Protection, c.OnBoot, c.Startup = ptr(false), ptr(false), "order=4,up=5"
			},
			upd:  changed(none, live, "protection", "onboot", "startup.order", "startup.up"),
			rmCT: func(c *resource.Container) { c.Protection, c.OnBoot, c.Startup = nil, nil, "" },
			rm:   changed(none, live, "protection", "onboot", "startup")},
		{name: "ct-ostype-arch",
			ct:    func(c *resource.Container) { c.OSType, c.Arch = "debian", "amd64" },
			updCT: func(c *resource.Container) { c.OSType = "ubuntu" }, upd: changed(none, pending, "ostype"),
			rmCT: func(c *resource.Container) { c.OSType, c.Arch = "", "" }, rm: outcome{none: true}},
		{name: "ct-unprivileged",
			ct:    func(c *resource.Container) { c.Unprivileged = ptr(true) },
			updCT: func(c *resource.Container) { c.Unprivileged = ptr(false) }, upd: outcome{planErr: "unprivileged cannot change after creation"},
		},
		{name: "ct-unprivileged-replace", opts: plan.Options{AllowReplace: true},
			ct:    func(c *resource.Container) { c.Unprivileged = ptr(true) },
			updCT: func(c *resource.Container) { c.Unprivileged = ptr(false) }, upd: outcome{stopped: plan.DisruptionReplace},
			rmCT: func(c *resource.Container) { c.Unprivileged = nil }, rm: outcome{none: true}},
		{name: "ct-features-nesting", states: both,
			ct:    func(c *resource.Container) { c.Features = &resource.Features{Nesting: ptr(true)} },
			updCT: func(c *resource.Container) { c.Features = &resource.Features{Nesting: ptr(false)} },
			upd:   changed(none, pending, "features.nesting"),
			rmCT:  func(c *resource.Container) { c.Features = nil }, rm: changed(none, pending, "features")},
		// Feature flags but nesting are root@pam's alone (not a token's).
		{name: "ct-features-keyctl", ct: func(c *resource.Container) { c.Features = &resource.Features{Keyctl: ptr(true)} },
			create: outcome{applyErr: "changing feature flags (except nesting) is only allowed for root@pam"}},
		{name: "ct-features-fuse", ct: func(c *resource.Container) { c.Features = &resource.Features{Fuse: ptr(true)} },
			create: outcome{applyErr: "only allowed for root@pam"}},
		{name: "ct-features-mknod", ct: func(c *resource.Container) { c.Features = &resource.Features{Mknod: ptr(true)} },
			create: outcome{applyErr: "only allowed for root@pam"}},
		{name: "ct-features-mount", ct: func(c *resource.Container) { c.Features = &resource.Features{Mount: []string{"nfs", "cifs"}} },
			create: outcome{applyErr: "only allowed for root@pam"}},
		{name: "ct-features-options", ct: func(c *resource.Container) {
			c.Features = &resource.Features{Options: map[string]string{"force_rw_sys": "1"}}
		}, create: outcome{applyErr: "only allowed for root@pam"}},
		{name: "ct-features-off", ct: func(c *resource.Container) {
			c.Features = &resource.Features{Nesting: ptr(true), Keyctl: ptr(false), Fuse: ptr(false)}
		}},
		// Password and ssh keys are create-only: PVE keeps neither.
		{name: "ct-password-sshkeys",
			ct:    func(c *resource.Container) { c.Password = "file:ctpw"; c.SSHKeys = sshKeys },
			updCT: func(c *resource.Container) { c.Password = "file:ctpw2"; c.SSHKeys = sshKeys[:1] }, upd: outcome{none: true},
			rmCT: func(c *resource.Container) { c.Password, c.SSHKeys = "", nil }, rm: outcome{none: true}},
		{name: "ct-cpu", states: both,
			ct:    func(c *resource.Container) { c.Cores, c.CPULimit, c.CPUUnits = ptr(2), "1.5", ptr(512) },
			updCT: func(c *resource.Container) { c.Cores, c.CPULimit, c.CPUUnits = ptr(1), "0.5", ptr(1024) },
			upd:   changed(none, live, "cores", "cpulimit", "cpuunits"),
			rmCT:  func(c *resource.Container) { c.Cores, c.CPULimit, c.CPUUnits = nil, "", nil },
			rm:    changed(none, live, "cores", "cpulimit", "cpuunits")},
		{name: "ct-memory-swap", states: both,
			ct:    func(c *resource.Container) { c.Memory, c.Swap = ptr(1024), ptr(0) },
			updCT: func(c *resource.Container) { c.Memory, c.Swap = ptr(2048), ptr(512) },
			upd:   changed(none, live, "memory", "swap"),
			rmCT:  func(c *resource.Container) { c.Swap = nil }, rm: changed(none, live, "swap")},
		{name: "ct-rootfs", states: both,
			ct: func(c *resource.Container) {
				c.RootFS = &resource.Mount{Storage: "local-lvm", Size: "2G", Options: map[string]string{"mountoptions": "noatime;nodev", "acl": "1"}}
			},
			updCT: func(c *resource.Container) {
				c.RootFS = &resource.Mount{Storage: "local-lvm", Size: "3G", Options: map[string]string{"mountoptions": "noatime", "quota": "1"}}
			},
			upd: changed(none, pending, "rootfs.size", "rootfs.mountoptions", "rootfs.acl", "rootfs.quota"),
			// rootfs is DefaultedByPVE: leaving it out keeps it.
			rmCT: func(c *resource.Container) { c.RootFS = nil }, rm: outcome{none: true}},
		{name: "ct-mp", states: both,
			ct: func(c *resource.Container) {
				c.Mounts = map[string]resource.Mount{"mp0": {Storage: "local-lvm", Size: "1G", Path: "/data", Options: map[string]string{"backup": "1"}}}
			},
			updCT: func(c *resource.Container) {
				c.Mounts = map[string]resource.Mount{"mp0": {Storage: "local-lvm", Size: "1G", Path: "/srv/data", Options: map[string]string{"backup": "0", "ro": "1"}}}
			},
			upd:  changed(none, pending, "mp0.mp", "mp0.backup", "mp0.ro"),
			rmCT: func(c *resource.Container) { c.Mounts = nil }, rm: outcome{fields: []string{"mp0"}, stopped: none, running: pending, detached: true}},
		{name: "ct-nic", states: both,
			ct: func(c *resource.Container) {
				c.Networks["net1"] = resource.CTNIC{Name: "eth1", Bridge: "vmbr0", IP: "10.0.0.5/24", GW: "10.0.0.1",
					IP6: "2001:db8::5/64", GW6: "2001:db8::1", HWAddr: "BC:24:11:00:00:01", Firewall: ptr(true), Tag: 10, MTU: 1400, Rate: "5"}
			},
			updCT: func(c *resource.Container) {
				c.Networks["net1"] = resource.CTNIC{Name: "eth9", Bridge: "vmbr1", IP: "dhcp", IP6: "auto",
					HWAddr: "BC:24:11:00:00:02", Firewall: ptr(false), Tag: 11, MTU: 1500, Rate: "7.5", LinkDown: ptr(true)}
			},
			upd: changed(none, live, "net1.name", "net1.bridge", "net1.ip", "net1.gw", "net1.ip6", "net1.gw6", "net1.hwaddr",
				"net1.firewall", "net1.tag", "net1.mtu", "net1.rate", "net1.link_down"),
			rmCT: func(c *resource.Container) { delete(c.Networks, "net1") }, rm: changed(none, live, "net1")},
		{name: "ct-dns", states: both,
			ct:    func(c *resource.Container) { c.Nameserver, c.Searchdomain = "1.1.1.1", "example.com" },
			updCT: func(c *resource.Container) { c.Nameserver, c.Searchdomain = "9.9.9.9 1.1.1.1", "lab.example.com" },
			upd:   changed(none, pending, "nameserver", "searchdomain"),
			rmCT:  func(c *resource.Container) { c.Nameserver, c.Searchdomain = "", "" }, rm: changed(none, pending, "nameserver", "searchdomain")},
		{name: "ct-state", ct: func(c *resource.Container) { c.State = "stopped" },
			updCT: func(c *resource.Container) { c.State = "running" }, upd: changed(none, none, "state"),
			rmCT: func(c *resource.Container) { c.State = "" }, rm: outcome{none: true}},
		{name: "ct-pool", states: both, ct: func(c *resource.Container) { c.Pool = "blue" },
			updCT: func(c *resource.Container) { c.Pool = "green" }, upd: changed(none, none, "pool")},
		{name: "ct-template", ct: func(c *resource.Container) { c.Template = ptr(true); c.State = "" },
			updCT: func(c *resource.Container) { c.Template = ptr(false) }, upd: outcome{planErr: "PVE cannot turn it back into a guest"}},
		// Raw lxc.* lines are not part of PVE's API: nobody can set or
		// delete them through it.
		{name: "ct-extra-lxc", ct: func(c *resource.Container) {
			c.Extra = map[string]string{"lxc": "lxc.cgroup2.devices.allow: c 10:200 rwm"}
		}, create: outcome{planErr: "lxc"}},
		{name: "ct-extra-timezone", states: both,
			ct:    func(c *resource.Container) { c.Extra = map[string]string{"timezone": "Europe/Berlin", "tty": "3"} },
			updCT: func(c *resource.Container) { c.Extra = map[string]string{"timezone": "UTC", "tty": "3"} },
			upd:   changed(none, pending, "timezone"),
			rmCT:  func(c *resource.Container) { c.Extra = nil }, rm: changed(none, pending, "timezone", "tty")},
	}
}

func poolFieldCases() []fieldCase {
	return []fieldCase{
		{name: "pool-comment",
			pool:    func(p *resource.Pool) { p.Comment = ptr("the team's\nguests ${x}") },
			updPool: func(p *resource.Pool) { p.Comment = ptr("another\ncomment") }, upd: changed(none, none, "comment"),
			// Leaving the comment out leaves it as it is.
			rmPool: func(p *resource.Pool) { p.Comment = nil }, rm: outcome{none: true}},
		// Clearing a comment sends "" (as JSON: a form's `comment=` would
		// mean "absent" to PVE).
		{name: "pool-comment-cleared",
			pool:    func(p *resource.Pool) { p.Comment = ptr("temporary") },
			updPool: func(p *resource.Pool) { p.Comment = ptr("") }, upd: changed(none, none, "comment")},
		{name: "pool-bare", pool: func(p *resource.Pool) {},
			updPool: func(p *resource.Pool) { p.Comment = ptr("now with a comment") }, upd: changed(none, none, "comment")},
	}
}
