package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	cuejson "cuelang.org/go/encoding/json"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/resource/pve"
	"github.com/pmpc-dev/pmpc/schema"
	"github.com/pmpc-dev/pmpc/snapshot"
)

func init() { register(newImportCmd) }

type importOptions struct {
	all     bool
	kinds   []string
	node    string
	format  string
	refresh bool
	noTag   bool
}

func newImportCmd(g *globals) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use: "import (--all | --kind vm|container|pool) [--node N] [--format cue|yaml]",
		Example: `  # adopt the whole cluster, then check that nothing would change
  pmpc import --all && pmpc plan --detailed-exitcode

  # only the containers on node pve2, as YAML
  pmpc import --kind container --node pve2 --format yaml`,
		Short: "Write definitions for live guests and pools the workspace does not define",
		Long: `Import writes a definition for every live guest (and pool) that the
workspace does not define yet, one file each:

  vms/<name>.cue  containers/<name>.cue  pools/<name>.cue

A definition holds only what PVE returned, and pins the guest's vmid, so
that pmpc plan right after an import shows no changes. A guest is already
defined when a definition pins its vmid, or names it (without a vmid).
A name that several live guests share, that another definition already
uses, or that is missing gets the vmid appended (web-01-vm105, vm-105).
Existing files are never overwritten. Import refreshes the snapshot first
unless --refresh=false; it prints each file it wrote.

Import then marks the guests it adopted as managed by pmpc: it adds the pmpc
tag to each in the cluster (one config update per guest, sent with the digest
it read, so a guest edited meanwhile is left alone and reported). The tag is
how a later plan with --prune knows a guest whose definition was removed
from git belongs to pmpc; plans never show it as a change. --no-tag skips
this, for a read-only token.` + "\n" + exitCodeHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImport(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.all, "all", false, "import every kind: vm, container and pool")
	f.StringSliceVar(&o.kinds, "kind", nil, "import only this `kind` (vm, container or pool; repeatable)")
	f.StringVar(&o.node, "node", "", "import only guests on this `node`")
	f.StringVar(&o.format, "format", "cue", "file format: cue or yaml")
	f.BoolVar(&o.refresh, "refresh", true, "refresh the snapshot from the cluster first")
	f.BoolVar(&o.noTag, "no-tag", false, "do not tag the imported guests pmpc in the cluster (they cannot be pruned until an apply tags them)")
	cmd.MarkFlagsMutuallyExclusive("all", "kind")
	cmd.MarkFlagsOneRequired("all", "kind")
	return cmd
}

func runImport(ctx context.Context, g *globals, o *importOptions) error {
	kinds := map[resource.Kind]bool{}
	if o.all {
		for _, k := range resource.Kinds {
			kinds[k] = true
		}
	}
	for _, k := range o.kinds {
		if !resource.Kind(k).Valid() {
			return withCode(exitError, fmt.Errorf("--kind %q: want vm, container or pool", k))
		}
		kinds[resource.Kind(k)] = true
	}
	if o.format != "cue" && o.format != "yaml" {
		return withCode(exitError, fmt.Errorf("--format %q: want cue or yaml", o.format))
	}

	ws, err := g.workspace()
	if err != nil {
		return err
	}
	desired, err := ws.Load()
	if err != nil {
		return g.definitionsError(err)
	}
	s := g.session(ws)
	defer s.Close()
	live, _, err := s.observe(ctx, o.refresh, g.stderr)
	if err != nil {
		return err
	}

	files, skipped := planImport(live, desired, kinds, o.node, o.format, func(p string) bool {
		_, err := os.Lstat(filepath.Join(ws.Root, filepath.FromSlash(p)))
		return !errors.Is(err, fs.ErrNotExist)
	})
	for _, s := range skipped {
		fmt.Fprintln(g.stderr, "Warning:", s)
	}
	if len(files) == 0 {
		fmt.Fprintln(g.stderr, "Nothing to import: the workspace defines every selected live resource.")
		return nil
	}
	for _, f := range files {
		abs := filepath.Join(ws.Root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return withCode(exitError, err)
		}
		// O_EXCL: a file that appeared since the check is not overwritten.
		fh, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return withCode(exitError, fmt.Errorf("import %s: %w", f.addr, err))
		}
		_, werr := fh.Write(f.data)
		if cerr := fh.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return withCode(exitError, fmt.Errorf("import %s: %w", f.addr, werr))
		}
		fmt.Fprintf(g.stdout, "wrote %s\n", f.path)
	}
	if !o.noTag {
		if err := tagImported(ctx, g, s, live, files); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stderr, "Imported %d resources; run pmpc plan to check that it shows no changes.\n", len(files))
	return nil
}

