package proxmox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"
)

// Trust is how a Client built from a Config treats a server's certificate.
type Trust int

const (
	// Untrusted: the client refuses the server (ProbeResult.Distrust says
	// why) and sends it nothing.
	Untrusted Trust = iota
	// TrustPinned: the certificate matches Config.Fingerprint.
	TrustPinned
	// TrustVerified: the system's CAs, plus Config.CAFile, verify the
	// certificate for the endpoint's host name.
	TrustVerified
	// TrustInsecure: nothing is checked (Config.Insecure without a pin).
	TrustInsecure
	// TrustPlainHTTP: an http:// endpoint, so there is no certificate.
	TrustPlainHTTP
)

// ProbeResult is what one unauthenticated request told about an endpoint.
type ProbeResult struct {
	// Status is the HTTP status of GET /access/domains, which every PVE
	// node answers with 200 without credentials.
	Status int
	// RTT is how long the request took, connection set-up included.
	RTT time.Duration
	// ServerTime is the server's Date header (whole seconds); zero when it
	// sent none.
	ServerTime time.Time
	// Fingerprint is the SHA-256 fingerprint of the certificate the server
	// presented (see Fingerprint); "" over plain http.
	Fingerprint string
	// Trust is how a Client built from the same Config treats the server.
	Trust Trust
	// Distrust says why, when Trust is Untrusted: a *CertificateError (not
	// verified, or not the pinned certificate), a *CAFileError, or an
	// invalid Config.Fingerprint.
	Distrust error
}

// Trusted reports whether a Client built from the same Config would send
// its credentials to the server.
func (p *ProbeResult) Trusted() bool { return p.Trust != Untrusted }

// Probe sends one unauthenticated GET /access/domains to cfg.Endpoint and
// reports what it learned: the status, the round trip, the server's clock
// and its certificate, judged exactly as a Client built from cfg judges it.
// It needs no credentials and sends none, which is why it completes the
// request even to a server the client would refuse: a caller can show the
// fingerprint to pin before any secret has left. The request is logged
// like the client's (cfg.Logger, debug) and carries cfg.UserAgent.
//
// An error means no answer: an endpoint BaseURL refuses, or the
// transport's error (a *url.Error, naming the URL).
func Probe(ctx context.Context, cfg Config) (*ProbeResult, error) {
	base, err := BaseURL(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg.withDefaults(), base: base, log: cfg.Logger, nodeSem: map[string]chan struct{}{}, sem: make(chan struct{}, 1)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var certs []*x509.Certificate
	c.http = newHTTPClient(&tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // judged below, by the client's own rules
		VerifyConnection: func(cs tls.ConnectionState) error {
			certs = cs.PeerCertificates
			return nil
		},
	}, 1)
	defer c.Close()

	r := &request{method: http.MethodGet, path: "/access/domains", noAuth: true}
	start := time.Now()
	a := c.roundTrip(ctx, r)
	rtt := time.Since(start)
	c.logCall(r, a, 1, rtt)
	if a.err != nil {
		return nil, a.err
	}
	p := &ProbeResult{Status: a.status, RTT: rtt}
	if d, err := http.ParseTime(a.header.Get("Date")); err == nil {
		p.ServerTime = d
	}
	if base.Scheme == "http" {
		p.Trust = TrustPlainHTTP
		return p, nil
	}
	if len(certs) > 0 {
		p.Fingerprint = Fingerprint(certs[0])
	}
	t, _, err := newTrust(cfg)
	switch {
	case err != nil:
		p.Distrust = err
	case t.insecure:
		p.Trust = TrustInsecure
	default:
		if err := t.verify(base.Hostname(), certs); err != nil {
			p.Distrust = err
		} else if t.pin != "" {
			p.Trust = TrustPinned
		} else {
			p.Trust = TrustVerified
		}
	}
	return p, nil
}
