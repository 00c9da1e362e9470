package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
)

// doctorSim starts the fake and points the environment at it, as a user
// pasting `pmpc sim`'s export line would.
func doctorSim(t *testing.T) *sim.Server {
	t.Helper()
	seed, err := sim.Preset("homelab", 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Options{Seed: seed, RandSeed: 1, TaskDuration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	t.Setenv("PMPC_ENDPOINT", s.URL())
	t.Setenv("PMPC_TOKEN", s.Token())
	t.Setenv("PMPC_TLS_FINGERPRINT", s.Fingerprint())
	t.Setenv("PMPC_INSECURE", "")
	t.Setenv("PMPC_LOG", "")
	t.Setenv("NO_COLOR", "1")
	return s
}

// runPmpc runs pmpc in-process and returns its exit code, stdout and stderr.
func runPmpc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// doctorIn runs pmpc doctor with dir as the workspace directory (-C); an
// empty temporary directory means outside any workspace.
func doctorIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	return runPmpc(t, append([]string{"-C", dir, "doctor"}, args...)...)
}

// wantLine fails unless out has a line starting with prefix.
func wantLine(t *testing.T, out, prefix string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return
		}
	}
	t.Errorf("no line starting %q in:\n%s", prefix, out)
}

func TestDoctorHealthy(t *testing.T) {
	s := doctorSim(t)
	code, out, errs := doctorIn(t, t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errs)
	}
	for _, p := range []string{
		"ok    connection: " + strings.TrimPrefix(s.URL(), "https://"),
		"ok    tls: pinned fingerprint matches (" + s.Fingerprint() + ")",
		"ok    authentication: token root@pam!pmpc accepted",
		"ok    privileges: all 19 privileges",
		"ok    version: Proxmox VE 8.",
		"ok    clock: ",
		"skip  workspace: not inside a workspace",
		"skip  snapshot: ",
		"all checks passed",
	} {
		wantLine(t, out, p)
	}
	if strings.Contains(out+errs, "FAIL") || errs != "" {
		t.Errorf("healthy fake: unexpected failure or stderr:\n%s\n%s", out, errs)
	}
}

func TestDoctorWrongToken(t *testing.T) {
	doctorSim(t)
	const secret = "0b4f57a6-1111-4222-8333-944445555666"
	t.Setenv("PMPC_TOKEN", "root@pam!pmpc="+secret)
	code, out, errs := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "ok    tls: ")
	wantLine(t, out, "FAIL  authentication: token root@pam!pmpc was refused: 401")
	wantLine(t, out, "      a lost secret cannot be shown again; create a new token: pveum user token add root@pam pmpc")
	wantLine(t, out, "skip  privileges, version: ")
	if strings.Contains(out+errs, secret) {
		t.Errorf("the token secret is printed:\n%s%s", out, errs)
	}
}

func TestDoctorMissingPrivileges(t *testing.T) {
	s := doctorSim(t)
	var granted []string
	for _, p := range neededPrivs {
		if p != "VM.Clone" && p != "SDN.Use" {
			granted = append(granted, p)
		}
	}
	tok, err := s.AddToken("ci@pve!deploy", map[string][]string{"/": granted})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PMPC_TOKEN", tok)
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "ok    authentication: token ci@pve!deploy accepted")
	wantLine(t, out, "FAIL  privileges: token ci@pve!deploy lacks 2 of the privileges pmpc needs on /: SDN.Use, VM.Clone")
	wantLine(t, out, `        pveum role add PMPC --privs "`+strings.Join(neededPrivs, ",")+`"`)
	wantLine(t, out, "        pveum acl modify / --roles PMPC --tokens 'ci@pve!deploy'")
	wantLine(t, out, "        pveum acl modify / --roles PMPC --users ci@pve")
	// The other checks still run.
	wantLine(t, out, "ok    version: ")
}

func TestDoctorPrivilegesBelowRootAreNotEnough(t *testing.T) {
	s := doctorSim(t)
	tok, err := s.AddToken("ci@pve!vms", map[string][]string{"/vms": neededPrivs})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PMPC_TOKEN", tok)
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  privileges: token ci@pve!vms lacks 19 of the privileges")
}

func TestDoctorWrongFingerprint(t *testing.T) {
	s := doctorSim(t)
	wrong := strings.Repeat("AB:", 31) + "AB"
	t.Setenv("PMPC_TLS_FINGERPRINT", wrong)
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  tls: the certificate does not match the pinned fingerprint "+wrong+"; the server presented "+s.Fingerprint())
	wantLine(t, out, "        export PMPC_TLS_FINGERPRINT="+s.Fingerprint())
	wantLine(t, out, "skip  authentication, privileges, version: ")
	// No credential went to the server that failed the pin: the only
	// request is the unauthenticated probe.
	st := s.Stats()
	if st.Total != 1 || st.Requests["GET /access/domains"] != 1 {
		t.Errorf("requests after a pin mismatch = %v, want only GET /access/domains", st.Requests)
	}
}

