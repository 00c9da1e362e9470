package pve

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

func ptr[T any](v T) *T { return &v }

// TestCompileVMCreateParams: a hand-written spec compiles to the very
// parameters of pve-api.md's create example (§3.6), in the forms PVE create
// accepts.
func TestCompileVMCreateParams(t *testing.T) {
	spec := &resource.VM{
		Node: "pve1", VMID: 120, Pool: "team-a", State: "running",
		Tags:    []string{"web", "prod"},
		Memory:  ptr(2048),
		Cores:   ptr(2),
		Sockets: ptr(1),
		CPU:     "x86-64-v2-AES",
		OSType:  "l26",
		SCSIHW:  "virtio-scsi-single",
		OnBoot:  ptr(true),
		Agent:   &resource.Agent{Enabled: true},
		Disks: map[string]resource.Disk{
			"scsi0": {Storage: "local-lvm", Size: "32G", Options: map[string]string{"iothread": "1", "discard": "on"}},
		},
		Networks: map[string]resource.NIC{"net0": {Model: "virtio", Bridge: "vmbr0", Firewall: ptr(true)}},
		CloudInit: &resource.CloudInit{
			Drive: "ide2", Storage: "local-lvm", User: "ops",
			SSHKeys:  []string{"ssh-ed25519 AAAA... ops@host"},
			IPConfig: map[string]resource.IPConfig{"ipconfig0": {IP: "10.0.0.50/24", GW: "10.0.0.1"}},
		},
	}
	got, err := CompileVM("web01", spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		"name": "web01", "memory": "2048", "cores": "2", "sockets": "1", "cpu": "x86-64-v2-AES",
		"ostype": "l26", "scsihw": "virtio-scsi-single",
		"scsi0":     "local-lvm:32,discard=on,iothread=1",
		"ide2":      "local-lvm:cloudinit",
		"net0":      "virtio,bridge=vmbr0,firewall=1",
		"agent":     "enabled=1",
		"ipconfig0": "ip=10.0.0.50/24,gw=10.0.0.1",
		"ciuser":    "ops",
		"sshkeys":   "ssh-ed25519%20AAAA...%20ops%40host",
		"tags":      "pmpc;prod;web",
		"onboot":    "1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CompileVM =\n%v\nwant\n%v", got, want)
	}
	// Each compiled property string parses in its format and prints back
	// unchanged (PVE's canonical form where PVE re-prints it).
	for k, v := range got {
		if f, ok := FormatOf(resource.KindVM, k); ok {
			p, err := ParseProps(f, v)
			if err != nil {
				t.Errorf("%s=%q does not parse: %v", k, v, err)
			} else if p.String() != v {
				t.Errorf("%s=%q prints as %q", k, v, p.String())
			}
		}
	}
}

func TestCompileVMEverything(t *testing.T) {
	spec := &resource.VM{
		Name: "win-11", Description: ptr("gaming\nbox"), Template: ptr(false), Protection: ptr(true),
		Startup: "order=2,up=30", VCPUs: ptr(6), NUMA: ptr(true), Balloon: ptr(0), Machine: "pc-q35-8.1",
		BIOS: "ovmf", Hotplug: "network,disk", Boot: []string{"sata0", "ide0", "net0"},
		Agent: &resource.Agent{Enabled: true, FSTrimCloned: ptr(true), FreezeFSOnBackup: ptr(false), Type: "virtio"},
		Disks: map[string]resource.Disk{
			"sata0":   {Storage: "local-lvm", Size: "1.5T", Format: "raw", Options: map[string]string{"ssd": "1"}},
			"ide0":    {Volume: "local:iso/virtio-win.iso", Media: "cdrom"},
			"ide2":    {Media: "cdrom"},
			"virtio0": {Volume: "/dev/disk/by-id/ata-X", Options: map[string]string{"backup": "0"}},
			"scsi3":   {Storage: "local-lvm", Size: "512M"},
		},
		EFIDisk:  &resource.EFIDisk{Storage: "local-lvm", Type: "4m", PreEnrolledKeys: ptr(true)},
		TPM:      &resource.TPM{Storage: "local-lvm", Version: "v2.0"},
		Networks: map[string]resource.NIC{"net0": {Model: "e1000e", MACAddr: "BC:24:11:13:00:01", Bridge: "vmbr0", Tag: 20, MTU: 1500, Queues: 4, Rate: "12.5", LinkDown: ptr(false), Trunks: "10;20"}},
		CloudInit: &resource.CloudInit{Password: "env:CI_PASSWORD", Nameserver: "1.1.1.1", Searchdomain: "lan",
			Type: "nocloud", Custom: "user=local:snippets/u.yaml", Upgrade: ptr(false)},
		Extra: map[string]string{"hostpci0": "0000:01:00,pcie=1", "args": "-cpu host"},
	}
	got, err := CompileVM("ignored-key", spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		"name": "win-11", "description": "gaming\nbox", "template": "0", "protection": "1", "tags": "pmpc",
		"startup": "order=2,up=30", "vcpus": "6", "numa": "1", "balloon": "0", "machine": "pc-q35-8.1",
		"bios": "ovmf", "hotplug": "network,disk", "boot": "order=sata0;ide0;net0",
		"agent":      "enabled=1,fstrim_cloned_disks=1,freeze-fs-on-backup=0,type=virtio",
		"sata0":      "local-lvm:1536,format=raw,ssd=1",
		"ide0":       "local:iso/virtio-win.iso,media=cdrom",
		"ide2":       "none,media=cdrom",
		"virtio0":    "/dev/disk/by-id/ata-X,backup=0",
		"scsi3":      "local-lvm:0.5",
		"efidisk0":   "local-lvm:1,efitype=4m,pre-enrolled-keys=1",
		"tpmstate0":  "local-lvm:1,version=v2.0",
		"net0":       "e1000e=BC:24:11:13:00:01,bridge=vmbr0,link_down=0,mtu=1500,queues=4,rate=12.5,tag=20,trunks=10;20",
		"cipassword": "env:CI_PASSWORD", "nameserver": "1.1.1.1", "searchdomain": "lan", "citype": "nocloud",
		"cicustom": "user=local:snippets/u.yaml", "ciupgrade": "0",
		"hostpci0": "0000:01:00,pcie=1", "args": "-cpu host",
	}
	if !reflect.DeepEqual(got, want) {
		for k := range merge(got, want) {
			if got[k] != want[k] {
				t.Errorf("%s = %q, want %q", k, got[k], want[k])
			}
		}
	}
}

