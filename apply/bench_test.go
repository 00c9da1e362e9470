package apply_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// BenchmarkCreate200 applies 200 creates whose tasks take 2 s each at
// parallelism 8 against the fake, through the real client with its default
// task polling (50 ms doubling to 500 ms), as pmpc apply uses it. The ideal
// schedule is 200/8 × 2 s = 50 s; the benchmark reports the ratio to it. Run
// it with:
//
//	go test -run '^$' -bench Create200 -benchtime 1x ./apply/
func BenchmarkCreate200(b *testing.B) {
	const n, par, task = 200, 8, 2 * time.Second
	for range b.N {
		b.StopTimer()
		s := sim.Test(b, sim.Options{Seed: sim.Empty(), TaskDuration: task})
		c, err := proxmox.New(proxmox.Config{Endpoint: s.URL(), Token: s.Token(), Fingerprint: s.Fingerprint()})
		if err != nil {
			b.Fatal(err)
		}
		p := &plan.Plan{}
		for i := range n {
			name := fmt.Sprintf("bench-%03d", i)
			p.Changes = append(p.Changes, plan.Change{
				Address: resource.Address{Kind: resource.KindVM, Name: name}, Action: plan.ActionCreate, Node: "pve1",
				Ops: []plan.Op{{Kind: plan.OpCreate, Params: map[string]string{"name": name, "cores": "1", "memory": "512", "tags": "pmpc"}}},
			})
		}
		b.StartTimer()
		start := time.Now()
		rec, err := apply.Run(context.Background(), p, apply.Options{Client: pveclient.New(c), Parallelism: par})
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if rec.Summary.Applied != n {
			b.Fatalf("applied %d of %d: %s", rec.Summary.Applied, n, rec.Line())
		}
		ideal := time.Duration(n/par) * task
		b.ReportMetric(took.Seconds(), "s/apply")
		b.ReportMetric(float64(took)/float64(ideal), "x-ideal")
	}
}
