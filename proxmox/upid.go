package proxmox

import (
	"fmt"
	"regexp"
	"strconv"
)

// UPID identifies a PVE task ("unique process id"). It prints as
// UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>: with the
// numbers in 8-digit uppercase hex and a trailing colon. User includes
// "!tokenid" for tasks started with an API token.
type UPID struct {
	Node      string
	PID       uint64
	PStart    uint64
	StartTime uint64
	Type      string
	ID        string
	User      string
}

// upidRE is PVE's own parse pattern (PVE::Tools::upid_decode), with \s
// narrowed to ASCII whitespace.
var upidRE = regexp.MustCompile(`^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$`)

// ParseUPID parses a UPID as PVE prints it. It accepts exactly what PVE's
// own parser accepts, including lowercase hex and a 9-digit pstart.
func ParseUPID(s string) (UPID, error) {
	m := upidRE.FindStringSubmatch(s)
	if m == nil {
		return UPID{}, fmt.Errorf("parse UPID %q: not of the form UPID:node:pid:pstart:starttime:type:id:user:", s)
	}
	var u UPID
	u.Node = m[1]
	var err error
	if u.PID, err = strconv.ParseUint(m[3], 16, 64); err != nil {
		return UPID{}, fmt.Errorf("parse UPID %q: pid: %w", s, err)
	}
	if u.PStart, err = strconv.ParseUint(m[4], 16, 64); err != nil {
		return UPID{}, fmt.Errorf("parse UPID %q: pstart: %w", s, err)
	}
	if u.StartTime, err = strconv.ParseUint(m[5], 16, 64); err != nil {
		return UPID{}, fmt.Errorf("parse UPID %q: starttime: %w", s, err)
	}
	u.Type, u.ID, u.User = m[6], m[7], m[8]
	return u, nil
}

// String prints the UPID in PVE's exact format, trailing colon included.
func (u UPID) String() string {
	if u.IsZero() {
		return ""
	}
	return fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", u.Node, u.PID, u.PStart, u.StartTime, u.Type, u.ID, u.User)
}

// IsZero reports whether u is the zero UPID, which write methods return for
// calls that PVE completed synchronously (no task to wait for).
func (u UPID) IsZero() bool { return u == UPID{} }

// MarshalText prints the UPID as String does.
func (u UPID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText parses a UPID as ParseUPID does; empty text is the zero UPID.
func (u *UPID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*u = UPID{}
		return nil
	}
	p, err := ParseUPID(string(b))
	if err != nil {
		return err
	}
	*u = p
	return nil
}
