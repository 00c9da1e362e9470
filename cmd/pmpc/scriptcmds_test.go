package main

import (
	"os"
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
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}
