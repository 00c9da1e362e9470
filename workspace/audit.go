package workspace

// This file writes and reads the audit trail: one JSON record per apply,
// committed with go-git onto an audit branch without touching the user's
// work tree or index.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// DefaultAuditBranch is the branch audit records are committed to unless
// configured otherwise.
const DefaultAuditBranch = "pmpc/audit"

// Trailers of an audit commit's message.
const (
	trailerRun    = "Pmpc-Run"
	trailerRecord = "Pmpc-Record"
)

func openRepo(root string) (*git.Repository, error) {
	r, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open git repository at %s: %w", root, err)
	}
	return r, nil
}

// AuditPath is where a run's record lives in the audit tree:
// audit/YYYY/MM/DD/HHMMSS-<runid>.json (UTC).
func AuditPath(t time.Time, runID string) string {
	t = t.UTC()
	return fmt.Sprintf("audit/%04d/%02d/%02d/%s-%s.json", t.Year(), t.Month(), t.Day(), t.Format("150405"), runID)
}

// AuditCommit describes an audit record to commit.
type AuditCommit struct {
	// Branch is the branch to commit to (default DefaultAuditBranch). When
	// it is the checked-out branch, the record is also written to the work
	// tree and index so that they stay in step with the branch.
	Branch string
	RunID  string
	// Summary is the commit's subject line.
	Summary string
	Data    []byte
	// Author is who applied (see Author); When is taken from a.When.
	Author object.Signature
	When   time.Time
}

// CommitAudit commits a record onto the audit branch: blob, tree merged
// with the branch's previous tree, commit whose parent is the branch tip,
// then the ref, checked against the tip it read. It returns the commit hash.
func CommitAudit(root string, a AuditCommit) (string, error) {
	r, err := openRepo(root)
	if err != nil {
		return "", err
	}
	if a.Branch == "" {
		a.Branch = DefaultAuditBranch
	}
	if a.When.IsZero() {
		a.When = time.Now()
	}
	file := AuditPath(a.When, a.RunID)
	refName := plumbing.NewBranchReferenceName(a.Branch)
	var parents []plumbing.Hash
	var base *object.Tree
	old, err := r.Reference(refName, true)
	switch {
	case err == nil:
		c, err := r.CommitObject(old.Hash())
		if err != nil {
			return "", fmt.Errorf("audit branch %s: %w", a.Branch, err)
		}
		if base, err = c.Tree(); err != nil {
			return "", fmt.Errorf("audit branch %s: %w", a.Branch, err)
		}
		parents = []plumbing.Hash{c.Hash}
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		old = nil
	default:
		return "", fmt.Errorf("audit branch %s: %w", a.Branch, err)
	}
	if old != nil {
		// Already committed: apply marks a run audited in its journal only
		// after this returns, so a kill in between commits it again.
		if h, ok := auditedRun(r, old.Hash(), base, file, a.RunID); ok {
			return h.String(), nil
		}
	}
	st := r.Storer
	blob, err := writeBlob(st, a.Data)
	if err != nil {
		return "", fmt.Errorf("audit record %s: %w", file, err)
	}
	tree, err := insertTree(st, base, strings.Split(file, "/"), blob)
	if err != nil {
		return "", fmt.Errorf("audit record %s: %w", file, err)
	}
	sig := object.Signature{Name: a.Author.Name, Email: a.Author.Email, When: a.When}
	msg := fmt.Sprintf("%s\n\n%s: %s\n%s: %s\n", a.Summary, trailerRun, a.RunID, trailerRecord, file)
	commit := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}
	obj := st.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return "", err
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		return "", fmt.Errorf("audit commit: %w", err)
	}
	if err := st.CheckAndSetReference(plumbing.NewHashReference(refName, h), old); err != nil {
		return "", fmt.Errorf("audit branch %s moved while committing; retry: %w", a.Branch, err)
	}
	if head, err := r.Head(); err == nil && head.Name() == refName {
		if err := syncWorktreeFile(r, file, a.Data); err != nil {
			return h.String(), fmt.Errorf("audit record %s committed to the current branch, but updating the work tree failed: %w", file, err)
		}
	}
	return h.String(), nil
}

