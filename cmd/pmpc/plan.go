package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newPlanCmd) }

// planOptions are the flags of pmpc plan.
type planOptions struct {
	output   string
	out      string
	refresh  bool
	detailed bool
	planFlags
}

// planFlags are the flags that decide what a plan may do; plan and apply
// share them.
type planFlags struct {
	prune        bool
	allowRestart bool
	allowReplace bool
	purgeDisks   bool
}

func (o *planFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.prune, "prune", false, "delete pmpc-tagged guests that left the workspace")
	f.BoolVar(&o.allowRestart, "allow-restart", false, "restart running guests to apply changes PVE keeps pending")
	f.BoolVar(&o.allowReplace, "allow-replace", false, "destroy and recreate guests whose change PVE cannot make in place (their disks are lost)")
	f.BoolVar(&o.purgeDisks, "purge-disks", false, "destroy disks removed from a definition instead of detaching them as unusedN")
}

func newPlanCmd(g *globals) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change in the cluster",
		Long: `Plan compares the workspace's definitions with the live cluster and shows the
changes apply would make, in Proxmox VE's own terms: each guest's config keys
(and the sub-keys of property strings such as net0 or scsi0), its power state,
its pool, and how disruptive each change is:

  live     applied to the running guest at once (hot-plug)
  pending  PVE keeps it pending until the guest's next restart
  restart  pmpc restarts the guest to apply it (only with --allow-restart)
  replace  the guest is destroyed with its disks and created again (the field
           that forces it is named); only with --allow-replace, else the
           plan has an error

By default plan first refreshes the snapshot of the cluster (.pmpc/snapshot);
with --refresh=false it plans from the snapshot alone, without contacting
the cluster. That refresh is incremental (see pmpc refresh --help): it
re-reads only the configs of guests whose listing moved (status, node, name,
tags, lock, pool, CPU count, memory, boot disk size, a restart or a task) and
verifies 1 % more, least recently read first. A config edited without a task
(the web GUI's synchronous PUT, a hand edit) that moved none of those signals
may be missing from the plan until that guest's turn comes (within 100
refreshes); run pmpc refresh --full first to plan against every config as it
is now. Apply stays safe either way: each update sends the config digest the
plan saw, and PVE refuses it if the config changed since (exit code 4).

Only guests this workspace manages change: those its definitions pin by vmid,
or that carry the pmpc tag and match a definition by kind and name. Guests
that carry the pmpc tag but left the workspace are deleted only with --prune
(or prune: true in pmpc.cue) and never when protected. Other live guests are
listed as not managed; pmpc import adopts them.

A running guest can hold changes PVE keeps pending until it restarts (an
earlier apply without --allow-restart, or an edit elsewhere): its config
matches the workspace, but it still runs the old values. Plan lists such
guests under "Pending until restart" with each key's running and pending
value (known for guests pmpc changed or that ran a task since they were last
read; 'pmpc refresh --full' reads them for every running guest). They are
not changes: apply has nothing to send for them, and
--detailed-exitcode exits 0 when they are all there is. With --allow-restart
the plan restarts each such guest instead (a reboot, disruption restart), and
that is a change (exit 2 with --detailed-exitcode).

--out FILE saves the plan (JSON, see docs/plan-format.md); pmpc apply FILE
applies exactly it, and refuses guests that changed since.

Examples:
  # Review changes
  pmpc plan

  # A pull-request comment
  pmpc plan -o markdown

  # CI: exit 2 when there are changes (values pending until a restart are
  # not, unless --allow-restart plans the restart), and save the plan
  pmpc plan --detailed-exitcode --out pmpc.plan
` + exitCodeHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, markdown or json")
	f.StringVar(&o.out, "out", "", "also save the plan to `FILE` for pmpc apply")
	f.BoolVar(&o.refresh, "refresh", true, "refresh the snapshot from the cluster first")
	f.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 2 when the plan has changes (not for values only pending until a restart)")
	o.planFlags.bind(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(plan.Formats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runPlan(ctx context.Context, g *globals, o *planOptions) error {
	view, err := plan.NewView(o.output, plan.ViewOptions{Color: o.output == "text" && g.colorOut()})
	if err != nil {
		return withCode(exitError, err)
	}
	ws, err := g.workspace()
	if err != nil {
		return err
	}
	s := g.session(ws)
	defer s.Close()
	p, err := buildPlan(ctx, s, o.planFlags, o.refresh, g.stderr)
	if err != nil {
		return err
	}
	if err := g.showPlan(view, p); err != nil {
		return err
	}
	if o.out != "" {
		if err := savePlan(o.out, p); err != nil {
			return withCode(exitError, err)
		}
		fmt.Fprintf(g.stderr, "Saved the plan to %s; apply it with: pmpc apply %s\n", o.out, o.out)
	}
	if o.detailed && p.HasChanges() {
		return withCode(exitChanges, nil)
	}
	return nil
}

// buildPlan plans as pmpc plan and pmpc apply do: load the definitions,
// read the cluster (refreshed first when refresh is set, with progress of a
// long refresh to progress), compare, and stamp the plan with the snapshot
// revision and the workspace commit it was made from.
func buildPlan(ctx context.Context, s *session, f planFlags, refresh bool, progress io.Writer) (*plan.Plan, error) {
	ws := s.ws
	desired, err := ws.Load()
	if err != nil {
		return nil, s.g.definitionsError(err)
	}
	store, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	observed, rev, err := s.observe(ctx, refresh, progress)
	if err != nil {
		return nil, err
	}
	p, err := plan.Make(desired, observed, plan.Options{
		Prune:         f.prune || ws.Config.Prune,
		AllowRestart:  f.allowRestart,
		AllowReplace:  f.allowReplace,
		PurgeDisks:    f.purgeDisks,
		Protect:       ws.Config.Protect,
		ResolveSecret: apply.ResolveSecretRef(ws.Root),
		CompareSecret: func(addr resource.Address, key, value string) (known, same bool, err error) {
			return store.SecretMatches(addr, key, []byte(value))
		},
	})
	if err != nil {
		return nil, withCode(exitError, err)
	}
	p.SnapshotRevision = rev.ID
	p.WorkspaceCommit, p.Dirty = workspaceCommit(ws)
	return p, nil
}

// showPlan writes the plan to stdout through view. A plan with errors
// (which the view lists) is an error: it must be neither saved nor applied.
func (g *globals) showPlan(view plan.View, p *plan.Plan) error {
	var buf bytes.Buffer
	if err := view.Render(&buf, p); err != nil {
		return withCode(exitError, err)
	}
	if _, err := io.Copy(g.stdout, &buf); err != nil {
		return withCode(exitError, err)
	}
	if len(p.Errors) > 0 {
		return withCode(exitError, fmt.Errorf("the plan has %d error(s); fix them and plan again", len(p.Errors)))
	}
	return nil
}

// workspaceCommit returns the HEAD commit of the workspace's repository and
// whether the work tree has uncommitted changes ("" outside git).
func workspaceCommit(ws *workspace.Workspace) (string, bool) {
	r, err := ws.Repo()
	if err != nil {
		return "", false
	}
	head, err := r.Head()
	if err != nil {
		return "", false
	}
	dirty := false
	if wt, err := r.Worktree(); err == nil {
		if st, err := wt.Status(); err == nil {
			dirty = !st.IsClean()
		}
	}
	return head.Hash().String(), dirty
}

// savePlan writes the plan file atomically.
func savePlan(path string, p *plan.Plan) error {
	var buf bytes.Buffer
	if err := plan.Write(&buf, p); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	return nil
}

// colorOut reports whether stdout is a terminal that may get colour: never
// with NO_COLOR set.
func (g *globals) colorOut() bool {
	if g.getenv != nil && g.getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
