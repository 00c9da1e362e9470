package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newRefreshCmd) }

type refreshOptions struct {
	full bool
}

func newRefreshCmd(g *globals) *cobra.Command {
	o := &refreshOptions{}
	cmd := &cobra.Command{
		Use: "refresh",
		Example: `  # read what changed since the last refresh
  pmpc refresh

  # read every guest's config, e.g. after editing guests in the web GUI
  pmpc refresh --full`,
		Short: "Read the live cluster into the snapshot",
		Long: `Refresh reads the live cluster into the workspace's snapshot
(.pmpc/snapshot), a cache of what the cluster looked like that plan, import
and render --from live read.

A refresh lists every guest with one GET /cluster/resources and reads the
config of a guest only when something suggests it changed since the last
refresh, plus a few more to verify them:

  read      new guests; guests whose node, name, status, lock, tags, pool,
            template flag, CPU count, memory or boot disk size (maxcpu,
            maxmem, maxdisk in the listing) changed; guests that restarted
            (uptime went back); guests with a task (start, migrate, an
            asynchronous config update, ...) running or ended since
  verified  1 % of the guests (at least one), those read least recently,
            whatever their signals say; their config digest shows whether
            they drifted

What an incremental refresh cannot see at once: a config edited with the
synchronous PUT .../config (the web GUI's way) or by hand in /etc/pve that
moves none of those signals — a NIC's bridge or VLAN, a disk option, the
boot order, the description, a change PVE keeps pending until the next
restart. Such an edit is found when the guest's turn to be verified comes:
within 100 refreshes at the latest (with a stable set of guests). --full
reads every config and sees everything at once. Either way apply stays
safe: every update sends the config digest its plan saw, and PVE refuses it
if the config changed since.

The summary says how many configs were read, how many of those only to
verify them, and how many of these had drifted.

The snapshot keeps the last 50 refreshes; it can always be deleted and
rebuilt with: ` + snapshot.RebuildHint + "\n" + exitCodeHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRefresh(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.full, "full", false, "read every guest's config, not only those that look changed")
	return cmd
}

func runRefresh(ctx context.Context, g *globals, o *refreshOptions) error {
	ws, err := g.workspace()
	if err != nil {
		return err
	}
	s := g.session(ws)
	defer s.Close()
	cl, rev, stats, err := s.refresh(ctx, snapshot.RefreshOptions{Full: o.full, Progress: g.stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Refreshed snapshot %s from %s: %d nodes, %d guests, %d pools (%s).\n",
		rev, cl.Endpoint, len(cl.Nodes), stats.Guests, len(cl.Pools), refreshSummary(stats))
	return nil
}

// refreshSummary says what a refresh read: "read all 30 guest configs", or
// "read 3 of 30 guest configs, 1 to verify: no drift".
func refreshSummary(stats snapshot.RefreshStats) string {
	if stats.Full {
		return fmt.Sprintf("read all %d guest configs", stats.Read)
	}
	how := fmt.Sprintf("read %d of %d guest configs", stats.Read, stats.Guests)
	if stats.Verified == 0 {
		return how
	}
	drift := "no drift"
	if stats.Drifted > 0 {
		drift = fmt.Sprintf("%d drifted without a signal", stats.Drifted)
	}
	return fmt.Sprintf("%s, %d to verify: %s", how, stats.Verified, drift)
}

// openSnapshot opens the workspace's snapshot store. A store held by another
// pmpc is exit code 4; a corrupt one was moved aside, which is said on
// stderr.
func openSnapshot(g *globals, ws *workspace.Workspace) (*snapshot.Store, error) {
	dir := filepath.Join(ws.CacheDir(), "snapshot")
	store, err := snapshot.Open(dir, snapshot.Options{Logger: g.logger})
	if err != nil {
		var le *snapshot.LockedError
		if errors.As(err, &le) {
			return nil, withCode(exitConflict, fmt.Errorf("%w: another pmpc is using %s; wait for it to finish", err, displayPath(ws.Root, dir)))
		}
		return nil, withCode(exitError, err)
	}
	if aside := store.MovedAside(); aside != "" {
		fmt.Fprintf(g.stderr, "Warning: the snapshot was unreadable; moved it to %s and started a new one (delete the old one when you like).\n", displayPath(ws.Root, aside))
	}
	return store, nil
}

// clientSource lets snapshot.Refresh read the cluster through the API client.
type clientSource struct{ c *proxmox.Client }

func (s clientSource) Inventory(ctx context.Context, need func(*resource.Guest) bool, progress func(done, total int)) (*resource.Cluster, error) {
	return s.c.Inventory(ctx, proxmox.InventoryOptions{Need: need, Progress: progress, Pending: true})
}

func (s clientSource) Tasks(ctx context.Context) ([]snapshot.Task, error) {
	ts, err := s.c.ClusterTasks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]snapshot.Task, len(ts))
	for i, t := range ts {
		out[i] = snapshot.Task{ID: t.ID, EndTime: t.EndTime}
	}
	return out, nil
}
