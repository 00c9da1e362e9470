package snapshot

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// DefaultRetain is how many revisions a store keeps when Options.Retain is 0.
const DefaultRetain = 50

// RebuildHint is what a user runs to throw a broken snapshot away.
const RebuildHint = "rm -rf .pmpc/snapshot && pmpc refresh"

// Options configure a store. The zero value is ready to use.
type Options struct {
	// Retain is how many revisions to keep; older ones are deleted after
	// each Put. 0 means DefaultRetain.
	Retain int
	// Logger receives Badger's warnings and errors and the store's own
	// notices (a corrupt store moved aside). Nil discards them.
	Logger *slog.Logger
	// KeepCorrupt makes Open fail with a *CorruptError instead of moving a
	// corrupt store aside and starting empty.
	KeepCorrupt bool
}

func (o Options) retain() int {
	if o.Retain <= 0 {
		return DefaultRetain
	}
	return o.Retain
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// LockedError is returned by Open when another process (or another Store in
// this process) has the snapshot open. cmd maps it to exit code 4.
type LockedError struct {
	Dir string
	// PID is the process holding the lock, or 0 if it could not be read.
	PID int
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return "workspace is locked by another process"
	}
	return "workspace is locked by PID " + strconv.Itoa(e.PID)
}

// CorruptError reports a snapshot that cannot be read. The snapshot is a
// cache: the fix is always to throw it away and refresh (RebuildHint).
type CorruptError struct {
	Dir string // "" for an in-memory store
	// What was wrong, e.g. `decode g/...: unexpected end of JSON input`.
	Err error
}

func (e *CorruptError) Error() string {
	where := "snapshot"
	if e.Dir != "" {
		where = "snapshot " + e.Dir
	}
	return fmt.Sprintf("%s is corrupt: %v; it is only a cache, rebuild it with: %s", where, e.Err, RebuildHint)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ErrNoRevision is returned by reads of a store no refresh has written yet.
var ErrNoRevision = errors.New("snapshot is empty: run pmpc refresh")

// ErrNotFound is returned when a revision or guest does not exist.
var ErrNotFound = errors.New("not found")

// Store is a snapshot store. Its methods are safe for concurrent use; writes
// are serialised.
type Store struct {
	db     *badger.DB
	dir    string
	opts   Options
	log    *slog.Logger
	salt   []byte
	mu     sync.Mutex // serialises Put, pruning and cleanup
	aside  string
	lock   *lockFile
	closed bool
}

// Open opens (creating if needed) the store in dir, normally
// <workspace>/.pmpc/snapshot, and locks it through the file <dir>.lock. It
// returns a *LockedError if another process (or another Store in this
// process) holds the store. A store that cannot be opened or read is moved aside to
// <dir>.corrupt-<time> and a new empty one is opened in its place (see
// MovedAside), unless opts.KeepCorrupt is set, when Open returns a
// *CorruptError.
func Open(dir string, opts Options) (*Store, error) {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("open snapshot %s: %w", dir, err)
	}
	lock, err := acquireLock(dir + ".lock")
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			le.Dir = dir
		}
		return nil, err
	}
	s, err := openLocked(dir, opts)
	if err != nil {
		lock.release()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func openLocked(dir string, opts Options) (*Store, error) {
	s, err := open(dir, opts)
	var ce *CorruptError
	if !errors.As(err, &ce) || opts.KeepCorrupt {
		return s, err
	}
	aside := fmt.Sprintf("%s.corrupt-%s", dir, time.Now().UTC().Format("20060102T150405.000000000"))
	if rerr := os.Rename(dir, aside); rerr != nil {
		return nil, fmt.Errorf("%w (moving it aside failed: %v)", err, rerr)
	}
	opts.logger().Warn("snapshot was corrupt; moved it aside and starting empty (run pmpc refresh)",
		"dir", dir, "moved_to", aside, "error", ce.Err)
	s, err = open(dir, opts)
	if err != nil {
		return nil, err
	}
	s.aside = aside
	return s, nil
}

// OpenInMemory returns an empty store that lives only in memory, for tests
// and for runs that must not touch the disk.
func OpenInMemory(opts Options) (*Store, error) {
	bo := badger.DefaultOptions("").WithInMemory(true)
	db, err := badger.Open(tune(bo, opts))
	if err != nil {
		return nil, fmt.Errorf("open in-memory snapshot: %w", err)
	}
	return initStore(db, "", opts, true)
}

func open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open snapshot %s: %w", dir, err)
	}
	_, statErr := os.Stat(filepath.Join(dir, badger.ManifestFilename))
	fresh := errors.Is(statErr, fs.ErrNotExist)
	if fresh {
		// A directory without a manifest but with other files is not a
		// store we wrote.
		if ents, _ := os.ReadDir(dir); len(ents) > 0 && !onlyLockFile(ents) {
			return nil, &CorruptError{Dir: dir, Err: errors.New("MANIFEST missing")}
		}
	}
	if err := checkSums(dir); err != nil {
		return nil, &CorruptError{Dir: dir, Err: err}
	}
	if err := checkTables(dir); err != nil {
		return nil, &CorruptError{Dir: dir, Err: err}
	}
	db, err := openBadger(dir, opts)
	if err != nil {
		if isLockErr(err) {
			return nil, &LockedError{Dir: dir, PID: readPID(filepath.Join(dir, "LOCK"))}
		}
		return nil, &CorruptError{Dir: dir, Err: err}
	}
	return initStore(db, dir, opts, fresh)
}

