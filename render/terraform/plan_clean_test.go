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
		},
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
