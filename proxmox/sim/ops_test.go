package sim

import (
	"strings"
	"testing"
	"time"
)

func TestSnapshots(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	base := "/nodes/pve3/qemu/110"
	if st := a.wait(ok(t, a.post(base+"/snapshot", form("snapname", "before", "description", "first"))).data()); st != "OK" {
		t.Fatal(st)
	}
	ok(t, a.put(base+"/config", form("cores", "4")))
	if st := a.wait(ok(t, a.post(base+"/snapshot", form("snapname", "before"))).data()); st != "snapshot name 'before' already used" {
		t.Errorf("duplicate snapshot: %q", st)
	}
	wantParamErr(t, a.post(base+"/snapshot", form("snapname", "1bad")), "snapname", "invalid format")
	list := ok(t, a.get(base+"/snapshot", nil)).dataList(t)
	if len(list) != 2 || list[1].(map[string]any)["name"] != "current" || list[1].(map[string]any)["parent"] != "before" {
		t.Errorf("snapshots = %v", list)
	}
	sc := ok(t, a.get(base+"/snapshot/before/config", nil)).dataMap(t)
	if sc["cores"] != float64(1) {
		t.Errorf("snapshot config cores = %v", sc["cores"])
	}
	if st := a.wait(ok(t, a.post(base+"/snapshot/before/rollback", nil)).data()); st != "OK" {
		t.Fatal(st)
	}
	if c := ok(t, a.get(base+"/config", nil)).dataMap(t); c["cores"] != float64(1) || c["parent"] != "before" {
		t.Errorf("after rollback: %v", c)
	}
	if st := a.wait(ok(t, a.del(base+"/snapshot/before", nil)).data()); st != "OK" {
		t.Fatal(st)
	}
	if c := ok(t, a.get(base+"/config", nil)).dataMap(t); c["parent"] != nil {
		t.Errorf("parent left after delete: %v", c["parent"])
	}
	wantErr(t, a.del(base+"/snapshot/nope", nil), "500 snapshot 'nope' does not exist")
}

func TestTemplateCloneMigrateResize(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	// A full clone of a normal VM to another storage.
	if st := a.wait(ok(t, a.post("/nodes/pve3/qemu/110/clone", form("newid", "160", "name", "full-copy", "full", "1", "storage", "nas"))).data()); st != "OK" {
		t.Fatal(st)
	}
	c := ok(t, a.get("/nodes/pve3/qemu/160/config", nil)).dataMap(t)
	if c["virtio0"] != "nas:160/vm-160-disk-0.qcow2,size=10G" {
		t.Errorf("full clone disk = %v", c["virtio0"])
	}
	src := ok(t, a.get("/nodes/pve3/qemu/110/config", nil)).dataMap(t)
	if c["net0"] == src["net0"] {
		t.Errorf("clone kept the source MAC %v", c["net0"])
	}
	wantErr(t, a.post("/nodes/pve3/qemu/110/clone", form("newid", "161", "full", "0")), "500 Linked clone feature is not supported for drive 'scsi0'")
	wantErr(t, a.post("/nodes/pve3/qemu/110/clone", form("newid", "160")), "500 unable to create VM 160: config file already exists")
	// Template conversion renames disks to base-.
	if st := a.wait(ok(t, a.post("/nodes/pve3/qemu/160/template", nil)).data()); st != "OK" {
		t.Fatal(st)
	}
	if c := ok(t, a.get("/nodes/pve3/qemu/160/config", nil)).dataMap(t); c["template"] != float64(1) || c["virtio0"] != "nas:160/base-160-disk-0.qcow2,size=10G" {
		t.Errorf("template = %v", c)
	}
	// Resize: grow, absolute, shrink refused in the task.
	base := "/nodes/pve3/qemu/110"
	if st := a.wait(ok(t, a.put(base+"/resize", form("disk", "virtio0", "size", "+2G"))).data()); st != "OK" {
		t.Fatal(st)
	}
	if c := ok(t, a.get(base+"/config", nil)).dataMap(t); c["virtio0"] != "local-lvm:vm-110-disk-0,size=12G" {
		t.Errorf("after resize: %v", c["virtio0"])
	}
	if st := a.wait(ok(t, a.put(base+"/resize", form("disk", "virtio0", "size", "8G"))).data()); st != "shrinking disks is not supported" {
		t.Errorf("shrink: %q", st)
	}
	if st := a.wait(ok(t, a.put(base+"/resize", form("disk", "scsi5", "size", "+1G"))).data()); st != "disk 'scsi5' does not exist" {
		t.Errorf("missing disk: %q", st)
	}
	// Migrate a running VM needs online; then the node changes.
	wantErr(t, a.post("/nodes/pve1/qemu/101/migrate", form("target", "pve2")), "500 can't migrate running VM without --online")
	wantErr(t, a.post("/nodes/pve1/qemu/101/migrate", form("target", "pve1")), "500 target is local node.")
	// A running VM's local disks move only with with-local-disks: without
	// it the task fails while scanning volumes, and the VM stays.
	upid := ok(t, a.post("/nodes/pve1/qemu/101/migrate", form("target", "pve2", "online", "1"))).data()
	if st := a.wait(upid); st != "migration aborted" {
		t.Fatalf("live migration of local disks without with-local-disks: %q", st)
	}
	ok(t, a.get("/nodes/pve1/qemu/101/config", nil))
	upid = ok(t, a.post("/nodes/pve1/qemu/101/migrate", form("target", "pve2", "online", "1", "with-local-disks", "1"))).data()
	if st := a.wait(upid); st != "OK" {
		t.Fatal(st)
	}
	wantErr(t, a.get("/nodes/pve1/qemu/101/config", nil), "500 Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist")
	ok(t, a.get("/nodes/pve2/qemu/101/config", nil))
	for _, e := range ok(t, a.get("/cluster/resources", form("type", "vm"))).dataList(t) {
		if m := e.(map[string]any); m["vmid"] == float64(101) && m["node"] != "pve2" {
			t.Errorf("resources still show 101 on %v", m["node"])
		}
	}
	// LXC: a running container cannot migrate without restart.
	wantErr(t, a.post("/nodes/pve1/lxc/200/migrate", form("target", "pve3")),
		"500 lxc live migration is currently not implemented. Use --restart to migrate a running container")
}

