package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/pmpc-dev/pmpc/schema"
	"github.com/pmpc-dev/pmpc/workspace"
)

// workspace finds the workspace from -C or the current directory: that
// directory or its nearest parent holding pmpc.cue. An invalid pmpc.cue
// carries exit code 3.
func (g *globals) workspace() (*workspace.Workspace, error) {
	dir := g.dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, withCode(exitError, err)
		}
		dir = wd
	}
	ws, err := workspace.Find(dir)
	if err != nil {
		return nil, g.definitionsError(err)
	}
	return ws, nil
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
