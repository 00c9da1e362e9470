package schema

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

//go:embed pmpc.cue
var schemaSrc []byte

// Source returns the embedded CUE schema that every definition file is
// unified with. Users may read it to learn the fields (docs/definitions.md
// is the reference); its definitions (#VM, ...) are not in scope of their
// files, which constrain resources through the vm/container/pool fields.
func Source() []byte { return append([]byte(nil), schemaSrc...) }

// Hash identifies the embedded schema; caches keyed by it are invalidated
// when the schema changes.
func Hash() string {
	s := sha256.Sum256(schemaSrc)
	return hex.EncodeToString(s[:])
}

// parseSchema parses the embedded schema. Each load parses its own copy:
// building an instance resolves identifiers in place, so an AST must not
// be shared between concurrent loads.
func parseSchema() (*ast.File, error) {
	return parser.ParseFile(schemaFile, schemaSrc)
}
