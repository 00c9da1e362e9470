package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/pmpc-dev/pmpc/proxmox/sim"
)

// TestSecretsNeverLand runs a whole tour — plan saved to a file, apply of a
// VM with a cloud-init password and a container with a root password, plan,
// history, render — with debug logs, and then looks for the API token
// secret and both passwords everywhere pmpc writes: stdout and stderr, every
// file of the workspace, every value in the snapshot and journal stores,
// and every object in the git repository (audit records included).
func TestSecretsNeverLand(t *testing.T) {
	s := sim.Test(t, sim.Options{Seed: sim.Empty(), TaskDuration: time.Millisecond})
	t.Setenv("PMPC_ENDPOINT", s.URL())
	t.Setenv("PMPC_TOKEN", s.Token())
	t.Setenv("PMPC_TLS_FINGERPRINT", s.Fingerprint())
	t.Setenv("GIT_AUTHOR_NAME", "Secret Tester")
	t.Setenv("GIT_AUTHOR_EMAIL", "secret@example.com")
	const vmPass, ctPass = "vm-Pa55word-never-lands", "ct-Pa55word-never-lands"
	t.Setenv("WEB_PASSWORD", vmPass)
	t.Setenv("DNS_PASSWORD", ctPass)
	_, tokenSecret, _ := strings.Cut(s.Token(), "=")
	secrets := []string{tokenSecret, vmPass, ctPass}

	dir := filepath.Join(t.TempDir(), "ws")
	var output strings.Builder
	step := func(want int, args ...string) {
		t.Helper()
		code, out, errs := runPmpc(t, append([]string{"--log-level", "debug", "-C", dir}, args...)...)
		output.WriteString(out + errs)
		if code != want {
			t.Fatalf("pmpc %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errs)
		}
	}
	if code, out, errs := runPmpc(t, "init", dir); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	if err := os.Remove(filepath.Join(dir, "example.cue")); err != nil {
		t.Fatal(err)
	}
	defs := `pool: lab: comment: "secrets test"
vm: "web-01": {
	node: "pve1"
	cores: 1
	memory: 1024
	pool: "lab"
	disks: scsi0: {storage: "local-lvm", size: "4G"}
	cloudinit: {drive: "ide2", storage: "local-lvm", user: "ops", password: "env:WEB_PASSWORD"}
}
container: "dns": {
	node: "pve1"
	ostemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
	password: "env:DNS_PASSWORD"
	rootfs: {storage: "local-lvm", size: "4G"}
}
`
	if err := os.WriteFile(filepath.Join(dir, "lab.cue"), []byte(defs), 0o644); err != nil {
		t.Fatal(err)
	}
	step(exitChanges, "plan", "--detailed-exitcode", "-o", "json", "--out", filepath.Join(dir, "lab.plan"))
	step(exitOK, "apply", "--auto-approve", filepath.Join(dir, "lab.plan"))
	step(exitOK, "plan", "--detailed-exitcode")
	step(exitOK, "history")
	step(exitOK, "render", "terraform")
	step(exitOK, "render", "ansible")

	// The passwords did reach PVE, so they passed through pmpc.
	sent := 0
	for _, id := range s.VMIDs() {
		cfg, _, _ := s.Config(id)
		if cfg["cipassword"] != "" || cfg["hostname"] == "dns" {
			sent++
		}
	}
	if sent != 2 {
		t.Fatalf("the fake holds %d of the 2 guests with secrets; the tour did not apply them", sent)
	}

	leak := func(where, text string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				t.Errorf("a secret appears in %s", where)
			}
		}
	}
	leak("the output of the tour", output.String())
	if !strings.Contains(output.String(), "pve api") {
		t.Error("the tour logged no API call at debug: the output check proves nothing")
	}

	// Every file of the workspace, outside the stores and git's objects,
	// which are read below through their own formats.
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (rel == ".git" || rel == filepath.Join(".pmpc", "snapshot") || rel == filepath.Join(".pmpc", "journal")) {
			return fs.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		leak(rel, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("walked only %d files: the workspace check proves nothing", files)
	}

	// Every value of the Badger stores, decompressed.
	for _, store := range []string{"snapshot", "journal"} {
		p := filepath.Join(dir, ".pmpc", store)
		n := badgerValues(t, p, func(k, v []byte) { leak(store+" key "+string(k), string(k)+string(v)) })
		if n == 0 {
			t.Errorf("the %s store at %s holds no values: the check proves nothing", store, p)
		}
	}

	// Every object in git: definitions, audit records, commit messages.
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := repo.Storer.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		t.Fatal(err)
	}
	audit := 0
	err = objs.ForEach(func(o plumbing.EncodedObject) error {
		r, err := o.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		leak("git object "+o.Hash().String(), string(b))
		if o.Type() == plumbing.CommitObject {
			if c, err := object.DecodeCommit(repo.Storer, o); err == nil && strings.HasPrefix(c.Message, "pmpc apply") {
				audit++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if audit == 0 {
		t.Error("no audit commit found: the git check proves nothing")
	}
}

// badgerValues calls f with every key and value of the Badger store at dir
// and returns how many there were.
func badgerValues(t *testing.T, dir string, f func(k, v []byte)) int {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithReadOnly(true))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0
		}
		t.Fatalf("open %s: %v", dir, err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			f(it.Item().KeyCopy(nil), v)
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
