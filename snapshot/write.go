package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/pmpc-dev/pmpc/resource"
)

// PutOption sets extra data recorded with a revision.
type PutOption func(*putOptions)

type putOptions struct {
	rev     Revision
	carried map[int]uint64
}

// WithTaskMark records the end time (Unix seconds) of the newest finished
// task the refresh saw in /cluster/tasks (see Revision.TaskMark).
func WithTaskMark(unix int64) PutOption { return func(o *putOptions) { o.rev.TaskMark = unix } }

// WithCarried says which guests' configs were not read from the cluster for
// this revision but carried over from an earlier one: vmid -> the revision
// that last read it (its Verified, see Store.Verified). Every other guest's
// config counts as read, and so verified, by the revision being written.
// Without this option every config counts as read.
func WithCarried(verified map[int]uint64) PutOption {
	return func(o *putOptions) { o.carried = verified }
}

// Put stores c as a new revision and returns it. The revision becomes
// visible atomically when its header is written, after all its guests:
// a Put that fails or is cancelled midway leaves no partial revision, and
// what it wrote is removed by the next Put or Open. After a successful Put,
// revisions beyond Options.Retain are deleted (oldest first); a failure to
// prune is logged, not returned, and retried on the next Put.
//
// Guests must have distinct vmids and a guest kind (vm or container).
func (s *Store) Put(ctx context.Context, c *resource.Cluster, opts ...PutOption) (Revision, error) {
	if c == nil {
		return Revision{}, errors.New("snapshot put: nil cluster")
	}
	seen := make(map[int]bool, len(c.Guests))
	for i := range c.Guests {
		g := &c.Guests[i]
		if g.VMID <= 0 {
			return Revision{}, fmt.Errorf("snapshot put: guest %d (%q) has no vmid", i, g.Name)
		}
		if g.Kind.PVEType() == "" {
			return Revision{}, fmt.Errorf("snapshot put: guest %d: kind %q is not a guest kind", g.VMID, g.Kind)
		}
		if seen[g.VMID] {
			return Revision{}, fmt.Errorf("snapshot put: guest %d appears twice", g.VMID)
		}
		seen[g.VMID] = true
	}

	var po putOptions
	for _, o := range opts {
		o(&po)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Revision{}, errors.New("snapshot put: store is closed")
	}
	last, err := s.latestID()
	if err != nil {
		return Revision{}, err
	}
	rev := last + 1
	// Leftovers of an interrupted Put sit above the latest revision.
	if err := s.deleteRange(guestPrefix(rev), nil); err != nil {
		return Revision{}, fmt.Errorf("snapshot put: clear leftovers: %w", err)
	}

	type split struct {
		key, entry, blob, hash []byte
	}
	parts := make([]split, len(c.Guests))
	for i := range c.Guests {
		g := &c.Guests[i]
		e, blob, h, err := splitGuest(g)
		if err != nil {
			return Revision{}, fmt.Errorf("snapshot put: guest %d: %w", g.VMID, err)
		}
		e.Verified = rev
		if v, ok := po.carried[g.VMID]; ok && v < rev {
			e.Verified = v
		}
		eb, err := json.Marshal(&e)
		if err != nil {
			return Revision{}, fmt.Errorf("snapshot put: guest %d: %w", g.VMID, err)
		}
		parts[i] = split{key: guestKey(rev, g.VMID), entry: eb, blob: blob, hash: h}
	}
	// Blobs already stored (unchanged configs) are not written again.
	have := make(map[string]bool, len(parts))
	err = s.db.View(func(txn *badger.Txn) error {
		for _, p := range parts {
			if _, ok := have[string(p.hash)]; ok {
				continue
			}
			_, err := txn.Get(blobKey(p.hash))
			switch {
			case err == nil:
				have[string(p.hash)] = true
			case errors.Is(err, badger.ErrKeyNotFound):
				have[string(p.hash)] = false
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Revision{}, fmt.Errorf("snapshot put: %w", err)
	}

	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	revBytes := u64(rev)
	marked := make(map[string]bool, len(parts))
	for i, p := range parts {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Revision{}, fmt.Errorf("snapshot put: %w", err)
			}
		}
		if !marked[string(p.hash)] {
			marked[string(p.hash)] = true
			if !have[string(p.hash)] {
				if err := wb.Set(blobKey(p.hash), p.blob); err != nil {
					return Revision{}, fmt.Errorf("snapshot put: %w", err)
				}
			}
			if err := wb.Set(refKey(p.hash), revBytes); err != nil {
				return Revision{}, fmt.Errorf("snapshot put: %w", err)
			}
		}
		if err := wb.Set(p.key, p.entry); err != nil {
			return Revision{}, fmt.Errorf("snapshot put: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return Revision{}, fmt.Errorf("snapshot put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Revision{}, fmt.Errorf("snapshot put: %w", err)
	}

	h := header{
		Revision: po.rev,
		Nodes:    c.Nodes, Storage: c.Storage, Pools: c.Pools,
	}
	h.ID, h.Time, h.Endpoint, h.Version, h.Guests = rev, c.Time, c.Endpoint, c.Version, len(c.Guests)
	hb, err := json.Marshal(&h)
	if err != nil {
		return Revision{}, fmt.Errorf("snapshot put: %w", err)
	}
	// The commit point.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(headKey(rev), hb) }); err != nil {
		return Revision{}, fmt.Errorf("snapshot put: commit %s: %w", h.Revision, err)
	}
	if err := s.prune(); err != nil {
		s.log.Warn("snapshot: pruning old revisions failed; will retry on the next refresh", "error", err)
	}
	return h.Revision, nil
}

// latestID returns the number of the newest committed revision, 0 if none.
func (s *Store) latestID() (uint64, error) {
	var id uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		id, err = lastHead(txn)
		return err
	})
	return id, err
}

