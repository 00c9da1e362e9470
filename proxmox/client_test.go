package proxmox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

const testToken = "root@pam!pmpc=0b7a3c5e-1111-2222-3333-444455556666"

// fast are timings for tests: retries and polls in microseconds.
func fast(cfg Config) Config {
	cfg.Retry = Backoff{Attempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	cfg.TaskPoll = Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	cfg.AmbiguitySettle = time.Millisecond
	return cfg
}

func fingerprint(srv *httptest.Server) string {
	sum := sha256.Sum256(srv.Certificate().Raw)
	return colonHex(sum[:])
}

// pveServer starts a TLS server answering like pveproxy with h, and a
// client pinned to its certificate.
func pveServer(t *testing.T, h http.HandlerFunc, mod ...func(*Config)) (*httptest.Server, *Client) {
	t.Helper()
	srv := newTLS(h)
	t.Cleanup(srv.Close)
	cfg := fast(Config{Endpoint: srv.URL, Token: testToken, Fingerprint: fingerprint(srv)})
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// newTLS is httptest.NewTLSServer without the handshake-error noise of
// tests that refuse its certificate on purpose.
func newTLS(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}

func writeData(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": v})
}

// writeErr answers like PVE 8.4: the reason phrase carries the message's
// first line, the body carries message (and errors for 400s).
func writeErr(w http.ResponseWriter, status int, msg string, errs map[string]string) {
	// net/http writes its own reason phrase; PVE's comes through a hijack.
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	body := []byte{}
	if status != 401 {
		m := map[string]any{"data": nil, "message": msg + "\n"}
		if errs != nil {
			m["errors"] = errs
		}
		body, _ = json.Marshal(m)
	}
	reason, _, _ := strings.Cut(msg, "\n")
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n", status, reason, len(body))
	if len(body) > 0 {
		fmt.Fprintf(buf, "Content-Type: application/json;charset=UTF-8\r\n")
	}
	fmt.Fprintf(buf, "\r\n%s", body)
	buf.Flush()
}

// drop closes the connection without answering, after reading the request.
func drop(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestTLSUnpinnedSelfSignedTeaches(t *testing.T) {
	srv := newTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeData(w, map[string]string{"version": "8.4.1"}) }))
	defer srv.Close()
	c, err := New(fast(Config{Endpoint: srv.URL, Token: testToken}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Version(context.Background())
	var ce *CertificateError
	if !errors.As(err, &ce) {
		t.Fatalf("Version over self-signed TLS without pin: err = %v, want CertificateError", err)
	}
	fp := fingerprint(srv)
	if ce.Fingerprint != fp {
		t.Errorf("presented fingerprint %q, want %q", ce.Fingerprint, fp)
	}
	for _, want := range []string{"PMPC_TLS_FINGERPRINT=" + fp, "not trusted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestTLSPin(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeData(w, map[string]string{"version": "8.4.1"}) })
	srv := newTLS(h)
	defer srv.Close()
	fp := fingerprint(srv)
	ctx := context.Background()

	// Right pin in another spelling: lowercase, no colons.
	c, err := New(fast(Config{Endpoint: srv.URL, Token: testToken, Fingerprint: strings.ToLower(strings.ReplaceAll(fp, ":", ""))}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Version(ctx)
	if err != nil || v.Version != "8.4.1" {
		t.Fatalf("pinned Version = %+v, %v", v, err)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("pinned client warns: %v", c.Warnings())
	}

	// Wrong pin: refused, naming both fingerprints.
	wrong := strings.Repeat("AB:", 31) + "AB"
	c, err = New(fast(Config{Endpoint: srv.URL, Token: testToken, Fingerprint: wrong}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Version(ctx)
	var ce *CertificateError
	if !errors.As(err, &ce) || ce.Pinned != wrong || ce.Fingerprint != fp {
		t.Fatalf("wrong pin: err = %v", err)
	}
	if !strings.Contains(err.Error(), "does not match PMPC_TLS_FINGERPRINT") {
		t.Errorf("wrong pin error %q does not name PMPC_TLS_FINGERPRINT", err)
	}
	if !strings.Contains(err.Error(), "\n  export PMPC_TLS_FINGERPRINT="+fp+"\n") {
		t.Errorf("wrong pin error %q lacks the line that pins the presented certificate", err)
	}

	// Malformed pin is refused up front.
	if _, err := New(Config{Endpoint: srv.URL, Token: testToken, Fingerprint: "AB:CD"}); err == nil {
		t.Error("New accepted a 2-byte fingerprint")
	}
}

func TestTLSCAFile(t *testing.T) {
	srv := newTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeData(w, map[string]string{"version": "8.4.1"}) }))
	defer srv.Close()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(fast(Config{Endpoint: srv.URL, Token: testToken, CAFile: f}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatalf("Version with CA file: %v", err)
	}
	if _, err := New(Config{Endpoint: srv.URL, Token: testToken, CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil || !strings.Contains(err.Error(), "PMPC_CA_FILE") {
		t.Errorf("missing CA file: err = %v", err)
	}
}

func TestTLSInsecureWorksAndWarns(t *testing.T) {
	srv := newTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeData(w, map[string]string{"version": "8.4.1"}) }))
	defer srv.Close()
	var logs bytes.Buffer
	c, err := New(fast(Config{Endpoint: srv.URL, Token: testToken, Insecure: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatalf("insecure Version: %v", err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "PMPC_TLS_FINGERPRINT") {
		t.Errorf("Warnings() = %q, want one pointing at PMPC_TLS_FINGERPRINT", w)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning logged: %q", logs.String())
	}
}

func TestAuthHeaderAnd401(t *testing.T) {
	var got atomic.Value
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		writeErr(w, 401, "Authentication failed!", nil)
	})
	_, err := c.Version(context.Background())
	if !IsAuth(err) {
		t.Fatalf("err = %v, want IsAuth", err)
	}
	if got.Load() != "PVEAPIToken="+testToken {
		t.Errorf("Authorization = %q", got.Load())
	}
	if !strings.Contains(err.Error(), "GET /version: 401 Authentication failed!") {
		t.Errorf("err = %q", err)
	}
}

func TestAPIErrorShapes(t *testing.T) {
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/lxc/100/config"):
			writeErr(w, 500, "CT is locked (clone)", nil)
		case strings.HasSuffix(r.URL.Path, "/qemu/101/config") && r.Method == http.MethodPost:
			writeErr(w, 500, "checksum mismatch (file change by other user?)", nil)
		case strings.HasSuffix(r.URL.Path, "/qemu"):
			writeErr(w, 400, "Parameter verification failed.", map[string]string{
				"vmid": "value must have a minimum value of 100",
				"net0": "invalid format - format error\nnet0.model: property is missing and it is not optional\n"})
		case strings.HasSuffix(r.URL.Path, "/qemu/999/config"):
			writeErr(w, 500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist", nil)
		case r.URL.Path == "/api2/json/cluster/nextid":
			writeErr(w, 400, "Parameter verification failed.", map[string]string{"vmid": "VM 200 already exists"})
		case strings.HasSuffix(r.URL.Path, "/status/start"):
			writeErr(w, 403, "Permission check failed (/vms/100, VM.PowerMgmt)", nil)
		default:
			writeErr(w, 501, "Method 'GET "+r.URL.Path+"' not implemented", nil)
		}
	})
	ctx := context.Background()

	_, err := c.UpdateConfig(ctx, resource.KindContainer, "pve1", 100, map[string]string{"cores": "2"}, nil, "")
	if want := "update container 100 on pve1: PUT /nodes/pve1/lxc/100/config: 500 CT is locked (clone)"; err == nil || err.Error() != want {
		t.Errorf("locked: err = %v\nwant %s", err, want)
	}
	if !IsLocked(err) || IsNotFound(err) || IsDigestMismatch(err) {
		t.Errorf("locked: helpers wrong for %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Method != "PUT" || ae.Path != "/nodes/pve1/lxc/100/config" || ae.Message != "CT is locked (clone)" {
		t.Errorf("APIError = %+v", ae)
	}

	_, err = c.UpdateConfig(ctx, resource.KindVM, "pve1", 101, map[string]string{"cores": "2"}, nil, "abc")
	if !IsDigestMismatch(err) {
		t.Errorf("digest: err = %v", err)
	}

	_, err = c.CreateGuest(ctx, resource.KindVM, "pve1", 99, map[string]string{"net0": "bridge=vmbr0"})
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Errors["vmid"] != "value must have a minimum value of 100" {
		t.Fatalf("400: err = %v", err)
	}
	if want := "(net0: invalid format - format error net0.model: property is missing and it is not optional; vmid: value must have a minimum value of 100)"; !strings.Contains(err.Error(), want) {
		t.Errorf("400 text %q lacks %q", err, want)
	}

	_, _, err = c.GuestConfig(ctx, resource.KindVM, "pve1", 999)
	if !IsNotFound(err) || !strings.HasPrefix(err.Error(), "read vm 999 on pve1: GET /nodes/pve1/qemu/999/config: 500 Configuration file") {
		t.Errorf("not found: err = %v", err)
	}

	_, err = c.NextID(ctx, 200)
	if !IsAlreadyExists(err) {
		t.Errorf("nextid taken: err = %v", err)
	}
	_, err = c.Power(ctx, resource.KindVM, "pve1", 100, "start", nil)
	if !IsPermission(err) || IsAuth(err) {
		t.Errorf("403: err = %v", err)
	}
	if _, err = c.Power(ctx, resource.KindContainer, "pve1", 100, "reset", nil); err == nil {
		t.Error("reset of a container accepted")
	}
}

func TestRetries(t *testing.T) {
	var n atomic.Int32
	var posts atomic.Int32
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api2/json/version":
			switch n.Add(1) {
			case 1:
				writeErr(w, 503, "Service Unavailable", nil)
			case 2:
				drop(w, r)
			case 3:
				writeErr(w, 595, "No route to host", nil)
			default:
				writeData(w, map[string]string{"version": "8.4.1"})
			}
		case r.URL.Path == "/api2/json/nodes/pve1/qemu/999/config":
			n.Add(1)
			writeErr(w, 500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist", nil)
		case strings.HasSuffix(r.URL.Path, "/status/start"):
			// A write is retried when PVE certainly did not act.
			if posts.Add(1) == 1 {
				writeErr(w, 500, "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout", nil)
				return
			}
			writeData(w, "UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmstart:100:root@pam!pmpc:")
		case strings.HasSuffix(r.URL.Path, "/status/stop"):
			posts.Add(1)
			writeErr(w, 502, "Bad Gateway", nil)
		default:
			writeErr(w, 501, "not implemented", nil)
		}
	})
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil || v.Version != "8.4.1" || n.Load() != 4 {
		t.Fatalf("Version after 503, drop, 595: %+v, %v after %d calls", v, err, n.Load())
	}

	n.Store(0)
	if _, _, err := c.GuestConfig(ctx, resource.KindVM, "pve1", 999); !IsNotFound(err) || n.Load() != 1 {
		t.Errorf("business 500 retried: %d calls, err %v", n.Load(), err)
	}

	u, err := c.Power(ctx, resource.KindVM, "pve1", 100, "start", nil)
	if err != nil || u.Type != "qmstart" || posts.Load() != 2 {
		t.Errorf("start after lock timeout: %v, %v after %d posts", u, err, posts.Load())
	}

	posts.Store(0)
	_, err = c.Power(ctx, resource.KindVM, "pve1", 100, "stop", nil)
	if !IsAmbiguous(err) || posts.Load() != 1 {
		t.Errorf("502 on a write: err %v after %d posts; want ambiguous after 1", err, posts.Load())
	}

	// Retries give up after Attempts.
	n.Store(0)
	_, c2 := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeErr(w, 503, "Service Unavailable", nil)
	})
	if _, err := c2.Version(ctx); err == nil || n.Load() != 4 {
		t.Errorf("persistent 503: err %v after %d calls, want 4", err, n.Load())
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 503, "Service Unavailable", nil) },
		func(cfg *Config) { cfg.Retry = Backoff{Attempts: 100, Initial: time.Second, Max: time.Second} })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Version(ctx)
	if !IsTimeout(err) {
		t.Errorf("err = %v, want a timeout", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Errorf("cancelled call took %v", time.Since(start))
	}
}

