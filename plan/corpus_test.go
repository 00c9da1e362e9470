package plan

import (
	"fmt"
	"maps"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// The corpus: plans built in Go, each exercising one behaviour a user relies
// on. golden_test.go renders every case in all three views.

var fixedNow = func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }

func ptr[T any](v T) *T { return &v }

// guest is a live guest with the pmpc tag (pass tags "" for none).
func guest(kind resource.Kind, vmid int, name, status, tags string, cfg map[string]string) resource.Guest {
	c := maps.Clone(cfg)
	if c == nil {
		c = map[string]string{}
	}
	if kind == resource.KindContainer {
		c["hostname"] = name
	} else {
		c["name"] = name
	}
	if tags != "" {
		c["tags"] = tags
	}
	return resource.Guest{Kind: kind, VMID: vmid, Node: "pve1", Name: name, Status: status, Tags: tags,
		Digest: fmt.Sprintf("%040x", vmid), Config: c}
}

// webVM is a small VM definition; webCfg is what PVE holds for it.
func webVM() *resource.VM {
	return &resource.VM{
		Node: "pve1", Cores: ptr(2), Memory: ptr(4096), Tags: []string{"web", "prod"}, State: "running",
		SCSIHW:   "virtio-scsi-single",
		Disks:    map[string]resource.Disk{"scsi0": {Storage: "local-lvm", Size: "32G", Options: map[string]string{"iothread": "1"}}},
		Networks: map[string]resource.NIC{"net0": {Model: "virtio", Bridge: "vmbr0", Firewall: ptr(true)}},
	}
}

func webCfg() map[string]string {
	return map[string]string{
		"cores": "2", "memory": "4096", "scsihw": "virtio-scsi-single",
		"scsi0":   "local-lvm:vm-100-disk-0,iothread=1,size=32G",
		"net0":    "virtio=BC:24:11:2E:4A:01,bridge=vmbr0,firewall=1",
		"boot":    "order=scsi0;net0",
		"smbios1": "uuid=6f0c5d1e-0000-4000-8000-000000000001", "vmgenid": "1b2c0000-0000-4000-8000-000000000001",
		"meta": "creation-qemu=8.1.5,ctime=1727046066",
	}
}

func dnsCT() *resource.Container {
	return &resource.Container{
		Node: "pve1", Cores: ptr(1), Memory: ptr(512), Swap: ptr(512), Unprivileged: ptr(true), State: "running",
		OSTemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		RootFS:     &resource.Mount{Storage: "local-lvm", Size: "8G"},
		Networks:   map[string]resource.CTNIC{"net0": {Name: "eth0", Bridge: "vmbr0", IP: "dhcp"}},
	}
}

func dnsCfg() map[string]string {
	return map[string]string{
		"cores": "1", "memory": "512", "swap": "512", "unprivileged": "1", "arch": "amd64", "ostype": "debian",
		"rootfs": "local-lvm:vm-200-disk-0,size=8G",
		"net0":   "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:12:34:56,ip=dhcp,type=veth",
	}
}

type testCase struct {
	name     string
	desired  *resource.Set
	observed *resource.Cluster
	opts     Options
}

func set(build func(s *resource.Set)) *resource.Set {
	s := resource.NewSet()
	build(s)
	return s
}

func cluster(gs ...resource.Guest) *resource.Cluster {
	return &resource.Cluster{Endpoint: "https://pve.example:8006", Guests: gs}
}

