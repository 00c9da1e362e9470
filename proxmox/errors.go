package proxmox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
)

// APIError is an error answer from the PVE API: an HTTP status other than
// 200, with PVE's reason phrase, the full message (PVE 8.3+ bodies) and, for
// 400s, the per-parameter errors.
//
// It prints as "<subject>: <method> <path>: <status> <reason>", e.g.
// "update vm 100 on pve1: PUT /nodes/pve1/qemu/100/config: 500 VM is locked (clone)".
type APIError struct {
	Method string
	// Path is the API path below /api2/json, without the query string.
	Path   string
	Status int
	// Reason is the HTTP reason phrase, which PVE fills with the first line
	// of the error message.
	Reason string
	// Message is the body's "message" (PVE 8.3+), without trailing newline.
	Message string
	// Errors are the per-parameter errors of a 400 answer.
	Errors map[string]string
	// Subject says what was being done, e.g. "update vm 100 on pve1".
	Subject string
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.Subject != "" {
		b.WriteString(e.Subject)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	text := e.Reason
	if text == "" {
		text, _, _ = strings.Cut(e.Message, "\n")
	}
	if text != "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	// The message may say more than its first line, which is the reason.
	if rest, ok := strings.CutPrefix(e.Message, text); ok && strings.TrimSpace(rest) != "" && text != "" {
		b.WriteString(": ")
		b.WriteString(strings.Join(strings.Fields(rest), " "))
	}
	if len(e.Errors) > 0 {
		keys := make([]string, 0, len(e.Errors))
		for k := range e.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(strings.Join(strings.Fields(e.Errors[k]), " "))
		}
		b.WriteString(")")
	}
	switch {
	case e.Status == 401 && e.Path != "/access/ticket":
		b.WriteString(" (check the credentials: PMPC_TOKEN=USER@REALM!TOKENID=SECRET must name an existing, enabled, unexpired token)")
	case e.Status == 403 && strings.Contains(e.Reason, "Permission check failed"):
		b.WriteString(" (an API token with privilege separation needs its own ACL entries, or create it with --privsep 0)")
	}
	return b.String()
}

// text is everything the server said, for pattern matching.
func (e *APIError) text() string {
	var b strings.Builder
	b.WriteString(e.Reason)
	b.WriteString("\n")
	b.WriteString(e.Message)
	for _, v := range e.Errors {
		b.WriteString("\n")
		b.WriteString(v)
	}
	return b.String()
}

// TaskError is a PVE task that finished with an exit status other than OK
// or "WARNINGS: n". LogTail holds the last lines of its log.
type TaskError struct {
	UPID       UPID
	ExitStatus string
	LogTail    []string
	// Subject says what the task was doing, e.g. "start vm 100 on pve1".
	Subject string
}

func (e *TaskError) Error() string {
	var b strings.Builder
	if e.Subject != "" {
		b.WriteString(e.Subject)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "task %s %s on %s failed: %s", e.UPID.Type, e.UPID.ID, e.UPID.Node, e.ExitStatus)
	var extra []string
	for _, l := range e.LogTail {
		if strings.HasPrefix(l, "TASK ERROR:") || strings.TrimSpace(l) == "" {
			continue
		}
		extra = append(extra, l)
	}
	if len(extra) > 0 {
		b.WriteString("\ntask log (last lines):")
		for _, l := range extra {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// ErrAmbiguous is wrapped by the error of a write whose outcome is unknown:
// the request was sent but the connection failed before PVE answered, and
// reading the cluster back could not tell whether the change happened.
// Re-read the guest before doing anything else.
var ErrAmbiguous = errors.New("outcome unknown: the connection failed after the request was sent")

// CertificateError is returned when the server's TLS certificate is not
// trusted, or does not match the pinned fingerprint. It carries the SHA-256
// fingerprint the server presented, so a user can check and pin it.
type CertificateError struct {
	Host string
	// Fingerprint is the SHA-256 fingerprint of the certificate the server
	// presented, as uppercase colon-separated hex (as PVE prints it).
	Fingerprint string
	// Pinned is the fingerprint the client expected, if one was pinned.
	Pinned string
	Err    error
}

func (e *CertificateError) Error() string {
	if e.Pinned != "" {
		return fmt.Sprintf("TLS certificate of %s does not match PMPC_TLS_FINGERPRINT:\n  pinned:    %s\n  presented: %s\n"+
			"if the node's certificate was renewed on purpose (check on the node: pvenode cert info), pin the new one:\n  export PMPC_TLS_FINGERPRINT=%s\n"+
			"(and update cluster.fingerprint in pmpc.cue if it is set there); otherwise someone may be intercepting the connection",
			e.Host, e.Pinned, e.Fingerprint, e.Fingerprint)
	}
	return fmt.Sprintf("TLS certificate of %s is not trusted: %v\nthe server presented SHA-256 fingerprint %s\nif this is your Proxmox node's certificate (check: Datacenter > node > Certificates, or `pvenode cert info`), pin it:\n  export PMPC_TLS_FINGERPRINT=%s\nor set PMPC_CA_FILE to the CA that signed it", e.Host, e.Err, e.Fingerprint, e.Fingerprint)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// matches reports whether err is an APIError or TaskError whose text
// contains any of subs, or an APIError with one of the statuses.
func matches(err error, statuses []int, subs ...string) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		for _, s := range statuses {
			if ae.Status == s {
				return true
			}
		}
		t := ae.text()
		for _, s := range subs {
			if strings.Contains(t, s) {
				return true
			}
		}
		return false
	}
	var te *TaskError
	if errors.As(err, &te) {
		for _, s := range subs {
			if strings.Contains(te.ExitStatus, s) {
				return true
			}
		}
	}
	return false
}

// IsNotFound reports whether err says the object does not exist: a 404, or
// PVE's 500 "Configuration file '...' does not exist", "pool 'x' does not
// exist", "no such task" and the like.
func IsNotFound(err error) bool {
	return matches(err, []int{404}, "does not exist", "no such resource", "No such file or directory", "no such task")
}

// IsLocked reports whether err is PVE's "VM is locked (x)" / "CT is locked (x)".
func IsLocked(err error) bool { return matches(err, nil, "is locked (") }

// IsDigestMismatch reports whether PVE refused a write because the config
// changed since the digest sent with it was read (QEMU and LXC wordings).
func IsDigestMismatch(err error) bool {
	return matches(err, nil, "checksum mismatch", "detected modified configuration")
}

// IsAuth reports whether err is an authentication failure (HTTP 401).
func IsAuth(err error) bool { return matches(err, []int{401}) }

// IsPermission reports whether err is a permission failure (HTTP 403).
func IsPermission(err error) bool { return matches(err, []int{403}) }

// IsAlreadyExists reports whether err says the object already exists
// ("VM 100 already exists", "unable to create VM 101: config file already exists").
func IsAlreadyExists(err error) bool { return matches(err, nil, "already exists") }

// IsTimeout reports whether err is a timeout: PVE's "can't lock file ... -
// got timeout" (a busy guest lock), a context deadline, or a network timeout.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return matches(err, nil, "got timeout")
}

// IsAmbiguous reports whether err is a write whose outcome is unknown.
func IsAmbiguous(err error) bool { return errors.Is(err, ErrAmbiguous) }
