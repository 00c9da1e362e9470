package plan

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
)

// sensitiveText stands in for a secret in every view.
const sensitiveText = "(sensitive)"

// def is one guest definition being planned.
type def struct {
	addr  resource.Address
	kind  resource.Kind
	name  string // PVE name (VM) or hostname (CT)
	node  string
	vmid  int // pinned, or 0
	pool  string
	state string
	clone *resource.Clone
	vm    *resource.VM
	ct    *resource.Container

	guest  *resource.Guest // matched live guest, nil when it must be created
	cfg    pve.Config      // compiled desired config
	change *Change         // this definition's change, if any
	depth  int             // clone chain depth, for ordering
	failed bool            // matching or compiling failed: plan nothing
}

type kindName struct {
	kind resource.Kind
	name string
}

// builder holds the state of one Make call.
type builder struct {
	opts    Options
	desired *resource.Set
	obs     *resource.Cluster
	plan    *Plan

	byVMID  map[int]*resource.Guest
	managed map[kindName][]*resource.Guest // tagged guests by kind and name
	claimed map[int]bool                   // vmids a definition accounts for
	defs    []*def
	defByVM map[string]*def // vm definitions by key, for clone sources

	poolChanges map[string]*Change
	obsPools    map[string]*resource.ObservedPool
	deletes     map[int]*Change // guest deletions by vmid
}

