package sim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// wantErr checks PVE's error shape: the status line with the message's
// first line as reason, and the whole message in the body.
func wantErr(t *testing.T, r reply, status string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %q, want %q (body %s)", r.status, status, r.raw)
	}
	if r.code == 401 && r.status != "401 authentication failure" {
		if len(r.raw) != 0 {
			t.Errorf("401 has a body: %s", r.raw)
		}
		return
	}
	if _, ok := r.body["data"]; !ok || r.body["data"] != nil {
		t.Errorf("body data = %v, want null", r.body["data"])
	}
	msg, _ := r.body["message"].(string)
	reason := strings.SplitN(status, " ", 2)[1]
	if !strings.HasPrefix(msg, reason) || !strings.HasSuffix(msg, "\n") {
		t.Errorf("message %q does not carry the reason %q", msg, reason)
	}
}

func wantParamErr(t *testing.T, r reply, key, text string) {
	t.Helper()
	wantErr(t, r, "400 Parameter verification failed.")
	errs, _ := r.body["errors"].(map[string]any)
	got, _ := errs[key].(string)
	if !strings.Contains(got, text) {
		t.Errorf("errors[%s] = %q, want it to contain %q (all: %v)", key, got, text, errs)
	}
}

func TestAuthErrors(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)

	a.token = "root@pam!pmpc=00000000-0000-4000-8000-000000000000"
	wantErr(t, a.get("/version", nil), "401 Authentication failed!")
	a.token = "nobody@pve!x=whatever"
	wantErr(t, a.get("/version", nil), "401 Authentication failed!")
	a.token = ""
	wantErr(t, a.get("/version", nil), "401 No ticket")

	// Tickets: cookie plus CSRF header on writes.
	wantErr(t, a.post("/access/ticket", form("username", "root@pam", "password", "wrong")), "401 authentication failure")
	tk := ok(t, a.post("/access/ticket", form("username", "root", "realm", "pam", "password", "pmpc-sim"))).dataMap(t)
	cookie := map[string]string{"Cookie": "PVEAuthCookie=" + url.QueryEscape(tk["ticket"].(string))}
	ok(t, a.do("GET", "/nodes", nil, nil, cookie))
	wantErr(t, a.do("PUT", "/nodes/pve1/qemu/101/config", form("description", "x"), nil, cookie), "401 Permission denied - invalid csrf token")
	cookie["CSRFPreventionToken"] = tk["CSRFPreventionToken"].(string)
	ok(t, a.do("PUT", "/nodes/pve1/qemu/101/config", form("description", "x"), nil, cookie))
	// Telmate style: the ticket in the Authorization header.
	ok(t, a.do("GET", "/version", nil, nil, map[string]string{"Authorization": "PVEAuthCookie=" + tk["ticket"].(string)}))
}

