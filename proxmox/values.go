package proxmox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// PVE encodes Perl scalars, so the JSON type of a value depends on how Perl
// last used it (pve-api.md §1.4): numbers may arrive as strings and the
// other way round, booleans as 0/1. The flex types below accept every
// spelling seen in practice and never fail on an unexpected one.

// flexInt is an integer sent as a number, a numeric string, a float or a
// JSON boolean. Anything else decodes as 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	*f = 0
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	switch b[0] {
	case 't':
		*f = 1
		return nil
	case 'f':
		return nil
	case '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		b = []byte(strings.TrimSpace(s))
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	if x, err := strconv.ParseFloat(string(b), 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
		*f = flexInt(x)
	}
	return nil
}

// flexFloat is a number sent as a number or a numeric string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	*f = 0
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		b = []byte(strings.TrimSpace(s))
	}
	if x, err := strconv.ParseFloat(string(b), 64); err == nil {
		*f = flexFloat(x)
	}
	return nil
}

// flexString is text that Perl may have sent as a number (a VM named "123").
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	*f = ""
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	v, err := valueString(json.RawMessage(b))
	if err != nil {
		return err
	}
	*f = flexString(v)
	return nil
}

// formatNumber prints a JSON number literal the way PVE prints the value:
// integers without decimals, other numbers like Perl's "%.15g".
func formatNumber(lit string) string {
	if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return lit
	}
	x, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return lit
	}
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'g', 15, 64)
}

// valueString turns one JSON value of a guest config into the string PVE
// prints for it: strings as they are, numbers via formatNumber, JSON
// booleans as 1/0. Other shapes (arrays, objects) keep their JSON text.
func valueString(raw json.RawMessage) (string, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "", nil
	}
	switch {
	case b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case string(b) == "true":
		return "1", nil
	case string(b) == "false":
		return "0", nil
	case string(b) == "null":
		return "", nil
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		return formatNumber(string(b)), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// decodeConfig converts a guest config object into flat strings. The digest
// is returned apart; null values are dropped; LXC's raw "lxc" pairs
// ([["lxc.x","v"],...]) become "key: value" lines under the key "lxc".
func decodeConfig(raw map[string]json.RawMessage) (cfg map[string]string, digest string, err error) {
	cfg = make(map[string]string, len(raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		if string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		s, err := configValue(k, v)
		if err != nil {
			return nil, "", fmt.Errorf("key %s: %w", k, err)
		}
		if k == "digest" {
			digest = s
			continue
		}
		cfg[k] = s
	}
	return cfg, digest, nil
}

// configValue prints the value of config key as GuestConfig returns it.
func configValue(key string, v json.RawMessage) (string, error) {
	if key == "lxc" {
		return lxcLines(v)
	}
	return valueString(v)
}

func lxcLines(v json.RawMessage) (string, error) {
	var pairs [][]json.RawMessage
	if err := json.Unmarshal(v, &pairs); err != nil {
		// Not the documented shape; keep whatever it is as text.
		return valueString(v)
	}
	lines := make([]string, 0, len(pairs))
	for _, p := range pairs {
		if len(p) != 2 {
			return "", fmt.Errorf("want [key, value] pairs, got %d elements", len(p))
		}
		k, err := valueString(p[0])
		if err != nil {
			return "", err
		}
		val, err := valueString(p[1])
		if err != nil {
			return "", err
		}
		lines = append(lines, k+": "+val)
	}
	return strings.Join(lines, "\n"), nil
}
