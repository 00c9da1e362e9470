package main

import (
	"github.com/spf13/cobra"
)

func init() { register(newValidateCmd) }

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the workspace's definitions against the schema",
		Long: `Validate loads every definition file of the workspace (.cue, .yaml, .yml and
.json, except files and directories starting with "." and what .gitignore
ignores) together with pmpc.cue, checks them against pmpc's embedded schema
and the workspace's own CUE policies, and reports every problem found as

  path/file.cue:LINE:COL: vm.web-01.cores: invalid value 0: want at least 1

with paths relative to the workspace root. It prints nothing when the
definitions are valid. It does not contact the cluster.

Validated definitions are cached by content in .pmpc/cache, so a second run
only evaluates files that changed (all files when CUE policies are present
and anything changed).

Examples:
  # Validate the workspace in the current directory
  pmpc validate

  # Validate another workspace
  pmpc -C infra validate
` + exitCodeHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := g.workspace()
			if err != nil {
				return err
			}
			if _, err := ws.Load(); err != nil {
				return g.definitionsError(err)
			}
			return nil
		},
	}
}
