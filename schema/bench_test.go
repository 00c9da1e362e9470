package schema

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchFiles is the size of the benchmark workspace: one guest per file.
const benchFiles = 10000

func benchWorkspace(b *testing.B) (string, []string) {
	b.Helper()
	dir := b.TempDir()
	names := make([]string, benchFiles)
	for i := range benchFiles {
		names[i] = fmt.Sprintf("vms/%02d/web-%05d.cue", i%100, i)
		writeBenchFile(b, dir, names[i], i, 2)
	}
	return dir, names
}

func writeBenchFile(b *testing.B, dir, name string, i, cores int) {
	b.Helper()
	src := fmt.Sprintf(`package infra

vm: "web-%05d": {
	node:   "pve%d"
	vmid:   %d
	cores:  %d
	memory: 4096
	disks: scsi0: {storage: "local-lvm", size: "32G", options: iothread: "1"}
	networks: net0: {model: "virtio", bridge: "vmbr0", firewall: true, tag: %d}
	tags: ["web", "prod"]
	state: "running"
}
`, i, i%4+1, 1000+i, cores, i%4000+1)
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLoad10k loads 10,000 definition files: cold (no cache) and warm
// with 1% of the files changed since the cache was written. With the cue
// CLI on $PATH or in $CUE_BIN it also times `cue vet` of the same files,
// reported as the metric cue-vet-s.
//
//	go test ./schema -run '^$' -bench Load10k -benchtime 3x
func BenchmarkLoad10k(b *testing.B) {
	dir, names := benchWorkspace(b)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := Load(dir, names); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm-1pct-changed", func(b *testing.B) {
		l := &Loader{Root: dir, CacheDir: filepath.Join(b.TempDir(), "cache")}
		if _, err := l.Load(names); err != nil {
			b.Fatal(err)
		}
		round := 0
		for b.Loop() {
			b.StopTimer()
			round++
			for i := 0; i < benchFiles; i += 100 {
				writeBenchFile(b, dir, names[i], i, 2+round%8)
			}
			b.StartTimer()
			if _, err := l.Load(names); err != nil {
				b.Fatal(err)
			}
			if l.Stats.Evaluated != benchFiles/100 {
				b.Fatalf("evaluated %d files, want %d", l.Stats.Evaluated, benchFiles/100)
			}
		}
	})
	b.Run("cue-vet", func(b *testing.B) {
		cue := os.Getenv("CUE_BIN")
		if cue == "" {
			var err error
			if cue, err = exec.LookPath("cue"); err != nil {
				b.Skip("cue CLI not found: install it with GOBIN=/tmp/cuebin go install cuelang.org/go/cmd/cue@v0.17.1 and set CUE_BIN=/tmp/cuebin/cue")
			}
		}
		// cue vet of the same files, the schema included, as one package.
		vet := b.TempDir()
		if err := os.WriteFile(filepath.Join(vet, "schema.cue"), append([]byte("package infra\n\n"), schemaSrc...), 0o644); err != nil {
			b.Fatal(err)
		}
		args := []string{"vet", "-c", "schema.cue"}
		for _, n := range names {
			src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
			if err != nil {
				b.Fatal(err)
			}
			flat := filepath.Base(n)
			if err := os.WriteFile(filepath.Join(vet, flat), src, 0o644); err != nil {
				b.Fatal(err)
			}
			args = append(args, flat)
		}
		for b.Loop() {
			start := time.Now()
			cmd := exec.Command(cue, args...)
			cmd.Dir = vet
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("cue vet: %v\n%s", err, out)
			}
			b.ReportMetric(time.Since(start).Seconds(), "cue-vet-s")
		}
	})
}
