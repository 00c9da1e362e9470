package pve

import (
	"reflect"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

const (
	vm = resource.KindVM
	ct = resource.KindContainer
)

func TestDiffEquivalences(t *testing.T) {
	tests := []struct {
		name              string
		kind              resource.Kind
		key               string
		desired, observed string
	}{
		{"tags order", vm, "tags", "pmpc;prod;web", "web;prod;pmpc"},
		{"tags case and separators", vm, "tags", "pmpc;prod;web", "Web,PROD"},
		{"tags managed tag only desired", vm, "tags", "pmpc", ""},
		{"tags managed tag only observed", ct, "tags", "db", "db;pmpc"},
		{"bool on", vm, "onboot", "1", "on"},
		{"bool yes", ct, "protection", "1", "yes"},
		{"bool false", vm, "numa", "0", "false"},
		{"number 2.0", ct, "cpulimit", "2", "2.0"},
		{"number 1.50", ct, "cpulimit", "1.5", "1.50"},
		{"int cores", vm, "cores", "2", "2"},
		{"memory plain vs current", vm, "memory", "4096", "current=4096"},
		{"memory current vs plain", vm, "memory", "current=2048", "2048"},
		{"sshkeys encodings", vm, "sshkeys", "ssh-ed25519%20AAAA%20a%40b", "ssh-ed25519%20AAAA%20a%40b%0A"},
		{"sshkeys hex case", vm, "sshkeys", "ssh-ed25519%20AAAA%2Bx", "ssh-ed25519%20AAAA%2bx"},
		{"boot", vm, "boot", "order=scsi0;net0", "order=scsi0;net0"},
		{"agent bare vs keyed", vm, "agent", "enabled=1", "1"},
		{"agent bool spelling", vm, "agent", "enabled=1,fstrim_cloned_disks=1", "on,fstrim_cloned_disks=yes"},
		{"disk alloc vs allocated", vm, "scsi0", "local-lvm:32,discard=on,iothread=1", "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=32G"},
		{"disk alloc fractional", vm, "scsi1", "local-lvm:0.5", "local-lvm:vm-120-disk-1,size=512M"},
		{"disk alloc dir storage", vm, "virtio0", "local:10,format=qcow2", "local:120/vm-120-disk-0.qcow2,size=10G"},
		{"disk option bool spelling", vm, "scsi0", "local-lvm:vm-1-disk-0,ssd=on", "local-lvm:vm-1-disk-0,ssd=1,size=8G"},
		{"disk media disk default", vm, "sata0", "local-lvm:8,media=disk", "local-lvm:vm-1-disk-0,size=8G"},
		{"cdrom iso ignores PVE size", vm, "ide0", "local:iso/x.iso,media=cdrom", "local:iso/x.iso,media=cdrom,size=612812K"},
		{"cdrom none", vm, "ide2", "none,media=cdrom", "none,media=cdrom"},
		{"size units", vm, "scsi0", "local-lvm:vm-1-disk-0,size=1024M", "local-lvm:vm-1-disk-0,size=1G"},
		{"cloud-init drive", vm, "ide2", "local-lvm:cloudinit", "local-lvm:vm-120-cloudinit,media=cdrom"},
		{"cloud-init on file storage", vm, "ide2", "local:cloudinit", "local:120/vm-120-cloudinit.qcow2,media=cdrom"},
		{"efidisk alloc", vm, "efidisk0", "local-lvm:1,efitype=4m,pre-enrolled-keys=1", "local-lvm:vm-130-disk-0,efitype=4m,pre-enrolled-keys=1,size=4M"},
		{"efidisk efitype left to PVE", vm, "efidisk0", "local-lvm:1", "local-lvm:vm-130-disk-0,efitype=2m,size=528K"},
		{"tpm version left to PVE", vm, "tpmstate0", "local-lvm:1", "local-lvm:vm-130-disk-1,size=4M,version=v1.2"},
		{"MAC unset", vm, "net0", "virtio,bridge=vmbr0,firewall=1", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1"},
		{"MAC case", vm, "net0", "virtio=bc:24:11:5e:0a:7c,bridge=vmbr0", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0"},
		{"net rate number", vm, "net0", "virtio,bridge=vmbr0,rate=12.50", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,rate=12.5"},
		{"lxc hwaddr and type unset", ct, "net0", "name=eth0,bridge=vmbr0,ip=dhcp", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:12:34:56,ip=dhcp,type=veth"},
		{"lxc rootfs alloc", ct, "rootfs", "local-lvm:8", "local-lvm:vm-101-disk-0,size=8G"},
		{"lxc mp alloc", ct, "mp0", "local-lvm:32,mp=/srv,backup=1", "local-lvm:vm-101-disk-1,mp=/srv,backup=1,size=32G"},
		{"lxc features mount order", ct, "features", "mount=nfs;cifs,nesting=1", "nesting=1,mount=cifs;nfs"},
		{"ipconfig order", vm, "ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1", "gw=10.0.0.1,ip=10.0.0.5/24"},
		{"startup order", ct, "startup", "order=1,up=30", "up=30,order=1"},
		{"ignored key", vm, "vmgenid", "", "1b2c"},
		{"ignored digest", ct, "digest", "x", "y"},
		{"sensitive both set", vm, "cipassword", "env:CI_PASSWORD", "**********"},
		{"unparseable falls back to equal strings", vm, "net0", "bogus", "bogus"},
		{"extra verbatim", vm, "hostpci0", "0000:01:00,pcie=1", "0000:01:00,pcie=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := Diff(tc.kind, tc.key, tc.desired, tc.observed); len(d) != 0 {
				t.Errorf("Diff(%s, %s, %q, %q) = %+v, want none", tc.kind, tc.key, tc.desired, tc.observed, d)
			}
		})
	}
}

func TestDiffFindsChanges(t *testing.T) {
	tests := []struct {
		name              string
		kind              resource.Kind
		key               string
		desired, observed string
		want              []SubDiff
	}{
		{"scalar", vm, "cores", "4", "2", []SubDiff{{"", "2", "4"}}},
		{"added key", vm, "balloon", "1024", "", []SubDiff{{"", "", "1024"}}},
		{"removed key", vm, "hostpci0", "", "0000:01:00", []SubDiff{{"", "0000:01:00", ""}}},
		{"tags", vm, "tags", "pmpc;prod", "pmpc;dev", []SubDiff{{"", "pmpc;dev", "pmpc;prod"}}},
		{"bool", vm, "onboot", "1", "0", []SubDiff{{"", "0", "1"}}},
		{"memory", vm, "memory", "4096", "current=2048", []SubDiff{{"", "2048", "4096"}}},
		{"sshkeys", vm, "sshkeys", "ssh-ed25519%20A", "ssh-ed25519%20B", []SubDiff{{"", "ssh-ed25519%20B", "ssh-ed25519%20A"}}},
		{"boot order", vm, "boot", "order=scsi0;net0", "order=net0;scsi0", []SubDiff{{"order", "net0;scsi0", "scsi0;net0"}}},
		{"disk grow", vm, "scsi0", "local-lvm:64,iothread=1", "local-lvm:vm-1-disk-0,iothread=1,size=32G",
			[]SubDiff{{"size", "32G", "64G"}}},
		{"disk storage", vm, "scsi0", "ceph:32", "local-lvm:vm-1-disk-0,size=32G",
			[]SubDiff{{"storage", "local-lvm", "ceph"}}},
		{"disk option added and removed", vm, "scsi0", "local-lvm:32,ssd=1", "local-lvm:vm-1-disk-0,cache=writeback,size=32G",
			[]SubDiff{{"cache", "writeback", ""}, {"ssd", "", "1"}}},
		{"disk option changed", vm, "scsi0", "local-lvm:32,discard=on", "local-lvm:vm-1-disk-0,discard=ignore,size=32G",
			[]SubDiff{{"discard", "ignore", "on"}}},
		{"disk format", vm, "virtio0", "local:10,format=raw", "local:120/vm-120-disk-0.qcow2,size=10G",
			[]SubDiff{{"format", "qcow2", "raw"}}},
		{"cdrom iso swapped", vm, "ide2", "local:iso/b.iso,media=cdrom", "local:iso/a.iso,media=cdrom,size=1G",
			[]SubDiff{{"file", "local:iso/a.iso", "local:iso/b.iso"}}},
		{"cdrom ejected", vm, "ide2", "none,media=cdrom", "local:iso/a.iso,media=cdrom,size=1G",
			[]SubDiff{{"file", "local:iso/a.iso", "none"}}},
		{"disk becomes cdrom", vm, "ide0", "local:iso/a.iso,media=cdrom", "local:iso/a.iso",
			[]SubDiff{{"media", "", "cdrom"}}},
		{"cloud-init storage", vm, "ide2", "ceph:cloudinit", "local-lvm:vm-120-cloudinit,media=cdrom",
			[]SubDiff{{"storage", "local-lvm", "ceph"}}},
		{"cloud-init over a disk", vm, "ide2", "local-lvm:cloudinit", "local-lvm:vm-120-disk-3,size=4M",
			[]SubDiff{{"file", "local-lvm:vm-120-disk-3", "local-lvm:cloudinit"}}},
		{"MAC pinned", vm, "net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0",
			[]SubDiff{{"macaddr", "BC:24:11:5E:0A:7C", "BC:24:11:00:00:01"}}},
		{"net model and tag", vm, "net0", "e1000,bridge=vmbr0,tag=30", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,tag=20",
			[]SubDiff{{"model", "virtio", "e1000"}, {"tag", "20", "30"}}},
		{"net firewall dropped", vm, "net0", "virtio,bridge=vmbr0", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1",
			[]SubDiff{{"firewall", "1", ""}}},
		{"lxc mount shrink", ct, "mp0", "local-lvm:16,mp=/srv", "local-lvm:vm-101-disk-1,mp=/srv,size=32G",
			[]SubDiff{{"size", "32G", "16G"}}},
		{"lxc mount path", ct, "mp0", "local-lvm:32,mp=/data", "local-lvm:vm-101-disk-1,mp=/srv,size=32G",
			[]SubDiff{{"mp", "/srv", "/data"}}},
		{"lxc ip", ct, "net0", "name=eth0,bridge=vmbr0,ip=10.0.0.6/24", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:12:34:56,ip=10.0.0.5/24,type=veth",
			[]SubDiff{{"ip", "10.0.0.5/24", "10.0.0.6/24"}}},
		{"sensitive added", vm, "cipassword", "env:PW", "", []SubDiff{{"", "", "(sensitive)"}}},
		{"sensitive removed", vm, "cipassword", "", "**********", []SubDiff{{"", "(sensitive)", ""}}},
		{"number", ct, "cpulimit", "1.5", "2", []SubDiff{{"", "2", "1.5"}}},
		{"string is case sensitive", vm, "name", "Web01", "web01", []SubDiff{{"", "web01", "Web01"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.kind, tc.key, tc.desired, tc.observed)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff(%s, %s, %q, %q) =\n %+v\nwant\n %+v", tc.kind, tc.key, tc.desired, tc.observed, got, tc.want)
			}
		})
	}
}

func TestUpdateValue(t *testing.T) {
	tests := []struct {
		name              string
		kind              resource.Kind
		key               string
		desired, observed string
		want              string
	}{
		{"disk keeps volume and size, applies options", vm, "scsi0", "local-lvm:32,discard=on,iothread=1",
			"local-lvm:vm-120-disk-0,iothread=1,size=32G", "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=32G"},
		// A grow is a resize, but the value records the size the disk will
		// have: on a running guest it may stay pending, and the GET that
		// merges it must not show the old size after the resize.
		{"disk being grown records the new size", vm, "sata0", "local-lvm:64,discard=on,iothread=1",
			"local-lvm:vm-120-disk-0,iothread=1,size=32G", "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=64G"},
		{"disk smaller than observed keeps the observed size", vm, "scsi0", "local-lvm:16,ssd=1",
			"local-lvm:vm-120-disk-0,size=32G", "local-lvm:vm-120-disk-0,size=32G,ssd=1"},
		{"lxc rootfs being grown", ct, "rootfs", "local-lvm:3,mountoptions=noatime", "local-lvm:vm-101-disk-0,acl=1,size=2G",
			"local-lvm:vm-101-disk-0,mountoptions=noatime,size=3G"},
		{"disk drops removed option", vm, "scsi0", "local-lvm:32",
			"local-lvm:vm-120-disk-0,cache=writeback,size=32G", "local-lvm:vm-120-disk-0,size=32G"},
		{"disk keeps media", vm, "ide0", "local-lvm:4,ssd=1", "local-lvm:vm-1-disk-0,media=disk,size=4G", "local-lvm:vm-1-disk-0,media=disk,size=4G,ssd=1"},
		{"disk drops allocation format", vm, "virtio0", "local:10,format=qcow2,cache=none", "local:120/vm-120-disk-0.qcow2,size=10G",
			"local:120/vm-120-disk-0.qcow2,cache=none,size=10G"},
		{"disk on another storage is a new allocation", vm, "scsi0", "ceph:32", "local-lvm:vm-1-disk-0,size=32G", "ceph:32"},
		{"new disk", vm, "scsi1", "local-lvm:8", "", "local-lvm:8"},
		{"cdrom volume", vm, "ide2", "local:iso/b.iso,media=cdrom", "local:iso/a.iso,media=cdrom,size=1G", "local:iso/b.iso,media=cdrom"},
		{"cloud-init unchanged", vm, "ide2", "local-lvm:cloudinit", "local-lvm:vm-1-cloudinit,media=cdrom", "local-lvm:vm-1-cloudinit,media=cdrom"},
		{"cloud-init moved", vm, "ide2", "ceph:cloudinit", "local-lvm:vm-1-cloudinit,media=cdrom", "ceph:cloudinit"},
		{"efidisk", vm, "efidisk0", "local-lvm:1,efitype=4m,pre-enrolled-keys=0", "local-lvm:vm-1-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M",
			"local-lvm:vm-1-disk-1,efitype=4m,pre-enrolled-keys=0,size=4M"},
		{"nic keeps MAC", vm, "net0", "virtio,bridge=vmbr1,tag=5", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0",
			"virtio=BC:24:11:5E:0A:7C,bridge=vmbr1,tag=5"},
		{"nic pinned MAC wins", vm, "net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0", "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0",
			"virtio=BC:24:11:00:00:01,bridge=vmbr0"},
		{"lxc nic keeps hwaddr and type", ct, "net0", "name=eth0,bridge=vmbr1,ip=dhcp", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:12:34:56,ip=dhcp,type=veth",
			"name=eth0,bridge=vmbr1,hwaddr=BC:24:11:12:34:56,ip=dhcp,type=veth"},
		{"lxc mount", ct, "mp0", "local-lvm:32,mp=/data,backup=0", "local-lvm:vm-101-disk-1,mp=/srv,backup=1,size=32G",
			"local-lvm:vm-101-disk-1,mp=/data,backup=0,size=32G"},
		{"scalar", vm, "cores", "4", "2", "4"},
		{"delete", vm, "balloon", "", "1024", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := UpdateValue(tc.kind, tc.key, tc.desired, tc.observed)
			if got != tc.want {
				t.Errorf("UpdateValue = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDiskSizeChange(t *testing.T) {
	tests := []struct {
		name              string
		kind              resource.Kind
		key               string
		desired, observed string
		want, have        int64
		ok                bool
	}{
		{"grow", vm, "scsi0", "local-lvm:64", "local-lvm:vm-1-disk-0,size=32G", 64 << 30, 32 << 30, true},
		{"same", vm, "virtio0", "local-lvm:32", "local-lvm:vm-1-disk-0,size=32G", 32 << 30, 32 << 30, true},
		{"volume with size", vm, "scsi1", "local-lvm:vm-1-disk-1,size=20G", "local-lvm:vm-1-disk-1,size=10G", 20 << 30, 10 << 30, true},
		{"lxc rootfs", ct, "rootfs", "local-lvm:16", "local-lvm:vm-101-disk-0,size=8G", 16 << 30, 8 << 30, true},
		{"not created yet", vm, "scsi2", "local-lvm:8", "", 8 << 30, 0, false},
		{"cdrom", vm, "ide2", "none,media=cdrom", "local:iso/a.iso,media=cdrom,size=1G", 0, 1 << 30, false},
		{"efidisk is not resized", vm, "efidisk0", "local-lvm:1", "local-lvm:vm-1-disk-0,size=4M", 0, 0, false},
		{"not a disk", vm, "net0", "virtio,bridge=vmbr0", "virtio,bridge=vmbr0", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, have, ok := DiskSizeChange(tc.kind, tc.key, tc.desired, tc.observed)
			if want != tc.want || have != tc.have || ok != tc.ok {
				t.Errorf("DiskSizeChange = %d, %d, %v; want %d, %d, %v", want, have, ok, tc.want, tc.have, tc.ok)
			}
		})
	}
}

func TestKeyClasses(t *testing.T) {
	for _, k := range []string{"digest", "vmgenid", "meta", "lock", "parent", "smbios1", "runningmachine", "runningcpu"} {
		if !Ignored(vm, k) {
			t.Errorf("Ignored(vm, %s) = false", k)
		}
	}
	for _, k := range []string{"name", "cores", "net0", "description", "hostpci0"} {
		if Ignored(vm, k) {
			t.Errorf("Ignored(vm, %s) = true", k)
		}
	}
	if !DefaultedByPVE(vm, "boot") || !DefaultedByPVE(ct, "arch") || !DefaultedByPVE(ct, "ostype") || DefaultedByPVE(vm, "cores") {
		t.Error("DefaultedByPVE misclassifies boot/arch/ostype/cores")
	}
	if !CreateOnly(ct, "unprivileged") || !CreateOnly(ct, "ostemplate") || CreateOnly(ct, "cores") || CreateOnly(vm, "unprivileged") {
		t.Error("CreateOnly misclassifies")
	}
	if !Sensitive(vm, "cipassword") || !Sensitive(ct, "password") || Sensitive(vm, "ciuser") {
		t.Error("Sensitive misclassifies")
	}
}

func TestOwnVolume(t *testing.T) {
	tests := []struct {
		vol  string
		want bool
	}{
		{"local-lvm:vm-120-disk-0", true},
		{"local-lvm:base-120-disk-0", true},
		{"local-zfs:subvol-120-disk-2", true},
		{"local:120/vm-120-disk-0.qcow2", true},
		{"local:120/vm-120-disk-0.raw", true},
		{"local-lvm:base-9000-disk-0/vm-120-disk-0", true},
		{"local:9000/base-9000-disk-0.qcow2/120/vm-120-disk-0.qcow2", true},
		{"local-lvm:vm-121-disk-0", false},
		{"local:121/vm-121-disk-0.qcow2", false},
		{"local:121/vm-120-disk-0.qcow2", false},
		{"local-lvm:vm-120-cloudinit", false},
		{"local:iso/vm-120-disk-0.iso", false},
		{"/dev/disk/by-id/vm-120-disk-0", false},
		{"none", false},
	}
	for _, tc := range tests {
		if got := ownVolume(120, tc.vol); got != tc.want {
			t.Errorf("ownVolume(120, %q) = %v, want %v", tc.vol, got, tc.want)
		}
	}
}
