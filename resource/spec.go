package resource

// This file holds the desired specs: what a definition says a resource should
// be. JSON tags are the field names users write in CUE, YAML and JSON, and the
// embedded CUE schema (package schema) declares the same fields.
//
// Every field is optional unless noted. A field that is set compiles to PVE's
// key (see resource/pve) and is compared with what PVE returns; an unset
// field compiles to no key, and a plan removes that key from a guest that has
// it (PVE's default applies) — except keys PVE fills in itself, create-only
// keys and secrets, which are left as they are (docs/definitions.md). Pointers
// are used where the zero value is a meaningful setting (false, 0).

// SecretRef references a secret without holding it: "env:NAME" reads the
// environment variable NAME, "file:PATH" reads a file (relative to the
// workspace root). Secrets are resolved only when a change is sent to PVE, and
// never written to git, the snapshot, a plan, an audit record or a log.
type SecretRef string

// VM is the desired state of a QEMU virtual machine (`vm: "name": {...}`).
type VM struct {
	// Node is the cluster node the VM lives on. Required.
	Node string `json:"node"`
	// VMID pins the VM's id. When unset, PVE allocates one at create and
	// pmpc finds the VM again by its ownership tag and name.
	VMID int `json:"vmid,omitempty"`
	// Name is the VM's name in PVE; it defaults to the key it is defined under.
	Name        string   `json:"name,omitempty"`
	Description *string  `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Pool is the pool the VM is a member of.
	Pool string `json:"pool,omitempty"`
	// State is the desired power state: "running" or "stopped". Unset means
	// pmpc leaves the power state alone.
	State      string `json:"state,omitempty"`
	Template   *bool  `json:"template,omitempty"`
	Protection *bool  `json:"protection,omitempty"`
	OnBoot     *bool  `json:"onboot,omitempty"`
	// Startup is PVE's startup property string, e.g. "order=1,up=30".
	Startup string `json:"startup,omitempty"`
	// Clone creates the VM as a clone of a template instead of from scratch.
	Clone *Clone `json:"clone,omitempty"`

	Cores   *int   `json:"cores,omitempty"`
	Sockets *int   `json:"sockets,omitempty"`
	VCPUs   *int   `json:"vcpus,omitempty"`
	CPU     string `json:"cpu,omitempty"`
	NUMA    *bool  `json:"numa,omitempty"`
	// Memory is the VM's memory in MiB.
	Memory *int `json:"memory,omitempty"`
	// Balloon is the minimum memory in MiB for the balloon device; 0 disables it.
	Balloon *int   `json:"balloon,omitempty"`
	OSType  string `json:"ostype,omitempty"`
	Machine string `json:"machine,omitempty"`
	BIOS    string `json:"bios,omitempty"`
	SCSIHW  string `json:"scsihw,omitempty"`
	// Hotplug is PVE's hotplug setting, e.g. "network,disk,usb".
	Hotplug string `json:"hotplug,omitempty"`
	Agent   *Agent `json:"agent,omitempty"`
	// Boot is the boot order by slot, e.g. ["scsi0", "net0"].
	Boot []string `json:"boot,omitempty"`

	// Disks are keyed by slot: scsi0..30, virtio0..15, sata0..5, ide0..3.
	Disks map[string]Disk `json:"disks,omitempty"`
	// EFIDisk is efidisk0.
	EFIDisk *EFIDisk `json:"efidisk,omitempty"`
	// TPM is tpmstate0.
	TPM *TPM `json:"tpm,omitempty"`
	// Networks are keyed by slot: net0..31.
	Networks  map[string]NIC `json:"networks,omitempty"`
	CloudInit *CloudInit     `json:"cloudinit,omitempty"`

	// Extra holds raw PVE config keys the structured fields do not model,
	// exactly as PVE prints them (e.g. "hostpci0": "0000:01:00,pcie=1").
	Extra map[string]string `json:"extra,omitempty"`
}

// Clone says a VM is created by cloning a template.
type Clone struct {
	// From is the template's name in this workspace (a `vm` key) or its VMID
	// as a decimal string.
	From string `json:"from"`
	// Full makes a full copy; the default for a template source is a linked clone.
	Full *bool `json:"full,omitempty"`
	// Storage is the target storage for a full clone.
	Storage string `json:"storage,omitempty"`
}

// Agent configures the QEMU guest agent (PVE's `agent`).
type Agent struct {
	Enabled          bool   `json:"enabled"`
	FSTrimCloned     *bool  `json:"fstrim_cloned_disks,omitempty"`
	FreezeFSOnBackup *bool  `json:"freeze_fs_on_backup,omitempty"`
	Type             string `json:"type,omitempty"`
}

// Disk is one drive slot of a VM (scsiN, virtioN, sataN, ideN).
//
// A disk is either allocated by PVE on Storage with Size, or names an
// existing Volume (an ISO, a passthrough device, an existing image). A
// CD-ROM sets Media "cdrom" with Volume an ISO volid or "none".
type Disk struct {
	Storage string `json:"storage,omitempty"`
	// Size is PVE's disk size: a number with a K, M, G or T suffix, e.g. "32G".
	Size   string `json:"size,omitempty"`
	Volume string `json:"volume,omitempty"`
	Media  string `json:"media,omitempty"`
	Format string `json:"format,omitempty"`
	// Options are the drive's other PVE sub-keys as PVE prints them
	// (iothread: "1", discard: "on", cache: "writeback", ssd: "1", ...).
	Options map[string]string `json:"options,omitempty"`
}

// EFIDisk is a VM's efidisk0.
type EFIDisk struct {
	Storage         string            `json:"storage,omitempty"`
	Volume          string            `json:"volume,omitempty"`
	Type            string            `json:"type,omitempty"` // efitype: 2m or 4m
	PreEnrolledKeys *bool             `json:"pre_enrolled_keys,omitempty"`
	Options         map[string]string `json:"options,omitempty"`
}

// TPM is a VM's tpmstate0.
type TPM struct {
	Storage string            `json:"storage,omitempty"`
	Volume  string            `json:"volume,omitempty"`
	Version string            `json:"version,omitempty"` // v1.2 or v2.0
	Options map[string]string `json:"options,omitempty"`
}

// NIC is one network slot of a VM (netN).
type NIC struct {
	// Model is the NIC model, e.g. "virtio". Required.
	Model string `json:"model"`
	// MACAddr pins the MAC address. When unset PVE generates one and pmpc
	// does not compare it.
	MACAddr  string `json:"macaddr,omitempty"`
	Bridge   string `json:"bridge,omitempty"`
	Firewall *bool  `json:"firewall,omitempty"`
	Tag      int    `json:"tag,omitempty"`
	MTU      int    `json:"mtu,omitempty"`
	Queues   int    `json:"queues,omitempty"`
	Rate     string `json:"rate,omitempty"`
	LinkDown *bool  `json:"link_down,omitempty"`
	Trunks   string `json:"trunks,omitempty"`
}

// CloudInit is a VM's cloud-init configuration.
type CloudInit struct {
	// Drive is the slot of the cloud-init drive (e.g. "ide2") and Storage the
	// storage it is allocated on. Both or neither.
	Drive    string    `json:"drive,omitempty"`
	Storage  string    `json:"storage,omitempty"`
	User     string    `json:"user,omitempty"`
	Password SecretRef `json:"password,omitempty"`
	// SSHKeys are OpenSSH public key lines (pmpc URL-encodes them for PVE).
	SSHKeys []string `json:"ssh_keys,omitempty"`
	// IPConfig is keyed by ipconfigN slot (ipconfig0 pairs with net0).
	IPConfig     map[string]IPConfig `json:"ipconfig,omitempty"`
	Nameserver   string              `json:"nameserver,omitempty"`
	Searchdomain string              `json:"searchdomain,omitempty"`
	Type         string              `json:"type,omitempty"`   // citype
	Custom       string              `json:"custom,omitempty"` // cicustom
	Upgrade      *bool               `json:"upgrade,omitempty"`
}

// IPConfig is one ipconfigN value.
type IPConfig struct {
	IP  string `json:"ip,omitempty"` // CIDR or "dhcp"
	GW  string `json:"gw,omitempty"`
	IP6 string `json:"ip6,omitempty"` // CIDR, "dhcp" or "auto"
	GW6 string `json:"gw6,omitempty"`
}

// Container is the desired state of an LXC container (`container: "name": {...}`).
type Container struct {
	Node string `json:"node"`
	VMID int    `json:"vmid,omitempty"`
	// Hostname defaults to the key the container is defined under.
	Hostname    string   `json:"hostname,omitempty"`
	Description *string  `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Pool        string   `json:"pool,omitempty"`
	State       string   `json:"state,omitempty"`
	Template    *bool    `json:"template,omitempty"`
	Protection  *bool    `json:"protection,omitempty"`
	OnBoot      *bool    `json:"onboot,omitempty"`
	Startup     string   `json:"startup,omitempty"`

	// OSTemplate is the template volume the container is created from, e.g.
	// "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst". Used only at
	// create; PVE does not keep it.
	OSTemplate   string    `json:"ostemplate,omitempty"`
	OSType       string    `json:"ostype,omitempty"`
	Arch         string    `json:"arch,omitempty"`
	Unprivileged *bool     `json:"unprivileged,omitempty"`
	Features     *Features `json:"features,omitempty"`
	// Password and SSHKeys are used only at create.
	Password SecretRef `json:"password,omitempty"`
	SSHKeys  []string  `json:"ssh_keys,omitempty"`

	Cores *int `json:"cores,omitempty"`
	// CPULimit is PVE's cpulimit, a decimal as a string ("1.5").
	CPULimit string `json:"cpulimit,omitempty"`
	CPUUnits *int   `json:"cpuunits,omitempty"`
	Memory   *int   `json:"memory,omitempty"` // MiB
	Swap     *int   `json:"swap,omitempty"`   // MiB

	RootFS *Mount `json:"rootfs,omitempty"`
	// Mounts are keyed by slot: mp0..255.
	Mounts map[string]Mount `json:"mounts,omitempty"`
	// Networks are keyed by slot: net0..31.
	Networks     map[string]CTNIC `json:"networks,omitempty"`
	Nameserver   string           `json:"nameserver,omitempty"`
	Searchdomain string           `json:"searchdomain,omitempty"`

	// Extra holds raw PVE config keys the structured fields do not model.
	// Raw `lxc.*` lines go under the key "lxc", one "key: value" per line.
	Extra map[string]string `json:"extra,omitempty"`
}