// Make compares the desired set with the observed cluster and returns the
// plan that brings the cluster to the desired state. Problems that stop one
// resource from being planned (an ambiguous match, a disk shrink, a
// protected guest to delete) are collected in Plan.Errors rather than
// returned; the error result is for inputs Make cannot work with at all.
func Make(desired *resource.Set, observed *resource.Cluster, opts Options) (*Plan, error) {
	if desired == nil {
		desired = resource.NewSet()
	}
	if observed == nil {
		observed = &resource.Cluster{}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	b := &builder{
		opts:        opts,
		desired:     desired,
		obs:         observed,
		plan:        &Plan{FormatVersion: FormatVersion, CreatedAt: now().UTC(), Endpoint: observed.Endpoint},
		byVMID:      make(map[int]*resource.Guest, len(observed.Guests)),
		managed:     map[kindName][]*resource.Guest{},
		claimed:     map[int]bool{},
		defByVM:     map[string]*def{},
		poolChanges: map[string]*Change{},
		obsPools:    map[string]*resource.ObservedPool{},
		deletes:     map[int]*Change{},
	}
	for i := range observed.Guests {
		g := &observed.Guests[i]
		if g.VMID <= 0 {
			return nil, fmt.Errorf("observed cluster: guest %q has no vmid", g.Name)
		}
		if _, dup := b.byVMID[g.VMID]; dup {
			return nil, fmt.Errorf("observed cluster: vmid %d appears twice", g.VMID)
		}
		b.byVMID[g.VMID] = g
		if isManaged(g) {
			k := kindName{g.Kind, guestName(g)}
			b.managed[k] = append(b.managed[k], g)
		}
	}
	for i := range observed.Pools {
		b.obsPools[observed.Pools[i].ID] = &observed.Pools[i]
	}

	b.collect()
	b.match()
	b.planPools()
	for _, d := range b.defs {
		if !d.failed {
			b.planGuest(d)
		}
	}
	b.planOrphans()
	b.planPoolDeletes()
	b.order()
	return b.plan, nil
}

func (b *builder) errorf(addr resource.Address, format string, args ...any) {
	b.plan.Errors = append(b.plan.Errors, addr.String()+": "+fmt.Sprintf(format, args...))
}

// isManaged reports whether g carries the pmpc ownership tag.
func isManaged(g *resource.Guest) bool {
	tags := g.Tags
	if tags == "" {
		tags = g.Config["tags"]
	}
	return slices.Contains(pve.ParseTags(tags), resource.ManagedTag)
}

// guestName is the name PVE shows for g (VM name or CT hostname).
func guestName(g *resource.Guest) string {
	if g.Name != "" {
		return g.Name
	}
	if g.Kind == resource.KindContainer {
		return g.Config["hostname"]
	}
	return g.Config["name"]
}

// collect turns the desired set into defs, sorted by address.
func (b *builder) collect() {
	for key, vm := range b.desired.VMs {
		if vm == nil {
			continue
		}
		name := vm.Name
		if name == "" {
			name = key
		}
		d := &def{addr: resource.Address{Kind: resource.KindVM, Name: key}, kind: resource.KindVM, name: name,
			node: vm.Node, vmid: vm.VMID, pool: vm.Pool, state: vm.State, clone: vm.Clone, vm: vm}
		b.defs = append(b.defs, d)
		b.defByVM[key] = d
	}
	for key, ct := range b.desired.Containers {
		if ct == nil {
			continue
		}
		name := ct.Hostname
		if name == "" {
			name = key
		}
		b.defs = append(b.defs, &def{addr: resource.Address{Kind: resource.KindContainer, Name: key},
			kind: resource.KindContainer, name: name, node: ct.Node, vmid: ct.VMID, pool: ct.Pool,
			state: ct.State, ct: ct})
	}
	sort.Slice(b.defs, func(i, j int) bool { return b.defs[i].addr.Less(b.defs[j].addr) })
}

// match finds the live guest of each definition: by pinned vmid first, then
// by kind and name among guests carrying the pmpc tag.
func (b *builder) match() {
	owner := map[int]*def{}
	for _, d := range b.defs {
		if d.vmid == 0 {
			continue
		}
		if o, dup := owner[d.vmid]; dup {
			b.errorf(d.addr, "vmid %d is also pinned by %s; each guest can have one definition", d.vmid, o.addr)
			d.failed = true
			continue
		}
		owner[d.vmid] = d
		b.claimed[d.vmid] = true
		g := b.byVMID[d.vmid]
		if g == nil {
			continue
		}
		if g.Kind != d.kind {
			b.errorf(d.addr, "vmid %d is a %s (%q on %s), not a %s; change the pinned vmid", d.vmid, g.Kind, guestName(g), g.Node, d.kind)
			d.failed = true
			continue
		}
		d.guest = g
	}
	for _, d := range b.defs {
		if d.vmid != 0 || d.failed {
			continue
		}
		var cands []*resource.Guest
		for _, g := range b.managed[kindName{d.kind, d.name}] {
			if _, pinned := owner[g.VMID]; !pinned {
				cands = append(cands, g)
			}
		}
		switch {
		case len(cands) == 1:
			if o := owner[cands[0].VMID]; o != nil {
				b.errorf(d.addr, "matches vmid %d, which %s also matches; pin vmid in one of them", cands[0].VMID, o.addr)
				d.failed = true
				continue
			}
			d.guest = cands[0]
			owner[cands[0].VMID] = d
			b.claimed[cands[0].VMID] = true
		case len(cands) > 1:
			ids := make([]string, len(cands))
			for i, g := range cands {
				ids[i] = strconv.Itoa(g.VMID)
				// Neither is pruned while the match is ambiguous.
				b.claimed[g.VMID] = true
			}
			sort.Strings(ids)
			b.errorf(d.addr, "%d managed %s are named %q (vmids %s); pin the one to manage with vmid",
				len(cands), kindNoun(d.kind, len(cands)), d.name, strings.Join(ids, ", "))
			d.failed = true
		}
	}
	// Clone chains: a clone is ordered after its source definition.
	for _, d := range b.defs {
		seen := map[*def]bool{}
		for cur := d; cur.clone != nil && !seen[cur]; {
			seen[cur] = true
			src := b.defByVM[cur.clone.From]
			if src == nil {
				break
			}
			d.depth++
			cur = src
		}
	}
}

// planPools plans pools defined in the workspace.
func (b *builder) planPools() {
	for _, id := range slices.Sorted(maps.Keys(b.desired.Pools)) {
		p := b.desired.Pools[id]
		addr := resource.Address{Kind: resource.KindPool, Name: id}
		comment := pve.CompilePool(p)
		o := b.obsPools[id]
		if o == nil {
			c := &Change{Address: addr, Action: ActionCreate, Disruption: DisruptionNone,
				Ops: []Op{{Kind: OpPoolCreate, Pool: id, Params: nonEmpty(map[string]string{"comment": comment})}}}
			if comment != "" {
				c.Fields = []FieldChange{{Key: "comment", After: comment, Disruption: DisruptionNone}}
			}
			b.add(c)
			b.poolChanges[id] = c
			continue
		}
		if p == nil || p.Comment == nil || comment == o.Comment {
			continue
		}
		c := &Change{Address: addr, Action: ActionUpdate, Disruption: DisruptionNone,
			Fields: []FieldChange{{Key: "comment", Before: o.Comment, After: comment, Disruption: DisruptionNone}},
			Ops:    []Op{{Kind: OpPoolUpdate, Pool: id, Params: map[string]string{"comment": comment}}}}
		b.add(c)
		b.poolChanges[id] = c
	}
}

func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func (b *builder) add(c *Change) { b.plan.Changes = append(b.plan.Changes, *c) }

// compile compiles d's desired config.
func (b *builder) compile(d *def) bool {
	if d.failed {
		return false
	}
	if d.cfg != nil {
		return true
	}
	var err error
	if d.kind == resource.KindVM {
		d.cfg, err = pve.CompileVM(d.name, d.vm)
	} else {
		d.cfg, err = pve.CompileContainer(d.name, d.ct)
	}
	if err != nil {
		b.errorf(d.addr, "%v", err)
		d.failed, d.cfg = true, nil
		return false
	}
	for k, v := range d.cfg {
		if v == "" {
			delete(d.cfg, k)
		}
	}
	return true
}

// checkPool reports whether d's pool exists or is created by this plan.
func (b *builder) checkPool(d *def) bool {
	if d.pool == "" {
		return true
	}
	if _, ok := b.desired.Pools[d.pool]; ok {
		return true
	}
	if b.obsPools[d.pool] != nil {
		return true
	}
	b.errorf(d.addr, "pool %q is neither defined in the workspace nor present in the cluster; define it in the workspace, e.g. pool: %q: {} in CUE or pool: {%s: {}} in YAML", d.pool, d.pool, d.pool)
	return false
}

// checkNode reports whether d's node is a node of the observed cluster. An
// observation without nodes (no snapshot yet) checks nothing.
func (b *builder) checkNode(d *def) bool {
	if len(b.obs.Nodes) == 0 || d.node == "" {
		return true
	}
	names := make([]string, 0, len(b.obs.Nodes))
	for _, n := range b.obs.Nodes {
		if n.Name == d.node {
			return true
		}
		names = append(names, n.Name)
	}
	slices.Sort(names)
	b.errorf(d.addr, "node %q is not a node of the cluster (it has %s); set node to one of them, or defaults.node in pmpc.cue", d.node, strings.Join(names, ", "))
	return false
}

// checkSecrets reports whether every secret a new guest's config references
// resolves now, so that a missing variable or file is a plan error rather
// than a failed apply.
func (b *builder) checkSecrets(d *def) bool {
	if b.opts.ResolveSecret == nil {
		return true
	}
	params := maps.Clone(d.cfg)
	if d.ct != nil {
		maps.Copy(params, pve.ContainerCreateParams(d.ct))
	}
	ok := true
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !pve.Sensitive(d.kind, k) {
			continue
		}
		if _, err := b.opts.ResolveSecret(resource.SecretRef(params[k])); err != nil {
			b.errorf(d.addr, "%s: resolve %s: %v", k, params[k], err)
			ok = false
		}
	}
	return ok
}