func corpus() []testCase {
	var cases []testCase
	add := func(tc testCase) { cases = append(cases, tc) }

	// Nothing to do: tags in another order and MACs left to PVE are no change.
	add(testCase{name: "no_changes",
		desired:  set(func(s *resource.Set) { s.VMs["web-01"] = webVM() }),
		observed: cluster(guest(resource.KindVM, 100, "web-01", "running", "web;pmpc;Prod", webCfg())),
	})

	// Create: a pool, a VM in it (started), a container.
	add(testCase{name: "create",
		desired: set(func(s *resource.Set) {
			s.Pools["prod"] = &resource.Pool{Comment: ptr("production")}
			vm := webVM()
			vm.Pool = "prod"
			vm.CloudInit = &resource.CloudInit{User: "ops", Password: "env:CI_PASSWORD"}
			s.VMs["web-01"] = vm
			ct := dnsCT()
			ct.VMID = 200
			ct.Password = "env:CT_PASSWORD"
			s.Containers["dns"] = ct
		}),
		observed: cluster(),
	})

	// Live changes on a running VM: a NIC's bridge, onboot, a new NIC, a
	// description edited line by line.
	add(testCase{name: "update_live",
		desired: set(func(s *resource.Set) {
			vm := webVM()
			vm.Networks["net0"] = resource.NIC{Model: "virtio", Bridge: "vmbr1", Firewall: ptr(true)}
			vm.Networks["net1"] = resource.NIC{Model: "virtio", Bridge: "vmbr2"}
			vm.OnBoot = ptr(true)
			vm.Description = ptr("Web frontend\nOwner: team-web\nBackups: nightly\nTicket: OPS-2\n")
			s.VMs["web-01"] = vm
		}),
		observed: cluster(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{
			"description": "Web frontend\nOwner: team-web\nBackups: weekly\nTicket: OPS-1\n",
		}))),
	})

	// Pending: cores and cpu wait for a restart; without --allow-restart the
	// plan says so.
	pending := func(name string, allow bool) testCase {
		return testCase{name: name,
			desired: set(func(s *resource.Set) {
				vm := webVM()
				vm.Cores = ptr(4)
				vm.CPU = "host"
				vm.Memory = ptr(8192)
				vm.Hotplug = "network,disk,memory"
				s.VMs["web-01"] = vm
			}),
			observed: cluster(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"hotplug": "network,disk,memory"}))),
			opts:     Options{AllowRestart: allow},
		}
	}
	add(pending("update_pending", false))
	add(pending("update_restart", true))

	// Pending until restart: the config already says what the definition
	// says (an earlier apply wrote it), but the running VM still runs the
	// old memory and cores. Not a change; with --allow-restart a restart.
	held := func(name string, allow bool) testCase {
		g := guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"memory": "8192", "cores": "4"}))
		g.Pending = map[string]string{"memory": "4096", "cores": "2"}
		return testCase{name: name,
			desired: set(func(s *resource.Set) {
				vm := webVM()
				vm.Cores, vm.Memory = ptr(4), ptr(8192)
				s.VMs["web-01"] = vm
			}),
			observed: cluster(g),
			opts:     Options{AllowRestart: allow},
		}
	}
	add(held("pending_held", false))
	add(held("pending_held_restart", true))

	// A stopped guest takes everything at once.
	add(testCase{name: "update_stopped",
		desired: set(func(s *resource.Set) {
			vm := webVM()
			vm.Cores = ptr(4)
			vm.State = ""
			s.VMs["web-01"] = vm
		}),
		observed: cluster(guest(resource.KindVM, 100, "web-01", "stopped", "pmpc;prod;web", webCfg())),
	})

	// Replacement: unprivileged cannot change after creation. It destroys
	// the guest's disks, so it needs --allow-replace; without it the plan
	// has an error saying so.
	replaced := func(name string, allow bool) testCase {
		return testCase{name: name,
			desired: set(func(s *resource.Set) {
				ct := dnsCT()
				ct.Unprivileged = ptr(false)
				s.Containers["dns"] = ct
			}),
			observed: cluster(guest(resource.KindContainer, 200, "dns", "running", "pmpc", dnsCfg())),
			opts:     Options{AllowReplace: allow},
		}
	}
	add(replaced("replace", true))
	add(replaced("replace_not_allowed", false))
	// Recreating a container needs the template it is made from, which
	// PVE does not keep: an imported container cannot be replaced.
	add(testCase{name: "replace_without_ostemplate",
		desired: set(func(s *resource.Set) {
			ct := dnsCT()
			ct.Unprivileged, ct.OSTemplate = ptr(false), ""
			s.Containers["dns"] = ct
		}),
		observed: cluster(guest(resource.KindContainer, 200, "dns", "running", "pmpc", dnsCfg())),
		opts:     Options{AllowReplace: true},
	})

	// Drift: someone edited the live VM (memory, a hookscript added by hand).
	add(testCase{name: "drift",
		desired: set(func(s *resource.Set) { s.VMs["web-01"] = webVM() }),
		observed: cluster(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{
			"memory": "2048", "hookscript": "local:snippets/hook.sh",
		}))),
	})

	// Guests that left the workspace, without and with prune; a protected one
	// is an error, an untagged one is never touched; a pool only pmpc guests
	// used goes with them.
	orphans := func(name string, prune bool) testCase {
		return testCase{name: name,
			desired: set(func(s *resource.Set) { s.VMs["web-01"] = webVM() }),
			observed: &resource.Cluster{Guests: []resource.Guest{
				guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", webCfg()),
				withPool(guest(resource.KindVM, 101, "old-web", "running", "pmpc;web", webCfg()), "retired"),
				guest(resource.KindVM, 102, "vault", "stopped", "pmpc", with(webCfg(), map[string]string{"protection": "1"})),
				guest(resource.KindContainer, 150, "legacy", "running", "", dnsCfg()),
			}, Pools: []resource.ObservedPool{{ID: "retired", Members: []int{101}}, {ID: "handmade"}}},
			opts: Options{Prune: prune},
		}
	}
	add(orphans("prune_off", false))
	add(orphans("prune_on", true))

	// A cluster with many guests nobody manages: the text view lists the
	// first ten and counts the rest; a guest tagged pmpc is always listed.
	add(testCase{name: "unmanaged_many",
		desired: set(func(s *resource.Set) { s.VMs["web-01"] = webVM() }),
		observed: func() *resource.Cluster {
			gs := []resource.Guest{guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", webCfg())}
			for i := range 14 {
				gs = append(gs, guest(resource.KindVM, 300+i, fmt.Sprintf("hand-%02d", i), "running", "", webCfg()))
			}
			gs = append(gs, guest(resource.KindVM, 400, "gone", "stopped", "pmpc", webCfg()))
			return cluster(gs...)
		}(),
	})

	// Start and stop.
	add(testCase{name: "power",
		desired: set(func(s *resource.Set) {
			s.VMs["web-01"] = webVM()
			ct := dnsCT()
			ct.State = "stopped"
			s.Containers["dns"] = ct
		}),
		observed: cluster(
			guest(resource.KindVM, 100, "web-01", "stopped", "pmpc;prod;web", webCfg()),
			guest(resource.KindContainer, 200, "dns", "running", "pmpc", dnsCfg())),
	})

	// Clones: one from an existing template (grown disk), one from a
	// template this plan creates.
	add(testCase{name: "clone",
		desired: set(func(s *resource.Set) {
			tmpl := webVM()
			tmpl.Template, tmpl.State = ptr(true), ""
			s.VMs["tmpl-debian"] = tmpl
			tmpl2 := webVM()
			tmpl2.Template, tmpl2.State, tmpl2.VMID = ptr(true), "", 9001
			s.VMs["tmpl-alma"] = tmpl2
			a := webVM()
			a.Clone = &resource.Clone{From: "tmpl-debian"}
			a.Disks["scsi0"] = resource.Disk{Storage: "local-lvm", Size: "64G", Options: map[string]string{"iothread": "1"}}
			a.Cores = ptr(4)
			s.VMs["app-01"] = a
			b := webVM()
			b.Clone = &resource.Clone{From: "tmpl-alma", Full: ptr(true), Storage: "local-lvm"}
			s.VMs["app-02"] = b
		}),
		observed: cluster(func() resource.Guest {
			g := guest(resource.KindVM, 9000, "tmpl-debian", "stopped", "pmpc;prod;web", with(webCfg(), map[string]string{"template": "1"}))
			g.Template = true
			return g
		}()),
	})

	// Pool membership moves.
	add(testCase{name: "pool_move",
		desired: set(func(s *resource.Set) {
			s.Pools["prod"] = &resource.Pool{}
			vm := webVM()
			vm.Pool = "prod"
			s.VMs["web-01"] = vm
			vm2 := webVM()
			vm2.Pool = "staging"
			s.VMs["web-02"] = vm2
		}),
		observed: &resource.Cluster{Guests: []resource.Guest{
			withPool(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", webCfg()), "staging"),
			guest(resource.KindVM, 101, "web-02", "running", "pmpc;prod;web", webCfg()),
		}, Pools: []resource.ObservedPool{{ID: "staging", Members: []int{100}}}},
	})

	// Disks: growth is a resize, a removed disk is detached, a shrink is an error.
	add(testCase{name: "disks",
		desired: set(func(s *resource.Set) {
			vm := webVM()
			vm.Disks["scsi0"] = resource.Disk{Storage: "local-lvm", Size: "64G", Options: map[string]string{"iothread": "1"}}
			s.VMs["web-01"] = vm
			vm2 := webVM()
			vm2.Disks["scsi0"] = resource.Disk{Storage: "local-lvm", Size: "16G", Options: map[string]string{"iothread": "1"}}
			s.VMs["web-02"] = vm2
			ct := dnsCT()
			ct.RootFS = &resource.Mount{Storage: "local-lvm", Size: "16G"}
			s.Containers["dns"] = ct
		}),
		observed: cluster(
			guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{
				"scsi1": "local-lvm:vm-100-disk-1,size=100G", "unused0": "local-lvm:vm-100-disk-2"})),
			guest(resource.KindVM, 101, "web-02", "running", "pmpc;prod;web", webCfg()),
			guest(resource.KindContainer, 200, "dns", "running", "pmpc", dnsCfg())),
	})
	add(testCase{name: "disk_purge",
		desired: set(func(s *resource.Set) { s.VMs["web-01"] = webVM() }),
		observed: cluster(guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{
			"scsi1": "local-lvm:vm-100-disk-1,size=100G"}))),
		opts: Options{PurgeDisks: true},
	})

	// Secrets: the recorded hash no longer matches the referenced secret.
	add(testCase{name: "secret_change",
		desired: set(func(s *resource.Set) {
			for _, n := range []string{"web-01", "web-02", "web-03"} {
				vm := webVM()
				vm.CloudInit = &resource.CloudInit{User: "ops", Password: "env:CI_PASSWORD"}
				s.VMs[n] = vm
			}
		}),
		observed: cluster(
			guest(resource.KindVM, 100, "web-01", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"ciuser": "ops", "cipassword": "**********"})),
			guest(resource.KindVM, 101, "web-02", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"ciuser": "ops", "cipassword": "**********"})),
			guest(resource.KindVM, 102, "web-03", "running", "pmpc;prod;web", with(webCfg(), map[string]string{"ciuser": "ops", "cipassword": "**********"}))),
		opts: Options{
			// web-01 recorded the old password, web-02 the current one, web-03 nothing.
			SecretHash: func(a resource.Address, key string) (string, bool) {
				switch a.Name {
				case "web-01":
					return HashSecret("salt-1", "old-password"), true
				case "web-02":
					return HashSecret("salt-2", "new-password"), true
				}
				return "", false
			},
			ResolveSecret: func(ref resource.SecretRef) (string, error) {
				if ref != "env:CI_PASSWORD" {
					return "", fmt.Errorf("unexpected ref %s", ref)
				}
				return "new-password", nil
			},
		},
	})

	// Matching problems: two managed guests share a name; a pinned vmid is
	// of the other kind.
	add(testCase{name: "match_errors",
		desired: set(func(s *resource.Set) {
			s.VMs["web-01"] = webVM()
			ct := dnsCT()
			ct.VMID = 100
			s.Containers["dns"] = ct
		}),
		observed: cluster(
			guest(resource.KindVM, 100, "other", "running", "pmpc", webCfg()),
			guest(resource.KindVM, 101, "web-01", "running", "pmpc;prod;web", webCfg()),
			guest(resource.KindVM, 102, "web-01", "running", "pmpc;prod;web", webCfg())),
	})

	// A huge plan: the markdown view is capped.
	add(testCase{name: "huge",
		desired: set(func(s *resource.Set) {
			for i := range 2000 {
				vm := webVM()
				vm.Description = ptr(fmt.Sprintf("guest %d of a large fleet", i))
				s.VMs[fmt.Sprintf("web-%04d", i)] = vm
			}
		}),
		observed: cluster(),
	})
	return cases
}

func with(m, extra map[string]string) map[string]string {
	out := maps.Clone(m)
	maps.Copy(out, extra)
	return out
}

func withPool(g resource.Guest, pool string) resource.Guest {
	g.Pool = pool
	return g
}