// countGuests says "1 guest" or "N guests", followed by verb if any.
func countGuests(n int, verb string) string {
	s := strconv.Itoa(n) + " guests"
	if n == 1 {
		s = "1 guest"
	}
	if verb != "" {
		s += " " + verb
	}
	return s
}

// tagImported adds the pmpc tag to the live guests import wrote definitions
// for, sending the digest the import read. A guest that cannot be tagged
// (locked, edited meanwhile) keeps its definition; it is reported.
func tagImported(ctx context.Context, g *globals, s *session, live *resource.Cluster, files []importFile) error {
	byVMID := map[int]*resource.Guest{}
	for i := range live.Guests {
		byVMID[live.Guests[i].VMID] = &live.Guests[i]
	}
	var todo []importFile
	for _, f := range files {
		if gu := byVMID[f.vmid]; gu != nil && !slices.Contains(pve.ParseTags(gu.Tags), resource.ManagedTag) {
			todo = append(todo, f)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	// One update per guest, as many at once as the client allows: each is
	// a task on a QEMU guest.
	var (
		mu     sync.Mutex
		failed []string
		tagged int
	)
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(c.Workers())
	for _, f := range todo {
		gu := byVMID[f.vmid]
		eg.Go(func() error {
			set := map[string]string{"tags": pve.FormatTags(append(pve.ParseTags(gu.Tags), resource.ManagedTag))}
			upid, err := c.UpdateConfig(ectx, gu.Kind, gu.Node, gu.VMID, set, nil, gu.Digest)
			if err == nil && upid != nil {
				_, err = c.WaitTask(ectx, *upid)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s (vmid %d): %v", f.addr, gu.VMID, err))
				return nil
			}
			tagged++
			return nil
		})
	}
	_ = eg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.Sort(failed)
	if tagged > 0 {
		fmt.Fprintf(g.stderr, "Tagged %s pmpc in the cluster (managed by this workspace).\n", countGuests(tagged, ""))
		// Keep the snapshot in step with the tags just written, so that a
		// plan --refresh=false sees the cluster as it is.
		if _, _, _, err := s.refresh(ctx, snapshot.RefreshOptions{}); err != nil {
			fmt.Fprintf(g.stderr, "Warning: refresh after tagging: %v\n", err)
		}
	}
	if len(failed) > 0 {
		// The definitions are what matters and they are written; the tag
		// only lets --prune delete the guest later. A locked guest is the
		// usual cause: its next apply that updates tags adds the tag.
		fmt.Fprintf(g.stderr, "Warning: %s not be tagged pmpc (plans manage them anyway; --prune will not delete them until they carry the tag):\n  %s\n",
			countGuests(len(failed), "could"), strings.Join(failed, "\n  "))
	}
	return nil
}

// importFile is one definition file import writes.
type importFile struct {
	addr resource.Address
	path string // workspace-relative, slash-separated
	data []byte
	vmid int // the guest the file defines; 0 for a pool
}

// planImport decides which live resources to import, under which keys and
// paths, and renders their files. exists reports whether a workspace path is
// taken. It returns the files in a stable order (pools, vms, containers; by
// vmid or pool id) and a message per resource it had to skip.
func planImport(live *resource.Cluster, desired *resource.Set, kinds map[resource.Kind]bool, node, format string, exists func(string) bool) ([]importFile, []string) {
	var files []importFile
	var skipped []string
	taken := map[string]bool{} // paths claimed in this run
	claim := func(addr resource.Address, vmid int, slug string, alt string, render func(key string) ([]byte, error)) {
		key := addr.Name
		for _, candidate := range []struct{ key, slug string }{{key, slug}, {alt, sanitizeSlug(alt)}} {
			if candidate.key == "" {
				continue
			}
			p := kindDir(addr.Kind) + "/" + candidate.slug + "." + format
			if taken[p] || exists(p) {
				continue
			}
			data, err := render(candidate.key)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("skipped %s: %v", addr, err))
				return
			}
			taken[p] = true
			files = append(files, importFile{addr: resource.Address{Kind: addr.Kind, Name: candidate.key}, path: p, data: data, vmid: vmid})
			return
		}
		skipped = append(skipped, fmt.Sprintf("skipped %s: %s/%s.%s exists", addr, kindDir(addr.Kind), slug, format))
	}

	if kinds[resource.KindPool] && node == "" {
		for _, p := range live.Pools {
			if _, ok := desired.Pools[p.ID]; ok {
				continue
			}
			spec := &resource.Pool{}
			if p.Comment != "" {
				spec.Comment = &p.Comment
			}
			addr := resource.Address{Kind: resource.KindPool, Name: p.ID}
			// A pool's key is its id; only the path may differ.
			claim(addr, 0, sanitizeSlug(p.ID), "", func(key string) ([]byte, error) {
				return renderDefinition(resource.KindPool, key, spec, live.Endpoint, "pool "+p.ID, format)
			})
		}
	}

	definedVMID := map[int]bool{}
	definedName := map[resource.Kind]map[string]bool{resource.KindVM: {}, resource.KindContainer: {}}
	usedKey := map[resource.Kind]map[string]bool{resource.KindVM: {}, resource.KindContainer: {}}
	for key, vm := range desired.VMs {
		usedKey[resource.KindVM][key] = true
		if vm.VMID != 0 {
			definedVMID[vm.VMID] = true
		} else {
			definedName[resource.KindVM][cmp.Or(vm.Name, key)] = true
		}
	}
	for key, ct := range desired.Containers {
		usedKey[resource.KindContainer][key] = true
		if ct.VMID != 0 {
			definedVMID[ct.VMID] = true
		} else {
			definedName[resource.KindContainer][cmp.Or(ct.Hostname, key)] = true
		}
	}
	// Names shared by several live guests of a kind get the vmid appended
	// on all of them, so that the result does not depend on order.
	count := map[resource.Kind]map[string]int{resource.KindVM: {}, resource.KindContainer: {}}
	for _, g := range live.Guests {
		if count[g.Kind] != nil && guestName(&g) != "" {
			count[g.Kind][guestName(&g)]++
		}
	}
	for _, kind := range []resource.Kind{resource.KindVM, resource.KindContainer} {
		if !kinds[kind] {
			continue
		}
		for i := range live.Guests {
			g := &live.Guests[i]
			if g.Kind != kind || (node != "" && g.Node != node) || definedVMID[g.VMID] || definedName[kind][guestName(g)] {
				continue
			}
			withID := kindShort(kind) + "-" + strconv.Itoa(g.VMID)
			// The name PVE shows for a guest without one ("CT208") is not
			// in its config, so it is not the guest's name.
			key := guestName(g)
			switch {
			case key == "" || !isDNSName(key):
				key = withID
			case count[kind][key] > 1 || usedKey[kind][key] || sanitizeSlug(key) != strings.ToLower(key):
				key = key + "-" + kindShort(kind) + strconv.Itoa(g.VMID)
			}
			alt := ""
			if key != withID && !strings.HasSuffix(key, kindShort(kind)+strconv.Itoa(g.VMID)) {
				alt = key + "-" + kindShort(kind) + strconv.Itoa(g.VMID)
			}
			usedKey[kind][key] = true
			what := fmt.Sprintf("%s %d on %s", kind, g.VMID, g.Node)
			claim(resource.Address{Kind: kind, Name: key}, g.VMID, sanitizeSlug(key), alt, func(key string) ([]byte, error) {
				var spec any
				switch kind {
				case resource.KindVM:
					vm := pve.ImportVM(g)
					if vm.Name == key {
						vm.Name = "" // defaults to the key
					}
					spec = vm
				default:
					ct := pve.ImportContainer(g)
					if ct.Hostname == key {
						ct.Hostname = ""
					}
					spec = ct
				}
				return renderDefinition(kind, key, spec, live.Endpoint, what, format)
			})
		}
	}
	return files, skipped
}