func TestAuthFailDelay(t *testing.T) {
	s, err := New(Options{AuthFailDelay: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := newAPI(t, s)
	a.token = "root@pam!pmpc=wrong"
	start := time.Now()
	wantErr(t, a.get("/version", nil), "401 Authentication failed!")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("401 after %v, want the configured delay of 150ms first", d)
	}
}

func TestLimitedToken(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	tok, err := s.AddToken("ci@pve!audit", map[string][]string{"/vms/101": {"VM.Audit", "VM.Config.Options"}, "/nodes": {"Sys.Audit"}})
	if err != nil {
		t.Fatal(err)
	}
	a.token = tok
	wantErr(t, a.put("/nodes/pve1/qemu/101/config", form("cores", "8")), "403 Permission check failed (/vms/101, VM.Config.CPU)")
	ok(t, a.put("/nodes/pve1/qemu/101/config", form("description", "allowed")))
	wantErr(t, a.get("/nodes/pve2/qemu/105/config", nil), "403 Permission check failed (/vms/105, VM.Audit)")
	// A 403 comes before the existence check.
	wantErr(t, a.get("/nodes/pve1/qemu/999/config", nil), "403 Permission check failed (/vms/999, VM.Audit)")
	res := ok(t, a.get("/cluster/resources", form("type", "vm"))).dataList(t)
	if len(res) != 1 || res[0].(map[string]any)["vmid"] != float64(101) {
		t.Errorf("resources filtered to %v, want only 101", res)
	}
	perms := ok(t, a.get("/access/permissions", nil)).dataMap(t)
	if p, _ := perms["/vms/101"].(map[string]any); p["VM.Audit"] != float64(1) || p["VM.Allocate"] != nil {
		t.Errorf("permissions = %v", perms)
	}
	one := ok(t, a.get("/access/permissions", form("path", "/nodes/pve1"))).dataMap(t)
	if p, _ := one["/nodes/pve1"].(map[string]any); p["Sys.Audit"] != float64(1) || len(p) != 1 {
		t.Errorf("permissions on /nodes/pve1 = %v", one)
	}
	wantErr(t, a.get("/cluster/status", nil), "403 Permission check failed (/, Sys.Audit)")
	// root@pam!token is not root@pam.
	a.token = s.Token()
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("cores", "2", "skiplock", "1")), "skiplock", "Only root may use this option.")
}

func TestParameterErrors(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("bogus", "1")), "bogus",
		"property is not defined in schema and the schema does not allow additional properties")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("cores", "abc")), "cores", "type check ('integer') failed - got 'abc'")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("onboot", "true")), "onboot", "type check ('boolean') failed - got 'true'")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("net1", "bridge=vmbr0")), "net1",
		"invalid format - format error\nnet1.model: property is missing and it is not optional\n")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("net1", "virtio,bridge=vmbr0,tag=5000")), "net1", "net1.tag: value must have a maximum value of 4094")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("net1", "virtio,colour=blue")), "net1", "invalid key in comma-separated list property: colour")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("scsi31", "local-lvm:1")), "scsi31", "property is not defined in schema")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("scsi1", "local-lvm:1,cache=fast")), "scsi1", "scsi1.cache: value 'fast' does not have a value in the enumeration")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("ipconfig0", "ip=10.0.0.5")), "ipconfig0", "invalid format")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("ipconfig0", "gw=10.0.0.1")), "ipconfig0", "gateway specified without specifying an IP address")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("tags", "ok;not/ok")), "tags", "invalid characters in tag")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("sshkeys", "ssh-ed25519 AAAA x")), "sshkeys", "value does not match the regex pattern")
	wantParamErr(t, a.put("/nodes/pve1/qemu/101/config", form("cores", "2", "delete", "cores")), "delete", "you can't use '-cores' and -delete cores' at the same time")
	wantParamErr(t, a.put("/nodes/pve1/lxc/200/config", form("net1", "bridge=vmbr0")), "net1", "net1.name: property is missing and it is not optional")
	wantParamErr(t, a.put("/nodes/pve1/lxc/200/config", form("mp3", "local-lvm:8")), "mp3", "mp3.mp: property is missing and it is not optional")
	wantParamErr(t, a.put("/nodes/pve1/lxc/200/config", form("rootfs", "local-lvm:vm-200-disk-0,quota=maybe")), "rootfs", "rootfs.quota: type check ('boolean') failed")
	wantParamErr(t, a.put("/nodes/pve1/lxc/200/config", form("cpulimit", "9000")), "cpulimit", "value must have a maximum value of 8192")
	wantParamErr(t, a.get("/cluster/resources", form("type", "vms")), "type", "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'")
	wantParamErr(t, a.get("/cluster/nextid", form("vmid", "99")), "vmid", "value must have a minimum value of 100")
	wantErr(t, a.put("/nodes/pve1/qemu/101/config", nil), "500 no options specified")
	wantErr(t, a.get("/nodes/pve1/foo", nil), "501 Method 'GET /nodes/pve1/foo' not implemented")
	wantErr(t, a.do("PATCH", "/version", nil, nil, nil), "501 method 'PATCH' not available")
	wantErr(t, a.get("/nodes/pve1/qemu/999/config", nil), "500 Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist")
	wantErr(t, a.get("/nodes/pve2/qemu/101/status/current", nil), "500 Configuration file 'nodes/pve2/qemu-server/101.conf' does not exist")
	wantErr(t, a.get("/nodes/pve1/lxc/101/config", nil), "500 Configuration file 'nodes/pve1/lxc/101.conf' does not exist")
	wantErr(t, a.get("/nodes/pve1/qemu/101/config", form("node", "pve2")), "400 duplicate parameter (already defined in URI) with conflicting values!")
}

