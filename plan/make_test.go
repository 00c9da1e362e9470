package plan

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

func caseNamed(t *testing.T, name string) testCase {
	t.Helper()
	for _, tc := range corpus() {
		if tc.name == name {
			return tc
		}
	}
	t.Fatalf("no corpus case %q", name)
	return testCase{}
}

func changeOf(t *testing.T, p *Plan, addr string) *Change {
	t.Helper()
	for i := range p.Changes {
		if p.Changes[i].Address.String() == addr {
			return &p.Changes[i]
		}
	}
	t.Fatalf("no change for %s in plan: %+v", addr, p.Changes)
	return nil
}

func fieldOf(t *testing.T, c *Change, key, sub string) FieldChange {
	t.Helper()
	for _, f := range c.Fields {
		if f.Key == key && f.SubKey == sub {
			return f
		}
	}
	t.Fatalf("%s: no field %s.%s in %+v", c.Address, key, sub, c.Fields)
	return FieldChange{}
}

func opKinds(c *Change) []OpKind {
	var ks []OpKind
	for _, o := range c.Ops {
		ks = append(ks, o.Kind)
	}
	return ks
}

func hasError(p *Plan, sub string) bool {
	return slices.ContainsFunc(p.Errors, func(e string) bool { return strings.Contains(e, sub) })
}

func TestNoChangesWhenLiveMatches(t *testing.T) {
	p := makePlan(t, caseNamed(t, "no_changes"))
	if len(p.Changes) != 0 || len(p.Errors) != 0 || len(p.Unmanaged) != 0 {
		t.Fatalf("want an empty plan (tag order and PVE's MAC are no change), got %+v", p)
	}
}

func TestDisruptionClasses(t *testing.T) {
	live := changeOf(t, makePlan(t, caseNamed(t, "update_live")), "vm.web-01")
	if live.Disruption != DisruptionLive || fieldOf(t, live, "net0", "bridge").Disruption != DisruptionLive {
		t.Errorf("update_live: %s", live.Disruption)
	}
	if op := live.Ops[0]; op.Kind != OpConfig || op.Digest == "" || !strings.HasPrefix(op.Params["net0"], "virtio=BC:24:11:2E:4A:01,") {
		t.Errorf("config op must keep PVE's MAC and carry the digest: %+v", op)
	}

	pend := changeOf(t, makePlan(t, caseNamed(t, "update_pending")), "vm.web-01")
	if pend.Disruption != DisruptionPending || fieldOf(t, pend, "cores", "").Disruption != DisruptionPending {
		t.Errorf("cores on a running VM must be pending, got %s", pend.Disruption)
	}
	if fieldOf(t, pend, "memory", "").Disruption != DisruptionLive {
		t.Error("memory with hotplug=memory must be live")
	}
	if slices.Contains(opKinds(pend), OpPower) || !strings.Contains(pend.Reason, "--allow-restart") {
		t.Errorf("without --allow-restart: no restart, and the plan says so: %+v %q", pend.Ops, pend.Reason)
	}

	rs := changeOf(t, makePlan(t, caseNamed(t, "update_restart")), "vm.web-01")
	if rs.Disruption != DisruptionRestart || rs.Ops[len(rs.Ops)-1].Power != "reboot" {
		t.Errorf("with --allow-restart: want restart + reboot, got %s %+v", rs.Disruption, rs.Ops)
	}

	st := changeOf(t, makePlan(t, caseNamed(t, "update_stopped")), "vm.web-01")
	if st.Disruption != DisruptionNone {
		t.Errorf("stopped guest: want none, got %s", st.Disruption)
	}

	rp := changeOf(t, makePlan(t, caseNamed(t, "replace")), "container.dns")
	if rp.Action != ActionReplace || rp.Disruption != DisruptionReplace || !fieldOf(t, rp, "unprivileged", "").ForcesReplace {
		t.Errorf("unprivileged must force replacement: %+v", rp)
	}
	if got := opKinds(rp); !slices.Equal(got, []OpKind{OpPower, OpDelete, OpCreate, OpPower}) {
		t.Errorf("replace ops: %v", got)
	}
}

func TestDriftRevertsAndDeletesHandAddedKeys(t *testing.T) {
	c := changeOf(t, makePlan(t, caseNamed(t, "drift")), "vm.web-01")
	if f := fieldOf(t, c, "memory", ""); f.Before != "2048" || f.After != "4096" {
		t.Errorf("memory: %+v", f)
	}
	if !slices.Equal(c.Ops[0].Delete, []string{"hookscript"}) {
		t.Errorf("hookscript added by hand must be deleted; PVE-managed keys (meta, vmgenid, smbios1, boot) must not: %+v", c.Ops[0])
	}
}

