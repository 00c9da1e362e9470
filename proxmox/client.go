package proxmox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client talks to one PVE cluster. It is safe for concurrent use; the
// number of requests in flight is bounded by Config.Workers (and
// Config.PerNode per node).
type Client struct {
	cfg      Config
	base     *url.URL
	http     *http.Client
	log      *slog.Logger
	warnings []string

	tokenHeader string // "PVEAPIToken=..." or ""

	sem     chan struct{}
	nodeMu  sync.Mutex
	nodeSem map[string]chan struct{}

	ticketMu sync.Mutex
	ticket   string
	csrf     string
	ticketAt time.Time

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// New checks cfg and builds a client. It makes no request: a wrong token or
// an untrusted certificate shows on the first call.
func New(cfg Config) (*Client, error) {
	base, err := BaseURL(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg.withDefaults(), base: base, log: cfg.Logger, nodeSem: map[string]chan struct{}{}, now: time.Now, sleep: sleepCtx}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Token != "":
		id, secret, err := splitToken(cfg.Token)
		if err != nil {
			return nil, err
		}
		c.tokenHeader = "PVEAPIToken=" + id + "=" + secret
	case cfg.Username != "" && cfg.Password != "":
		if !strings.Contains(cfg.Username, "@") {
			return nil, fmt.Errorf("username %q must include the realm, e.g. root@pam", cfg.Username)
		}
	case cfg.Username != "":
		return nil, fmt.Errorf("no password for %s: set PMPC_PASSWORD, or use an API token (PMPC_TOKEN=USER@REALM!TOKENID=SECRET)", cfg.Username)
	default:
		return nil, fmt.Errorf("no credentials: set PMPC_TOKEN=USER@REALM!TOKENID=SECRET (or PMPC_USERNAME and PMPC_PASSWORD)")
	}
	c.sem = make(chan struct{}, c.cfg.Workers)

	tr, warnings, err := newTrust(c.cfg)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		c.warn(w)
	}
	if base.Scheme == "http" {
		c.warn("PMPC_ENDPOINT uses plain http: credentials travel unencrypted (PVE itself only serves https)")
	}
	host := base.Hostname()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if !tr.insecure {
		// Verification is done here rather than by crypto/tls so that a
		// refusal can report the presented fingerprint.
		tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error { return tr.verify(host, cs.PeerCertificates) }
	}
	c.http = newHTTPClient(tlsCfg, c.cfg.Workers)
	return c, nil
}

// withDefaults fills in the defaults that Config documents.
func (cfg Config) withDefaults() Config {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.PerNode <= 0 || cfg.PerNode > cfg.Workers {
		cfg.PerNode = cfg.Workers
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "pmpc"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	cfg.Retry = cfg.Retry.withDefaults(4, 200*time.Millisecond, 5*time.Second)
	cfg.TaskPoll = cfg.TaskPoll.withDefaults(0, defaultTaskPoll.Initial, defaultTaskPoll.Max)
	if cfg.TicketRenewal <= 0 {
		cfg.TicketRenewal = time.Hour
	}
	if cfg.AmbiguitySettle <= 0 {
		cfg.AmbiguitySettle = 500 * time.Millisecond
	}
	return cfg
}

// newHTTPClient is the HTTP client every request to PVE goes through:
// HTTP/1.1 only (pveproxy speaks nothing else), idle connections kept for
// the workers, and redirects never followed (PVE redirects only plain http
// to https; credentials must not follow a redirect).
func newHTTPClient(tlsCfg *tls.Config, workers int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.MaxIdleConnsPerHost = workers + 2
	tr.MaxConnsPerHost = 0
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (b Backoff) withDefaults(attempts int, initial, max time.Duration) Backoff {
	if b.Attempts <= 0 {
		b.Attempts = attempts
	}
	if b.Initial <= 0 {
		b.Initial = initial
	}
	if b.Max <= 0 {
		b.Max = max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	return b
}

// delay is the n-th delay (n from 1): Initial doubling up to Max, with
// up to ±25 % jitter when jitter is set.
func (b Backoff) delay(n int, jitter bool) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if jitter && d > 0 {
		d = d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) warn(msg string) {
	c.warnings = append(c.warnings, msg)
	c.log.Warn(msg)
}

// Warnings lists what is unsafe about this client's configuration (for
// example skipped certificate verification). Commands print them on every run.
func (c *Client) Warnings() []string { return append([]string(nil), c.warnings...) }

// Close releases the client's idle connections. The client stays usable.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Endpoint is the API base URL the client talks to, ".../api2/json".
func (c *Client) Endpoint() string { return c.base.String() }

// Workers is the client-wide concurrency limit in effect.
func (c *Client) Workers() int { return c.cfg.Workers }

// trust is how a client judges the server's certificate: a pinned leaf
// fingerprint wins; else the system's CAs plus Config.CAFile must verify it
// for the endpoint's host name; with Config.Insecure (and no pin) nothing
// is checked.
type trust struct {
	pin      string // lowercase hex SHA-256, or ""
	insecure bool
	roots    *x509.CertPool
}

// newTrust reads the trust settings of cfg, with a warning for each unsafe
// or moot one. A CA file that cannot be used is a *CAFileError.
func newTrust(cfg Config) (*trust, []string, error) {
	t := &trust{}
	var warnings []string
	if cfg.Fingerprint != "" {
		p, err := normFingerprint(cfg.Fingerprint)
		if err != nil {
			return nil, nil, fmt.Errorf("TLS fingerprint: %w", err)
		}
		t.pin = p
	}
	if cfg.Insecure {
		if t.pin != "" {
			// A pin is strictly better; honour it and say the flag is moot.
			warnings = append(warnings, "PMPC_INSECURE is set but ignored because PMPC_TLS_FINGERPRINT pins the certificate; unset PMPC_INSECURE")
		} else {
			warnings = append(warnings, "PMPC_INSECURE is set: the server's TLS certificate is NOT verified, so anyone on the path can read your API token; pin the certificate with PMPC_TLS_FINGERPRINT instead")
			t.insecure = true
			return t, warnings, nil
		}
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, nil, &CAFileError{File: cfg.CAFile, Err: err}
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, &CAFileError{File: cfg.CAFile}
		}
	}
	t.roots = roots
	return t, warnings, nil
}

// verify judges the chain a server at host presented (leaf first). A
// refusal is a *CertificateError carrying the presented fingerprint.
func (t *trust) verify(host string, certs []*x509.Certificate) error {
	if t.insecure {
		return nil
	}
	if len(certs) == 0 {
		return errors.New("tls: server presented no certificate")
	}
	leaf := certs[0]
	sum := sha256.Sum256(leaf.Raw)
	fp := colonHex(sum[:])
	if t.pin != "" {
		if hex.EncodeToString(sum[:]) != t.pin {
			return &CertificateError{Host: host, Fingerprint: fp, Pinned: colonHex(mustHex(t.pin))}
		}
		return nil
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	// host, not the TLS ServerName: crypto/tls leaves that empty for an IP
	// address, which would skip the name check.
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: t.roots, Intermediates: inter}); err != nil {
		return &CertificateError{Host: host, Fingerprint: fp, Err: err}
	}
	return nil
}

// Fingerprint is the SHA-256 fingerprint of a certificate as PVE prints it
// and PMPC_TLS_FINGERPRINT takes it: uppercase hex, colon-separated.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	var s strings.Builder
	for i, x := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		fmt.Fprintf(&s, "%02X", x)
	}
	return s.String()
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// request is one API call.
type request struct {
	method  string
	path    string // below /api2/json, e.g. "/nodes/pve1/qemu/100/config"
	query   url.Values
	form    url.Values
	subject string
	// noAuth sends the request without credentials (login).
	noAuth bool
	// whole decodes the whole answer into out, not just its "data".
	whole bool
	// idempotent marks a non-GET request that is safe to resend.
	idempotent bool
}

