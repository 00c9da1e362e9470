package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	cuejson "cuelang.org/go/encoding/json"
	cueyaml "cuelang.org/go/encoding/yaml"

	"gopkg.in/yaml.v3"

	"github.com/pmpc-dev/pmpc/resource"
)

// Loader loads the definition files of one workspace.
type Loader struct {
	// Root is the workspace root. File names given to Load and printed in
	// errors are relative to it.
	Root string
	// CacheDir, when set, holds validated and decoded definitions by
	// content hash, so that a load evaluates only what changed. Anything in
	// it may be deleted at any time.
	CacheDir string
	// Defaults fill fields that definitions leave unset.
	Defaults Defaults
	// Stats describes the last Load.
	Stats Stats
}

// Defaults are the workspace-wide defaults of pmpc.cue (defaults: {...}).
type Defaults struct {
	// Node is the node of guests that name none.
	Node string
	// Storage is the storage of new disks, mount points and root
	// filesystems that name neither a storage nor a volume.
	Storage string
	// Bridge is the bridge of network devices that name none.
	Bridge string
}

// Stats says how much work a load did.
type Stats struct {
	Files     int // definition files
	Policies  int // CUE files that are more than plain data
	Evaluated int // files evaluated by CUE in this load
	Cached    int // files taken from the cache unevaluated
	Full      bool
}

// Load validates and decodes the given definition files (paths relative to
// root) with no cache. See Loader.Load.
func Load(root string, files []string) (*resource.Set, error) {
	l := &Loader{Root: root}
	return l.Load(files)
}

// Load validates the definition files (paths relative to l.Root, .cue,
// .yaml, .yml or .json) against the schema and decodes them into a set.
//
// On invalid definitions the error is *Errors listing every problem found.
// Other errors (unreadable files) are returned as they are.
func (l *Loader) Load(files []string) (set *resource.Set, err error) {
	current := ""
	defer func() {
		if r := recover(); r != nil {
			set = nil
			err = &Errors{List: []Error{{File: current, Msg: fmt.Sprintf("internal error while loading definitions: %v (please report this)", r)}}}
		}
	}()
	l.Stats = Stats{Files: len(files)}
	fs, err := l.readAll(files)
	if err != nil {
		return nil, err
	}
	return l.load(fs, &current)
}

// file is one definition file in the course of a load.
type file struct {
	rel    string
	src    []byte
	hash   string
	syntax *ast.File // nil until parsed, or on a syntax error
	plain  *plainFile
	policy bool
	errs   []Error // syntax and shape errors
	cached *cacheEntry
}

// readAll reads and hashes the files concurrently.
func (l *Loader) readAll(files []string) ([]*file, error) {
	fs := make([]*file, len(files))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < max(2, runtime.GOMAXPROCS(0)*2); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rel := filepath.ToSlash(files[i])
				src, err := os.ReadFile(filepath.Join(l.Root, filepath.FromSlash(rel)))
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("read definitions: %w", err)
					}
					mu.Unlock()
					continue
				}
				h := sha256.Sum256(src)
				fs[i] = &file{rel: rel, src: src, hash: hex.EncodeToString(h[:16])}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	kept := fs[:0]
	for _, f := range fs {
		if !isForeignData(f.rel, f.src) {
			kept = append(kept, f)
		}
	}
	return kept, nil
}

// parseAll parses the files that have no syntax yet, concurrently.
func parseAll(fs []*file) {
	var wg sync.WaitGroup
	next := make(chan *file)
	for w := 0; w < max(1, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range next {
				f.parse()
			}
		}()
	}
	for _, f := range fs {
		if f.syntax == nil && f.errs == nil {
			next <- f
		}
	}
	close(next)
	wg.Wait()
}

