package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path"
	"strings"
)

// kindLike are top-level keys that look like an attempt at a kind; a file
// using one is loaded (and fails with "field not allowed") rather than
// skipped, so a typo never silently drops definitions.
var kindLike = map[string]bool{
	"vms": true, "containers": true, "pools": true, "ct": true, "cts": true,
	"lxc": true, "qemu": true, "guest": true, "guests": true, "vmid": true,
}

// isForeignData reports whether a YAML or JSON file in the workspace holds
// data that is not pmpc definitions at all — an Ansible playbook, a saved
// plan, a CI file — so the loader skips it. A file is foreign when its top
// level is not a mapping, or is a mapping none of whose keys is a kind (vm,
// container, pool) or looks like one. CUE files are never foreign, and an
// empty file is not foreign (it loads as nothing).
func isForeignData(rel string, src []byte) bool {
	var keys []string
	switch strings.ToLower(path.Ext(rel)) {
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(src))
		tok, err := dec.Token()
		if err != nil {
			return false // let the loader report the syntax error
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return true
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return false
			}
			s, _ := k.(string)
			keys = append(keys, s)
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return false
			}
		}
	case ".yaml", ".yml":
		sc := bufio.NewScanner(bytes.NewReader(src))
		sc.Buffer(make([]byte, 64*1024), len(src)+1)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...") {
				continue
			}
			if line[0] == '-' {
				return true // a top-level sequence, e.g. a playbook
			}
			k, _, ok := strings.Cut(line, ":")
			if !ok {
				return false
			}
			keys = append(keys, strings.Trim(strings.TrimSpace(k), `"'`))
		}
	default:
		return false
	}
	if len(keys) == 0 {
		return false
	}
	for _, k := range keys {
		lk := strings.ToLower(k)
		if lk == "vm" || lk == "container" || lk == "pool" || kindLike[lk] {
			return false
		}
	}
	return true
}
