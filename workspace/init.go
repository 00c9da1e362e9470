package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// InitOptions configure Init.
type InitOptions struct {
	// Endpoint is written to pmpc.cue as cluster.endpoint when set.
	Endpoint string
	// CI is "github", "gitlab" or "" for no CI workflow.
	CI string
	// Getenv reads the environment (author of the commit); nil means
	// os.Getenv.
	Getenv func(string) string
}

// InitResult says what Init did.
type InitResult struct {
	// Root is the workspace root (absolute).
	Root string
	// Created lists the files written, relative to Root.
	Created []string
	// Updated lists existing files Init appended to (.gitignore).
	Updated []string
	// NewRepo is true when Init created the git repository, false when it
	// adopted the one Root is in.
	NewRepo bool
	// RepoRoot is the root of the git repository.
	RepoRoot string
	// Commit is the hash of the commit Init made, or "" when it did not
	// commit because other changes were already staged.
	Commit string
}

// ExistsError is returned by Init when files it would write exist.
type ExistsError struct {
	Paths []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("refusing to overwrite existing files: %s (nothing was written)", strings.Join(e.Paths, ", "))
}

// ExampleFile is the example definition Init writes.
const ExampleFile = "example.cue"

// Init creates a workspace in dir: a git repository (or the existing one
// dir is in), pmpc.cue, .gitignore with .pmpc/, an example definition and
// optionally a CI workflow, committed. It writes nothing when any file it
// would create already exists.
func Init(dir string, opts InitOptions) (*InitResult, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	files := map[string][]byte{
		ConfigFile:  configTemplate(opts.Endpoint),
		ExampleFile: []byte(exampleTemplate),
	}
	switch opts.CI {
	case "":
	case "github":
		files[filepath.ToSlash(filepath.Join(".github", "workflows", "pmpc.yml"))] = []byte(githubWorkflow)
	case "gitlab":
		files[".gitlab-ci.yml"] = []byte(gitlabWorkflow)
	default:
		return nil, fmt.Errorf("init: unknown CI %q: want github or gitlab", opts.CI)
	}
	var exist []string
	for name := range files {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name))); err == nil {
			exist = append(exist, name)
		}
	}
	if len(exist) > 0 {
		slices.Sort(exist)
		return nil, &ExistsError{Paths: exist}
	}

	res := &InitResult{Root: root}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	repo, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true})
	switch {
	case errors.Is(err, git.ErrRepositoryNotExists):
		repo, err = git.PlainInitWithOptions(root, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
		if err != nil {
			return nil, fmt.Errorf("init %s: create git repository: %w", dir, err)
		}
		res.NewRepo = true
	case err != nil:
		return nil, fmt.Errorf("init %s: open git repository: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	res.RepoRoot = wt.Filesystem.Root()

	// Changes already staged by the user must not slip into our commit.
	staged := false
	if !res.NewRepo {
		st, err := wt.Status()
		if err != nil {
			return nil, fmt.Errorf("init %s: git status: %w", dir, err)
		}
		for _, s := range st {
			if s.Staging != git.Unmodified && s.Staging != git.Untracked {
				staged = true
				break
			}
		}
	}

	names := make([]string, 0, len(files)+1)
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
		res.Created = append(res.Created, name)
	}
	switch ignored, existed, err := ensureIgnored(root); {
	case err != nil:
		return nil, fmt.Errorf("init %s: %w", dir, err)
	case ignored && existed:
		res.Updated = append(res.Updated, ".gitignore")
		names = append(names, ".gitignore")
	case ignored:
		res.Created = append(res.Created, ".gitignore")
		slices.Sort(res.Created)
		names = append(names, ".gitignore")
	}

	if staged {
		return res, nil
	}
	for _, name := range names {
		rel, err := filepath.Rel(res.RepoRoot, filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
		if _, err := wt.Add(filepath.ToSlash(rel)); err != nil {
			return nil, fmt.Errorf("init %s: git add %s: %w", dir, name, err)
		}
	}
	sig := Author(repo, opts.Getenv)
	h, err := wt.Commit("pmpc init\n\nCreate a pmpc workspace.\n", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return nil, fmt.Errorf("init %s: git commit: %w", dir, err)
	}
	res.Commit = h.String()
	return res, nil
}

// ensureIgnored makes root/.gitignore ignore .pmpc/. It reports whether it
// wrote anything and whether the file existed.
func ensureIgnored(root string) (wrote, existed bool, err error) {
	p := filepath.Join(root, ".gitignore")
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, false, os.WriteFile(p, []byte("# pmpc's local cache and snapshot: rebuildable, never committed.\n.pmpc/\n"), 0o644)
	case err != nil:
		return false, false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch strings.TrimSpace(line) {
		case ".pmpc", ".pmpc/", "/.pmpc", "/.pmpc/":
			return false, true, nil
		}
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\n')
	}
	b = append(b, "\n# pmpc's local cache and snapshot: rebuildable, never committed.\n.pmpc/\n"...)
	return true, true, os.WriteFile(p, b, 0o644)
}

func configTemplate(endpoint string) []byte {
	ep := `	// endpoint: "https://pve1.example.com:8006"`
	if endpoint != "" {
		ep = "\tendpoint: " + strconv.Quote(endpoint)
	}
	return []byte(`// pmpc workspace configuration. This file marks the workspace root.
// Environment variables override it: PMPC_ENDPOINT, PMPC_TOKEN,
// PMPC_TLS_FINGERPRINT, PMPC_CA_FILE.

cluster: {
	// The Proxmox VE API.
` + ep + `

	// Pin the cluster's self-signed certificate (SHA-256, colon hex), or
	// trust a CA with ca_file: "certs/pve-ca.pem".
	// fingerprint: "AB:CD:..."

	// The API token (USER@REALM!TOKENID=SECRET) is read from the
	// environment or a file, never written here.
	token: "env:PMPC_TOKEN"
}

// Defaults for definitions that leave these unset.
defaults: {
	// node:    "pve1"
	// storage: "local-lvm"
	// bridge:  "vmbr0"
}

// Delete pmpc-owned guests whose definition was removed from git.
prune: false

// Resources never deleted, as kind.name globs, e.g. "vm.db-*".
protect: []

// The branch that receives an audit commit for every apply.
audit: branch: "pmpc/audit"
`)
}

const exampleTemplate = `// An example definition. Edit it or delete it.
//
// Definitions live in any .cue, .yaml, .yml or .json file of the workspace
// (files and directories starting with "." are skipped, and so is what
// .gitignore ignores). Resources are keyed by kind, then by name:
// vm: "name": {...}, container: "name": {...}, pool: "name": {...}.
// The same shape works in YAML (vm: {example-01: {...}}) and JSON.
//
// A CUE file may start with a package clause of any name, or have none.
// CUE files may also hold policies, constraints on every resource, e.g.:
//
//	vm: [_]: memory?: <=65536
//
// 'pmpc validate' checks every file; 'pmpc plan' shows what would change.
// Every field: https://github.com/pmpc-dev/pmpc/blob/main/docs/definitions.md

pool: examples: comment: "created by pmpc init"

// A small VM, kept stopped: applying it creates the VM but starts nothing.
vm: "example-01": {
	node:   "pve1" // the cluster node; or set defaults.node in pmpc.cue
	pool:   "examples"
	cores:  1
	memory: 512 // MiB
	disks: scsi0: {storage: "local-lvm", size: "8G"}
	networks: net0: {model: "virtio", bridge: "vmbr0"}
	tags: ["example"]
	state: "stopped"
}
`

const githubWorkflow = `# pmpc: plan on pull requests, apply on main.
# Set the repository variable PMPC_ENDPOINT (and PMPC_TLS_FINGERPRINT for a
# self-signed certificate) and the secret PMPC_TOKEN (USER@REALM!TOKENID=SECRET).
name: pmpc

on:
  pull_request:
  push:
    branches: [main]

permissions:
  contents: write # apply commits audit records
  pull-requests: write # plan comments on pull requests

env:
  PMPC_ENDPOINT: ${{ vars.PMPC_ENDPOINT }}
  PMPC_TLS_FINGERPRINT: ${{ vars.PMPC_TLS_FINGERPRINT }}
  PMPC_TOKEN: ${{ secrets.PMPC_TOKEN }}

jobs:
  plan:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version: stable
      - run: go install github.com/pmpc-dev/pmpc/cmd/pmpc@latest
      - run: pmpc validate
      - run: pmpc plan -o markdown > plan.md
      - name: Comment the plan on the pull request
        env:
          GH_TOKEN: ${{ github.token }}
        run: gh pr comment ${{ github.event.pull_request.number }} --body-file plan.md

  apply:
    if: github.event_name == 'push' && github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    concurrency: pmpc-apply # one apply at a time
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-go@v5
        with:
          go-version: stable
      - run: go install github.com/pmpc-dev/pmpc/cmd/pmpc@latest
      # --push keeps the audit record: the runner's checkout is thrown away.
      - run: pmpc apply --auto-approve --push
        env:
          PMPC_GIT_TOKEN: ${{ github.token }}
`

const gitlabWorkflow = `# pmpc: plan on merge requests, apply on the default branch.
# Set the CI/CD variables PMPC_ENDPOINT, PMPC_TOKEN (masked) and, for a
# self-signed certificate, PMPC_TLS_FINGERPRINT; PMPC_GITLAB_TOKEN is a
# project access token (api and write_repository scopes) used to comment the
# plan and to push the audit branch.
stages: [plan, apply]

default:
  image: golang:1
  before_script:
    - go install github.com/pmpc-dev/pmpc/cmd/pmpc@latest

plan:
  stage: plan
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  script:
    - pmpc validate
    - pmpc plan -o markdown > plan.md
    - >-
      curl --fail --request POST
      --header "PRIVATE-TOKEN: $PMPC_GITLAB_TOKEN"
      --data-urlencode "body@plan.md"
      "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
  artifacts:
    paths: [plan.md]

apply:
  stage: apply
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  resource_group: pmpc-apply # one apply at a time
  variables:
    PMPC_GIT_TOKEN: $PMPC_GITLAB_TOKEN # needs write_repository to push the audit branch
  script:
    # --push keeps the audit record: the runner's checkout is thrown away.
    - pmpc apply --auto-approve --push
`
