package schema

import (
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"github.com/pmpc-dev/pmpc/resource"
)

// checkShape reports the regular fields with literal labels that the
// schema does not allow, each at its label (patterns, optional fields,
// comprehensions and references are left to CUE). CUE stops reporting these once a file has a
// value error; this check does not, so a user sees every problem at once.
// The fields are the schema's own (see tree.go), so this agrees with CUE.
func (f *file) checkShape() []Error {
	s := schemaShape()
	var out []Error
	for _, d := range f.syntax.Decls {
		fd, ok := d.(*ast.Field)
		if !ok || fd.Constraint != token.ILLEGAL {
			continue
		}
		name, ok := concreteLabel(fd.Label)
		if !ok {
			continue
		}
		fl := s.root.fields[name]
		if fl == nil {
			continue // the top level is reported by topLevelErrors
		}
		out = f.walkShape(fd.Value, fl.node, []string{name}, out)
	}
	return out
}

func (f *file) walkShape(x ast.Expr, n *snode, path []string, out []Error) []Error {
	switch x := x.(type) {
	case *ast.StructLit:
		if !n.isStruct() {
			return out // a type error, which CUE reports
		}
		for _, e := range x.Elts {
			fd, ok := e.(*ast.Field)
			if !ok || fd.Constraint != token.ILLEGAL {
				continue
			}
			name, ok := concreteLabel(fd.Label)
			if !ok {
				continue
			}
			p := append(path[:len(path):len(path)], name)
			switch {
			case n.fields[name] != nil:
				out = f.walkShape(fd.Value, n.fields[name].node, p, out)
			case n.pattern && (n.keyRE == nil || n.keyRE.MatchString(name)):
				out = f.walkShape(fd.Value, n.elem, p, out)
			default:
				out = append(out, f.errorAt(fd.Label.Pos(), p, unknownField(n, name)))
			}
		}
	case *ast.ListLit:
		if !n.list {
			return out
		}
		for i, e := range x.Elts {
			out = f.walkShape(e, n.elem, append(path[:len(path):len(path)], strconv.Itoa(i)), out)
		}
	}
	return out
}

// errorAt builds an error at a label of the file.
func (f *file) errorAt(p token.Pos, path []string, msg string) Error {
	fl, l, c := posOf(p)
	if fl == "" {
		fl = f.rel
	}
	return Error{File: fl, Line: l, Col: f.labelCol(l, c), Path: joinPath(path), Msg: msg}
}

// checkValues reports, for a plain file in a workspace without policies,
// what only the complete data can tell: required fields that are missing
// (node only when there is no default node) and keys that are not valid
// names. With policies these are left to the evaluated value, since a
// policy may fill them.
func (f *file) checkValues(defaultNode bool) []Error {
	s := schemaShape()
	var out []Error
	labels := f.structLabels()
	for _, k := range resource.Kinds {
		m, ok := f.plain.data[string(k)].(map[string]any)
		if !ok {
			continue
		}
		kf := s.root.fields[string(k)]
		if kf == nil || !kf.node.pattern {
			continue
		}
		for key, v := range m {
			path := []string{string(k), key}
			at := f.plain.pos[[2]string{string(k), key}]
			spec, _ := v.(map[string]any)
			named := false
			switch k {
			case resource.KindVM:
				_, named = spec["name"].(string)
			case resource.KindContainer:
				_, named = spec["hostname"].(string)
			}
			if msg := nameProblem(string(k), key, named); msg != "" {
				out = append(out, f.errorAt(at, path, msg))
			}
			if spec == nil {
				continue
			}
			if (k == resource.KindVM || k == resource.KindContainer) && !defaultNode {
				if _, ok := spec["node"]; !ok {
					out = append(out, f.errorAt(at, append(path, "node"), missingNode))
				}
			}
			out = f.walkRequired(spec, kf.node.elem, path, labels, out)
		}
	}
	return out
}

// walkRequired reports required fields missing from v, at the label of
// the struct that lacks them.
func (f *file) walkRequired(v any, n *snode, path []string, labels map[string]token.Pos, out []Error) []Error {
	switch v := v.(type) {
	case map[string]any:
		if !n.isStruct() {
			return out
		}
		for _, name := range n.order {
			fl := n.fields[name]
			if _, ok := v[name]; !ok && fl.required {
				out = append(out, f.errorAt(labels[strings.Join(path, "\x00")], append(path[:len(path):len(path)], name), missingField(fl)))
			}
		}
		for name, x := range v {
			p := append(path[:len(path):len(path)], name)
			switch {
			case n.fields[name] != nil:
				out = f.walkRequired(x, n.fields[name].node, p, labels, out)
			case n.pattern && (n.keyRE == nil || n.keyRE.MatchString(name)):
				out = f.walkRequired(x, n.elem, p, labels, out)
			}
		}
	case []any:
		if !n.list {
			return out
		}
		for i, x := range v {
			out = f.walkRequired(x, n.elem, append(path[:len(path):len(path)], strconv.Itoa(i)), labels, out)
		}
	}
	return out
}

// structLabels maps the path of every struct-valued field of the file (its
// elements joined by NUL) to its first label.
func (f *file) structLabels() map[string]token.Pos {
	out := map[string]token.Pos{}
	var walk func(x ast.Expr, path []string)
	walk = func(x ast.Expr, path []string) {
		switch x := x.(type) {
		case *ast.StructLit:
			for _, e := range x.Elts {
				fd, ok := e.(*ast.Field)
				if !ok {
					continue
				}
				name, ok := concreteLabel(fd.Label)
				if !ok {
					continue
				}
				p := append(path[:len(path):len(path)], name)
				if _, ok := fd.Value.(*ast.StructLit); ok {
					if k := strings.Join(p, "\x00"); !out[k].IsValid() {
						out[k] = fd.Label.Pos()
					}
				}
				walk(fd.Value, p)
			}
		case *ast.ListLit:
			for i, e := range x.Elts {
				walk(e, append(path[:len(path):len(path)], strconv.Itoa(i)))
			}
		}
	}
	walk(&ast.StructLit{Elts: f.syntax.Decls}, nil)
	return out
}
