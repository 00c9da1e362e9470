package pve

import (
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// Strings exactly as PVE returns them: printing a parse gives them back.
var pveStrings = []struct {
	name   string
	format Format
	s      string
	get    map[string]string
}{
	{"qemu net with MAC", QemuNet, "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1",
		map[string]string{"model": "virtio", "macaddr": "BC:24:11:5E:0A:7C", "bridge": "vmbr0", "firewall": "1"}},
	{"qemu net all keys", QemuNet, "e1000=BC:24:11:AA:BB:02,bridge=vmbr1,firewall=0,link_down=1,mtu=1500,queues=4,rate=12.5,tag=20,trunks=10;20-30",
		map[string]string{"model": "e1000", "rate": "12.5", "trunks": "10;20-30", "tag": "20"}},
	{"lxc net", LXCNet, "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:12:34:56,ip=10.0.0.5/24,type=veth",
		map[string]string{"name": "eth0", "hwaddr": "BC:24:11:12:34:56", "type": "veth"}},
	{"drive allocated", Drive, "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=32G",
		map[string]string{"file": "local-lvm:vm-120-disk-0", "volume": "local-lvm:vm-120-disk-0", "size": "32G", "discard": "on"}},
	{"drive dir storage", Drive, "local:120/vm-120-disk-0.qcow2,size=32G", map[string]string{"file": "local:120/vm-120-disk-0.qcow2"}},
	{"cdrom none", Drive, "none,media=cdrom", map[string]string{"file": "none", "media": "cdrom"}},
	{"cdrom iso", Drive, "local:iso/debian-12.iso,media=cdrom,size=628M", map[string]string{"file": "local:iso/debian-12.iso"}},
	{"cloud-init drive", Drive, "local-lvm:vm-120-cloudinit,media=cdrom", map[string]string{"file": "local-lvm:vm-120-cloudinit"}},
	{"passthrough disk", Drive, "/dev/disk/by-id/ata-X,backup=0,size=500G", map[string]string{"file": "/dev/disk/by-id/ata-X", "backup": "0"}},
	{"drive limits", Drive, "rbd:vm-140-disk-2,cache=none,iops_rd=500,mbps_wr=100.5,size=100G", map[string]string{"mbps_wr": "100.5"}},
	{"unused", Drive, "local-lvm:vm-120-disk-1", map[string]string{"file": "local-lvm:vm-120-disk-1"}},
	{"efidisk", EFIDisk, "local-lvm:vm-130-disk-0,efitype=4m,pre-enrolled-keys=1,size=4M", map[string]string{"efitype": "4m"}},
	{"tpmstate", TPMState, "local-lvm:vm-130-disk-1,size=4M,version=v2.0", map[string]string{"version": "v2.0"}},
	{"rootfs", LXCMount, "local-lvm:vm-101-disk-0,size=8G", map[string]string{"volume": "local-lvm:vm-101-disk-0", "size": "8G"}},
	{"mount point", LXCMount, "local-lvm:vm-101-disk-1,mp=/srv/data,backup=1,size=32G", map[string]string{"mp": "/srv/data", "backup": "1"}},
	{"mount options", LXCMount, "local-zfs:subvol-101-disk-2,mp=/var/lib/db,acl=1,mountoptions=noatime;nodev,size=16G",
		map[string]string{"mountoptions": "noatime;nodev"}},
	{"bind mount", LXCMount, "/mnt/pve/nas/media,mp=/media,ro=1", map[string]string{"volume": "/mnt/pve/nas/media"}},
	{"ipconfig as sent", IPConfig, "ip=10.0.0.50/24,gw=10.0.0.1", map[string]string{"ip": "10.0.0.50/24", "gw": "10.0.0.1"}},
	{"ipconfig order kept", IPConfig, "ip6=auto,ip=10.1.0.5/16,gw=10.1.0.1", map[string]string{"ip6": "auto"}},
	{"agent bare", Agent, "1", map[string]string{"enabled": "1"}},
	{"agent bare with options", Agent, "1,fstrim_cloned_disks=1", map[string]string{"enabled": "1", "fstrim_cloned_disks": "1"}},
	{"agent keyed", Agent, "enabled=1,fstrim_cloned_disks=1,freeze-fs-on-backup=0,type=virtio", map[string]string{"type": "virtio"}},
	{"boot order", Boot, "order=scsi0;ide2;net0", map[string]string{"order": "scsi0;ide2;net0"}},
	{"boot legacy", Boot, "cdn", map[string]string{"legacy": "cdn"}},
	{"startup", Startup, "order=2,up=30,down=60", map[string]string{"order": "2", "down": "60"}},
	{"features", Features, "nesting=1,keyctl=1", map[string]string{"nesting": "1"}},
	{"features mount", Features, "fuse=1,mknod=1,mount=nfs;cifs,force_rw_sys=1", map[string]string{"mount": "nfs;cifs"}},
	{"memory plain", Memory, "2048", map[string]string{"current": "2048"}},
	{"memory current", Memory, "current=4096", map[string]string{"current": "4096"}},
	{"cicustom", CICustom, "user=local:snippets/u.yaml,network=local:snippets/n.yaml", map[string]string{"user": "local:snippets/u.yaml"}},
	{"generic hostpci", Generic, "0000:01:00,pcie=1,x-vga=1", map[string]string{"": "0000:01:00", "pcie": "1"}},
	{"generic numa", Generic, "cpus=0-3,hostnodes=0,memory=4096,policy=bind", map[string]string{"policy": "bind"}},
	{"generic meta", Generic, "creation-qemu=8.1.5,ctime=1727046066", map[string]string{"ctime": "1727046066"}},
}

func TestPropsRoundTripPVEStrings(t *testing.T) {
	for _, tc := range pveStrings {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProps(tc.format, tc.s)
			if err != nil {
				t.Fatalf("ParseProps(%v, %q): %v", tc.format, tc.s, err)
			}
			if got := p.String(); got != tc.s {
				t.Errorf("String() = %q, want %q", got, tc.s)
			}
			for k, want := range tc.get {
				if got, ok := p.Get(k); !ok || got != want {
					t.Errorf("Get(%q) = %q, %v; want %q", k, got, ok, want)
				}
			}
		})
	}
}

