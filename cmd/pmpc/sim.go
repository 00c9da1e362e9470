package main

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/pmpc-dev/pmpc/proxmox/sim"
	"github.com/spf13/cobra"
)

type simOptions struct {
	listen        string
	preset        string
	guests        int
	seed          string
	latency       time.Duration
	taskDuration  time.Duration
	workers       int
	faultRate     float64
	authFailDelay time.Duration
	randSeed      uint64
}

func init() { register(newSimCmd) }

func newSimCmd(g *globals) *cobra.Command {
	o := &simOptions{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve a fake Proxmox VE API to rehearse against",
		Long: `Serve a stateful, faithful fake of the Proxmox VE API over HTTPS.

The fake speaks PVE 8's API: API tokens and tickets, tasks with UPIDs,
locks, config digests, pending changes, PVE's own error texts. It is what
the tests and the README demo run on, and what you rehearse an apply on.

The first line on stdout points pmpc at it:

  export PMPC_ENDPOINT=https://127.0.0.1:8006 PMPC_TOKEN=root@pam!pmpc=... PMPC_TLS_FINGERPRINT=AB:CD:...

It serves until interrupted (Ctrl-C or SIGTERM). The token has every
privilege; root@pam's password for ticket logins is "pmpc-sim".
Request counters are at GET /_sim/stats (reset with POST /_sim/stats/reset).

Presets: empty (one node, no guests), homelab (3 nodes, about 30 varied
guests), large (--guests N guests, default 10000). --seed loads a cluster
from a JSON file in PVE's own terms instead.` + "\n" + exitCodeHelp,
		Example: `  # Start the homelab fake in the background and point this shell at it:
  pmpc sim --preset homelab --listen 127.0.0.1:0 > sim.env &
  sleep 1; eval "$(head -1 sim.env)"
  pmpc import --all

  # Rehearse against a slow, flaky cluster with 3 workers like pveproxy:
  pmpc sim --preset homelab --latency 50ms --workers 3 --fault-rate 0.05

  # 10,000 guests for benchmarks:
  pmpc sim --preset large --guests 10000 --listen 127.0.0.1:0

  # A cluster described in a seed file:
  pmpc sim --seed testdata/seeds/small.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8006", "address to listen on (port 0 picks a free port)")
	f.StringVar(&o.preset, "preset", "homelab", "generated cluster: empty, homelab or large")
	f.IntVar(&o.guests, "guests", 10000, "number of guests for --preset large (implies it)")
	f.StringVar(&o.seed, "seed", "", "load the cluster from this seed `FILE` (overrides --preset)")
	f.DurationVar(&o.latency, "latency", 0, "added to every API request")
	f.DurationVar(&o.taskDuration, "task-duration", 500*time.Millisecond, "how long every task runs")
	f.IntVar(&o.workers, "workers", 3, "API requests served at once (the rest wait); 0 = no limit")
	f.Float64Var(&o.faultRate, "fault-rate", 0, "share of requests and tasks that fail (0..1)")
	f.DurationVar(&o.authFailDelay, "auth-fail-delay", 3*time.Second, "delay of every 401, as PVE does")
	f.Uint64Var(&o.randSeed, "rand-seed", 1, "seed for MACs, UPIDs and fault injection")
	return cmd
}

func runSim(cmd *cobra.Command, o *simOptions) error {
	if o.faultRate < 0 || o.faultRate > 1 {
		return withCode(exitError, fmt.Errorf("--fault-rate %v: want a share between 0 and 1", o.faultRate))
	}
	if o.workers < 0 {
		return withCode(exitError, fmt.Errorf("--workers %d: want 0 or more", o.workers))
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return withCode(exitError, fmt.Errorf("--listen %q: %w", o.listen, err))
	}
	if cmd.Flags().Changed("guests") {
		if !cmd.Flags().Changed("preset") {
			o.preset = "large"
		} else if o.preset != "large" {
			return withCode(exitError, fmt.Errorf("--guests sizes --preset large, not --preset %s", o.preset))
		}
	}
	var seed *sim.Seed
	var err error
	if o.seed != "" {
		seed, err = sim.LoadSeed(o.seed)
		if err != nil {
			return withCode(exitInvalid, fmt.Errorf("sim: %w", err))
		}
	} else {
		seed, err = sim.Preset(o.preset, o.guests)
		if err != nil {
			return withCode(exitError, fmt.Errorf("sim: --preset: %w", err))
		}
	}
	s, err := sim.New(sim.Options{
		Listen:        o.listen,
		Seed:          seed,
		Workers:       o.workers,
		Latency:       o.latency,
		TaskDuration:  o.taskDuration,
		FaultRate:     o.faultRate,
		RandSeed:      o.randSeed,
		AuthFailDelay: o.authFailDelay,
	})
	if err != nil {
		return withCode(exitError, err)
	}
	defer s.Close()
	fmt.Fprintln(cmd.OutOrStdout(), s.ExportLine())
	fmt.Fprintf(cmd.ErrOrStderr(), "pmpc sim: serving %s guests on %s (%s); Ctrl-C to stop\n",
		strconv.Itoa(len(s.VMIDs())), s.URL(), describeSeed(o))
	<-cmd.Context().Done()
	fmt.Fprintln(cmd.ErrOrStderr(), "pmpc sim: stopped")
	return nil
}

func describeSeed(o *simOptions) string {
	if o.seed != "" {
		return "seed " + o.seed
	}
	return "preset " + o.preset
}