// parse parses one file into CUE syntax and classifies it as plain data
// or policy.
func (f *file) parse() {
	defer func() {
		if r := recover(); r != nil {
			f.syntax = nil
			f.errs = []Error{{File: f.rel, Msg: fmt.Sprintf("cannot read this file: %v", r)}}
		}
	}()
	var (
		syn *ast.File
		err error
	)
	switch strings.ToLower(path.Ext(f.rel)) {
	case ".cue":
		syn, err = parser.ParseFile(f.rel, f.src)
	case ".yaml", ".yml":
		syn, err = cueyaml.Extract(f.rel, f.src)
		if err != nil {
			f.errs = yamlErrors(f.rel, f.src, err)
			return
		}
		if err == nil {
			for _, d := range syn.Decls {
				if _, ok := d.(*ast.EmbedDecl); ok {
					f.errs = []Error{{File: f.rel, Line: 1, Col: 1, Msg: "not one YAML mapping; a definition file holds one YAML document, a mapping with vm, container or pool at its top level"}}
					return
				}
			}
		}
	case ".json":
		var x ast.Expr
		x, err = cuejson.Extract(f.rel, f.src)
		if err == nil {
			s, ok := x.(*ast.StructLit)
			if !ok {
				fl, l, c := posOf(x.Pos())
				f.errs = []Error{{File: fl, Line: l, Col: c, Msg: "not a JSON object; a definition file holds one JSON object with vm, container or pool at its top level"}}
				return
			}
			syn = &ast.File{Filename: f.rel, Decls: s.Elts}
		}
	default:
		f.errs = []Error{{File: f.rel, Msg: "not a definition file: want .cue, .yaml, .yml or .json"}}
		return
	}
	if err != nil {
		f.errs = syntaxErrors(f.rel, err)
		return
	}
	f.syntax = syn
	pf, err := literalFile(syn)
	if err != nil {
		f.policy = true
		return
	}
	f.plain = pf
}

