// Package schema holds pmpc's embedded CUE schema for definitions and loads
// a workspace's definition files (.cue, .yaml, .yml, .json) against it:
// it validates them, reports every problem with a workspace-relative
// file:line:col, and decodes them into a resource.Set.
//
// Problems are reported all at once and in words: besides CUE's own
// checks, files are checked in Go against the shape of the schema (read
// from pmpc.cue itself, tree.go) for unknown fields, missing required
// fields and keys that are no valid Proxmox names, which CUE leaves unsaid
// once a file has a value error; and constraints are said in plain words
// (words.go) rather than as CUE expressions.
//
// It knows nothing of workspaces, git or the command line: callers pass
// the root and the files to load. Loads can be incremental through a
// content-hash cache (Loader.CacheDir).
package schema
