package sim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cluster is the fake's whole state. Server.mu guards it.
type cluster struct {
	name       string
	version    string
	nodes      []*node
	nodeByName map[string]*node
	storages   []*storage
	storageBy  map[string]*storage
	pools      map[string]*pool
	guests     map[int]*guest
	tasks      map[string]*task
	taskList   []*task
	tokens     map[string]*token
	tickets    map[string]*ticket
	failNext   map[string][]string
	rng        *mrand.Rand
	pid        uint32
	boot       time.Time
}

type node struct {
	name        string
	status      string
	maxcpu      int
	maxmem      int64
	maxdisk     int64
	ip          string
	nodeid      int
	fingerprint string
}

type storage struct {
	id       string
	typ      string
	content  string
	nodes    []string // nil = all nodes
	shared   bool
	total    int64
	path     string
	disabled bool
	items    []SeedItem
	vols     map[string]*volume // volume name (after "storage:") -> volume
}

type volume struct {
	vmid    int
	size    int64
	format  string
	content string // images or rootdir
	node    string // for local storages
}

type pool struct {
	id      string
	comment string
	members []string // "qemu/100", "lxc/101", "storage/local"
}

type snapshot struct {
	name        string
	description string
	snaptime    int64
	parent      string
	vmstate     bool
	conf        map[string]string
	rawLXC      [][2]string
}

type guest struct {
	typ        string // qemu or lxc
	vmid       int
	node       string
	conf       map[string]string
	rawLXC     [][2]string
	pending    map[string]string
	pendingDel []string
	snaps      []*snapshot
	running    bool
	paused     bool
	started    time.Time
	pool       string
}

func (n *node) online() bool { return n.status == "online" }

func (st *storage) onNode(n string) bool {
	if st.nodes == nil {
		return true
	}
	return contains(st.nodes, n)
}

func (st *storage) hasContent(c string) bool { return contains(splitList(st.content), c) }

func (st *storage) used() int64 {
	var u int64
	for _, v := range st.vols {
		u += v.size
	}
	for _, it := range st.items {
		u += it.Size
	}
	return u
}

// fileBased storages name volumes <vmid>/vm-<vmid>-disk-<n>.qcow2.
func (st *storage) fileBased() bool {
	switch st.typ {
	case "dir", "nfs", "cifs", "glusterfs", "cephfs", "btrfs":
		return true
	}
	return false
}

func newCluster(seed *Seed, randSeed uint64) (*cluster, error) {
	if err := seed.check(); err != nil {
		return nil, err
	}
	c := &cluster{
		name:       seed.Cluster,
		version:    seed.Version,
		nodeByName: map[string]*node{},
		storageBy:  map[string]*storage{},
		pools:      map[string]*pool{},
		guests:     make(map[int]*guest, len(seed.Guests)),
		tasks:      map[string]*task{},
		tokens:     map[string]*token{},
		tickets:    map[string]*ticket{},
		failNext:   map[string][]string{},
		rng:        mrand.New(mrand.NewPCG(randSeed, 0x5eed)),
		boot:       time.Now().Add(-26 * time.Hour),
	}
	if c.name == "" {
		c.name = "sim"
	}
	if c.version == "" {
		c.version = "8.4.1"
	}
	c.pid = 0x30000 + uint32(c.rng.IntN(0x10000))
	for i, sn := range seed.Nodes {
		n := &node{name: sn.Node, status: sn.Status, maxcpu: sn.MaxCPU, maxmem: sn.MaxMem, maxdisk: sn.MaxDisk, ip: sn.IP, nodeid: i + 1}
		if n.status == "" {
			n.status = "online"
		}
		if n.maxcpu == 0 {
			n.maxcpu = 8
		}
		if n.maxmem == 0 {
			n.maxmem = 32 << 30
		}
		if n.maxdisk == 0 {
			n.maxdisk = 100 << 30
		}
		if n.ip == "" {
			n.ip = fmt.Sprintf("192.0.2.%d", 10+i)
		}
		c.nodes = append(c.nodes, n)
		c.nodeByName[n.name] = n
	}
	for _, ss := range seed.Storage {
		st := &storage{id: ss.Storage, typ: ss.Type, content: ss.Content, shared: ss.Shared == 1,
			total: ss.Total, path: ss.Path, disabled: ss.Disable == 1, vols: map[string]*volume{}}
		if ss.Nodes != "" {
			st.nodes = splitList(ss.Nodes)
		}
		if st.total == 0 {
			st.total = 500 << 30
		}
		if st.path == "" && st.fileBased() {
			st.path = "/var/lib/vz"
			if st.id != "local" {
				st.path = "/mnt/pve/" + st.id
			}
		}
		st.items = append(st.items, ss.Items...)
		for i := range st.items {
			it := &st.items[i]
			if it.Format == "" {
				it.Format = itemFormat(it.Volid, it.Content)
			}
			if it.Ctime == 0 {
				it.Ctime = 1727046066
			}
		}
		c.storages = append(c.storages, st)
		c.storageBy[st.id] = st
	}
	for _, sg := range seed.Guests {
		g := &guest{typ: sg.Type, vmid: sg.VMID, node: sg.Node, conf: make(map[string]string, len(sg.Config))}
		for k, v := range sg.Config {
			if g.typ == "lxc" && k == "lxc" {
				raw, err := seedRawLXC(v)
				if err != nil {
					return nil, fmt.Errorf("guest %d: lxc: %w", sg.VMID, err)
				}
				g.rawLXC = raw
				continue
			}
			s, err := seedValue(v)
			if err != nil {
				return nil, fmt.Errorf("guest %d: %s: %w", sg.VMID, k, err)
			}
			g.conf[k] = s
		}
		if sg.Status == "running" {
			g.running = true
			g.started = c.boot.Add(time.Duration(c.rng.IntN(3600)) * time.Second)
		}
		for _, ss := range sg.Snapshots {
			sn := &snapshot{name: ss.Name, description: ss.Description, snaptime: ss.Snaptime, parent: ss.Parent, conf: map[string]string{}}
			if sn.snaptime == 0 {
				sn.snaptime = 1727046066
			}
			src := ss.Config
			if src == nil {
				src = sg.Config
			}
			for k, v := range src {
				if k == "lxc" {
					continue
				}
				if s, err := seedValue(v); err == nil {
					sn.conf[k] = s
				}
			}
			g.snaps = append(g.snaps, sn)
		}
		c.guests[g.vmid] = g
		c.registerVolumes(g)
	}
	for _, sp := range seed.Pools {
		p := &pool{id: sp.PoolID, comment: sp.Comment}
		for _, m := range sp.Members {
			g := c.guests[m]
			if g.pool != "" {
				return nil, fmt.Errorf("pool %s: VM %d belongs already to pool '%s'", sp.PoolID, m, g.pool)
			}
			g.pool = p.id
			p.members = append(p.members, g.typ+"/"+strconv.Itoa(m))
		}
		c.pools[p.id] = p
	}
	return c, nil
}