// A create whose answer is lost: tasks of other users or from long ago are
// not taken for its own.
func TestAmbiguousCreateIgnoresOldAndForeignTasks(t *testing.T) {
	const upid = "UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmcreate:120:root@pam!pmpc:"
	var creates atomic.Int32
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api2/json/nodes/pve1/qemu":
			creates.Add(1)
			drop(w, r)
		case r.URL.Path == "/api2/json/nodes/pve1/tasks":
			if r.URL.Query().Get("vmid") != "120" {
				t.Errorf("task lookup without vmid filter: %s", r.URL.RawQuery)
			}
			// A task of another user and an old one do not count.
			writeData(w, []map[string]any{
				{"upid": "UPID:pve1:00000001:0B5C3D4E:66F1A2B3:qmcreate:120:alice@pve:"},
				{"upid": upid},
			})
		default:
			writeErr(w, 501, "not implemented", nil)
		}
	})
	u, err := c.CreateGuest(context.Background(), resource.KindVM, "pve1", 120, map[string]string{"name": "web"})
	if err == nil {
		t.Fatalf("create resolved to %v although its task is older than the lookup window", u)
	}
	if !IsAmbiguous(err) {
		t.Fatalf("err = %v, want ambiguous (config GET answers 501)", err)
	}
	if creates.Load() != 1 {
		t.Errorf("create sent %d times", creates.Load())
	}
}

