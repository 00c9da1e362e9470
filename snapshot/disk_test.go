package snapshot

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/pmpc-dev/pmpc/resource"
)

func openDisk(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPersistsAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshot")
	s := openDisk(t, dir, Options{})
	in := cluster(t0, guest(resource.KindVM, 100, "web-01", map[string]string{"cores": "2"}))
	if _, err := s.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	addr := resource.Address{Kind: resource.KindVM, Name: "web-01"}
	if err := s.SetSecret(addr, "cipassword", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDisk(t, dir, Options{})
	got, rev, err := s.Latest()
	if err != nil || rev.ID != 1 || len(got.Guests) != 1 || got.Guests[0].Config["cores"] != "2" {
		t.Fatalf("after reopen: %+v %v %v", got, rev, err)
	}
	// The salt survives too, so secret hashes still match.
	if known, same, err := s.SecretMatches(addr, "cipassword", []byte("pw")); !known || !same || err != nil {
		t.Errorf("after reopen: SecretMatches = %v %v %v, want true true", known, same, err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshot")
	openDisk(t, dir, Options{})
	_, err := Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Open: err = %v (%T), want *LockedError", err, err)
	}
	want := fmt.Sprintf("workspace is locked by PID %d", os.Getpid())
	if le.PID != os.Getpid() || err.Error() != want {
		t.Errorf("second Open: %q (PID %d), want %q", err, le.PID, want)
	}
	// The lock must not be mistaken for corruption: nothing moved aside.
	if m, _ := filepath.Glob(dir + ".corrupt-*"); len(m) != 0 {
		t.Errorf("locked store was moved aside: %v", m)
	}
}

// TestLockHelper is not a test: TestLockedByOtherProcess runs the test
// binary with PMPC_SNAPSHOT_HOLD set, and this holds the store open until
// its stdin closes.
func TestLockHelper(t *testing.T) {
	dir := os.Getenv("PMPC_SNAPSHOT_HOLD")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	var b [1]byte
	os.Stdin.Read(b[:])
	s.Close()
	os.Exit(0)
}

func TestLockedByOtherProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshot")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), "PMPC_SNAPSHOT_HOLD="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper did not open the store: %q %v", line, err)
	}
	_, err = Open(dir, Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("Open while another process holds it: %v, want locked by PID %d", err, cmd.Process.Pid)
	}
	// Once the other process is gone, the store opens (its stale LOCK file
	// does not matter).
	stdin.Close()
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	openDisk(t, dir, Options{})
}

// writeStore creates a store with two revisions in dir and closes it.
func writeStore(t *testing.T, dir string) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		c := cluster(t0.Add(time.Duration(i)*time.Minute), guest(resource.KindVM, 100, "a", map[string]string{"cores": fmt.Sprint(i)}))
		if _, err := s.Put(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// rawUpdate edits the store's keys behind its back.
func rawUpdate(t *testing.T, dir string, f func(txn *badger.Txn) error) {
	t.Helper()
	db, err := badger.Open(tune(badger.DefaultOptions(dir), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// corruptions break a closed store in different ways; Open must notice each.
var corruptions = map[string]func(t *testing.T, dir string){
	"garbled MANIFEST": func(t *testing.T, dir string) {
		if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("this is not a manifest"), 0o600); err != nil {
			t.Fatal(err)
		}
	},
	"missing MANIFEST": func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
			t.Fatal(err)
		}
	},
	"garbled tables": func(t *testing.T, dir string) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		files2, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
		files = append(files, files2...)
		if len(files) == 0 {
			t.Fatal("no table files to garble")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range b {
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	},
	"garbled block trailer": func(t *testing.T, dir string) {
		// The bytes before the table's index: the trailer of its last
		// block, which Badger parses before checking. Caught by pmpc.sums.
		files, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		if len(files) == 0 {
			t.Fatal("no table files to garble")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sumLen := int(binary.BigEndian.Uint32(b[len(b)-4:]))
			idxLen := int(binary.BigEndian.Uint32(b[len(b)-8-sumLen:]))
			end := len(b) - 8 - sumLen - idxLen
			for i := end - 8; i < end; i++ {
				b[i] = 0xff
			}
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	},
	"garbled table block": func(t *testing.T, dir string) {
		// The footer stays intact: only Badger's block checksums catch this.
		files, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
		if len(files) == 0 {
			t.Fatal("no table files to garble")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range min(len(b)/4, 64) {
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	},
	"missing format key": func(t *testing.T, dir string) {
		rawUpdate(t, dir, func(txn *badger.Txn) error { return txn.Delete(keyFormat) })
	},
	"unknown format version": func(t *testing.T, dir string) {
		rawUpdate(t, dir, func(txn *badger.Txn) error { return txn.Set(keyFormat, []byte("99")) })
	},
	"garbled revision header": func(t *testing.T, dir string) {
		rawUpdate(t, dir, func(txn *badger.Txn) error { return txn.Set(headKey(2), []byte("{not json")) })
	},
	"not a badger directory": func(t *testing.T, dir string) {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
	},
}

func TestCorruptStoreIsMovedAside(t *testing.T) {
	for name, corrupt := range corruptions {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "snapshot")
			writeStore(t, dir)
			corrupt(t, dir)
			s := openDisk(t, dir, Options{})
			aside := s.MovedAside()
			if aside == "" || !strings.HasPrefix(aside, dir+".corrupt-") {
				t.Fatalf("MovedAside = %q, want %s.corrupt-<time>", aside, dir)
			}
			if _, err := os.Stat(aside); err != nil {
				t.Errorf("moved-aside store: %v", err)
			}
			// The new store is empty and works.
			if _, _, err := s.Latest(); !errors.Is(err, ErrNoRevision) {
				t.Errorf("rebuilt store: Latest err = %v, want ErrNoRevision", err)
			}
			if _, err := s.Put(context.Background(), cluster(t0, guest(resource.KindVM, 100, "a", nil))); err != nil {
				t.Errorf("Put into rebuilt store: %v", err)
			}
		})
	}
}

func TestCorruptStoreKept(t *testing.T) {
	for name, corrupt := range corruptions {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "snapshot")
			writeStore(t, dir)
			corrupt(t, dir)
			s, err := Open(dir, Options{KeepCorrupt: true})
			if err == nil {
				s.Close()
				t.Fatal("Open of a corrupt store succeeded")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *CorruptError", err, err)
			}
			if !strings.Contains(err.Error(), RebuildHint) {
				t.Errorf("error %q does not say how to rebuild", err)
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("KeepCorrupt moved the store: %v", err)
			}
		})
	}
}

func TestCorruptGuestIsReportedOnRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshot")
	writeStore(t, dir)
	rawUpdate(t, dir, func(txn *badger.Txn) error { return txn.Set(guestKey(2, 100), []byte("garbage")) })
	s := openDisk(t, dir, Options{})
	_, _, err := s.Latest()
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), RebuildHint) {
		t.Errorf("Latest with a garbled guest: %v, want *CorruptError with the rebuild hint", err)
	}
	if _, _, err := s.Guest(100); !errors.As(err, &ce) {
		t.Errorf("Guest with a garbled entry: %v, want *CorruptError", err)
	}
	// The older revision is intact.
	if _, _, err := s.At(1); err != nil {
		t.Errorf("At(1): %v", err)
	}
}

// diskUsage returns the apparent and allocated bytes of the files in dir.
func diskUsage(t testing.TB, dir string) (apparent, allocated int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		apparent += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return apparent, allocated
}

func TestEmptyStoreIsSmall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshot")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	app, alloc := diskUsage(t, dir)
	t.Logf("open:   apparent %d B, allocated %d B", app, alloc)
	// Badger mmaps its memtable WAL and value log at twice their size, as
	// sparse files; both must stay small (the defaults give 2.1 GiB).
	if app > 16<<20 || alloc > 1<<20 {
		t.Errorf("empty open store: apparent %d B, allocated %d B; want <= 16 MiB and <= 1 MiB", app, alloc)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	app, alloc = diskUsage(t, dir)
	t.Logf("closed: apparent %d B, allocated %d B", app, alloc)
	// Badger's DISCARD file is a fixed 1 MiB sparse file.
	if app > 2<<20 || alloc > 1<<20 {
		t.Errorf("empty closed store: apparent %d B, allocated %d B; want <= 2 MiB and <= 1 MiB", app, alloc)
	}
}

func TestBadgerErrorsReachTheLogger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshot")
	writeStore(t, dir)
	corruptions["garbled table block"](t, dir)
	os.Remove(filepath.Join(dir, sumsFile)) // leave the check to Badger
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s := openDisk(t, dir, Options{Logger: log})
	out := buf.String()
	if !strings.Contains(out, "badger: ") || !strings.Contains(out, "Opening table") {
		t.Errorf("Badger's error was not logged through Options.Logger:\n%s", out)
	}
	if !strings.Contains(out, "moved_to="+s.MovedAside()) {
		t.Errorf("moving the corrupt store aside was not logged:\n%s", out)
	}
}