func TestDoctorUnpinnedSelfSigned(t *testing.T) {
	s := doctorSim(t)
	t.Setenv("PMPC_TLS_FINGERPRINT", "")
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  tls: certificate not trusted (")
	wantLine(t, out, "        export PMPC_TLS_FINGERPRINT="+s.Fingerprint())

	// PMPC_INSECURE connects, but only with a warning and the pin to use.
	t.Setenv("PMPC_INSECURE", "1")
	code, out, _ = doctorIn(t, t.TempDir())
	if code != exitOK {
		t.Errorf("insecure: exit %d, want 0\n%s", code, out)
	}
	wantLine(t, out, "warn  tls: certificate NOT verified (PMPC_INSECURE)")
	wantLine(t, out, "        export PMPC_TLS_FINGERPRINT="+s.Fingerprint())
	wantLine(t, out, "ok    authentication: ")
}

func TestDoctorCAFile(t *testing.T) {
	s := doctorSim(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PMPC_TLS_FINGERPRINT", "")
	t.Setenv("PMPC_CA_FILE", ca)
	// The fake's self-signed certificate names 127.0.0.1, so trusting it
	// as a CA verifies it, for doctor and for the client alike.
	code, out, _ := doctorIn(t, dir)
	if code != exitOK {
		t.Errorf("exit %d, want 0\n%s", code, out)
	}
	wantLine(t, out, "ok    tls: certificate verified by the system's CAs and "+ca)
	wantLine(t, out, "ok    authentication: ")

	// A CA file without certificates is a failure, not a silent fallback.
	if err := os.WriteFile(ca, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = doctorIn(t, dir)
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  tls: CA file "+ca+" holds no PEM certificate")
}

func TestDoctorUnreachable(t *testing.T) {
	doctorSim(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("PMPC_ENDPOINT", "https://"+addr)
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  connection: cannot reach "+addr+": ")
	wantLine(t, out, "skip  tls, authentication, privileges, version, clock: endpoint unreachable")
}

func TestDoctorNotPVE(t *testing.T) {
	doctorSim(t)
	other := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	t.Setenv("PMPC_ENDPOINT", other.URL)
	t.Setenv("PMPC_TLS_FINGERPRINT", proxmox.Fingerprint(other.Certificate()))
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "warn  connection: "+strings.TrimPrefix(other.URL, "https://")+" answered HTTP 404 to GET /api2/json/access/domains")
	wantLine(t, out, "FAIL  authentication: ")
}

func TestDoctorNoEndpoint(t *testing.T) {
	doctorSim(t)
	t.Setenv("PMPC_ENDPOINT", "")
	t.Setenv("PROXMOX_VE_ENDPOINT", "")
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  connection: no Proxmox VE endpoint configured")
	wantLine(t, out, "      export PMPC_ENDPOINT=https://HOST:8006")
}

func TestDoctorClockSkew(t *testing.T) {
	doctorSim(t)
	defer func(f func() time.Time) { doctorNow = f }(doctorNow)
	doctorNow = func() time.Time { return time.Now().Add(-2 * time.Minute) }
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitOK {
		t.Errorf("a skewed clock is a warning, not a failure: exit %d\n%s", code, out)
	}
	wantLine(t, out, "warn  clock: the server's clock is 2m0s ahead of this machine's")
	wantLine(t, out, "no check failed; 1 warning")
}

func TestDoctorVersion(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{"8.4.1", "ok    version: Proxmox VE 8.4.1"},
		{"9.0.3", "ok    version: Proxmox VE 9.0.3"},
		{"7.4-3", "FAIL  version: Proxmox VE 7.4-3 is not supported"},
		{"10.0.1", "warn  version: Proxmox VE 10.0.1 is newer"},
		{"", "warn  version: cannot read"},
	} {
		var b bytes.Buffer
		doctorVersion(&doctorReport{w: &b}, proxmox.VersionInfo{Version: tc.version})
		if !strings.HasPrefix(b.String(), tc.want) {
			t.Errorf("version %q: got %q, want prefix %q", tc.version, b.String(), tc.want)
		}
	}
}

func TestDoctorOldPVE(t *testing.T) {
	seed, err := sim.Preset("homelab", 0)
	if err != nil {
		t.Fatal(err)
	}
	seed.Version = "7.4-3"
	s, err := sim.New(sim.Options{Seed: seed, RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	doctorSim(t)
	t.Setenv("PMPC_ENDPOINT", s.URL())
	t.Setenv("PMPC_TOKEN", s.Token())
	t.Setenv("PMPC_TLS_FINGERPRINT", s.Fingerprint())
	code, out, _ := doctorIn(t, t.TempDir())
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  version: Proxmox VE 7.4-3 is not supported (pmpc supports 8.x and 9.x)")
}

func TestDoctorWorkspace(t *testing.T) {
	doctorSim(t)
	ws := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ws, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pmpc.cue", "defaults: node: \"pve1\"\n")
	write("web.cue", "vm: \"web-01\": {cores: 2, memory: 2048}\npool: prod: {}\n")

	code, out, _ := doctorIn(t, ws)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantLine(t, out, "ok    workspace: "+ws+": 2 definitions (1 vm, 0 container, 1 pool)")
	wantLine(t, out, "warn  snapshot: none yet")
	wantLine(t, out, "      pmpc refresh")
	if _, err := os.Stat(filepath.Join(ws, ".pmpc", "snapshot")); err == nil {
		t.Errorf("doctor created a snapshot")
	}

	// After a refresh the snapshot is reported with its latest revision.
	if code, _, errs := runPmpc(t, "-C", ws, "refresh"); code != exitOK {
		t.Fatalf("refresh: exit %d: %s", code, errs)
	}
	code, out, _ = doctorIn(t, ws)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^ok    snapshot: 1 revision; latest r1 has \d+ guests, taken \d+s ago$`).MatchString(out) {
		t.Errorf("snapshot line missing:\n%s", out)
	}

	// An invalid definition fails the workspace check with its position.
	write("web.cue", "vm: \"web-01\": {cores: 0}\n")
	code, out, _ = doctorIn(t, ws)
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	wantLine(t, out, "FAIL  workspace: definitions do not load")
	wantLine(t, out, "      web.cue:1:")
	wantLine(t, out, "      run pmpc validate for every problem")
}

// TestLogsNeverShowSecrets runs commands against the fake with debug logs,
// text and JSON, token and password auth, and checks that neither the
// token secret, the password nor a ticket reaches stdout or stderr, while
// the API calls are logged with their timing and the run id, and the same
// run id reaches PVE in the User-Agent.
func TestLogsNeverShowSecrets(t *testing.T) {
	s := doctorSim(t)
	// A TLS front for the fake that records the User-Agents it sees.
	var mu sync.Mutex
	var agents []string
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Setenv("PMPC_ENDPOINT", front.URL)
	t.Setenv("PMPC_TLS_FINGERPRINT", proxmox.Fingerprint(front.Certificate()))

	_, secret, _ := strings.Cut(s.Token(), "=")
	const password = "pmpc-sim" // the fake's root@pam password
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "pmpc.cue"), []byte("defaults: node: \"pve1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "web.cue"), []byte("vm: \"web-01\": {cores: 2, memory: 2048}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runID := regexp.MustCompile(`\brun=(\d{8}T\d{6}Z-[0-9a-f]{8})\b|"run":"(\d{8}T\d{6}Z-[0-9a-f]{8})"`)
	apiLog := regexp.MustCompile(`(?m)^.*pve api.*$`)
	leaks := []string{secret, password, "PVE:root@pam:", "PVEAPIToken", "PVEAuthCookie", "CSRFPreventionToken"}

	for _, tc := range []struct {
		name string
		auth func()
		args []string
	}{
		{"doctor text", nil, []string{"--log-level", "debug", "-C", ws, "doctor"}},
		{"refresh json", nil, []string{"--log-level", "debug", "--log-format", "json", "-C", ws, "refresh"}},
		{"plan via PMPC_LOG", func() { t.Setenv("PMPC_LOG", "debug") }, []string{"-C", ws, "plan"}},
		{"doctor with password", func() {
			t.Setenv("PMPC_TOKEN", "")
			t.Setenv("PMPC_USERNAME", "root@pam")
			t.Setenv("PMPC_PASSWORD", password)
		}, []string{"--log-level", "debug", "-C", ws, "doctor"}},
		{"plan with password", nil, []string{"--log-level", "debug", "-C", ws, "plan"}},
	} {
		if tc.auth != nil {
			tc.auth()
		}
		mu.Lock()
		agents = nil
		mu.Unlock()
		code, out, errs := runPmpc(t, tc.args...)
		if code != exitOK && code != exitChanges {
			t.Errorf("%s: exit %d\n%s%s", tc.name, code, out, errs)
		}
		for _, l := range leaks {
			if strings.Contains(out, l) || strings.Contains(errs, l) {
				t.Errorf("%s: %q appears in the output:\nstdout:\n%s\nstderr:\n%s", tc.name, l, out, errs)
			}
		}
		calls := apiLog.FindAllString(errs, -1)
		if len(calls) == 0 {
			t.Errorf("%s: no API call logged at debug:\n%s", tc.name, errs)
			continue
		}
		m := runID.FindStringSubmatch(calls[0])
		if m == nil || !strings.Contains(calls[0], "ms") {
			t.Errorf("%s: API call logged without run id or timing: %s", tc.name, calls[0])
			continue
		}
		id := m[1] + m[2]
		mu.Lock()
		seen := false
		for _, a := range agents {
			if strings.HasPrefix(a, "pmpc/") && strings.Contains(a, id) {
				seen = true
			}
		}
		got := append([]string(nil), agents...)
		mu.Unlock()
		if !seen {
			t.Errorf("%s: no request carried the run id %s in its User-Agent: %q", tc.name, id, got)
		}
	}
}