func TestBusinessErrors(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: 5 * time.Millisecond})
	a := newAPI(t, s)

	// Duplicate VMID: nextid check and create.
	wantParamErr(t, a.get("/cluster/nextid", form("vmid", "101")), "vmid", "VM 101 already exists")
	wantErr(t, a.post("/nodes/pve2/qemu", form("vmid", "101", "name", "dup")), "500 unable to create VM 101 - VM 101 already exists on node 'pve1'")
	wantErr(t, a.post("/nodes/pve2/lxc", form("vmid", "200", "ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")), "500 CT 200 already exists on node 'pve1'")

	// Running guests refuse deletion.
	wantErr(t, a.del("/nodes/pve1/qemu/101", nil), "500 VM 101 is running - destroy failed")
	wantErr(t, a.del("/nodes/pve1/lxc/200", nil), "500 CT 200 is running - destroy failed")
	// Protection.
	if err := s.EditConfig(109, "protection", "1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, a.del("/nodes/pve2/qemu/109", nil), "500 can't remove VM 109 - protection mode enabled")

	// Start of a running guest: QEMU fails in the task, LXC synchronously.
	upid := ok(t, a.post("/nodes/pve1/qemu/101/status/start", nil)).data()
	if st := a.wait(upid); st != "VM 101 already running" {
		t.Errorf("start running VM: exit %q", st)
	}
	lines := ok(t, a.get("/nodes/pve1/tasks/"+upid.(string)+"/log", nil)).dataList(t)
	if last := lines[len(lines)-1].(map[string]any)["t"]; last != "TASK ERROR: VM 101 already running" {
		t.Errorf("log ends %q", last)
	}
	wantErr(t, a.post("/nodes/pve1/lxc/200/status/start", nil), "500 CT 200 already running")
	wantErr(t, a.post("/nodes/pve1/lxc/206/status/stop", nil), "500 CT 206 not running")
	wantErr(t, a.post("/nodes/pve3/qemu/110/status/reboot", nil), "500 VM 110 not running")
	// A template cannot start.
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu/100/status/start", nil)).data()); st != "you can't start a vm if it's a template" {
		t.Errorf("start template: %q", st)
	}

	// Injected task failure: nothing changes.
	s.FailNextTask("qmstart", "start failed: QEMU exited with code 1")
	if st := a.wait(ok(t, a.post("/nodes/pve3/qemu/110/status/start", nil)).data()); st != "start failed: QEMU exited with code 1" {
		t.Errorf("injected failure: %q", st)
	}
	if g, _ := s.Guest(110); g.Running {
		t.Errorf("failed start left the VM running")
	}
	s.FailNextTask("qmcreate", "unable to create image: got lock timeout")
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu", form("vmid", "400", "scsi0", "local-lvm:4"))).data()); st != "unable to create image: got lock timeout" {
		t.Errorf("injected create failure: %q", st)
	}
	wantErr(t, a.get("/nodes/pve1/qemu/400/config", nil), "500 Configuration file 'nodes/pve1/qemu-server/400.conf' does not exist")
	for _, v := range ok(t, a.get("/nodes/pve1/storage/local-lvm/content", nil)).dataList(t) {
		if v.(map[string]any)["vmid"] == float64(400) {
			t.Errorf("failed create left volume %v", v)
		}
	}
}