func TestAmbiguousCreate(t *testing.T) {
	now := time.Now().Unix()
	upid := fmt.Sprintf("UPID:pve1:0003A1F2:0B5C3D4E:%08X:qmcreate:120:root@pam!pmpc:", now)
	tests := []struct {
		name        string
		task        bool // the create task is listed
		exists      bool // the vmid exists
		wantCreates int32
		wantErr     bool
	}{
		{"task found", true, true, 1, false},
		{"nothing happened: resend", false, false, 2, false},
		{"exists without task: ambiguous", false, true, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var creates atomic.Int32
			_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/api2/json/nodes/pve1/qemu":
					if creates.Add(1) == 1 {
						drop(w, r)
						return
					}
					writeData(w, upid)
				case r.URL.Path == "/api2/json/nodes/pve1/tasks":
					var list []map[string]any
					if tt.task {
						list = append(list, map[string]any{"upid": upid})
					}
					writeData(w, list)
				case r.URL.Path == "/api2/json/nodes/pve1/qemu/120/config":
					if tt.exists {
						writeData(w, map[string]any{"name": "web", "digest": "abc"})
						return
					}
					writeErr(w, 500, "Configuration file 'nodes/pve1/qemu-server/120.conf' does not exist", nil)
				default:
					writeErr(w, 501, "not implemented", nil)
				}
			})
			u, err := c.CreateGuest(context.Background(), resource.KindVM, "pve1", 120, map[string]string{"name": "web"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr && !IsAmbiguous(err) {
				t.Errorf("err = %v, want ambiguous", err)
			}
			if !tt.wantErr && u.String() != upid {
				t.Errorf("UPID = %v, want %v", u, upid)
			}
			if creates.Load() != tt.wantCreates {
				t.Errorf("create sent %d times, want %d", creates.Load(), tt.wantCreates)
			}
		})
	}
}

