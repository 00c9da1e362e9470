package terraform

import (
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/render"
	"github.com/pmpc-dev/pmpc/resource"
)

// planCleanCluster holds two guests as PVE reports them: "typical" is what
// the PVE web UI writes for a Debian cloud-init VM in a homelab, "bare" a
// VM made with `qm create` and next to no options.
func planCleanCluster() *resource.Cluster {
	return &resource.Cluster{
		Endpoint: "https://pve1.lab.example:8006",
		Nodes:    []resource.Node{{Name: "pve1", Status: "online"}},
		Guests: []resource.Guest{
			{Kind: resource.KindVM, VMID: 110, Node: "pve1", Name: "typical", Status: "running", Tags: "pmpc;web",
				Config: map[string]string{
					"name": "typical", "agent": "1", "cores": "2", "sockets": "1", "cpu": "x86-64-v2-AES",
					"memory": "2048", "ostype": "l26", "scsihw": "virtio-scsi-single", "boot": "order=scsi0;net0",
					"scsi0":     "local-lvm:vm-110-disk-0,discard=on,iothread=1,size=32G",
					"net0":      "virtio=BC:24:11:00:01:10,bridge=vmbr0,firewall=1",
					"tpmstate0": "local-lvm:vm-110-disk-1,size=4M,version=v2.0",
					"serial0":   "socket", "vga": "serial0", "onboot": "1", "tags": "pmpc;web",
					"smbios1": "uuid=6f1c2f0e-0000-4000-8000-000000000110", "vmgenid": "0d9b6a5c-0000-4000-8000-000000000110",
				}},
			{Kind: resource.KindVM, VMID: 111, Node: "pve1", Name: "bare", Status: "stopped",
				Config: map[string]string{
					"name": "bare", "memory": "512", "cores": "1",
					"net0": "e1000=BC:24:11:00:01:11,bridge=vmbr0",
				}},
			// "proxy" is what the PVE web UI writes for an unprivileged
			// Debian container with a data volume, a GPU device and two
			// NICs of which only the second has an address.
			{Kind: resource.KindContainer, VMID: 120, Node: "pve1", Name: "proxy", Status: "running", Tags: "pmpc;web", Pool: "prod",
				Config: map[string]string{
					"arch": "amd64", "cores": "2", "features": "nesting=1", "hostname": "proxy",
					"description": "Reverse proxy\n", "memory": "1024", "swap": "512", "onboot": "1",
					"ostype": "debian", "tags": "pmpc;web", "unprivileged": "1", "tty": "4",
					"rootfs":     "local-lvm:vm-120-disk-0,size=8G",
					"mp0":        "local-lvm:vm-120-disk-1,mp=/srv,backup=1,size=16G",
					"dev0":       "/dev/dri/renderD128,gid=104",
					"net0":       "name=eth0,bridge=vmbr1,hwaddr=BC:24:11:00:01:20,type=veth",
					"net1":       "name=eth1,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:01:21,ip=10.0.0.20/24,gw=10.0.0.1,link_down=1,type=veth",
					"nameserver": "1.1.1.1 9.9.9.9", "searchdomain": "lab.example",
				}},
			// "tiny" is `pct create` with next to no options: every block
			// Read compares against the provider's defaults is at them.
			{Kind: resource.KindContainer, VMID: 121, Node: "pve1", Name: "tiny", Status: "stopped",
				Config: map[string]string{
					"arch": "amd64", "hostname": "tiny", "memory": "512", "swap": "0", "ostype": "unmanaged",
					"rootfs": "local:121/vm-121-disk-0.raw,size=4G",
					"net0":   "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:22,ip=dhcp,type=veth",
				}},
		},
		Pools: []resource.ObservedPool{{ID: "prod", Comment: "Production", Members: []int{120}}, {ID: "scratch"}},
	}
}