func merge(a, b Config) Config {
	m := Config{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func TestCompileContainer(t *testing.T) {
	spec := &resource.Container{
		Node: "pve1", OSTemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		Password: "env:CT_PW", SSHKeys: []string{"ssh-ed25519 AAAA a@b"},
		Unprivileged: ptr(true), Features: &resource.Features{Nesting: ptr(true), Keyctl: ptr(true), Mount: []string{"nfs", "cifs"}},
		Cores: ptr(2), CPULimit: "1.5", CPUUnits: ptr(100), Memory: ptr(1024), Swap: ptr(0),
		RootFS: &resource.Mount{Storage: "local-lvm", Size: "8G"},
		Mounts: map[string]resource.Mount{
			"mp0": {Storage: "local-lvm", Size: "32G", Path: "/srv/data", Options: map[string]string{"backup": "1"}},
			"mp1": {Volume: "/mnt/pve/nas/media", Path: "/media", Options: map[string]string{"ro": "1"}},
		},
		Networks:   map[string]resource.CTNIC{"net0": {Name: "eth0", Bridge: "vmbr0", IP: "10.0.0.5/24", GW: "10.0.0.1", Firewall: ptr(true)}},
		Nameserver: "10.0.0.1", Tags: []string{"DB"},
		Extra: map[string]string{"lxc": "lxc.cgroup2.devices.allow: c 10:200 rwm"},
	}
	got, err := CompileContainer("ct01", spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		"hostname": "ct01", "tags": "db;pmpc", "unprivileged": "1",
		"features": "nesting=1,keyctl=1,mount=nfs;cifs",
		"cores":    "2", "cpulimit": "1.5", "cpuunits": "100", "memory": "1024", "swap": "0",
		"rootfs":     "local-lvm:8",
		"mp0":        "local-lvm:32,mp=/srv/data,backup=1",
		"mp1":        "/mnt/pve/nas/media,mp=/media,ro=1",
		"net0":       "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,ip=10.0.0.5/24",
		"nameserver": "10.0.0.1",
		"lxc":        "lxc.cgroup2.devices.allow: c 10:200 rwm",
	}
	if !reflect.DeepEqual(got, want) {
		for k := range merge(got, want) {
			if got[k] != want[k] {
				t.Errorf("%s = %q, want %q", k, got[k], want[k])
			}
		}
	}
	params := ContainerCreateParams(spec)
	wantParams := Config{
		"ostemplate":      "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		"password":        "env:CT_PW",
		"ssh-public-keys": "ssh-ed25519 AAAA a@b\n",
	}
	if !reflect.DeepEqual(params, wantParams) {
		t.Errorf("ContainerCreateParams = %v, want %v", params, wantParams)
	}
}

func TestCompileErrors(t *testing.T) {
	vmTests := []struct {
		name string
		spec resource.VM
		want string
	}{
		{"disk without size", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Storage: "local-lvm"}}}, "vm.x: disks.scsi0: storage \"local-lvm\" needs a size"},
		{"disk storage and volume", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Storage: "a", Size: "1G", Volume: "b:c"}}}, "not both"},
		{"disk bad size", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Storage: "a", Size: "lots"}}}, `size "lots"`},
		{"disk zero size", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Storage: "a", Size: "0G"}}}, "more than 0"},
		{"disk bad slot", resource.VM{Disks: map[string]resource.Disk{"nvme0": {Volume: "a:b"}}}, "disks.nvme0: not a disk slot"},
		{"disk unknown option", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Volume: "a:b", Options: map[string]string{"turbo": "1"}}}}, "options.turbo: unknown drive option"},
		{"disk option has a field", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Volume: "a:b", Options: map[string]string{"size": "1G"}}}}, "options.size: use the field"},
		{"disk bad bool option", resource.VM{Disks: map[string]resource.Disk{"scsi0": {Volume: "a:b", Options: map[string]string{"ssd": "sure"}}}}, "not a boolean"},
		{"nic without model", resource.VM{Networks: map[string]resource.NIC{"net0": {Bridge: "vmbr0"}}}, "networks.net0: model is required"},
		{"nic unknown model", resource.VM{Networks: map[string]resource.NIC{"net0": {Model: "virtio-net"}}}, `model "virtio-net"`},
		{"nic bad slot", resource.VM{Networks: map[string]resource.NIC{"eth0": {Model: "virtio"}}}, "networks.eth0: not a network slot"},
		{"cloud-init drive without storage", resource.VM{CloudInit: &resource.CloudInit{Drive: "ide2"}}, "both drive and storage"},
		{"cloud-init drive on a disk slot", resource.VM{Disks: map[string]resource.Disk{"ide2": {Media: "cdrom"}}, CloudInit: &resource.CloudInit{Drive: "ide2", Storage: "local-lvm"}}, "ide2 is set twice"},
		{"extra collides", resource.VM{Cores: ptr(2), Extra: map[string]string{"cores": "4"}}, "extra.cores"},
		{"efidisk needs storage or volume", resource.VM{EFIDisk: &resource.EFIDisk{Type: "4m"}}, "efidisk: set storage"},
	}
	for _, tc := range vmTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileVM("x", &tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	ctTests := []struct {
		name string
		spec resource.Container
		want string
	}{
		{"mount without path", resource.Container{Mounts: map[string]resource.Mount{"mp0": {Storage: "a", Size: "1G"}}}, "container.x: mounts.mp0: path is required"},
		{"rootfs with path", resource.Container{RootFS: &resource.Mount{Storage: "a", Size: "1G", Path: "/"}}, "rootfs: path applies to mount points only"},
		{"mount bad slot", resource.Container{Mounts: map[string]resource.Mount{"rootfs": {Volume: "a:b", Path: "/x"}}}, "not a mount point slot"},
		{"nic without name", resource.Container{Networks: map[string]resource.CTNIC{"net0": {Bridge: "vmbr0"}}}, "name is required"},
		{"unknown feature", resource.Container{Features: &resource.Features{Options: map[string]string{"warp": "1"}}}, "unknown feature"},
	}
	for _, tc := range ctTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileContainer("x", &tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestCompileThenCreateThenDiff: what create sends, turned into what PVE
// then returns (allocated volumes, generated MACs, normalised tags), shows
// no difference — the apply -> plan half of the round-trip law.
func TestCompileThenCreateThenDiff(t *testing.T) {
	spec := &resource.VM{
		Tags: []string{"web", "prod"}, Memory: ptr(2048), Agent: &resource.Agent{Enabled: true},
		Disks: map[string]resource.Disk{
			"scsi0": {Storage: "local-lvm", Size: "32G", Options: map[string]string{"iothread": "1", "discard": "on"}},
			"ide0":  {Volume: "local:iso/debian-12.iso", Media: "cdrom"},
		},
		Networks:  map[string]resource.NIC{"net0": {Model: "virtio", Bridge: "vmbr0", Firewall: ptr(true)}},
		CloudInit: &resource.CloudInit{Drive: "ide2", Storage: "local-lvm", User: "ops", Password: "env:PW"},
		EFIDisk:   &resource.EFIDisk{Storage: "local-lvm", Type: "4m"},
	}
	cfg, err := CompileVM("web01", spec)
	if err != nil {
		t.Fatal(err)
	}
	observed := map[string]string{
		"name": "web01", "memory": "2048", "agent": "enabled=1", "tags": "pmpc;prod;web", "ciuser": "ops",
		"cipassword": "**********",
		"scsi0":      "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=32G",
		"ide0":       "local:iso/debian-12.iso,media=cdrom,size=628M",
		"ide2":       "local-lvm:vm-120-cloudinit,media=cdrom",
		"net0":       "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1",
		"efidisk0":   "local-lvm:vm-120-disk-1,efitype=4m,size=4M",
		"boot":       "order=scsi0;ide0;net0", "vmgenid": "x", "meta": "creation-qemu=8.1.5,ctime=1",
	}
	for k, v := range cfg {
		if d := Diff(resource.KindVM, k, v, observed[k]); d != nil {
			t.Errorf("%s: %+v", k, d)
		}
	}
	for k := range observed {
		if _, ok := cfg[k]; !ok && !Ignored(resource.KindVM, k) && !DefaultedByPVE(resource.KindVM, k) {
			t.Errorf("%s: PVE holds it but the compiled config has none", k)
		}
	}
}
