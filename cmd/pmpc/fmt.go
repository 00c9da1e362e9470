package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/schema"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newFmtCmd) }

type fmtOptions struct {
	check bool
	files []string
}

func newFmtCmd(g *globals) *cobra.Command {
	o := &fmtOptions{}
	cmd := &cobra.Command{
		Use:   "fmt [--check] [FILES...]",
		Short: "Rewrite definition files in canonical format",
		Long: `Fmt rewrites definition files in their canonical format:

  .cue            as 'cue fmt' prints it (tabs, aligned, simplified labels)
  .yaml, .yml     mapping keys sorted, 2-space indentation, block style;
                  comments are kept
  .json           object keys sorted, 2-space indentation

Without FILES it formats pmpc.cue and every definition file of the
workspace. It prints the name of each file it rewrote.

With --check it writes nothing: it lists the files that are not in
canonical format and exits 1 when there are any (for CI).

Examples:
  pmpc fmt
  pmpc fmt vms/web.cue vms/db.yaml
  pmpc fmt --check
` + exitCodeHelp + `

A file that does not parse is reported as file:line:col and gives exit code 3.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.files = args
			return runFmt(g, o)
		},
	}
	cmd.Flags().BoolVar(&o.check, "check", false, "list files that are not formatted and exit 1; write nothing")
	return cmd
}

func runFmt(g *globals, o *fmtOptions) error {
	var paths []string // as printed
	var base string    // directory the printed paths are relative to
	if len(o.files) > 0 {
		base = g.dir
		paths = o.files
	} else {
		ws, err := g.workspace()
		if err != nil {
			return err
		}
		files, err := ws.Files()
		if err != nil {
			return withCode(exitError, err)
		}
		base = ws.Root
		paths = append([]string{workspace.ConfigFile}, files...)
	}
	var (
		errs    []schema.Error
		changed []string
	)
	for _, p := range paths {
		full := p
		if base != "" && !filepath.IsAbs(p) {
			full = filepath.Join(base, p)
		}
		src, err := os.ReadFile(full)
		if err != nil {
			return withCode(exitError, fmt.Errorf("fmt: %w", err))
		}
		out, err := schema.Format(filepath.ToSlash(p), src)
		var se *schema.Errors
		if errors.As(err, &se) {
			errs = append(errs, se.List...)
			continue
		}
		if err != nil {
			return withCode(exitError, err)
		}
		if bytes.Equal(out, src) {
			continue
		}
		changed = append(changed, p)
		if o.check {
			continue
		}
		if err := writeFilePreserving(full, out); err != nil {
			return withCode(exitError, fmt.Errorf("fmt: %w", err))
		}
	}
	slices.Sort(changed)
	for _, p := range changed {
		fmt.Fprintln(g.stdout, filepath.ToSlash(p))
	}
	if len(errs) > 0 {
		return g.definitionsError(schema.NewErrors(errs))
	}
	if o.check && len(changed) > 0 {
		return withCode(exitError, nil)
	}
	return nil
}

// writeFilePreserving replaces a file's content, keeping its mode. It
// writes a temporary file beside it and renames it into place, so that an
// interrupted fmt leaves either the old file or the new one, never half.
func writeFilePreserving(name string, b []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(name); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".pmpc-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return os.Rename(tmp.Name(), name)
}
