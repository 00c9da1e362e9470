package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newInitCmd) }

type initOptions struct {
	dir      string
	endpoint string
	ci       string
}

func newInitCmd(g *globals) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create a workspace: git repository, pmpc.cue, an example, CI",
		Long: `Init creates a pmpc workspace in DIR (default: the current directory, or -C):

  pmpc.cue        the workspace configuration (cluster endpoint, defaults,
                  prune and protect settings, audit branch)
  .gitignore      ignores .pmpc/, pmpc's local cache (appended to when it exists)
  example.cue     an example definition of a stopped VM and a pool
  --ci github     .github/workflows/pmpc.yml
  --ci gitlab     .gitlab-ci.yml
                  (plan on pull/merge requests, posted as a comment;
                  apply on the main branch)

DIR becomes a new git repository with branch main, unless it already is in
one, which is adopted. The new files are committed, with the author from
GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL or the git config (fallback "pmpc"); when
other changes are already staged, the files are left uncommitted.

Init never overwrites: when any file it would create exists, it writes
nothing and names them.

Examples:
  # A new workspace in ./infra for the cluster at pve1
  pmpc init infra --endpoint https://pve1.example.com:8006

  # Turn the current repository into a workspace with a GitHub workflow
  pmpc init --ci github
` + exitCodeHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = g.dir
			if len(args) == 1 {
				o.dir = args[0]
				if g.dir != "" && !filepath.IsAbs(o.dir) {
					o.dir = filepath.Join(g.dir, o.dir)
				}
			}
			if o.dir == "" {
				o.dir = "."
			}
			return runInit(g, o)
		},
	}
	cmd.Flags().StringVar(&o.endpoint, "endpoint", "", "the Proxmox VE API URL, e.g. https://pve1.example.com:8006")
	cmd.Flags().StringVar(&o.ci, "ci", "", "also write a CI workflow: github or gitlab")
	return cmd
}

func runInit(g *globals, o *initOptions) error {
	switch o.ci {
	case "", "github", "gitlab":
	default:
		return withCode(exitError, fmt.Errorf("invalid argument %q for \"--ci\" flag: must be github or gitlab", o.ci))
	}
	res, err := workspace.Init(o.dir, workspace.InitOptions{Endpoint: o.endpoint, CI: o.ci, Getenv: g.getenv})
	var ee *workspace.ExistsError
	if errors.As(err, &ee) {
		return withCode(exitError, err)
	}
	if err != nil {
		return withCode(exitError, err)
	}
	w := g.stderr
	if res.NewRepo {
		fmt.Fprintf(w, "Initialized a git repository (branch main) in %s\n", res.RepoRoot)
	} else {
		fmt.Fprintf(w, "Using the git repository in %s\n", res.RepoRoot)
	}
	for _, f := range res.Created {
		fmt.Fprintf(w, "  created %s\n", f)
	}
	for _, f := range res.Updated {
		fmt.Fprintf(w, "  updated %s\n", f)
	}
	if res.Commit != "" {
		fmt.Fprintf(w, "Committed %s: pmpc init\n", res.Commit[:12])
	} else {
		fmt.Fprintln(w, "Not committed: other changes are already staged. Review and commit the new files yourself.")
	}
	fmt.Fprintln(w, "\nNext steps:")
	step := 1
	if o.endpoint == "" {
		fmt.Fprintf(w, "  %d. Set cluster.endpoint in pmpc.cue (or export PMPC_ENDPOINT).\n", step)
		step++
	}
	fmt.Fprintf(w, "  %d. Export PMPC_TOKEN=USER@REALM!TOKENID=SECRET (an API token of your cluster).\n", step)
	step++
	fmt.Fprintf(w, "  %d. Edit example.cue, or import what runs: pmpc import --all\n", step)
	step++
	fmt.Fprintf(w, "  %d. pmpc validate && pmpc plan\n", step)
	if o.ci != "" {
		step++
		fmt.Fprintf(w, "  %d. Set PMPC_ENDPOINT and PMPC_TOKEN in your CI settings (see the workflow file).\n", step)
	}
	return nil
}
