package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/pmpc-dev/pmpc/plan"
	"github.com/pmpc-dev/pmpc/resource"
)

// Journal is the crash-safety log of apply runs, a Badger database (by
// convention <workspace>/.pmpc/journal) written with synced writes: before
// each mutating API call its intent is written, after it the UPID and the
// outcome. A run that never finished is found by Unfinished and completed by
// Recover.
//
// Keys:
//
//	run/<id>                      runMeta (state, record header, plan)
//	run/<id>/c/<change>           ChangeRecord as far as it got
//	run/<id>/i/<change>/<op>/<n>  Intent of attempt n of an operation
type Journal struct {
	db *badger.DB
}

// Run states in the journal.
const (
	stateRunning  = "running"  // the run is (or was, if it crashed) in progress
	stateFinished = "finished" // the record is complete; not yet in the audit trail
	stateAudited  = "audited"  // committed to the audit trail
)

type runMeta struct {
	State  string  `json:"state"`
	Record *Record `json:"record"` // header and plan; Changes are stored apart
	PID    int     `json:"pid,omitempty"`
	Commit string  `json:"audit_commit,omitempty"`
}

// Intent is one attempt of one API operation, written before it is sent.
// It holds no secret values.
type Intent struct {
	Change  int         `json:"change"`
	Op      int         `json:"op"`
	Attempt int         `json:"attempt"`
	Address string      `json:"address"`
	Kind    plan.OpKind `json:"kind"`
	// Guest says which guest the call is about; for a create or clone VMID
	// is the id chosen before the call was sent, and Name its name.
	Guest resource.Kind `json:"guest,omitempty"`
	Node  string        `json:"node,omitempty"`
	VMID  int           `json:"vmid,omitempty"`
	Name  string        `json:"name,omitempty"`
	// State is "intent" (about to be sent), "sent" (accepted; UPID known
	// if there is a task), "done" or "failed".
	State string    `json:"state"`
	UPID  string    `json:"upid,omitempty"`
	Error string    `json:"error,omitempty"`
	Time  time.Time `json:"time"`
}

// Intent states.
const (
	intentPending = "intent"
	intentSent    = "sent"
	intentDone    = "done"
	intentFailed  = "failed"
)

// OpenJournal opens (creating if needed) the journal in dir. Only one
// process may hold it open; a second open fails with an error saying so.
func OpenJournal(dir string) (*Journal, error) {
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(true).
		WithValueLogFileSize(16 << 20).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).WithNumLevelZeroTables(2).WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(1 << 20).
		WithBlockCacheSize(1 << 20).
		WithIndexCacheSize(1 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithCompression(options.None).
		WithNumVersionsToKeep(1)
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open apply journal %s: another pmpc process is using it", dir)
		}
		return nil, fmt.Errorf("open apply journal %s: %w", dir, err)
	}
	return &Journal{db: db}, nil
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

func runKey(id string) []byte { return []byte("run/" + id) }
func changeKey(id string, c int) []byte {
	return fmt.Appendf(nil, "run/%s/c/%06d", id, c)
}
func intentKey(id string, in Intent) []byte {
	return fmt.Appendf(nil, "run/%s/i/%06d/%03d/%03d", id, in.Change, in.Op, in.Attempt)
}

func (j *Journal) put(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return j.db.Update(func(txn *badger.Txn) error { return txn.Set(key, b) })
}

func (j *Journal) get(key []byte, v any) (bool, error) {
	var b []byte
	err := j.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if err != nil {
			return err
		}
		b, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

// begin records the start of a run: its header and plan.
func (j *Journal) begin(rec *Record, pid int) error {
	return j.putRun(rec, stateRunning, pid)
}

// putRun stores a run's state with its record less the changes, which are
// stored apart.
func (j *Journal) putRun(rec *Record, state string, pid int) error {
	hdr := *rec
	hdr.Changes = nil
	return j.put(runKey(rec.RunID), runMeta{State: state, Record: &hdr, PID: pid})
}

func (j *Journal) putChange(runID string, idx int, cr ChangeRecord) error {
	return j.put(changeKey(runID, idx), cr)
}

func (j *Journal) putIntent(runID string, in Intent) error {
	return j.put(intentKey(runID, in), in)
}

// finish stores the complete record and marks the run finished.
func (j *Journal) finish(rec *Record) error {
	for i, c := range rec.Changes {
		if err := j.putChange(rec.RunID, i, c); err != nil {
			return err
		}
	}
	return j.putRun(rec, stateFinished, 0)
}

// MarkAudited records that the run's record was committed to the audit
// trail (commit is the audit commit's hash). Recover no longer returns it.
func (j *Journal) MarkAudited(runID, commit string) error {
	var m runMeta
	ok, err := j.get(runKey(runID), &m)
	if err != nil {
		return fmt.Errorf("journal run %s: %w", runID, err)
	}
	if !ok {
		return fmt.Errorf("journal run %s: not found", runID)
	}
	m.State, m.Commit = stateAudited, commit
	return j.put(runKey(runID), m)
}

// runs lists run ids with their state, oldest first.
func (j *Journal) runs() (map[string]runMeta, []string, error) {
	out := map[string]runMeta{}
	var ids []string
	err := j.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte("run/")
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key())
			id := strings.TrimPrefix(k, "run/")
			if strings.Contains(id, "/") {
				continue
			}
			var m runMeta
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
				return fmt.Errorf("journal %s: %w", k, err)
			}
			out[id] = m
			ids = append(ids, id)
		}
		return nil
	})
	sort.Strings(ids)
	return out, ids, err
}

// load reads a run's record (header, plan and change records) and intents.
func (j *Journal) load(runID string) (*runMeta, []ChangeRecord, []Intent, error) {
	var m runMeta
	ok, err := j.get(runKey(runID), &m)
	if err != nil || !ok {
		if err == nil {
			err = errors.New("not found")
		}
		return nil, nil, nil, fmt.Errorf("journal run %s: %w", runID, err)
	}
	changes := map[int]ChangeRecord{}
	var intents []Intent
	err = j.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte("run/" + runID + "/")
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := strings.TrimPrefix(string(it.Item().Key()), "run/"+runID+"/")
			err := it.Item().Value(func(v []byte) error {
				switch {
				case strings.HasPrefix(k, "c/"):
					var idx int
					if _, err := fmt.Sscanf(k, "c/%d", &idx); err != nil {
						return err
					}
					var c ChangeRecord
					if err := json.Unmarshal(v, &c); err != nil {
						return err
					}
					changes[idx] = c
				case strings.HasPrefix(k, "i/"):
					var in Intent
					if err := json.Unmarshal(v, &in); err != nil {
						return err
					}
					intents = append(intents, in)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("journal run %s key %s: %w", runID, k, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	n := 0
	if m.Record != nil && m.Record.Plan != nil {
		n = len(m.Record.Plan.Changes)
	}
	for idx := range changes {
		n = max(n, idx+1)
	}
	out := make([]ChangeRecord, n)
	for i := range out {
		if c, ok := changes[i]; ok {
			out[i] = c
		}
	}
	return &m, out, intents, nil
}
