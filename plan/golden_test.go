package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update rewrites golden files: PMPC_UPDATE=1 go test ./plan/
var update = os.Getenv("PMPC_UPDATE") != ""

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with PMPC_UPDATE=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

func makePlan(t *testing.T, tc testCase) *Plan {
	t.Helper()
	opts := tc.opts
	opts.Now = fixedNow
	p, err := Make(tc.desired, tc.observed, opts)
	if err != nil {
		t.Fatalf("Make: %v", err)
	}
	return p
}

func render(t *testing.T, format string, opts ViewOptions, p *Plan) []byte {
	t.Helper()
	v, err := NewView(format, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := v.Render(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden renders every corpus plan in the three views.
func TestGolden(t *testing.T) {
	for _, tc := range corpus() {
		t.Run(tc.name, func(t *testing.T) {
			p := makePlan(t, tc)
			golden(t, tc.name+".md", render(t, "markdown", ViewOptions{}, p))
			if tc.name == "huge" {
				return // text and JSON of 2,000 creates say nothing the others don't
			}
			golden(t, tc.name+".txt", render(t, "text", ViewOptions{}, p))
			golden(t, tc.name+".json", render(t, "json", ViewOptions{}, p))
		})
	}
	t.Run("color", func(t *testing.T) {
		for _, tc := range corpus() {
			if tc.name == "update_live" {
				golden(t, "update_live.color.txt", render(t, "text", ViewOptions{Color: true}, makePlan(t, tc)))
			}
		}
	})
}
