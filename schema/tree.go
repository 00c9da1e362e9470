package schema

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// This file reads the shape of the embedded schema straight from its
// syntax: which fields each struct allows, which are required, which keys
// a map accepts and what constraint each field carries. The loader checks
// plain files against it in Go (CUE stops reporting unknown fields once a
// file has a value error) and error messages use it to say, in words, what
// a field wants. Being derived from pmpc.cue, it cannot disagree with it.

// snode is one node of the schema's shape.
type snode struct {
	// def is the named definition the node comes from ("#VM", "#Size"),
	// or "" for an anonymous constraint.
	def string
	// fields are the struct's fields by name; order is the schema's order.
	// Both are nil when the node is no struct with fields.
	fields map[string]*sfield
	order  []string
	// pattern says the node is a map: any key matching keyRE (every key
	// when keyRE is nil) takes a value of shape elem. keyDef names the
	// key's definition ("#NetSlot").
	pattern bool
	keyRE   *regexp.Regexp
	keyDef  string
	// list says the node is a list of elem.
	list bool
	elem *snode
	// expr is the constraint of a scalar node.
	expr ast.Expr
}

// sfield is a field of a struct in the schema.
type sfield struct {
	name     string
	owner    string // the definition the field is declared in: "#NIC"
	required bool   // declared with "!"
	node     *snode
}

// key names the field as the word tables do: "#NIC.model".
func (f *sfield) key() string { return f.owner + "." + f.name }

// isStruct says the node holds named fields or patterned keys.
func (n *snode) isStruct() bool { return n != nil && (n.fields != nil || n.pattern) }

// shape is the compiled schema.
type shape struct {
	root *snode
	defs map[string]ast.Expr // definition name -> its expression
	// regexDef maps a regular expression literal (as CUE prints it) to
	// where it is declared: a definition ("#Size") or a field ("#CTNIC.ip").
	regexDef map[string]string
}

var (
	shapeOnce sync.Once
	shapeVal  *shape
)

// schemaShape returns the shape of the embedded schema, built once.
func schemaShape() *shape {
	shapeOnce.Do(func() {
		f, err := parseSchema()
		if err != nil {
			shapeVal = &shape{root: &snode{}, defs: map[string]ast.Expr{}, regexDef: map[string]string{}}
			return
		}
		shapeVal = buildShape(f)
	})
	return shapeVal
}

func buildShape(f *ast.File) *shape {
	s := &shape{defs: map[string]ast.Expr{}, regexDef: map[string]string{}}
	var top []ast.Decl
	for _, d := range f.Decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		if id, ok := fd.Label.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
			s.defs[id.Name] = fd.Value
			continue
		}
		top = append(top, fd)
	}
	b := &builder{s: s, memo: map[string]*snode{}}
	s.root = b.structOf(top, "")
	for name, x := range s.defs {
		b.regexes(x, name, false)
	}
	return s
}

type builder struct {
	s    *shape
	memo map[string]*snode
}

// node compiles a constraint expression; owner is the definition it is
// written in.
func (b *builder) node(x ast.Expr, owner string) *snode {
	switch x := x.(type) {
	case *ast.Ident:
		if strings.HasPrefix(x.Name, "#") {
			return b.def(x.Name)
		}
	case *ast.StructLit:
		return b.structOf(x.Elts, owner)
	case *ast.ListLit:
		for _, e := range x.Elts {
			if el, ok := e.(*ast.Ellipsis); ok && el.Type != nil {
				return &snode{list: true, elem: b.node(el.Type, owner)}
			}
		}
	case *ast.ParenExpr:
		return b.node(x.X, owner)
	case *ast.BinaryExpr:
		if x.Op == token.AND {
			// A definition unified with more constraints keeps the
			// definition's name and shape.
			l, r := b.node(x.X, owner), b.node(x.Y, owner)
			if l.isStruct() || l.list {
				return l
			}
			if r.isStruct() || r.list {
				return r
			}
			n := &snode{expr: x, def: l.def}
			if n.def == "" {
				n.def = r.def
			}
			return n
		}
	}
	return &snode{expr: x}
}