func TestLocksAndDigests(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: 300 * time.Millisecond})
	a := newAPI(t, s)

	// A linked clone of the template: the new VM is locked while the task runs.
	upid := ok(t, a.post("/nodes/pve1/qemu/100/clone", form("newid", "150", "name", "clone-01", "pool", "lab"))).data()
	st := ok(t, a.get("/nodes/pve1/qemu/150/status/current", nil)).dataMap(t)
	if st["lock"] != "clone" {
		t.Errorf("new VM lock = %v, want clone", st["lock"])
	}
	if src := ok(t, a.get("/nodes/pve1/qemu/100/config", nil)).dataMap(t); src["lock"] != nil {
		t.Errorf("clone source got a lock: %v", src["lock"])
	}
	wantErr(t, a.put("/nodes/pve1/qemu/150/config", form("cores", "2")), "500 VM is locked (clone)")
	res := ok(t, a.get("/cluster/resources", form("type", "vm"))).dataList(t)
	found := false
	for _, e := range res {
		if m := e.(map[string]any); m["vmid"] == float64(150) {
			found = m["lock"] == "clone"
		}
	}
	if !found {
		t.Errorf("resources do not show 150 locked")
	}
	if st := a.wait(upid); st != "OK" {
		t.Fatalf("clone: %s", st)
	}
	conf := ok(t, a.get("/nodes/pve1/qemu/150/config", nil)).dataMap(t)
	if conf["lock"] != nil || conf["name"] != "clone-01" || conf["scsi0"] != "local-lvm:base-100-disk-0/vm-150-disk-0,discard=on,iothread=1,size=8G" {
		t.Errorf("clone config = %v", conf)
	}
	if pool := ok(t, a.get("/pools", form("poolid", "lab"))).dataList(t)[0].(map[string]any); !strings.Contains(string(mustJSON(pool["members"])), `"qemu/150"`) {
		t.Errorf("clone not in pool lab: %v", pool)
	}

	// Digest: unchanged config accepts it; an out-of-band edit invalidates it.
	d1 := conf["digest"].(string)
	if len(d1) != 40 {
		t.Errorf("digest %q is not SHA-1 hex", d1)
	}
	if d2 := ok(t, a.get("/nodes/pve1/qemu/150/config", nil)).dataMap(t)["digest"]; d2 != d1 {
		t.Errorf("digest not stable: %v vs %v", d1, d2)
	}
	ok(t, a.put("/nodes/pve1/qemu/150/config", form("cores", "4", "digest", d1)))
	wantErr(t, a.put("/nodes/pve1/qemu/150/config", form("cores", "3", "digest", d1)), "500 checksum mismatch (file change by other user?)")
	lxc := ok(t, a.get("/nodes/pve1/lxc/206/config", nil)).dataMap(t)
	if err := s.EditConfig(206, "memory", "1024"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, a.put("/nodes/pve1/lxc/206/config", form("cores", "2", "digest", lxc["digest"].(string))),
		"500 detected modified configuration - file changed by other user? Try again.")
	if err := s.EditConfig(206, "lock", "backup"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, a.put("/nodes/pve1/lxc/206/config", form("cores", "2")), "500 CT is locked (backup)")
	// A locked VM's start fails in the task.
	if err := s.EditConfig(110, "lock", "backup"); err != nil {
		t.Fatal(err)
	}
	if st := a.wait(ok(t, a.post("/nodes/pve3/qemu/110/status/start", nil)).data()); st != "VM is locked (backup)" {
		t.Errorf("start locked: %q", st)
	}
}