// lastHead returns the newest committed revision number, 0 if none.
func lastHead(txn *badger.Txn) (uint64, error) {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Reverse = true
	o.Prefix = prefixHead
	it := txn.NewIterator(o)
	defer it.Close()
	// In reverse, seek to the largest key with the prefix.
	it.Seek(append(append([]byte(nil), prefixHead...), 0xff))
	if !it.Valid() {
		return 0, nil
	}
	k := it.Item().Key()
	rev, ok := revFromHeadKey(k)
	if !ok {
		return 0, &CorruptError{Err: fmt.Errorf("bad revision key %s", hexKey(k))}
	}
	return rev, nil
}

// heads returns the committed revision numbers, oldest first.
func heads(txn *badger.Txn) ([]uint64, error) {
	o := badger.DefaultIteratorOptions
	o.PrefetchValues = false
	o.Prefix = prefixHead
	it := txn.NewIterator(o)
	defer it.Close()
	var revs []uint64
	for it.Rewind(); it.Valid(); it.Next() {
		rev, ok := revFromHeadKey(it.Item().Key())
		if !ok {
			return nil, &CorruptError{Err: fmt.Errorf("bad revision key %s", hexKey(it.Item().Key()))}
		}
		revs = append(revs, rev)
	}
	return revs, nil
}

// prune deletes revisions beyond the retention limit and the config blobs
// no kept revision references. Headers go first, so a revision disappears
// as a whole before its guests are deleted.
func (s *Store) prune() error {
	var revs []uint64
	if err := s.db.View(func(txn *badger.Txn) error {
		var err error
		revs, err = heads(txn)
		return err
	}); err != nil {
		return err
	}
	n := len(revs) - s.opts.retain()
	if n <= 0 {
		return nil
	}
	wb := s.db.NewWriteBatch()
	for _, r := range revs[:n] {
		if err := wb.Delete(headKey(r)); err != nil {
			wb.Cancel()
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return s.cleanup()
}

// cleanup removes guest entries that belong to no committed revision
// (those below the oldest revision, left by pruning, and those above the
// newest, left by an interrupted Put) and config blobs that no kept revision
// references.
func (s *Store) cleanup() error {
	var oldest, newest uint64
	var below, above bool
	err := s.db.View(func(txn *badger.Txn) error {
		revs, err := heads(txn)
		if err != nil {
			return err
		}
		if len(revs) > 0 {
			oldest, newest = revs[0], revs[len(revs)-1]
		}
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = prefixGuest
		it := txn.NewIterator(o)
		defer it.Close()
		it.Rewind()
		if it.Valid() {
			r, _ := revFromGuestKey(it.Item().Key())
			below = r < oldest || len(revs) == 0
		}
		it.Seek(guestPrefix(newest + 1))
		above = it.Valid()
		return nil
	})
	if err != nil {
		return err
	}
	if below && oldest > 0 {
		if err := s.deleteRange(prefixGuest, guestPrefix(oldest)); err != nil {
			return err
		}
	}
	if above || (below && oldest == 0) {
		if err := s.deleteRange(guestPrefix(newest+1), nil); err != nil {
			return err
		}
	}
	if !below {
		return nil
	}
	return s.sweepBlobs(oldest)
}

// sweepBlobs deletes config blobs whose newest reference is older than
// oldest, the oldest kept revision. References only grow, so no kept
// revision can use such a blob.
func (s *Store) sweepBlobs(oldest uint64) error {
	var dead [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.Prefix = prefixRef
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var last uint64
			if err := it.Item().Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("bad reference %s", hexKey(it.Item().Key()))
				}
				last = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
			if oldest == 0 || last < oldest {
				dead = append(dead, bytes.TrimPrefix(it.Item().KeyCopy(nil), prefixRef))
			}
		}
		return nil
	})
	if err != nil || len(dead) == 0 {
		return err
	}
	wb := s.db.NewWriteBatch()
	for _, h := range dead {
		if err := wb.Delete(blobKey(h)); err != nil {
			wb.Cancel()
			return err
		}
		if err := wb.Delete(refKey(h)); err != nil {
			wb.Cancel()
			return err
		}
	}
	return wb.Flush()
}

// deleteRange deletes every key k with from <= k < to, within from's
// two-byte key space prefix; a nil to means the end of that space.
func (s *Store) deleteRange(from, to []byte) error {
	space := from[:2]
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		o := badger.DefaultIteratorOptions
		o.PrefetchValues = false
		o.Prefix = space
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek(from); it.Valid(); it.Next() {
			k := it.Item().Key()
			if to != nil && bytes.Compare(k, to) >= 0 {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	wb := s.db.NewWriteBatch()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			wb.Cancel()
			return err
		}
	}
	return wb.Flush()
}
