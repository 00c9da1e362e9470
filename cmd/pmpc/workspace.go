package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmpc-dev/pmpc/schema"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

// workspace finds the workspace from -C or the current directory: that
// directory or its nearest parent holding pmpc.cue. No workspace there, or
// an invalid pmpc.cue, carries exit code 3 (invalid workspace).
func (g *globals) workspace() (*workspace.Workspace, error) {
	dir, err := g.workspaceDir()
	if err != nil {
		return nil, err
	}
	ws, err := workspace.Find(dir)
	if errors.Is(err, workspace.ErrNotFound) {
		return nil, withCode(exitInvalid, err)
	}
	if err != nil {
		return nil, g.definitionsError(err)
	}
	return ws, nil
}

// workspaceDir is where the workspace is looked for: -C, which must name a
// directory (exit code 3 otherwise), else the current directory.
func (g *globals) workspaceDir() (string, error) {
	if g.dir != "" {
		st, err := os.Stat(g.dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return "", withCode(exitInvalid, fmt.Errorf("-C %s: no such directory", g.dir))
		case err != nil:
			return "", withCode(exitInvalid, fmt.Errorf("-C %s: %w", g.dir, err))
		case !st.IsDir():
			return "", withCode(exitInvalid, fmt.Errorf("-C %s: not a directory (-C takes the workspace directory)", g.dir))
		}
		return g.dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", withCode(exitError, err)
	}
	return wd, nil
}

// definitionsError maps invalid definitions or configuration to exit code
// 3, printing one problem per line on stderr as file:line:col: message;
// other errors keep exit code 1.
func (g *globals) definitionsError(err error) error {
	var se *schema.Errors
	if errors.As(err, &se) {
		for _, e := range se.List {
			fmt.Fprintln(g.stderr, e)
		}
		return withCode(exitInvalid, nil)
	}
	return withCode(exitError, err)
}

// lockCode is the exit code of err: 4 when it is a lock another pmpc holds
// (the workspace's apply lock or its snapshot), else 1.
func lockCode(err error) int {
	var held *workspace.LockHeldError
	var locked *snapshot.LockedError
	if errors.As(err, &held) || errors.As(err, &locked) {
		return exitConflict
	}
	return exitError
}

// displayPath is p as messages show it: relative to the workspace root
// (slash-separated) when inside it, else as given.
func displayPath(root, p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return p
}
