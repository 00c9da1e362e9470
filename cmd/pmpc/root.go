package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, as documented in every command's help.
const (
	exitOK          = 0
	exitError       = 1
	exitChanges     = 2 // plan --detailed-exitcode: changes present
	exitInvalid     = 3 // invalid workspace or definitions
	exitConflict    = 4 // stale plan, lock held, or concurrent change
	exitInterrupted = 130
)

// exitCodeHelp is appended to every command's long help.
const exitCodeHelp = `
Exit codes:
  0    success
  1    error
  2    changes present (plan --detailed-exitcode)
  3    invalid workspace or definitions
  4    stale plan, lock held, or concurrent change
  130  interrupted`

// exitErr carries an exit code and, optionally, an error to print. A nil Err
// means the command already reported what happened.
type exitErr struct {
	Code int
	Err  error
}

func (e *exitErr) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitErr) Unwrap() error { return e.Err }

// withCode wraps err so that pmpc exits with code.
func withCode(code int, err error) error { return &exitErr{Code: code, Err: err} }

// globals are the options every command shares.
type globals struct {
	dir       string // workspace directory (-C)
	logLevel  string
	logFormat string
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	getenv    func(string) string
	runID     string       // this run's id, in logs, audit records and the User-Agent
	logger    *slog.Logger // set up before any command runs
}

// commands lists the constructors of pmpc's subcommands. Each command's file
// registers its constructor in an init function; the tree is built fresh on
// every run so that no flag state leaks between runs.
var commands []func(g *globals) *cobra.Command

func register(c func(g *globals) *cobra.Command) { commands = append(commands, c) }

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "pmpc",
		Short: "GitOps for Proxmox VE",
		Long: `pmpc manages Proxmox VE guests from a git repository of definitions.

Definitions (CUE, YAML or JSON) are validated by an embedded schema, planned
against a snapshot of the live cluster, and applied through the Proxmox API,
with every apply recorded in git.` + "\n" + exitCodeHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.setupLogging()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.dir, "workspace", "C", "", "workspace directory (default: the current directory or the nearest parent holding pmpc.cue)")
	pf.StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn, error (default warn, or $PMPC_LOG)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if s := suggestFlag(c, err); s != "" {
			return withCode(exitError, fmt.Errorf("%w\nDid you mean %s?\nRun '%s --help' for usage.", err, s, c.CommandPath()))
		}
		return withCode(exitError, fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath()))
	})
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	return root
}

// run executes pmpc with args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, runID: newRunID(time.Now())}
	g.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "Error:", ee.Err)
		}
		return ee.Code
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(stderr, "Error: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitError
}

// suggestFlag returns the flag of c (its own or inherited) closest to the
// unknown long flag err names, as "--name", or "" when none is close: within
// two edits, or the only flag the misspelling is a prefix of.
func suggestFlag(c *cobra.Command, err error) string {
	msg := err.Error()
	const prefix = "unknown flag: --"
	if !strings.HasPrefix(msg, prefix) {
		return ""
	}
	typed := strings.TrimPrefix(msg, prefix)
	best, bestDist := "", 3
	var prefixOf []string
	visit := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if strings.HasPrefix(f.Name, typed) {
			prefixOf = append(prefixOf, f.Name)
		}
		if d := editDistance(typed, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	}
	c.LocalFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	switch {
	case best != "":
		return "--" + best
	case len(prefixOf) == 1:
		return "--" + prefixOf[0]
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// noArgs is cobra.NoArgs that names the stray argument and, when it is
// "true" or "false", explains the usual cause: a boolean flag given its
// value after a space (--refresh false) instead of after = (--refresh=false).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	err := fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	if args[0] == "true" || args[0] == "false" {
		flag := "--FLAG"
		var changed []string
		cmd.Flags().Visit(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" {
				changed = append(changed, f.Name)
			}
		})
		if len(changed) == 1 {
			flag = "--" + changed[0]
		}
		err = fmt.Errorf("%w: a boolean flag takes its value after = (%s=%s), not after a space", err, flag, args[0])
	}
	return withCode(exitError, fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
}
