package plan

import (
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// How a running VM takes a drive edit (qemu-server's hot-plug): a CD-ROM's
// medium changes live on any bus and whatever hotplug says; other edits
// hot-plug on scsi and virtio when hotplug has disk, never on ide or sata.
func TestDriveEditDisruption(t *testing.T) {
	const iso, none = "local:iso/a.iso,media=cdrom", "none,media=cdrom"
	disk := "local-lvm:vm-100-disk-0,size=1G"
	tests := []struct {
		key, before, after, hotplug string
		want                        Disruption
	}{
		{"scsi4", iso, none, "network", DisruptionLive},
		{"ide2", iso, none, "", DisruptionLive},
		{"sata1", iso, none, "0", DisruptionLive},
		{"scsi1", disk, disk + ",ssd=1", "", DisruptionLive},
		{"scsi1", disk, disk + ",ssd=1", "network", DisruptionPending},
		{"virtio1", disk, "", "network,disk", DisruptionLive},
		{"sata0", disk, disk + ",ssd=1", "network,disk", DisruptionPending},
		{"ide2", iso, "", "network,disk", DisruptionPending},
		{"efidisk0", disk, "", "network,disk", DisruptionPending},
	}
	for _, tc := range tests {
		e := keyEdit{kind: resource.KindVM, key: tc.key, before: tc.before, after: tc.after, hotplugObserved: tc.hotplug}
		if got := e.disruption(); got != tc.want {
			t.Errorf("%s %q -> %q (hotplug %q): %s, want %s", tc.key, tc.before, tc.after, tc.hotplug, got, tc.want)
		}
	}
}
