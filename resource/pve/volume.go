package pve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	// reAlloc is PVE's allocation syntax: "STORAGE:SIZE_GiB" or a bare size.
	reAlloc = regexp.MustCompile(`^(?:([^/:\s]+):)?(\d+(?:\.\d+)?)$`)
	// reCloudInitAlloc asks PVE for a cloud-init drive on a storage.
	reCloudInitAlloc = regexp.MustCompile(`^([^/:\s]+):cloudinit$`)
	// reCloudInitVol is an allocated cloud-init volume.
	reCloudInitVol = regexp.MustCompile(`^[^/:\s]+:(?:\d+/)?vm-\d+-cloudinit(?:\.(?:raw|qcow2|vmdk))?$`)
	// reOwnVol is a guest image volume: optionally "<vmid>/" (directory
	// storages), optionally a linked clone's base image prefix, then
	// "{vm,base,subvol,basevol}-<vmid>-disk-<n>" with an optional extension.
	reOwnVol = regexp.MustCompile(`^[^/:\s]+:(?:(\d+)/)?((?:base|basevol)-\d+-disk-\d+(?:\.(?:raw|qcow2|vmdk|subvol))?/(?:(\d+)/)?)?(?:vm|base|subvol|basevol)-(\d+)-disk-\d+(?:\.(?:raw|qcow2|vmdk|subvol))?$`)
)

// parseAlloc reports whether v is in allocation syntax and returns the
// storage ("" for a bare size) and the size in bytes.
func parseAlloc(v string) (storage string, bytes int64, ok bool) {
	m := reAlloc.FindStringSubmatch(v)
	if m == nil {
		return "", 0, false
	}
	gib, err := strconv.ParseFloat(m[2], 64)
	if err != nil || gib > float64(1<<33) {
		return "", 0, false
	}
	return m[1], int64(gib * (1 << 30)), true
}

// allocValue writes "storage:GiB" for a size such as "32G" or "512M".
func allocValue(storage, size string) (string, error) {
	b, err := ParseSize(size)
	if err != nil {
		return "", err
	}
	if b <= 0 {
		return "", fmt.Errorf("size %q: must be more than 0", size)
	}
	return storage + ":" + strconv.FormatFloat(float64(b)/(1<<30), 'f', -1, 64), nil
}

// volumeStorage returns the storage of a volid ("local-lvm:vm-1-disk-0" ->
// "local-lvm"), or "" for paths and "none".
func volumeStorage(v string) string {
	if strings.HasPrefix(v, "/") {
		return ""
	}
	s, _, ok := strings.Cut(v, ":")
	if !ok {
		return ""
	}
	return s
}

// ownVolume reports whether v is an image of guest vmid itself (so import
// describes it as storage + size rather than by volume name).
func ownVolume(vmid int, v string) bool {
	m := reOwnVol.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	id := strconv.Itoa(vmid)
	if m[4] != id {
		return false
	}
	if m[2] != "" {
		// A linked clone: "<base vmid>/base-...qcow2/<vmid>/vm-<vmid>-...".
		return m[3] == "" || m[3] == id
	}
	return m[1] == "" || m[1] == id
}

// volumeFormat guesses an allocated volume's format from its extension.
func volumeFormat(v string) string {
	for _, f := range []string{"qcow2", "raw", "vmdk"} {
		if strings.HasSuffix(v, "."+f) {
			return f
		}
	}
	return ""
}
