package sim

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a fake server. The zero value serves an empty one-node
// cluster with no latency, unlimited workers, instant tasks and no faults.
type Options struct {
	// Listen is the TCP address to listen on; default 127.0.0.1:0 (a free
	// port). The fake only ever listens where it is told.
	Listen string
	// Seed is the cluster to serve; nil serves Empty().
	Seed *Seed
	// Workers caps how many API requests are served at once; the rest wait,
	// as with pveproxy's worker processes (3 on a real node). 0 = no cap.
	Workers int
	// Latency is added to every API request while it holds a worker.
	Latency time.Duration
	// TaskDuration is how long every task stays "running".
	TaskDuration time.Duration
	// FaultRate is the share (0..1) of API requests that fail before their
	// handler runs and of tasks that fail; see the package doc for the
	// errors. Deterministic for a given RandSeed.
	FaultRate float64
	// RandSeed seeds MAC addresses, UPID pids and fault injection.
	RandSeed uint64
	// AuthFailDelay delays every 401, as PVE does (3 s on a real node).
	// Zero means no delay, which is what tests want.
	AuthFailDelay time.Duration
	// Password is root@pam's password for POST /access/ticket; default
	// "pmpc-sim".
	Password string
	// TokenSecret is the secret of the root@pam!pmpc token; default a
	// random UUID.
	TokenSecret string
}

// Server is a running fake Proxmox VE.
type Server struct {
	opts     Options
	ln       net.Listener
	http     *http.Server
	cert     tls.Certificate
	fp       string
	url      string
	workers  chan struct{}
	closing  chan struct{}
	closeOne sync.Once
	tasksWG  sync.WaitGroup

	mu sync.Mutex // guards everything below and the cluster
	c  *cluster

	statsMu sync.Mutex
	stats   map[string]int64
	total   int64

	faultMu  sync.Mutex
	faultRng *mrand.Rand
}

// New starts a fake server as opts describe. Close it when done.
func New(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Password == "" {
		opts.Password = "pmpc-sim"
	}
	if opts.TokenSecret == "" {
		opts.TokenSecret = newUUID()
	}
	seed := opts.Seed
	if seed == nil {
		seed = Empty()
	}
	s := &Server{
		opts:     opts,
		closing:  make(chan struct{}),
		stats:    map[string]int64{},
		faultRng: mrand.New(mrand.NewPCG(opts.RandSeed, 0x9e3779b97f4a7c15)),
	}
	if opts.Workers > 0 {
		s.workers = make(chan struct{}, opts.Workers)
	}
	c, err := newCluster(seed, opts.RandSeed)
	if err != nil {
		return nil, fmt.Errorf("sim: load seed: %w", err)
	}
	s.c = c
	s.c.addToken("root@pam!pmpc", opts.TokenSecret, nil)

	cert, fp, err := selfSignedCert()
	if err != nil {
		return nil, fmt.Errorf("sim: certificate: %w", err)
	}
	s.cert, s.fp = cert, fp
	for _, n := range c.nodes {
		n.fingerprint = fp
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("sim: listen %s: %w", opts.Listen, err)
	}
	s.ln = ln
	s.url = "https://" + ln.Addr().String()
	s.http = &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          nil,
		ReadHeaderTimeout: 30 * time.Second,
	}
	s.http.ErrorLog = discardLogger()
	go s.http.Serve(newSniffListener(ln, s.http.TLSConfig))
	return s, nil
}

// Test starts a fake server for t and closes it when t ends. The first
// Options, if any, are used; Test always sets AuthFailDelay to 0.
func Test(t testing.TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.AuthFailDelay = 0
	s, err := New(o)
	if err != nil {
		t.Fatalf("start fake PVE: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// URL is the server's base URL (https://127.0.0.1:PORT), without /api2/json.
func (s *Server) URL() string { return s.url }

// Fingerprint is the SHA-256 fingerprint of the server certificate as PVE
// shows it: uppercase hex pairs joined by colons.
func (s *Server) Fingerprint() string { return s.fp }

// Token is the full API token with every privilege:
// "root@pam!pmpc=<uuid>", as PMPC_TOKEN takes it.
func (s *Server) Token() string { return "root@pam!pmpc=" + s.opts.TokenSecret }

// Certificate is the server's self-signed certificate, for clients that
// want a CA pool rather than a pinned fingerprint.
func (s *Server) Certificate() *x509.Certificate {
	c, _ := x509.ParseCertificate(s.cert.Certificate[0])
	return c
}

// ExportLine is the shell line that points pmpc at this server.
func (s *Server) ExportLine() string {
	return fmt.Sprintf("export PMPC_ENDPOINT=%s PMPC_TOKEN=%s PMPC_TLS_FINGERPRINT=%s", s.url, s.Token(), s.fp)
}

// HTTPClient returns a client that trusts this server's certificate.
func (s *Server) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}, Timeout: 60 * time.Second}
}

// Close stops serving and ends running tasks.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.http.Shutdown(ctx)
		_ = s.http.Close()
		s.tasksWG.Wait()
	})
}