func TestPrune(t *testing.T) {
	off := makePlan(t, caseNamed(t, "prune_off"))
	if len(off.Changes) != 0 {
		t.Fatalf("without prune nothing is deleted: %+v", off.Changes)
	}
	if i := slices.IndexFunc(off.Unmanaged, func(u Unmanaged) bool { return u.VMID == 101 }); i < 0 || !off.Unmanaged[i].Tagged {
		t.Errorf("old-web must be listed as tagged unmanaged: %+v", off.Unmanaged)
	}

	on := makePlan(t, caseNamed(t, "prune_on"))
	del := changeOf(t, on, "vm.old-web")
	if del.Action != ActionDelete || !slices.Equal(opKinds(del), []OpKind{OpPower, OpDelete}) {
		t.Errorf("old-web: %+v", del)
	}
	if !hasError(on, "vm.vault") || slices.ContainsFunc(on.Changes, func(c Change) bool { return c.VMID == 102 }) {
		t.Errorf("a protected guest is an error, not a delete: %v", on.Errors)
	}
	if slices.ContainsFunc(on.Changes, func(c Change) bool { return c.VMID == 150 }) {
		t.Error("an untagged guest must never be deleted")
	}
	pool := changeOf(t, on, "pool.retired")
	if last := on.Changes[len(on.Changes)-1]; last.Address != pool.Address || !slices.Contains(pool.DependsOn, del.Address) {
		t.Errorf("the pool goes last, after its member: %+v", on.Changes)
	}
	if slices.ContainsFunc(on.Changes, func(c Change) bool { return c.Address.Name == "handmade" }) {
		t.Error("a pool with no sign of pmpc must not be pruned")
	}
}

func TestCloneAndOrder(t *testing.T) {
	p := makePlan(t, caseNamed(t, "clone"))
	var order []string
	for _, c := range p.Changes {
		order = append(order, c.Address.String())
	}
	if want := []string{"vm.tmpl-alma", "vm.app-01", "vm.app-02"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	a := changeOf(t, p, "vm.app-01")
	if a.Ops[0].Kind != OpClone || a.Ops[0].SourceVMID != 9000 || a.Ops[0].Full {
		t.Errorf("app-01 is a linked clone of vmid 9000: %+v", a.Ops[0])
	}
	if a.Ops[1].Kind != OpResize || a.Ops[1].Size != "64G" {
		t.Errorf("app-01 grows its disk after cloning: %+v", a.Ops)
	}
	b := changeOf(t, p, "vm.app-02")
	if b.Ops[0].SourceAddress != "vm.tmpl-alma" || !slices.Contains(b.DependsOn, resource.Address{Kind: resource.KindVM, Name: "tmpl-alma"}) {
		t.Errorf("app-02 clones the template this plan creates: %+v", b)
	}
}

func TestPoolMoves(t *testing.T) {
	p := makePlan(t, caseNamed(t, "pool_move"))
	if p.Changes[0].Address.String() != "pool.prod" {
		t.Fatalf("pools are created first: %+v", p.Changes)
	}
	c := changeOf(t, p, "vm.web-01")
	if len(c.Ops) != 2 || c.Ops[0].Pool != "staging" || !c.Ops[0].Remove || c.Ops[1].Pool != "prod" || c.Ops[1].Remove {
		t.Errorf("move = remove from staging, add to prod: %+v", c.Ops)
	}
	if !slices.Contains(c.DependsOn, resource.Address{Kind: resource.KindPool, Name: "prod"}) {
		t.Errorf("web-01 depends on pool.prod: %v", c.DependsOn)
	}
}

func TestDisks(t *testing.T) {
	p := makePlan(t, caseNamed(t, "disks"))
	c := changeOf(t, p, "vm.web-01")
	if !slices.Contains(c.Ops[0].Delete, "scsi1") || c.Ops[0].Force {
		t.Errorf("removed disk is detached (delete without force): %+v", c.Ops[0])
	}
	if slices.Contains(c.Ops[0].Delete, "unused0") {
		t.Error("unused volumes are never deleted implicitly")
	}
	if r := c.Ops[1]; r.Kind != OpResize || r.Disk != "scsi0" || r.Size != "64G" {
		t.Errorf("growth is a resize: %+v", c.Ops)
	}
	if !hasError(p, "vm.web-02: disk scsi0 cannot shrink") {
		t.Errorf("shrink must be an error: %v", p.Errors)
	}
	if slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Address.Name == "web-02" }) {
		t.Error("a guest with a shrink error gets no change")
	}
	purge := changeOf(t, makePlan(t, caseNamed(t, "disk_purge")), "vm.web-01")
	if !purge.Ops[0].Force {
		t.Errorf("with purge the delete is forced: %+v", purge.Ops[0])
	}
}

