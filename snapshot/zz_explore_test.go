package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
)

func TestZZExplore(t *testing.T) {
	const n = 1500
	for _, cw := range []int{3, 4} {
		for _, lat := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
			sw := 3
			srv := sim.Test(t, sim.Options{Seed: sim.Large(n), Workers: sw, Latency: lat, RandSeed: 1})
			c := simClient(t, srv, srv.URL(), srv.Fingerprint(), func(c *proxmox.Config) { c.Workers = cw })
			start := time.Now()
			if _, err := c.Inventory(context.Background(), proxmox.InventoryOptions{}); err != nil {
				t.Fatal(err)
			}
			el := time.Since(start)
			ideal := time.Duration(n+1)*lat/time.Duration(sw) + 1
			t.Logf("lat %v client %d server %d: %v (%.3fx), per slot %v", lat, cw, sw, el, el.Seconds()/ideal.Seconds(), el*time.Duration(sw)/time.Duration(n+3))
		}
	}
}