func TestPendingAndHotplug(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	// 101 runs with the default hotplug (network,disk,usb).
	ok(t, a.put("/nodes/pve1/qemu/101/config", form("cores", "8", "name", "web-01-renamed", "net1", "virtio,bridge=vmbr1", "memory", "8192")))
	merged := ok(t, a.get("/nodes/pve1/qemu/101/config", nil)).dataMap(t)
	cur := ok(t, a.get("/nodes/pve1/qemu/101/config", form("current", "1"))).dataMap(t)
	if merged["cores"] != float64(8) || cur["cores"] != float64(2) {
		t.Errorf("cores merged %v current %v, want 8 and 2 (pending)", merged["cores"], cur["cores"])
	}
	if merged["memory"] != "8192" || cur["memory"] != "4096" {
		t.Errorf("memory merged %v current %v, want 8192 pending over 4096", merged["memory"], cur["memory"])
	}
	if cur["name"] != "web-01-renamed" {
		t.Errorf("name is a fast option, current = %v", cur["name"])
	}
	if n, _ := cur["net1"].(string); !strings.HasPrefix(n, "virtio=BC:24:11:") {
		t.Errorf("net1 hot-plugged = %q", n)
	}
	rows := ok(t, a.get("/nodes/pve1/qemu/101/pending", nil)).dataList(t)
	var coresRow map[string]any
	for _, r := range rows {
		if m := r.(map[string]any); m["key"] == "cores" {
			coresRow = m
		}
	}
	if coresRow["value"] != float64(2) || coresRow["pending"] != float64(8) {
		t.Errorf("pending row = %v", coresRow)
	}
	// A pending deletion.
	ok(t, a.put("/nodes/pve1/qemu/101/config", form("delete", "cpu")))
	if cur := ok(t, a.get("/nodes/pve1/qemu/101/config", form("current", "1"))).dataMap(t); cur["cpu"] == nil {
		t.Errorf("cpu deletion applied on a running VM")
	}
	if merged := ok(t, a.get("/nodes/pve1/qemu/101/config", nil)).dataMap(t); merged["cpu"] != nil {
		t.Errorf("default GET still shows a pending-deleted cpu")
	}
	// The API reboot applies pending changes.
	if st := a.wait(ok(t, a.post("/nodes/pve1/qemu/101/status/reboot", nil)).data()); st != "OK" {
		t.Fatal(st)
	}
	cur = ok(t, a.get("/nodes/pve1/qemu/101/config", form("current", "1"))).dataMap(t)
	if cur["cores"] != float64(8) || cur["memory"] != "8192" || cur["cpu"] != nil {
		t.Errorf("after reboot: %v", cur)
	}
	if len(ok(t, a.get("/nodes/pve1/qemu/101/pending", nil)).dataList(t)) != len(cur) {
		t.Errorf("pending rows remain after reboot")
	}
	// Stopped guests apply at once; tags are normalised on update; removed
	// disks become unused; sshkeys stay URL-encoded.
	ok(t, a.put("/nodes/pve3/qemu/110/config", form("cores", "2", "tags", "Lab, web;lab", "delete", "virtio0",
		"sshkeys", "ssh-ed25519%20AAAA%20me%40host", "scsi0", "local-lvm:4")))
	c := ok(t, a.get("/nodes/pve3/qemu/110/config", form("current", "1"))).dataMap(t)
	if c["cores"] != float64(2) || c["tags"] != "lab;web" || c["unused0"] != "local-lvm:vm-110-disk-0" || c["virtio0"] != nil ||
		c["sshkeys"] != "ssh-ed25519%20AAAA%20me%40host" || c["scsi0"] != "local-lvm:vm-110-disk-1,size=4G" {
		t.Errorf("stopped update = %v", c)
	}
	// LXC running: cores applies at once, features stays pending.
	ok(t, a.put("/nodes/pve1/lxc/200/config", form("cores", "2", "features", "nesting=0")))
	lc := ok(t, a.get("/nodes/pve1/lxc/200/config", form("current", "1"))).dataMap(t)
	if lc["cores"] != float64(2) || lc["features"] != "nesting=1" {
		t.Errorf("lxc running update current = %v", lc)
	}
}

