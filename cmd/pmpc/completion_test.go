package main

import (
	"strings"
	"testing"
)

// TestCompletion checks that cobra's completion command is wired up: users
// source its output from their shell profile.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "bash completion V2 for pmpc",
		"zsh":        "#compdef pmpc",
		"fish":       "complete -c pmpc",
		"powershell": "Register-ArgumentCompleter",
	} {
		code, out, errs := runPmpc(t, "completion", shell)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("pmpc completion %s: exit %d, stdout lacks %q (stderr %q)", shell, code, want, errs)
		}
	}
	// Completing subcommands goes through cobra's hidden __complete command.
	code, out, _ := runPmpc(t, "__complete", "doc")
	if code != exitOK || !strings.Contains(out, "doctor") {
		t.Errorf("__complete doc: exit %d, stdout %q", code, out)
	}
}
