package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/apply/pveclient"
	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newApplyCmd) }

// applyOptions are the flags of pmpc apply.
type applyOptions struct {
	planFile    string
	autoApprove bool
	parallelism int
	push        bool
	planFlags
}

func newApplyCmd(g *globals) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Apply the changes to the cluster and record them in git",
		Long: `Apply brings the cluster to the workspace's definitions.

Without PLANFILE it plans afresh, exactly as pmpc plan does, shows the plan and
asks for confirmation (on a terminal; elsewhere --auto-approve is needed).
With PLANFILE (saved by pmpc plan --out) it applies exactly that plan and
refuses every guest that changed since the plan was made (exit code 4); the
other changes are applied.

Changes run in dependency order, up to --parallelism at once; a change that
fails skips the changes that depend on it, and the others continue. Every
update sends the config digest the plan saw, so a guest edited meanwhile is
refused rather than overwritten. Progress goes to stderr.

Each apply is journaled in .pmpc/journal before anything is sent; a run that
was killed is found and completed by the next apply (its audit record says
interrupted). Every apply commits an audit record (JSON) to the audit branch
(audit.branch in pmpc.cue, default pmpc/audit) without touching the work tree;
--push pushes that branch to origin. pmpc history lists them.

Only one apply runs per workspace: a lock in .pmpc/apply.lock and, when the
repository has a remote named origin, a lock ref (refs/pmpc/lock) pushed there,
so that two CI runners cannot apply at once (when origin cannot be written,
apply warns and relies on the local lock). For an https origin, pushes use
PMPC_GIT_TOKEN (and PMPC_GIT_USER, default x-access-token); ssh uses the
agent. pmpc unlock clears a stale lock.

Examples:
  # Review and confirm
  pmpc apply

  # CI: apply exactly the reviewed plan and publish the audit trail
  pmpc plan --out plan.json && pmpc apply plan.json --push
` + exitCodeHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.planFile = args[0]
			}
			return runApply(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	f.IntVar(&o.parallelism, "parallelism", 4, "changes applied at once")
	f.BoolVar(&o.push, "push", false, "push the audit branch to origin afterwards")
	o.planFlags.bind(cmd)
	return cmd
}

func runApply(ctx context.Context, g *globals, o *applyOptions) error {
	if o.parallelism < 1 {
		return withCode(exitError, fmt.Errorf("--parallelism must be at least 1"))
	}
	ws, err := g.workspace()
	if err != nil {
		return err
	}
	var saved *plan.Plan
	if o.planFile != "" {
		if saved, err = readPlanFile(o.planFile); err != nil {
			return withCode(exitError, err)
		}
	}
	who := applier(ws, g.getenv)
	host, _ := os.Hostname()

	lock, err := workspace.AcquireLock(ctx, ws.Root, workspace.LockInfo{Who: who.Name, Host: host, RunID: g.runID}, workspace.LockOptions{})
	if err != nil {
		var held *workspace.LockHeldError
		if errors.As(err, &held) && held.Info.Host != host {
			err = fmt.Errorf("%w\n(it was taken on %s, where this machine cannot tell whether that apply still runs; if none does, pmpc unlock --force clears it)", err, held.Info.Host)
		}
		return withCode(lockCode(err), err)
	}
	if lock.Warning != "" {
		fmt.Fprintf(g.stderr, "Warning: %s\n", lock.Warning)
	}
	defer func() {
		if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(g.stderr, "Warning: %v\n", err)
		}
	}()

	journal, err := apply.OpenJournal(filepath.Join(ws.CacheDir(), "journal"))
	if err != nil {
		return withCode(exitConflict, err)
	}
	defer journal.Close()

	s := g.session(ws)
	defer s.Close()
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	cl := pveclient.New(c)
	auditBranch := ws.Config.Audit.Branch

	// A run that was killed is completed and recorded before anything else.
	pending, err := apply.Pending(ctx, journal, cl, 2*time.Minute, nil)
	if err != nil {
		return withCode(exitError, err)
	}
	for _, rec := range pending {
		if rec.Interrupted {
			fmt.Fprintf(g.stderr, "Recovered run %s, which did not finish: %s\n", rec.RunID, recordSummary(rec.Line()))
			for _, cr := range rec.Changes {
				if cr.Recovered != "" {
					fmt.Fprintf(g.stderr, "  %s: %s (%s)\n", cr.Address, cr.Result, cr.Recovered)
				}
			}
		}
		if err := commitRecord(ws, journal, rec, auditBranch, who); err != nil {
			fmt.Fprintf(g.stderr, "Warning: %v\n", err)
		}
	}

	store, err := s.snapshot()
	if err != nil {
		return err
	}

	var p *plan.Plan
	refuse := map[resource.Address]string{}
	if saved != nil {
		p = saved
		// The guests the plan changes are read whatever their cheap signals
		// say: an out-of-band config edit need not move them, and the
		// staleness check needs their current config digests.
		var reread []int
		for _, ch := range p.Changes {
			if ch.VMID != 0 && ch.Action != plan.ActionCreate {
				reread = append(reread, ch.VMID)
			}
		}
		observed, _, _, err := s.refresh(ctx, snapshot.RefreshOptions{Reread: reread})
		if err != nil {
			return err
		}
		for _, st := range plan.CheckStale(p, observed) {
			refuse[st.Address] = st.String()
			fmt.Fprintf(g.stderr, "Refusing %s\n", st)
		}
	} else if p, err = buildPlan(ctx, s, o.planFlags, true, nil); err != nil {
		return err
	}

	view, err := plan.NewView("text", plan.ViewOptions{Color: g.colorOut()})
	if err != nil {
		return withCode(exitError, err)
	}
	if err := g.showPlan(view, p); err != nil {
		return err
	}
	if !p.HasChanges() {
		return nil
	}
	if saved == nil && p.Dirty {
		fmt.Fprintf(g.stderr, "Warning: the workspace has uncommitted changes; they are applied, but the audit record can only name commit %s (commit first for a complete trail)\n", shortCommit(p.WorkspaceCommit))
	}
	if saved == nil && !o.autoApprove {
		ok, err := confirm(g)
		if err != nil {
			return withCode(exitError, err)
		}
		if !ok {
			fmt.Fprintln(g.stderr, "Apply cancelled.")
			return nil
		}
	}

	resolve := apply.ResolveSecretRef(ws.Root)
	rec, runErr := apply.Run(ctx, p, apply.Options{
		Client:        cl,
		Parallelism:   o.parallelism,
		Journal:       journal,
		Progress:      g.stderr,
		RunID:         g.runID,
		ResolveSecret: resolve,
		RecordSecret: func(addr resource.Address, key, value string) error {
			return store.SetSecret(addr, key, []byte(value))
		},
		Refuse: refuse,
		Who:    who.Name,
		Host:   host,
	})
	if rec == nil {
		return withCode(exitError, runErr)
	}
	// The record is committed even when the run was interrupted.
	if err := commitRecord(ws, journal, rec, auditBranch, who); err != nil {
		fmt.Fprintf(g.stderr, "Warning: %v\nThe record stays in .pmpc/journal and is committed by the next apply.\n", err)
	} else if o.push {
		if err := workspace.PushAudit(context.WithoutCancel(ctx), ws.Root, auditBranch, ""); err != nil {
			fmt.Fprintf(g.stderr, "Warning: %v\n", err)
		} else {
			fmt.Fprintf(g.stderr, "Pushed %s to origin.\n", auditBranch)
		}
	}
	// Refresh so that the next plan starts from the truth: the guests this
	// apply changed are read again (an LXC config update leaves no task and
	// may move no signal), and those whose cheap signals changed.
	var changed []int
	for _, cr := range rec.Changes {
		if cr.VMID != 0 {
			changed = append(changed, cr.VMID)
		}
	}
	if _, _, _, err := s.refresh(context.WithoutCancel(ctx), snapshot.RefreshOptions{Reread: changed}); err != nil {
		fmt.Fprintf(g.stderr, "Warning: refreshing the snapshot after apply: %v\n", err)
	}

	switch {
	case rec.Interrupted || errors.Is(runErr, context.Canceled):
		return withCode(exitInterrupted, errors.New("interrupted; tasks already started keep running in PVE, and the next apply completes the record"))
	case runErr != nil:
		return withCode(exitError, runErr)
	case rec.Summary.Refused > 0:
		var refused []string
		for _, cr := range rec.Changes {
			if cr.Result == apply.ResultRefused {
				refused = append(refused, cr.Address)
			}
		}
		return withCode(exitConflict, fmt.Errorf("%d change(s) refused (%s): the guests changed since the plan was made; plan again", rec.Summary.Refused, strings.Join(refused, ", ")))
	case rec.Summary.Failed > 0:
		return withCode(exitError, fmt.Errorf("%d change(s) failed (pmpc history %s shows the details)", rec.Summary.Failed, rec.RunID))
	case rec.Summary.Skipped > 0:
		return withCode(exitError, fmt.Errorf("%d change(s) skipped", rec.Summary.Skipped))
	}
	return nil
}