// def compiles a named definition once.
func (b *builder) def(name string) *snode {
	if n, ok := b.memo[name]; ok {
		if n == nil { // a cycle: the schema has none, but never loop
			return &snode{def: name}
		}
		return n
	}
	b.memo[name] = nil
	x, ok := b.s.defs[name]
	var n *snode
	if ok {
		n = b.node(x, name)
	} else {
		n = &snode{}
	}
	// Scalars are copied so that a definition keeps its own name even
	// when it merely renames another.
	if !n.isStruct() && !n.list {
		c := *n
		n = &c
	}
	n.def = name
	b.memo[name] = n
	return n
}

// structOf compiles the declarations of a struct.
func (b *builder) structOf(decls []ast.Decl, owner string) *snode {
	n := &snode{}
	for _, d := range decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		switch l := fd.Label.(type) {
		case *ast.ListLit: // [pattern]: value
			if len(l.Elts) != 1 {
				continue
			}
			n.pattern = true
			n.elem = b.node(fd.Value, owner)
			if id, ok := l.Elts[0].(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
				n.keyDef = id.Name
				if lit, ok := regexLit(b.s.defs[id.Name]); ok {
					if re, err := regexp.Compile(lit); err == nil {
						n.keyRE = re
					}
				}
			}
		default:
			name, ok := concreteLabel(fd.Label)
			if !ok {
				continue
			}
			if n.fields == nil {
				n.fields = map[string]*sfield{}
			}
			if _, dup := n.fields[name]; !dup {
				n.order = append(n.order, name)
			}
			n.fields[name] = &sfield{name: name, owner: owner, required: fd.Constraint == token.NOT, node: b.node(fd.Value, owner)}
		}
	}
	return n
}

// regexLit returns the pattern of a `=~"..."` expression.
func regexLit(x ast.Expr) (string, bool) {
	u, ok := x.(*ast.UnaryExpr)
	if !ok || u.Op != token.MAT {
		return "", false
	}
	bl, ok := u.X.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := literal.Unquote(bl.Value)
	return s, err == nil
}

// regexes records where each `=~` literal of the schema is declared: at
// the top of a definition it belongs to the definition, inside a struct to
// the field it constrains.
func (b *builder) regexes(x ast.Expr, where string, inField bool) {
	ast.Walk(x, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			name, ok := concreteLabel(n.Label)
			if !ok {
				return true
			}
			b.regexes(n.Value, strings.SplitN(where, ".", 2)[0]+"."+name, true)
			return false
		case *ast.UnaryExpr:
			if n.Op != token.MAT {
				return true
			}
			if bl, ok := n.X.(*ast.BasicLit); ok {
				key := "=~" + bl.Value
				// A literal met more than once belongs to the definition
				// that declares it, else to the first field in name order.
				old, seen := b.s.regexDef[key]
				if !seen || (strings.Contains(old, ".") && !strings.Contains(where, ".")) ||
					(strings.Contains(old, ".") == strings.Contains(where, ".") && where < old) {
					b.s.regexDef[key] = where
				}
			}
		}
		return true
	}, nil)
}

// lookup follows a field path (labels unquoted) from the root. It returns
// the field that holds the last element (nil when the last element is a map
// key or list index, or the path leaves the schema) and the node at the end
// (nil when the path leaves the schema).
func (s *shape) lookup(path []string) (*sfield, *snode) {
	n := s.root
	var f *sfield
	for _, p := range path {
		switch {
		case n == nil:
			return nil, nil
		case n.fields[p] != nil:
			f = n.fields[p]
			n = f.node
		case n.pattern && (n.keyRE == nil || n.keyRE.MatchString(p)):
			f, n = nil, n.elem
		case n.list:
			if _, err := strconv.Atoi(p); err != nil {
				return nil, nil
			}
			f, n = nil, n.elem
		default:
			return nil, nil
		}
	}
	return f, n
}

// lastField returns the nearest field at or above the end of the path,
// for words about list elements and map values (tags.0 is a tag of field
// tags).
func (s *shape) lastField(path []string) *sfield {
	for i := len(path); i > 0; i-- {
		if f, _ := s.lookup(path[:i]); f != nil {
			return f
		}
	}
	return nil
}

// resolve follows identifiers of definitions in a constraint.
func (s *shape) resolve(x ast.Expr) ast.Expr {
	for i := 0; i < 8; i++ {
		id, ok := x.(*ast.Ident)
		if !ok || !strings.HasPrefix(id.Name, "#") {
			return x
		}
		d, ok := s.defs[id.Name]
		if !ok {
			return x
		}
		x = d
	}
	return x
}

