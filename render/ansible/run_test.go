package ansible

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// runSet is what TestPlaybookRunsAgainstSim renders: a pool, a cloud-init
// VM with a pinned vmid, an OVMF VM whose vmid PVE allocates (efidisk0,
// tpmstate0 and an e1000e NIC, which the modules cannot handle themselves)
// and an LXC container.
func runSet() *resource.Set {
	set := resource.NewSet()
	ptr := func(v int) *int { return &v }
	yes := true
	comment := "experiments"
	set.Pools["lab"] = &resource.Pool{Comment: &comment}
	set.VMs["web-01"] = &resource.VM{
		Node: "pve1", VMID: 120, Pool: "lab", Tags: []string{"web"}, State: "running",
		Cores: ptr(2), Memory: ptr(2048), OSType: "l26", SCSIHW: "virtio-scsi-single",
		Agent: &resource.Agent{Enabled: true},
		Disks: map[string]resource.Disk{"scsi0": {Storage: "local-lvm", Size: "8G", Options: map[string]string{"iothread": "1"}}},
		Networks: map[string]resource.NIC{
			"net0": {Model: "virtio", Bridge: "vmbr0", Firewall: &yes, Tag: 20},
		},
		CloudInit: &resource.CloudInit{
			Drive: "ide2", Storage: "local-lvm", User: "admin", Password: "env:WEB_PASSWORD",
			SSHKeys:  []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0 admin@laptop"},
			IPConfig: map[string]resource.IPConfig{"ipconfig0": {IP: "10.0.20.11/24", GW: "10.0.20.1"}},
		},
	}
	set.VMs["win"] = &resource.VM{
		Node: "pve1", State: "stopped", BIOS: "ovmf", Machine: "q35", OSType: "win11",
		Cores: ptr(2), Memory: ptr(4096), Boot: []string{"sata0", "ide0"},
		EFIDisk: &resource.EFIDisk{Storage: "local-lvm", Type: "4m", PreEnrolledKeys: &yes},
		TPM:     &resource.TPM{Storage: "local-lvm", Version: "v2.0"},
		Disks: map[string]resource.Disk{
			"sata0": {Storage: "local-lvm", Size: "32G", Options: map[string]string{"ssd": "1"}},
			"ide0":  {Volume: "local:iso/debian-12.7.0-amd64-netinst.iso", Media: "cdrom"},
		},
		Networks: map[string]resource.NIC{"net0": {Model: "e1000e", Bridge: "vmbr0", MACAddr: "BC:24:11:00:00:8C"}},
	}
	set.Containers["dns-01"] = &resource.Container{
		Node: "pve1", VMID: 200, Pool: "lab", State: "running",
		OSTemplate:   "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		Unprivileged: &yes, Password: "env:CT_PASSWORD",
		Features: &resource.Features{Nesting: &yes},
		Cores:    ptr(1), Memory: ptr(512), Swap: ptr(512),
		RootFS: &resource.Mount{Storage: "local-lvm", Size: "4G"},
		Mounts: map[string]resource.Mount{"mp0": {Storage: "local-lvm", Size: "2G", Path: "/srv/data"}},
		Networks: map[string]resource.CTNIC{
			"net0": {Name: "eth0", Bridge: "vmbr0", IP: "10.0.0.53/24", GW: "10.0.0.1"},
		},
	}
	return set
}