func TestSecrets(t *testing.T) {
	p := makePlan(t, caseNamed(t, "secret_change"))
	if len(p.Changes) != 1 {
		t.Fatalf("only web-01's recorded hash differs; want 1 change, got %+v", p.Changes)
	}
	c := changeOf(t, p, "vm.web-01")
	f := fieldOf(t, c, "cipassword", "")
	if !f.Sensitive || f.After != "(sensitive)" || c.Ops[0].Params["cipassword"] != "env:CI_PASSWORD" {
		t.Errorf("secret field must be masked and the op hold the reference: %+v %+v", f, c.Ops[0])
	}
	var out bytes.Buffer
	for _, format := range Formats {
		v, _ := NewView(format, ViewOptions{})
		if err := v.Render(&out, p); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "new-password") || strings.Contains(out.String(), "old-password") {
		t.Error("a resolved secret leaked into a view")
	}
}

func TestHashSecret(t *testing.T) {
	h := HashSecret("s1", "pw")
	if !SecretMatches(h, "pw") || SecretMatches(h, "pw2") || SecretMatches("garbage", "pw") {
		t.Error("SecretMatches")
	}
	if HashSecret("s2", "pw") == h {
		t.Error("different salts must give different hashes")
	}
	if strings.Contains(HashSecret("s", "hunter2"), "hunter2") {
		t.Error("the hash holds the secret in clear")
	}
}

func TestMatchErrors(t *testing.T) {
	p := makePlan(t, caseNamed(t, "match_errors"))
	if !hasError(p, "pin the one to manage with vmid") || !hasError(p, "is a vm") {
		t.Errorf("errors: %v", p.Errors)
	}
	if len(p.Changes) != 0 {
		t.Errorf("ambiguous guests must not be created again or pruned: %+v", p.Changes)
	}
}

func TestMarkdownCap(t *testing.T) {
	out := render(t, "markdown", ViewOptions{}, makePlan(t, caseNamed(t, "huge")))
	if len(out) > DefaultMarkdownLimit {
		t.Errorf("markdown is %d characters, over the %d cap", len(out), DefaultMarkdownLimit)
	}
	if !bytes.Contains(out, []byte("pmpc plan -o text")) || !bytes.Contains(out, []byte("pmpc plan -o json")) {
		t.Error("a capped plan must say how to see the rest")
	}
	small := render(t, "markdown", ViewOptions{}, makePlan(t, caseNamed(t, "create")))
	if bytes.Contains(small, []byte("too long")) {
		t.Error("a small plan is not capped")
	}
}

