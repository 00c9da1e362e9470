package pve

import (
	"slices"
	"strings"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// numFormats is one more than the last Format.
const numFormats = uint8(CICustom) + 1

func FuzzParseProps(f *testing.F) {
	for _, tc := range pveStrings {
		f.Add(uint8(tc.format), tc.s)
	}
	f.Fuzz(func(t *testing.T, fm uint8, s string) {
		format := Format(fm % numFormats)
		p, err := ParseProps(format, s)
		if err != nil {
			return
		}
		out := p.String()
		q, err := ParseProps(format, out)
		if err != nil {
			t.Fatalf("%v %q printed as %q, which does not parse: %v", format, s, out, err)
		}
		if !q.Equal(p) {
			t.Fatalf("%v %q printed as %q, which parses to %v, not %v", format, s, out, q.Map(), p.Map())
		}
		if again := q.String(); again != out {
			t.Fatalf("%v %q: printing is not stable: %q then %q", format, s, out, again)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"32G", "512M", "1.5T", "34359738368", "4M", "612812K", "8GiB", "0.5G", "1536", "0T", "1.G", "9000000000T"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseSize(%q) = %d < 0", s, b)
		}
		out := FormatSize(b)
		if back, err := ParseSize(out); err != nil || back != b {
			t.Fatalf("ParseSize(%q) = %d prints %q, which parses to %d, %v", s, b, out, back, err)
		}
	})
}

func FuzzSSHKeys(f *testing.F) {
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx+q/7z ops@host\nssh-rsa AAAAB3NzaC1yc2E= ci")
	f.Add("ssh-ed25519%20AAAA...%20ops%40host")
	f.Add("ssh-ed25519 AAAA%20 x\r\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		// Any key lines survive encoding and decoding.
		var keys []string
		for line := range strings.SplitSeq(s, "\n") {
			if strings.TrimSpace(line) != "" && !strings.HasSuffix(line, "\r") {
				keys = append(keys, line)
			}
		}
		got, err := DecodeSSHKeys(EncodeSSHKeys(keys))
		if err != nil || !slices.Equal(got, keys) {
			t.Fatalf("keys %q came back as %q, %v", keys, got, err)
		}
		// Decoding arbitrary text never panics, and what it decodes
		// re-encodes to the same keys.
		if dec, err := DecodeSSHKeys(s); err == nil {
			again, err := DecodeSSHKeys(EncodeSSHKeys(dec))
			if err != nil || !slices.Equal(again, dec) {
				t.Fatalf("%q decoded to %q, then %q, %v", s, dec, again, err)
			}
		}
	})
}

var fuzzKeys = map[resource.Kind][]string{
	resource.KindVM: {"name", "tags", "memory", "cores", "onboot", "net0", "scsi0", "ide2", "efidisk0", "tpmstate0",
		"agent", "boot", "startup", "ipconfig0", "sshkeys", "cicustom", "hostpci0", "unused0", "cipassword", "description"},
	resource.KindContainer: {"hostname", "tags", "memory", "cpulimit", "rootfs", "mp0", "net0", "features", "startup",
		"unprivileged", "lxc", "unused0", "dev0"},
}

// FuzzImportRoundTrip: whatever value PVE holds at a key, importing it and
// compiling the import never panics, never fails, and Diff finds the
// compiled value equal to it.
func FuzzImportRoundTrip(f *testing.F) {
	for _, g := range []struct {
		ct  bool
		key int
		v   string
	}{
		{false, 5, "virtio=BC:24:11:5E:0A:7C,bridge=vmbr0,firewall=1"},
		{false, 6, "local-lvm:vm-100-disk-0,discard=on,iothread=1,size=32G"},
		{false, 7, "local-lvm:vm-100-cloudinit,media=cdrom"},
		{false, 2, "current=4096"},
		{false, 14, "ssh-ed25519%20AAAA%20a%40b"},
		{true, 4, "local-lvm:vm-100-disk-0,size=8G"},
		{true, 5, "local-lvm:vm-100-disk-1,mp=/srv,backup=1,size=32G"},
		{true, 6, "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:12:34:56,ip=dhcp,type=veth"},
		{true, 7, "nesting=1,mount=nfs;cifs"},
	} {
		f.Add(g.ct, uint8(g.key), g.v)
	}
	f.Fuzz(func(t *testing.T, isCT bool, ki uint8, v string) {
		kind := resource.KindVM
		if isCT {
			kind = resource.KindContainer
		}
		keys := fuzzKeys[kind]
		key := keys[int(ki)%len(keys)]
		if v == "" || Sensitive(kind, key) {
			return
		}
		g := &resource.Guest{Kind: kind, VMID: 100, Node: "pve1", Config: map[string]string{key: v}}
		var cfg Config
		var err error
		if kind == resource.KindVM {
			g.Config["name"] = cmpOr(g.Config["name"], "n")
			cfg, err = CompileVM("n", ImportVM(g))
		} else {
			g.Config["hostname"] = cmpOr(g.Config["hostname"], "n")
			cfg, err = CompileContainer("n", ImportContainer(g))
		}
		if err != nil {
			t.Fatalf("%s=%q: compile of import: %v", key, v, err)
		}
		if d := Diff(kind, key, cfg[key], v); d != nil {
			t.Fatalf("%s=%q compiled as %q: %+v", key, v, cfg[key], d)
		}
		if d := Diff(kind, key, v, v); d != nil {
			t.Fatalf("%s=%q differs from itself: %+v", key, v, d)
		}
		_ = UpdateValue(kind, key, cfg[key], v)
		_, _, _ = DiskSizeChange(kind, key, cfg[key], v)
	})
}
