package schema

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes as a definition file in each format: a
// load returns a set or *Errors, never panics.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("vm: \"web-01\": {node: \"pve1\", cores: 2}\n"), uint8(0))
	f.Add([]byte("vm:\n  web-01: {node: pve1, cores: 0}\n"), uint8(1))
	f.Add([]byte(`{"vm": {"web-01": {"node": "pve1", "disks": {"scsi0": {"size": "8G"}}}}}`), uint8(2))
	f.Add([]byte("vm: [_]: {if pool != _|_ {memory?: <8}}\nvm: x: {node: \"a\", pool: \"p\"}\n"), uint8(0))
	f.Add([]byte("- a\n---\nb: 1\n"), uint8(1))
	f.Add([]byte("vm:\n  Web_1:\n    cores: 0\n    colour: red\n    disks:\n      scsi0: {size: 10X}\n    networks:\n      net40: {model: virtio}\n      net0: {bridge: vmbr0}\n"), uint8(1))
	f.Add([]byte(`{"vm": {"0": {}}}`), uint8(0))
	f.Add([]byte("import \"strings\"\nvm: x: node: strings.ToLower(\"A\")\n"), uint8(0))
	exts := []string{".cue", ".yaml", ".json"}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte, ext uint8) {
		name := "def" + exts[int(ext)%len(exts)]
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := Load(dir, []string{name})
		var se *Errors
		switch {
		case err == nil && set == nil:
			t.Fatal("nil set without error")
		case err != nil && !errors.As(err, &se):
			t.Fatalf("error is %T, want *Errors: %v", err, err)
		case se != nil:
			for _, e := range se.List {
				if e.File != "" && e.File != name {
					t.Errorf("error in unexpected file %q: %v", e.File, e)
				}
			}
		}
	})
}