func seedRawLXC(v any) ([][2]string, error) {
	switch x := v.(type) {
	case [][2]string:
		return append([][2]string(nil), x...), nil
	case [][]string:
		var out [][2]string
		for _, p := range x {
			if len(p) != 2 {
				return nil, fmt.Errorf("want [[key, value], ...]")
			}
			out = append(out, [2]string{p[0], p[1]})
		}
		return out, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want [[key, value], ...]")
	}
	var out [][2]string
	for _, e := range list {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("want [[key, value], ...]")
		}
		k, _ := pair[0].(string)
		val, _ := pair[1].(string)
		out = append(out, [2]string{k, val})
	}
	return out, nil
}

func itemFormat(volid, content string) string {
	switch content {
	case "iso":
		return "iso"
	case "vztmpl":
		if i := strings.Index(volid, ".tar."); i >= 0 {
			return "t" + volid[i+5:]
		}
		return "tgz"
	case "snippets":
		return "snippets"
	case "backup":
		for _, ext := range []string{"vma.zst", "vma.gz", "vma.lzo", "vma", "tar.zst", "tar.gz", "tar"} {
			if strings.HasSuffix(volid, "."+ext) {
				return ext
			}
		}
	}
	return "raw"
}

// diskKeys lists the config keys of g that hold volumes.
func (g *guest) isDiskKey(k string) bool {
	if g.typ == "lxc" {
		return k == "rootfs" || strings.HasPrefix(k, "mp") || strings.HasPrefix(k, "unused")
	}
	for _, p := range []string{"scsi", "virtio", "sata", "ide", "unused", "efidisk", "tpmstate"} {
		if strings.HasPrefix(k, p) && k != "scsihw" {
			if _, err := strconv.Atoi(k[len(p):]); err == nil {
				return true
			}
		}
	}
	return false
}

// volOf returns the storage and volume name of a disk value, if it names
// a volume on a known storage.
func (c *cluster) volOf(value string) (*storage, string) {
	vol, _, _ := strings.Cut(value, ",")
	if strings.HasPrefix(vol, "file=") {
		vol = strings.TrimPrefix(vol, "file=")
	}
	if strings.HasPrefix(vol, "volume=") {
		vol = strings.TrimPrefix(vol, "volume=")
	}
	sid, name, ok := strings.Cut(vol, ":")
	if !ok {
		return nil, ""
	}
	st := c.storageBy[sid]
	if st == nil {
		return nil, ""
	}
	return st, name
}