// syncWorktreeFile writes a file committed to the checked-out branch into
// the work tree and index, so that the tree does not show it deleted.
func syncWorktreeFile(r *git.Repository, file string, data []byte) error {
	wt, err := r.Worktree()
	if err != nil {
		return err
	}
	fs := wt.Filesystem
	if err := fs.MkdirAll(path.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := fs.Create(file)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return wt.AddWithOptions(&git.AddOptions{Path: file, SkipStatus: true})
}

func writeBlob(st storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	obj := st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}

// insertTree returns the hash of base (nil: empty) with the blob at parts,
// writing the new trees along the path.
func insertTree(st storer.EncodedObjectStorer, base *object.Tree, parts []string, blob plumbing.Hash) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if base != nil {
		entries = append(entries, base.Entries...)
	}
	name := parts[0]
	var entry object.TreeEntry
	if len(parts) == 1 {
		entry = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: blob}
	} else {
		var sub *object.Tree
		for _, e := range entries {
			if e.Name == name && e.Mode == filemode.Dir {
				t, err := object.GetTree(st, e.Hash)
				if err != nil {
					return plumbing.ZeroHash, err
				}
				sub = t
			}
		}
		h, err := insertTree(st, sub, parts[1:], blob)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entry = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	replaced := false
	for i := range entries {
		if entries[i].Name == name {
			entries[i], replaced = entry, true
		}
	}
	if !replaced {
		entries = append(entries, entry)
	}
	// Git orders tree entries by name, a directory as if its name ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	t := &object.Tree{Entries: entries}
	obj := st.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}

// AuditEntry is one apply in the audit trail.
type AuditEntry struct {
	Commit  string
	RunID   string
	Path    string
	Summary string
	Who     string
	Email   string
	When    time.Time
}

// AuditLog lists the applies recorded on branch (default
// DefaultAuditBranch), newest first. A branch that does not exist yet has
// no entries.
func AuditLog(root, branch string) ([]AuditEntry, error) {
	r, err := openRepo(root)
	if err != nil {
		return nil, err
	}
	if branch == "" {
		branch = DefaultAuditBranch
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit branch %s: %w", branch, err)
	}
	it, err := r.Log(&git.LogOptions{From: ref.Hash(), Order: git.LogOrderCommitterTime})
	if err != nil {
		return nil, fmt.Errorf("audit branch %s: %w", branch, err)
	}
	defer it.Close()
	var out []AuditEntry
	err = it.ForEach(func(c *object.Commit) error {
		tr := trailers(c.Message)
		if tr[trailerRun] == "" {
			return nil
		}
		subject, _, _ := strings.Cut(c.Message, "\n")
		out = append(out, AuditEntry{Commit: c.Hash.String(), RunID: tr[trailerRun], Path: tr[trailerRecord],
			Summary: subject, Who: c.Author.Name, Email: c.Author.Email, When: c.Author.When})
		return nil
	})
	return out, err
}