func (b *builder) planGuest(d *def) {
	if !b.compile(d) || !b.checkPool(d) || !b.checkNode(d) {
		return
	}
	var c *Change
	if d.guest == nil {
		c = b.planCreate(d)
	} else {
		c = b.planUpdate(d)
	}
	if c == nil {
		return
	}
	if pc := b.poolChanges[d.pool]; pc != nil && pc.Action == ActionCreate {
		c.DependsOn = append(c.DependsOn, pc.Address)
	}
	d.change = c
	b.add(c)
}

// field builds a FieldChange, masking sensitive values.
func field(kind resource.Kind, key, sub, before, after string, dis Disruption) FieldChange {
	f := FieldChange{Key: key, SubKey: sub, Before: before, After: after, Disruption: dis}
	if pve.Sensitive(kind, key) {
		f.Sensitive = true
		if before != "" {
			f.Before = sensitiveText
		}
		if after != "" {
			f.After = sensitiveText
		}
	}
	return f
}

// createFields lists a new guest's config as fields.
func createFields(kind resource.Kind, cfg pve.Config) []FieldChange {
	fs := make([]FieldChange, 0, len(cfg))
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fs = append(fs, field(kind, k, "", "", cfg[k], DisruptionNone))
	}
	return fs
}

func (b *builder) planCreate(d *def) *Change {
	c := &Change{Address: d.addr, Action: ActionCreate, Disruption: DisruptionNone, Node: d.node, VMID: d.vmid}
	if !b.checkSecrets(d) {
		return nil
	}
	if d.clone != nil {
		if !b.planClone(d, c) {
			return nil
		}
	} else {
		for _, k := range slices.Sorted(maps.Keys(d.cfg)) {
			if pve.NotWritable(d.kind, k) {
				b.errorf(d.addr, "%s", notWritable(d, k, 0, d.node))
				return nil
			}
		}
		params := maps.Clone(d.cfg)
		c.Fields = createFields(d.kind, d.cfg)
		if d.ct != nil {
			for k, v := range pve.ContainerCreateParams(d.ct) {
				params[k] = v
				c.Fields = append(c.Fields, field(d.kind, k, "", "", v, DisruptionNone))
			}
			sortFields(c.Fields)
		}
		c.Ops = append(c.Ops, Op{Kind: OpCreate, Params: params, Pool: d.pool})
		if d.vm != nil && d.vm.CloudInit != nil && !hasCloudInitDrive(d.cfg) {
			c.Reason = "cloudinit has no drive, so the guest will not see it: set cloudinit.drive and cloudinit.storage (e.g. ide2 on local-lvm)"
		}
	}
	if d.pool != "" {
		c.Fields = append(c.Fields, FieldChange{Key: "pool", After: d.pool, Disruption: DisruptionNone})
	}
	if d.state == "running" && !truthy(d.cfg["template"]) {
		c.Fields = append(c.Fields, FieldChange{Key: "state", After: "running", Disruption: DisruptionNone})
		c.Ops = append(c.Ops, Op{Kind: OpPower, Power: "start"})
	}
	return c
}

// hasCloudInitDrive reports whether a compiled VM config has a cloud-init
// drive (a drive slot whose volume is STORAGE:cloudinit or an existing
// vm-N-cloudinit volume).
func hasCloudInitDrive(cfg pve.Config) bool {
	for k, v := range cfg {
		if !pve.IsDriveSlot(k) {
			continue
		}
		vol, _, _ := strings.Cut(v, ",")
		if strings.HasSuffix(vol, ":cloudinit") || strings.HasSuffix(vol, "-cloudinit") {
			return true
		}
	}
	return false
}

func sortFields(fs []FieldChange) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Key != fs[j].Key {
			return fs[i].Key < fs[j].Key
		}
		return fs[i].SubKey < fs[j].SubKey
	})
}

