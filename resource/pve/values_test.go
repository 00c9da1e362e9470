package pve

import (
	"slices"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"32G", 32 << 30},
		{"512M", 512 << 20},
		{"1.5T", 3 << 39},
		{"34359738368", 34359738368},
		{"4M", 4 << 20},
		{"612812K", 612812 << 10},
		{"0.5G", 512 << 20},
		{"8GiB", 8 << 30},
		{"1536", 1536},
		{"0", 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "G", "32g", "32 G", "-1G", "1.G", ".5G", "1e3", "32GB", "iB", "5iB", "99999999999999999999", "9000000000T"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if got, err := ParseSize(bad); err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{34359738368, "32G"},
		{512 << 20, "512M"},
		{3 << 39, "1536G"},
		{1 << 40, "1T"},
		{4 << 20, "4M"},
		{3072, "3K"},
		{1536, "1536"},
		{1, "1"},
		{0, "0T"}, // as PVE prints it
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := FormatSize(tc.in); got != tc.want {
				t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
			}
			if back, err := ParseSize(tc.want); err != nil || back != tc.in {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.want, back, err, tc.in)
			}
		})
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"semicolons", "prod;web", []string{"prod", "web"}},
		{"PVE normalises case order and duplicates", "Web,prod;WEB web", []string{"prod", "web"}},
		{"empty", "", []string{}},
		{"only separators", ";; ,", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseTags(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("ParseTags(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if got, want := FormatTags([]string{"web", "Prod", "pmpc", "web"}), "pmpc;prod;web"; got != want {
		t.Errorf("FormatTags = %q, want %q", got, want)
	}
}

func TestSSHKeys(t *testing.T) {
	keys := []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx+q/7z ops@host", "ssh-rsa AAAAB3NzaC1yc2E= ci"}
	enc := EncodeSSHKeys(keys)
	want := "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIGx%2Bq%2F7z%20ops%40host%0Assh-rsa%20AAAAB3NzaC1yc2E%3D%20ci"
	if enc != want {
		t.Errorf("EncodeSSHKeys = %q, want %q", enc, want)
	}
	got, err := DecodeSSHKeys(enc)
	if err != nil || !slices.Equal(got, keys) {
		t.Errorf("DecodeSSHKeys = %q, %v; want %q", got, err, keys)
	}
	// The GUI's encoding uses lower-case hex and CRLF line ends.
	got, err = DecodeSSHKeys("ssh-ed25519%20AAAA%20a%40b%0d%0a%0d%0a")
	if err != nil || !slices.Equal(got, []string{"ssh-ed25519 AAAA a@b"}) {
		t.Errorf("DecodeSSHKeys lower-case = %q, %v", got, err)
	}
	for _, bad := range []string{"abc%2", "abc%zz", "%"} {
		if _, err := DecodeSSHKeys(bad); err == nil {
			t.Errorf("DecodeSSHKeys(%q): want an error", bad)
		}
	}
}
