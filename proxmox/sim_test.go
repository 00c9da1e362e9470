package proxmox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// connect returns a client for srv with test timings.
func connect(t testing.TB, srv *sim.Server, mod ...func(*proxmox.Config)) *proxmox.Client {
	t.Helper()
	cfg := proxmox.Config{
		Endpoint: srv.URL(), Token: srv.Token(), Fingerprint: srv.Fingerprint(),
		Retry:           proxmox.Backoff{Attempts: 6, Initial: time.Millisecond, Max: 5 * time.Millisecond},
		TaskPoll:        proxmox.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond},
		AmbiguitySettle: time.Millisecond,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := proxmox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // before the fake closes, so it need not wait for idle connections
	return c
}

func wait(t *testing.T, c *proxmox.Client, u proxmox.UPID, err error) proxmox.TaskStatus {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.WaitTask(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSimInventoryHomelab(t *testing.T) {
	seed := sim.Homelab()
	srv := sim.Test(t, sim.Options{Seed: seed})
	c := connect(t, srv)
	srv.ResetStats()
	cl, err := c.Inventory(context.Background(), proxmox.InventoryOptions{Pending: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().Total; got > int64(3+2*len(seed.Guests)) {
		t.Errorf("inventory made %d requests for %d guests", got, len(seed.Guests))
	}
	if cl.Version != seed.Version || len(cl.Nodes) != len(seed.Nodes) || len(cl.Storage) == 0 {
		t.Errorf("version %q nodes %v storage %d", cl.Version, cl.Nodes, len(cl.Storage))
	}
	if len(cl.Guests) != len(seed.Guests) {
		t.Fatalf("%d guests, seed has %d", len(cl.Guests), len(seed.Guests))
	}
	byID := map[int]resource.Guest{}
	for _, g := range cl.Guests {
		byID[g.VMID] = g
		if g.Config == nil || len(g.Digest) != 40 {
			t.Errorf("guest %d: config %v digest %q", g.VMID, g.Config != nil, g.Digest)
		}
		if _, ok := g.Config["digest"]; ok {
			t.Errorf("guest %d: digest left in config", g.VMID)
		}
	}
	for _, sg := range seed.Guests {
		g := byID[sg.VMID]
		if g.Node != sg.Node || g.Kind.PVEType() != sg.Type {
			t.Errorf("guest %d: node %s kind %s, seed %s %s", sg.VMID, g.Node, g.Kind, sg.Node, sg.Type)
		}
		// Every seed value comes back as the string PVE prints.
		for k, v := range sg.Config {
			want := fmt.Sprint(v)
			if k == "lxc" {
				continue
			}
			if got := g.Config[k]; got != want {
				t.Errorf("guest %d %s = %q, seed %q", sg.VMID, k, got, want)
			}
		}
	}
	if g := byID[100]; !g.Template || g.Config["template"] != "1" || g.Config["cores"] != "2" || g.Config["memory"] != "2048" {
		t.Errorf("template 100: %+v", g)
	}
	for _, sp := range seed.Pools {
		i := slices.IndexFunc(cl.Pools, func(p resource.ObservedPool) bool { return p.ID == sp.PoolID })
		if i < 0 {
			t.Errorf("pool %s missing", sp.PoolID)
			continue
		}
		want := slices.Clone(sp.Members)
		slices.Sort(want)
		if p := cl.Pools[i]; p.Comment != sp.Comment || !slices.Equal(p.Members, want) {
			t.Errorf("pool %s = %+v, seed %+v", sp.PoolID, p, sp)
		}
	}

	// Only what Need selects is read.
	srv.ResetStats()
	cl, err = c.Inventory(context.Background(), proxmox.InventoryOptions{Need: func(g *resource.Guest) bool { return g.VMID == 101 }})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().Total; got != 4 {
		t.Errorf("inventory of one config made %d requests, want 4", got)
	}
	for _, g := range cl.Guests {
		if (g.Config != nil) != (g.VMID == 101) {
			t.Errorf("guest %d config read = %v", g.VMID, g.Config != nil)
		}
	}
}

func TestSimGuestLifecycle(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab()})
	c := connect(t, srv)
	ctx := context.Background()

	id, err := c.NextID(ctx, 0)
	if err != nil || id < 100 {
		t.Fatalf("NextID = %d, %v", id, err)
	}
	if _, err := c.NextID(ctx, 100); !proxmox.IsAlreadyExists(err) {
		t.Errorf("NextID(100) = %v, want already exists", err)
	}

	// Create.
	u, err := c.CreateGuest(ctx, resource.KindVM, "pve1", id, map[string]string{
		"name": "web-99", "memory": "2048", "cores": "2", "scsi0": "local-lvm:4", "net0": "virtio,bridge=vmbr0,firewall=1", "onboot": "1"})
	if u.Type != "qmcreate" || u.ID != fmt.Sprint(id) || u.Node != "pve1" {
		t.Errorf("create UPID %v", u)
	}
	wait(t, c, u, err)
	cfg, digest, err := c.GuestConfig(ctx, resource.KindVM, "pve1", id)
	if err != nil {
		t.Fatal(err)
	}
	if cfg["name"] != "web-99" || cfg["cores"] != "2" || cfg["onboot"] != "1" || !strings.Contains(cfg["scsi0"], "size=4G") || !strings.HasPrefix(cfg["net0"], "virtio=") {
		t.Errorf("created config %v", cfg)
	}
	if _, err := c.CreateGuest(ctx, resource.KindVM, "pve1", id, map[string]string{"name": "dup"}); !proxmox.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want already exists", err)
	}

	// Update with the digest, then a stale digest.
	up, err := c.UpdateConfig(ctx, resource.KindVM, "pve1", id, map[string]string{"cores": "4", "description": "hello"}, []string{"onboot"}, digest)
	if err != nil || up == nil {
		t.Fatalf("update: %v %v", up, err)
	}
	wait(t, c, *up, nil)
	cfg, _, _ = c.GuestConfig(ctx, resource.KindVM, "pve1", id)
	if cfg["cores"] != "4" || cfg["description"] != "hello" || cfg["onboot"] != "" {
		t.Errorf("updated config %v", cfg)
	}
	_, err = c.UpdateConfig(ctx, resource.KindVM, "pve1", id, map[string]string{"cores": "8"}, nil, digest)
	if !proxmox.IsDigestMismatch(err) {
		t.Errorf("stale digest: %v", err)
	}
	if want := fmt.Sprintf("update vm %d on pve1: POST /nodes/pve1/qemu/%d/config: 500", id, id); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error text %q, want prefix %q", err, want)
	}

	// Resize.
	_, digest, _ = c.GuestConfig(ctx, resource.KindVM, "pve1", id)
	u, err = c.Resize(ctx, resource.KindVM, "pve1", id, "scsi0", "+2G", digest)
	wait(t, c, u, err)
	cfg, _, _ = c.GuestConfig(ctx, resource.KindVM, "pve1", id)
	if !strings.Contains(cfg["scsi0"], "size=6G") {
		t.Errorf("after resize scsi0 = %q", cfg["scsi0"])
	}

	// Power.
	u, err = c.Power(ctx, resource.KindVM, "pve1", id, "start", nil)
	wait(t, c, u, err)
	st, err := c.GuestStatus(ctx, resource.KindVM, "pve1", id)
	if err != nil || st.Status != "running" {
		t.Errorf("status after start: %+v %v", st, err)
	}
	// Starting a running VM fails inside the task, with the log's words.
	u, err = c.Power(ctx, resource.KindVM, "pve1", id, "start", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitTask(ctx, u)
	var te *proxmox.TaskError
	if !errors.As(err, &te) || !strings.Contains(te.ExitStatus, "already running") {
		t.Errorf("second start: %v", err)
	}
	u, err = c.Power(ctx, resource.KindVM, "pve1", id, "stop", map[string]string{"timeout": "10"})
	wait(t, c, u, err)

	// Migrate.
	u, err = c.Migrate(ctx, resource.KindVM, "pve1", id, "pve2", false)
	wait(t, c, u, err)
	if _, _, err := c.GuestConfig(ctx, resource.KindVM, "pve1", id); !proxmox.IsNotFound(err) {
		t.Errorf("config still on pve1 after migrate: %v", err)
	}
	rs, _ := c.Resources(ctx, "vm")
	i := slices.IndexFunc(rs, func(r proxmox.Resource) bool { return r.VMID == id })
	if i < 0 || rs[i].Node != "pve2" {
		t.Errorf("after migrate resources say %+v", rs[i])
	}

	// Template, clone, delete.
	u, err = c.ConvertToTemplate(ctx, resource.KindVM, "pve2", id)
	wait(t, c, u, err)
	u, err = c.Clone(ctx, resource.KindVM, "pve2", id, id+1, map[string]string{"name": "web-100"})
	wait(t, c, u, err)
	if cfg, _, err := c.GuestConfig(ctx, resource.KindVM, "pve2", id+1); err != nil || cfg["name"] != "web-100" {
		t.Errorf("clone: %v %v", cfg, err)
	}
	for _, v := range []int{id + 1, id} {
		u, err = c.DeleteGuest(ctx, resource.KindVM, "pve2", v, true, true)
		wait(t, c, u, err)
		if _, _, err := c.GuestConfig(ctx, resource.KindVM, "pve2", v); !proxmox.IsNotFound(err) {
			t.Errorf("guest %d after delete: %v", v, err)
		}
	}
}

func TestSimContainerUpdateIsSynchronous(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab()})
	c := connect(t, srv)
	ctx := context.Background()
	rs, err := c.Resources(ctx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rs, func(r proxmox.Resource) bool { return r.Type == "lxc" && r.Lock == "" && !r.Template })
	if i < 0 {
		t.Fatal("no container in homelab")
	}
	ct := rs[i]
	_, digest, err := c.GuestConfig(ctx, resource.KindContainer, ct.Node, ct.VMID)
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.UpdateConfig(ctx, resource.KindContainer, ct.Node, ct.VMID, map[string]string{"description": "synced"}, nil, digest)
	if err != nil || up != nil {
		t.Fatalf("lxc update: %v %v", up, err)
	}
	cfg, _, _ := c.GuestConfig(ctx, resource.KindContainer, ct.Node, ct.VMID)
	if cfg["description"] != "synced" {
		t.Errorf("description = %q", cfg["description"])
	}
	// An out-of-band edit makes the old digest stale.
	if err := srv.EditConfig(ct.VMID, "cores", "3"); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateConfig(ctx, resource.KindContainer, ct.Node, ct.VMID, map[string]string{"description": "again"}, nil, digest)
	if !proxmox.IsDigestMismatch(err) {
		t.Errorf("stale digest on lxc: %v", err)
	}
}