func TestDeterministic(t *testing.T) {
	for _, tc := range corpus() {
		a := render(t, "json", ViewOptions{}, makePlan(t, tc))
		for range 3 {
			if b := render(t, "json", ViewOptions{}, makePlan(t, tc)); !bytes.Equal(a, b) {
				t.Fatalf("%s: two plans of the same inputs differ", tc.name)
			}
		}
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	p := makePlan(t, caseNamed(t, "update_live"))
	if bytes.Contains(render(t, "text", ViewOptions{}, p), []byte("\x1b[")) {
		t.Error("colour without Color")
	}
	if !bytes.Contains(render(t, "text", ViewOptions{Color: true}, p), []byte("\x1b[")) {
		t.Error("no colour with Color")
	}
}

func TestProtectGlobsKeepGuestsFromPrune(t *testing.T) {
	tc := caseNamed(t, "prune_on")
	tc.opts.Protect = []string{"vm.old-*"}
	p := makePlan(t, tc)
	if slices.ContainsFunc(p.Changes, func(c Change) bool { return c.VMID == 101 || c.Address.Kind == resource.KindPool }) {
		t.Errorf("protected by glob: no delete of old-web nor of its pool: %+v", p.Changes)
	}
	if !slices.ContainsFunc(p.Unmanaged, func(u Unmanaged) bool { return u.VMID == 101 && u.Tagged }) {
		t.Errorf("old-web is listed instead: %+v", p.Unmanaged)
	}
	rp := caseNamed(t, "replace")
	rp.opts.Protect = []string{"container.*"}
	if p := makePlan(t, rp); len(p.Changes) != 0 || !hasError(p, "pmpc.cue protects container.dns") {
		t.Errorf("a protected guest is not replaced: %+v %v", p.Changes, p.Errors)
	}
}

func TestCompareSecret(t *testing.T) {
	tc := caseNamed(t, "secret_change")
	recorded := map[string]string{"web-01": "old-password", "web-02": "new-password"}
	tc.opts.SecretHash = nil
	tc.opts.CompareSecret = func(a resource.Address, key, value string) (bool, bool, error) {
		v, ok := recorded[a.Name]
		return ok, ok && v == value, nil
	}
	p := makePlan(t, tc)
	if len(p.Changes) != 1 || p.Changes[0].Address.Name != "web-01" {
		t.Errorf("only web-01's secret changed: %+v", p.Changes)
	}
}

func TestCompileErrorIsAPlanError(t *testing.T) {
	s := resource.NewSet()
	bad := webVM()
	bad.Extra = map[string]string{"cores": "8"} // also set by the cores field
	s.VMs["tmpl"] = bad
	clone := webVM()
	clone.Clone = &resource.Clone{From: "tmpl"}
	s.VMs["app"] = clone
	p, err := Make(s, cluster(), Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 || len(p.Errors) != 2 || !hasError(p, "vm.tmpl: ") || !hasError(p, "vm.app: clone source vm.tmpl cannot be planned") {
		t.Errorf("want one error each for the bad template and its clone: %+v %q", p.Changes, p.Errors)
	}
}

// TestCloneOntoAnotherNodeNeedsSharedStorage: PVE clones onto another node
// only from (or, for a full clone, onto) shared storage; the plan says so
// before apply tries, and names both ways out.
func TestCloneOntoAnotherNodeNeedsSharedStorage(t *testing.T) {
	tmpl := guest(resource.KindVM, 9000, "tmpl", "stopped", "", webCfg())
	tmpl.Template = true
	obs := cluster(tmpl)
	obs.Storage = []resource.Storage{
		{ID: "local-lvm", Node: "pve1", Type: "lvmthin"}, {ID: "local-lvm", Node: "pve2", Type: "lvmthin"},
		{ID: "nas", Node: "pve1", Type: "nfs", Shared: true}, {ID: "nas", Node: "pve2", Type: "nfs", Shared: true},
	}
	for _, tc := range []struct {
		name  string
		node  string
		clone resource.Clone
		want  string // "" for no error
	}{
		{"same node", "pve1", resource.Clone{From: "9000"}, ""},
		{"other node from local disks", "pve2", resource.Clone{From: "9000"},
			`vm.web-02: clone source vmid 9000 is on pve1 with disk scsi0 on local storage "local-lvm", and PVE clones onto another node (pve2) only from shared storage; set node: "pve1"`},
		{"full clone onto local storage", "pve2", resource.Clone{From: "9000", Full: ptr(true), Storage: "local-lvm"},
			`vm.web-02: clone.storage "local-lvm" is not shared storage, and PVE clones onto another node (pve1 → pve2) only onto shared storage`},
		{"full clone onto shared storage", "pve2", resource.Clone{From: "9000", Full: ptr(true), Storage: "nas"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired := set(func(s *resource.Set) {
				s.VMs["web-02"] = &resource.VM{Node: tc.node, Clone: &tc.clone, Cores: ptr(2)}
			})
			p, err := Make(desired, obs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(p.Errors) > 0:
				t.Errorf("unexpected plan errors: %q", p.Errors)
			case tc.want != "" && (len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0], tc.want)):
				t.Errorf("plan errors %q, want one starting %q", p.Errors, tc.want)
			}
		})
	}
}

// TestNodeMustBeInCluster: a definition naming a node the cluster does not
// have is a plan error (not a create or migration that PVE refuses at apply),
// and the error lists the nodes there are.
func TestNodeMustBeInCluster(t *testing.T) {
	obs := cluster(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", webCfg()))
	obs.Nodes = []resource.Node{{Name: "pve2", Status: "online"}, {Name: "pve1", Status: "online"}}
	desired := set(func(s *resource.Set) {
		moved := webVM()
		moved.Node = "pve9"
		s.VMs["web-01"] = moved
		ct := dnsCT()
		ct.Node = "pve7"
		s.Containers["dns"] = ct
		ok := webVM()
		ok.Node = "pve2"
		s.VMs["web-02"] = ok
	})
	p, err := Make(desired, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`container.dns: node "pve7" is not a node of the cluster (it has pve1, pve2); set node to one of them, or defaults.node in pmpc.cue`,
		`vm.web-01: node "pve9" is not a node of the cluster (it has pve1, pve2); set node to one of them, or defaults.node in pmpc.cue`,
	}
	got := slices.Sorted(slices.Values(p.Errors))
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%q\nwant\n%q", got, want)
	}
	if len(p.Changes) != 1 || p.Changes[0].Address.Name != "web-02" {
		t.Errorf("only web-02, on a real node, is planned: %+v", p.Changes)
	}
}

