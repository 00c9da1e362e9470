package sim

import (
	"strings"
	"testing"
	"time"
)

// pendingKeys lists the keys GET .../pending shows with a pending value or
// a pending deletion.
func pendingKeys(t *testing.T, a *api, base string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, row := range ok(t, a.get(base+"/pending", nil)).dataList(t) {
		m := row.(map[string]any)
		if _, p := m["pending"]; p || m["delete"] != nil {
			out[m["key"].(string)] = true
		}
	}
	return out
}

// A running VM takes a change the way qemu-server's hot-plug does
// (pve-api.md §3.6 "Processing"): boot is not a fast option; ide and sata
// drives do not hot-plug (only a CD-ROM's medium changes at once, on any
// bus); a hotplug value that turns memory hot-plug on or off stays pending.
func TestRunningVMHotplugRules(t *testing.T) {
	s := Test(t, Options{Seed: Empty(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	iso := "local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom"
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu", form("vmid", "100", "name", "hot", "start", "1",
		"scsi0", "local-lvm:1", "sata0", "local-lvm:1", "ide0", "local-lvm:1", "ide2", iso, "scsi5", iso,
		"net0", "virtio,bridge=vmbr0", "hotplug", "network,disk"))).data()); st != "OK" {
		t.Fatal(st)
	}
	base := "/nodes/pve1/qemu/100"
	tests := []struct {
		name    string
		set     []string
		pending []string
	}{
		{"scsi option hot-plugs", []string{"scsi0", "local-lvm:vm-100-disk-2,size=1G,ssd=1"}, nil},
		{"sata option waits", []string{"sata0", "local-lvm:vm-100-disk-1,size=1G,ssd=1"}, []string{"sata0"}},
		{"ide option waits", []string{"ide0", "local-lvm:vm-100-disk-0,cache=none,size=1G"}, []string{"ide0"}},
		{"ide cdrom medium changes at once", []string{"ide2", "none,media=cdrom"}, nil},
		{"scsi cdrom medium changes at once", []string{"scsi5", "none,media=cdrom"}, nil},
		{"boot waits", []string{"boot", "order=ide2;scsi0"}, []string{"boot"}},
		{"hotplug without memory applies", []string{"hotplug", "network,disk,usb"}, nil},
		{"hotplug turning memory on waits", []string{"hotplug", "network,disk,memory"}, []string{"hotplug"}},
		{"deleting an ide cdrom waits", []string{"delete", "ide2"}, []string{"ide2"}},
		{"deleting a scsi disk hot-unplugs", []string{"delete", "scsi5"}, nil},
	}
	for _, tc := range tests {
		ok(t, a.put(base+"/config", form(append(tc.set, "revert", strings.Join(keysOf(pendingKeys(t, a, base)), ","))...)))
		got := pendingKeys(t, a, base)
		for _, k := range tc.pending {
			if !got[k] {
				t.Errorf("%s: %s is not pending (pending: %v)", tc.name, k, got)
			}
		}
		if len(got) != len(tc.pending) {
			t.Errorf("%s: pending %v, want %v", tc.name, got, tc.pending)
		}
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// args is root@pam's alone: a token, even root's, is refused at create and
// at update (pve-api.md §2.1, §3.6).
func TestArgsNeedsRootNotAToken(t *testing.T) {
	s := Test(t, Options{Seed: Empty(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	wantErr(t, a.post("/nodes/pve1/qemu", form("vmid", "100", "args", "-cpu host")), "500 only root can set 'args' config")
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu", form("vmid", "100"))).data()); st != "OK" {
		t.Fatal(st)
	}
	wantErr(t, a.put("/nodes/pve1/qemu/100/config", form("args", "-cpu host")), "500 only root can set 'args' config")
	wantErr(t, a.put("/nodes/pve1/qemu/100/config", form("delete", "args")), "500 only root can set 'args' config")
}

// A resize grows from the volume's real size, whatever size= the config
// records: a config update may write any size= it likes.
func TestResizeGrowsTheVolumeNotTheConfigText(t *testing.T) {
	s := Test(t, Options{Seed: Empty(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu", form("vmid", "100", "scsi0", "local-lvm:1"))).data()); st != "OK" {
		t.Fatal(st)
	}
	base := "/nodes/pve1/qemu/100"
	vol := strings.Split(ok(t, a.get(base+"/config", nil)).dataMap(t)["scsi0"].(string), ",")[0]
	ok(t, a.put(base+"/config", form("scsi0", vol+",size=3G,ssd=1")))
	if st := a.wait(ok(t, a.put(base+"/resize", form("disk", "scsi0", "size", "3G"))).data()); st != "OK" {
		t.Fatal(st)
	}
	for _, it := range ok(t, a.get("/nodes/pve1/storage/local-lvm/content", nil)).dataList(t) {
		m := it.(map[string]any)
		if m["volid"] == vol && m["size"] != float64(3<<30) {
			t.Errorf("volume %s is %v bytes after the resize, want 3G", vol, m["size"])
		}
	}
}