// resourceText returns the text of resource TYPE NAME in main.tf.
func resourceText(t *testing.T, files []render.File, typ, name string) string {
	t.Helper()
	for _, f := range files {
		if f.Name != FileMain {
			continue
		}
		s := string(f.Data)
		start := strings.Index(s, `resource "`+typ+`" "`+name+`" {`)
		if start < 0 {
			break
		}
		end := strings.Index(s[start:], "\n}\n")
		return s[start : start+end+2]
	}
	t.Fatalf("no resource %s.%s", typ, name)
	return ""
}

// TestPlanCleanAfterImport lists, attribute by attribute, what the
// bpg/proxmox provider's Read (vmReadCustom and vmReadPrimitiveValues in
// proxmoxtf/resource/vm/vm.go, disk.Read, network.ReadNetworkDeviceObjects)
// puts into state when it imports a guest, against the schema Default an
// attribute left out of the configuration takes, and checks that pmpc
// renders what makes the two agree (or ignores what no configuration can
// state), so that `terraform plan` after the import blocks shows no change.
func TestPlanCleanAfterImport(t *testing.T) {
	c := planCleanCluster()
	files, err := Render(render.FromLive(c), Options{Cluster: c, ExactTags: true})
	if err != nil {
		t.Fatal(err)
	}
	typical := resourceText(t, files, TypeVM, "typical")
	bare := resourceText(t, files, TypeVM, "bare")
	for _, tc := range []struct {
		guest, attr     string
		providerDefault string
		// want must appear in the resource, absent must not, and ignored
		// must be an element of lifecycle.ignore_changes.
		want, absent, ignored string
		why                   string
	}{
		{"typical", "agent", "block absent; enabled=false, type=virtio",
			"agent {\n    enabled = true\n  }", "", "",
			"agent: 1 in PVE: Read fills the block (enabled=true, trim=false, timeout=15m), so the configuration states it"},
		{"typical", "agent.type", "virtio",
			"", "", "agent[0].type",
			`Read stores "" when PVE's agent names no type; the validator rejects "", so it is ignored`},
		{"bare", "agent", "block absent",
			"", "agent {", "",
			"no agent key: Read sets agent = [], and any block, even all-default, would plan a change"},
		{"typical", "cpu", "cores=1 sockets=1 type=qemu64",
			"cpu {\n    cores   = 2\n    sockets = 1\n    type    = \"x86-64-v2-AES\"\n  }", "", "",
			"cores 2 and type differ from the defaults, so Read stores the block with PVE's values"},
		{"bare", "cpu", "cores=1 sockets=1 type=qemu64",
			"", "cpu {", "",
			"all at the defaults: Read leaves cpu out of state, so no block is rendered"},
		{"typical", "memory", "dedicated=512 floating=0",
			"memory {\n    dedicated = 2048\n  }", "", "",
			"2048 differs from 512: Read stores the block"},
		{"bare", "memory", "dedicated=512 floating=0",
			"", "memory {", "",
			"512 and no balloon equal the defaults: Read leaves memory out of state"},
		{"typical", "operating_system", "type=other",
			"operating_system {\n    type = \"l26\"\n  }", "", "",
			"ostype l26 differs from other: Read stores it"},
		{"bare", "operating_system", "type=other",
			"", "operating_system {", "operating_system",
			`no ostype: Read stores type "" (validator rejects it), so the block is ignored`},
		{"typical", "scsi_hardware", "virtio-scsi-pci",
			`scsi_hardware = "virtio-scsi-single"`, "", "",
			"Read sets scsihw when PVE has it"},
		{"bare", "scsi_hardware", "virtio-scsi-pci",
			"", "scsi_hardware =", "scsi_hardware",
			"no scsihw: Read leaves it unset while the Default is virtio-scsi-pci (PVE uses lsi): ignored"},
		{"typical", "keyboard_layout", "en-us",
			"", "keyboard_layout =", "keyboard_layout",
			`no keyboard: Read stores "" against the Default en-us; the validator rejects "": ignored`},
		{"typical", "vga", "type=std memory=16",
			"vga {\n    type = \"serial0\"\n  }", "", "",
			"vga serial0 differs from std: Read stores type serial0, memory 16"},
		{"bare", "vga", "type=std memory=16",
			"", "vga {", "vga",
			`no vga: Read stores type "" and memory 0, which no configuration can state: ignored`},
		{"typical", "serial_device", "none",
			"serial_device {\n    device = \"socket\"\n  }", "", "",
			"serial0 socket: Read stores one entry per slot"},
		{"typical", "boot_order", "[]",
			`boot_order    = ["scsi0", "net0"]`, "", "",
			"Read stores PVE's boot order"},
		{"typical", "on_boot", "true",
			"on_boot       = true", "", "",
			"the provider's Default true is not PVE's (off); stated from onboot"},
		{"bare", "on_boot", "true",
			"on_boot   = false", "", "",
			"onboot absent means off in PVE; the Default true would plan a change"},
		{"typical", "tags", "[]",
			`tags          = ["pmpc", "web"]`, "", "",
			"Read splits PVE's tags on ';' and sorts them (order is diff-suppressed too)"},
		{"typical", "disk.iothread/discard", "false/ignore",
			"discard      = \"on\"\n    iothread     = true", "", "",
			"disk.Read stores PVE's values, falling back to the schema defaults for absent keys"},
		{"typical", "disk.cache/aio/backup/replicate/ssd", "none/io_uring/true/true/false",
			"", "cache", "", "absent in PVE: disk.Read stores the same values the Defaults give, so they are left out"},
		{"typical", "network_device.firewall", "false",
			"firewall = true", "", "",
			"network.ReadNetworkDeviceObjects stores PVE's firewall flag"},
		{"bare", "network_device.model", "virtio",
			`model  = "e1000"`, "", "",
			"the Default virtio differs from PVE's e1000: stated"},
		{"typical", "tpm_state", "datastore_id=local-lvm version=v2.0",
			"", "tpm_state", "", "all at the defaults: Read leaves it out of state, and the block is ForceNew, so rendering it would replace the VM"},
		{"typical", "smbios", "block absent",
			"", "smbios", "", "smbios1 with only a uuid: Read leaves smbios out of state"},
		{"typical", "started", "true",
			"started       = true", "", "",
			"Read sets started from the power state; pmpc states the live one and ignores it when the definition leaves it alone"},
	} {
		body := typical
		if tc.guest == "bare" {
			body = bare
		}
		if tc.want != "" && !strings.Contains(body, tc.want) {
			t.Errorf("%s %s (provider default %s): rendered resource lacks %q (%s):\n%s", tc.guest, tc.attr, tc.providerDefault, tc.want, tc.why, body)
		}
		if tc.ignored != "" && !contains(ignoreChanges(body), tc.ignored) {
			t.Errorf("%s %s (provider default %s): %s not in ignore_changes (%s):\n%s", tc.guest, tc.attr, tc.providerDefault, tc.ignored, tc.why, body)
		}
		if tc.absent != "" && strings.Contains(body, tc.absent) {
			t.Errorf("%s %s (provider default %s): rendered resource has %q (%s):\n%s", tc.guest, tc.attr, tc.providerDefault, tc.absent, tc.why, body)
		}
	}
}

