package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestWorkersAndLatency: with 2 workers and latency L, 10 parallel
// requests are served in 5 rounds. The bounds are loose on purpose: they
// check the queueing, not the machine's speed.
func TestWorkersAndLatency(t *testing.T) {
	const L = 60 * time.Millisecond
	s := Test(t, Options{Workers: 2, Latency: L})
	c := s.HTTPClient()
	// Warm up 10 connections so that TLS handshakes are not measured.
	var wg sync.WaitGroup
	run := func() time.Duration {
		start := time.Now()
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", s.URL()+"/api2/json/version", nil)
				req.Header.Set("Authorization", "PVEAPIToken="+s.Token())
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %s", resp.Status)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 10
	run()
	d := run()
	t.Logf("10 requests, 2 workers, latency %v: %v (%.1f L)", L, d, float64(d)/float64(L))
	if d < 4*L || d > 7*L {
		t.Errorf("10 requests took %v = %.1f L, want about 5 L (between 4 and 7)", d, float64(d)/float64(L))
	}
}

// TestFaultRate: about FaultRate of requests fail, in the three documented
// ways, deterministically for a seed.
func TestFaultRate(t *testing.T) {
	count := func(seed uint64) (map[string]int, int) {
		s := Test(t, Options{FaultRate: 0.3, RandSeed: seed})
		pool := x509.NewCertPool()
		pool.AddCert(s.Certificate())
		// No keep-alive: a dropped connection must not be retried by the
		// transport on a reused connection.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}}
		kinds := map[string]int{}
		const n = 200
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest("GET", s.URL()+"/api2/json/version", nil)
			req.Header.Set("Authorization", "PVEAPIToken="+s.Token())
			resp, err := c.Do(req)
			if err != nil {
				kinds["dropped"]++
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			kinds[resp.Status]++
		}
		return kinds, n
	}
	kinds, n := count(7)
	failed := n - kinds["200 OK"]
	t.Logf("fault rate 0.3 over %d requests: %v", n, kinds)
	if share := float64(failed) / float64(n); share < 0.2 || share > 0.4 {
		t.Errorf("failed share %.2f, want about 0.3", share)
	}
	for _, k := range []string{"500 can't lock file '/var/lock/qemu-server/lock-0.conf' - got timeout", "503 Service Unavailable", "dropped"} {
		if kinds[k] == 0 {
			t.Errorf("no %q among the faults", k)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("unexpected outcomes: %v", kinds)
	}
	again, _ := count(7)
	if again["200 OK"] != kinds["200 OK"] || again["dropped"] != kinds["dropped"] {
		t.Errorf("same seed, different faults: %v vs %v", kinds, again)
	}
}

// TestTaskFaultRate: about FaultRate of tasks fail with the documented text.
func TestTaskFaultRate(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), FaultRate: 0.3, RandSeed: 3})
	c := s.HTTPClient()
	c.Transport.(*http.Transport).DisableKeepAlives = true
	// try calls the API and gives up quietly on an injected fault.
	try := func(method, path string) map[string]any {
		req, _ := http.NewRequest(method, s.URL()+"/api2/json"+path, nil)
		req.Header.Set("Authorization", "PVEAPIToken="+s.Token())
		resp, err := c.Do(req)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var body map[string]any
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
			return nil
		}
		return body
	}
	failed, total := 0, 0
	for total < 100 {
		r := try("POST", "/nodes/pve3/qemu/110/status/stop")
		if r == nil {
			continue
		}
		upid := r["data"].(string)
		for {
			r := try("GET", "/nodes/pve3/tasks/"+upid+"/status")
			if r == nil {
				continue
			}
			m := r["data"].(map[string]any)
			if m["status"] == "stopped" {
				total++
				if m["exitstatus"] != "OK" {
					failed++
					if m["exitstatus"] != "simulated task failure (fault injection)" {
						t.Fatalf("exitstatus %v", m["exitstatus"])
					}
				}
				break
			}
		}
	}
	if share := float64(failed) / float64(total); share < 0.15 || share > 0.45 {
		t.Errorf("failed task share %.2f, want about 0.3", share)
	}
}

// TestLargePreset serves 10,000 guests from one /cluster/resources call.
func TestLargePreset(t *testing.T) {
	start := time.Now()
	s := Test(t, Options{Seed: Large(10000)})
	startup := time.Since(start)
	a := newAPI(t, s)
	start = time.Now()
	list := ok(t, a.get("/cluster/resources", form("type", "vm"))).dataList(t)
	call := time.Since(start)
	if len(list) != 10000 {
		t.Fatalf("resources: %d guests, want 10000", len(list))
	}
	seen := map[float64]bool{}
	types := map[any]int{}
	for _, e := range list {
		m := e.(map[string]any)
		seen[m["vmid"].(float64)] = true
		types[m["type"]]++
	}
	if len(seen) != 10000 || types["qemu"] == 0 || types["lxc"] == 0 {
		t.Errorf("unique vmids %d, types %v", len(seen), types)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("large preset: startup %v, one resources call %v, heap in use %d MiB", startup, call, ms.HeapInuse>>20)
}

func BenchmarkLargeStartupAndResources(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(itoa(n), func(b *testing.B) {
			seed := Large(n)
			var ms runtime.MemStats
			for i := 0; i < b.N; i++ {
				s, err := New(Options{Seed: seed})
				if err != nil {
					b.Fatal(err)
				}
				req, _ := http.NewRequest("GET", s.URL()+"/api2/json/cluster/resources?type=vm", nil)
				req.Header.Set("Authorization", "PVEAPIToken="+s.Token())
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := s.HTTPClient().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				nb, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(errors.New(resp.Status))
				}
				if i == 0 {
					runtime.ReadMemStats(&ms)
					b.ReportMetric(float64(ms.HeapInuse>>20), "heapMiB")
					b.ReportMetric(float64(nb>>10), "gzipKiB")
				}
				s.Close()
			}
		})
	}
}
