package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/render"
	"github.com/pmpc-dev/pmpc/render/ansible"
	"github.com/pmpc-dev/pmpc/render/terraform"
	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/snapshot"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newRenderCmd) }

// renderOptions are the flags of pmpc render.
type renderOptions struct {
	target     string // terraform or ansible
	out        string
	from       string // desired or live
	collection string
}

func newRenderCmd(g *globals) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render terraform|ansible",
		Short: "Render the definitions as Terraform or Ansible",
		Long: `Render writes the workspace's definitions as files another tool runs.

  terraform  providers.tf, main.tf and imports.tf for the bpg/proxmox provider
             (` + terraform.ProviderVersion + `): one resource per VM, container and pool, and an
             import block for every one that already exists in the cluster, so
             that 'terraform plan' adopts them instead of recreating them. The
             API token comes from PROXMOX_VE_API_TOKEN; passwords become
             sensitive variables.
  ansible    playbook.yml and inventory.yml: a playbook that creates missing
             guests with the Proxmox modules (and pushes settings to existing
             ones with -e pmpc_update=true), and a static inventory grouped by
             tag, pool and node. The connection comes from PMPC_ENDPOINT and
             PMPC_TOKEN at run time.

--from desired (the default) renders the definitions; the latest snapshot,
when there is one, adds import blocks and the vmids of existing guests.
--from live renders the cluster as the latest snapshot saw it (run
'pmpc refresh' first).

Files go to --out DIR (default render/terraform or render/ansible in the
workspace), and pmpc prints the path of each file it wrote. --out - prints
the files to stdout instead, each after a "# file: NAME" line.

Examples:
  pmpc render terraform
  pmpc render ansible --out - --collection community.proxmox
  pmpc render terraform --from live --out /tmp/adopt
` + exitCodeHelp,
		Args:      renderArgs,
		ValidArgs: renderTargets,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.target = args[0]
			return runRender(g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "output directory, or - for stdout (default render/TARGET in the workspace)")
	f.StringVar(&o.from, "from", "desired", "what to render: desired (the definitions) or live (the latest snapshot)")
	f.StringVar(&o.collection, "collection", ansible.DefaultCollection, "ansible: collection of the Proxmox modules ("+strings.Join(ansible.Collections, " or ")+")")
	return cmd
}

// renderTargets are the tools pmpc render writes for.
var renderTargets = []string{"terraform", "ansible"}

// renderArgs accepts exactly one target and names the valid ones otherwise.
func renderArgs(cmd *cobra.Command, args []string) error {
	want := strings.Join(renderTargets, " or ")
	var err error
	switch {
	case len(args) == 0:
		err = fmt.Errorf("%s needs a target: %s", cmd.CommandPath(), want)
	case len(args) > 1:
		err = fmt.Errorf("%s takes one target (%s), got %d: %s", cmd.CommandPath(), want, len(args), strings.Join(args, " "))
	case !slices.Contains(renderTargets, args[0]):
		err = fmt.Errorf("%s: unknown target %q: want %s", cmd.CommandPath(), args[0], want)
	default:
		return nil
	}
	return withCode(exitError, fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
}

func runRender(g *globals, o *renderOptions) error {
	if o.from != "desired" && o.from != "live" {
		return withCode(exitError, fmt.Errorf("--from %q: want desired or live", o.from))
	}
	ws, err := g.workspace()
	if err != nil {
		return err
	}
	cluster, err := latestCluster(g, ws)
	var coded *exitErr
	switch {
	case err == nil:
	case errors.As(err, &coded):
		return err
	case o.from == "live" || !errors.Is(err, snapshot.ErrNoRevision):
		return withCode(exitError, fmt.Errorf("render --from %s: %w", o.from, err))
	}
	var set *resource.Set
	exact := false
	if o.from == "live" {
		set, exact = render.FromLive(cluster), true
	} else {
		if set, err = ws.Load(); err != nil {
			return g.definitionsError(err)
		}
	}

	var files []render.File
	switch o.target {
	case "terraform":
		endpoint := cmp.Or(g.getenv("PMPC_ENDPOINT"), g.getenv("PROXMOX_VE_ENDPOINT"), ws.Config.Cluster.Endpoint)
		files, err = terraform.Render(set, terraform.Options{Cluster: cluster, Endpoint: endpoint, ExactTags: exact})
	case "ansible":
		files, err = ansible.Render(set, ansible.Options{Cluster: cluster, Collection: o.collection, ExactTags: exact})
	}
	if err != nil {
		return withCode(exitError, err)
	}
	if o.out == "-" {
		return writeStdout(g.stdout, files)
	}
	dir := o.out
	if dir == "" {
		dir = filepath.Join(ws.Root, "render", o.target)
	}
	return writeRendered(g.stdout, ws, dir, files, o.target)
}

// latestCluster reads the newest revision of the workspace's snapshot; an
// absent snapshot is snapshot.ErrNoRevision, and is not created. A snapshot
// that does not open is an error with its exit code (see openSnapshot).
func latestCluster(g *globals, ws *workspace.Workspace) (*resource.Cluster, error) {
	if _, err := os.Stat(filepath.Join(ws.CacheDir(), "snapshot")); errors.Is(err, os.ErrNotExist) {
		return nil, snapshot.ErrNoRevision
	}
	st, err := openSnapshot(g, ws)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	c, _, err := st.Latest()
	return c, err
}

func writeStdout(w io.Writer, files []render.File) error {
	for i, f := range files {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "# file: %s\n", f.Name)
		if _, err := w.Write(f.Data); err != nil {
			return err
		}
	}
	return nil
}

// writeRendered writes files into dir and prints each path (relative to the
// workspace root when inside it). A file a previous render wrote that this
// one does not (imports.tf once nothing is left to import) is removed.
// The workspace loader skips rendered YAML (playbook, inventory), which
// holds no definitions, so rendering into the workspace is safe.
func writeRendered(w io.Writer, ws *workspace.Workspace, dir string, files []render.File, target string) error {
	root := ws.Root
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return withCode(exitError, fmt.Errorf("render %s: %w", target, err))
	}
	wrote := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return withCode(exitError, fmt.Errorf("render %s: %w", target, err))
		}
		wrote[f.Name] = true
	}
	for _, f := range files {
		fmt.Fprintf(w, "wrote %s\n", displayPath(root, filepath.Join(dir, f.Name)))
	}
	if target == "terraform" && !wrote[terraform.FileImports] {
		p := filepath.Join(dir, terraform.FileImports)
		if err := os.Remove(p); err == nil {
			fmt.Fprintf(w, "removed %s\n", displayPath(root, p))
		}
	}
	return nil
}
