package pve

import (
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// BenchmarkImportCompileDiff measures one import -> compile -> diff pass over
// every guest of the corpus (what a plan of freshly imported guests costs).
func BenchmarkImportCompileDiff(b *testing.B) {
	gs := loadGuests(b)
	b.ReportAllocs()
	for b.Loop() {
		for i := range gs {
			g := &gs[i]
			var cfg Config
			if g.Kind == resource.KindVM {
				cfg, _ = CompileVM("x", ImportVM(g))
			} else {
				cfg, _ = CompileContainer("x", ImportContainer(g))
			}
			for k, v := range cfg {
				_ = Diff(g.Kind, k, v, g.Config[k])
			}
		}
	}
}

func BenchmarkParsePropsDrive(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, _ := ParseProps(Drive, "local-lvm:vm-120-disk-0,discard=on,iothread=1,size=32G")
		_ = p.String()
	}
}
