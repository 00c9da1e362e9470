package pveclient_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/pmpc-dev/pmpc/resource"
)

// BenchmarkTaskPoll applies 48 creates at parallelism 8 against the fake,
// with tasks of 300 ms and of 2 s, through the real client polling tasks
// with its default (cap 500 ms) and with caps of 250 ms and 1 s. It reports
// the apply's time as a ratio of the ideal schedule (48/8 × task) and the
// status polls per task. Run it with:
//
//	go test -run '^$' -bench TaskPoll -benchtime 1x ./apply/pveclient/
func BenchmarkTaskPoll(b *testing.B) {
	const n, par = 48, 8
	for _, task := range []time.Duration{300 * time.Millisecond, 2 * time.Second} {
		for _, poll := range []struct {
			name string
			max  time.Duration // 0: the client's default
		}{{"default", 0}, {"cap250ms", 250 * time.Millisecond}, {"cap1s", time.Second}} {
			b.Run(fmt.Sprintf("task%s/%s", task, poll.name), func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					s := sim.Test(b, sim.Options{Seed: sim.Empty(), TaskDuration: task})
					cfg := proxmox.Config{Endpoint: s.URL(), Token: s.Token(), Fingerprint: s.Fingerprint()}
					if poll.max > 0 {
						cfg.TaskPoll = proxmox.Backoff{Initial: 50 * time.Millisecond, Max: poll.max}
					}
					c, err := proxmox.New(cfg)
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
					s.ResetStats()
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
					polls := int64(0)
					for k, v := range s.Stats().Requests {
						if strings.HasSuffix(k, "/status") && strings.Contains(k, "/tasks/") {
							polls += v
						}
					}
					ideal := time.Duration(n/par) * task
					b.ReportMetric(float64(took)/float64(ideal), "x-ideal")
					b.ReportMetric(float64(polls)/n, "polls/task")
				}
			})
		}
	}
}
