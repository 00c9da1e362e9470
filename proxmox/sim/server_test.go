package sim

import (
	"strings"
	"testing"
)

func TestSmokeHomelab(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	v := ok(t, a.get("/version", nil)).dataMap(t)
	if v["version"] != "8.4.1" || v["release"] != "8.4" {
		t.Errorf("version = %v", v)
	}
	res := ok(t, a.get("/cluster/resources", form("type", "vm"))).dataList(t)
	if len(res) < 25 {
		t.Errorf("homelab has %d guests, want about 30", len(res))
	}
	r := ok(t, a.get("/cluster/nextid", nil))
	if id, isStr := r.data().(string); !isStr || id == "" {
		t.Errorf("nextid = %#v, want a JSON string", r.data())
	}
	upid := ok(t, a.post("/nodes/pve1/qemu", form("vmid", "300", "name", "new", "memory", "2048", "scsi0", "local-lvm:32", "net0", "virtio,bridge=vmbr0"))).data()
	if st := a.wait(upid); st != "OK" {
		t.Fatalf("create: %s", st)
	}
	conf := ok(t, a.get("/nodes/pve1/qemu/300/config", nil)).dataMap(t)
	if conf["scsi0"] != "local-lvm:vm-300-disk-0,size=32G" || !strings.HasPrefix(conf["net0"].(string), "virtio=BC:24:11:") {
		t.Errorf("config = %v", conf)
	}
}
