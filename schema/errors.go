package schema

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// Error is one problem in a definition file, positioned in the user's file.
type Error struct {
	// File is workspace-relative, with forward slashes. It is empty only
	// for problems that belong to no file.
	File string
	Line int
	Col  int
	// Path is the field path in definition terms, e.g. "vm.web-01.cores".
	// It may be empty (syntax errors).
	Path string
	Msg  string
	// Detail is CUE's own wording of the problem when Msg says it in other
	// words (e.g. the raw constraint), for debugging; it is not printed.
	Detail string
}

// String prints the error as "file:line:col: path: message".
func (e Error) String() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e Error) less(o Error) bool {
	if e.File != o.File {
		return e.File < o.File
	}
	if e.Line != o.Line {
		return e.Line < o.Line
	}
	if e.Col != o.Col {
		return e.Col < o.Col
	}
	if e.Path != o.Path {
		return e.Path < o.Path
	}
	return e.Msg < o.Msg
}

// Errors is the list of every problem found in a workspace's definitions,
// sorted by file and position and without duplicates. Commands map it to
// the "invalid definitions" exit code.
type Errors struct {
	List []Error
}

// Error prints one problem per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.String()
	}
	return strings.Join(lines, "\n")
}

// NewErrors returns the problems as *Errors, sorted and deduplicated, or nil
// when there are none.
func NewErrors(list []Error) error {
	e := &Errors{List: list}
	return e.err()
}

// add appends problems.
func (e *Errors) add(x ...Error) { e.List = append(e.List, x...) }

// err sorts and deduplicates the list and returns it as an error, or nil
// when it is empty.
func (e *Errors) err() error {
	if len(e.List) == 0 {
		return nil
	}
	// A position inside the embedded schema means nothing to a user: such
	// an error is reported without a position rather than pointing there.
	for i := range e.List {
		if strings.HasPrefix(e.List[i].File, "pmpc:") {
			e.List[i].File, e.List[i].Line, e.List[i].Col = "", 0, 0
		}
	}
	slices.SortFunc(e.List, func(a, b Error) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	e.List = slices.CompactFunc(e.List, func(a, b Error) bool {
		return a.File == b.File && a.Line == b.Line && a.Col == b.Col && a.Path == b.Path && a.Msg == b.Msg
	})
	return e
}

// schemaFile marks positions inside the embedded schema; errors are never
// reported there.
const schemaFile = "pmpc:schema/pmpc.cue"

// posOf converts a CUE position to file, line and column.
func posOf(p token.Pos) (string, int, int) {
	if !p.IsValid() {
		return "", 0, 0
	}
	return filepath.ToSlash(p.Filename()), p.Line(), p.Column()
}

// cueErr is a CUE error on its way to an Error.
type cueErr struct {
	x      Error
	path   []string // unquoted labels
	raw    string   // CUE's message
	suffix string   // " (constraint at ...)"
	// given and want are set when a disjunction's alternatives are merged.
	given string
	want  []string
	drop  bool
}

// ErrorsFromCUE converts a CUE error into positioned errors. Among an
// error's positions it picks the first one in a user file; when there is
// none, fallback (may be nil) is asked for a position by field path.
// Messages say in words what a field of pmpc's schema wants (CUE's own
// wording is kept in Detail). Messages about secrets never repeat the
// value.
func ErrorsFromCUE(err error, fallback func(path []string) (string, int, int)) []Error {
	var list []*cueErr
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		path := e.Path()
		ce := &cueErr{x: Error{Path: joinPath(path)}, raw: msg}
		for _, p := range path {
			ce.path = append(ce.path, unquote(p))
		}
		// Prefer the position in the file that defines the resource; name
		// a constraint from another file (a policy) in the message.
		home := ""
		if fallback != nil {
			home, _, _ = fallback(path)
		}
		var user []Error
		for _, p := range cueerrors.Positions(e) {
			f, l, c := posOf(p)
			if f == "" || strings.HasPrefix(f, "pmpc:") {
				continue
			}
			user = append(user, Error{File: f, Line: l, Col: c})
		}
		pick := -1
		for i, u := range user {
			if u.File == home {
				pick = i
				break
			}
		}
		if pick < 0 && len(user) > 0 {
			pick = 0
		}
		if pick >= 0 {
			ce.x.File, ce.x.Line, ce.x.Col = user[pick].File, user[pick].Line, user[pick].Col
			for _, u := range user {
				if u.File != ce.x.File {
					ce.suffix = fmt.Sprintf(" (constraint at %s:%d:%d)", u.File, u.Line, u.Col)
					break
				}
			}
		} else if fallback != nil {
			ce.x.File, ce.x.Line, ce.x.Col = fallback(path)
		}
		list = append(list, ce)
	}
	mergeDisjunctions(list)
	s := schemaShape()
	var out []Error
	for _, ce := range list {
		if ce.drop {
			continue
		}
		x := ce.x
		if ce.want != nil {
			x.Msg = s.disjunctionMessage(ce)
		} else {
			x.Msg = s.rewriteMessage(ce.path, ce.raw)
		}
		x.Msg += ce.suffix
		if x.Msg != ce.raw+ce.suffix {
			x.Detail = ce.raw + ce.suffix
		}
		out = append(out, x)
	}
	return out
}