func TestSimLocked(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab(), TaskDuration: 300 * time.Millisecond})
	c := connect(t, srv)
	ctx := context.Background()
	// While the clone runs, the new VM is locked.
	u, err := c.Clone(ctx, resource.KindVM, "pve1", 100, 990, map[string]string{"name": "busy"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateConfig(ctx, resource.KindVM, "pve1", 990, map[string]string{"cores": "4"}, nil, "")
	if !proxmox.IsLocked(err) || !strings.Contains(err.Error(), "VM is locked (clone)") {
		t.Errorf("update during clone: %v", err)
	}
	if _, err := c.WaitTask(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err = c.UpdateConfig(ctx, resource.KindVM, "pve1", 990, map[string]string{"cores": "4"}, nil, ""); err != nil {
		t.Errorf("update after clone: %v", err)
	}
}

func TestSimFailedTaskCarriesLog(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab()})
	c := connect(t, srv)
	srv.FailNextTask("qmstart", "start failed: QEMU exited with code 1")
	u, err := c.Power(context.Background(), resource.KindVM, "pve1", 106, "start", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitTask(context.Background(), u)
	var te *proxmox.TaskError
	if !errors.As(err, &te) || te.ExitStatus != "start failed: QEMU exited with code 1" || len(te.LogTail) == 0 {
		t.Fatalf("failed task: %v (%+v)", err, te)
	}
	if !strings.HasPrefix(te.LogTail[len(te.LogTail)-1], "TASK ERROR: start failed") {
		t.Errorf("log tail %q", te.LogTail)
	}
}

func TestSimPools(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab()})
	c := connect(t, srv)
	ctx := context.Background()
	if err := c.CreatePool(ctx, "staging", "pre-prod"); err != nil {
		t.Fatal(err)
	}
	pool := func(id string) resource.ObservedPool {
		t.Helper()
		ps, err := c.Pools(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.ID == id {
				return p
			}
		}
		return resource.ObservedPool{}
	}
	rs, err := c.Resources(ctx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	free := rs[slices.IndexFunc(rs, func(r proxmox.Resource) bool { return r.Pool == "" && r.VMID > 101 })].VMID
	if err := c.UpdatePool(ctx, "staging", nil, []int{free}, nil, false); err != nil {
		t.Fatal(err)
	}
	// 101 is in prod: moving it needs allow-move.
	if err := c.UpdatePool(ctx, "staging", nil, []int{101}, nil, false); err == nil {
		t.Error("move without allow-move succeeded")
	}
	comment := "staging area"
	if err := c.UpdatePool(ctx, "staging", &comment, []int{101}, nil, true); err != nil {
		t.Fatal(err)
	}
	if p := pool("staging"); p.Comment != comment || !slices.Equal(p.Members, []int{101, free}) {
		t.Errorf("staging = %+v", p)
	}
	if slices.Contains(pool("prod").Members, 101) {
		t.Error("101 still in prod")
	}
	if err := c.DeletePool(ctx, "staging"); err == nil {
		t.Error("deleted a non-empty pool")
	}
	if err := c.UpdatePool(ctx, "staging", nil, nil, []int{101, free}, false); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePool(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	if p := pool("staging"); p.ID != "" {
		t.Errorf("pool still there: %+v", p)
	}
	if err := c.DeletePool(ctx, "staging"); !proxmox.IsNotFound(err) {
		t.Errorf("delete missing pool: %v", err)
	}
}

func TestSimAuth(t *testing.T) {
	srv := sim.Test(t, sim.Options{Password: "hunter2"})
	c := connect(t, srv, func(cfg *proxmox.Config) { cfg.Token, cfg.Username, cfg.Password = "", "root@pam", "hunter2" })
	ctx := context.Background()
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("ticket read: %v", err)
	}
	if err := c.CreatePool(ctx, "t", ""); err != nil {
		t.Fatalf("ticket write (CSRF): %v", err)
	}
	bad := connect(t, srv, func(cfg *proxmox.Config) { cfg.Token = "root@pam!pmpc=00000000-0000-0000-0000-000000000000" })
	if _, err := bad.Version(ctx); !proxmox.IsAuth(err) {
		t.Errorf("wrong token: %v", err)
	}
	perms, err := c.Permissions(ctx)
	if err != nil || perms["/"]["VM.Allocate"] != 1 {
		t.Errorf("root permissions: %v %v", perms["/"], err)
	}
}

