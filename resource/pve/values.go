package pve

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParseSize parses a PVE disk size: a decimal number with an optional K, M,
// G or T suffix (binary units) and an optional "iB", e.g. "32G", "512M",
// "1.5T", "34359738368" (bytes). Fractions of a byte are dropped, as PVE does.
func ParseSize(s string) (int64, error) {
	num := strings.TrimSuffix(s, "iB")
	unit := int64(1)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K':
			unit = 1 << 10
		case 'M':
			unit = 1 << 20
		case 'G':
			unit = 1 << 30
		case 'T':
			unit = 1 << 40
		}
		if unit != 1 {
			num = num[:n-1]
		} else if num != s {
			// "iB" needs a unit letter before it.
			return 0, fmt.Errorf("size %q: want a number with an optional K, M, G or T suffix", s)
		}
	}
	whole, frac, hasDot := strings.Cut(num, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("size %q: want a number with an optional K, M, G or T suffix", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/unit {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	total := w * unit
	if hasDot {
		// Exact for the fraction's first digits; PVE truncates to whole bytes.
		f, err := strconv.ParseFloat("0."+frac, 64)
		if err != nil {
			return 0, fmt.Errorf("size %q: %w", s, err)
		}
		add := int64(f * float64(unit))
		if total > math.MaxInt64-add {
			return 0, fmt.Errorf("size %q: too large", s)
		}
		total += add
	}
	return total, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FormatSize prints a byte count as PVE does: in the largest of K, M, G, T
// that divides it exactly, else as plain bytes (34359738368 -> "32G",
// 3072 -> "3K", 1536 -> "1536"). Like PVE, 0 prints "0T".
func FormatSize(b int64) string {
	if b%1024 != 0 {
		return strconv.FormatInt(b, 10)
	}
	units := []string{"K", "M", "G", "T"}
	v := b / 1024
	for i, u := range units {
		if i == len(units)-1 || v%1024 != 0 {
			return strconv.FormatInt(v, 10) + u
		}
		v /= 1024
	}
	return strconv.FormatInt(v, 10) + "T"
}

// ParseTags splits a PVE tag list (separated by ';', ',' or spaces) and
// normalises it as PVE does on update: lower-cased, de-duplicated, sorted.
func ParseTags(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n'
	})
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		out = append(out, strings.ToLower(f))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FormatTags normalises tags (lower case, de-duplicated, sorted) and joins
// them with ';' as PVE stores them.
func FormatTags(tags []string) string {
	return strings.Join(ParseTags(strings.Join(tags, ";")), ";")
}

const hexDigits = "0123456789ABCDEF"

func urlSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-_.!~*'()", c) >= 0
}

// EncodeSSHKeys joins OpenSSH public key lines with newlines and URL-encodes
// them as PVE's sshkeys wants: only [-a-zA-Z0-9_.!~*'()] stay as they are,
// everything else (space, newline, '+', '/', '=', '@', '%') becomes %XX.
func EncodeSSHKeys(keys []string) string {
	s := strings.Join(keys, "\n")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// DecodeSSHKeys decodes PVE's URL-encoded sshkeys into key lines, dropping
// blank lines and trailing carriage returns. '+' stays '+' (PVE's encoding
// never produces it for a space). A malformed %-escape is an error.
func DecodeSSHKeys(s string) ([]string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return nil, fmt.Errorf("sshkeys: truncated escape at offset %d", i)
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return nil, fmt.Errorf("sshkeys: bad escape %q at offset %d", s[i:i+3], i)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	var keys []string
	for line := range strings.SplitSeq(b.String(), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		keys = append(keys, line)
	}
	return keys, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