var (
	emptyDisjRE  = regexp.MustCompile(`^[0-9]+ errors in empty disjunction:?$`)
	conflictRE   = regexp.MustCompile(`^conflicting values (.+?) and (.+?)( \(mismatched types (\S+) and (\S+)\))?$`)
	boundRE      = regexp.MustCompile(`^invalid value (.+) \(out of bound (.+)\)$`)
	numBoundRE   = regexp.MustCompile(`^(>=|<=|>|<)(-?[0-9][0-9_.]*)$`)
	incompleteRE = regexp.MustCompile(`^incomplete value (.+)$`)
	maxRunesRE   = regexp.MustCompile(`^invalid value .* \(does not satisfy strings\.MaxRunes\(([0-9]+)\)\)$`)
)

// mergeDisjunctions replaces CUE's report of a value that matches no
// alternative ("2 errors in empty disjunction" plus one error per
// alternative) by one error that lists the alternatives.
func mergeDisjunctions(list []*cueErr) {
	byPath := map[string][]*cueErr{}
	var paths []string
	for _, e := range list {
		if _, ok := byPath[e.x.Path]; !ok {
			paths = append(paths, e.x.Path)
		}
		byPath[e.x.Path] = append(byPath[e.x.Path], e)
	}
	for _, p := range paths {
		group := byPath[p]
		var head *cueErr
		for _, e := range group {
			if emptyDisjRE.MatchString(e.raw) {
				head = e
			}
		}
		if head == nil {
			continue
		}
		var parts [][]string
		count := map[string]int{}
		var order []string
		var subs []*cueErr
		for _, e := range group {
			if e == head {
				continue
			}
			var p []string
			if m := conflictRE.FindStringSubmatch(e.raw); m != nil {
				p = []string{m[1], m[2]}
			} else if m := boundRE.FindStringSubmatch(e.raw); m != nil {
				p = []string{m[1], m[2]}
			} else {
				continue
			}
			subs = append(subs, e)
			parts = append(parts, p)
			for _, t := range p {
				if count[t] == 0 {
					order = append(order, t)
				}
				count[t]++
			}
		}
		given := ""
		for _, t := range order {
			if count[t] == len(parts) && len(parts) > 1 {
				given = t
				break
			}
		}
		if given == "" {
			head.drop = len(subs) > 0
			continue
		}
		var want []string
		for _, t := range order {
			if t != given && !((t == "true" || t == "false") && count["bool"] > 0) {
				want = append(want, t)
			}
		}
		x := subs[0]
		head.x.File, head.x.Line, head.x.Col = x.x.File, x.x.Line, x.x.Col
		head.suffix = x.suffix
		head.given, head.want = given, want
		head.raw = fmt.Sprintf("invalid value %s (want %s)", given, strings.Join(want, " or "))
		for _, e := range subs {
			e.drop = true
		}
	}
}

// disjunctionMessage says which alternatives a value failed, in words.
func (s *shape) disjunctionMessage(ce *cueErr) string {
	if secretPath(ce.path) {
		return secretHelp
	}
	f := s.lastField(ce.path)
	want := make([]string, 0, len(ce.want))
	for _, t := range ce.want {
		switch {
		case strings.HasPrefix(t, "=~"):
			if w, ok := s.words(f, t); ok {
				t = w
			}
		case kindWords[t] != "":
			t = kindWords[t]
		}
		want = append(want, t)
	}
	return fmt.Sprintf("invalid value %s: want %s", shorten(ce.given), joinOr(want))
}

