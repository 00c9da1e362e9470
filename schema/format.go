package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"gopkg.in/yaml.v3"
)

// Format returns the canonical form of a definition file, chosen by the
// extension of name: CUE as cue fmt prints it (simplified), YAML with
// mapping keys sorted and 2-space indentation (comments kept), JSON with
// object keys sorted and 2-space indentation. A file that does not parse is
// a *Errors.
func Format(name string, src []byte) ([]byte, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".cue":
		// Parse under the file's name first, so a syntax error carries
		// file:line:col; format.Source would report it without a position.
		f, err := parser.ParseFile(name, src, parser.ParseComments)
		if err != nil {
			return nil, NewErrors(syntaxErrors(name, err))
		}
		out, err := format.Node(f, format.Simplify())
		if err != nil {
			return nil, NewErrors(syntaxErrors(name, err))
		}
		return out, nil
	case ".yaml", ".yml":
		return formatYAML(name, src)
	case ".json":
		return formatJSON(name, src)
	}
	return nil, fmt.Errorf("format %s: not a definition file: want .cue, .yaml, .yml or .json", name)
}

func formatYAML(name string, src []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, NewErrors(yamlErrors(name, src, err))
		}
		sortYAML(&doc)
		if err := enc.Encode(&doc); err != nil {
			return nil, fmt.Errorf("format %s: %w", name, err)
		}
		n++
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	if n == 0 {
		return src, nil
	}
	return buf.Bytes(), nil
}

// sortYAML sorts every mapping by key, keeping each key with its value and
// comments.
func sortYAML(n *yaml.Node) {
	for _, c := range n.Content {
		sortYAML(c)
	}
	// Collections print in block style; scalars keep their quoting.
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style &^= yaml.FlowStyle
	}
	if n.Kind != yaml.MappingNode || len(n.Content)%2 != 0 {
		return
	}
	type pair struct{ k, v *yaml.Node }
	ps := make([]pair, 0, len(n.Content)/2)
	for i := 0; i < len(n.Content); i += 2 {
		ps = append(ps, pair{n.Content[i], n.Content[i+1]})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].k.Value < ps[j].k.Value })
	for i, p := range ps {
		n.Content[2*i], n.Content[2*i+1] = p.k, p.v
	}
}

func formatJSON(name string, src []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, NewErrors([]Error{jsonError(name, src, err)})
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, NewErrors([]Error{{File: name, Msg: "invalid JSON: more than one value"}})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func jsonError(name string, src []byte, err error) Error {
	var off int64 = -1
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		off = te.Offset
	}
	e := Error{File: name, Msg: "invalid JSON: " + err.Error()}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		off = int64(len(src))
		e.Msg = "invalid JSON: unexpected end of input"
	}
	if off >= 0 && off <= int64(len(src)) {
		before := src[:off]
		e.Line = bytes.Count(before, []byte("\n")) + 1
		e.Col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	}
	return e
}