// encodeBody encodes a write's parameters form-encoded, as PVE's own GUI
// does, unless one of them is the empty string: PVE reads a form's `key=` as
// "absent", so setting a value to "" (clearing a pool comment or a
// description) needs a JSON body, where "" is a value. JSON bodies keep the
// parameters as strings, which PVE's validator accepts for every type.
func encodeBody(form url.Values) ([]byte, bool) {
	empty := false
	for _, vs := range form {
		for _, v := range vs {
			empty = empty || v == ""
		}
	}
	if !empty {
		return []byte(form.Encode()), false
	}
	m := make(map[string]any, len(form))
	for k, vs := range form {
		if len(vs) == 1 {
			m[k] = vs[0]
		} else {
			m[k] = vs
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return []byte(form.Encode()), false
	}
	return b, true
}

// nodeOf returns the node a /nodes/{node}/... path addresses.
func nodeOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/nodes/")
	if !ok {
		return ""
	}
	n, _, _ := strings.Cut(rest, "/")
	return n
}

func (c *Client) acquire(ctx context.Context, node string) (release func(), err error) {
	var ns chan struct{}
	if node != "" && c.cfg.PerNode < c.cfg.Workers {
		c.nodeMu.Lock()
		ns = c.nodeSem[node]
		if ns == nil {
			ns = make(chan struct{}, c.cfg.PerNode)
			c.nodeSem[node] = ns
		}
		c.nodeMu.Unlock()
		select {
		case ns <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		if ns != nil {
			<-ns
		}
		return nil, ctx.Err()
	}
	return func() {
		<-c.sem
		if ns != nil {
			<-ns
		}
	}, nil
}

// attempt is the outcome of one HTTP exchange.
type attempt struct {
	status int
	reason string
	header http.Header
	body   []byte
	err    error // transport error
	sent   bool  // the whole request was written before err
}

func (c *Client) roundTrip(ctx context.Context, r *request) attempt {
	release, err := c.acquire(ctx, nodeOf(r.path))
	if err != nil {
		return attempt{err: err}
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()

	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawPath = ""
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	ctype := "application/x-www-form-urlencoded"
	if r.form != nil {
		b, isJSON := encodeBody(r.form)
		body = bytes.NewReader(b)
		if isJSON {
			ctype = "application/json"
		}
	}
	var sent bool
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		mu.Lock()
		sent = i.Err == nil
		mu.Unlock()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), r.method, u.String(), body)
	if err != nil {
		return attempt{err: err}
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	if r.form != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if !r.noAuth {
		if err := c.authorize(ctx, req); err != nil {
			return attempt{err: err}
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		return attempt{err: err, sent: sent}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return attempt{err: err, sent: true}
	}
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	return attempt{status: resp.StatusCode, reason: reason, header: resp.Header, body: b, sent: true}
}