// kindWords name CUE's kinds.
var kindWords = map[string]string{
	"int":    "a whole number",
	"float":  "a number",
	"number": "a number",
	"string": "a string",
	"bool":   "true or false",
	"struct": "a mapping of fields",
	"list":   "a list",
}

// shorten cuts a long value for a message.
func shorten(v string) string {
	if r := []rune(v); len(r) > 60 {
		return string(r[:57]) + "…"
	}
	return v
}

// joinPath prints a field path as users write it: vm.web-01.cores.
func joinPath(p []string) string {
	parts := make([]string, 0, len(p))
	for _, s := range p {
		parts = append(parts, unquote(s))
	}
	return strings.Join(parts, ".")
}

// secretHelp is what a literal secret is told to do instead.
const secretHelp = `secrets must be references, not values: write "env:NAME" to read the environment variable NAME or "file:PATH" to read a file (relative to the workspace root)`

func secretPath(path []string) bool {
	return len(path) > 0 && (path[len(path)-1] == "password" || path[len(path)-1] == "token")
}

// rewriteMessage makes CUE's wording speak in the user's terms: what the
// field wants, in words, for the fields of pmpc's schema.
func (s *shape) rewriteMessage(path []string, msg string) string {
	if secretPath(path) {
		// Never echo what may be a literal password.
		if strings.Contains(msg, "=~\"^(env|file):.+\"") || strings.HasPrefix(msg, "conflicting values") || strings.HasPrefix(msg, "invalid value") {
			return secretHelp
		}
	}
	defs := len(path) > 0 && s.root.fields[path[0]] != nil
	switch {
	case msg == "field is required but not present":
		if defs {
			if f, _ := s.lookup(path); f != nil {
				return missingField(f)
			}
		}
		return "required field is missing"
	case msg == "field not allowed":
		if defs && len(path) > 1 {
			if _, n := s.lookup(path[:len(path)-1]); n.isStruct() {
				return unknownField(n, path[len(path)-1])
			}
		}
		return msg
	}
	var f *sfield
	var n *snode
	if defs {
		f, n = s.lookup(path)
	}
	wf := f
	if wf == nil && defs {
		wf = s.lastField(path)
	}
	if m := maxRunesRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("too long: want at most %s characters", m[1])
	}
	if m := boundRE.FindStringSubmatch(msg); m != nil {
		val, b := shorten(m[1]), m[2]
		if strings.HasPrefix(b, "=~") {
			if w, ok := s.words(wf, b); ok {
				return fmt.Sprintf("invalid value %s: want %s", val, w)
			}
			return msg
		}
		if bm := numBoundRE.FindStringSubmatch(b); bm != nil {
			return fmt.Sprintf("invalid value %s: %s", val, s.boundWords(wf, n, bm[1], bm[2]))
		}
		if b == `!=""` {
			return `an empty string is not allowed here; set a value or remove the field`
		}
		return msg
	}
	if m := conflictRE.FindStringSubmatch(msg); m != nil && m[3] == "" {
		return msg + "; the field is given two different values, keep one"
	}
	if m := incompleteRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("no value given, only the constraint %s; set a concrete value", m[1])
	}
	if m := conflictRE.FindStringSubmatch(msg); m != nil && m[3] != "" && n != nil {
		k := s.kindOf(n)
		val := ""
		switch {
		case k != "" && kindMatches(k, m[4]) && !kindMatches(k, m[5]):
			val = m[2]
		case k != "" && kindMatches(k, m[5]) && !kindMatches(k, m[4]):
			val = m[1]
		}
		if w := s.want(wf, n); val != "" && w != "" {
			return fmt.Sprintf("invalid value %s: want %s", shorten(val), w)
		}
	}
	return msg
}

// kindMatches says whether CUE's kind name is the schema's kind.
func kindMatches(schema, cue string) bool {
	if schema == "number" {
		return cue == "int" || cue == "float" || cue == "number"
	}
	return schema == cue
}
