package main

import (
	"strings"
	"testing"
)

func TestSanitizeSlug(t *testing.T) {
	for in, want := range map[string]string{
		"web-01":                 "web-01",
		"Web.Example.COM":        "web.example.com",
		"../../etc/passwd":       "etc-passwd",
		"team/a/b":               "team-a-b",
		".hidden":                "hidden",
		"a..b":                   "a.b",
		"":                       "unnamed",
		"///":                    "unnamed",
		"dns_01":                 "dns-01",
		"naïve":                  "na-ve",
		"C:\\x":                  "c--x",
		strings.Repeat("a", 300): strings.Repeat("a", 100),
	} {
		got := sanitizeSlug(in)
		if got != want {
			t.Errorf("sanitizeSlug(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsAny(got, `/\`) || strings.HasPrefix(got, ".") || got == "" {
			t.Errorf("sanitizeSlug(%q) = %q is not a safe file name", in, got)
		}
	}
}

func TestIsDNSName(t *testing.T) {
	for in, want := range map[string]bool{
		"web-01": true, "Web.example.com": true, "a": true,
		"": false, "-web": false, "web-": false, "a..b": false, "dns_01": false, "a b": false, "web/1": false,
	} {
		if got := isDNSName(in); got != want {
			t.Errorf("isDNSName(%q) = %v, want %v", in, got, want)
		}
	}
}