// TestPlanCleanAfterImportContainer is TestPlanCleanAfterImport for
// containers and pools. It is checked against containerRead and the schema
// of proxmoxtf/resource/container/container.go at commit
// 35bf711a9018d2644e4a11ebddd6545b4e564792 (older than 0.111.1: where the
// provider changed since, the row says so) and against poolRead and the
// importer of proxmoxtf/resource/pool.go.
func TestPlanCleanAfterImportContainer(t *testing.T) {
	c := planCleanCluster()
	files, err := Render(render.FromLive(c), Options{Cluster: c, ExactTags: true})
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{
		"proxy":        resourceText(t, files, TypeContainer, "proxy"),
		"tiny":         resourceText(t, files, TypeContainer, "tiny"),
		"pool prod":    resourceText(t, files, TypePool, "prod"),
		"pool scratch": resourceText(t, files, TypePool, "scratch"),
	}
	for _, tc := range []struct {
		guest, attr     string
		providerDefault string
		// want must appear in the resource, absent must not, and ignored
		// must be an element of lifecycle.ignore_changes.
		want, absent, ignored string
		why                   string
	}{
		{"proxy", "description", `""`,
			`description   = "Reverse proxy\n"`, "", "",
			"containerRead stores PVE's description as is (PVE ends it with a newline); the schema's StateFunc trims the configured one and adds one newline, so the two agree"},
		{"proxy", "console", "enabled=true type=tty tty_count=2",
			"console {\n    tty_count = 4\n  }", "", "",
			"tty 4 differs from 2: containerRead stores the block (enabled, type from their defaults)"},
		{"tiny", "console", "enabled=true type=tty tty_count=2",
			"", "console {", "",
			"no console, cmode or tty: containerRead fills the defaults and leaves the block out"},
		{"proxy", "cpu", "architecture=amd64 cores=1 units=1024",
			"cpu {\n    cores = 2\n  }", "architecture", "",
			"cores 2 differs: containerRead stores the block, with amd64 and 1024 for the absent keys, which the omitted attributes default to"},
		{"tiny", "cpu", "architecture=amd64 cores=1 units=1024",
			"", "cpu {", "",
			"arch amd64 and no cores or cpuunits: all defaults, containerRead leaves cpu out"},
		{"proxy", "memory", "dedicated=512 swap=0",
			"memory {\n    dedicated = 1024\n    swap      = 512\n  }", "", "",
			"containerRead stores memory when dedicated is not 512 or swap not 0"},
		{"tiny", "memory", "dedicated=512 swap=0",
			"", "memory {", "",
			"memory 512, swap 0: at the defaults, containerRead leaves the block out"},
		{"proxy", "disk", "datastore_id=local size=4",
			"disk {\n    datastore_id = \"local-lvm\"\n    size         = 8\n  }", "", "",
			"containerRead stores the rootfs storage (volume prefix) and size in GiB when they differ from local/4"},
		{"tiny", "disk", "datastore_id=local size=4",
			"", "disk {", "",
			"local, 4G: containerRead leaves disk out, and disk is ForceNew, so a block would replace the container"},
		{"proxy", "mount_point", "backup=false replicate=true size=\"\"",
			"mount_point {\n    volume = \"local-lvm\"\n    path   = \"/srv\"\n    size   = \"16G\"\n    backup = true\n  }", "", "",
			"containerRead stores every mpN; the volume's DiffSuppressFunc matches storage \"local-lvm\" against the allocated volume id, and path matches with its leading /"},
		{"proxy", "device_passthrough", "deny_write=false",
			"device_passthrough {\n    path = \"/dev/dri/renderD128\"\n    gid  = 104\n  }", "", "",
			"containerRead stores each devN; leaving it out would plan its removal"},
		{"proxy", "network_interface.enabled", "true",
			"", "enabled ", "",
			"containerRead always reads enabled=true, and enabled=false deletes the NIC: link_down is not mapped to it"},
		{"proxy", "network_interface.firewall/bridge", "false/vmbr0",
			"name     = \"eth1\"\n    bridge   = \"vmbr0\"\n    firewall = true", "", "",
			"containerRead stores PVE's bridge and firewall flag"},
		{"proxy", "network_interface.mac_address", `""`,
			"", "mac_address", "",
			"hwaddr is left out like a VM's MAC: the attribute is Optional+Computed and a blank one is diff-suppressed"},
		{"proxy", "network_interface.mtu/rate_limit/vlan_id", "0/0/0",
			"", "vlan_id", "",
			"absent in PVE: containerRead stores 0, the schema Default"},
		{"proxy", "operating_system", "type=unmanaged",
			"", "operating_system {", "operating_system",
			"PVE does not keep the template; containerRead copies template_file_id from the prior state (empty on import) and the block is ForceNew with template_file_id required: ignored"},
		{"tiny", "operating_system", "type=unmanaged",
			"", "operating_system {", "",
			"ostype unmanaged: containerRead leaves the block out"},
		{"proxy", "initialization.hostname", `""`,
			`hostname = "proxy"`, "", "",
			"containerRead always stores hostname"},
		{"proxy", "initialization.dns", "block absent",
			"dns {\n      domain  = \"lab.example\"\n      servers = [\"1.1.1.1\", \"9.9.9.9\"]\n    }", "", "",
			"containerRead stores domain and nameserver split on spaces into servers"},
		{"proxy", "initialization.ip_config", "[]",
			"", "", "initialization[0].ip_config",
			"containerRead stores one ip_config per NIC with an address, so eth0 (none) has no entry, while the provider pairs the n-th entry with the n-th NIC: no configuration matches, ignored"},
		{"tiny", "initialization.ip_config", "[]",
			"ip_config {\n      ipv4 {\n        address = \"dhcp\"\n      }\n    }", "", "",
			"one NIC with ip=dhcp: one entry, gateway \"\" (the Default)"},
		{"tiny", "initialization.user_account", "[] (ForceNew)",
			"", "user_account", "",
			"containerRead copies user_account from the prior state, empty on import; PVE never returns the password"},
		{"proxy", "features", "nesting=keyctl=fuse=false",
			"features {\n    nesting = true\n  }", "", "features",
			"containerRead does not read features back (at the commit read): the block is empty after import, so it is ignored rather than re-sent"},
		{"proxy", "unprivileged", "false (ForceNew)",
			"unprivileged  = true", "", "",
			"read back since bpg/terraform-provider-proxmox#1867 (older versions left it null and planned a replacement, #1406)"},
		{"tiny", "unprivileged", "false (ForceNew)",
			"", "unprivileged", "",
			"absent in PVE means privileged, the Default"},
		{"proxy", "started", "true",
			"started       = true", "", "",
			"containerRead sets started from the status (running), which the definition taken from PVE states"},
		{"tiny", "started", "true",
			"started       = false", "", "",
			"stopped: the Default true would start the container"},
		{"proxy", "start_on_boot", "true",
			"start_on_boot = true", "", "start_on_boot",
			"containerRead never sets start_on_boot (null after import, #1406 shows `+ start_on_boot`): stated from onboot and ignored"},
		{"tiny", "start_on_boot", "true",
			"start_on_boot = false", "", "start_on_boot",
			"onboot absent means off in PVE; the Default true differs; not read back: ignored"},
		{"proxy", "tags", "[]",
			`tags          = ["pmpc", "web"]`, "", "",
			"containerRead splits tags on ';' and sorts them"},
		{"proxy", "pool_id", `"" (ForceNew)`,
			"pool_id       = proxmox_virtual_environment_pool.prod.pool_id", "", "pool_id",
			"containerRead never sets pool_id, so it is null after import and, being ForceNew, would replace the container: ignored"},
		{"proxy", "vm_id", "computed (ForceNew unless equal to the id)",
			"vm_id         = 120", "", "vm_id",
			"containerRead sets vm_id only to repair a stored -1; the importer sets id and node_name only, so #1406 plans `+ vm_id`: ignored"},
		{"tiny", "timeout_*", "1800/1800/60/300/1800",
			"", "timeout_create =", "timeout_create",
			"containerRead never sets the timeouts in 0.111.1 (backfilled from #3111 on); their Defaults would plan a change: ignored"},
		{"proxy", "template/protection", "false/false",
			"", "protection", "",
			"containerRead stores PVE's flags, false when absent: the Defaults"},
		{"pool prod", "comment", `""`,
			`comment = "Production"`, "", "",
			"poolRead stores PVE's comment"},
		{"pool scratch", "comment", `""`,
			"", "comment", "",
			"no comment: poolRead stores \"\", the Default; the importer sets pool_id from the id"},
	} {
		body := bodies[tc.guest]
		if tc.want != "" && !strings.Contains(body, tc.want) {
			t.Errorf("%s %s (provider default %s): rendered resource lacks %q (%s):\n%s", tc.guest, tc.attr, tc.providerDefault, tc.want, tc.why, body)
		}
		if tc.ignored != "" && !contains(ignoreChanges(body), tc.ignored) {
			t.Errorf("%s %s (provider default %s): %s not in ignore_changes (%s):\n%s", tc.guest, tc.attr, tc.providerDefault, tc.ignored, tc.why, body)
		}
		if tc.absent != "" && strings.Contains(body, tc.absent) {
			t.Errorf("%s %s (provider default %s): rendered resource has %q (%s):\n%s", tc.guest, tc.attr, tc.providerDefault, tc.absent, tc.why, body)
		}
	}
	for _, name := range []string{"tiny", "proxy"} {
		for _, timeout := range ctTimeouts {
			if !contains(ignoreChanges(bodies[name]), timeout) {
				t.Errorf("%s: %s not ignored:\n%s", name, timeout, bodies[name])
			}
		}
	}
}

