package schema

import (
	"encoding/json"
	"errors"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// errNotPlain says a file holds more than literal data.
var errNotPlain = errors.New("not plain data")

// plainFile is a definition file that holds only literal data: no
// references, expressions, comprehensions, patterns, definitions, optional
// fields or imports. Without policies its resources are exactly its
// literals, so it can be validated alone and decoded without CUE.
type plainFile struct {
	// data is the file's top level as nested map[string]any, []any,
	// string, json.Number, bool and nil, with repeated labels merged.
	data map[string]any
	// keys are the positions of the labels in data, by dotted path for the
	// first two levels (top level and kind.name).
	pos map[[2]string]token.Pos
	// top lists the top-level labels with their positions, in order.
	top []labelPos
}

type labelPos struct {
	name string
	pos  token.Pos
}

// literalFile converts a parsed file to plain data, or returns errNotPlain.
func literalFile(f *ast.File) (*plainFile, error) {
	pf := &plainFile{data: map[string]any{}, pos: map[[2]string]token.Pos{}}
	var ni literal.NumInfo
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.Package, *ast.CommentGroup, *ast.Attribute:
			continue
		case *ast.Field:
			name, pos, err := fieldLabel(d)
			if err != nil {
				return nil, err
			}
			v, err := literalValue(d.Value, &ni)
			if err != nil {
				return nil, err
			}
			pf.top = append(pf.top, labelPos{name, pos})
			if _, ok := pf.pos[[2]string{name, ""}]; !ok {
				pf.pos[[2]string{name, ""}] = pos
			}
			recordNames(pf, name, d.Value)
			pf.data[name] = merge(pf.data[name], v)
		default:
			return nil, errNotPlain
		}
	}
	return pf, nil
}

// recordNames notes the position of each resource name under a kind label.
func recordNames(pf *plainFile, kind string, v ast.Expr) {
	s, ok := v.(*ast.StructLit)
	if !ok {
		return
	}
	for _, e := range s.Elts {
		fd, ok := e.(*ast.Field)
		if !ok {
			continue
		}
		name, pos, err := fieldLabel(fd)
		if err != nil {
			continue
		}
		if _, ok := pf.pos[[2]string{kind, name}]; !ok {
			pf.pos[[2]string{kind, name}] = pos
		}
	}
}

// fieldLabel returns a regular, required-less field's label.
func fieldLabel(f *ast.Field) (string, token.Pos, error) {
	if f.Constraint != token.ILLEGAL {
		return "", token.NoPos, errNotPlain
	}
	switch l := f.Label.(type) {
	case *ast.Ident:
		if strings.HasPrefix(l.Name, "#") || strings.HasPrefix(l.Name, "_") {
			return "", token.NoPos, errNotPlain
		}
		return l.Name, l.Pos(), nil
	case *ast.BasicLit:
		if l.Kind != token.STRING || !strings.HasPrefix(l.Value, `"`) {
			return "", token.NoPos, errNotPlain
		}
		s, err := literal.Unquote(l.Value)
		if err != nil {
			return "", token.NoPos, errNotPlain
		}
		return s, l.Pos(), nil
	}
	return "", token.NoPos, errNotPlain
}

func literalValue(x ast.Expr, ni *literal.NumInfo) (any, error) {
	switch x := x.(type) {
	case *ast.StructLit:
		m := make(map[string]any, len(x.Elts))
		for _, e := range x.Elts {
			switch e := e.(type) {
			case *ast.CommentGroup, *ast.Attribute:
				continue
			case *ast.Field:
				name, _, err := fieldLabel(e)
				if err != nil {
					return nil, err
				}
				v, err := literalValue(e.Value, ni)
				if err != nil {
					return nil, err
				}
				m[name] = merge(m[name], v)
			default:
				return nil, errNotPlain
			}
		}
		return m, nil
	case *ast.ListLit:
		l := make([]any, 0, len(x.Elts))
		for _, e := range x.Elts {
			v, err := literalValue(e, ni)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case *ast.BasicLit:
		switch x.Kind {
		case token.STRING:
			if !strings.HasPrefix(x.Value, `"`) && !strings.HasPrefix(x.Value, `#`) {
				return nil, errNotPlain // bytes
			}
			s, err := literal.Unquote(x.Value)
			if err != nil {
				return nil, errNotPlain
			}
			return s, nil
		case token.INT, token.FLOAT:
			if err := literal.ParseNum(x.Value, ni); err != nil {
				return nil, errNotPlain
			}
			return json.Number(ni.String()), nil
		case token.TRUE:
			return true, nil
		case token.FALSE:
			return false, nil
		case token.NULL:
			return nil, nil
		}
	case *ast.Ident:
		// The YAML and JSON decoders emit true, false and null as
		// identifiers in some versions.
		switch x.Name {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
	case *ast.UnaryExpr:
		if b, ok := x.X.(*ast.BasicLit); ok && (b.Kind == token.INT || b.Kind == token.FLOAT) {
			switch x.Op {
			case token.SUB:
				if err := literal.ParseNum("-"+b.Value, ni); err != nil {
					return nil, errNotPlain
				}
				return json.Number(ni.String()), nil
			case token.ADD:
				return literalValue(b, ni)
			}
		}
	}
	return nil, errNotPlain
}

// merge combines two values of the same label the way unification does for
// data: structs merge field by field; for anything else the first value
// stays (a conflict is reported by validation, which runs first).
func merge(a, b any) any {
	if a == nil {
		return b
	}
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return a
	}
	for k, v := range bm {
		am[k] = merge(am[k], v)
	}
	return am
}
