package resource

import (
	"fmt"
	"strings"
)

// Kind is the kind of a resource, as written at the top level of a definition.
type Kind string

// The kinds a workspace can define.
const (
	KindVM        Kind = "vm"
	KindContainer Kind = "container"
	KindPool      Kind = "pool"
)

// Kinds lists every kind in the order resources of that kind are created.
var Kinds = []Kind{KindPool, KindVM, KindContainer}

// Valid reports whether k is a kind pmpc knows.
func (k Kind) Valid() bool {
	return k == KindVM || k == KindContainer || k == KindPool
}

// PVEType is the guest type PVE uses for this kind ("qemu" or "lxc"), or ""
// for kinds that are not guests.
func (k Kind) PVEType() string {
	switch k {
	case KindVM:
		return "qemu"
	case KindContainer:
		return "lxc"
	}
	return ""
}

// KindOfPVEType maps PVE's guest type ("qemu", "lxc") to a Kind.
func KindOfPVEType(t string) (Kind, bool) {
	switch t {
	case "qemu":
		return KindVM, true
	case "lxc":
		return KindContainer, true
	}
	return "", false
}

// Address identifies a resource in a workspace: its kind and its name (the
// key it is defined under). It prints as "vm.web-01".
type Address struct {
	Kind Kind
	Name string
}

// String returns the address as "kind.name".
func (a Address) String() string { return string(a.Kind) + "." + a.Name }

// Less orders addresses by kind, then name.
func (a Address) Less(b Address) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Name < b.Name
}

// ParseAddress parses "kind.name" as printed by Address.String.
func ParseAddress(s string) (Address, error) {
	k, name, ok := strings.Cut(s, ".")
	if !ok || name == "" || !Kind(k).Valid() {
		return Address{}, fmt.Errorf("address %q: want kind.name with kind one of vm, container, pool", s)
	}
	return Address{Kind: Kind(k), Name: name}, nil
}