func TestLXCCreate(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: 200 * time.Millisecond})
	a := newAPI(t, s)
	tmpl := "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz"
	wantErr(t, a.post("/nodes/pve1/lxc", form("vmid", "500", "ostemplate", "local:vztmpl/nope.tar.zst")), "500 volume 'local:vztmpl/nope.tar.zst' does not exist")
	wantParamErr(t, a.post("/nodes/pve1/lxc", form("vmid", "500")), "ostemplate", "property is missing")
	wantParamErr(t, a.post("/nodes/pve1/lxc", form("vmid", "500", "ostemplate", tmpl, "password", "abc")), "password", "at least 5 characters")
	// Feature flags other than nesting need root@pam itself, not a token.
	wantErr(t, a.post("/nodes/pve1/lxc", form("vmid", "500", "ostemplate", tmpl, "features", "keyctl=1")),
		"403 Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)")
	wantErr(t, a.post("/nodes/pve1/lxc", form("vmid", "500", "ostemplate", tmpl, "pool", "nope")), "403 Permission check failed (pool 'nope' does not exist)")
	upid := ok(t, a.post("/nodes/pve1/lxc", form("vmid", "500", "ostemplate", tmpl, "storage", "local-lvm", "rootfs", "2",
		"net0", "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,firewall=yes", "tags", "B,a", "pool", "lab", "start", "1"))).data()
	c := ok(t, a.get("/nodes/pve1/lxc/500/config", nil)).dataMap(t)
	if c["lock"] != "create" {
		t.Errorf("lock during create = %v", c["lock"])
	}
	if st := a.wait(upid); st != "OK" {
		t.Fatal(st)
	}
	c = ok(t, a.get("/nodes/pve1/lxc/500/config", nil)).dataMap(t)
	if c["rootfs"] != "local-lvm:vm-500-disk-0,size=2G" || c["hostname"] != "CT500" || c["ostype"] != "alpine" || c["tags"] != "a;b" || c["lock"] != nil {
		t.Errorf("lxc config = %v", c)
	}
	if n := c["net0"].(string); !strings.HasPrefix(n, "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:") || !strings.HasSuffix(n, ",ip=10.0.0.5/24,type=veth") {
		t.Errorf("net0 = %q", n)
	}
	st := ok(t, a.get("/nodes/pve1/lxc/500/status/current", nil)).dataMap(t)
	if st["status"] != "running" {
		t.Errorf("start=1 did not start: %v", st["status"])
	}
	ifs := ok(t, a.get("/nodes/pve1/lxc/500/interfaces", nil)).dataList(t)
	if len(ifs) != 2 || ifs[1].(map[string]any)["inet"] != "10.0.0.5/24" {
		t.Errorf("interfaces = %v", ifs)
	}
	wantParamErr(t, a.put("/nodes/pve1/lxc/500/config", form("unprivileged", "0")), "unprivileged", "read-only option")
}