// guestName is the name a guest's config gives it ("" if none).
func guestName(g *resource.Guest) string {
	if g.Kind == resource.KindContainer {
		return g.Config["hostname"]
	}
	return g.Config["name"]
}

// plainYAML clears the node styles decoding JSON left (every string
// double-quoted, flow collections), so that the encoder picks YAML's own.
func plainYAML(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plainYAML(c)
	}
}

func kindDir(k resource.Kind) string {
	switch k {
	case resource.KindVM:
		return "vms"
	case resource.KindContainer:
		return "containers"
	}
	return "pools"
}

func kindShort(k resource.Kind) string {
	if k == resource.KindContainer {
		return "ct"
	}
	return "vm"
}

// sanitizeSlug turns a name into a file name stem: lower-case letters,
// digits, '-' and '.', no leading dot, never empty, at most 100 bytes.
// Path separators and anything else become '-'.
func sanitizeSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	for strings.Contains(out, "..") {
		out = strings.ReplaceAll(out, "..", ".")
	}
	if len(out) > 100 {
		out = out[:100]
	}
	if out == "" {
		out = "unnamed"
	}
	return out
}

// isDNSName reports whether s is a valid PVE guest name (and so a key a
// definition can use without a separate name field).
func isDNSName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// renderDefinition renders `kind: "key": spec` as a CUE or YAML file in
// the canonical form pmpc fmt produces.
func renderDefinition(kind resource.Kind, key string, spec any, endpoint, what, fmtName string) ([]byte, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("Imported by pmpc import from %s (%s).", endpoint, what)
	var out []byte
	var name string
	switch fmtName {
	case "yaml":
		var body yaml.Node
		if err := yaml.Unmarshal(js, &body); err != nil {
			return nil, err
		}
		plainYAML(&body) // JSON's quoting is not YAML's: quote only where needed
		doc := &yaml.Node{Kind: yaml.MappingNode, HeadComment: header, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: string(kind)},
			{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: key}, body.Content[0]}},
		}}
		if out, err = yaml.Marshal(doc); err != nil {
			return nil, err
		}
		name = "x.yaml"
	default:
		expr, err := cuejson.Extract(string(kind)+"."+key, js)
		if err != nil {
			return nil, err
		}
		st, ok := expr.(*ast.StructLit)
		if !ok {
			return nil, fmt.Errorf("definition of %s.%s is not a struct", kind, key)
		}
		// The fields printed as a file come out one a line; they are then
		// indented into the body of `kind: "key": {...}`.
		fields, err := format.Node(&ast.File{Decls: st.Elts}, format.Simplify())
		if err != nil {
			return nil, err
		}
		label, err := format.Node(ast.NewString(key))
		if err != nil {
			return nil, err
		}
		var body strings.Builder
		for line := range strings.Lines(string(fields)) {
			if strings.TrimSpace(line) != "" {
				body.WriteString("\t")
			}
			body.WriteString(line)
		}
		out = fmt.Appendf(nil, "// %s\n%s: %s: {\n%s}\n", header, kind, label, body.String())
		name = "x.cue"
	}
	canon, err := schema.Format(name, out)
	if err != nil {
		return nil, fmt.Errorf("format the definition: %w", err)
	}
	return canon, nil
}
