package proxmox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseUPID(t *testing.T) {
	tests := []struct {
		in   string
		want UPID
	}{
		{"UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmcreate:120:root@pam!gitops:",
			UPID{Node: "pve1", PID: 0x3A1F2, PStart: 0x0B5C3D4E, StartTime: 0x66F1A2B3, Type: "qmcreate", ID: "120", User: "root@pam!gitops"}},
		// pstart with 9 digits on long-running hosts; empty id.
		{"UPID:node-2:00000001:1B5C3D4E0:66F1A2B3:aptupdate::root@pam:",
			UPID{Node: "node-2", PID: 1, PStart: 0x1B5C3D4E0, StartTime: 0x66F1A2B3, Type: "aptupdate", User: "root@pam"}},
	}
	for _, tt := range tests {
		got, err := ParseUPID(tt.in)
		if err != nil {
			t.Fatalf("ParseUPID(%q): %v", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("ParseUPID(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.in {
			t.Errorf("String() = %q, want %q", s, tt.in)
		}
	}
	// Lowercase hex is accepted and printed uppercase.
	u, err := ParseUPID("UPID:pve1:0003a1f2:0b5c3d4e:66f1a2b3:qmstart:100:root@pam:")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmstart:100:root@pam:"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, bad := range []string{
		"",
		"UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmcreate:120:root@pam",  // no trailing colon (7 fields after split)
		"UPID:pve1:3A1F2:0B5C3D4E:66F1A2B3:qmcreate:120:root@pam:",    // pid not 8 digits
		"UPID:-pve:0003A1F2:0B5C3D4E:66F1A2B3:qmcreate:120:root@pam:", // node starts with '-'
		"UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3::120:root@pam:",         // empty type
		"UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmcreate:120::",         // empty user
		"UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qm create:120:root@pam:",
		"upid:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmcreate:120:root@pam:",
	} {
		if _, err := ParseUPID(bad); err == nil {
			t.Errorf("ParseUPID(%q) succeeded, want error", bad)
		}
	}
}

func TestUPIDText(t *testing.T) {
	var u UPID
	if err := u.UnmarshalText([]byte("UPID:pve1:0003A1F2:0B5C3D4E:66F1A2B3:qmstart:100:root@pam:")); err != nil {
		t.Fatal(err)
	}
	if u.Type != "qmstart" || u.ID != "100" {
		t.Errorf("got %+v", u)
	}
	if (UPID{}).String() != "" || !(UPID{}).IsZero() {
		t.Error("zero UPID should print empty and be zero")
	}
}

func FuzzParseUPID(f *testing.F) {
	// The seed corpus under testdata/fuzz/FuzzParseUPID holds the UPIDs of
	// pve-api.md; a few more shapes here.
	f.Add("UPID:pve1:00000000:00000000:00000000:x::u:")
	f.Add("UPID:a:FFFFFFFF:FFFFFFFFF:FFFFFFFF:t:i:u:")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUPID(s)
		if err != nil {
			return
		}
		again, err := ParseUPID(u.String())
		if err != nil {
			t.Fatalf("ParseUPID(%q) ok, but its String %q does not parse: %v", s, u.String(), err)
		}
		if again != u {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, u)
		}
		if again.String() != u.String() {
			t.Fatalf("String not stable: %q then %q", u.String(), again.String())
		}
		// Case aside, printing changes only zero padding of a 9-digit pstart.
		if len(u.String()) == len(s) && !strings.EqualFold(u.String(), s) {
			t.Fatalf("ParseUPID(%q).String() = %q", s, u.String())
		}
	})
}

func TestFuzzCorpusPresent(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseUPID", "*"))
	if len(files) < 3 {
		t.Fatalf("seed corpus has %d files, want the UPIDs of pve-api.md", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "go test fuzz v1\n") {
			t.Errorf("%s: not a go fuzz corpus file", f)
		}
	}
}
