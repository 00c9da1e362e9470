package proxmox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// domainsServer answers GET /access/domains and /version like a PVE node, and records
// whether any request carried credentials.
func domainsServer(t *testing.T, start func(*httptest.Server)) (*httptest.Server, func() (paths []string, withCreds bool)) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	creds := false
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "" || len(r.Cookies()) > 0 {
			creds = true
		}
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/version") {
			writeData(w, map[string]string{"version": "8.4.1"})
			return
		}
		writeData(w, []map[string]string{{"realm": "pam", "type": "pam"}})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	start(srv)
	t.Cleanup(srv.Close)
	return srv, func() ([]string, bool) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...), creds
	}
}

func writeCA(t *testing.T, certs ...*x509.Certificate) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestProbeJudgesTrustAsTheClientDoes(t *testing.T) {
	srv, seen := domainsServer(t, (*httptest.Server).StartTLS)
	fp := fingerprint(srv)
	ca := writeCA(t, srv.Certificate())
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("AB:", 31) + "AB"
	for _, tc := range []struct {
		name  string
		cfg   Config
		trust Trust
		why   func(error) bool
	}{
		{"pinned", Config{Fingerprint: strings.ToLower(fp)}, TrustPinned, nil},
		{"pin wins over insecure", Config{Fingerprint: fp, Insecure: true}, TrustPinned, nil},
		{"wrong pin", Config{Fingerprint: wrong}, Untrusted, func(err error) bool {
			var ce *CertificateError
			return errors.As(err, &ce) && ce.Pinned == wrong && ce.Fingerprint == fp
		}},
		{"self-signed, no pin", Config{}, Untrusted, func(err error) bool {
			var ce *CertificateError
			return errors.As(err, &ce) && ce.Pinned == "" && ce.Err != nil && ce.Host == "127.0.0.1"
		}},
		{"CA file", Config{CAFile: ca}, TrustVerified, nil},
		{"CA file missing", Config{CAFile: ca + ".missing"}, Untrusted, func(err error) bool {
			var ce *CAFileError
			return errors.As(err, &ce) && errors.Is(err, os.ErrNotExist)
		}},
		{"CA file without certificates", Config{CAFile: empty}, Untrusted, func(err error) bool {
			var ce *CAFileError
			return errors.As(err, &ce) && ce.Err == nil && ce.File == empty
		}},
		{"insecure", Config{Insecure: true}, TrustInsecure, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Endpoint = srv.URL
			p, err := Probe(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != http.StatusOK || p.Fingerprint != fp || p.RTT <= 0 {
				t.Errorf("probe = %+v, want status 200, fingerprint %s and a round trip", p, fp)
			}
			if p.Trust != tc.trust || p.Trusted() != (tc.trust != Untrusted) {
				t.Errorf("trust = %v (%v), want %v", p.Trust, p.Distrust, tc.trust)
			}
			if tc.why == nil && p.Distrust != nil || tc.why != nil && !tc.why(p.Distrust) {
				t.Errorf("distrust = %#v", p.Distrust)
			}
			// The client built from the same settings agrees.
			cfg.Token = testToken
			c, err := New(fast(cfg))
			if err != nil {
				var ce *CAFileError
				if tc.trust != Untrusted || !errors.As(err, &ce) {
					t.Fatalf("New: %v", err)
				}
				return
			}
			_, err = c.Version(context.Background())
			if (err == nil) != p.Trusted() {
				t.Errorf("client call: err = %v; probe said trusted = %v", err, p.Trusted())
			}
		})
	}
	// The probes carried no credentials (the client calls did).
	paths, _ := seen()
	if len(paths) == 0 || paths[0] != "GET /api2/json/access/domains" {
		t.Errorf("requests = %v", paths)
	}
}

func TestProbeSendsNoCredentials(t *testing.T) {
	srv, seen := domainsServer(t, (*httptest.Server).StartTLS)
	p, err := Probe(context.Background(), Config{Endpoint: srv.URL, Token: testToken, Username: "root@pam", Password: "secret", Fingerprint: fingerprint(srv)})
	if err != nil || !p.Trusted() {
		t.Fatalf("probe = %+v, %v", p, err)
	}
	paths, creds := seen()
	if creds || len(paths) != 1 {
		t.Errorf("probe sent credentials = %v; requests %v", creds, paths)
	}
}

func TestProbeReadsServerClockAndPlainHTTP(t *testing.T) {
	srv, _ := domainsServer(t, (*httptest.Server).Start)
	p, err := Probe(context.Background(), Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if p.Trust != TrustPlainHTTP || p.Fingerprint != "" || !p.Trusted() {
		t.Errorf("plain http probe = %+v", p)
	}
	if d := time.Since(p.ServerTime); p.ServerTime.IsZero() || d < -2*time.Second || d > 2*time.Second {
		t.Errorf("server time %v, want about now", p.ServerTime)
	}
}

func TestProbeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Probe(context.Background(), Config{Endpoint: "https://" + addr})
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("probe of a closed port: err = %v, want a *url.Error", err)
	}
	if _, err := Probe(context.Background(), Config{Endpoint: "ftp://pve1"}); err == nil {
		t.Error("probe accepted an ftp endpoint")
	}
}

// TestTLSVerifiesTheHostOfAnIPEndpoint: a certificate that a trusted CA
// signed for another name is refused at an IP address too (crypto/tls
// leaves ServerName empty for IP addresses; the check must not).
func TestTLSVerifiesTheHostOfAnIPEndpoint(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pve1.example"},
		DNSNames: []string{"pve1.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := domainsServer(t, func(s *httptest.Server) {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
		s.StartTLS()
	})
	ca := writeCA(t, cert)

	p, err := Probe(context.Background(), Config{Endpoint: srv.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	var ce *CertificateError
	if p.Trusted() || !errors.As(p.Distrust, &ce) || ce.Host != "127.0.0.1" {
		t.Errorf("probe of a certificate for another name: trust %v, %v", p.Trust, p.Distrust)
	}
	c, err := New(fast(Config{Endpoint: srv.URL, Token: testToken, CAFile: ca}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Version(context.Background()); !errors.As(err, &ce) {
		t.Errorf("client call to a certificate for another name: err = %v, want a CertificateError", err)
	}
}