// TestUnresolvableSecretIsAPlanError: a secret reference that does not
// resolve (an unset variable) stops the plan of a new guest, and of an
// existing guest that gets the secret for the first time, instead of
// failing at apply.
func TestUnresolvableSecretIsAPlanError(t *testing.T) {
	unset := func(ref resource.SecretRef) (string, error) {
		return "", fmt.Errorf("environment variable %s is not set", strings.TrimPrefix(string(ref), "env:"))
	}
	desired := set(func(s *resource.Set) {
		vm := webVM()
		vm.CloudInit = &resource.CloudInit{Drive: "ide2", Storage: "local-lvm", User: "ops", Password: "env:NEW_PW"}
		s.VMs["web-02"] = vm
		old := webVM()
		old.CloudInit = &resource.CloudInit{User: "ops", Password: "env:OLD_PW"}
		s.VMs["web-01"] = old
		ct := dnsCT()
		ct.Password = "env:CT_PW"
		s.Containers["dns"] = ct
	})
	obs := cluster(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"ciuser": "ops"})))
	p, err := Make(desired, obs, Options{ResolveSecret: unset})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"container.dns: password: resolve env:CT_PW: environment variable CT_PW is not set",
		"vm.web-01: cipassword: resolve env:OLD_PW: environment variable OLD_PW is not set",
		"vm.web-02: cipassword: resolve env:NEW_PW: environment variable NEW_PW is not set",
	}
	if got := slices.Sorted(slices.Values(p.Errors)); !slices.Equal(got, want) {
		t.Errorf("errors:\n%q\nwant\n%q", got, want)
	}
	if len(p.Changes) != 0 {
		t.Errorf("nothing is planned for guests whose secret does not resolve: %+v", p.Changes)
	}

	set := func(ref resource.SecretRef) (string, error) { return "pw", nil }
	p, err = Make(desired, obs, Options{ResolveSecret: set})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 0 || len(p.Changes) != 3 {
		t.Errorf("with the secrets set all three are planned: %q %+v", p.Errors, p.Changes)
	}
}

// TestCloudInitWithoutDriveIsNoted: a new VM whose cloudinit has no drive
// would never see its cloud-init settings; the plan says so and how to fix
// it. A drive, or a clone (whose template has one), needs no note.
func TestCloudInitWithoutDriveIsNoted(t *testing.T) {
	tmpl := guest(resource.KindVM, 9000, "tmpl", "stopped", "", with(webCfg(), map[string]string{"ide2": "local-lvm:vm-9000-cloudinit,media=cdrom"}))
	tmpl.Template = true
	desired := set(func(s *resource.Set) {
		bare := webVM()
		bare.CloudInit = &resource.CloudInit{User: "ops"}
		s.VMs["bare"] = bare
		drive := webVM()
		drive.CloudInit = &resource.CloudInit{Drive: "ide2", Storage: "local-lvm", User: "ops"}
		s.VMs["drive"] = drive
		s.VMs["clone"] = &resource.VM{Node: "pve1", Clone: &resource.Clone{From: "9000"}, CloudInit: &resource.CloudInit{User: "ops"}}
	})
	p, err := Make(desired, cluster(tmpl), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := changeOf(t, p, "vm.bare").Reason; !strings.Contains(r, "set cloudinit.drive and cloudinit.storage") {
		t.Errorf("bare: reason %q", r)
	}
	for _, addr := range []string{"vm.drive", "vm.clone"} {
		if r := changeOf(t, p, addr).Reason; strings.Contains(r, "cloudinit") {
			t.Errorf("%s: reason %q", addr, r)
		}
	}
}

// TestUndefinedPoolSaysHowToDefineIt: the error names the pool and shows
// the definition in both CUE and YAML, the two formats people write.
func TestUndefinedPoolSaysHowToDefineIt(t *testing.T) {
	desired := set(func(s *resource.Set) {
		vm := webVM()
		vm.Pool = "apps"
		s.VMs["web-01"] = vm
	})
	p, err := Make(desired, cluster(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `vm.web-01: pool "apps" is neither defined in the workspace nor present in the cluster; define it in the workspace, e.g. pool: "apps": {} in CUE or pool: {apps: {}} in YAML`
	if len(p.Errors) != 1 || p.Errors[0] != want || len(p.Changes) != 0 {
		t.Errorf("errors %q, changes %+v; want only %q", p.Errors, p.Changes, want)
	}
}
