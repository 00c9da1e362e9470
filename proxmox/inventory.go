package proxmox

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmpc-dev/pmpc/resource"
)

// InventoryOptions tune Inventory.
type InventoryOptions struct {
	// Need reports whether a guest's config must be read. It sees the guest
	// as /cluster/resources describes it (no Config yet). Nil reads every
	// guest's config. Guests whose config is not read have a nil Config,
	// Digest and Pending.
	//
	// When it returns true, Need may also record what the caller already
	// knows of the guest: the Digest of a config read earlier and the
	// Pending that went with it. If the config read now has that same
	// digest, Inventory keeps that Pending instead of reading GET
	// .../pending again: the digest covers the whole config file, pending
	// section included (pve-api.md §3.6), so an unchanged digest means
	// unchanged pending values.
	Need func(g *resource.Guest) bool
	// Pending also fills Guest.Pending for running guests whose config is
	// read: one GET .../pending each, none when Need recorded the digest the
	// config read returns (see Need). With a Need, only guests on which Need
	// left a non-nil Pending (empty to ask afresh) are asked; without one,
	// every running guest is. Stopped guests get none: PVE applies every
	// change to a stopped guest at once.
	Pending bool
	// Progress, if set, is called (from several goroutines, never at once)
	// after each guest's config is read.
	Progress func(done, total int)
}

