// Command pmpc is a Git-backed GitOps tool for Proxmox VE: definitions in a
// git repository, plans against a snapshot of the live cluster, applies
// through the Proxmox API with an audit trail in git.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(Main()) }

// Main runs pmpc with the process's arguments and streams and returns its
// exit code. Tests call it in-process through testscript.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
