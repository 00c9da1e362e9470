package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"pmpc": func() { os.Exit(Main()) },
	})
}

// TestScript runs the end-to-end scripts in testdata/script: the CLI's
// specification, one behaviour per script. PMPC_UPDATE=1 rewrites their
// expected output.
func TestScript(t *testing.T) {
	testscript.Run(t, scriptParams(t))
}