// syntaxErrors converts a parser error.
func syntaxErrors(rel string, err error) []Error {
	var out []Error
	for _, e := range cueerrors.Errors(err) {
		msg := strings.Replace(e.Error(), fmt.Sprintf(" for file %q", rel), "", 1)
		x := Error{File: rel, Msg: msg}
		if fl, l, c := posOf(e.Position()); fl != "" {
			x.File, x.Line, x.Col = fl, l, c
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		out = []Error{{File: rel, Msg: err.Error()}}
	}
	return out
}

// cacheKey identifies everything besides a plain file's own content that
// its cached result depends on: the schema, pmpc itself and the policies.
func cacheKey(policies []*file) string {
	h := sha256.New()
	fmt.Fprintf(h, "format %d\nschema %s\n", cacheFormat, Hash())
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(h, "go %s\nmain %s %s\n", bi.GoVersion, bi.Main.Path, bi.Main.Version)
		for _, s := range bi.Settings {
			if strings.HasPrefix(s.Key, "vcs.") {
				fmt.Fprintf(h, "%s=%s\n", s.Key, s.Value)
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			fmt.Fprintf(h, "exe %d %d\n", st.Size(), st.ModTime().UnixNano())
		}
	}
	for _, p := range policies {
		fmt.Fprintf(h, "policy %s %s\n", p.rel, p.hash)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (l *Loader) load(fs []*file, current *string) (*resource.Set, error) {
	var errs Errors
	cache := l.readCache()

	// Files unchanged since the cache was written keep their class; the
	// others are parsed to learn theirs.
	var fresh []*file
	for _, f := range fs {
		if e := cache.Files[f.rel]; e != nil && e.Hash == f.hash {
			f.cached = e
			f.policy = e.Policy
			continue
		}
		fresh = append(fresh, f)
	}
	parseAll(fresh)
	var policies []*file
	for _, f := range fs {
		if f.policy {
			policies = append(policies, f)
		}
	}
	key := cacheKey(policies)
	if key != cache.Key {
		for _, f := range fs {
			if f.cached != nil {
				f.cached = nil
				fresh = append(fresh, f)
			}
		}
		parseAll(fresh)
	}
	l.Stats.Policies = len(policies)

	// With policies every file is evaluated together, unless nothing at all
	// changed since the cache was written.
	full := false
	if len(policies) > 0 {
		unchanged := len(cache.Files) == len(fs)
		for _, f := range fs {
			if f.cached == nil {
				unchanged = false
				break
			}
		}
		if !unchanged {
			full = true
			for _, f := range fs {
				if f.cached != nil {
					f.cached = nil
					fresh = append(fresh, f)
				}
			}
			parseAll(fresh)
		}
	}
	l.Stats.Full = full

	for _, f := range fs {
		errs.add(f.errs...)
	}

	// Names and their positions, for duplicates and origins.
	defs := map[resource.Address][]def{}
	for _, f := range fs {
		switch {
		case f.cached != nil:
			for _, n := range f.cached.Names {
				a := resource.Address{Kind: resource.Kind(n.Kind), Name: n.Name}
				defs[a] = append(defs[a], def{file: f.rel, line: n.Line, col: n.Col})
			}
		case f.syntax != nil:
			for _, n := range resourceLabels(f.syntax) {
				_, ln, c := posOf(n.pos)
				c = f.labelCol(ln, c)
				defs[n.addr] = append(defs[n.addr], def{file: f.rel, line: ln, col: c})
			}
		}
	}
	set := resource.NewSet()
	for a, ds := range defs {
		firsts := firstPerFile(ds)
		set.Origins[a] = firsts[0].origin()
		if len(firsts) < 2 {
			continue
		}
		for i, d := range firsts {
			var also []string
			for j, o := range firsts {
				if j != i {
					also = append(also, o.origin().String())
				}
			}
			errs.add(Error{File: d.file, Line: d.line, Col: d.col, Path: a.String(),
				Msg: fmt.Sprintf("defined more than once (also at %s); define a resource in one file only", strings.Join(also, ", "))})
		}
	}
	origin := func(p []string) (string, int, int) {
		if len(p) >= 2 {
			a := resource.Address{Kind: resource.Kind(p[0]), Name: unquote(p[1])}
			if o, ok := set.Origins[a]; ok {
				return o.File, o.Line, o.Col
			}
		}
		return "", 0, 0
	}

	// Evaluate what the cache cannot answer.
	var eval []*file
	for _, f := range fs {
		if f.cached == nil && f.syntax != nil {
			eval = append(eval, f)
		}
	}
	l.Stats.Evaluated = len(eval)
	l.Stats.Cached = len(fs) - len(eval)
	var val cue.Value
	if len(eval) > 0 {
		*current = ""
		v, verrs := evaluate(eval, origin)
		val = v
		// Files are checked in Go as well, for what CUE leaves unsaid once
		// a file has a value error: unknown fields (in the regular fields
		// every file writes literally) and, in plain files without
		// policies, missing required fields and invalid names. CUE's report
		// of the same problem is then dropped.
		var mine, unknown []Error
		for _, f := range eval {
			*current = f.rel
			unknown = append(unknown, f.checkShape()...)
			if f.plain == nil {
				continue
			}
			mine = append(mine, topLevelErrors(f)...)
			if len(policies) == 0 {
				mine = append(mine, f.checkValues(l.Defaults.Node != "")...)
			}
		}
		mine = append(mine, unknown...)
		errs.add(mine...)
		errs.add(withoutRepeats(verrs, mine, unknown)...)
		if full {
			errs.add(valueTopLevelErrors(val)...)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}

	// Decode.
	entries := map[string]*cacheEntry{}
	for _, f := range fs {
		*current = f.rel
		if f.cached != nil {
			entries[f.rel] = f.cached
			if err := f.cached.addTo(set); err != nil {
				return nil, fmt.Errorf("read definitions cache: %w", err)
			}
			continue
		}
		e := &cacheEntry{Hash: f.hash, Policy: f.policy}
		for _, n := range resourceLabels(f.syntax) {
			_, ln, c := posOf(n.pos)
			c = f.labelCol(ln, c)
			e.Names = append(e.Names, cachedName{Kind: string(n.addr.Kind), Name: n.addr.Name, Line: ln, Col: c})
		}
		entries[f.rel] = e
		if full {
			continue
		}
		if err := decodePlain(f, e, set); err != nil {
			errs.add(Error{File: f.rel, Msg: err.Error()})
		}
	}
	if full {
		if err := decodeValue(val, set, entries); err != nil {
			errs.add(Error{Msg: err.Error()})
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	errs.add(checkNames(set)...)
	errs.add(l.Defaults.apply(set)...)
	if err := errs.err(); err != nil {
		return nil, err
	}
	if len(eval) > 0 || len(cache.Files) != len(fs) {
		l.writeCache(&cacheFile{Key: key, Files: entries})
	}
	return set, nil
}

// def is one place a resource name is written.
type def struct {
	file      string
	line, col int
}

func (d def) origin() resource.Origin { return resource.Origin{File: d.file, Line: d.line, Col: d.col} }

// firstPerFile returns the first place in each file, ordered by file.
func firstPerFile(ds []def) []def {
	slices.SortFunc(ds, func(x, y def) int {
		if c := strings.Compare(x.file, y.file); c != 0 {
			return c
		}
		if x.line != y.line {
			return x.line - y.line
		}
		return x.col - y.col
	})
	out := ds[:0:0]
	for _, d := range ds {
		if len(out) == 0 || out[len(out)-1].file != d.file {
			out = append(out, d)
		}
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// evaluate builds one instance of the schema and the files and validates
// it.
func evaluate(fs []*file, origin func([]string) (string, int, int)) (cue.Value, []Error) {
	sch, err := parseSchema()
	if err != nil {
		return cue.Value{}, []Error{{Msg: "embedded schema: " + err.Error()}}
	}
	inst := build.NewContext().NewInstance("", nil)
	inst.User = true
	inst.PkgName = "pmpc"
	if err := inst.AddSyntax(sch); err != nil {
		return cue.Value{}, ErrorsFromCUE(err, origin)
	}
	for _, f := range fs {
		_ = inst.AddSyntax(f.syntax)
	}
	if inst.Err != nil {
		return cue.Value{}, ErrorsFromCUE(inst.Err, origin)
	}
	ctx := cuecontext.New()
	v := ctx.BuildInstance(inst)
	var out []Error
	if err := v.Err(); err != nil {
		out = ErrorsFromCUE(err, origin)
	}
	if err := v.Validate(cue.Concrete(true)); err != nil {
		out = append(out, ErrorsFromCUE(err, origin)...)
	}
	return v, out
}

// withoutRepeats drops the errors of list that mine reports too (the same
// file, path and message, perhaps at another position) and those inside a
// field that unknown reports as not allowed.
func withoutRepeats(list, mine, unknown []Error) []Error {
	if len(mine) == 0 {
		return list
	}
	type key struct{ file, path, msg string }
	seen := make(map[key]bool, len(mine))
	for _, e := range mine {
		seen[key{e.File, e.Path, e.Msg}] = true
	}
	type place struct{ file, path string }
	gone := make(map[place]bool, len(unknown))
	for _, e := range unknown {
		gone[place{e.File, e.Path}] = true
	}
	out := list[:0:0]
	for _, e := range list {
		if seen[key{e.File, e.Path, e.Msg}] {
			continue
		}
		inside := false
		for p := e.Path; !inside; {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
			inside = gone[place{e.File, p}]
		}
		if !inside {
			out = append(out, e)
		}
	}
	return out
}

// kindNames is how errors name the allowed top-level fields.
const kindNames = "vm, container and pool"

// topLevelErrors reports top-level fields of a plain file that are not a
// kind.
func topLevelErrors(f *file) []Error {
	var out []Error
	for _, t := range f.plain.top {
		if resource.Kind(t.name).Valid() {
			continue
		}
		fl, l, c := posOf(t.pos)
		if fl == "" {
			fl = f.rel
		}
		out = append(out, Error{File: fl, Line: l, Col: c, Path: t.name,
			Msg: topLevelMessage(t.name)})
	}
	return out
}

// topLevelMessage is the message for a top-level field that is not a kind.
func topLevelMessage(name string) string {
	msg := "field not allowed: the top level of a definition file holds " + kindNames
	kinds := make([]string, len(resource.Kinds))
	for i, k := range resource.Kinds {
		kinds[i] = string(k)
	}
	if s := closest(strings.TrimSuffix(strings.ToLower(name), "s"), kinds); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return msg
}

// valueTopLevelErrors reports regular top-level fields that are not a kind.
func valueTopLevelErrors(v cue.Value) []Error {
	it, err := v.Fields()
	if err != nil {
		return nil
	}
	var out []Error
	for it.Next() {
		name := it.Selector().Unquoted()
		if resource.Kind(name).Valid() {
			continue
		}
		fl, l, c := posOf(it.Value().Pos())
		out = append(out, Error{File: fl, Line: l, Col: c, Path: name,
			Msg: topLevelMessage(name)})
	}
	return out
}

// resourceLabel is a resource name as written in a file.
type resourceLabel struct {
	addr resource.Address
	pos  token.Pos
}

// resourceLabels finds the concrete kind.name labels of a file: `vm:
// "web": {...}` and `vm: {web: ...}` (patterns and comprehensions are not
// names).
func resourceLabels(f *ast.File) []resourceLabel {
	var out []resourceLabel
	for _, d := range f.Decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		kind, ok := concreteLabel(fd.Label)
		if !ok || !resource.Kind(kind).Valid() {
			continue
		}
		s, ok := fd.Value.(*ast.StructLit)
		if !ok {
			continue
		}
		for _, e := range s.Elts {
			nf, ok := e.(*ast.Field)
			if !ok || nf.Constraint != token.ILLEGAL {
				continue
			}
			name, ok := concreteLabel(nf.Label)
			if !ok {
				continue
			}
			out = append(out, resourceLabel{addr: resource.Address{Kind: resource.Kind(kind), Name: name}, pos: nf.Label.Pos()})
		}
	}
	return out
}

func concreteLabel(l ast.Label) (string, bool) {
	switch l := l.(type) {
	case *ast.Ident:
		if strings.HasPrefix(l.Name, "#") || strings.HasPrefix(l.Name, "_") {
			return "", false
		}
		return l.Name, true
	case *ast.BasicLit:
		if l.Kind != token.STRING {
			return "", false
		}
		s, err := literal.Unquote(l.Value)
		return s, err == nil
	}
	return "", false
}

// decodePlain decodes a plain file's resources from its literals.
func decodePlain(f *file, e *cacheEntry, set *resource.Set) error {
	for _, k := range resource.Kinds {
		m, ok := f.plain.data[string(k)].(map[string]any)
		if !ok {
			continue
		}
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			raw, err := json.Marshal(m[n])
			if err != nil {
				return fmt.Errorf("%s.%s: %w", k, n, err)
			}
			r := cachedResource{Kind: string(k), Name: n, Spec: raw}
			if err := r.addTo(set); err != nil {
				return err
			}
			e.Resources = append(e.Resources, r)
		}
	}
	return nil
}

// userPos returns a position of v in a user's file: v's own, else that of
// one of its fields (down to depth levels), else none. A value built from
// an embedded struct or a comprehension may have its first position in the
// schema, where no error may point.
func userPos(v cue.Value, depth int) (string, int, int) {
	if fl, l, c := posOf(v.Pos()); fl != "" && !strings.HasPrefix(fl, "pmpc:") {
		return fl, l, c
	}
	if depth == 0 {
		return "", 0, 0
	}
	it, err := v.Fields(cue.Optional(false))
	if err != nil {
		return "", 0, 0
	}
	for it.Next() {
		if fl, l, c := userPos(it.Value(), depth-1); fl != "" {
			return fl, l, c
		}
	}
	return "", 0, 0
}

// decodeValue decodes every resource from an evaluated value and files
// each under the cache entry of its origin.
func decodeValue(v cue.Value, set *resource.Set, entries map[string]*cacheEntry) error {
	for _, k := range resource.Kinds {
		kv := v.LookupPath(cue.MakePath(cue.Str(string(k))))
		if !kv.Exists() {
			continue
		}
		it, err := kv.Fields()
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		for it.Next() {
			name := it.Selector().Unquoted()
			raw, err := it.Value().MarshalJSON()
			if err != nil {
				return fmt.Errorf("%s.%s: %w", k, name, err)
			}
			r := cachedResource{Kind: string(k), Name: name, Spec: raw}
			if err := r.addTo(set); err != nil {
				return err
			}
			a := resource.Address{Kind: k, Name: name}
			o, ok := set.Origins[a]
			if !ok {
				fl, l, c := userPos(it.Value(), 3)
				o = resource.Origin{File: fl, Line: l, Col: c}
				set.Origins[a] = o
			}
			e := entries[o.File]
			if e == nil {
				e = &cacheEntry{}
				entries[o.File] = e
			}
			r.Line, r.Col = o.Line, o.Col
			e.Resources = append(e.Resources, r)
		}
	}
	return nil
}

// checkNames checks resource keys and fills the names that default to
// them.
func checkNames(set *resource.Set) []Error {
	var out []Error
	bad := func(a resource.Address, msg string) {
		if msg == "" {
			return
		}
		o := set.Origins[a]
		out = append(out, Error{File: o.File, Line: o.Line, Col: o.Col, Path: a.String(), Msg: msg})
	}
	for n, vm := range set.VMs {
		msg := nameProblem(string(resource.KindVM), n, vm.Name != "")
		bad(resource.Address{Kind: resource.KindVM, Name: n}, msg)
		if msg == "" && vm.Name == "" {
			vm.Name = n
		}
	}
	for n, ct := range set.Containers {
		msg := nameProblem(string(resource.KindContainer), n, ct.Hostname != "")
		bad(resource.Address{Kind: resource.KindContainer, Name: n}, msg)
		if msg == "" && ct.Hostname == "" {
			ct.Hostname = n
		}
	}
	for n := range set.Pools {
		bad(resource.Address{Kind: resource.KindPool, Name: n}, nameProblem(string(resource.KindPool), n, false))
	}
	return out
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// yamlErrors positions a YAML syntax error: CUE's decoder drops the line,
// so the document is parsed once more to learn it.
func yamlErrors(rel string, src []byte, err error) []Error {
	var n yaml.Node
	if yerr := yaml.Unmarshal(src, &n); yerr != nil {
		if m := yamlLineRE.FindStringSubmatch(yerr.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return []Error{{File: rel, Line: line, Col: 1, Msg: m[2]}}
		}
		return []Error{{File: rel, Msg: strings.TrimPrefix(yerr.Error(), "yaml: ")}}
	}
	return syntaxErrors(rel, err)
}

// apply fills the defaults into the set and reports guests left without a
// node.
func (d Defaults) apply(set *resource.Set) []Error {
	var out []Error
	noNode := func(a resource.Address) {
		o := set.Origins[a]
		out = append(out, Error{File: o.File, Line: o.Line, Col: o.Col, Path: a.String() + ".node", Msg: missingNode})
	}
	for n, vm := range set.VMs {
		if vm.Node == "" {
			if d.Node == "" {
				noNode(resource.Address{Kind: resource.KindVM, Name: n})
			}
			vm.Node = d.Node
		}
		for slot, disk := range vm.Disks {
			// A CD-ROM drive holds a medium, not storage: an empty one
			// stays empty rather than becoming an allocation.
			if disk.Storage == "" && disk.Volume == "" && disk.Media != "cdrom" && d.Storage != "" {
				disk.Storage = d.Storage
				vm.Disks[slot] = disk
			}
		}
		for slot, nic := range vm.Networks {
			if nic.Bridge == "" && d.Bridge != "" {
				nic.Bridge = d.Bridge
				vm.Networks[slot] = nic
			}
		}
	}
	for n, ct := range set.Containers {
		if ct.Node == "" {
			if d.Node == "" {
				noNode(resource.Address{Kind: resource.KindContainer, Name: n})
			}
			ct.Node = d.Node
		}
		if ct.RootFS != nil && ct.RootFS.Storage == "" && ct.RootFS.Volume == "" {
			ct.RootFS.Storage = d.Storage
		}
		for slot, m := range ct.Mounts {
			if m.Storage == "" && m.Volume == "" && d.Storage != "" {
				m.Storage = d.Storage
				ct.Mounts[slot] = m
			}
		}
		for slot, nic := range ct.Networks {
			if nic.Bridge == "" && d.Bridge != "" {
				nic.Bridge = d.Bridge
				ct.Networks[slot] = nic
			}
		}
	}
	return out
}

// labelCol corrects the column of a quoted label in a JSON file, which
// CUE's JSON decoder places one past the opening quote.
func (f *file) labelCol(line, col int) int {
	if !strings.EqualFold(path.Ext(f.rel), ".json") || line < 1 || col < 2 {
		return col
	}
	start := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(f.src[start:], '\n')
		if i < 0 {
			return col
		}
		start += i + 1
	}
	if i := start + col - 2; i < len(f.src) && f.src[i] == '"' {
		return col - 1
	}
	return col
}