// AuditRecord returns the entry and the JSON record of the run whose id is
// runID or starts with it (unambiguously).
func AuditRecord(root, branch, runID string) (AuditEntry, []byte, error) {
	entries, err := AuditLog(root, branch)
	if err != nil {
		return AuditEntry{}, nil, err
	}
	var found []AuditEntry
	for _, e := range entries {
		if e.RunID == runID {
			found = []AuditEntry{e}
			break
		}
		if strings.HasPrefix(e.RunID, strings.ToUpper(runID)) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return AuditEntry{}, nil, fmt.Errorf("run %s: not in the audit trail (pmpc history lists the runs)", runID)
	case 1:
	default:
		return AuditEntry{}, nil, fmt.Errorf("run %s: ambiguous, matches %d runs", runID, len(found))
	}
	e := found[0]
	r, err := openRepo(root)
	if err != nil {
		return e, nil, err
	}
	c, err := r.CommitObject(plumbing.NewHash(e.Commit))
	if err != nil {
		return e, nil, err
	}
	f, err := c.File(e.Path)
	if err != nil {
		return e, nil, fmt.Errorf("run %s: record %s: %w", e.RunID, e.Path, err)
	}
	rd, err := f.Reader()
	if err != nil {
		return e, nil, err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	return e, b, err
}

// trailers parses "Key: value" lines of a message's last paragraph.
func trailers(msg string) map[string]string {
	paras := strings.Split(strings.TrimSpace(msg), "\n\n")
	out := map[string]string{}
	for _, l := range strings.Split(paras[len(paras)-1], "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if ok && !strings.Contains(k, " ") {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// PushAudit pushes the audit branch to remote (default "origin"). When the
// remote's branch moved on (another runner applied), the local records
// missing there are replayed onto it and the push is retried once.
func PushAudit(ctx context.Context, root, branch, remote string) error {
	r, err := openRepo(root)
	if err != nil {
		return err
	}
	if branch == "" {
		branch = DefaultAuditBranch
	}
	if remote == "" {
		remote = "origin"
	}
	ref := plumbing.NewBranchReferenceName(branch)
	spec := config.RefSpec(ref.String() + ":" + ref.String())
	push := func() error {
		err := r.PushContext(ctx, &git.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: remoteAuth(r, remote)})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	err = push()
	if err == nil {
		return nil
	}
	if !strings.Contains(err.Error(), "non-fast-forward") && !strings.Contains(err.Error(), "rejected") {
		return fmt.Errorf("push %s to %s: %w", branch, remote, err)
	}
	if err := replayOntoRemote(ctx, r, branch, remote); err != nil {
		return fmt.Errorf("push %s to %s: %w", branch, remote, err)
	}
	if err := push(); err != nil {
		return fmt.Errorf("push %s to %s: %w", branch, remote, err)
	}
	return nil
}

// replayOntoRemote fetches the remote audit branch and re-commits the local
// records it lacks on top of it, moving the local branch there.
func replayOntoRemote(ctx context.Context, r *git.Repository, branch, remote string) error {
	ref := plumbing.NewBranchReferenceName(branch)
	tmp := plumbing.ReferenceName("refs/pmpc/remote-audit")
	err := r.FetchContext(ctx, &git.FetchOptions{RemoteName: remote, Force: true, Auth: remoteAuth(r, remote),
		RefSpecs: []config.RefSpec{config.RefSpec("+" + ref.String() + ":" + tmp.String())}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch: %w", err)
	}
	remoteTip, err := r.Reference(tmp, true)
	if err != nil {
		return err
	}
	rc, err := r.CommitObject(remoteTip.Hash())
	if err != nil {
		return err
	}
	local, err := r.Reference(ref, true)
	if err != nil {
		return err
	}
	// Local commits not reachable from the remote tip, oldest last.
	var mine []*object.Commit
	c, err := r.CommitObject(local.Hash())
	for err == nil {
		if anc, _ := c.IsAncestor(rc); anc || c.Hash == rc.Hash {
			break
		}
		mine = append(mine, c)
		if c.NumParents() == 0 {
			break
		}
		c, err = c.Parent(0)
	}
	if err != nil {
		return err
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference(ref, rc.Hash)); err != nil {
		return err
	}
	root := ""
	if wt, err := r.Worktree(); err == nil {
		root = wt.Filesystem.Root()
	}
	for i := len(mine) - 1; i >= 0; i-- {
		m := mine[i]
		tr := trailers(m.Message)
		f, err := m.File(tr[trailerRecord])
		if err != nil {
			return err
		}
		data, err := f.Contents()
		if err != nil {
			return err
		}
		subject, _, _ := strings.Cut(m.Message, "\n")
		if _, err := CommitAudit(root, AuditCommit{Branch: branch, RunID: tr[trailerRun], Summary: subject, Data: []byte(data),
			Author: m.Author, When: m.Author.When}); err != nil {
			return err
		}
	}
	return nil
}

// recentRuns bounds how far back auditedRun looks for a run's commit when
// its record is not at the expected path.
const recentRuns = 100

// auditedRun finds the commit on the audit branch (tip) that recorded
// runID: the record file is in the tip's tree, or one of the recent commits
// carries the run's trailer.
func auditedRun(r *git.Repository, tip plumbing.Hash, tree *object.Tree, file, runID string) (plumbing.Hash, bool) {
	_, ferr := tree.FindEntry(file)
	inTree := ferr == nil
	it, err := r.Log(&git.LogOptions{From: tip})
	if err != nil {
		return plumbing.ZeroHash, false
	}
	defer it.Close()
	var found plumbing.Hash
	n := 0
	_ = it.ForEach(func(c *object.Commit) error {
		if trailers(c.Message)[trailerRun] == runID {
			found = c.Hash
			return storer.ErrStop
		}
		if n++; n >= recentRuns && !inTree {
			return storer.ErrStop
		}
		return nil
	})
	if found.IsZero() && inTree {
		return tip, true
	}
	return found, !found.IsZero()
}
