package plan

import (
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// This file decides how a running guest takes a change to one config key,
// following PVE's hot-plug rules (pve-api.md §3.6 "Processing" for QEMU,
// §3.7 "When the CT is running" for LXC).

// qemuFast are the options PVE applies at once to a running VM.
var qemuFast = map[string]bool{
	"name": true, "description": true, "tags": true, "onboot": true, "protection": true,
	"startup": true, "hookscript": true, "shares": true,
	// cloud-init keys are written at once; the guest reads them at its next boot.
	"ciuser": true, "cipassword": true, "citype": true, "cicustom": true, "ciupgrade": true,
	"sshkeys": true, "nameserver": true, "searchdomain": true,
	// applied live by qemu-server's hot-plug path.
	"balloon": true, "cpulimit": true, "cpuunits": true,
}

// lxcLive are the options PVE writes at once (or hot-plugs) on a running CT.
var lxcLive = map[string]bool{
	"description": true, "onboot": true, "startup": true, "protection": true, "hostname": true,
	"hookscript": true, "cores": true, "tags": true,
	"memory": true, "swap": true, "cpulimit": true, "cpuunits": true,
}

// slotPrefix splits "scsi12" into ("scsi", true); keys without a trailing
// number give ("", false).
func slotPrefix(key string) (string, bool) {
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	if i == len(key) || i == 0 {
		return "", false
	}
	return key[:i], true
}

// isDiskKey reports config keys that hold a disk volume.
func isDiskKey(kind resource.Kind, key string) bool {
	if kind == resource.KindContainer {
		if key == "rootfs" {
			return true
		}
		p, ok := slotPrefix(key)
		return ok && p == "mp"
	}
	if key == "efidisk0" || key == "tpmstate0" {
		return true
	}
	p, ok := slotPrefix(key)
	return ok && (p == "scsi" || p == "virtio" || p == "sata" || p == "ide")
}

// isUnusedKey reports unusedN keys: detached volumes. Deleting one frees the
// volume, so a plan never does so implicitly.
func isUnusedKey(key string) bool {
	p, ok := slotPrefix(key)
	return ok && p == "unused"
}

// isCDROM reports a drive value with media=cdrom.
func isCDROM(v string) bool {
	return strings.Contains(","+v+",", ",media=cdrom,")
}

// hotplugSet parses a QEMU hotplug value; "" is PVE's default.
func hotplugSet(v string) map[string]bool {
	switch v {
	case "", "1":
		return map[string]bool{"network": true, "disk": true, "usb": true}
	case "0":
		return map[string]bool{}
	}
	m := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		m[strings.TrimSpace(f)] = true
	}
	return m
}

// keyEdit is one key-level edit of a running guest's config.
type keyEdit struct {
	kind            resource.Kind
	key             string
	before, after   string // "" = absent
	hotplugObserved string // the running VM's hotplug value
}

// disruption returns how a running guest takes the edit: live or pending.
// (Stopped guests and replacements are decided by the caller.)
func (e keyEdit) disruption() Disruption {
	if e.kind == resource.KindContainer {
		return e.lxc()
	}
	return e.qemu()
}

func (e keyEdit) qemu() Disruption {
	key := e.key
	if qemuFast[key] {
		return DisruptionLive
	}
	if p, ok := slotPrefix(key); ok && p == "ipconfig" {
		return DisruptionLive
	}
	if key == "hotplug" {
		// qemu-server applies a hotplug change at once unless it toggles memory.
		if hotplugSet(e.before)["memory"] != hotplugSet(e.after)["memory"] {
			return DisruptionPending
		}
		return DisruptionLive
	}
	hot := hotplugSet(e.hotplugObserved)
	switch key {
	case "memory":
		if hot["memory"] {
			return DisruptionLive
		}
		return DisruptionPending
	case "vcpus":
		if hot["cpu"] {
			return DisruptionLive
		}
		return DisruptionPending
	}
	p, _ := slotPrefix(key)
	switch p {
	case "net":
		if hot["network"] {
			return DisruptionLive
		}
	case "scsi", "virtio", "ide", "sata":
		// A CD-ROM's medium changes live on any bus, whatever hotplug
		// says; other drive edits hot-plug on scsi and virtio only.
		if isCDROM(e.before) && isCDROM(e.after) {
			return DisruptionLive
		}
		if (p == "scsi" || p == "virtio") && hot["disk"] {
			return DisruptionLive
		}
	case "usb":
		if hot["usb"] {
			return DisruptionLive
		}
	}
	return DisruptionPending
}

func (e keyEdit) lxc() Disruption {
	if lxcLive[e.key] {
		return DisruptionLive
	}
	p, _ := slotPrefix(e.key)
	switch p {
	case "net":
		return DisruptionLive
	case "mp":
		// New mount points hot-plug; changing or removing one waits.
		if e.before == "" {
			return DisruptionLive
		}
	}
	return DisruptionPending
}
