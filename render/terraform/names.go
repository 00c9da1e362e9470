package terraform

import (
	"sort"
	"strconv"
	"strings"
)

// Identifier turns a definition name into a Terraform identifier: lowercase
// ASCII letters, digits and underscores, starting with a letter. Every other
// character becomes '_' and a name that does not start with a letter gets
// prefix (e.g. "vm_") in front.
func Identifier(prefix, name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = prefix + id
	}
	return id
}

// assignNames gives every name a distinct identifier, deterministically:
// names that already are their own identifier keep it; the others take
// theirs in byte order of the name, and a name whose identifier is taken
// gets the first free "_2", "_3", ... suffix.
func assignNames(prefix string, names []string) map[string]string {
	sorted := append([]string(nil), names...)
	sort.Slice(sorted, func(i, j int) bool {
		ei, ej := Identifier(prefix, sorted[i]) == sorted[i], Identifier(prefix, sorted[j]) == sorted[j]
		if ei != ej {
			return ei
		}
		return sorted[i] < sorted[j]
	})
	used := map[string]bool{}
	out := make(map[string]string, len(names))
	for _, n := range sorted {
		base := Identifier(prefix, n)
		id := base
		for i := 2; used[id]; i++ {
			id = base + "_" + strconv.Itoa(i)
		}
		used[id] = true
		out[n] = id
	}
	return out
}
