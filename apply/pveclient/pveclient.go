// Package pveclient adapts *proxmox.Client to apply.Client: it prints UPIDs
// as strings, maps the client's typed errors onto apply's sentinel errors,
// and finds guests by vmid through /cluster/resources. It holds no logic of
// its own beyond that translation.
package pveclient

import (
	"context"
	"errors"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/proxmox"
	"github.com/pmpc-dev/pmpc/resource"
)

// Client is a *proxmox.Client seen as an apply.Client.
type Client struct {
	C *proxmox.Client
}

var _ apply.Client = Client{}

// New adapts c.
func New(c *proxmox.Client) Client { return Client{C: c} }

// classified keeps the client's error text and adds apply's sentinel.
type classified struct {
	sentinel error
	err      error
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() []error {
	return []error{e.sentinel, e.err}
}

// wrap maps err onto apply's sentinels.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var s error
	switch {
	case proxmox.IsDigestMismatch(err):
		s = apply.ErrDigestMismatch
	case proxmox.IsAlreadyExists(err):
		s = apply.ErrAlreadyExists
	case proxmox.IsLocked(err), proxmox.IsTimeout(err) && !errors.Is(err, context.DeadlineExceeded):
		s = apply.ErrLockTimeout
	case proxmox.IsAmbiguous(err):
		s = apply.ErrAmbiguous
	case proxmox.IsNotFound(err):
		s = apply.ErrNotFound
	default:
		return err
	}
	return &classified{sentinel: s, err: err}
}

func upid(u proxmox.UPID, err error) (string, error) {
	if err != nil {
		return "", wrap(err)
	}
	return u.String(), nil
}

// The methods below implement apply.Client; see there for their contracts.

// NextID implements apply.Client.
func (c Client) NextID(ctx context.Context, want int) (int, error) {
	id, err := c.C.NextID(ctx, want)
	return id, wrap(err)
}

// CreateGuest implements apply.Client.
func (c Client) CreateGuest(ctx context.Context, kind resource.Kind, node string, vmid int, params map[string]string) (string, error) {
	return upid(c.C.CreateGuest(ctx, kind, node, vmid, params))
}

// Clone implements apply.Client.
func (c Client) Clone(ctx context.Context, kind resource.Kind, node string, vmid, newid int, params map[string]string) (string, error) {
	return upid(c.C.Clone(ctx, kind, node, vmid, newid, params))
}

// UpdateConfig implements apply.Client.
func (c Client) UpdateConfig(ctx context.Context, kind resource.Kind, node string, vmid int, set map[string]string, del []string, digest string) (string, error) {
	u, err := c.C.UpdateConfig(ctx, kind, node, vmid, set, del, digest)
	if err != nil || u == nil {
		return "", wrap(err)
	}
	return u.String(), nil
}

// Resize implements apply.Client.
func (c Client) Resize(ctx context.Context, kind resource.Kind, node string, vmid int, disk, size, digest string) (string, error) {
	return upid(c.C.Resize(ctx, kind, node, vmid, disk, size, digest))
}

// Power implements apply.Client.
func (c Client) Power(ctx context.Context, kind resource.Kind, node string, vmid int, action string) (string, error) {
	return upid(c.C.Power(ctx, kind, node, vmid, action, nil))
}

// Migrate implements apply.Client; params "online" (or "restart" for a
// container) = "1" migrates a running guest.
func (c Client) Migrate(ctx context.Context, kind resource.Kind, node string, vmid int, target string, params map[string]string) (string, error) {
	online := params["online"] == "1" || params["restart"] == "1"
	return upid(c.C.Migrate(ctx, kind, node, vmid, target, online))
}

// ConvertToTemplate implements apply.Client.
func (c Client) ConvertToTemplate(ctx context.Context, kind resource.Kind, node string, vmid int) (string, error) {
	return upid(c.C.ConvertToTemplate(ctx, kind, node, vmid))
}

// DeleteGuest implements apply.Client.
func (c Client) DeleteGuest(ctx context.Context, kind resource.Kind, node string, vmid int, purge bool) (string, error) {
	return upid(c.C.DeleteGuest(ctx, kind, node, vmid, purge, purge))
}

// CreatePool implements apply.Client.
func (c Client) CreatePool(ctx context.Context, id, comment string) error {
	return wrap(c.C.CreatePool(ctx, id, comment))
}

// UpdatePool implements apply.Client.
func (c Client) UpdatePool(ctx context.Context, id string, comment *string, vmids []int, remove bool) error {
	if remove {
		return wrap(c.C.UpdatePool(ctx, id, comment, nil, vmids, false))
	}
	return wrap(c.C.UpdatePool(ctx, id, comment, vmids, nil, true))
}

// DeletePool implements apply.Client.
func (c Client) DeletePool(ctx context.Context, id string) error {
	return wrap(c.C.DeletePool(ctx, id))
}

// WaitTask implements apply.Client: a failed task is an *apply.TaskFailure.
func (c Client) WaitTask(ctx context.Context, s string) error {
	u, err := proxmox.ParseUPID(s)
	if err != nil {
		return err
	}
	_, err = c.C.WaitTask(ctx, u)
	if err == nil {
		return nil
	}
	var te *proxmox.TaskError
	if errors.As(err, &te) {
		return &apply.TaskFailure{UPID: s, ExitStatus: te.ExitStatus, LogTail: te.LogTail, Err: err}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return wrap(err)
}

// FindGuest implements apply.Client through GET /cluster/resources.
func (c Client) FindGuest(ctx context.Context, vmid int) (apply.GuestInfo, bool, error) {
	rs, err := c.C.Resources(ctx, "vm")
	if err != nil {
		return apply.GuestInfo{}, false, wrap(err)
	}
	for _, r := range rs {
		if r.VMID != vmid || !r.IsGuest() {
			continue
		}
		kind, _ := resource.KindOfPVEType(r.Type)
		g := apply.GuestInfo{Kind: kind, VMID: vmid, Node: r.Node, Name: r.Name, Status: r.Status, Lock: r.Lock}
		if g.Name == "" {
			// PVE lists a guest's name from RRD data, which lags a create
			// by seconds; apply matches a create it lost track of by name,
			// so read it from the config.
			if cfg, _, err := c.C.GuestConfig(ctx, kind, r.Node, vmid); err == nil {
				g.Name = cfg["name"]
				if kind == resource.KindContainer {
					g.Name = cfg["hostname"]
				}
			}
		}
		return g, true, nil
	}
	return apply.GuestInfo{}, false, nil
}

// ConfigDigest implements apply.Client.
func (c Client) ConfigDigest(ctx context.Context, kind resource.Kind, node string, vmid int) (string, error) {
	_, d, err := c.C.GuestConfig(ctx, kind, node, vmid)
	return d, wrap(err)
}
