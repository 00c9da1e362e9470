package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/rogpeppe/go-internal/testscript"
)

// The script commands that run the fake PVE in the test process:
//
//	sim [-preset NAME] [-guests N] [-seed FILE] [-latency D] [-task-duration D] [-workers N] [-fault-rate F]
//	    starts the fake and sets PMPC_ENDPOINT, PMPC_TOKEN, PMPC_TLS_FINGERPRINT and SIM_URL
//	simedit VMID KEY VALUE   edits a guest's config out of band ("" deletes the key)
//	simfail TYPE [LOG...] MESSAGE
//	                         makes the next task of TYPE (qmstart, ...) fail with MESSAGE,
//	                         after logging the LOG lines as its output
//	simstats                 prints GET /_sim/stats as JSON on stdout
//	simport VAR              sets VAR to a free TCP port on 127.0.0.1
//	simwait ADDR             waits (up to 20 s) until ADDR accepts TCP connections
func init() {
	scriptCmds["sim"] = cmdSim
	scriptCmds["simedit"] = cmdSimEdit
	scriptCmds["simfail"] = cmdSimFail
	scriptCmds["simstats"] = cmdSimStats
	scriptCmds["simport"] = cmdSimPort
	scriptCmds["simwait"] = cmdSimWait
}

// simServers maps a running script to its fake.
var simServers sync.Map // *testscript.TestScript -> *sim.Server

func scriptSim(ts *testscript.TestScript) *sim.Server {
	v, _ := simServers.Load(ts)
	s, _ := v.(*sim.Server)
	if s == nil {
		ts.Fatalf("no fake running: use the sim command first")
	}
	return s
}

func cmdSim(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! sim")
	}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	preset := fs.String("preset", "homelab", "")
	guests := fs.Int("guests", 0, "")
	seedFile := fs.String("seed", "", "")
	latency := fs.Duration("latency", 0, "")
	taskDur := fs.Duration("task-duration", 20*time.Millisecond, "")
	workers := fs.Int("workers", 0, "")
	fault := fs.Float64("fault-rate", 0, "")
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("sim: %v", err)
	}
	var seed *sim.Seed
	var err error
	if *seedFile != "" {
		seed, err = sim.LoadSeed(ts.MkAbs(*seedFile))
	} else {
		seed, err = sim.Preset(*preset, *guests)
	}
	ts.Check(err)
	s, err := sim.New(sim.Options{Seed: seed, Latency: *latency, TaskDuration: *taskDur,
		Workers: *workers, FaultRate: *fault, RandSeed: 1})
	ts.Check(err)
	if old, loaded := simServers.Swap(ts, s); loaded {
		old.(*sim.Server).Close()
	}
	ts.Defer(func() {
		simServers.Delete(ts)
		s.Close()
	})
	ts.Setenv("PMPC_ENDPOINT", s.URL())
	ts.Setenv("PMPC_TOKEN", s.Token())
	ts.Setenv("PMPC_TLS_FINGERPRINT", s.Fingerprint())
	ts.Setenv("SIM_URL", s.URL())
}

func cmdSimEdit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: simedit VMID KEY VALUE")
	}
	vmid, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = scriptSim(ts).EditConfig(vmid, args[1], args[2])
	if neg {
		if err == nil {
			ts.Fatalf("simedit succeeded unexpectedly")
		}
		return
	}
	ts.Check(err)
}

func cmdSimFail(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: simfail TYPE [LOG...] MESSAGE")
	}
	scriptSim(ts).FailNextTask(args[0], strings.Join(args[1:], "\n"))
}

func cmdSimStats(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: simstats")
	}
	st := scriptSim(ts).Stats()
	keys := make([]string, 0, len(st.Requests))
	for k := range st.Requests {
		keys = append(keys, k)
	}
	// Sorted, one counter a line, so scripts can match with stdout regexps.
	sortStrings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "{\"total\": %d, \"requests\": {", st.Total)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n  %q: %d", k, st.Requests[k])
	}
	b.WriteString("\n}}\n")
	_, _ = ts.Stdout().Write([]byte(b.String()))
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func cmdSimPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: simport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ts.Check(ln.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}

func cmdSimWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: simwait ADDR")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("simwait: %s not listening after 20s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
