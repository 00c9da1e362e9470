package sim

import (
	"fmt"
	"strconv"
)

// Presets lists the names Preset accepts.
var Presets = []string{"empty", "homelab", "large"}

// Preset returns a generated seed by name; guests sizes the large preset
// (default 10,000).
func Preset(name string, guests int) (*Seed, error) {
	switch name {
	case "", "empty":
		return Empty(), nil
	case "homelab":
		return Homelab(), nil
	case "large":
		if guests <= 0 {
			guests = 10000
		}
		return Large(guests), nil
	}
	return nil, fmt.Errorf("unknown preset %q (known: empty, homelab, large)", name)
}

// Empty is a single node with the default local and local-lvm storages, a
// Debian LXC template and no guests.
func Empty() *Seed {
	return &Seed{
		Version: "8.4.1",
		Nodes:   []SeedNode{{Node: "pve1", MaxCPU: 8, MaxMem: 32 << 30, MaxDisk: 100 << 30}},
		Storage: []SeedStorage{
			{Storage: "local", Type: "dir", Content: "iso,vztmpl,backup,snippets", Total: 100 << 30, Items: []SeedItem{
				{Volid: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", Content: "vztmpl", Size: 126083723},
				{Volid: "local:iso/debian-12.7.0-amd64-netinst.iso", Content: "iso", Size: 661651456},
			}},
			{Storage: "local-lvm", Type: "lvmthin", Content: "images,rootdir", Total: 500107862016},
		},
	}
}

type homelabBuilder struct {
	seed *Seed
	mac  int
}

func (b *homelabBuilder) nextMAC() string {
	b.mac++
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", 0x10+b.mac/65536, b.mac/256%256, b.mac%256)
}

func (b *homelabBuilder) add(typ, node string, vmid int, status string, conf map[string]any) {
	b.seed.Guests = append(b.seed.Guests, SeedGuest{Type: typ, Node: node, VMID: vmid, Status: status, Config: conf})
}

// Homelab is a three-node cluster of about thirty guests with the variety
// real clusters have: cloud-init VMs, a template and linked clones, EFI and
// TPM disks, several NICs with VLAN tags, containers with mount points,
// pools, tags, ISO images and LXC templates, a snapshot, a raw lxc key, a
// cpulimit, a duplicate name and an unnamed guest.
//
// Nodes pve1, pve2, pve3; storages local (dir: ISOs, LXC templates,
// snippets), local-lvm (lvmthin) and nas (shared nfs); pools prod, lab,
// infra. QEMU VMs:
//
//	100 debian-12-cloud  template (cloud-init), pve1
//	101-104 web-01, web-02, api-01, api-02  linked clones of 100, running
//	105 db-01   2 disks, 2 VLAN NICs, snapshot pre-upgrade, cpulimit "6.5", protection, pve2
//	106 win11   OVMF with efidisk0 + tpmstate0, two ISOs, stopped, pve1
//	107 monitoring, 108 router (4 NICs, trunks), 109 unnamed ("VM 109"), stopped, pve2
//	110, 111 both named "test", stopped, pve3
//	112-114 k8s-* cloud-init VMs on nas (qcow2), running
//	115-119 svc-01..svc-05
//
// LXC containers 200-209: dns-01/02 (static IPs), nextcloud (mount points,
// cpulimit "1.5"), media (raw lxc keys), build (keyctl, VLAN NIC), proxy
// (alpine), test, backup (privileged, protected, nfs mount), an unnamed CT
// ("CT208") and mqtt.
func Homelab() *Seed {
	b := &homelabBuilder{seed: &Seed{
		Version: "8.4.1",
		Cluster: "homelab",
		Nodes: []SeedNode{
			{Node: "pve1", MaxCPU: 16, MaxMem: 68719476736, MaxDisk: 940743983104, IP: "192.0.2.11"},
			{Node: "pve2", MaxCPU: 12, MaxMem: 34359738368, MaxDisk: 470371991552, IP: "192.0.2.12"},
			{Node: "pve3", MaxCPU: 8, MaxMem: 34359738368, MaxDisk: 470371991552, IP: "192.0.2.13"},
		},
		Storage: []SeedStorage{
			{Storage: "local", Type: "dir", Content: "iso,vztmpl,backup,snippets", Total: 100 << 30, Path: "/var/lib/vz", Items: []SeedItem{
				{Volid: "local:iso/debian-12.7.0-amd64-netinst.iso", Content: "iso", Size: 661651456},
				{Volid: "local:iso/ubuntu-24.04.1-live-server-amd64.iso", Content: "iso", Size: 2773874688},
				{Volid: "local:iso/virtio-win-0.1.262.iso", Content: "iso", Size: 708038656},
				{Volid: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", Content: "vztmpl", Size: 126083723},
				{Volid: "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", Content: "vztmpl", Size: 141389154},
				{Volid: "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz", Content: "vztmpl", Size: 3103384},
				{Volid: "local:snippets/user-data.yaml", Content: "snippets", Size: 812},
			}},
			{Storage: "local-lvm", Type: "lvmthin", Content: "images,rootdir", Total: 500107862016},
			{Storage: "nas", Type: "nfs", Content: "images,iso,backup", Shared: 1, Total: 4 << 40, Path: "/mnt/pve/nas", Items: []SeedItem{
				{Volid: "nas:iso/Win11_24H2_English_x64.iso", Content: "iso", Size: 5819484160},
				{Volid: "nas:backup/vzdump-qemu-101-2024_09_22-03_00_02.vma.zst", Content: "backup", Size: 1610612736, VMID: 101, Notes: "web-01"},
			}},
		},
		Pools: []SeedPool{
			{PoolID: "prod", Comment: "production services"},
			{PoolID: "lab", Comment: "experiments"},
			{PoolID: "infra", Comment: "DNS, monitoring, backups"},
		},
	}}
	mac := b.nextMAC
	pool := func(id string, vmids ...int) {
		for i := range b.seed.Pools {
			if b.seed.Pools[i].PoolID == id {
				b.seed.Pools[i].Members = append(b.seed.Pools[i].Members, vmids...)
			}
		}
	}
	// 100: the cloud-init Debian template; 101-104 linked clones of it.
	b.add("qemu", "pve1", 100, "stopped", map[string]any{
		"name": "debian-12-cloud", "template": 1, "memory": "2048", "cores": 2, "sockets": 1, "cpu": "x86-64-v2-AES",
		"ostype": "l26", "scsihw": "virtio-scsi-single", "agent": "enabled=1",
		"scsi0": "local-lvm:base-100-disk-0,discard=on,iothread=1,size=8G",
		"ide2":  "local-lvm:vm-100-cloudinit,media=cdrom",
		"net0":  "virtio=" + mac() + ",bridge=vmbr0,firewall=1",
		"boot":  "order=scsi0;net0", "serial0": "socket", "vga": "serial0", "ciuser": "debian",
		"ipconfig0": "ip=dhcp", "tags": "template", "smbios1": "uuid=0b9a6a4e-6f3b-4d43-8a55-94c0a1a7e100",
		"vmgenid": "5c1ae8a3-3d0e-4b9c-9e0e-2f7cbbd6e100", "meta": "creation-qemu=8.1.5,ctime=1727046066",
	})
	for i, n := range []string{"web-01", "web-02", "api-01", "api-02"} {
		vmid := 101 + i
		node := []string{"pve1", "pve2", "pve1", "pve3"}[i]
		b.add("qemu", node, vmid, "running", map[string]any{
			"name": n, "memory": "4096", "cores": 2, "sockets": 1, "cpu": "x86-64-v2-AES", "ostype": "l26",
			"scsihw": "virtio-scsi-single", "agent": "enabled=1,fstrim_cloned_disks=1", "onboot": 1,
			"scsi0": fmt.Sprintf("local-lvm:base-100-disk-0/vm-%d-disk-0,discard=on,iothread=1,size=32G", vmid),
			"ide2":  fmt.Sprintf("local-lvm:vm-%d-cloudinit,media=cdrom", vmid),
			"net0":  "virtio=" + mac() + ",bridge=vmbr0,firewall=1,tag=20",
			"boot":  "order=scsi0;net0", "ciuser": "ops",
			"sshkeys":   "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIHomelabKeyForOps%20ops%40homelab",
			"ipconfig0": fmt.Sprintf("ip=10.0.20.%d/24,gw=10.0.20.1", vmid-80), "nameserver": "10.0.20.1",
			"searchdomain": "home.arpa", "tags": "prod;web",
			"smbios1": fmt.Sprintf("uuid=0b9a6a4e-6f3b-4d43-8a55-94c0a1a7e%03d", vmid),
			"vmgenid": fmt.Sprintf("5c1ae8a3-3d0e-4b9c-9e0e-2f7cbbd6e%03d", vmid),
			"meta":    "creation-qemu=8.1.5,ctime=1727046066",
		})
	}
	b.seed.Guests[3].Config["tags"] = "api;prod"
	b.seed.Guests[4].Config["tags"] = "api;prod"
	pool("prod", 101, 102, 103, 104)
	// 105: database with two disks, two NICs on VLANs, a snapshot, a cpulimit.
	b.add("qemu", "pve2", 105, "running", map[string]any{
		"name": "db-01", "memory": "16384", "balloon": 8192, "cores": 4, "sockets": 2, "numa": 1, "cpu": "host",
		"cpulimit": "6.5", "cpuunits": 200, "ostype": "l26", "scsihw": "virtio-scsi-single", "agent": "1",
		"scsi0": "local-lvm:vm-105-disk-0,discard=on,iothread=1,size=64G",
		"scsi1": "local-lvm:vm-105-disk-1,backup=0,iothread=1,size=500G",
		"net0":  "virtio=" + mac() + ",bridge=vmbr0,tag=30", "net1": "virtio=" + mac() + ",bridge=vmbr1,mtu=9000,tag=40",
		"boot": "order=scsi0", "onboot": 1, "startup": "order=1,up=60", "protection": 1, "tags": "db;prod",
		"parent": "pre-upgrade", "smbios1": "uuid=1d2e3f40-0000-4000-8000-000000000105",
	})
	b.seed.Guests[len(b.seed.Guests)-1].Snapshots = []SeedSnapshot{{Name: "pre-upgrade", Description: "before PostgreSQL 16", Snaptime: 1726000000,
		Config: map[string]any{"name": "db-01", "memory": "8192", "cores": 4, "sockets": 2, "cpu": "host", "ostype": "l26",
			"scsihw": "virtio-scsi-single", "scsi0": "local-lvm:vm-105-disk-0,discard=on,iothread=1,size=64G",
			"scsi1": "local-lvm:vm-105-disk-1,backup=0,iothread=1,size=500G", "boot": "order=scsi0"}}}
	pool("prod", 105)
	// 106: Windows 11 with EFI and TPM disks and an ISO.
	b.add("qemu", "pve1", 106, "stopped", map[string]any{
		"name": "win11", "memory": "8192", "cores": 4, "sockets": 1, "cpu": "x86-64-v2-AES", "ostype": "win11",
		"machine": "pc-q35-8.1", "bios": "ovmf", "scsihw": "virtio-scsi-single",
		"efidisk0":  "local-lvm:vm-106-disk-0,efitype=4m,pre-enrolled-keys=1,size=4M",
		"tpmstate0": "local-lvm:vm-106-disk-1,size=4M,version=v2.0",
		"scsi0":     "local-lvm:vm-106-disk-2,cache=writeback,discard=on,iothread=1,size=80G",
		"ide2":      "nas:iso/Win11_24H2_English_x64.iso,media=cdrom,size=5683092K",
		"ide0":      "local:iso/virtio-win-0.1.262.iso,media=cdrom,size=691444K",
		"net0":      "e1000e=" + mac() + ",bridge=vmbr0,firewall=1", "boot": "order=scsi0;ide2;net0",
		"tags": "desktop;lab",
	})
	pool("lab", 106)
	// 107-109: infra VMs; 108 has three NICs (router), 109 unnamed.
	b.add("qemu", "pve3", 107, "running", map[string]any{
		"name": "monitoring", "memory": "4096", "cores": 2, "ostype": "l26", "scsihw": "virtio-scsi-single", "agent": "enabled=1",
		"scsi0": "local-lvm:vm-107-disk-0,iothread=1,size=32G", "net0": "virtio=" + mac() + ",bridge=vmbr0",
		"boot": "order=scsi0;net0", "onboot": 1, "tags": "infra;monitoring", "description": "Prometheus + Grafana",
	})
	b.add("qemu", "pve1", 108, "running", map[string]any{
		"name": "router", "memory": "2048", "cores": 2, "ostype": "other", "scsihw": "virtio-scsi-single",
		"scsi0": "local-lvm:vm-108-disk-0,size=16G",
		"net0":  "virtio=" + mac() + ",bridge=vmbr0", "net1": "virtio=" + mac() + ",bridge=vmbr1,tag=20",
		"net2": "virtio=" + mac() + ",bridge=vmbr1,firewall=1,tag=30", "net3": "virtio=" + mac() + ",bridge=vmbr1,trunks=40;50;60",
		"boot": "order=scsi0", "onboot": 1, "startup": "order=0", "tags": "infra;network",
	})
	b.add("qemu", "pve2", 109, "stopped", map[string]any{
		"memory": "1024", "cores": 1, "ostype": "l26", "scsi0": "local-lvm:vm-109-disk-0,size=8G",
		"net0": "virtio=" + mac() + ",bridge=vmbr0", "ide2": "local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom,size=631M",
	})
	pool("infra", 107, 108)
	// 110, 111: two VMs named "test" (duplicate names are legal).
	for _, vmid := range []int{110, 111} {
		b.add("qemu", "pve3", vmid, "stopped", map[string]any{
			"name": "test", "memory": "2048", "cores": 1, "ostype": "l26",
			"virtio0": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=10G", vmid),
			"net0":    "virtio=" + mac() + ",bridge=vmbr0", "tags": "lab",
		})
	}
	pool("lab", 110, 111)
	// 112-114: more cloud-init VMs on the NAS.
	for i, n := range []string{"k8s-cp-01", "k8s-worker-01", "k8s-worker-02"} {
		vmid := 112 + i
		b.add("qemu", []string{"pve1", "pve2", "pve3"}[i], vmid, "running", map[string]any{
			"name": n, "memory": "8192", "cores": 4, "cpu": "host", "ostype": "l26", "scsihw": "virtio-scsi-single",
			"agent": "enabled=1", "scsi0": fmt.Sprintf("nas:%d/vm-%d-disk-0.qcow2,iothread=1,size=50G", vmid, vmid),
			"ide2": fmt.Sprintf("nas:%d/vm-%d-cloudinit.qcow2,media=cdrom", vmid, vmid),
			"net0": "virtio=" + mac() + ",bridge=vmbr0,tag=50", "ipconfig0": fmt.Sprintf("ip=10.0.50.%d/24,gw=10.0.50.1", 10+i),
			"ciuser": "k8s", "cicustom": "user=local:snippets/user-data.yaml", "boot": "order=scsi0",
			"tags": "k8s", "onboot": 1,
		})
	}
	pool("lab", 112, 113, 114)
	// 115-119: a few plain VMs for volume.
	for i := 0; i < 5; i++ {
		vmid := 115 + i
		b.add("qemu", []string{"pve1", "pve2", "pve3"}[i%3], vmid, []string{"running", "stopped"}[i%2], map[string]any{
			"name": fmt.Sprintf("svc-%02d", i+1), "memory": strconv.Itoa(1024 * (1 + i%3)), "cores": 1 + i%2, "ostype": "l26",
			"scsihw": "virtio-scsi-pci", "scsi0": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=%dG", vmid, 16+8*i),
			"net0": "virtio=" + mac() + ",bridge=vmbr0", "boot": "order=scsi0;net0",
		})
	}
	// 200-211: LXC containers.
	ct := func(vmid int, node, status, host string, conf map[string]any) {
		base := map[string]any{
			"hostname": host, "arch": "amd64", "ostype": "debian", "cores": 1, "memory": 512, "swap": 512,
			"rootfs":       fmt.Sprintf("local-lvm:vm-%d-disk-0,size=8G", vmid),
			"net0":         "name=eth0,bridge=vmbr0,hwaddr=" + mac() + ",ip=dhcp,type=veth",
			"unprivileged": 1, "features": "nesting=1",
		}
		for k, v := range conf {
			base[k] = v
		}
		b.add("lxc", node, vmid, status, base)
	}
	ct(200, "pve1", "running", "dns-01", map[string]any{"net0": "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.10.1,hwaddr=" + mac() + ",ip=10.0.10.53/24,type=veth",
		"onboot": 1, "startup": "order=1", "tags": "dns;infra", "nameserver": "1.1.1.1"})
	ct(201, "pve2", "running", "dns-02", map[string]any{"net0": "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.10.1,hwaddr=" + mac() + ",ip=10.0.10.54/24,type=veth",
		"onboot": 1, "tags": "dns;infra"})
	ct(202, "pve1", "running", "nextcloud", map[string]any{"cores": 2, "memory": 2048, "cpulimit": "1.5",
		"mp0": "local-lvm:vm-202-disk-1,mp=/var/www/data,backup=1,size=200G",
		"mp1": "/mnt/nas/photos,mp=/srv/photos,ro=1", "tags": "apps;prod"})
	ct(203, "pve3", "running", "media", map[string]any{"cores": 4, "memory": 4096,
		"mp0": "local-lvm:vm-203-disk-1,mp=/media,size=100G", "tags": "apps",
		"lxc": [][]string{{"lxc.cgroup2.devices.allow", "c 226:0 rwm"}, {"lxc.mount.entry", "/dev/dri/renderD128 dev/dri/renderD128 none bind,optional,create=file"}}})
	ct(204, "pve2", "stopped", "build", map[string]any{"ostype": "ubuntu", "cores": 8, "memory": 8192, "swap": 0,
		"features": "keyctl=1,nesting=1", "net1": "name=eth1,bridge=vmbr1,hwaddr=" + mac() + ",ip=10.0.30.5/24,tag=30,type=veth", "tags": "ci"})
	ct(205, "pve3", "running", "proxy", map[string]any{"ostype": "alpine", "memory": 256, "swap": 256,
		"rootfs": "local-lvm:vm-205-disk-0,size=2G", "tags": "infra;network"})
	ct(206, "pve1", "stopped", "test", map[string]any{"tags": "lab"})
	ct(207, "pve2", "running", "backup", map[string]any{"memory": 1024, "unprivileged": 0, "features": "mount=nfs;cifs,nesting=1",
		"mp0": "nas:207/vm-207-disk-0.raw,mp=/backup,size=500G", "protection": 1, "tags": "infra"})
	ct(208, "pve3", "stopped", "", map[string]any{})
	delete(b.seed.Guests[len(b.seed.Guests)-1].Config, "hostname")
	ct(209, "pve1", "running", "mqtt", map[string]any{"ostype": "alpine", "memory": 256, "tags": "home;iot", "description": "Mosquitto broker"})
	pool("infra", 200, 201, 205, 207)
	pool("prod", 202)
	pool("lab", 206)
	b.seed.Guests[0].Config["tags"] = "template"
	return b.seed
}

// Large is a generated cluster of n guests over enough nodes (one per 500
// guests, at least 3): three QEMU VMs to every container, a mix of running
// and stopped, tags and pools. It is built for speed: 10,000 guests in a
// few milliseconds.
func Large(n int) *Seed {
	nodes := max(3, (n+499)/500)
	s := &Seed{Version: "8.4.1", Cluster: "large"}
	for i := 1; i <= nodes; i++ {
		s.Nodes = append(s.Nodes, SeedNode{Node: fmt.Sprintf("pve%d", i), MaxCPU: 64, MaxMem: 512 << 30, MaxDisk: 2 << 40})
	}
	s.Storage = []SeedStorage{
		{Storage: "local", Type: "dir", Content: "iso,vztmpl,backup,snippets", Total: 100 << 30, Items: []SeedItem{
			{Volid: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", Content: "vztmpl", Size: 126083723},
			{Volid: "local:iso/debian-12.7.0-amd64-netinst.iso", Content: "iso", Size: 661651456},
		}},
		{Storage: "local-lvm", Type: "lvmthin", Content: "images,rootdir", Total: 16 << 40},
	}
	teams := []string{"team-a", "team-b", "team-c", "team-d"}
	for _, t := range teams {
		s.Pools = append(s.Pools, SeedPool{PoolID: t})
	}
	s.Guests = make([]SeedGuest, 0, n)
	for i := 0; i < n; i++ {
		vmid := 1000 + i
		node := s.Nodes[i%nodes].Node
		status := "running"
		if i%4 == 3 {
			status = "stopped"
		}
		mac := fmt.Sprintf("BC:24:11:%02X:%02X:%02X", i>>16&0xff, i>>8&0xff, i&0xff)
		tags := []string{"web", "db", "cache", "batch"}[i%4] + ";" + teams[i%len(teams)]
		var g SeedGuest
		if i%4 == 2 {
			g = SeedGuest{Type: "lxc", Node: node, VMID: vmid, Status: status, Config: map[string]any{
				"hostname": fmt.Sprintf("ct-%05d", i), "arch": "amd64", "ostype": "debian", "cores": 1 + i%4,
				"memory": 512 * (1 + i%4), "swap": 512, "unprivileged": 1, "features": "nesting=1",
				"rootfs": fmt.Sprintf("local-lvm:vm-%d-disk-0,size=8G", vmid),
				"net0":   "name=eth0,bridge=vmbr0,hwaddr=" + mac + ",ip=dhcp,type=veth", "tags": tags,
			}}
		} else {
			g = SeedGuest{Type: "qemu", Node: node, VMID: vmid, Status: status, Config: map[string]any{
				"name": fmt.Sprintf("vm-%05d", i), "memory": strconv.Itoa(1024 * (1 + i%8)), "cores": 1 + i%4,
				"sockets": 1, "cpu": "x86-64-v2-AES", "ostype": "l26", "scsihw": "virtio-scsi-single",
				"scsi0": fmt.Sprintf("local-lvm:vm-%d-disk-0,iothread=1,size=32G", vmid),
				"net0":  "virtio=" + mac + ",bridge=vmbr0,firewall=1", "boot": "order=scsi0;net0", "tags": tags,
				"agent": "enabled=1", "smbios1": fmt.Sprintf("uuid=00000000-0000-4000-8000-%012d", vmid),
			}}
		}
		s.Guests = append(s.Guests, g)
		if i%3 == 0 {
			p := &s.Pools[i%len(teams)]
			p.Members = append(p.Members, vmid)
		}
	}
	return s
}