func readPlanFile(name string) (*plan.Plan, error) {
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && (name == "true" || name == "false") {
			return nil, fmt.Errorf("read plan: %w (the only argument of apply is a plan file; a boolean flag takes its value after =, e.g. --prune=%s)", err, name)
		}
		return nil, fmt.Errorf("read plan: %w", err)
	}
	defer f.Close()
	p, err := plan.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// confirm asks on the terminal whether to apply; without a terminal it
// refuses to guess.
func confirm(g *globals) (bool, error) {
	in, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return false, errors.New("no terminal to confirm on: pass --auto-approve, or apply a saved plan file (pmpc plan --out FILE; pmpc apply FILE)")
	}
	fmt.Fprint(g.stderr, "\nApply these changes? Only 'yes' is accepted: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.TrimSpace(line) == "yes", nil
}

// applier names who applies: the git author (GIT_AUTHOR_NAME, git config),
// else $USER.
func applier(ws *workspace.Workspace, getenv func(string) string) object.Signature {
	r, _ := ws.Repo()
	s := workspace.Author(r, getenv)
	if s.Name == "pmpc" && getenv("USER") != "" {
		s.Name = getenv("USER")
	}
	return *s
}

// commitRecord commits a run's record to the audit branch and marks it
// audited in the journal.
func commitRecord(ws *workspace.Workspace, j *apply.Journal, rec *apply.Record, branch string, who object.Signature) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("audit record of run %s: %w", rec.RunID, err)
	}
	data = append(data, '\n')
	when := rec.Finished
	if when.IsZero() {
		when = time.Now()
	}
	author := object.Signature{Name: who.Name, Email: who.Email, When: when}
	if rec.Who != "" {
		author.Name = rec.Who // a recovered run keeps who started it
	}
	hash, err := workspace.CommitAudit(ws.Root, workspace.AuditCommit{Branch: branch, RunID: rec.RunID, Summary: rec.Line(),
		Data: data, Author: author, When: when})
	if err != nil {
		return fmt.Errorf("audit record of run %s: %w", rec.RunID, err)
	}
	return j.MarkAudited(rec.RunID, hash)
}

// shortCommit abbreviates a commit hash for messages ("none" outside git).
func shortCommit(h string) string {
	switch {
	case h == "":
		return "none"
	case len(h) > 12:
		return h[:12]
	}
	return h
}