// Stats is a copy of the request counters: Total and counts by
// "METHOD /path/template".
type Stats struct {
	Total    int64            `json:"total"`
	Requests map[string]int64 `json:"requests"`
}

// Stats returns the API request counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	m := make(map[string]int64, len(s.stats))
	for k, v := range s.stats {
		m[k] = v
	}
	return Stats{Total: s.total, Requests: m}
}

// ResetStats zeroes the request counters.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	s.stats = map[string]int64{}
	s.total = 0
	s.statsMu.Unlock()
}

func (s *Server) count(key string) {
	s.statsMu.Lock()
	s.stats[key]++
	s.total++
	s.statsMu.Unlock()
}

// apiError is an error answered with PVE's shapes: the first line of msg as
// the reason phrase, the whole text in "message", and errors for 400s.
type apiError struct {
	code   int
	msg    string
	errors map[string]string
}

func (e *apiError) Error() string { return e.msg }

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// paramErr is PVE's 400 "Parameter verification failed." with an errors map.
func paramErr(errs map[string]string) *apiError {
	return &apiError{code: 400, msg: "Parameter verification failed.", errors: errs}
}

func param1(key, text string) *apiError { return paramErr(map[string]string{key: text}) }

// withTotal is a list result that also carries PVE's top-level "total".
type withTotal struct {
	data  any
	total int
}

// rawResult is a handler result that is written as is (agent calls wrap
// their result themselves).
type req struct {
	method string
	path   string // API path below /api2/json
	vars   map[string]string
	params map[string]string
	who    *principal
	r      *http.Request
}

func (q *req) has(k string) bool { _, ok := q.params[k]; return ok }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveOperator(w, r)
		return
	}
	const prefix = "/api2/json"
	path := r.URL.Path
	if !strings.HasPrefix(path, prefix+"/") && path != prefix {
		s.count(r.Method + " (no such uri)")
		s.writeError(w, r, errf(501, "no such uri"))
		return
	}
	apiPath := strings.TrimPrefix(path, prefix)
	if apiPath == "" {
		apiPath = "/"
	}
	if s.workers != nil {
		select {
		case s.workers <- struct{}{}:
		case <-r.Context().Done():
			return
		}
	}
	held := s.workers != nil
	release := func() {
		if held {
			held = false
			<-s.workers
		}
	}
	defer release()
	if s.opts.Latency > 0 {
		select {
		case <-time.After(s.opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	switch r.Method {
	case "GET", "POST", "PUT", "DELETE":
	default:
		s.count(r.Method + " (method not available)")
		s.writeError(w, r, errf(501, "method '%s' not available", r.Method))
		return
	}
	rt, vars := matchRoute(r.Method, apiPath)
	if rt == nil {
		s.count(r.Method + " (not implemented)")
		s.writeError(w, r, errf(501, "Method '%s %s' not implemented", r.Method, apiPath))
		return
	}
	s.count(r.Method + " " + rt.template)
	if s.injectFault(w, r) {
		return
	}
	params, perr := readParams(r)
	if perr != nil {
		s.writeError(w, r, perr)
		return
	}
	for k, v := range vars {
		if pv, ok := params[k]; ok && pv != v {
			s.writeError(w, r, errf(400, "duplicate parameter (already defined in URI) with conflicting values!"))
			return
		}
		delete(params, k)
	}
	delete(params, "_dc")
	q := &req{method: r.Method, path: apiPath, vars: vars, params: params, r: r}
	if !rt.noAuth {
		who, reason := s.authenticate(r)
		if who == nil {
			release()
			if s.opts.AuthFailDelay > 0 {
				select {
				case <-time.After(s.opts.AuthFailDelay):
				case <-s.closing:
				}
			}
			s.write401(w, r, reason)
			return
		}
		q.who = who
	}
	data, err := rt.h(s, q)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = errf(500, "%s", err.Error())
		}
		s.writeError(w, r, ae)
		return
	}
	body := map[string]any{"data": data}
	if wt, ok := data.(withTotal); ok {
		body = map[string]any{"data": wt.data, "total": wt.total}
	}
	s.writeJSON(w, r, body)
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		s.writeError(w, r, errf(500, "unable to encode result: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Server", "pve-api-daemon/3.0")
	h.Set("Cache-Control", "max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", time.Now().UTC().Format(http.TimeFormat))
	if len(b) > 1024 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		h.Set("Vary", "Accept-Encoding")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		w.WriteHeader(200)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(200)
	_, _ = w.Write(b)
}

// writeError answers with PVE's error shape. The reason phrase carries the
// message's first line, which net/http cannot set, so the response is
// written by hand on the hijacked connection (PVE closes the connection on
// any status >= 400 anyway).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	msg := strings.TrimRight(e.msg, "\n")
	reason, _, _ := strings.Cut(msg, "\n")
	reason = strings.ReplaceAll(reason, "\r", "")
	body := map[string]any{"data": nil, "message": msg + "\n"}
	if e.errors != nil {
		body["errors"] = e.errors
	}
	b, _ := json.Marshal(body)
	s.writeRaw(w, e.code, reason, "application/json;charset=UTF-8", b)
}

