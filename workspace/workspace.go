package workspace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/schema"
)

// Workspace is an opened workspace.
type Workspace struct {
	// Root is the absolute directory holding pmpc.cue.
	Root string
	// Config is pmpc.cue, validated.
	Config *Config
	// Stats describes the last Load.
	Stats schema.Stats

	repo *git.Repository
}

// ErrNotFound is returned by Find when no directory holds pmpc.cue.
var ErrNotFound = errors.New("not a pmpc workspace")

// Find opens the workspace holding dir: dir itself or its nearest parent
// with a pmpc.cue.
func Find(dir string) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("find workspace: %w", err)
	}
	for d := abs; ; {
		if st, err := os.Stat(filepath.Join(d, ConfigFile)); err == nil && !st.IsDir() {
			return Open(d)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil, fmt.Errorf("%s (or any parent directory): %w: no %s found; run 'pmpc init' to create one", abs, ErrNotFound, ConfigFile)
		}
		d = parent
	}
}

// Open opens the workspace rooted at root.
func Open(root string) (*Workspace, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open workspace: %w", err)
	}
	cfg, err := ReadConfig(abs)
	if err != nil {
		return nil, err
	}
	return &Workspace{Root: abs, Config: cfg}, nil
}

// CacheDir is where pmpc keeps rebuildable state (.pmpc/), never committed.
func (w *Workspace) CacheDir() string { return filepath.Join(w.Root, ".pmpc") }

// DefinitionExts are the extensions of definition files.
var DefinitionExts = []string{".cue", ".yaml", ".yml", ".json"}

// IsDefinition reports whether a file name is a definition file by its
// extension.
func IsDefinition(name string) bool {
	return slices.Contains(DefinitionExts, strings.ToLower(filepath.Ext(name)))
}

// Files lists the workspace's definition files, relative to Root with
// forward slashes, sorted. It skips pmpc.cue, files and directories whose
// name starts with "." (.git, .pmpc, .github, .gitlab-ci.yml, ...),
// cue.mod, paths ignored by .gitignore files inside the workspace or by
// .git/info/exclude, and the config's ignore patterns.
func (w *Workspace) Files() ([]string, error) {
	var patterns []gitignore.Pattern
	if b, err := os.ReadFile(filepath.Join(w.Root, ".git", "info", "exclude")); err == nil {
		patterns = append(patterns, parsePatterns(b, nil)...)
	}
	for _, p := range w.Config.Ignore {
		patterns = append(patterns, gitignore.ParsePattern(p, nil))
	}
	var out []string
	err := filepath.WalkDir(w.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.Root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			patterns = append(patterns, readIgnore(p, nil)...)
			return nil
		}
		name := d.Name()
		parts := strings.Split(rel, "/")
		if strings.HasPrefix(name, ".") || (d.IsDir() && name == "cue.mod") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if len(patterns) > 0 && gitignore.NewMatcher(patterns).Match(parts, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			patterns = append(patterns, readIgnore(p, parts)...)
			return nil
		}
		if rel == ConfigFile || !IsDefinition(name) || !d.Type().IsRegular() {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list definition files: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

func readIgnore(dir string, domain []string) []gitignore.Pattern {
	b, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if err != nil {
		return nil
	}
	return parsePatterns(b, domain)
}

func parsePatterns(b []byte, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, slices.Clone(domain)))
	}
	return ps
}

// Load validates and decodes every definition of the workspace, with the
// config's defaults applied and Origins filled. Invalid definitions are a
// *schema.Errors. Loads are incremental through a cache in .pmpc/cache.
func (w *Workspace) Load() (*resource.Set, error) {
	files, err := w.Files()
	if err != nil {
		return nil, err
	}
	l := &schema.Loader{
		Root:     w.Root,
		CacheDir: filepath.Join(w.CacheDir(), "cache"),
		Defaults: schema.Defaults{Node: w.Config.Defaults.Node, Storage: w.Config.Defaults.Storage, Bridge: w.Config.Defaults.Bridge},
	}
	set, err := l.Load(files)
	w.Stats = l.Stats
	return set, err
}

// Repo opens the git repository the workspace lives in (the workspace may
// be a subdirectory of it).
func (w *Workspace) Repo() (*git.Repository, error) {
	if w.repo != nil {
		return w.repo, nil
	}
	r, err := git.PlainOpenWithOptions(w.Root, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open git repository of %s: %w", w.Root, err)
	}
	w.repo = r
	return r, nil
}
