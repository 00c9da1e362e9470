package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newPlanCmd) }

// planOptions are the flags of pmpc plan.
type planOptions struct {
	output       string
	out          string
	refresh      bool
	detailed     bool
	prune        bool
	allowRestart bool
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
  replace  the guest is destroyed and created again (the field that forces
           it is named)

By default plan first refreshes the snapshot of the cluster (.pmpc/snapshot);
with --refresh=false it plans from the snapshot alone, without contacting
the cluster.

Only guests this workspace manages change: those its definitions pin by vmid,
or that carry the pmpc tag and match a definition by kind and name. Guests
that carry the pmpc tag but left the workspace are deleted only with --prune
(or prune: true in pmpc.cue) and never when protected. Other live guests are
listed as not managed; pmpc import adopts them.

--out FILE saves the plan (JSON, see docs/plan-format.md); pmpc apply FILE
applies exactly it, and refuses guests that changed since.

Examples:
  # Review changes
  pmpc plan

  # A pull-request comment
  pmpc plan -o markdown

  # CI: exit 2 when there are changes, and save the plan for apply
  pmpc plan --detailed-exitcode --out pmpc.plan
` + exitCodeHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, markdown or json")
	f.StringVar(&o.out, "out", "", "also save the plan to `FILE` for pmpc apply")
	f.BoolVar(&o.refresh, "refresh", true, "refresh the snapshot from the cluster first")
	f.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 2 when the plan has changes")
	f.BoolVar(&o.prune, "prune", false, "delete pmpc-tagged guests that left the workspace")
	f.BoolVar(&o.allowRestart, "allow-restart", false, "restart running guests to apply changes PVE keeps pending")
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
	desired, err := ws.Load()
	if err != nil {
		return g.definitionsError(err)
	}

	store, err := openSnapshot(g, ws)
	if err != nil {
		return err
	}
	defer store.Close()

	var observed *resource.Cluster
	var rev snapshot.Revision
	if o.refresh {
		c, err := g.client(ctx, planConnConfig(ws))
		if err != nil {
			return withCode(exitError, err)
		}
		if observed, rev, err = refreshSnapshotTo(ctx, c, store, g.stderr); err != nil {
			return withCode(exitError, err)
		}
	} else {
		observed, rev, err = store.Latest()
		if err != nil {
			return withCode(exitError, fmt.Errorf("%w\nThe snapshot is empty or unreadable: run 'pmpc refresh', or plan without --refresh=false", err))
		}
	}

	resolve := apply.ResolveSecretRef(ws.Root)
	p, err := plan.Make(desired, observed, plan.Options{
		Prune:         o.prune || ws.Config.Prune,
		AllowRestart:  o.allowRestart,
		Protect:       ws.Config.Protect,
		ResolveSecret: resolve,
		CompareSecret: func(addr resource.Address, key, value string) (known, same bool, err error) {
			return store.SecretMatches(addr, key, []byte(value))
		},
	})
	if err != nil {
		return withCode(exitError, err)
	}
	p.SnapshotRevision = rev.ID
	p.WorkspaceCommit, p.Dirty = workspaceCommit(ws)

	var buf bytes.Buffer
	if err := view.Render(&buf, p); err != nil {
		return withCode(exitError, err)
	}
	if _, err := io.Copy(g.stdout, &buf); err != nil {
		return withCode(exitError, err)
	}
	if len(p.Errors) > 0 {
		// The view listed them; a plan with errors is never saved.
		return withCode(exitError, fmt.Errorf("the plan has %d error(s); fix them and plan again", len(p.Errors)))
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

// refreshSnapshot refreshes the snapshot from the cluster (incrementally:
// configs are read only for guests that look changed) and returns the new
// revision.
func refreshSnapshot(ctx context.Context, c *proxmox.Client, store *snapshot.Store) (*resource.Cluster, snapshot.Revision, error) {
	return refreshSnapshotTo(ctx, c, store, nil)
}

// refreshSnapshotTo is refreshSnapshot with progress of long refreshes
// written to progress (stderr in the CLI; nil is silent).
func refreshSnapshotTo(ctx context.Context, c *proxmox.Client, store *snapshot.Store, progress io.Writer) (*resource.Cluster, snapshot.Revision, error) {
	cl, rev, _, err := snapshot.Refresh(ctx, clientSource{c}, store, snapshot.RefreshOptions{Progress: progress})
	if err != nil {
		return nil, snapshot.Revision{}, err
	}
	return cl, rev, nil
}

// planConnConfig is the connection part of pmpc.cue as a client config; the
// environment overrides it (see g.client).
func planConnConfig(ws *workspace.Workspace) proxmox.Config {
	cc := ws.Config.Cluster
	cfg := proxmox.Config{Endpoint: cc.Endpoint, Fingerprint: cc.Fingerprint}
	if cc.CAFile != "" {
		cfg.CAFile = cc.CAFile
		if !filepath.IsAbs(cc.CAFile) {
			cfg.CAFile = filepath.Join(ws.Root, cc.CAFile)
		}
	}
	if cc.Token != "" {
		if tok, err := apply.ResolveSecretRef(ws.Root)(cc.Token); err == nil {
			cfg.Token = tok
		}
	}
	return cfg
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
