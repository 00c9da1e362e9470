package proxmox_test

import (
	"context"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
)

// benchInventory reads n guests from a fake with 5 ms latency per request
// and 3 workers (like pveproxy), with a client of 3 workers. The ideal is
// (n+1) × 5 ms / 3: one resources call plus one config GET per guest.
func benchInventory(b *testing.B, n int) {
	srv := sim.Test(b, sim.Options{Seed: sim.Large(n), Workers: 3, Latency: 5 * time.Millisecond})
	c := connect(b, srv, func(cfg *proxmox.Config) { cfg.Workers = 3 })
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		cl, err := c.Inventory(ctx, proxmox.InventoryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(cl.Guests) != n {
			b.Fatalf("%d guests, want %d", len(cl.Guests), n)
		}
	}
	ideal := time.Duration(n+1) * 5 * time.Millisecond / 3
	b.ReportMetric(float64(ideal.Nanoseconds()), "ideal-ns/op")
	b.ReportMetric(float64(srv.Stats().Total)/float64(b.N), "requests/op")
}

func BenchmarkInventory1k(b *testing.B) { benchInventory(b, 1000) }

// BenchmarkInventory10k takes about 17 s per iteration; run it with
//
//	go test -run '^$' -bench Inventory10k -benchtime 1x ./proxmox/
func BenchmarkInventory10k(b *testing.B) {
	if testing.Short() {
		b.Skip("10k guests take ~17 s; not with -short")
	}
	benchInventory(b, 10000)
}
