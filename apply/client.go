package apply

import (
	"context"
	"errors"

	"github.com/pmpc-dev/pmpc/resource"
)

// Client is what apply needs from a PVE API client. Write methods return
// the UPID of the task they started as PVE prints it, or "" when PVE did
// the work synchronously (there is nothing to wait for).
//
// Errors must wrap the sentinel errors below where they apply (ErrLockTimeout,
// ErrDigestMismatch, ErrNotFound, ErrAlreadyExists, ErrAmbiguous), so that apply
// can retry, refuse or recover; package apply/pveclient adapts
// *proxmox.Client this way.
type Client interface {
	// NextID returns want if it is free, or the next free VMID when want is 0.
	// A taken want is an error wrapping ErrAlreadyExists.
	NextID(ctx context.Context, want int) (int, error)
	CreateGuest(ctx context.Context, kind resource.Kind, node string, vmid int, params map[string]string) (string, error)
	Clone(ctx context.Context, kind resource.Kind, node string, vmid, newid int, params map[string]string) (string, error)
	UpdateConfig(ctx context.Context, kind resource.Kind, node string, vmid int, set map[string]string, del []string, digest string) (string, error)
	Resize(ctx context.Context, kind resource.Kind, node string, vmid int, disk, size, digest string) (string, error)
	Power(ctx context.Context, kind resource.Kind, node string, vmid int, action string) (string, error)
	Migrate(ctx context.Context, kind resource.Kind, node string, vmid int, target string, params map[string]string) (string, error)
	ConvertToTemplate(ctx context.Context, kind resource.Kind, node string, vmid int) (string, error)
	DeleteGuest(ctx context.Context, kind resource.Kind, node string, vmid int, purge bool) (string, error)
	CreatePool(ctx context.Context, id, comment string) error
	// UpdatePool sets a pool's comment and/or adds (remove false) or removes
	// guests by vmid.
	UpdatePool(ctx context.Context, id string, comment *string, vmids []int, remove bool) error
	DeletePool(ctx context.Context, id string) error
	// WaitTask waits for a task to end. A task that ended in failure returns
	// a *TaskFailure error; ctx ending returns ctx's error.
	WaitTask(ctx context.Context, upid string) error
	// FindGuest reports the guest with vmid, if any exists in the cluster.
	FindGuest(ctx context.Context, vmid int) (GuestInfo, bool, error)
	// ConfigDigest returns the digest of a guest's config as PVE reports it
	// now (an error wrapping ErrNotFound when it does not exist).
	ConfigDigest(ctx context.Context, kind resource.Kind, node string, vmid int) (string, error)
}

// GuestInfo is what recovery needs to know about a live guest.
type GuestInfo struct {
	Kind   resource.Kind
	VMID   int
	Node   string
	Name   string
	Status string
	// Lock is the guest's PVE lock ("create", "clone", ...), "" when none.
	Lock string
}

// Sentinel errors a Client wraps so that apply can act on them.
var (
	// ErrLockTimeout: PVE could not take the guest's file lock ("can't lock
	// file ... got timeout") or the guest is locked by another task; the
	// operation may succeed when retried.
	ErrLockTimeout = errors.New("guest busy")
	// ErrDigestMismatch: the guest's config changed since the plan read it.
	ErrDigestMismatch = errors.New("config changed since plan")
	// ErrNotFound: the guest or pool does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the VMID or pool is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrAmbiguous: a write was sent but whether it happened is unknown.
	ErrAmbiguous = errors.New("outcome unknown")
)

// TaskFailure is a PVE task that ended with an exit status other than OK.
type TaskFailure struct {
	UPID       string
	ExitStatus string
	// LogTail holds the last lines of the task log.
	LogTail []string
	// Err is the client's own error, for its message.
	Err error
}

func (e *TaskFailure) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "task " + e.UPID + " failed: " + e.ExitStatus
}

func (e *TaskFailure) Unwrap() error { return e.Err }
