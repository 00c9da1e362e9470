package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/pmpc-dev/pmpc/resource"
)

// Revisions lists the stored revisions, oldest first.
func (s *Store) Revisions() ([]Revision, error) {
	var out []Revision
	err := s.db.View(func(txn *badger.Txn) error {
		return s.eachHeader(txn, func(h *header) error {
			out = append(out, h.Revision)
			return nil
		})
	})
	return out, err
}

// Latest returns the newest revision as a cluster, guests ordered by vmid.
// It returns ErrNoRevision if nothing was stored yet.
func (s *Store) Latest() (*resource.Cluster, Revision, error) {
	return s.loadView(s.latestRev)
}

// At returns revision id as a cluster, guests ordered by vmid. It returns
// an error wrapping ErrNotFound if the revision does not exist (never
// written, or pruned).
func (s *Store) At(id uint64) (*resource.Cluster, Revision, error) {
	return s.loadView(func(*badger.Txn) (uint64, error) { return id, nil })
}

// loadView loads, in one read transaction, the revision that rev picks.
func (s *Store) loadView(rev func(*badger.Txn) (uint64, error)) (*resource.Cluster, Revision, error) {
	var c *resource.Cluster
	var r Revision
	err := s.db.View(func(txn *badger.Txn) error {
		id, err := rev(txn)
		if err != nil {
			return err
		}
		c, r, err = s.load(txn, id)
		return err
	})
	return c, r, err
}

// Guest returns the guest with vmid in the latest revision. It returns
// ErrNoRevision for an empty store and an error wrapping ErrNotFound if the
// latest revision has no such guest.
func (s *Store) Guest(vmid int) (*resource.Guest, Revision, error) {
	var g *resource.Guest
	r, err := s.viewLatest(func(txn *badger.Txn, h *header) error {
		it, err := txn.Get(guestKey(h.ID, vmid))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("guest %d in %s: %w", vmid, h.Revision, ErrNotFound)
		}
		if err != nil {
			return err
		}
		gg, err := s.decodeGuest(txn, it)
		g = &gg
		return err
	})
	return g, r, err
}

