package workspace

// This file holds the apply lock: one apply per workspace at a time. The
// local lock is a file created with O_EXCL; where the repository has a
// remote, a lock ref (refs/pmpc/lock) is pushed to it atomically as well, so
// that two CI runners with their own clones cannot apply together.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// LockRef is the ref pushed to the remote while an apply holds the lock.
const LockRef = "refs/pmpc/lock"

// LockFile is the local lock, relative to the workspace root.
const LockFile = ".pmpc/apply.lock"

// LockInfo says who holds the lock.
type LockInfo struct {
	Who   string    `json:"who"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
	RunID string    `json:"run_id,omitempty"`
	// Boot and PIDNS say which boot and PID namespace PID is counted in
	// (Linux), so that a lock is judged stale only where its pid means
	// something.
	Boot  string `json:"boot,omitempty"`
	PIDNS string `json:"pidns,omitempty"`
}

// LockHeldError is returned when another apply holds the lock.
type LockHeldError struct {
	Info LockInfo
	// Where is the lock that is held: the local file or "remote <name>".
	Where string
	Now   time.Time
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("another apply holds the lock (%s): %s on host %s, pid %d, for %s; wait for it to finish, or if it died run pmpc unlock",
		e.Where, e.Info.Who, e.Info.Host, e.Info.PID, humanAge(e.Now.Sub(e.Info.Since)))
}

// humanAge prints a lock's age the way a person reads it: seconds for a
// fresh lock, then minutes, hours and days ("3d4h", not "76h0m0s").
func humanAge(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := d / (24 * time.Hour)
	hours := (d % (24 * time.Hour)) / time.Hour
	return fmt.Sprintf("%dd%dh", days, hours)
}

// Lock is a held apply lock. Release it when the apply ends.
type Lock struct {
	root   string
	file   string
	f      *os.File // the local lock file, open and flocked while held
	remote string
	r      *git.Repository
	hash   plumbing.Hash // the lock commit pushed to remote, if any
	// Warning is set when the remote lock could not be taken (see
	// LockOptions.RemoteRequired).
	Warning string
}

// LockOptions configure AcquireLock.
type LockOptions struct {
	// Remote is the git remote that carries the lock ref (default
	// "origin"); the remote lock is skipped when the repository has no
	// such remote, or NoRemote is set.
	Remote   string
	NoRemote bool
	// RemoteRequired makes a remote that cannot be locked (unreachable, no
	// credentials) an error; by default the apply goes on with the local
	// lock and Lock.Warning says so.
	RemoteRequired bool
	Now            func() time.Time
}

// AcquireLock takes the apply lock of the workspace at root: the local
// file, then the remote lock ref. A lock held by someone else gives a
// *LockHeldError; a local lock left by a dead process on this host is
// taken over.
func AcquireLock(ctx context.Context, root string, info LockInfo, opts LockOptions) (*Lock, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if info.Host == "" {
		info.Host, _ = os.Hostname()
	}
	if info.PID == 0 {
		info.PID = os.Getpid()
		info.Boot, info.PIDNS = bootID(), pidNamespace()
	}
	if info.Since.IsZero() {
		info.Since = opts.Now().UTC()
	}
	l := &Lock{root: root, file: filepath.Join(root, LockFile)}
	if err := l.lockLocal(info, opts.Now()); err != nil {
		return nil, err
	}
	if opts.NoRemote {
		return l, nil
	}
	remote := opts.Remote
	if remote == "" {
		remote = "origin"
	}
	r, err := openRepo(root)
	if err != nil {
		return l, nil // not a git repository: the local lock is all there is
	}
	if _, err := r.Remote(remote); err != nil {
		return l, nil
	}
	l.r, l.remote = r, remote
	if err := l.lockRemote(ctx, info, opts.Now()); err != nil {
		var held *LockHeldError
		if errors.As(err, &held) || opts.RemoteRequired {
			_ = l.releaseLocal()
			return nil, err
		}
		// The remote cannot be reached or written: only the local lock
		// protects this apply. Say so; the caller decides whether to go on.
		l.Warning = fmt.Sprintf("could not take the apply lock ref on %s, so only the local lock protects this apply: %v", remote, err)
		l.r = nil
	}
	return l, nil
}

// remoteAuth returns credentials for an http(s) remote from PMPC_GIT_TOKEN
// (sent as HTTP basic auth, as GitHub, GitLab and Gitea accept tokens), or
// nil: ssh remotes use the ssh agent, local paths need nothing.
func remoteAuth(r *git.Repository, remote string) transport.AuthMethod {
	tok := os.Getenv("PMPC_GIT_TOKEN")
	if tok == "" {
		return nil
	}
	rm, err := r.Remote(remote)
	if err != nil || len(rm.Config().URLs) == 0 {
		return nil
	}
	u := rm.Config().URLs[0]
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return nil
	}
	user := os.Getenv("PMPC_GIT_USER")
	if user == "" {
		user = "x-access-token"
	}
	return &githttp.BasicAuth{Username: user, Password: tok}
}

// lockLocal takes the local lock: a file that names the holder and that
// the holder keeps open under flock(2) for as long as it runs. The kernel
// drops the flock when the process dies however it dies, so a lock file
// whose flock is free was left by a dead apply and is taken over; one whose
// flock is held belongs to a live one. The file is written and flocked
// under a temporary name and only then linked (or, to take over, renamed)
// into place, so nobody ever sees a half-written lock, and a takeover
// happens while holding the dead holder's flock, so two takers cannot both
// win.
func (l *Lock) lockLocal(info LockInfo, now time.Time) error {
	dir := filepath.Dir(l.file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("apply lock: %w", err)
	}
	b, _ := json.Marshal(info)
	for range 20 {
		mine, err := os.CreateTemp(dir, ".apply.lock.*")
		if err != nil {
			return fmt.Errorf("apply lock %s: %w", LockFile, err)
		}
		done, err := l.placeLock(mine, append(b, '\n'), info.Host, now)
		if !done {
			os.Remove(mine.Name())
			mine.Close()
		}
		if done || err != nil {
			return err
		}
		// The file changed under us (released or taken over): look again.
	}
	return fmt.Errorf("apply lock %s: could not take it: it keeps changing", LockFile)
}

// placeLock tries to put mine (a fresh temporary file) in place as the
// lock. It reports done when mine is the lock (l.f holds it); an error
// ends the attempt; neither means try again.
func (l *Lock) placeLock(mine *os.File, content []byte, host string, now time.Time) (bool, error) {
	if _, err := mine.Write(content); err != nil {
		return false, fmt.Errorf("apply lock %s: %w", LockFile, err)
	}
	if err := syscall.Flock(int(mine.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false, fmt.Errorf("apply lock %s: %w", LockFile, err)
	}
	err := os.Link(mine.Name(), l.file)
	if err == nil {
		os.Remove(mine.Name())
		l.f = mine
		return true, nil
	}
	if !errors.Is(err, os.ErrExist) {
		return false, fmt.Errorf("apply lock %s: %w", LockFile, err)
	}
	cur, err := os.Open(l.file)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // released meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("apply lock %s: %w", LockFile, err)
	}
	defer cur.Close()
	if err := syscall.Flock(int(cur.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return false, fmt.Errorf("apply lock %s: %w", LockFile, err)
		}
		held, rerr := readLockInfo(cur)
		if rerr != nil {
			return false, fmt.Errorf("apply lock %s is held by a running process, but cannot be read (%v)", LockFile, rerr)
		}
		return false, &LockHeldError{Info: held, Where: LockFile, Now: now}
	}
	// Its holder is gone (or is just releasing it). Only the file still at
	// the path may be taken over.
	if !samePath(cur, l.file) {
		return false, nil
	}
	held, rerr := readLockInfo(cur)
	if rerr == nil && held.Host != host {
		// Written on another host (a shared file system): its holder's
		// flock may not reach us. Never judged stale; pmpc unlock --force.
		return false, &LockHeldError{Info: held, Where: LockFile, Now: now}
	}
	if err := os.Rename(mine.Name(), l.file); err != nil {
		return false, fmt.Errorf("apply lock %s: take over: %w", LockFile, err)
	}
	l.f = mine
	return true, nil
}

// samePath reports whether f is (still) the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

func readLockInfo(f *os.File) (LockInfo, error) {
	var info LockInfo
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return info, err
	}
	err = json.Unmarshal(b, &info)
	return info, err
}

// releaseLocal removes the local lock file if it is still ours and drops
// its flock.
func (l *Lock) releaseLocal() error {
	if l.f == nil {
		return nil
	}
	var err error
	if samePath(l.f, l.file) {
		if rerr := os.Remove(l.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("release %s: %w", LockFile, rerr)
		}
	}
	l.f.Close()
	l.f = nil
	return err
}

// stale reports whether a lock was left by a process that no longer runs
// on this host. A lock from another host is never judged stale, nor one
// taken in another boot or PID namespace of a host with the same name (two
// containers named alike, a rebooted runner): a pid means nothing there.
func stale(info LockInfo) bool {
	host, _ := os.Hostname()
	if info.Host != host || info.PID <= 0 {
		return false
	}
	if info.Boot != bootID() || info.PIDNS != pidNamespace() {
		return false
	}
	err := syscall.Kill(info.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

// bootID identifies this boot of the machine ("" where unknown).
func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// pidNamespace identifies the PID namespace pids are counted in ("" where
// unknown).
func pidNamespace() string {
	s, _ := os.Readlink("/proc/self/ns/pid")
	return s
}

func (l *Lock) lockRemote(ctx context.Context, info LockInfo, now time.Time) error {
	b, _ := json.Marshal(info)
	st := l.r.Storer
	// An empty tree, and a commit whose message says who holds the lock.
	tree := &object.Tree{}
	tobj := st.NewEncodedObject()
	if err := tree.Encode(tobj); err != nil {
		return err
	}
	th, err := st.SetEncodedObject(tobj)
	if err != nil {
		return fmt.Errorf("apply lock ref: %w", err)
	}
	sig := object.Signature{Name: info.Who, Email: info.Who + "@" + info.Host, When: info.Since}
	c := &object.Commit{Author: sig, Committer: sig, TreeHash: th,
		Message: fmt.Sprintf("pmpc apply lock held by %s on %s\n\n%s\n", info.Who, info.Host, b)}
	cobj := st.NewEncodedObject()
	if err := c.Encode(cobj); err != nil {
		return err
	}
	h, err := st.SetEncodedObject(cobj)
	if err != nil {
		return fmt.Errorf("apply lock ref: %w", err)
	}
	if err := st.SetReference(plumbing.NewHashReference(LockRef, h)); err != nil {
		return fmt.Errorf("apply lock ref: %w", err)
	}
	for attempt := 0; attempt < 2; attempt++ {
		err = l.r.PushContext(ctx, &git.PushOptions{RemoteName: l.remote, Atomic: true, Auth: remoteAuth(l.r, l.remote),
			RefSpecs: []config.RefSpec{LockRef + ":" + LockRef}})
		if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
			l.hash = h
			return nil
		}
		held, herr := remoteHolder(ctx, l.r, l.remote)
		if herr != nil {
			return fmt.Errorf("apply lock ref %s on %s: %w", LockRef, l.remote, err)
		}
		if attempt == 0 && stale(held.info) {
			// Left by a dead apply on this host: remove it and try again.
			if derr := deleteRemoteLock(ctx, l.r, l.remote, held.hash); derr == nil {
				continue
			}
		}
		return &LockHeldError{Info: held.info, Where: "remote " + l.remote, Now: now}
	}
	return fmt.Errorf("apply lock ref %s on %s: %w", LockRef, l.remote, err)
}

type holder struct {
	info LockInfo
	hash plumbing.Hash
}

// remoteHolder fetches the remote lock ref and reads who holds it.
func remoteHolder(ctx context.Context, r *git.Repository, remote string) (holder, error) {
	tmp := plumbing.ReferenceName("refs/pmpc/remote-lock")
	err := r.FetchContext(ctx, &git.FetchOptions{RemoteName: remote, Force: true, Auth: remoteAuth(r, remote),
		RefSpecs: []config.RefSpec{config.RefSpec("+" + LockRef + ":" + tmp.String())}})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return holder{}, err
	}
	ref, err := r.Reference(tmp, true)
	if err != nil {
		return holder{}, err
	}
	c, err := r.CommitObject(ref.Hash())
	if err != nil {
		return holder{}, err
	}
	var info LockInfo
	_, body, _ := strings.Cut(c.Message, "\n\n")
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &info); err != nil {
		info = LockInfo{Who: c.Author.Name, Since: c.Author.When}
	}
	return holder{info: info, hash: ref.Hash()}, nil
}

// deleteRemoteLock deletes the remote lock ref if it still points at hash
// (zero hash: whatever it points at).
func deleteRemoteLock(ctx context.Context, r *git.Repository, remote string, hash plumbing.Hash) error {
	opts := &git.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{":" + LockRef}}
	if !hash.IsZero() {
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(hash.String() + ":" + LockRef)}
	}
	opts.Auth = remoteAuth(r, remote)
	err := r.PushContext(ctx, opts)
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// Release gives the lock up: the remote ref (only if it is still ours),
// then the local file.
func (l *Lock) Release(ctx context.Context) error {
	var errs []error
	if l.r != nil && !l.hash.IsZero() {
		if err := deleteRemoteLock(ctx, l.r, l.remote, l.hash); err != nil {
			errs = append(errs, fmt.Errorf("release lock ref on %s: %w", l.remote, err))
		}
		_ = l.r.Storer.RemoveReference(LockRef)
	}
	if err := l.releaseLocal(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Unlock clears a lock left behind: the local file and, where there is a
// remote, the lock ref. Without force it clears only locks whose process is
// known dead (same host); with force it clears whatever is there. It
// returns one line per lock it cleared.
func Unlock(ctx context.Context, root string, opts LockOptions, force bool) ([]string, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var cleared []string
	file := filepath.Join(root, LockFile)
	if f, err := os.Open(file); err == nil {
		info, _ := readLockInfo(f)
		// A held flock means a live holder on this host.
		live := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
		host, _ := os.Hostname()
		if !force && (live || info.Host != host) {
			f.Close()
			return cleared, &LockHeldError{Info: info, Where: LockFile, Now: opts.Now()}
		}
		rerr := os.Remove(file)
		f.Close()
		if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return cleared, fmt.Errorf("unlock %s: %w", LockFile, rerr)
		}
		cleared = append(cleared, fmt.Sprintf("removed %s (held by %s on %s, pid %d)", LockFile, info.Who, info.Host, info.PID))
	} else if !errors.Is(err, os.ErrNotExist) {
		return cleared, fmt.Errorf("unlock %s: %w", LockFile, err)
	}
	if opts.NoRemote {
		return cleared, nil
	}
	remote := opts.Remote
	if remote == "" {
		remote = "origin"
	}
	r, err := openRepo(root)
	if err != nil {
		return cleared, nil
	}
	if _, err := r.Remote(remote); err != nil {
		return cleared, nil
	}
	held, err := remoteHolder(ctx, r, remote)
	if err != nil {
		// No lock ref on the remote.
		return cleared, nil
	}
	if !force && !stale(held.info) {
		return cleared, &LockHeldError{Info: held.info, Where: "remote " + remote, Now: opts.Now()}
	}
	if err := deleteRemoteLock(ctx, r, remote, held.hash); err != nil {
		return cleared, fmt.Errorf("unlock %s on %s: %w", LockRef, remote, err)
	}
	cleared = append(cleared, fmt.Sprintf("deleted %s on %s (held by %s on %s, pid %d)", LockRef, remote, held.info.Who, held.info.Host, held.info.PID))
	return cleared, nil
}
