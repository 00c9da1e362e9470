package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptParams returns the testscript parameters shared by every script:
// a clean HOME, no colour, and the custom commands scripts use to start the
// fake cluster.
func scriptParams(t *testing.T) testscript.Params {
	return testscript.Params{
		Dir:                 "../../testdata/script",
		UpdateScripts:       os.Getenv("PMPC_UPDATE") != "",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("NO_COLOR", "1")
			e.Setenv("GIT_AUTHOR_NAME", "Test Admin")
			e.Setenv("GIT_AUTHOR_EMAIL", "admin@example.com")
			return nil
		},
		Cmds: scriptCmds,
	}
}

// scriptCmds are the custom script commands; files that add fakes register
// theirs in init functions.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"replace": cmdReplace,
}

// cmdReplace edits a file the way a user would: replace OLD NEW FILE
// replaces the one occurrence of OLD with NEW, failing when OLD is absent or
// appears more than once.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace OLD NEW FILE")
	}
	file := ts.MkAbs(args[2])
	src := ts.ReadFile(args[2])
	if n := strings.Count(src, args[0]); n != 1 {
		ts.Fatalf("replace: %q occurs %d times in %s, want exactly once", args[0], n, args[2])
	}
	ts.Check(os.WriteFile(file, []byte(strings.Replace(src, args[0], args[1], 1)), 0o644))
}