var recapRE = regexp.MustCompile(`(?m)^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

type recap struct{ ok, changed, unreachable, failed int }

// runPlaybook runs ansible-playbook on dir's playbook with env added to
// the test environment; it returns the exit error, the recap and the output.
func runPlaybook(t *testing.T, bin, dir string, env []string, args ...string) (error, recap, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-i", "localhost,", filepath.Join(dir, FilePlaybook)}, args...)...)
	cmd.Env = append(cleanEnv(ansibleEnv(dir)), env...)
	out, err := cmd.CombinedOutput()
	var rc recap
	if m := recapRE.FindSubmatch(out); m != nil {
		n := func(i int) int { v, _ := strconv.Atoi(string(m[i])); return v }
		rc = recap{n(1), n(2), n(3), n(4)}
	} else if err == nil {
		t.Fatalf("no PLAY RECAP in ansible-playbook output:\n%s", out)
	}
	return err, rc, string(out)
}

// cleanEnv drops settings of the caller's shell that would change how the
// playbook connects.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PMPC_ENDPOINT", "PMPC_TOKEN", "PMPC_CA_FILE", "PMPC_INSECURE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// TestPlaybookRunsAgainstSim is issue 8's acceptance check: the rendered
// playbook, run by Debian's ansible with python3-proxmoxer against the
// fake PVE, completes with TLS verified against the fake's certificate
// (PMPC_CA_FILE), creates what the definitions say, and a second run
// changes nothing. Without the CA the run fails: the playbook never turns
// verification off by itself.
func TestPlaybookRunsAgainstSim(t *testing.T) {
	bin := requireTool(t, "ansible-playbook")
	srv := sim.Test(t, sim.Options{})
	set := runSet()
	files, err := Render(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, files)
	ca := filepath.Join(dir, "pve-root-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PMPC_ENDPOINT=" + srv.URL(), "PMPC_TOKEN=" + srv.Token(),
		"WEB_PASSWORD=cloud-secret", "CT_PASSWORD=root-secret",
		"ANSIBLE_DEPRECATION_WARNINGS=false", "ANSIBLE_PYTHON_INTERPRETER=auto_silent",
	}

	// No CA: certificate verification fails before anything is created.
	if err, _, out := runPlaybook(t, bin, dir, env); err == nil {
		t.Fatalf("run without PMPC_CA_FILE succeeded against a self-signed certificate:\n%s", out)
	} else if !strings.Contains(out, "CERTIFICATE_VERIFY_FAILED") {
		t.Errorf("run without PMPC_CA_FILE failed for another reason than TLS verification:\n%s", out)
	}
	if ids := srv.VMIDs(); len(ids) != 0 {
		t.Fatalf("guests %v exist after a run that failed TLS verification", ids)
	}

	env = append(env, "PMPC_CA_FILE="+ca)
	err, first, out := runPlaybook(t, bin, dir, env)
	if err != nil || first.failed != 0 || first.unreachable != 0 {
		t.Fatalf("first run: %v, recap %+v\n%s", err, first, out)
	}
	if first.changed == 0 {
		t.Errorf("first run changed nothing:\n%s", out)
	}
	checkRunResult(t, srv)

	err, second, out := runPlaybook(t, bin, dir, env)
	if err != nil || second.failed != 0 {
		t.Fatalf("second run: %v, recap %+v\n%s", err, second, out)
	}
	if second.changed != 0 {
		t.Errorf("second run reports changed=%d, want 0:\n%s", second.changed, out)
	}

	// -e pmpc_update=true pushes settings to existing guests through PUT
	// .../config; proxmox_kvm reports every update as a change.
	err, upd, out := runPlaybook(t, bin, dir, env, "-e", "pmpc_update=true")
	if err != nil || upd.failed != 0 {
		t.Fatalf("update run: %v, recap %+v\n%s", err, upd, out)
	}
	checkRunResult(t, srv)
}

// checkRunResult asserts the guests exist in the fake with the configs
// runSet asks for.
func checkRunResult(t *testing.T, srv *sim.Server) {
	t.Helper()
	ids := srv.VMIDs()
	if len(ids) != 3 {
		t.Fatalf("guests in the fake = %v, want 120, 200 and one allocated id", ids)
	}
	winID := 0
	for _, id := range ids {
		if id != 120 && id != 200 {
			winID = id
		}
	}
	want := map[int]map[string]string{
		120: {
			"name": "web-01", "cores": "2", "memory": "2048", "ostype": "l26", "scsihw": "virtio-scsi-single",
			"agent": "enabled=1", "ciuser": "admin", "ipconfig0": "ip=10.0.20.11/24,gw=10.0.20.1",
			"sshkeys": "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIH0%20admin%40laptop",
			"ide2":    "local-lvm:vm-120-cloudinit,media=cdrom",
			"scsi0":   "local-lvm:vm-120-disk-0,iothread=1,size=8G",
		},
		winID: {
			"name": "win", "bios": "ovmf", "machine": "q35", "boot": "order=sata0;ide0", "tags": "pmpc",
			"sata0": "local-lvm:vm-" + strconv.Itoa(winID) + "-disk-0,size=32G,ssd=1",
		},
		200: {
			"hostname": "dns-01", "cores": "1", "memory": "512", "swap": "512", "unprivileged": "1",
			"features": "nesting=1", "rootfs": "local-lvm:vm-200-disk-0,size=4G", "tags": "pmpc",
		},
	}
	for id, keys := range want {
		conf, _, ok := srv.Config(id)
		if !ok {
			t.Errorf("guest %d missing", id)
			continue
		}
		for k, v := range keys {
			if conf[k] != v {
				t.Errorf("guest %d: %s = %q, want %q", id, k, conf[k], v)
			}
		}
		switch id {
		case 120:
			if !strings.HasPrefix(conf["net0"], "virtio=") || !strings.HasSuffix(conf["net0"], ",bridge=vmbr0,firewall=1,tag=20") {
				t.Errorf("web-01 net0 = %q", conf["net0"])
			}
			if tags := conf["tags"]; tags != "pmpc,web" && tags != "pmpc;web" {
				t.Errorf("web-01 tags = %q", tags)
			}
			if conf["cipassword"] == "" {
				t.Error("web-01 has no cipassword")
			}
		case winID:
			// efidisk0 and tpmstate0 come from the API call after create.
			if !strings.Contains(conf["efidisk0"], ",efitype=4m,pre-enrolled-keys=1") {
				t.Errorf("win efidisk0 = %q", conf["efidisk0"])
			}
			if !strings.Contains(conf["tpmstate0"], ",version=v2.0") {
				t.Errorf("win tpmstate0 = %q", conf["tpmstate0"])
			}
			if conf["net0"] != "e1000e=BC:24:11:00:00:8C,bridge=vmbr0" {
				t.Errorf("win net0 = %q", conf["net0"])
			}
		case 200:
			if !strings.HasPrefix(conf["mp0"], "local-lvm:vm-200-disk-1,mp=/srv/data") {
				t.Errorf("dns-01 mp0 = %q", conf["mp0"])
			}
			if n := conf["net0"]; !strings.Contains(n, "ip=10.0.0.53/24") || !strings.Contains(n, "gw=10.0.0.1") {
				t.Errorf("dns-01 net0 = %q", n)
			}
		}
	}
	for id, st := range map[int]struct {
		running bool
		pool    string
	}{120: {true, "lab"}, winID: {false, ""}, 200: {true, "lab"}} {
		g, _ := srv.Guest(id)
		if g.Running != st.running || g.Pool != st.pool {
			t.Errorf("guest %d: running=%v pool=%q, want running=%v pool=%q", id, g.Running, g.Pool, st.running, st.pool)
		}
	}
}