func (s *Server) write401(w http.ResponseWriter, r *http.Request, reason string) {
	s.writeRaw(w, 401, reason, "", nil)
}

func (s *Server) writeRaw(w http.ResponseWriter, code int, reason, ctype string, body []byte) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.Header().Set("Connection", "close")
		w.WriteHeader(code)
		_, _ = w.Write(body)
		return
	}
	conn, bw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", code, reason)
	fmt.Fprintf(&b, "Server: pve-api-daemon/3.0\r\nDate: %s\r\nConnection: close\r\n", time.Now().UTC().Format(http.TimeFormat))
	fmt.Fprintf(&b, "Cache-Control: max-age=0\r\nPragma: no-cache\r\n")
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	_, _ = bw.Write(b.Bytes())
	_ = bw.Flush()
}

// injectFault fails the request as Options.FaultRate asks; it reports
// whether it did.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.FaultRate <= 0 {
		return false
	}
	s.faultMu.Lock()
	hit := s.faultRng.Float64() < s.opts.FaultRate
	kind := s.faultRng.IntN(3)
	s.faultMu.Unlock()
	if !hit {
		return false
	}
	switch kind {
	case 0:
		s.writeError(w, r, errf(500, "can't lock file '/var/lock/qemu-server/lock-0.conf' - got timeout"))
	case 1:
		s.writeRaw(w, 503, "Service Unavailable", "", nil)
	default:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	}
	return true
}

func (s *Server) taskFault() bool {
	if s.opts.FaultRate <= 0 {
		return false
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faultRng.Float64() < s.opts.FaultRate
}

// readParams merges body (form or JSON) and query parameters as PVE does:
// query overrides body, "key=" means absent, JSON booleans become 1/0 and
// arrays are comma-joined.
func readParams(r *http.Request) (map[string]string, *apiError) {
	params := map[string]string{}
	body, err := io.ReadAll(io.LimitReader(r.Body, 512*1024+1))
	if err != nil {
		return nil, errf(400, "unable to read request body: %v", err)
	}
	if len(body) > 512*1024 {
		return nil, errf(501, "for data too large")
	}
	if (r.Method == "GET" || r.Method == "DELETE") && len(body) > 0 {
		return nil, errf(501, "Unexpected content for method '%s'", r.Method)
	}
	var jsonEmpty []string
	if len(body) > 0 {
		ct := r.Header.Get("Content-Type")
		ct, _, _ = strings.Cut(ct, ";")
		ct = strings.TrimSpace(strings.ToLower(ct))
		switch ct {
		case "", "application/x-www-form-urlencoded":
			if err := parseForm(string(body), params); err != nil {
				return nil, errf(400, "%v", err)
			}
		case "application/json":
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return nil, errf(400, "unable to parse JSON body: %v", err)
			}
			for k, v := range m {
				if s, ok := jsonScalar(v); ok {
					params[k] = s
					if s == "" {
						// A JSON "" is a value (e.g. clearing a comment);
						// only a form's `key=` means absent.
						jsonEmpty = append(jsonEmpty, k)
					}
				}
			}
		default:
			return nil, errf(506, "upload 'Content-Type '%s' not implemented", ct)
		}
	}
	if err := parseForm(r.URL.RawQuery, params); err != nil {
		return nil, errf(400, "%v", err)
	}
	for k, v := range params {
		if v == "" {
			delete(params, k)
		}
	}
	for _, k := range jsonEmpty {
		if _, overridden := params[k]; !overridden {
			params[k] = ""
		}
	}
	return params, nil
}

// parseForm decodes a form string into params: & and ; separate pairs,
// repeated keys are comma-joined.
func parseForm(s string, params map[string]string) error {
	seen := map[string]bool{}
	for _, pair := range strings.FieldsFunc(s, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return err
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return err
		}
		if seen[k] && v != "" && params[k] != "" {
			params[k] += "," + v
		} else {
			params[k] = v
		}
		seen[k] = true
	}
	return nil
}

func (s *Server) serveOperator(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sim/stats" && r.Method == "GET":
		b, _ := json.Marshal(s.Stats())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, '\n'))
	case (r.URL.Path == "/_sim/stats/reset" && r.Method == "POST") || (r.URL.Path == "/_sim/stats" && r.Method == "DELETE"):
		s.ResetStats()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}\n"))
	default:
		http.Error(w, "unknown operator endpoint; try GET /_sim/stats or POST /_sim/stats/reset", http.StatusNotFound)
	}
}

func selfSignedCert() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pve1.sim.invalid", Organization: []string{"PVE Cluster Node (pmpc sim)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(2 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "pve1.sim.invalid"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	hexs := make([]string, len(sum))
	for i, b := range sum {
		hexs[i] = fmt.Sprintf("%02X", b)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, strings.Join(hexs, ":"), nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
