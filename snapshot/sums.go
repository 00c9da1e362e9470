package snapshot

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sumsFile lists a CRC-32C of every table file as of the last Close. Table
// files are immutable once written, so a listed file whose checksum changed
// was damaged. Badger checks a table's index and blocks itself, but parses
// a block's trailer before checking it and panics, in a goroutine nobody can
// recover, on some garbled blocks; checking whole files first turns that
// into a *CorruptError. Tables written after the last Close (a crashed run)
// are not listed and are left to Badger's own checks.
const sumsFile = "pmpc.sums"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func fileCRC(path string) (uint32, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	return h.Sum32(), n, err
}

// writeSums records the checksums of dir's table files.
func writeSums(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, f := range files {
		sum, n, err := fileCRC(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %08x %d\n", filepath.Base(f), sum, n)
	}
	tmp := filepath.Join(dir, sumsFile+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, sumsFile))
}

// checkSums verifies the table files listed in dir's sums file.
func checkSums(dir string) error {
	f, err := os.Open(filepath.Join(dir, sumsFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || strings.ContainsAny(fields[0], `/\`) {
			return fmt.Errorf("%s: bad line %q", sumsFile, sc.Text())
		}
		want, err1 := strconv.ParseUint(fields[1], 16, 32)
		size, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s: bad line %q", sumsFile, sc.Text())
		}
		sum, n, err := fileCRC(filepath.Join(dir, fields[0]))
		if os.IsNotExist(err) {
			continue // compacted away since
		}
		if err != nil {
			return err
		}
		if n != size || sum != uint32(want) {
			return fmt.Errorf("table %s changed since it was written (checksum %08x, want %08x)", fields[0], sum, want)
		}
	}
	return sc.Err()
}