// conjuncts lists the parts of a constraint joined by &, identifiers of
// definitions resolved.
func (s *shape) conjuncts(x ast.Expr) []ast.Expr {
	x = s.resolve(x)
	switch y := x.(type) {
	case *ast.BinaryExpr:
		if y.Op == token.AND {
			return append(s.conjuncts(y.X), s.conjuncts(y.Y)...)
		}
	case *ast.ParenExpr:
		return s.conjuncts(y.X)
	}
	if x == nil {
		return nil
	}
	return []ast.Expr{x}
}

// alternatives lists the parts of a constraint joined by |.
func (s *shape) alternatives(x ast.Expr) []ast.Expr {
	x = s.resolve(x)
	if y, ok := x.(*ast.BinaryExpr); ok && y.Op == token.OR {
		return append(s.alternatives(y.X), s.alternatives(y.Y)...)
	}
	if x == nil {
		return nil
	}
	return []ast.Expr{x}
}

// kindOf says what kind of value a node wants: "int", "number", "string",
// "bool", "struct", "list", or "" when it cannot tell.
func (s *shape) kindOf(n *snode) string {
	switch {
	case n == nil:
		return ""
	case n.isStruct():
		return "struct"
	case n.list:
		return "list"
	}
	return s.exprKind(n.expr, 0)
}

func (s *shape) exprKind(x ast.Expr, depth int) string {
	if depth > 16 || x == nil {
		return ""
	}
	x = s.resolve(x)
	switch y := x.(type) {
	case *ast.Ident:
		switch y.Name {
		case "int", "string", "bool", "number":
			return y.Name
		case "float":
			return "number"
		}
	case *ast.BasicLit:
		switch y.Kind {
		case token.STRING:
			return "string"
		case token.INT:
			return "int"
		case token.FLOAT:
			return "number"
		case token.TRUE, token.FALSE:
			return "bool"
		}
	case *ast.UnaryExpr:
		switch y.Op {
		case token.MAT, token.NMAT:
			return "string"
		case token.NEQ:
			return s.exprKind(y.X, depth+1)
		}
	case *ast.CallExpr:
		if sel, ok := y.Fun.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "strings" {
				return "string"
			}
		}
	case *ast.ParenExpr:
		return s.exprKind(y.X, depth+1)
	case *ast.BinaryExpr:
		l, r := s.exprKind(y.X, depth+1), s.exprKind(y.Y, depth+1)
		switch {
		case y.Op == token.AND && l == "":
			return r
		case y.Op == token.AND && r == "":
			return l
		case y.Op == token.AND && l == "number" && r == "int", y.Op == token.AND && l == "int" && r == "number":
			return "int"
		case l == r:
			return l
		}
	}
	return ""
}

// bound is a numeric bound of a constraint: op is ">=", "<=", ">" or "<".
type bound struct {
	op  string
	num string
}

// bounds lists the numeric bounds of a constraint.
func (s *shape) bounds(x ast.Expr) []bound {
	var out []bound
	for _, c := range s.conjuncts(x) {
		u, ok := c.(*ast.UnaryExpr)
		if !ok {
			continue
		}
		bl, ok := u.X.(*ast.BasicLit)
		if !ok || (bl.Kind != token.INT && bl.Kind != token.FLOAT) {
			continue
		}
		switch u.Op {
		case token.GEQ, token.LEQ, token.GTR, token.LSS:
			out = append(out, bound{op: u.Op.String(), num: bl.Value})
		}
	}
	return out
}

// regexesOf lists the `=~` literals (as CUE prints them) a constraint
// carries, through definitions, conjunctions and disjunctions.
func (s *shape) regexesOf(x ast.Expr) []string {
	var out []string
	for _, c := range s.conjuncts(x) {
		for _, a := range s.alternatives(c) {
			if u, ok := a.(*ast.UnaryExpr); ok && u.Op == token.MAT {
				if bl, ok := u.X.(*ast.BasicLit); ok {
					out = append(out, "=~"+bl.Value)
				}
			}
		}
	}
	return out
}

// enumOf lists the string literals of a disjunction of literals
// ("running" | "stopped"), or nil when the constraint is not one.
func (s *shape) enumOf(x ast.Expr) []string {
	var out []string
	for _, a := range s.alternatives(x) {
		bl, ok := a.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return nil
		}
		out = append(out, bl.Value)
	}
	return out
}