// Features are an LXC container's feature flags.
type Features struct {
	Nesting *bool             `json:"nesting,omitempty"`
	Keyctl  *bool             `json:"keyctl,omitempty"`
	Fuse    *bool             `json:"fuse,omitempty"`
	Mknod   *bool             `json:"mknod,omitempty"`
	Mount   []string          `json:"mount,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// Mount is an LXC rootfs or mount point (mpN).
type Mount struct {
	Storage string `json:"storage,omitempty"`
	Size    string `json:"size,omitempty"`
	Volume  string `json:"volume,omitempty"`
	// Path is where the mount point appears in the container (mpN only).
	Path    string            `json:"path,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// CTNIC is one network slot of a container (netN).
type CTNIC struct {
	// Name is the interface name inside the container, e.g. "eth0". Required.
	Name     string `json:"name"`
	Bridge   string `json:"bridge,omitempty"`
	HWAddr   string `json:"hwaddr,omitempty"`
	IP       string `json:"ip,omitempty"`
	GW       string `json:"gw,omitempty"`
	IP6      string `json:"ip6,omitempty"`
	GW6      string `json:"gw6,omitempty"`
	Firewall *bool  `json:"firewall,omitempty"`
	Tag      int    `json:"tag,omitempty"`
	MTU      int    `json:"mtu,omitempty"`
	Rate     string `json:"rate,omitempty"`
	LinkDown *bool  `json:"link_down,omitempty"`
	Trunks   string `json:"trunks,omitempty"`
}

// Pool is the desired state of a resource pool (`pool: "name": {...}`).
// Membership is declared on the guests (their `pool` field).
type Pool struct {
	Comment *string `json:"comment,omitempty"`
}