func TestWaitTask(t *testing.T) {
	ok := "UPID:pve1:00000001:00000002:66F1A2B3:qmstart:100:root@pam!pmpc:"
	warn := "UPID:pve1:00000001:00000002:66F1A2B3:qmstart:101:root@pam!pmpc:"
	bad := "UPID:pve1:00000001:00000002:66F1A2B3:qmstart:102:root@pam!pmpc:"
	var polls atomic.Int32
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, ok+"/status"):
			if polls.Add(1) < 3 {
				writeData(w, map[string]any{"status": "running", "upid": ok})
				return
			}
			writeData(w, map[string]any{"status": "stopped", "exitstatus": "OK"})
		case strings.HasSuffix(p, warn+"/status"):
			writeData(w, map[string]any{"status": "stopped", "exitstatus": "WARNINGS: 2"})
		case strings.HasSuffix(p, bad+"/status"):
			writeData(w, map[string]any{"status": "stopped", "exitstatus": "VM 102 already running"})
		case strings.HasSuffix(p, bad+"/log"):
			lines := []map[string]any{}
			for i := 1; i <= 30; i++ {
				lines = append(lines, map[string]any{"n": i, "t": fmt.Sprintf("line %d", i)})
			}
			lines = append(lines, map[string]any{"n": 31, "t": "TASK ERROR: VM 102 already running"})
			q := r.URL.Query()
			var start, limit int
			fmt.Sscan(q.Get("start"), &start)
			fmt.Sscan(q.Get("limit"), &limit)
			end := len(lines)
			if limit > 0 && start+limit < end {
				end = start + limit
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": lines[start:end], "total": len(lines)})
		default:
			writeErr(w, 400, "Parameter verification failed.", map[string]string{"upid": "no such task"})
		}
	})
	ctx := context.Background()
	u, _ := ParseUPID(ok)
	st, err := c.WaitTask(ctx, u)
	if err != nil || !st.OK() || polls.Load() != 3 {
		t.Errorf("ok task: %+v %v after %d polls", st, err, polls.Load())
	}
	u, _ = ParseUPID(warn)
	st, err = c.WaitTask(ctx, u)
	if err != nil || st.Warnings() != 2 {
		t.Errorf("warnings task: %+v %v", st, err)
	}
	u, _ = ParseUPID(bad)
	_, err = c.WaitTask(ctx, u)
	var te *TaskError
	if !errors.As(err, &te) {
		t.Fatalf("failed task: err = %v", err)
	}
	if te.ExitStatus != "VM 102 already running" || len(te.LogTail) != taskLogTail || te.LogTail[len(te.LogTail)-1] != "TASK ERROR: VM 102 already running" || te.LogTail[0] != "line 22" {
		t.Errorf("TaskError = %+v", te)
	}
	if !strings.Contains(err.Error(), "task qmstart 102 on pve1 failed: VM 102 already running") || !strings.Contains(err.Error(), "line 30") {
		t.Errorf("error text %q", err)
	}
	// A task that never appears gives up.
	u, _ = ParseUPID("UPID:pve1:00000001:00000002:66F1A2B3:qmstart:103:root@pam!pmpc:")
	if _, err := c.WaitTask(ctx, u); !IsNotFound(err) {
		t.Errorf("unknown task: err = %v", err)
	}
	// Cancellation is honoured while the task runs.
	polls.Store(-1 << 20)
	u, _ = ParseUPID(ok)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.WaitTask(cctx, u); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: err = %v", err)
	}
}

