package pve

import (
	"strconv"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// scalarType is the value type of a scalar (non property-string) key.
func scalarType(kind resource.Kind, key string) keyType {
	switch kind {
	case resource.KindVM:
		switch key {
		case "template", "protection", "onboot", "numa", "acpi", "kvm", "tablet", "localtime",
			"freeze", "reboot", "ciupgrade", "autostart", "keephugepages":
			return tBool
		case "cores", "sockets", "vcpus", "balloon", "shares", "cpuunits", "migrate_speed":
			return tInt
		case "cpulimit", "migrate_downtime":
			return tNumber
		}
	case resource.KindContainer:
		switch key {
		case "template", "protection", "onboot", "unprivileged", "console", "debug":
			return tBool
		case "cores", "cpuunits", "memory", "swap", "tty":
			return tInt
		case "cpulimit":
			return tNumber
		}
	}
	return tString
}

func ignored(kind resource.Kind, key string) bool {
	switch key {
	case "digest", "lock", "parent", "snaptime", "pending":
		return true
	}
	if kind == resource.KindVM {
		switch key {
		case "vmgenid", "meta", "smbios1", "runningmachine", "runningcpu", "vmstate":
			return true
		}
	}
	return false
}

func defaultedByPVE(kind resource.Kind, key string) bool {
	switch kind {
	case resource.KindVM:
		// boot is added at create; machine is pinned for Windows guests.
		return key == "boot" || key == "machine"
	case resource.KindContainer:
		switch key {
		case "arch", "ostype", "hostname", "rootfs":
			return true
		}
	}
	return false
}

func createOnly(kind resource.Kind, key string) bool {
	if kind == resource.KindContainer {
		switch key {
		case "unprivileged", "ostemplate":
			return true
		}
	}
	return false
}

// numEqual compares two decimal numbers ("2" and "2.0" are equal).
func numEqual(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	return err1 == nil && err2 == nil && x == y
}

// boolEqual compares two PVE booleans; values that are not booleans
// compare as strings.
func boolEqual(a, b string) bool {
	x, ok1 := ParseBool(a)
	y, ok2 := ParseBool(b)
	if ok1 && ok2 {
		return x == y
	}
	return a == b
}

func valueEqual(t keyType, a, b string) bool {
	switch t {
	case tBool:
		return boolEqual(a, b)
	case tInt, tNumber:
		return numEqual(a, b)
	case tSize:
		x, err1 := ParseSize(a)
		y, err2 := ParseSize(b)
		if err1 == nil && err2 == nil {
			return x == y
		}
	}
	return a == b
}
