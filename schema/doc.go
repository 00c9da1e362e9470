// Package schema holds pmpc's embedded CUE schema for definitions and loads
// a workspace's definition files (.cue, .yaml, .yml, .json) against it:
// it validates them, reports every problem with a workspace-relative
// file:line:col, and decodes them into a resource.Set.
//
// It knows nothing of workspaces, git or the command line: callers pass
// the root and the files to load. Loads can be incremental through a
// content-hash cache (Loader.CacheDir).
package schema