func TestQemuCreateDetails(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	upid := ok(t, a.post("/nodes/pve1/qemu", form("vmid", "120", "name", "web01", "memory", "2048", "cores", "2",
		"scsihw", "virtio-scsi-single", "scsi0", "local-lvm:32,iothread=1,discard=on", "ide2", "local-lvm:cloudinit",
		"efidisk0", "local-lvm:1,efitype=4m,pre-enrolled-keys=1", "bios", "ovmf",
		"net0", "virtio,bridge=vmbr0,firewall=1", "agent", "enabled=1", "ipconfig0", "ip=10.0.0.50/24,gw=10.0.0.1",
		"ciuser", "ops", "sshkeys", "ssh-ed25519%20AAAA...%20ops%40host", "tags", "prod;Web", "onboot", "1", "pool", "prod"))).data()
	if st := a.wait(upid); st != "OK" {
		t.Fatal(st)
	}
	c := ok(t, a.get("/nodes/pve1/qemu/120/config", nil)).dataMap(t)
	want := map[string]any{
		"scsi0": "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=32G", "ide2": "local-lvm:vm-120-cloudinit,media=cdrom",
		"efidisk0": "local-lvm:vm-120-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M", "memory": "2048", "cores": float64(2),
		"onboot": float64(1), "tags": "prod;Web", "boot": "order=scsi0;net0", "sshkeys": "ssh-ed25519%20AAAA...%20ops%40host",
		"ipconfig0": "ip=10.0.0.50/24,gw=10.0.0.1", "agent": "enabled=1",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
	for _, k := range []string{"smbios1", "vmgenid", "meta", "digest"} {
		if c[k] == nil {
			t.Errorf("%s missing", k)
		}
	}
	if c["pool"] != nil {
		t.Errorf("pool is not part of the config")
	}
	wantErr(t, a.post("/nodes/pve1/qemu", form("vmid", "121", "ide3", "local-lvm:cloudinit", "scsi0", "local:4")), "500 storage 'local' does not support vm images")
	wantErr(t, a.post("/nodes/pve1/qemu", form("vmid", "121", "scsi0", "nope:4")), "500 storage 'nope' does not exist")
	// Agent interfaces for a running VM with the agent on.
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu/120/status/start", nil)).data()); st != "OK" {
		t.Fatal(st)
	}
	res := ok(t, a.get("/nodes/pve1/qemu/120/agent/network-get-interfaces", nil)).dataMap(t)["result"].([]any)
	eth0 := res[1].(map[string]any)
	addr := eth0["ip-addresses"].([]any)[0].(map[string]any)
	if addr["ip-address"] != "10.0.0.50" || addr["prefix"] != float64(24) || !strings.HasPrefix(eth0["hardware-address"].(string), "bc:24:11:") {
		t.Errorf("agent eth0 = %v", eth0)
	}
	wantErr(t, a.get("/nodes/pve3/qemu/110/agent/network-get-interfaces", nil), "500 No QEMU guest agent configured")
	wantErr(t, a.get("/nodes/pve1/qemu/113/agent/network-get-interfaces", nil), "500 Configuration file 'nodes/pve1/qemu-server/113.conf' does not exist")
	// Stop, then delete with purge: the pool membership and volumes go.
	a.wait(ok(t, a.post("/nodes/pve1/qemu/120/status/stop", nil)).data())
	if st := a.wait(ok(t, a.del("/nodes/pve1/qemu/120", form("purge", "1", "destroy-unreferenced-disks", "1"))).data()); st != "OK" {
		t.Fatal(st)
	}
	members := ok(t, a.get("/pools", form("poolid", "prod"))).dataList(t)[0].(map[string]any)["members"]
	if strings.Contains(string(mustJSON(members)), `"qemu/120"`) {
		t.Errorf("deleted VM still in pool")
	}
	if vols := ok(t, a.get("/nodes/pve1/storage/local-lvm/content", form("vmid", "120"))).dataList(t); len(vols) != 0 {
		t.Errorf("volumes left: %v", vols)
	}
}

func TestPools(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	ok(t, a.post("/pools", form("poolid", "team-x", "comment", "x")))
	wantErr(t, a.post("/pools", form("poolid", "team-x")), "500 create pool failed: pool 'team-x' already exists")
	ok(t, a.put("/pools", form("poolid", "team-x", "vms", "110,111", "storage", "nas", "allow-move", "1")))
	wantErr(t, a.put("/pools", form("poolid", "team-x", "vms", "101")), "500 VM 101 belongs already to pool 'prod' and 'allow-move' is not set")
	wantErr(t, a.put("/pools", form("poolid", "team-x", "vms", "110")), "500 VM 110 is already a pool member")
	got := ok(t, a.get("/pools", form("poolid", "team-x", "type", "qemu"))).dataList(t)[0].(map[string]any)
	if len(got["members"].([]any)) != 2 {
		t.Errorf("members = %v", got["members"])
	}
	old := ok(t, a.get("/pools/team-x", nil)).dataMap(t)
	// A shared storage is a member once per node.
	if len(old["members"].([]any)) != 5 || old["comment"] != "x" {
		t.Errorf("deprecated GET = %v", old)
	}
	wantErr(t, a.del("/pools", form("poolid", "team-x")), "500 delete pool failed: pool is not empty.")
	ok(t, a.put("/pools/team-x", form("vms", "110,111", "storage", "nas", "delete", "1")))
	ok(t, a.del("/pools", form("poolid", "team-x")))
	wantErr(t, a.get("/pools", form("poolid", "team-x")), "500 pool 'team-x' does not exist")
	if g, _ := s.Guest(110); g.Pool != "" {
		t.Errorf("110 still in pool %q", g.Pool)
	}
}