// Input forms PVE accepts, and the canonical string it stores for them.
func TestPropsCanonicalOrder(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   string
	}{
		{"net model key and macaddr", QemuNet, "model=virtio,macaddr=BC:24:11:AA:BB:CC,bridge=vmbr0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0"},
		{"net bare model", QemuNet, "firewall=1,virtio,bridge=vmbr0", "virtio,bridge=vmbr0,firewall=1"},
		{"net keys sorted", QemuNet, "virtio=BC:24:11:AA:BB:CC,tag=20,rate=12.5,bridge=vmbr0,firewall=1", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,rate=12.5,tag=20"},
		{"lxc net name first", LXCNet, "bridge=vmbr0,ip=dhcp,name=eth0", "name=eth0,bridge=vmbr0,ip=dhcp"},
		{"drive volume alias", Drive, "iothread=1,volume=local-lvm:32,discard=on", "local-lvm:32,discard=on,iothread=1"},
		{"drive file key", Drive, "file=local-lvm:vm-1-disk-0,size=1G", "local-lvm:vm-1-disk-0,size=1G"},
		{"mount mp after volume", LXCMount, "size=8G,mp=/data,local-lvm:vm-1-disk-1", "local-lvm:vm-1-disk-1,mp=/data,size=8G"},
		{"empty parts skipped", Drive, "local-lvm:1,,ssd=1,", "local-lvm:1,ssd=1"},
		{"agent keyed default stays keyed", Agent, "enabled=1", "enabled=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProps(tc.format, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePropsErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   string
	}{
		{"unknown key", QemuNet, "virtio,bridge=vmbr0,colour=red", `unknown key "colour"`},
		{"duplicate key", Drive, "local-lvm:1,ssd=1,ssd=0", `duplicate key "ssd"`},
		{"duplicate via alias", Drive, "file=a:1,volume=b:1", `duplicate key "file"`},
		{"duplicate model", QemuNet, "virtio=AA:BB:CC:DD:EE:FF,e1000=AA:BB:CC:DD:EE:FF", `duplicate key "model"`},
		{"model twice bare", QemuNet, "virtio,model=e1000", `duplicate key "model"`},
		{"two bare values", Drive, "local-lvm:1,local-lvm:2", `duplicate key "file"`},
		{"unknown nic model", QemuNet, "virtual,bridge=vmbr0", `unknown model "virtual"`},
		{"bare value without default key", LXCNet, "eth0,bridge=vmbr0", `value "eth0" without a key`},
		{"bad boolean", Drive, "local-lvm:1,ssd=maybe", `"maybe" is not a boolean`},
		{"empty value", Drive, "local-lvm:1,cache=", `key "cache" has no value`},
		{"empty key", Generic, "=x", "empty key"},
		{"closed ipconfig", IPConfig, "ip=dhcp,dns=1.1.1.1", `unknown key "dns"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProps(tc.format, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseProps(%v, %q) error = %v, want it to mention %s", tc.format, tc.in, err, tc.want)
			}
		})
	}
}

func TestParsePropsBooleanSpellings(t *testing.T) {
	for _, v := range []string{"1", "0", "on", "off", "yes", "no", "true", "false", "TRUE", "Off"} {
		if _, err := ParseProps(Drive, "local-lvm:1,ssd="+v); err != nil {
			t.Errorf("ssd=%s: %v", v, err)
		}
	}
}

func TestGenericAcceptsAnyKey(t *testing.T) {
	p, err := ParseProps(Generic, "host=1234:5678,usb3=1,whatever=x")
	if err != nil {
		t.Fatal(err)
	}
	if p.Value("whatever") != "x" || p.Len() != 3 {
		t.Errorf("got %v", p.Map())
	}
}

func TestPropsSetDel(t *testing.T) {
	p, err := ParseProps(Drive, "local-lvm:vm-1-disk-0,iothread=1,size=32G")
	if err != nil {
		t.Fatal(err)
	}
	p.Set("volume", "local-lvm:vm-1-disk-9")
	p.Set("cache", "writeback")
	p.Del("iothread")
	p.Set("size", "")
	if got, want := p.String(), "local-lvm:vm-1-disk-9,cache=writeback"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := strings.Join(p.Keys(), ","), "file,cache"; got != want {
		t.Errorf("Keys() = %q, want %q", got, want)
	}

	n := NewProps(QemuNet)
	n.Set("bridge", "vmbr0")
	n.Set("model", "virtio")
	if got, want := n.String(), "virtio,bridge=vmbr0"; got != want {
		t.Errorf("net without MAC = %q, want %q", got, want)
	}
	n.Set("macaddr", "BC:24:11:00:00:01")
	if got, want := n.String(), "virtio=BC:24:11:00:00:01,bridge=vmbr0"; got != want {
		t.Errorf("net with MAC = %q, want %q", got, want)
	}
}

func TestFormatOf(t *testing.T) {
	vm, ct := resource.KindVM, resource.KindContainer
	tests := []struct {
		kind resource.Kind
		key  string
		want Format
		ok   bool
	}{
		{vm, "net3", QemuNet, true},
		{ct, "net3", LXCNet, true},
		{vm, "scsi0", Drive, true},
		{vm, "virtio1", Drive, true},
		{vm, "sata2", Drive, true},
		{vm, "ide3", Drive, true},
		{vm, "unused0", Drive, true},
		{vm, "efidisk0", EFIDisk, true},
		{vm, "tpmstate0", TPMState, true},
		{ct, "rootfs", LXCMount, true},
		{ct, "mp0", LXCMount, true},
		{ct, "mp255", LXCMount, true},
		{ct, "unused1", LXCMount, true},
		{vm, "ipconfig0", IPConfig, true},
		{vm, "agent", Agent, true},
		{vm, "boot", Boot, true},
		{vm, "startup", Startup, true},
		{ct, "startup", Startup, true},
		{ct, "features", Features, true},
		{vm, "memory", Memory, true},
		{vm, "cicustom", CICustom, true},
		{vm, "hostpci0", Generic, true},
		{vm, "cores", 0, false},
		{ct, "memory", 0, false},
		{vm, "scsi", 0, false},
		{vm, "rootfs", 0, false},
		{ct, "scsi0", 0, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind)+"/"+tc.key, func(t *testing.T) {
			got, ok := FormatOf(tc.kind, tc.key)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("FormatOf(%s, %s) = %v, %v; want %v, %v", tc.kind, tc.key, got, ok, tc.want, tc.ok)
			}
		})
	}
}