// With faults injected (500 lock timeouts, 503s, dropped connections, failed
// tasks), reads still succeed and writes either succeed, fail as tasks, or
// say their outcome is unknown; no write is applied twice.
func TestSimFaults(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab(), FaultRate: 0.15, RandSeed: 7})
	c := connect(t, srv)
	ctx := context.Background()
	for range 3 {
		if _, err := c.Inventory(ctx, proxmox.InventoryOptions{}); err != nil {
			t.Fatalf("inventory under faults: %v", err)
		}
	}
	created := 0
	for i := range 30 {
		vmid := 500 + i
		u, err := c.CreateGuest(ctx, resource.KindVM, "pve1", vmid, map[string]string{"name": fmt.Sprintf("f-%d", i), "memory": "512"})
		if err == nil {
			_, err = c.WaitTask(ctx, u)
		}
		var te *proxmox.TaskError
		switch {
		case err == nil:
			created++
			if _, _, err := c.GuestConfig(ctx, resource.KindVM, "pve1", vmid); err != nil {
				t.Errorf("created %d but cannot read it: %v", vmid, err)
			}
		case errors.As(err, &te), proxmox.IsAmbiguous(err):
		case proxmox.IsAlreadyExists(err):
			t.Errorf("create %d was sent twice: %v", vmid, err)
		default:
			// A status poll or task-log read can exhaust its retries; the
			// write itself is done, so that is not a double apply.
			t.Logf("create %d: %v", vmid, err)
		}
	}
	if created < 15 {
		t.Errorf("only %d of 30 creates succeeded at a 15%% fault rate", created)
	}
}