func TestCDROMAliasAndBootOrder(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	ok(t, a.put("/nodes/pve3/qemu/110/config", form("cdrom", "local:iso/debian-12.7.0-amd64-netinst.iso")))
	c := ok(t, a.get("/nodes/pve3/qemu/110/config", nil)).dataMap(t)
	if c["ide2"] != "local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom,size=631M" {
		t.Errorf("ide2 = %v", c["ide2"])
	}
	wantParamErr(t, a.put("/nodes/pve3/qemu/110/config", form("boot", "order=scsi0;net0")), "boot", "invalid bootorder: device 'scsi0' does not exist'")
	ok(t, a.put("/nodes/pve3/qemu/110/config", form("boot", "order=virtio0;ide2;net0")))
	wantErr(t, a.post("/nodes/pve1/lxc", form("vmid", "600", "ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		"rootfs", "nas:4")), "500 storage 'nas' does not support container directories")
	// LXC volumes on a directory storage are raw images; VMs get qcow2.
	seed := Empty()
	seed.Storage[0].Content += ",rootdir,images"
	s2 := Test(t, Options{Seed: seed})
	b := newAPI(t, s2)
	b.wait(ok(t, b.post("/nodes/pve1/lxc", form("vmid", "600", "ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "rootfs", "local:4"))).data())
	b.wait(ok(t, b.post("/nodes/pve1/qemu", form("vmid", "601", "scsi0", "local:4"))).data())
	if c := ok(t, b.get("/nodes/pve1/lxc/600/config", nil)).dataMap(t); c["rootfs"] != "local:600/vm-600-disk-0.raw,size=4G" {
		t.Errorf("rootfs on dir = %v", c["rootfs"])
	}
	if c := ok(t, b.get("/nodes/pve1/qemu/601/config", nil)).dataMap(t); c["scsi0"] != "local:601/vm-601-disk-0.qcow2,size=4G" {
		t.Errorf("scsi0 on dir = %v", c["scsi0"])
	}
}

func TestExtras(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	// background_delay: the task finished in time, so null comes back.
	r := ok(t, a.post("/nodes/pve3/qemu/110/config", form("cores", "2", "background_delay", "5")))
	if r.data() != nil {
		t.Errorf("background_delay reply = %v, want null", r.data())
	}
	s.FailNextTask("qmconfig", "hotplug problem")
	wantErr(t, a.post("/nodes/pve3/qemu/110/config", form("cores", "3", "background_delay", "5")), "500 hotplug problem")
	// Migration precondition.
	m := ok(t, a.get("/nodes/pve2/qemu/105/migrate", nil)).dataMap(t)
	if m["running"] != float64(1) || len(m["local_disks"].([]any)) != 2 || len(m["allowed_nodes"].([]any)) != 2 {
		t.Errorf("migrate precondition = %v", m)
	}
	// Feature: linked clones only from templates.
	if f := ok(t, a.get("/nodes/pve1/qemu/100/feature", form("feature", "clone"))).dataMap(t); f["hasFeature"] != float64(1) {
		t.Errorf("template clone feature = %v", f)
	}
	// Cloud-init values and regeneration.
	ci := ok(t, a.get("/nodes/pve1/qemu/101/cloudinit", nil)).dataList(t)
	if len(ci) < 4 {
		t.Errorf("cloudinit = %v", ci)
	}
	ok(t, a.put("/nodes/pve1/qemu/101/cloudinit", nil))
	// Storage content delete: an ISO goes, a volume in use stays.
	upid := ok(t, a.del("/nodes/pve1/storage/local/content/local:iso%2Fvirtio-win-0.1.262.iso", nil)).data()
	if !reUPID.MatchString(upid.(string)) {
		t.Errorf("imgdel UPID %q does not parse", upid)
	}
	if st := a.wait(upid); st != "OK" {
		t.Fatal(st)
	}
	for _, e := range ok(t, a.get("/nodes/pve1/storage/local/content", form("content", "iso"))).dataList(t) {
		if strings.Contains(e.(map[string]any)["volid"].(string), "virtio-win") {
			t.Errorf("ISO not deleted")
		}
	}
	wantErr(t, a.del("/nodes/pve3/storage/local-lvm/content/vm-110-disk-0", nil), "500 volume 'local-lvm:vm-110-disk-0' is still in use by VM 110 as 'virtio0'")
}