// TestNewContainerNoIgnores checks that a container pmpc would create
// renders neither import-only ignores nor blocks that restate the
// provider's defaults, and keeps what only matters at create.
func TestNewContainerNoIgnores(t *testing.T) {
	set := resource.NewSet()
	mem, swap, cores := 512, 0, 1
	set.Containers["fresh"] = &resource.Container{Node: "pve1", State: "running", Memory: &mem, Swap: &swap, Cores: &cores,
		Arch: "amd64", OSTemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", OSType: "debian",
		RootFS: &resource.Mount{Storage: "local", Size: "4G"}, SSHKeys: []string{"ssh-ed25519 AAAA"}, Pool: "prod"}
	files, err := Render(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := resourceText(t, files, TypeContainer, "fresh")
	for _, bad := range []string{"lifecycle", "cpu {", "memory {", "disk {", "console {"} {
		if strings.Contains(body, bad) {
			t.Errorf("new container renders %q:\n%s", bad, body)
		}
	}
	for _, good := range []string{"template_file_id = \"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst\"", "user_account {", `pool_id       = "prod"`} {
		if !strings.Contains(body, good) {
			t.Errorf("new container lacks %q:\n%s", good, body)
		}
	}
}

// TestNewGuestNoIgnores checks that a guest pmpc would create gets no
// ignore_changes for provider quirks that only concern import, and no
// blocks that merely restate the provider's defaults.
func TestNewGuestNoIgnores(t *testing.T) {
	set := resource.NewSet()
	mem, cores := 512, 1
	set.VMs["fresh"] = &resource.VM{Node: "pve1", State: "running", Memory: &mem, Cores: &cores,
		Agent: &resource.Agent{Enabled: false}, OSType: "other", Clone: &resource.Clone{From: "9000"}}
	files, err := Render(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := resourceText(t, files, TypeVM, "fresh")
	for _, bad := range []string{"lifecycle", "agent {", "cpu {", "memory {", "operating_system {"} {
		if strings.Contains(body, bad) {
			t.Errorf("new VM renders %q:\n%s", bad, body)
		}
	}
}

// ignoreChanges returns the elements of the resource's ignore_changes list.
func ignoreChanges(body string) []string {
	_, rest, ok := strings.Cut(body, "ignore_changes = [")
	if !ok {
		return nil
	}
	list, _, _ := strings.Cut(rest, "]\n")
	return strings.Split(list, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
