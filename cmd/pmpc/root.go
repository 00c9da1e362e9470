package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
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