// openBadger opens Badger, turning its panics on garbled files into errors.
func openBadger(dir string, opts Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("badger panicked: %v", r)
		}
	}()
	return badger.Open(tune(badger.DefaultOptions(dir), opts))
}

// checkTables checks the footer of every table file before Badger opens
// it: Badger trusts the lengths stored there and panics, in a goroutine no
// caller can recover, when a garbled footer points outside the file. What the
// footer points at is then checksummed by Badger itself (see tune).
func checkTables(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := checkTable(f); err != nil {
			return fmt.Errorf("table %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

func checkTable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var b [4]byte
	// Layout from the end: checksum length (4), checksum, index length (4), index.
	if size < 8 {
		return errors.New("too short")
	}
	if _, err := f.ReadAt(b[:], size-4); err != nil {
		return err
	}
	sumLen := int64(binary.BigEndian.Uint32(b[:]))
	if sumLen == 0 || sumLen > size-8 {
		return fmt.Errorf("checksum length %d out of range", sumLen)
	}
	if _, err := f.ReadAt(b[:], size-8-sumLen); err != nil {
		return err
	}
	if idxLen := int64(binary.BigEndian.Uint32(b[:])); idxLen == 0 || idxLen > size-8-sumLen {
		return fmt.Errorf("index length %d out of range", idxLen)
	}
	return nil
}

func onlyLockFile(ents []os.DirEntry) bool {
	for _, e := range ents {
		if e.Name() != "LOCK" && e.Name() != sumsFile {
			return false
		}
	}
	return true
}

// tune applies the small-footprint profile: pmpc's snapshot is a few MB, and
// Badger's defaults (1 GiB value log mmapped at 2 GiB, 64 MiB memtables,
// 256 MiB block cache) are sized for servers.
func tune(bo badger.Options, opts Options) badger.Options {
	return bo.
		WithLogger(badgerLogger{opts.logger()}).
		// Values are small; anything above 64 KiB goes to the value log.
		// Snappy: 50 revisions of 10k guests take 39 MiB instead of 106.
		WithValueThreshold(64 << 10).
		WithValueLogFileSize(2 << 20).
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(4 << 20).
		WithBlockCacheSize(4 << 20).
		WithIndexCacheSize(2 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithCompression(options.Snappy).
		// Checksum every block before it is parsed, so a garbled file is
		// an error, not a panic.
		WithChecksumVerificationMode(options.OnTableAndBlockRead).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(false)
}

func isLockErr(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "Cannot acquire directory lock")
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// initStore checks the format key (writing it into a fresh store), loads the
// salt and removes what an interrupted Put or prune left behind.
func initStore(db *badger.DB, dir string, opts Options, fresh bool) (*Store, error) {
	s := &Store{db: db, dir: dir, opts: opts, log: opts.logger()}
	fail := func(err error) (*Store, error) {
		db.Close()
		return nil, err
	}
	var format []byte
	err := db.View(func(txn *badger.Txn) error {
		var err error
		format, err = getCopy(txn, keyFormat)
		if err == nil {
			s.salt, err = getCopy(txn, keySalt)
		}
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound) && fresh && format == nil:
		s.salt = make([]byte, 32)
		if _, err := rand.Read(s.salt); err != nil {
			return fail(fmt.Errorf("snapshot salt: %w", err))
		}
		err = db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(keyFormat, []byte(formatVersion)); err != nil {
				return err
			}
			return txn.Set(keySalt, s.salt)
		})
		if err != nil {
			return fail(fmt.Errorf("initialise snapshot: %w", err))
		}
		return s, nil
	case errors.Is(err, badger.ErrKeyNotFound) && format == nil:
		return fail(&CorruptError{Dir: dir, Err: errors.New("format version key missing")})
	case errors.Is(err, badger.ErrKeyNotFound):
		return fail(&CorruptError{Dir: dir, Err: errors.New("salt missing")})
	case err != nil:
		return fail(&CorruptError{Dir: dir, Err: err})
	}
	if string(format) != formatVersion {
		return fail(&CorruptError{Dir: dir, Err: fmt.Errorf("format version %q, want %q", format, formatVersion)})
	}
	if len(s.salt) != 32 {
		return fail(&CorruptError{Dir: dir, Err: fmt.Errorf("salt has %d bytes, want 32", len(s.salt))})
	}
	// The newest revision must decode: a garbled store is caught here
	// rather than in the middle of a plan.
	if _, _, err := s.latestHeader(); err != nil && !errors.Is(err, ErrNoRevision) {
		return fail(err)
	}
	if err := s.cleanup(); err != nil {
		return fail(&CorruptError{Dir: dir, Err: err})
	}
	return s, nil
}

// MovedAside returns where Open moved a corrupt store, or "" if it did not.
func (s *Store) MovedAside() string { return s.aside }

// Dir returns the directory of the store, or "" for an in-memory store.
func (s *Store) Dir() string { return s.dir }

// Close closes the store. It must be called: an unclosed store is recovered
// on the next Open, but more slowly.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.lock.release()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	if s.dir != "" {
		if err := writeSums(s.dir); err != nil {
			return fmt.Errorf("close snapshot: write table checksums: %w", err)
		}
	}
	return nil
}

func (s *Store) corrupt(format string, args ...any) error {
	return &CorruptError{Dir: s.dir, Err: fmt.Errorf(format, args...)}
}

func getCopy(txn *badger.Txn, k []byte) ([]byte, error) {
	it, err := txn.Get(k)
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

// badgerLogger passes Badger's warnings and errors to slog and drops the rest.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

var _ io.Closer = (*Store)(nil)
