package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox/sim"
)

// BenchmarkRefresh10k refreshes 10,000 guests from a fake with 5 ms of
// latency per request and 3 workers (pveproxy's count), through a client
// with its default settings (pmpc refresh's). "full" is the first refresh
// of an empty store: one listing and 10,000 config reads (a first refresh
// reads no pending values), whose ideal is (N+1) × latency / workers =
// 16.7 s. "incremental" is a refresh with nothing changed: the listing, the
// task list, pools, version and 1 % of the configs to verify them. It takes
// about 20 s; run it with
//
//	go test -run '^$' -bench Refresh10k -benchtime 1x ./snapshot/
func BenchmarkRefresh10k(b *testing.B) {
	if testing.Short() {
		b.Skip("10k guests at 5 ms take ~20 s; not with -short")
	}
	const (
		n       = 10000
		latency = 5 * time.Millisecond
		workers = 3
	)
	srv := sim.Test(b, sim.Options{Seed: sim.Large(n), Workers: workers, Latency: latency, RandSeed: 1})
	src := simSource{simClient(b, srv, srv.URL(), srv.Fingerprint())}
	ctx := context.Background()
	ideal := time.Duration(n+1) * latency / workers

	report := func(b *testing.B, reqs int64, want time.Duration) {
		per := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
		b.ReportMetric(per.Seconds(), "s/op")
		if want > 0 {
			b.ReportMetric(want.Seconds(), "ideal-s/op")
			b.ReportMetric(per.Seconds()/want.Seconds(), "x-ideal")
		}
	}

	b.Run("full", func(b *testing.B) {
		srv.ResetStats()
		for b.Loop() {
			b.StopTimer()
			st, err := OpenInMemory(Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			_, _, s, err := Refresh(ctx, src, st, RefreshOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st.Close()
			if !s.Full || s.Read != n {
				b.Fatalf("stats %+v, want all %d read", s, n)
			}
			b.StartTimer()
		}
		report(b, srv.Stats().Total, ideal)
	})

	b.Run("incremental", func(b *testing.B) {
		st := memStore(b)
		if _, _, _, err := Refresh(ctx, src, st, RefreshOptions{}); err != nil {
			b.Fatal(err)
		}
		srv.ResetStats()
		b.ResetTimer()
		for b.Loop() {
			_, _, s, err := Refresh(ctx, src, st, RefreshOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if s.Full || s.Verified != n/100 || s.Read != n/100 {
				b.Fatalf("stats %+v, want only %d verified", s, n/100)
			}
		}
		// Ideal: the listing plus the verified configs, 3 at a time.
		report(b, srv.Stats().Total, time.Duration(n/100+1)*latency/workers)
	})
}