func TestGuestConfigTyping(t *testing.T) {
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":{"cores":2,"sockets":1,"numa":0,"memory":"2048","cpulimit":"1.5","balloon":1024.0,
			"shares":0.5,"onboot":true,"name":"web01","hugemem":null,
			"net0":"virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1",
			"lxc":[["lxc.cgroup2.devices.allow","c 10:200 rwm"],["lxc.mount.entry","/dev/net dev/net none bind,create=dir"]],
			"digest":"3b53178a656bdb9326fd1c59d7fd3657ed1ca7dd"}}`)
	})
	cfg, digest, err := c.GuestConfig(context.Background(), resource.KindContainer, "pve1", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cores": "2", "sockets": "1", "numa": "0", "memory": "2048", "cpulimit": "1.5", "balloon": "1024",
		"shares": "0.5", "onboot": "1", "name": "web01",
		"net0": "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1",
		"lxc":  "lxc.cgroup2.devices.allow: c 10:200 rwm\nlxc.mount.entry: /dev/net dev/net none bind,create=dir",
	}
	if digest != "3b53178a656bdb9326fd1c59d7fd3657ed1ca7dd" {
		t.Errorf("digest = %q", digest)
	}
	if len(cfg) != len(want) {
		t.Errorf("config has %d keys, want %d: %v", len(cfg), len(want), cfg)
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %q, want %q", k, cfg[k], v)
		}
	}
}

func TestResourcesTolerant(t *testing.T) {
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("type") != "vm" {
			t.Errorf("type filter = %q", r.URL.Query().Get("type"))
		}
		w.Header().Set("Content-Type", "application/json")
		// Just created: no name, stats or template; a numeric-looking name;
		// a string vmid; a missing vmid.
		io.WriteString(w, `{"data":[
			{"id":"qemu/100","type":"qemu","vmid":100,"node":"pve1","status":"unknown"},
			{"id":"lxc/101","type":"lxc","vmid":"101","node":"pve2","name":123,"status":"running","template":"1","tags":"a;b","lock":"backup","pool":"prod","maxmem":2147483648,"cpu":0.02},
			{"id":"qemu/102","node":"pve1","status":"stopped"}]}`)
	})
	rs, err := c.Resources(context.Background(), "vm")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("got %d resources", len(rs))
	}
	if rs[0].VMID != 100 || rs[0].Name != "" || rs[0].Template {
		t.Errorf("rs[0] = %+v", rs[0])
	}
	if r := rs[1]; r.VMID != 101 || r.Name != "123" || !r.Template || r.Tags != "a;b" || r.Lock != "backup" || r.Pool != "prod" || r.MaxMem != 2147483648 || r.Type != "lxc" {
		t.Errorf("rs[1] = %+v", r)
	}
	if r := rs[2]; r.VMID != 102 || r.Type != "qemu" || !r.IsGuest() {
		t.Errorf("rs[2] = %+v", r)
	}
}

func TestTicketAuth(t *testing.T) {
	var logins, renewals, writes atomic.Int32
	var mu sync.Mutex
	valid := map[string]bool{}
	issue := func(w http.ResponseWriter, n int32) {
		tk := fmt.Sprintf("PVE:root@pam:6600000%d::sig%d", n, n)
		mu.Lock()
		valid[tk] = true
		mu.Unlock()
		writeData(w, map[string]any{"username": "root@pam", "ticket": tk, "CSRFPreventionToken": fmt.Sprintf("6600000%d:csrf", n)})
	}
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api2/json/access/ticket" && r.Method == http.MethodPost {
			_ = r.ParseForm()
			switch pw := r.PostForm.Get("password"); {
			case r.PostForm.Get("username") != "root@pam":
				writeErr(w, 401, "authentication failure", nil)
			case pw == "s3cret!":
				issue(w, logins.Add(1))
			case strings.HasPrefix(pw, "PVE:") && valid[pw]:
				renewals.Add(1)
				issue(w, 5+renewals.Load())
			default:
				writeErr(w, 401, "authentication failure", nil)
			}
			return
		}
		ck, err := r.Cookie("PVEAuthCookie")
		var tk string
		if err == nil {
			tk, _ = url.QueryUnescape(ck.Value)
		}
		mu.Lock()
		ok := valid[tk]
		mu.Unlock()
		if !ok {
			writeErr(w, 401, "No ticket", nil)
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("token header sent with ticket auth")
		}
		if r.Method != http.MethodGet {
			writes.Add(1)
			if !strings.HasSuffix(r.Header.Get("CSRFPreventionToken"), ":csrf") {
				writeErr(w, 401, "Permission denied - invalid csrf token", nil)
				return
			}
			writeData(w, nil)
			return
		}
		writeData(w, map[string]string{"version": "8.4.1"})
	}, func(cfg *Config) { cfg.Token, cfg.Username, cfg.Password = "", "root@pam", "s3cret!" })
	ctx := context.Background()
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateConfig(ctx, resource.KindContainer, "pve1", 100, map[string]string{"cores": "2"}, nil, ""); err != nil {
		t.Fatalf("write with ticket: %v", err)
	}
	if logins.Load() != 1 || writes.Load() != 1 {
		t.Errorf("logins %d writes %d", logins.Load(), writes.Load())
	}
	// An hour later the ticket is renewed with itself, not the password.
	c.now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if renewals.Load() != 1 || logins.Load() != 1 {
		t.Errorf("after an hour: renewals %d logins %d", renewals.Load(), logins.Load())
	}
	// A revoked ticket: one fresh login, then the call succeeds.
	mu.Lock()
	clear(valid)
	mu.Unlock()
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if logins.Load() != 2 {
		t.Errorf("logins after revocation = %d", logins.Load())
	}

	// Wrong password: an auth error that names the login.
	_, c2 := pveServer(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 401, "authentication failure", nil) },
		func(cfg *Config) { cfg.Token, cfg.Username, cfg.Password = "", "root@pam", "wrong" })
	_, err := c2.Version(ctx)
	if !IsAuth(err) || !strings.Contains(err.Error(), "log in as root@pam") {
		t.Errorf("bad password: err = %v", err)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ticket, csrf := "PVE:root@pam:66000001::SIGNATURE", "66000001:CSRFSECRET"
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api2/json/access/ticket" {
			writeData(w, map[string]any{"username": "root@pam", "ticket": ticket, "CSRFPreventionToken": csrf})
			return
		}
		if r.Method == http.MethodPost {
			writeErr(w, 500, "VM is locked (clone)", nil)
			return
		}
		writeData(w, map[string]string{"version": "8.4.1"})
	}, func(cfg *Config) {
		cfg.Token, cfg.Username, cfg.Password, cfg.Logger = "", "root@pam", "PASSWORDSECRET", logger
	})
	ctx := context.Background()
	_, _ = c.Version(ctx)
	_, _ = c.UpdateConfig(ctx, resource.KindVM, "pve1", 100, map[string]string{"cipassword": "CIPASSWORDSECRET"}, nil, "")
	out := logs.String()
	if !strings.Contains(out, "path=/version") || !strings.Contains(out, "ms=") {
		t.Errorf("API calls not logged with timings: %s", out)
	}
	for _, secret := range []string{"PASSWORDSECRET", "SIGNATURE", "CSRFSECRET", "CIPASSWORDSECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains secret %q:\n%s", secret, out)
		}
	}
	cfg := Config{Token: testToken, Password: "PASSWORDSECRET"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)} {
		if strings.Contains(s, "PASSWORDSECRET") || strings.Contains(s, "0b7a3c5e") {
			t.Errorf("Config prints a secret: %s", s)
		}
	}
}

func TestWorkersBoundConcurrency(t *testing.T) {
	var inflight, peak atomic.Int32
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inflight.Add(-1)
		writeData(w, map[string]any{"digest": "x"})
	}, func(cfg *Config) { cfg.Workers = 3 })
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = c.GuestConfig(context.Background(), resource.KindVM, "pve1", 100+i)
		}()
	}
	wg.Wait()
	if peak.Load() != 3 {
		t.Errorf("peak concurrency %d, want 3", peak.Load())
	}
}

func TestPerNodeLimit(t *testing.T) {
	var mu sync.Mutex
	inflight, peak := map[string]int{}, map[string]int{}
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		node := strings.Split(r.URL.Path, "/")[4]
		mu.Lock()
		inflight[node]++
		peak[node] = max(peak[node], inflight[node])
		mu.Unlock()
		time.Sleep(3 * time.Millisecond)
		mu.Lock()
		inflight[node]--
		mu.Unlock()
		writeData(w, map[string]any{"digest": "x"})
	}, func(cfg *Config) { cfg.Workers, cfg.PerNode = 4, 1 })
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = c.GuestConfig(context.Background(), resource.KindVM, fmt.Sprintf("pve%d", i%2), 100+i)
		}()
	}
	wg.Wait()
	if peak["pve0"] != 1 || peak["pve1"] != 1 {
		t.Errorf("per-node peaks %v, want 1 each", peak)
	}
}

// A synchronous container update whose answer is lost: an unchanged digest
// proves it never happened, so it is sent again; a changed one is ambiguous.
func TestAmbiguousContainerUpdate(t *testing.T) {
	for _, changed := range []bool{false, true} {
		var puts atomic.Int32
		_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodPut:
				if puts.Add(1) == 1 {
					drop(w, r)
					return
				}
				writeData(w, nil)
			case http.MethodGet:
				d := "d1"
				if changed {
					d = "d2"
				}
				writeData(w, map[string]any{"cores": 1, "digest": d})
			}
		})
		_, err := c.UpdateConfig(context.Background(), resource.KindContainer, "pve1", 101, map[string]string{"cores": "2"}, nil, "d1")
		switch {
		case !changed && (err != nil || puts.Load() != 2):
			t.Errorf("unchanged digest: err %v after %d PUTs, want success after 2", err, puts.Load())
		case changed && (!IsAmbiguous(err) || puts.Load() != 1):
			t.Errorf("changed digest: err %v after %d PUTs, want ambiguous after 1", err, puts.Load())
		}
		if changed && !strings.Contains(err.Error(), "update container 101 on pve1: PUT /nodes/pve1/lxc/101/config") {
			t.Errorf("ambiguous error does not name the call: %v", err)
		}
	}
}

// A pool created whose answer is lost is found by reading the pools back.
func TestAmbiguousPoolCreate(t *testing.T) {
	var posts atomic.Int32
	_, c := pveServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			posts.Add(1)
			drop(w, r)
		case r.URL.Path == "/api2/json/pools":
			writeData(w, []map[string]any{{"poolid": "prod", "comment": "production"}})
		default:
			writeData(w, []any{})
		}
	})
	if err := c.CreatePool(context.Background(), "prod", "production"); err != nil || posts.Load() != 1 {
		t.Errorf("err %v after %d POSTs", err, posts.Load())
	}
}
