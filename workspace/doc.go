// Package workspace finds and creates pmpc workspaces: a directory (inside
// a git repository) holding pmpc.cue and definition files. It reads the
// workspace configuration, discovers definition files (honouring
// .gitignore), loads them through package schema, and owns the git
// repository the workspace lives in.
//
// It does not talk to Proxmox and knows nothing of flags or terminals.
package workspace
