package ansible

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmpc-dev/pmpc/render"
	"github.com/pmpc-dev/pmpc/resource"
)

var cases = []struct {
	name, set, cluster, collection string
}{
	{"homelab", "homelab.set.json", "homelab.cluster.json", ""},
	{"homelab-community-proxmox", "homelab.set.json", "homelab.cluster.json", "community.proxmox"},
	{"edge", "edge.set.json", "", ""},
}

func renderCase(t *testing.T, setFile, clusterFile, collection string) ([]render.File, *resource.Set) {
	t.Helper()
	set, err := render.LoadSetJSON(filepath.Join("..", "testdata", setFile))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Collection: collection}
	if clusterFile != "" {
		if opts.Cluster, err = render.LoadClusterJSON(filepath.Join("..", "testdata", clusterFile)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Render(set, opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return files, set
}

func TestGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files, _ := renderCase(t, c.set, c.cluster, c.collection)
			again, _ := renderCase(t, c.set, c.cluster, c.collection)
			dir := filepath.Join("testdata", c.name)
			if os.Getenv("PMPC_UPDATE") != "" {
				os.RemoveAll(dir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i, f := range files {
				if !bytes.Equal(f.Data, again[i].Data) {
					t.Errorf("%s: not deterministic", f.Name)
				}
				golden, err := os.ReadFile(filepath.Join(dir, f.Name))
				if err != nil {
					t.Errorf("%v (PMPC_UPDATE=1 writes it)", err)
					continue
				}
				if !bytes.Equal(golden, f.Data) {
					t.Errorf("%s differs from golden (PMPC_UPDATE=1 rewrites):\n%s", f.Name, f.Data)
				}
			}
		})
	}
}

// TestUserStringsVerbatim decodes the playbook: descriptions come back
// byte for byte, and those Jinja would template are tagged !unsafe.
func TestUserStringsVerbatim(t *testing.T) {
	files, set := renderCase(t, "edge.set.json", "", "")
	var doc yaml.Node
	if err := yaml.Unmarshal(files[0].Data, &doc); err != nil {
		t.Fatal(err)
	}
	want := *set.VMs["Web.01"].Description
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "description" && n.Content[i+1].Value == want {
					found = true
					if n.Content[i+1].Tag != "!unsafe" {
						t.Errorf("description with {%% %%} is not !unsafe")
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if !found {
		t.Errorf("description %q not found verbatim in:\n%s", want, files[0].Data)
	}
}

func TestSecretsNeverInline(t *testing.T) {
	files, _ := renderCase(t, "homelab.set.json", "homelab.cluster.json", "")
	pb := string(files[0].Data)
	for _, want := range []string{
		`cipassword: "{{ lookup('ansible.builtin.env', 'WEB_PASSWORD') }}"`,
		`password: "{{ lookup('ansible.builtin.env', 'PIHOLE_ROOT_PASSWORD') }}"`,
		`api_token_secret: "{{ pmpc_token.split('=', 1)[1] }}"`,
	} {
		if !strings.Contains(pb, want) {
			t.Errorf("playbook lacks %s", want)
		}
	}
	if strings.Contains(pb, "env:") {
		t.Errorf("playbook holds a raw secret reference")
	}
}

func TestUnknownCollection(t *testing.T) {
	if _, err := Render(resource.NewSet(), Options{Collection: "acme.pve"}); err == nil {
		t.Error("want an error for an unknown collection")
	}
}

func TestInventoryHosts(t *testing.T) {
	files, _ := renderCase(t, "homelab.set.json", "homelab.cluster.json", "")
	var inv struct {
		All struct {
			Hosts    map[string]map[string]any `yaml:"hosts"`
			Children map[string]struct {
				Hosts map[string]any `yaml:"hosts"`
			} `yaml:"children"`
		} `yaml:"all"`
	}
	if err := yaml.Unmarshal(files[1].Data, &inv); err != nil {
		t.Fatal(err)
	}
	web := inv.All.Hosts["web-01"]
	if web["ansible_host"] != "10.0.20.11" || web["vmid"] != 101 || web["proxmox_node"] != "pve1" {
		t.Errorf("web-01 vars = %v", web)
	}
	if _, ok := inv.All.Hosts["debian-tmpl"]; ok {
		t.Error("template listed as a host")
	}
	if ph := inv.All.Hosts["pihole"]; ph["ansible_host"] != "10.0.0.53" || ph["vmid"] != 300 {
		t.Errorf("pihole vars = %v", ph)
	}
	if _, ok := inv.All.Hosts["web-02"]["ansible_host"]; ok {
		t.Error("web-02 uses dhcp and must have no ansible_host")
	}
	for group, host := range map[string]string{"tag_web": "web-01", "tag_prod": "web-01", "pool_prod": "pihole", "node_pve2": "win11", "containers": "pihole", "vms": "web-02"} {
		if _, ok := inv.All.Children[group].Hosts[host]; !ok {
			t.Errorf("group %s lacks %s", group, host)
		}
	}
}

// requireTool finds an external tool; without it the test skips, except in
// CI (env CI set), where it fails.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not on PATH and CI is set (install Debian's ansible and python3-proxmoxer)", name)
		}
		t.Skipf("%s is not on PATH: install Debian's ansible to run this check", name)
	}
	return p
}

