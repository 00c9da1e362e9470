package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newUnlockCmd) }

func newUnlockCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "unlock [--force]",
		Example: `  # clear a lock whose holder is gone (its process on this host has ended)
  pmpc unlock

  # clear a lock held from another host or a CI runner that died
  pmpc unlock --force`,
		Short: "Clear an apply lock left behind",
		Long: `Unlock clears the apply lock of a workspace that a dead apply left behind: the
local lock (.pmpc/apply.lock) and, when the repository has a remote named
origin, the lock ref there (refs/pmpc/lock).

Without --force it clears only a lock whose holder is known to be gone: the
local lock is an flock that the kernel releases when its process ends, so a
dead apply's lock is cleared (and a new apply takes it over by itself); a
lock ref left by another host (a CI runner) needs --force. Make sure no apply
is running before forcing.
` + exitCodeHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := g.workspace()
			if err != nil {
				return err
			}
			cleared, err := workspace.Unlock(cmd.Context(), ws.Root, workspace.LockOptions{}, force)
			for _, c := range cleared {
				fmt.Fprintln(g.stderr, "Unlocked: "+c)
			}
			if err != nil {
				code := lockCode(err)
				if code == exitConflict {
					err = fmt.Errorf("%w\n(the holder may still be running; use --force only if it is not)", err)
				}
				return withCode(code, err)
			}
			if len(cleared) == 0 {
				fmt.Fprintln(g.stderr, "No apply lock is held.")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "clear the lock even if its holder may still be running")
	return cmd
}