// Inventory reads the whole cluster as cheaply as PVE allows: one
// GET /cluster/resources (guests, nodes, storage, pool membership), GET
// /version and GET /pools, then one config GET per guest that opts.Need
// selects (followed, with opts.Pending, by one GET .../pending for each of
// those that runs, unless Need recorded an unchanged digest), with at
// most Config.Workers requests in flight (and PerNode per node), spread
// across nodes. It never calls the guest agent.
//
// A guest that vanishes between the listing and its config read is dropped;
// one that migrated meanwhile is read on its new node.
func (c *Client) Inventory(ctx context.Context, opts InventoryOptions) (*resource.Cluster, error) {
	cl := &resource.Cluster{Endpoint: c.Endpoint(), Time: time.Now().UTC()}
	var rs []Resource
	var pools []poolJSON
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { rs, err = c.Resources(gctx, ""); return })
	g.Go(func() error {
		v, err := c.Version(gctx)
		cl.Version = v.Version
		return err
	})
	g.Go(func() (err error) { pools, err = c.listPools(gctx); return })
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("inventory of %s: %w", c.Endpoint(), err)
	}

	for _, r := range rs {
		switch {
		case r.Type == "node":
			cl.Nodes = append(cl.Nodes, resource.Node{Name: r.Node, Status: r.Status})
		case r.IsGuest():
			kind, _ := resource.KindOfPVEType(r.Type)
			cl.Guests = append(cl.Guests, resource.Guest{
				Kind: kind, VMID: r.VMID, Node: r.Node, Name: r.Name, Status: r.Status, Template: r.Template,
				Lock: r.Lock, Pool: r.Pool, Tags: r.Tags, Uptime: r.Uptime,
				MaxCPU: r.MaxCPU, MaxMem: r.MaxMem, MaxDisk: r.MaxDisk,
			})
		}
	}
	sort.Slice(cl.Nodes, func(i, j int) bool { return cl.Nodes[i].Name < cl.Nodes[j].Name })
	sort.Slice(cl.Guests, func(i, j int) bool { return cl.Guests[i].VMID < cl.Guests[j].VMID })
	cl.Storage = storageOf(rs)
	cl.Pools = poolsOf(pools, rs)

	var work []int
	for i := range cl.Guests {
		gs := &cl.Guests[i]
		if opts.Need == nil || opts.Need(gs) {
			work = append(work, i)
			continue
		}
		// What Need recorded is only for guests whose config is read.
		gs.Digest, gs.Pending = "", nil
	}
	work = interleaveByNode(cl.Guests, work)

	gone := make([]bool, len(cl.Guests))
	var (
		mu    sync.Mutex
		done  int
		where *relocator
	)
	where = &relocator{c: c}
	queue := make(chan int)
	g, gctx = errgroup.WithContext(ctx)
	for w := 0; w < min(c.cfg.Workers, len(work)); w++ {
		g.Go(func() error {
			for i := range queue {
				gs := &cl.Guests[i]
				ok, err := c.readGuest(gctx, gs, opts.Pending, opts.Need == nil, where)
				if err != nil {
					return err
				}
				mu.Lock()
				gone[i] = !ok
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(work))
				}
				mu.Unlock()
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(queue)
		for _, i := range work {
			select {
			case queue <- i:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("inventory of %s: %w", c.Endpoint(), err)
	}
	kept := cl.Guests[:0]
	for i, gs := range cl.Guests {
		if !gone[i] {
			kept = append(kept, gs)
		}
	}
	cl.Guests = kept
	return cl, nil
}

// readGuest fills g's Config, Digest and (if asked, for a running guest)
// Pending. A Digest and Pending already on g are what the caller knew: that
// Pending is kept if the digest is still the same. It reports false if the
// guest no longer exists.
func (c *Client) readGuest(ctx context.Context, g *resource.Guest, pending, allPending bool, where *relocator) (bool, error) {
	knownDigest, knownPending := g.Digest, g.Pending
	g.Digest, g.Pending = "", nil
	cfg, digest, err := c.GuestConfig(ctx, g.Kind, g.Node, g.VMID)
	if IsNotFound(err) {
		node, ok, lerr := where.node(ctx, g.VMID)
		if lerr != nil {
			return false, lerr
		}
		if !ok {
			return false, nil
		}
		if node == g.Node {
			return false, err
		}
		g.Node = node
		cfg, digest, err = c.GuestConfig(ctx, g.Kind, g.Node, g.VMID)
	}
	if err != nil {
		return false, err
	}
	g.Config, g.Digest = cfg, digest
	switch {
	case !pending || g.Status != "running":
	case knownPending == nil && !allPending:
		// The caller did not ask for this guest's pending values.
	case knownDigest != "" && knownDigest == digest:
		g.Pending = knownPending
	default:
		items, err := c.GuestPending(ctx, g.Kind, g.Node, g.VMID)
		if IsNotFound(err) {
			// Gone or migrated since its config was read: the config
			// stands, its pending values are unknown until the next read.
			return true, nil
		}
		if err != nil {
			return false, err
		}
		g.Pending = PendingMap(items)
	}
	return true, nil
}

// relocator re-reads guest locations once, for guests whose config read
// said "does not exist" (deleted or migrated since the listing).
type relocator struct {
	c     *Client
	once  sync.Once
	nodes map[int]string
	err   error
}

func (r *relocator) node(ctx context.Context, vmid int) (string, bool, error) {
	r.once.Do(func() {
		rs, err := r.c.Resources(ctx, "vm")
		if err != nil {
			r.err = err
			return
		}
		r.nodes = map[int]string{}
		for _, x := range rs {
			r.nodes[x.VMID] = x.Node
		}
	})
	if r.err != nil {
		return "", false, r.err
	}
	n, ok := r.nodes[vmid]
	return n, ok, nil
}

// interleaveByNode reorders guest indexes round-robin across nodes so that
// a per-node limit never leaves workers idle behind one busy node.
func interleaveByNode(guests []resource.Guest, idx []int) []int {
	byNode := map[string][]int{}
	var nodes []string
	for _, i := range idx {
		n := guests[i].Node
		if _, ok := byNode[n]; !ok {
			nodes = append(nodes, n)
		}
		byNode[n] = append(byNode[n], i)
	}
	if len(nodes) <= 1 {
		return idx
	}
	sort.Strings(nodes)
	out := make([]int, 0, len(idx))
	for len(out) < len(idx) {
		for _, n := range nodes {
			if q := byNode[n]; len(q) > 0 {
				out = append(out, q[0])
				byNode[n] = q[1:]
			}
		}
	}
	return out
}