// registerVolumes records the disk volumes a seeded guest's config names.
func (c *cluster) registerVolumes(g *guest) {
	add := func(conf map[string]string) {
		for k, v := range conf {
			if !g.isDiskKey(k) {
				continue
			}
			st, name := c.volOf(v)
			if st == nil || strings.Contains(name, "iso/") || strings.Contains(v, "media=cdrom") {
				continue
			}
			size := diskSize(v)
			content := "images"
			if g.typ == "lxc" {
				content = "rootdir"
			}
			st.vols[name] = &volume{vmid: g.vmid, size: size, content: content, node: g.node}
		}
	}
	add(g.conf)
	for _, s := range g.snaps {
		add(s.conf)
	}
}

// diskSize returns the size in bytes of a disk config value.
func diskSize(v string) int64 {
	for _, p := range strings.Split(v, ",")[1:] {
		if s, ok := strings.CutPrefix(p, "size="); ok {
			n, _ := parseSize(s)
			return n
		}
	}
	return 0
}

// allocVolume allocates a new disk volume for vmid and returns its name on
// st (vm-100-disk-0, or 100/vm-100-disk-0.qcow2 on file storages).
func (c *cluster) allocVolume(st *storage, g *guest, size int64, prefix string) string {
	content := "images"
	if g.typ == "lxc" {
		content = "rootdir"
	}
	base := "vm"
	if g.typ == "lxc" && (st.typ == "zfspool" || st.typ == "btrfs") {
		base = "subvol"
	}
	if prefix != "" {
		base = prefix
	}
	for n := 0; ; n++ {
		name := fmt.Sprintf("%s-%d-disk-%d", base, g.vmid, n)
		if st.fileBased() && base != "subvol" {
			ext := ".qcow2"
			if g.typ == "lxc" {
				ext = ".raw" // containers use raw images on file storages
			}
			name = fmt.Sprintf("%d/%s%s", g.vmid, name, ext)
		}
		if c.volumeTaken(st, g.vmid, n) {
			continue
		}
		st.vols[name] = &volume{vmid: g.vmid, size: size, content: content, node: g.node}
		return name
	}
}

// allocCloudinit allocates g's cloud-init volume on st and returns its name
// (vm-100-cloudinit, or 100/vm-100-cloudinit.qcow2 on file storages).
func (c *cluster) allocCloudinit(st *storage, g *guest) string {
	name := fmt.Sprintf("vm-%d-cloudinit", g.vmid)
	if st.fileBased() {
		name = fmt.Sprintf("%d/vm-%d-cloudinit.qcow2", g.vmid, g.vmid)
	}
	st.vols[name] = &volume{vmid: g.vmid, size: 4 << 20, content: "images", node: g.node}
	return name
}

// joinPool makes g a member of pool id, if that pool exists.
func (c *cluster) joinPool(g *guest, id string) {
	if p := c.pools[id]; p != nil {
		g.pool = id
		p.members = append(p.members, g.typ+"/"+strconv.Itoa(g.vmid))
	}
}

