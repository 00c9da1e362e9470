package main

import (
	"os"
	"regexp"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The script commands of the apply scripts:
//
//	waitfile PATH          waits (up to 20 s) until PATH exists
//	waitgrep PATH REGEXP   waits (up to 20 s) until PATH has a line matching REGEXP
func init() {
	scriptCmds["waitgrep"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: waitgrep PATH REGEXP")
		}
		re, err := regexp.Compile("(?m)" + args[1])
		ts.Check(err)
		p := ts.MkAbs(args[0])
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(p); err == nil && re.Match(b) {
				return
			}
		}
		ts.Fatalf("waitgrep: no line of %s matched %q within 20s", args[0], args[1])
	}
	scriptCmds["waitfile"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: waitfile PATH")
		}
		p := ts.MkAbs(args[0])
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(p); err == nil {
				return
			}
		}
		ts.Fatalf("waitfile: %s did not appear within 20s", args[0])
	}
}