func TestBodiesAndQuirks(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: time.Millisecond})
	a := newAPI(t, s)
	// JSON body with JSON booleans, numbers and delete as a list.
	ok(t, a.do("PUT", "/nodes/pve3/qemu/110/config", nil, map[string]any{"onboot": true, "cores": 3, "delete": []string{"tags", "net0"}}, nil))
	c := ok(t, a.get("/nodes/pve3/qemu/110/config", nil)).dataMap(t)
	if c["onboot"] != float64(1) || c["cores"] != float64(3) || c["tags"] != nil || c["net0"] != nil {
		t.Errorf("JSON update = %v", c)
	}
	// key= is absent, not empty: this PUT sets nothing.
	wantErr(t, a.put("/nodes/pve3/qemu/110/config", form("description", "")), "500 no options specified")
	// A GET with a body is refused.
	wantErr(t, a.do("GET", "/version", nil, map[string]any{"x": 1}, nil), "501 Unexpected content for method 'GET'")
	// nextid is a string; the lowest free id.
	if id := ok(t, a.get("/cluster/nextid", nil)).data(); id != "120" {
		t.Errorf("nextid = %#v, want \"120\"", id)
	}
	// The lxc raw keys come back as pairs.
	raw := ok(t, a.get("/nodes/pve3/lxc/203/config", nil)).dataMap(t)["lxc"].([]any)
	if p := raw[0].([]any); p[0] != "lxc.cgroup2.devices.allow" || p[1] != "c 226:0 rwm" {
		t.Errorf("lxc raw = %v", raw)
	}
	// Operator stats count by template.
	s.ResetStats()
	a.get("/nodes/pve1/qemu/101/config", nil)
	a.get("/nodes/pve2/qemu/105/config", nil)
	a.get("/nope", nil)
	st := s.Stats()
	if st.Total != 3 || st.Requests["GET /nodes/{node}/qemu/{vmid}/config"] != 2 {
		t.Errorf("stats = %+v", st)
	}
	resp, err := a.c.Get(s.URL() + "/_sim/stats")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/_sim/stats: %v", err)
	}
	resp.Body.Close()
	resp, err = a.c.Post(s.URL()+"/_sim/stats/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := s.Stats(); st.Total != 0 {
		t.Errorf("after reset total = %d", st.Total)
	}
}

func TestPlainHTTPRedirects(t *testing.T) {
	s := Test(t)
	plain := "http://" + strings.TrimPrefix(s.URL(), "https://")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for method, code := range map[string]int{"GET": 301, "POST": 308} {
		req, _ := http.NewRequest(method, plain+"/api2/json/version?x=1", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code || resp.Header.Get("Location") != s.URL()+"/api2/json/version?x=1" {
			t.Errorf("%s over plain HTTP: %s Location %q", method, resp.Status, resp.Header.Get("Location"))
		}
	}
	// TLS still works on the same port.
	ok(t, newAPI(t, s).get("/version", nil))
}

// TestCloneToOtherNodeNeedsSharedStorage: PVE moves a clone to another node
// only when its disks, or the target storage of a full clone, are shared.
func TestCloneToOtherNodeNeedsSharedStorage(t *testing.T) {
	s := Test(t, Options{Seed: Homelab()})
	a := newAPI(t, s)
	// VM 100 is the homelab template, on pve1, with its disks on local-lvm.
	clone := func(extra url.Values) reply {
		form := url.Values{"newid": {"150"}, "target": {"pve2"}}
		for k, v := range extra {
			form[k] = v
		}
		return a.do("POST", "/nodes/pve1/qemu/100/clone", form, nil, nil)
	}
	wantErr(t, clone(nil), "500 can't clone VM to node 'pve2' (VM uses local storage)")
	wantErr(t, clone(url.Values{"full": {"1"}, "storage": {"local-lvm"}}), "500 can't clone to non-shared storage 'local-lvm'")
	if r := clone(url.Values{"full": {"1"}, "storage": {"nas"}}); r.code != 200 {
		t.Errorf("full clone onto shared storage on another node: %s %s", r.status, r.raw)
	}
}
