//go:build !unix

package snapshot

// lockFile is a no-op where flock is not available; Badger's own directory
// lock still keeps a second process out.
type lockFile struct{}

func acquireLock(string) (*lockFile, error) { return &lockFile{}, nil }

func (*lockFile) release() {}
