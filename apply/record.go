package apply

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/pmpc-dev/pmpc/plan"
)

// RecordVersion is the version of the audit record's JSON format.
const RecordVersion = "1"

// Result is what became of one change, in the past tense.
type Result string

// The results a change can have.
const (
	// ResultApplied: every operation of the change succeeded.
	ResultApplied Result = "applied"
	// ResultFailed: an operation failed; later ones were not attempted.
	ResultFailed Result = "failed"
	// ResultSkipped: not attempted because a change it depends on did not
	// apply, or the run was interrupted before it started.
	ResultSkipped Result = "skipped"
	// ResultRefused: not attempted (or rejected by PVE) because the guest
	// changed since the plan saw it.
	ResultRefused Result = "refused"
	// ResultInterrupted: the run stopped while the change was in flight; the
	// record says what recovery found.
	ResultInterrupted Result = "interrupted"
)

// Record is the audit record of one apply run. It never holds a resolved
// secret.
type Record struct {
	Version   string    `json:"version"`
	RunID     string    `json:"run_id"`
	Who       string    `json:"who"`
	Host      string    `json:"host"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Endpoint  string    `json:"endpoint,omitempty"`
	Workspace string    `json:"workspace_commit,omitempty"`
	Dirty     bool      `json:"workspace_dirty,omitempty"`
	// Interrupted is set when the run did not finish (killed, timed out,
	// interrupted) and this record was completed by recovery or on the way out.
	Interrupted bool           `json:"interrupted,omitempty"`
	Summary     Summary        `json:"summary"`
	Changes     []ChangeRecord `json:"changes"`
	Plan        *plan.Plan     `json:"plan,omitempty"`
}

// Summary counts changes by result.
type Summary struct {
	Applied     int `json:"applied"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Refused     int `json:"refused"`
	Interrupted int `json:"interrupted,omitempty"`
}

// ChangeRecord is what happened to one change of the plan.
type ChangeRecord struct {
	Address string      `json:"address"`
	Action  plan.Action `json:"action"`
	Node    string      `json:"node,omitempty"`
	// VMID is the guest's id after the change (allocated at create).
	VMID     int        `json:"vmid,omitempty"`
	Result   Result     `json:"result"`
	Started  time.Time  `json:"started,omitzero"`
	Finished time.Time  `json:"finished,omitzero"`
	Elapsed  Duration   `json:"elapsed,omitempty"`
	UPIDs    []string   `json:"upids,omitempty"`
	Ops      []OpRecord `json:"ops,omitempty"`
	// Error says why the change failed, was refused or skipped; TaskLog is
	// the tail of the failed task's log.
	Error   string   `json:"error,omitempty"`
	TaskLog []string `json:"task_log,omitempty"`
	// Recovered says what recovery found about an interrupted change.
	Recovered string `json:"recovered,omitempty"`
}

// OpRecord is one API operation of a change as it was executed.
type OpRecord struct {
	Kind    plan.OpKind `json:"op"`
	UPID    string      `json:"upid,omitempty"`
	Result  Result      `json:"result"`
	Elapsed Duration    `json:"elapsed,omitempty"`
	Error   string      `json:"error,omitempty"`
	// Retries counts retries after lock timeouts or VMID collisions.
	Retries int `json:"retries,omitempty"`
}

// Duration is a time.Duration printed as text ("1.25s") in JSON.
type Duration time.Duration

// MarshalText prints the duration rounded to milliseconds.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).Round(time.Millisecond).String()), nil
}

// UnmarshalText parses a duration as time.ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Tally recomputes the summary from the change records.
func (r *Record) Tally() {
	var s Summary
	for _, c := range r.Changes {
		switch c.Result {
		case ResultApplied:
			s.Applied++
		case ResultFailed:
			s.Failed++
		case ResultSkipped:
			s.Skipped++
		case ResultRefused:
			s.Refused++
		case ResultInterrupted:
			s.Interrupted++
		}
	}
	r.Summary = s
}

// Line is the one-line summary used as the audit commit's subject, e.g.
// "pmpc apply: 3 changed, 1 failed (run 01J...)".
func (r *Record) Line() string {
	var parts []string
	if r.Interrupted {
		parts = append(parts, "interrupted")
	}
	parts = append(parts, fmt.Sprintf("%d changed", r.Summary.Applied))
	if r.Summary.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", r.Summary.Failed))
	}
	if r.Summary.Refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused", r.Summary.Refused))
	}
	if r.Summary.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", r.Summary.Skipped))
	}
	if r.Summary.Interrupted > 0 {
		parts = append(parts, fmt.Sprintf("%d in flight", r.Summary.Interrupted))
	}
	return fmt.Sprintf("pmpc apply: %s (run %s)", strings.Join(parts, ", "), r.RunID)
}

// OK reports whether every change applied.
func (r *Record) OK() bool {
	return !r.Interrupted && r.Summary.Failed == 0 && r.Summary.Refused == 0 &&
		r.Summary.Skipped == 0 && r.Summary.Interrupted == 0
}

// crockford is the base32 alphabet of ULIDs.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewRunID returns a new run id: a ULID (26 characters, sortable by time).
func NewRunID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	// 128 bits -> 26 base32 digits, the first holding 3 bits.
	out := make([]byte, 26)
	var acc uint64 // pending bits of b, least significant first
	bits := 0
	j := 25
	for i := 15; i >= 0; i-- {
		acc |= uint64(b[i]) << bits
		bits += 8
		for bits >= 5 && j >= 0 {
			out[j] = crockford[acc&31]
			acc >>= 5
			bits -= 5
			j--
		}
	}
	if j >= 0 {
		out[j] = crockford[acc&31]
	}
	return string(out)
}