// planClone fills c with the clone of d's template and the config update
// that turns the copy into d.
func (b *builder) planClone(d *def, c *Change) bool {
	if d.kind != resource.KindVM {
		b.errorf(d.addr, "clone is supported for VMs only")
		return false
	}
	op := Op{Kind: OpClone, Target: d.node, Pool: d.pool, Storage: d.clone.Storage}
	var src pve.Config
	var srcTemplate bool
	if id, err := strconv.Atoi(d.clone.From); err == nil {
		g := b.byVMID[id]
		if g == nil || g.Kind != resource.KindVM {
			b.errorf(d.addr, "clone source vmid %d is not a VM in the cluster", id)
			return false
		}
		op.SourceVMID, src, srcTemplate = id, g.Config, g.Template || truthy(g.Config["template"])
	} else if sd := b.defByVM[d.clone.From]; sd != nil {
		switch {
		case sd.failed:
			b.errorf(d.addr, "clone source vm.%s cannot be planned (see its error)", d.clone.From)
			return false
		case sd.guest != nil:
			op.SourceVMID, src = sd.guest.VMID, sd.guest.Config
			srcTemplate = sd.guest.Template || truthy(sd.guest.Config["template"])
		default:
			if !b.compile(sd) {
				b.errorf(d.addr, "clone source vm.%s cannot be planned (see its error)", d.clone.From)
				return false
			}
			op.SourceAddress, src, srcTemplate = sd.addr.String(), sd.cfg, truthy(sd.cfg["template"])
			c.DependsOn = append(c.DependsOn, sd.addr)
		}
	} else {
		b.errorf(d.addr, "clone source %q is neither a vm of this workspace nor a vmid", d.clone.From)
		return false
	}
	// PVE makes a linked clone of a template unless full is asked for, and
	// always a full copy of a plain VM.
	op.Full = !srcTemplate
	if d.clone.Full != nil {
		op.Full = *d.clone.Full || !srcTemplate
	}
	if g := b.byVMID[op.SourceVMID]; g != nil && g.Node != d.node && !b.cloneCanCross(d, g, op) {
		return false
	}
	set, del, resizes := map[string]string{}, []string(nil), []Op(nil)
	for _, k := range slices.Sorted(maps.Keys(d.cfg)) {
		dv := d.cfg[k]
		sv := src[k]
		if k == "template" {
			continue
		}
		if isDiskKey(d.kind, k) && sv != "" && !isCDROM(sv) {
			// The disk comes from the template; grow it if asked.
			want, have, ok := pve.DiskSizeChange(d.kind, k, dv, sv)
			if ok && want < have {
				b.errorf(d.addr, "disk %s cannot be smaller than the template's (%s < %s); PVE cannot shrink disks", k, pve.FormatSize(want), pve.FormatSize(have))
				return false
			}
			if ok && want > have {
				resizes = append(resizes, Op{Kind: OpResize, Disk: k, Size: pve.FormatSize(want)})
			}
			if rest := withoutSize(pve.Diff(d.kind, k, dv, sv)); len(rest) > 0 {
				set[k] = pve.UpdateValue(d.kind, k, dv, sv)
			}
			continue
		}
		if sv == "" || len(pve.Diff(d.kind, k, dv, sv)) > 0 {
			set[k] = pve.UpdateValue(d.kind, k, dv, sv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(src)) {
		if _, ok := d.cfg[k]; ok || src[k] == "" || k == "template" || isUnusedKey(k) ||
			pve.Ignored(d.kind, k) || pve.DefaultedByPVE(d.kind, k) {
			continue
		}
		del = append(del, k)
	}
	op.Params, op.Delete, op.Force = nonEmpty(set), del, b.opts.PurgeDisks
	if len(del) == 0 {
		op.Force = false
	}
	c.Ops = append(c.Ops, op)
	c.Ops = append(c.Ops, resizes...)
	from := d.clone.From
	if op.SourceVMID != 0 {
		from = fmt.Sprintf("%s (vmid %d)", d.clone.From, op.SourceVMID)
	}
	c.Reason = "clone of " + from
	c.Fields = append([]FieldChange{{Key: "clone", After: d.clone.From, Disruption: DisruptionNone}}, createFields(d.kind, d.cfg)...)
	return true
}

// cloneCanCross checks a clone that PVE must place on another node than its
// source's: PVE allows that only when the source's disks, or the target
// storage of a full clone, are shared. Storage the observation does not
// know is left to PVE to judge.
func (b *builder) cloneCanCross(d *def, src *resource.Guest, op Op) bool {
	shared := map[string]bool{}
	for _, st := range b.obs.Storage {
		shared[st.ID] = shared[st.ID] || st.Shared
	}
	known := func(id string) bool {
		return slices.ContainsFunc(b.obs.Storage, func(st resource.Storage) bool { return st.ID == id })
	}
	fix := fmt.Sprintf("set node: %q (the source's node), or clone to shared storage with clone: {full: true, storage: ...}", src.Node)
	if op.Storage != "" {
		if known(op.Storage) && !shared[op.Storage] {
			b.errorf(d.addr, "clone.storage %q is not shared storage, and PVE clones onto another node (%s → %s) only onto shared storage; %s",
				op.Storage, src.Node, d.node, fix)
			return false
		}
		return true
	}
	for _, k := range slices.Sorted(maps.Keys(src.Config)) {
		v := src.Config[k]
		if !isDiskKey(d.kind, k) || isUnusedKey(k) || isCDROM(v) {
			continue
		}
		id, _, ok := strings.Cut(strings.TrimPrefix(strings.SplitN(v, ",", 2)[0], "file="), ":")
		if ok && known(id) && !shared[id] {
			b.errorf(d.addr, "clone source vmid %d is on %s with disk %s on local storage %q, and PVE clones onto another node (%s) only from shared storage; %s",
				src.VMID, src.Node, k, id, d.node, fix)
			return false
		}
	}
	return true
}

func withoutSize(sub []pve.SubDiff) []pve.SubDiff {
	out := sub[:0:0]
	for _, s := range sub {
		if s.SubKey != "size" {
			out = append(out, s)
		}
	}
	return out
}

// truthy reports PVE's boolean true spellings.
func truthy(v string) bool {
	b, _ := pve.ParseBool(v)
	return b
}

// planUpdate compares d's compiled config with its live guest.
func (b *builder) planUpdate(d *def) *Change {
	g := d.guest
	obs := g.Config
	running := g.Status == "running"
	isTemplate := g.Template || truthy(obs["template"])
	c := &Change{Address: d.addr, Action: ActionUpdate, Node: g.Node, VMID: g.VMID, Digest: g.Digest}

	set := map[string]string{}
	var del []string
	var resizes []Op
	var replaceBy []string
	var detached []string
	toTemplate := false
	ok := true

	// classify returns the disruption of an edit to a running guest.
	classify := func(key, before, after string) Disruption {
		if !running {
			return DisruptionNone
		}
		dis := keyEdit{kind: d.kind, key: key, before: before, after: after, hotplugObserved: obs["hotplug"]}.disruption()
		if dis == DisruptionPending && b.opts.AllowRestart {
			return DisruptionRestart
		}
		return dis
	}

	keys := make([]string, 0, len(d.cfg)+len(obs))
	for k := range d.cfg {
		keys = append(keys, k)
	}
	for k := range obs {
		if _, in := d.cfg[k]; !in {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	// A name that is only the default (the definition's key; the schema
	// fills it in) does not name a guest PVE holds without one: import
	// cannot say "no name", and round trip is law.
	nameKey, explicitName := "name", d.vm != nil && d.vm.Name != "" && d.vm.Name != d.addr.Name
	if d.kind == resource.KindContainer {
		nameKey, explicitName = "hostname", d.ct != nil && d.ct.Hostname != "" && d.ct.Hostname != d.addr.Name
	}
	for _, key := range keys {
		dv, inD := d.cfg[key]
		ov := obs[key]
		inO := ov != ""
		if key == nameKey && !inO && !explicitName {
			continue
		}
		if key == "template" {
			switch {
			case inD && truthy(dv) && !isTemplate:
				toTemplate = true
				c.Fields = append(c.Fields, FieldChange{Key: "template", Before: ov, After: dv, Disruption: DisruptionNone,
					Note: "converted to a template (cannot be undone)"})
			case inD && !truthy(dv) && isTemplate:
				b.errorf(d.addr, "vmid %d is a template and PVE cannot turn it back into a guest; remove template: false or replace the guest", g.VMID)
				ok = false
			}
			continue
		}
		if !inD {
			// Keys fixed at creation are left alone when the spec leaves them out.
			// A secret PVE masks cannot be imported, so leaving it out of
			// the spec keeps it.
			if !inO || pve.Ignored(d.kind, key) || pve.DefaultedByPVE(d.kind, key) || isUnusedKey(key) ||
				pve.CreateOnly(d.kind, key) || pve.Sensitive(d.kind, key) || pve.NotWritable(d.kind, key) {
				continue
			}
			f := field(d.kind, key, "", ov, "", classify(key, ov, ""))
			if isDiskKey(d.kind, key) && !isCDROM(ov) {
				if b.opts.PurgeDisks {
					f.Note = "removed for good (purge)"
				} else {
					f.Note = "detached: PVE keeps the volume as unusedN"
					detached = append(detached, key)
				}
			}
			c.Fields = append(c.Fields, f)
			del = append(del, key)
			continue
		}
		if pve.Sensitive(d.kind, key) {
			changed, err := b.secretChanged(d.addr, key, dv, inO)
			if err != nil {
				b.errorf(d.addr, "%s: %v", key, err)
				ok = false
				continue
			}
			if changed {
				f := field(d.kind, key, "", ov, dv, classify(key, ov, dv))
				if inO {
					f.Note = "changed since the last apply"
				}
				c.Fields = append(c.Fields, f)
				set[key] = dv
			}
			continue
		}
		sub := pve.Diff(d.kind, key, dv, ov)
		if len(sub) == 0 {
			continue
		}
		if pve.NotWritable(d.kind, key) {
			b.errorf(d.addr, "%s", notWritable(d, key, g.VMID, g.Node))
			ok = false
			continue
		}
		if pve.CreateOnly(d.kind, key) {
			for _, s := range sub {
				f := field(d.kind, key, s.SubKey, s.Before, s.After, DisruptionReplace)
				f.ForcesReplace = true
				c.Fields = append(c.Fields, f)
			}
			replaceBy = append(replaceBy, key)
			continue
		}
		dis := classify(key, ov, dv)
		if inO && isDiskKey(d.kind, key) && !isCDROM(ov) {
			for _, s := range sub {
				if s.SubKey == "storage" {
					b.errorf(d.addr, "disk %s: moving it from storage %q to %q is not planned; move it with PVE's move disk, then plan again", key, s.Before, s.After)
					ok = false
				}
			}
			if want, have, known := pve.DiskSizeChange(d.kind, key, dv, ov); known && want != have {
				if want < have {
					b.errorf(d.addr, "disk %s cannot shrink from %s to %s; PVE cannot shrink disks (keep size %s or replace the disk)",
						key, pve.FormatSize(have), pve.FormatSize(want), pve.FormatSize(have))
					ok = false
				} else {
					resizes = append(resizes, Op{Kind: OpResize, Disk: key, Size: pve.FormatSize(want)})
					rd := DisruptionNone
					if running {
						rd = DisruptionLive // PVE grows disks of running guests online
					}
					c.Fields = append(c.Fields, FieldChange{Key: key, SubKey: "size", Before: pve.FormatSize(have),
						After: pve.FormatSize(want), Disruption: rd, Note: "grown online (resize)"})
				}
				sub = withoutSize(sub)
				if len(sub) == 0 {
					continue
				}
			}
		}
		for _, s := range sub {
			c.Fields = append(c.Fields, field(d.kind, key, s.SubKey, s.Before, s.After, dis))
		}
		set[key] = pve.UpdateValue(d.kind, key, dv, ov)
	}

	// Node and pool are not config keys.
	var migrate *Op
	if d.node != "" && d.node != g.Node {
		op := Op{Kind: OpMigrate, Target: d.node}
		dis := DisruptionNone
		if running {
			if d.kind == resource.KindVM {
				op.Params, dis = map[string]string{"online": "1"}, DisruptionLive
			} else if b.opts.AllowRestart {
				op.Params, dis = map[string]string{"restart": "1"}, DisruptionRestart
			} else {
				b.errorf(d.addr, "moving running container vmid %d from %s to %s restarts it; pass --allow-restart or stop it first", g.VMID, g.Node, d.node)
				ok = false
			}
		}
		migrate = &op
		c.Fields = append(c.Fields, FieldChange{Key: "node", Before: g.Node, After: d.node, Disruption: dis, Note: "migrated"})
	}
	var poolOps []Op
	if d.pool != "" && d.pool != g.Pool {
		if g.Pool != "" {
			poolOps = append(poolOps, Op{Kind: OpPoolMembers, Pool: g.Pool, Remove: true})
		}
		poolOps = append(poolOps, Op{Kind: OpPoolMembers, Pool: d.pool})
		c.Fields = append(c.Fields, FieldChange{Key: "pool", Before: g.Pool, After: d.pool, Disruption: DisruptionNone})
	}
	if !ok {
		return nil
	}

	if len(replaceBy) > 0 {
		return b.planReplace(d, c, replaceBy)
	}

	// The pmpc tag rides along with any config write to an adopted guest.
	if len(set)+len(del) > 0 && !isManaged(g) {
		if _, has := set["tags"]; !has {
			set["tags"] = pve.UpdateValue(d.kind, "tags", d.cfg["tags"], obs["tags"])
		}
	}

	// Values PVE already holds pending (from an earlier apply or an edit
	// elsewhere) that this change does not touch: the config matches, the
	// running guest does not. A shutdown (state: stopped) or a conversion
	// to a template takes them in at the next start anyway.
	if held := heldPending(d.kind, g, set, del); len(held) > 0 && !toTemplate && !(d.state == "stopped" && running) {
		if b.opts.AllowRestart {
			for _, k := range held {
				c.Fields = append(c.Fields, FieldChange{Key: k.Key, Before: k.Running, After: k.Pending, Sensitive: k.Sensitive,
					Disruption: DisruptionRestart, Note: "pending in PVE since an earlier change"})
			}
		} else {
			b.plan.Pending = append(b.plan.Pending, PendingGuest{Address: d.addr, VMID: g.VMID, Node: g.Node, Keys: held})
		}
	}

	pendingN := 0
	for _, f := range c.Fields {
		if f.Disruption == DisruptionPending || (f.Disruption == DisruptionRestart && f.Key != "node" && f.Key != "state") {
			pendingN++
		}
	}
	digest := g.Digest
	takeDigest := func() string { d := digest; digest = ""; return d }
	if len(set)+len(del) > 0 {
		op := Op{Kind: OpConfig, Params: nonEmpty(set), Delete: del, Digest: takeDigest()}
		if b.opts.PurgeDisks && len(del) > 0 {
			for _, k := range del {
				if isDiskKey(d.kind, k) {
					op.Force = true
				}
			}
		}
		c.Ops = append(c.Ops, op)
	}
	for i := range resizes {
		resizes[i].Digest = takeDigest()
		c.Ops = append(c.Ops, resizes[i])
	}
	c.Ops = append(c.Ops, poolOps...)

	// Power.
	var power string
	switch {
	case isTemplate || toTemplate:
	case d.state == "running" && !running:
		power = "start"
	case d.state == "stopped" && running:
		power = "shutdown"
	}
	if toTemplate {
		if running {
			c.Ops = append(c.Ops, Op{Kind: OpPower, Power: "shutdown"})
			c.Fields = append(c.Fields, FieldChange{Key: "state", Before: "running", After: "stopped", Disruption: DisruptionRestart,
				Note: "the guest is shut down: a template must be stopped"})
		}
		c.Ops = append(c.Ops, Op{Kind: OpTemplate})
	}
	if migrate != nil {
		c.Ops = append(c.Ops, *migrate)
	}
	switch power {
	case "start":
		c.Fields = append(c.Fields, FieldChange{Key: "state", Before: g.Status, After: "running", Disruption: DisruptionNone})
		c.Ops = append(c.Ops, Op{Kind: OpPower, Power: "start"})
	case "shutdown":
		c.Fields = append(c.Fields, FieldChange{Key: "state", Before: "running", After: "stopped", Disruption: DisruptionRestart,
			Note: "the guest is shut down"})
		c.Ops = append(c.Ops, Op{Kind: OpPower, Power: "shutdown"})
	default:
		if running && pendingN > 0 && b.opts.AllowRestart && !toTemplate {
			c.Ops = append(c.Ops, Op{Kind: OpPower, Power: "reboot"})
			c.Reason = fmt.Sprintf("restarted to apply %s (--allow-restart)", plural(pendingN, "change"))
		}
	}
	if running && pendingN > 0 && !b.opts.AllowRestart && power != "shutdown" {
		verb := "stay"
		if pendingN == 1 {
			verb = "stays"
		}
		c.Reason = fmt.Sprintf("%s %s pending until the guest restarts; pass --allow-restart to restart it", plural(pendingN, "change"), verb)
	}
	if len(detached) > 0 {
		r := fmt.Sprintf("removed disks are detached, not deleted: PVE keeps %s as unusedN", strings.Join(detached, ", "))
		c.Reason = joinReason(c.Reason, r)
	}
	if len(c.Ops) == 0 {
		// Nothing to send: no change.
		return nil
	}
	if g.Lock != "" {
		c.Reason = joinReason(c.Reason, fmt.Sprintf("the guest is locked (%s): apply waits for the lock to clear", g.Lock))
	}
	// Start or stop alone is its own action.
	if len(c.Ops) == 1 && c.Ops[0].Kind == OpPower && len(c.Fields) == 1 && power != "" {
		if power == "start" {
			c.Action = ActionStart
		} else {
			c.Action = ActionStop
		}
	}
	c.Disruption = DisruptionNone
	for _, f := range c.Fields {
		c.Disruption = c.Disruption.Worse(f.Disruption)
	}
	sortFields(c.Fields)
	return c
}

// heldPending lists the keys a running guest holds pending (g.Pending, from
// the observation) that the planned config write (set, del) leaves alone:
// the value it runs and the one its next start applies (the observed config
// merges pending values in; a key it lacks is pending removal).
func heldPending(kind resource.Kind, g *resource.Guest, set map[string]string, del []string) []PendingKey {
	if g.Status != "running" || len(g.Pending) == 0 {
		return nil
	}
	var out []PendingKey
	for _, k := range slices.Sorted(maps.Keys(g.Pending)) {
		if _, touched := set[k]; touched || slices.Contains(del, k) || k == "digest" {
			continue
		}
		pk := PendingKey{Key: k, Running: g.Pending[k], Pending: g.Config[k]}
		if pve.Sensitive(kind, k) {
			pk.Sensitive = true
			if pk.Running != "" {
				pk.Running = sensitiveText
			}
			if pk.Pending != "" {
				pk.Pending = sensitiveText
			}
		}
		out = append(out, pk)
	}
	return out
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// secretChanged reports whether the secret a definition references differs
// from the one recorded at the last apply. Without a recorded hash an
// existing secret is not a change: PVE masks it, so nothing can be compared.
// A secret the guest does not have yet is a change, and must resolve now.
func (b *builder) secretChanged(addr resource.Address, key, ref string, present bool) (bool, error) {
	resolve := func() (string, error) {
		v, err := b.opts.ResolveSecret(resource.SecretRef(ref))
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", ref, err)
		}
		return v, nil
	}
	if !present {
		if b.opts.ResolveSecret != nil {
			if _, err := resolve(); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	if b.opts.ResolveSecret == nil {
		return false, nil
	}
	if b.opts.CompareSecret != nil {
		v, err := resolve()
		if err != nil {
			return false, err
		}
		known, same, err := b.opts.CompareSecret(addr, key, v)
		if err != nil {
			return false, err
		}
		return known && !same, nil
	}
	if b.opts.SecretHash == nil {
		return false, nil
	}
	h, ok := b.opts.SecretHash(addr, key)
	if !ok {
		return false, nil
	}
	v, err := resolve()
	if err != nil {
		return false, err
	}
	return !SecretMatches(h, v), nil
}

// notWritable explains why a plan cannot write key (see pve.NotWritable).
func notWritable(d *def, key string, vmid int, node string) string {
	where := "the container's config file on its node"
	if vmid != 0 {
		where = fmt.Sprintf("/etc/pve/lxc/%d.conf on %s", vmid, node)
	}
	return fmt.Sprintf("extra.%s: raw lxc.* lines cannot be set through the PVE API (not even by root@pam); edit %s by hand, then import them or leave extra.%s out", key, where, key)
}

// planReplace turns c into the replacement of d's guest.
func (b *builder) planReplace(d *def, c *Change, by []string) *Change {
	g := d.guest
	if b.protected(d.addr) {
		b.errorf(d.addr, "%s forces replacing vmid %d, but pmpc.cue protects %s; replace it by hand or lift the protection", strings.Join(by, ", "), g.VMID, d.addr)
		return nil
	}
	if truthy(g.Config["protection"]) {
		b.errorf(d.addr, "%s forces replacing vmid %d, but it is protected (protection: 1); unset protection first", strings.Join(by, ", "), g.VMID)
		return nil
	}
	if d.ct != nil && d.ct.OSTemplate == "" {
		b.errorf(d.addr, "%s forces replacing vmid %d, and recreating a container needs ostemplate (PVE does not keep the template a container was made from); set ostemplate, or make the change by hand (backup, then restore with the new setting)", strings.Join(by, ", "), g.VMID)
		return nil
	}
	if !b.opts.AllowReplace {
		b.errorf(d.addr, "%s cannot change after creation: vmid %d would be destroyed with its disks and created again; pass --allow-replace to plan and apply that, or revert the change", strings.Join(by, ", "), g.VMID)
		return nil
	}
	c.Action, c.Disruption = ActionReplace, DisruptionReplace
	c.Reason = strings.Join(by, ", ") + " cannot change after creation: the guest is destroyed and created again"
	var ops []Op
	if g.Status == "running" {
		ops = append(ops, Op{Kind: OpPower, Power: "stop"})
	}
	ops = append(ops, Op{Kind: OpDelete, Purge: true})
	params := maps.Clone(d.cfg)
	if d.ct != nil {
		maps.Copy(params, pve.ContainerCreateParams(d.ct))
	}
	// The guest keeps its vmid when it is created again.
	ops = append(ops, Op{Kind: OpCreate, Params: params, Pool: d.pool})
	if d.state == "running" || (d.state == "" && g.Status == "running") {
		ops = append(ops, Op{Kind: OpPower, Power: "start"})
	}
	c.Ops = ops
	// Keep only the fields that force replacement and real edits.
	sortFields(c.Fields)
	return c
}

// planOrphans handles live guests no definition accounts for.
func (b *builder) planOrphans() {
	ids := slices.Sorted(maps.Keys(b.byVMID))
	names := map[resource.Address]bool{}
	for _, d := range b.defs {
		names[d.addr] = true
	}
	for _, id := range ids {
		g := b.byVMID[id]
		if b.claimed[id] || g.Kind == "" || g.Kind == resource.KindPool {
			continue
		}
		managed := isManaged(g)
		if !managed || !b.opts.Prune {
			b.plan.Unmanaged = append(b.plan.Unmanaged, Unmanaged{Kind: g.Kind, VMID: g.VMID, Node: g.Node,
				Name: guestName(g), Tagged: managed})
			continue
		}
		addr := resource.Address{Kind: g.Kind, Name: guestName(g)}
		if addr.Name == "" || names[addr] {
			addr.Name = fmt.Sprintf("%s#%d", addr.Name, g.VMID)
		}
		names[addr] = true
		if b.protected(addr) {
			// Kept on purpose (pmpc.cue protect): listed, never deleted.
			b.plan.Unmanaged = append(b.plan.Unmanaged, Unmanaged{Kind: g.Kind, VMID: g.VMID, Node: g.Node,
				Name: guestName(g), Tagged: true})
			continue
		}
		if truthy(g.Config["protection"]) {
			b.errorf(addr, "vmid %d left the workspace but is protected (protection: 1); not deleted: unset protection to prune it, or define it again", g.VMID)
			continue
		}
		c := &Change{Address: addr, Action: ActionDelete, Disruption: DisruptionDestroy, Node: g.Node, VMID: g.VMID,
			Digest: g.Digest, Reason: "carries the pmpc tag but left the workspace (prune)"}
		if g.Status == "running" {
			c.Ops = append(c.Ops, Op{Kind: OpPower, Power: "stop"})
		}
		c.Ops = append(c.Ops, Op{Kind: OpDelete, Purge: true})
		b.deletes[g.VMID] = c
		b.add(c)
	}
}

// planPoolDeletes deletes, with prune, pools absent from the workspace whose
// members were all pmpc guests this plan deletes: the cluster shows those
// pools were pmpc's. Other undefined pools are listed as not managed.
func (b *builder) planPoolDeletes() {
	used := map[string]bool{}
	for _, d := range b.defs {
		used[d.pool] = true
	}
	for _, id := range slices.Sorted(maps.Keys(b.obsPools)) {
		if _, ok := b.desired.Pools[id]; ok || used[id] {
			continue
		}
		p := b.obsPools[id]
		addr := resource.Address{Kind: resource.KindPool, Name: id}
		ours := b.opts.Prune && len(p.Members) > 0 && !b.protected(addr)
		var deps []resource.Address
		for _, m := range p.Members {
			dc := b.deletes[m]
			if dc == nil {
				ours = false
				break
			}
			deps = append(deps, dc.Address)
		}
		if !ours {
			b.plan.Unmanaged = append(b.plan.Unmanaged, Unmanaged{Kind: resource.KindPool, Name: id})
			continue
		}
		sort.Slice(deps, func(i, j int) bool { return deps[i].Less(deps[j]) })
		b.add(&Change{Address: addr, Action: ActionDelete, Disruption: DisruptionNone, DependsOn: deps,
			Reason: "held only pmpc guests that this plan deletes (prune)",
			Ops:    []Op{{Kind: OpPoolDelete, Pool: id}}})
	}
}

// kindNoun names n guests of kind k in prose: "VM", "containers".
func kindNoun(k resource.Kind, n int) string {
	w := string(k)
	if k == resource.KindVM {
		w = "VM"
	}
	if n != 1 {
		w += "s"
	}
	return w
}

// protected reports whether pmpc.cue's protect globs cover addr.
func (b *builder) protected(addr resource.Address) bool {
	for _, pat := range b.opts.Protect {
		if ok, _ := path.Match(pat, addr.String()); ok {
			return true
		}
	}
	return false
}
