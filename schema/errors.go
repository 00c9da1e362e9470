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
	slices.SortFunc(e.List, func(a, b Error) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	e.List = slices.Compact(e.List)
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

// ErrorsFromCUE converts a CUE error into positioned errors. Among an
// error's positions it picks the first one in a user file; when there is
// none, fallback (may be nil) is asked for a position by field path.
// Messages about secrets never repeat the value.
func ErrorsFromCUE(err error, fallback func(path []string) (string, int, int)) []Error {
	var out []Error
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		path := e.Path()
		x := Error{Path: joinPath(path), Msg: msg}
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
			x.File, x.Line, x.Col = user[pick].File, user[pick].Line, user[pick].Col
			for _, u := range user {
				if u.File != x.File {
					msg += fmt.Sprintf(" (constraint at %s:%d:%d)", u.File, u.Line, u.Col)
					x.Msg = msg
					break
				}
			}
		} else if fallback != nil {
			x.File, x.Line, x.Col = fallback(path)
		}
		x.Msg = rewriteMessage(path, x.Msg)
		out = append(out, x)
	}
	return mergeDisjunctions(out)
}

var (
	emptyDisjRE = regexp.MustCompile(`^[0-9]+ errors in empty disjunction:?$`)
	conflictRE  = regexp.MustCompile(`^conflicting values (.+?) and (.+?)( \(mismatched types .*\))?$`)
	boundRE     = regexp.MustCompile(`^invalid value (.+) \(out of bound (.+)\)$`)
)

// mergeDisjunctions replaces CUE's report of a value that matches no
// alternative ("2 errors in empty disjunction" plus one error per
// alternative) by one error that lists the alternatives.
func mergeDisjunctions(list []Error) []Error {
	byPath := map[string][]int{}
	for i, e := range list {
		byPath[e.Path] = append(byPath[e.Path], i)
	}
	drop := map[int]bool{}
	for _, idx := range byPath {
		head := -1
		for _, i := range idx {
			if emptyDisjRE.MatchString(list[i].Msg) {
				head = i
			}
		}
		if head < 0 {
			continue
		}
		var parts [][]string
		count := map[string]int{}
		var order []string
		var subs []int
		for _, i := range idx {
			if i == head {
				continue
			}
			var p []string
			if m := conflictRE.FindStringSubmatch(list[i].Msg); m != nil {
				p = []string{m[1], m[2]}
			} else if m := boundRE.FindStringSubmatch(list[i].Msg); m != nil {
				p = []string{m[1], m[2]}
			} else {
				continue
			}
			subs = append(subs, i)
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
			drop[head] = len(subs) > 0
			continue
		}
		var want []string
		for _, t := range order {
			if t != given && !((t == "true" || t == "false") && count["bool"] > 0) {
				want = append(want, t)
			}
		}
		x := list[subs[0]]
		x.Msg = fmt.Sprintf("invalid value %s (want %s)", given, strings.Join(want, " or "))
		list[head] = x
		for _, i := range subs {
			drop[i] = true
		}
	}
	out := list[:0]
	for i, e := range list {
		if !drop[i] {
			out = append(out, e)
		}
	}
	return out
}

// joinPath prints a field path as users write it: vm.web-01.cores.
func joinPath(p []string) string {
	parts := make([]string, 0, len(p))
	for _, s := range p {
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ".")
}

// secretHelp is what a literal secret is told to do instead.
const secretHelp = `secrets must be references, not values: write "env:NAME" to read the environment variable NAME or "file:PATH" to read a file (relative to the workspace root)`

// rewriteMessage makes CUE's wording speak in the user's terms.
func rewriteMessage(path []string, msg string) string {
	if len(path) > 0 && (path[len(path)-1] == "password" || path[len(path)-1] == "token") {
		// Never echo what may be a literal password.
		if strings.Contains(msg, "=~\"^(env|file):.+\"") || strings.HasPrefix(msg, "conflicting values") || strings.HasPrefix(msg, "invalid value") {
			return secretHelp
		}
	}
	switch {
	case msg == "field is required but not present":
		return "required field is missing"
	}
	return msg
}
