//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// lockFile is an exclusive advisory lock on <dir>.lock holding the PID of
// its owner. It is taken before anything in the store is read, so a store
// that another process is writing is never checked, judged corrupt or moved
// aside.
type lockFile struct{ f *os.File }

func acquireLock(path string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock snapshot: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{PID: readPID(path)}
		}
		return nil, fmt.Errorf("lock snapshot %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &lockFile{f: f}, nil
}

func (l *lockFile) release() {
	if l == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close() // closing the descriptor drops the flock
}
