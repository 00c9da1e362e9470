package main

import (
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pmpc-dev/pmpc/snapshot"
)

// snapshotlock DIR opens the snapshot store in DIR in the test process and
// holds it (and its lock) until the script ends, like a concurrent pmpc.
func init() {
	scriptCmds["snapshotlock"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: snapshotlock DIR")
		}
		s, err := snapshot.Open(ts.MkAbs(args[0]), snapshot.Options{})
		ts.Check(err)
		ts.Defer(func() { s.Close() })
	}
}