// GuestByName returns the guests of kind named name in the latest revision,
// ordered by vmid. PVE does not keep names unique, so there may be several;
// none is not an error. Names are compared exactly.
func (s *Store) GuestByName(kind resource.Kind, name string) ([]resource.Guest, Revision, error) {
	var out []resource.Guest
	r, err := s.viewLatest(func(txn *badger.Txn, h *header) error {
		return eachGuest(txn, h.ID, func(it *badger.Item) error {
			e, err := s.decodeEntry(it)
			if err != nil {
				return err
			}
			if e.Kind != kind || e.Name != name {
				return nil
			}
			g, err := s.decodeGuest(txn, it)
			if err != nil {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	return out, r, err
}

// Verified returns, for every guest of the latest revision, the revision
// whose refresh last read its config from the cluster (0 if the store does
// not know: revisions written before this was recorded). It reads only the
// small per-guest entries, not the configs. It returns ErrNoRevision for an
// empty store.
func (s *Store) Verified() (map[int]uint64, Revision, error) {
	out := map[int]uint64{}
	r, err := s.viewLatest(func(txn *badger.Txn, h *header) error {
		return eachGuest(txn, h.ID, func(it *badger.Item) error {
			vmid, ok := vmidFromGuestKey(it.Key())
			if !ok {
				return s.corrupt("bad guest key %s", hexKey(it.Key()))
			}
			e, err := s.decodeEntry(it)
			if err != nil {
				return err
			}
			out[vmid] = e.Verified
			return nil
		})
	})
	if err != nil {
		return nil, Revision{}, err
	}
	return out, r, nil
}

// History returns guest vmid as every stored revision saw it, oldest first,
// skipping revisions in which it did not exist. A guest that never existed
// gives an empty list.
func (s *Store) History(vmid int) ([]GuestRevision, error) {
	var out []GuestRevision
	err := s.db.View(func(txn *badger.Txn) error {
		return s.eachHeader(txn, func(h *header) error {
			gi, err := txn.Get(guestKey(h.ID, vmid))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			g, err := s.decodeGuest(txn, gi)
			if err != nil {
				return err
			}
			out = append(out, GuestRevision{Revision: h.Revision, Guest: g})
			return nil
		})
	})
	return out, err
}

// eachHeader calls fn with the header of every stored revision, oldest
// first, and stops at the first error.
func (s *Store) eachHeader(txn *badger.Txn, fn func(*header) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixHead, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		h, err := s.decodeHeader(it.Item())
		if err != nil {
			return err
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}

// eachGuest calls fn with the entry of every guest of revision rev, in
// vmid order, and stops at the first error.
func eachGuest(txn *badger.Txn, rev uint64, fn func(*badger.Item) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: guestPrefix(rev), PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(it.Item()); err != nil {
			return err
		}
	}
	return nil
}

// viewLatest runs fn in a read transaction with the newest revision's
// header, and returns that revision (also when fn fails).
func (s *Store) viewLatest(fn func(txn *badger.Txn, h *header) error) (Revision, error) {
	var r Revision
	err := s.db.View(func(txn *badger.Txn) error {
		h, err := s.latestIn(txn)
		if err != nil {
			return err
		}
		r = h.Revision
		return fn(txn, h)
	})
	return r, err
}

// latestHeader returns the header of the newest revision.
func (s *Store) latestHeader() (*header, Revision, error) {
	var h *header
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		h, err = s.latestIn(txn)
		return err
	})
	if err != nil {
		return nil, Revision{}, err
	}
	return h, h.Revision, nil
}

func (s *Store) latestIn(txn *badger.Txn) (*header, error) {
	rev, err := s.latestRev(txn)
	if err != nil {
		return nil, err
	}
	it, err := txn.Get(headKey(rev))
	if err != nil {
		return nil, err
	}
	return s.decodeHeader(it)
}

// latestRev returns the newest revision's id, or ErrNoRevision.
func (s *Store) latestRev(txn *badger.Txn) (uint64, error) {
	rev, err := lastHead(txn)
	if err != nil {
		return 0, s.withDir(err)
	}
	if rev == 0 {
		return 0, ErrNoRevision
	}
	return rev, nil
}

func (s *Store) load(txn *badger.Txn, rev uint64) (*resource.Cluster, Revision, error) {
	hi, err := txn.Get(headKey(rev))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, Revision{}, fmt.Errorf("revision r%d: %w", rev, ErrNotFound)
	}
	if err != nil {
		return nil, Revision{}, err
	}
	h, err := s.decodeHeader(hi)
	if err != nil {
		return nil, Revision{}, err
	}
	c := &resource.Cluster{
		Endpoint: h.Endpoint, Version: h.Version, Time: h.Time,
		Nodes: h.Nodes, Storage: h.Storage, Pools: h.Pools,
		Guests: make([]resource.Guest, 0, h.Guests),
	}
	err = eachGuest(txn, rev, func(it *badger.Item) error {
		g, err := s.decodeGuest(txn, it)
		if err != nil {
			return err
		}
		c.Guests = append(c.Guests, g)
		return nil
	})
	if err != nil {
		return nil, Revision{}, err
	}
	if len(c.Guests) != h.Guests {
		return nil, Revision{}, s.corrupt("revision r%d has %d guests, its header says %d", rev, len(c.Guests), h.Guests)
	}
	return c, h.Revision, nil
}

func (s *Store) decodeHeader(it *badger.Item) (*header, error) {
	var h header
	if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &h) }); err != nil {
		return nil, s.corrupt("decode %s: %v", hexKey(it.Key()), err)
	}
	if id, _ := revFromHeadKey(it.Key()); id != h.ID || id == 0 {
		return nil, s.corrupt("revision key %s holds revision %d", hexKey(it.Key()), h.ID)
	}
	return &h, nil
}

// decodeGuest decodes the guest entry it and its config blob.
func (s *Store) decodeGuest(txn *badger.Txn, it *badger.Item) (resource.Guest, error) {
	key := it.Key()
	vmid, ok := vmidFromGuestKey(key)
	if !ok {
		return resource.Guest{}, s.corrupt("bad guest key %s", hexKey(key))
	}
	e, err := s.decodeEntry(it)
	if err != nil {
		return resource.Guest{}, err
	}
	var b configBlob
	bi, err := txn.Get(blobKey(e.Blob))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return resource.Guest{}, s.corrupt("guest %d: config blob %x missing", vmid, e.Blob)
	}
	if err != nil {
		return resource.Guest{}, err
	}
	if err := bi.Value(func(v []byte) error { return json.Unmarshal(v, &b) }); err != nil {
		return resource.Guest{}, s.corrupt("guest %d: decode config blob: %v", vmid, err)
	}
	return e.guest(vmid, &b), nil
}

// decodeEntry decodes the small per-guest entry it (not its config blob).
func (s *Store) decodeEntry(it *badger.Item) (guestEntry, error) {
	var e guestEntry
	if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
		return e, s.corrupt("decode %s: %v", hexKey(it.Key()), err)
	}
	return e, nil
}

func (s *Store) withDir(err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) && ce.Dir == "" {
		return &CorruptError{Dir: s.dir, Err: ce.Err}
	}
	return err
}