func TestSimPending(t *testing.T) {
	srv := sim.Test(t, sim.Options{Seed: sim.Homelab()})
	c := connect(t, srv)
	ctx := context.Background()
	// 101 runs; cores cannot be hot-plugged, so the change waits for a restart.
	up, err := c.UpdateConfig(ctx, resource.KindVM, "pve1", 101, map[string]string{"cores": "6"}, nil, "")
	if err != nil || up == nil {
		t.Fatal(up, err)
	}
	wait(t, c, *up, nil)
	items, err := c.GuestPending(ctx, resource.KindVM, "pve1", 101)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(items, func(p proxmox.PendingItem) bool { return p.Key == "cores" })
	if i < 0 || !items[i].IsPending() || items[i].Value != "2" || items[i].Pending != "6" {
		t.Fatalf("pending rows %+v", items)
	}
	// With a Need, a guest's pending values are read when Need asks for
	// them with a non-nil Pending.
	cl, err := c.Inventory(ctx, proxmox.InventoryOptions{Pending: true, Need: func(g *resource.Guest) bool {
		if g.VMID != 101 {
			return false
		}
		g.Pending = map[string]string{}
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	g := cl.Guests[slices.IndexFunc(cl.Guests, func(g resource.Guest) bool { return g.VMID == 101 })]
	if g.Config["cores"] != "6" || g.Pending["cores"] != "2" {
		t.Errorf("config cores %q pending %v", g.Config["cores"], g.Pending)
	}
	// The API reboot applies it.
	u, err := c.Power(ctx, resource.KindVM, "pve1", 101, "reboot", nil)
	wait(t, c, u, err)
	items, _ = c.GuestPending(ctx, resource.KindVM, "pve1", 101)
	if m := proxmox.PendingMap(items); len(m) != 0 {
		t.Errorf("still pending after reboot: %v", m)
	}
}