// volumeTaken reports whether disk number n of vmid exists on st under
// any prefix (vm-, base-, subvol-).
func (c *cluster) volumeTaken(st *storage, vmid, n int) bool {
	suffix := fmt.Sprintf("-%d-disk-%d", vmid, n)
	for name := range st.vols {
		name = strings.TrimSuffix(name, ".qcow2")
		name = strings.TrimSuffix(name, ".raw")
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// freeVolume drops a volume from its storage.
func (c *cluster) freeVolume(value string) {
	st, name := c.volOf(value)
	if st != nil {
		delete(st.vols, name)
	}
}

// serialise writes the config as PVE's config file would hold it: sorted
// "key: value" lines, the [PENDING] section, then each snapshot.
func (g *guest) serialise() []byte {
	var b strings.Builder
	writeConf := func(conf map[string]string, raw [][2]string) {
		keys := make([]string, 0, len(conf))
		for k := range conf {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(conf[k])
			b.WriteByte('\n')
		}
		for _, kv := range raw {
			b.WriteString(kv[0] + ": " + kv[1] + "\n")
		}
	}
	writeConf(g.conf, g.rawLXC)
	if len(g.pending) > 0 || len(g.pendingDel) > 0 {
		b.WriteString("\n[PENDING]\n")
		p := g.pending
		if len(g.pendingDel) > 0 {
			p = make(map[string]string, len(g.pending)+1)
			for k, v := range g.pending {
				p[k] = v
			}
			p["delete"] = strings.Join(g.pendingDel, ",")
		}
		writeConf(p, nil)
	}
	for _, s := range g.snaps {
		b.WriteString("\n[" + s.name + "]\n")
		c := make(map[string]string, len(s.conf)+2)
		for k, v := range s.conf {
			c[k] = v
		}
		c["snaptime"] = strconv.FormatInt(s.snaptime, 10)
		if s.description != "" {
			c["description"] = s.description
		}
		writeConf(c, s.rawLXC)
	}
	return []byte(b.String())
}

// digest is the SHA-1 hex of the serialised config, as PVE computes it
// over the config file.
func (g *guest) digest() string {
	sum := sha1.Sum(g.serialise())
	return hex.EncodeToString(sum[:])
}

// confPath is the config file path PVE names in "does not exist" errors.
func confPath(typ, node string, vmid int) string {
	dir := "qemu-server"
	if typ == "lxc" {
		dir = "lxc"
	}
	return fmt.Sprintf("nodes/%s/%s/%d.conf", node, dir, vmid)
}

// lockedErr is PVE's text for a write to a locked guest.
func (g *guest) lockedErr() error {
	if l := g.conf["lock"]; l != "" {
		if g.typ == "lxc" {
			return errf(500, "CT is locked (%s)", l)
		}
		return errf(500, "VM is locked (%s)", l)
	}
	return nil
}

// digestErr is PVE's text for a digest parameter that no longer matches
// the config (pve-api.md §6); nil when q sends none.
func (g *guest) digestErr(q *req) error {
	if d, ok := q.params["digest"]; ok && d != g.digest() {
		if g.typ == "lxc" {
			return errf(500, "detected modified configuration - file changed by other user? Try again.")
		}
		return errf(500, "checksum mismatch (file change by other user?)")
	}
	return nil
}

// label is "VM" or "CT" as PVE's messages say.
func (g *guest) label() string {
	if g.typ == "lxc" {
		return "CT"
	}
	return "VM"
}

// newMAC returns a random MAC with PVE 8.1's default prefix BC:24:11.
func (c *cluster) newMAC() string {
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", c.rng.IntN(256), c.rng.IntN(256), c.rng.IntN(256))
}

func (c *cluster) newUUID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(c.rng.IntN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (c *cluster) addToken(id, secret string, acl map[string][]string) {
	c.tokens[id] = &token{secret: secret, acl: acl}
}

// memBytes is the guest's configured memory in bytes.
func (g *guest) memBytes() int64 {
	m := g.conf["memory"]
	if strings.HasPrefix(m, "current=") {
		m = strings.TrimPrefix(m, "current=")
	}
	m, _, _ = strings.Cut(m, ",")
	n, err := strconv.ParseInt(m, 10, 64)
	if err != nil || n == 0 {
		n = 512
	}
	return n << 20
}

// cpus is sockets × cores (or vcpus) for QEMU, cores for LXC (default: all
// host CPUs for LXC without cores).
func (g *guest) cpus(hostCPU int) int {
	atoi := func(k string, def int) int {
		if n, err := strconv.Atoi(g.conf[k]); err == nil && n > 0 {
			return n
		}
		return def
	}
	if g.typ == "lxc" {
		return min(atoi("cores", hostCPU), hostCPU)
	}
	if v := atoi("vcpus", 0); v > 0 {
		return v
	}
	return min(atoi("sockets", 1)*atoi("cores", 1), hostCPU)
}

// bootDiskSize is the size of the boot disk (LXC rootfs).
func (g *guest) bootDiskSize() int64 {
	if g.typ == "lxc" {
		return diskSize(g.conf["rootfs"])
	}
	if order := g.conf["boot"]; strings.HasPrefix(order, "order=") {
		for _, dev := range strings.Split(strings.TrimPrefix(order, "order="), ";") {
			if v, ok := g.conf[dev]; ok && !strings.Contains(v, "media=cdrom") {
				return diskSize(v)
			}
		}
	}
	for _, p := range []string{"scsi0", "virtio0", "sata0", "ide0"} {
		if v, ok := g.conf[p]; ok && !strings.Contains(v, "media=cdrom") {
			return diskSize(v)
		}
	}
	return 0
}

func (g *guest) name() string {
	if g.typ == "lxc" {
		if h := g.conf["hostname"]; h != "" {
			return h
		}
		return "CT" + strconv.Itoa(g.vmid)
	}
	if n := g.conf["name"]; n != "" {
		return n
	}
	return "VM " + strconv.Itoa(g.vmid)
}

func (g *guest) status() string {
	if g.running {
		return "running"
	}
	return "stopped"
}

func (g *guest) uptime() int64 {
	if !g.running {
		return 0
	}
	return int64(time.Since(g.started).Seconds())
}

// sortedGuests returns guests ordered by vmid.
func (c *cluster) sortedGuests() []*guest {
	out := make([]*guest, 0, len(c.guests))
	for _, g := range c.guests {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].vmid < out[j].vmid })
	return out
}
