package plan

import (
	"fmt"
	"io"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// fleet returns n VM definitions and a cluster that matches them, with every
// changedEvery-th guest's cores edited live (0: none).
func fleet(n, changedEvery int) (*resource.Set, *resource.Cluster) {
	s := resource.NewSet()
	c := &resource.Cluster{Guests: make([]resource.Guest, 0, n)}
	for i := range n {
		name := fmt.Sprintf("web-%05d", i)
		vm := webVM()
		vm.Description = ptr("fleet guest\nrole: web\n")
		s.VMs[name] = vm
		cfg := webCfg()
		vmid := 1000 + i
		cfg["scsi0"] = fmt.Sprintf("local-lvm:vm-%d-disk-0,iothread=1,size=32G", vmid)
		cfg["net0"] = fmt.Sprintf("virtio=BC:24:11:%02X:%02X:%02X,bridge=vmbr0,firewall=1", i>>16&0xff, i>>8&0xff, i&0xff)
		cfg["description"] = "fleet guest\nrole: web\n"
		if changedEvery > 0 && i%changedEvery == 0 {
			cfg["cores"] = "8"
		}
		c.Guests = append(c.Guests, guest(resource.KindVM, vmid, name, "running", "pmpc;prod;web", cfg))
	}
	return s, c
}

// BenchmarkMake10k plans 10,000 guests: go test -bench Make10k -benchmem ./plan/
func BenchmarkMake10k(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every int
	}{{"equal", 0}, {"1pct-changed", 100}} {
		s, c := fleet(10000, bc.every)
		b.Run(bc.name, func(b *testing.B) {
			var p *Plan
			for b.Loop() {
				var err error
				if p, err = Make(s, c, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			want := 0
			if bc.every > 0 {
				want = 10000 / bc.every
			}
			if len(p.Changes) != want {
				b.Fatalf("%d changes, want %d", len(p.Changes), want)
			}
		})
	}
}

// BenchmarkRender10k renders the 1%-changed plan of 10,000 guests.
func BenchmarkRender10k(b *testing.B) {
	s, c := fleet(10000, 100)
	p, err := Make(s, c, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range Formats {
		v, _ := NewView(f, ViewOptions{})
		b.Run(f, func(b *testing.B) {
			for b.Loop() {
				if err := v.Render(io.Discard, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