func writeFiles(t *testing.T, files []render.File) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ansibleEnv(dir string) []string {
	return append(os.Environ(), "ANSIBLE_LOCAL_TEMP="+dir, "ANSIBLE_REMOTE_TEMP="+dir, "HOME="+dir, "ANSIBLE_NOCOLOR=1")
}

// TestPlaybookSyntax runs ansible-playbook --syntax-check on the playbooks
// written for the collection the installed Ansible has.
func TestPlaybookSyntax(t *testing.T) {
	bin := requireTool(t, "ansible-playbook")
	for _, c := range cases {
		if c.collection != "" {
			continue // Debian's Ansible lacks community.proxmox
		}
		files, _ := renderCase(t, c.set, c.cluster, c.collection)
		dir := writeFiles(t, files)
		cmd := exec.Command(bin, "--syntax-check", "-i", filepath.Join(dir, FileInventory), filepath.Join(dir, FilePlaybook))
		cmd.Env = ansibleEnv(dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: ansible-playbook --syntax-check: %v\n%s", c.name, err, out)
		}
	}
}

// TestInventoryParses reads the inventory with ansible-inventory itself.
func TestInventoryParses(t *testing.T) {
	bin := requireTool(t, "ansible-inventory")
	files, _ := renderCase(t, "homelab.set.json", "homelab.cluster.json", "")
	dir := writeFiles(t, files)
	cmd := exec.Command(bin, "-i", filepath.Join(dir, FileInventory), "--list")
	cmd.Env = ansibleEnv(dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v", err)
	}
	var inv map[string]any
	if err := json.Unmarshal(out, &inv); err != nil {
		t.Fatalf("ansible-inventory output: %v\n%s", err, out)
	}
	hv := inv["_meta"].(map[string]any)["hostvars"].(map[string]any)
	web := hv["web-01"].(map[string]any)
	if web["ansible_host"] != "10.0.20.11" || web["vmid"] != float64(101) {
		t.Errorf("web-01 hostvars = %v", web)
	}
	tagWeb, _ := inv["tag_web"].(map[string]any)
	if tagWeb == nil || !strings.Contains(strings.Join(anyStrings(tagWeb["hosts"]), ","), "web-02") {
		t.Errorf("tag_web = %v", inv["tag_web"])
	}
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// findTask returns the task named name from a rendered playbook.
func findTask(t *testing.T, playbook []byte, name string) map[string]any {
	t.Helper()
	var plays []struct {
		Tasks []map[string]any `yaml:"tasks"`
	}
	if err := yaml.Unmarshal(playbook, &plays); err != nil {
		t.Fatal(err)
	}
	for _, task := range plays[0].Tasks {
		if task["name"] == name {
			return task
		}
	}
	return nil
}

// TestTLSNeverOffByDefault: verification stays on unless PMPC_INSECURE is
// set, and PMPC_CA_FILE reaches both proxmoxer (REQUESTS_CA_BUNDLE, the
// only CA setting requests reads when the modules pass validate_certs)
// and the uri tasks (ca_path).
func TestTLSNeverOffByDefault(t *testing.T) {
	files, _ := renderCase(t, "homelab.set.json", "homelab.cluster.json", "")
	pb := files[0].Data
	var plays []map[string]any
	if err := yaml.Unmarshal(pb, &plays); err != nil {
		t.Fatal(err)
	}
	vars := plays[0]["vars"].(map[string]any)
	if v := vars["pmpc_validate_certs"]; v != "{{ lookup('ansible.builtin.env', 'PMPC_INSECURE') not in ['1', 'true'] }}" {
		t.Errorf("pmpc_validate_certs = %v", v)
	}
	if v := vars["pmpc_ca_file"]; v != "{{ lookup('ansible.builtin.env', 'PMPC_CA_FILE') }}" {
		t.Errorf("pmpc_ca_file = %v", v)
	}
	envs := plays[0]["environment"].(map[string]any)
	if v := envs["REQUESTS_CA_BUNDLE"]; v != "{{ pmpc_ca_file or lookup('ansible.builtin.env', 'REQUESTS_CA_BUNDLE') }}" {
		t.Errorf("environment REQUESTS_CA_BUNDLE = %v", v)
	}
	for mod, args := range plays[0]["module_defaults"].(map[string]any) {
		if v := args.(map[string]any)["validate_certs"]; v != "{{ pmpc_validate_certs }}" {
			t.Errorf("%s validate_certs = %v", mod, v)
		}
	}
	uri := findTask(t, pb, "pool prod")["ansible.builtin.uri"].(map[string]any)
	if uri["validate_certs"] != "{{ pmpc_validate_certs }}" || uri["ca_path"] != "{{ pmpc_ca_file | default(omit, true) }}" {
		t.Errorf("pool task TLS settings = %v, %v", uri["validate_certs"], uri["ca_path"])
	}
	if strings.Contains(string(pb), "validate_certs: false") {
		t.Error("playbook turns certificate checks off unconditionally")
	}
}

// TestStateDisksThroughAPI: efidisk0 and tpmstate0 are not proxmox_kvm
// options (its efidisk0 sends "format=None,pre-enrolled-keys=True", which
// PVE rejects) but a PUT .../config right after create.
func TestStateDisksThroughAPI(t *testing.T) {
	set := runSet()
	files, err := Render(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb := files[0].Data
	create := findTask(t, pb, "vm win: create")["community.general.proxmox_kvm"].(map[string]any)
	for _, k := range []string{"efidisk0", "tpmstate0"} {
		if _, ok := create[k]; ok {
			t.Errorf("create passes %s to proxmox_kvm", k)
		}
	}
	// win has no vmid: the module looks it up after create.
	look := findTask(t, pb, "vm win: vmid")
	if look == nil || look["register"] != "pmpc_vmid_win" || look["when"] != "pmpc_vm_win is changed" {
		t.Fatalf("vmid lookup task = %v", look)
	}
	put := findTask(t, pb, "vm win: efidisk0, tpmstate0")
	if put == nil {
		t.Fatalf("no efidisk0/tpmstate0 task in:\n%s", pb)
	}
	uri := put["ansible.builtin.uri"].(map[string]any)
	if uri["url"] != "{{ pmpc_endpoint }}/api2/json/nodes/pve1/qemu/{{ pmpc_vmid_win.vmid }}/config" || uri["method"] != "PUT" {
		t.Errorf("uri = %v %v", uri["method"], uri["url"])
	}
	body := uri["body"].(map[string]any)
	if body["efidisk0"] != "local-lvm:1,efitype=4m,pre-enrolled-keys=1" || body["tpmstate0"] != "local-lvm:1,version=v2.0" {
		t.Errorf("body = %v", body)
	}
	if put["when"] != "pmpc_vm_win is changed" {
		t.Errorf("when = %v: the disks must only be added to a VM just created", put["when"])
	}

	// A pinned vmid goes straight into the URL.
	set.VMs["win"].VMID = 140
	files, _ = Render(set, Options{})
	if findTask(t, files[0].Data, "vm win: vmid") != nil {
		t.Error("vmid lookup rendered for a pinned vmid")
	}
	uri = findTask(t, files[0].Data, "vm win: efidisk0, tpmstate0")["ansible.builtin.uri"].(map[string]any)
	if uri["url"] != "{{ pmpc_endpoint }}/api2/json/nodes/pve1/qemu/140/config" {
		t.Errorf("url = %v", uri["url"])
	}
}

// TestNICModelsProxmoxNICRejects: proxmox_nic fails the play on a model
// outside its choices (e1000e), so no task is rendered for such a NIC.
func TestNICModelsProxmoxNICRejects(t *testing.T) {
	files, err := Render(runSet(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if task := findTask(t, files[0].Data, "vm win: net0"); task != nil {
		t.Errorf("proxmox_nic task rendered for an e1000e NIC: %v", task)
	}
	if findTask(t, files[0].Data, "vm web-01: net0") == nil {
		t.Error("no proxmox_nic task for web-01's virtio NIC")
	}
	if !strings.Contains(string(files[0].Data), "# win: net0 (e1000e) not kept in line") {
		t.Error("the skipped NIC is not explained in the playbook")
	}
}
