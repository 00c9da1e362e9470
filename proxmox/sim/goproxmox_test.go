package sim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// goProxmox returns a go-proxmox v0.8.2 client for s, pinned to its
// certificate, authenticated with the root token.
func goProxmox(t *testing.T, s *Server) *proxmox.Client {
	t.Helper()
	tok := s.Token()
	i := strings.LastIndex(tok, "=")
	return proxmox.NewClient(s.URL()+"/api2/json",
		proxmox.WithAPIToken(tok[:i], tok[i+1:]),
		proxmox.WithHTTPClient(s.HTTPClient()))
}

func waitOK(t *testing.T, ctx context.Context, what string, task *proxmox.Task, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if task == nil {
		t.Fatalf("%s: no task", what)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 10*time.Second); err != nil {
		t.Fatalf("%s: wait: %v", what, err)
	}
	if !task.IsSuccessful || task.ExitStatus != "OK" {
		t.Fatalf("%s: task %s ended %q", what, task.UPID, task.ExitStatus)
	}
}

// TestGoProxmoxLifecycle drives the fake with an independent client
// through a VM's and a container's whole life.
func TestGoProxmoxLifecycle(t *testing.T) {
	s := Test(t, Options{Seed: Homelab(), TaskDuration: 20 * time.Millisecond})
	c := goProxmox(t, s)
	ctx := context.Background()

	v, err := c.Version(ctx)
	if err != nil || v.Version != "8.4.1" {
		t.Fatalf("version: %+v, %v", v, err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("nodes: %d, %v", len(nodes), err)
	}
	node, err := c.Node(ctx, "pve2")
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	vms, err := node.VirtualMachines(ctx)
	if err != nil || len(vms) == 0 {
		t.Fatalf("node VMs: %d, %v", len(vms), err)
	}
	cts, err := node.Containers(ctx)
	if err != nil || len(cts) == 0 {
		t.Fatalf("node containers: %d, %v", len(cts), err)
	}
	cluster, err := c.Cluster(ctx)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	before, err := cluster.Resources(ctx, "vm")
	if err != nil {
		t.Fatalf("resources: %v", err)
	}
	id, err := cluster.NextID(ctx)
	if err != nil || id < 100 {
		t.Fatalf("nextid: %d, %v", id, err)
	}

	// QEMU: create, read back, change with PUT and POST, start, stop, delete.
	task, err := node.NewVirtualMachine(ctx, id,
		proxmox.VirtualMachineOption{Name: "name", Value: "gpx-web"},
		proxmox.VirtualMachineOption{Name: "cores", Value: 2},
		proxmox.VirtualMachineOption{Name: "memory", Value: 2048},
		proxmox.VirtualMachineOption{Name: "numa", Value: false},
		proxmox.VirtualMachineOption{Name: "agent", Value: "enabled=1"},
		proxmox.VirtualMachineOption{Name: "net0", Value: "virtio,bridge=vmbr0,firewall=1,tag=20"},
		proxmox.VirtualMachineOption{Name: "scsi0", Value: "local-lvm:32,iothread=1"},
		proxmox.VirtualMachineOption{Name: "scsihw", Value: "virtio-scsi-single"},
		proxmox.VirtualMachineOption{Name: "tags", Value: "web;gpx"})
	waitOK(t, ctx, "create vm", task, err)
	vm, err := node.VirtualMachine(ctx, id)
	if err != nil {
		t.Fatalf("read vm: %v", err)
	}
	cfg := vm.VirtualMachineConfig
	if cfg.Name != "gpx-web" || cfg.Cores == nil || *cfg.Cores != 2 || memStr(cfg.Memory) != "2048" {
		t.Errorf("read back name %q cores %v memory %q", cfg.Name, cfg.Cores, memStr(cfg.Memory))
	}
	if got := cfg.SCSIs["scsi0"]; got != "local-lvm:vm-"+itoa(id)+"-disk-0,iothread=1,size=32G" {
		t.Errorf("scsi0 = %q", got)
	}
	if got := cfg.Nets["net0"]; !strings.HasPrefix(got, "virtio=BC:24:11:") || !strings.HasSuffix(got, ",bridge=vmbr0,firewall=1,tag=20") {
		t.Errorf("net0 = %q", got)
	}
	if cfg.Tags != "web;gpx" || cfg.Digest == "" || vm.Status != "stopped" {
		t.Errorf("tags %q digest %q status %q", cfg.Tags, cfg.Digest, vm.Status)
	}
	if err := vm.ConfigSync(ctx, proxmox.VirtualMachineOption{Name: "cores", Value: 4},
		proxmox.VirtualMachineOption{Name: "tags", Value: "Web,gpx,web"}); err != nil {
		t.Fatalf("PUT config: %v", err)
	}
	task, err = vm.Config(ctx, proxmox.VirtualMachineOption{Name: "memory", Value: "4096"},
		proxmox.VirtualMachineOption{Name: "description", Value: "changed by go-proxmox"})
	waitOK(t, ctx, "POST config", task, err)
	{
		tk, err := vm.Start(ctx)
		waitOK(t, ctx, "start", tk, err)
	}
	if err := vm.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if !vm.IsRunning() {
		t.Errorf("after start: status %q qmp %q", vm.Status, vm.QMPStatus)
	}
	cfg = vm.VirtualMachineConfig
	if *cfg.Cores != 4 || memStr(cfg.Memory) != "4096" || cfg.Description != "changed by go-proxmox" || cfg.Tags != "gpx;web" {
		t.Errorf("after updates: cores %d memory %q description %q tags %q", *cfg.Cores, memStr(cfg.Memory), cfg.Description, cfg.Tags)
	}
	{
		tk, err := vm.Stop(ctx)
		waitOK(t, ctx, "stop", tk, err)
	}
	if err := vm.Ping(ctx); err != nil || !vm.IsStopped() {
		t.Errorf("after stop: status %q, %v", vm.Status, err)
	}

	// LXC: create from a template, read back, PUT config, start, stop, delete.
	ctid := id + 1
	ctask, err := node.NewContainer(ctx, ctid,
		proxmox.ContainerOption{Name: "ostemplate", Value: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
		proxmox.ContainerOption{Name: "hostname", Value: "gpx-ct"},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:8"},
		proxmox.ContainerOption{Name: "mp0", Value: "local-lvm:16,mp=/data,backup=1"},
		proxmox.ContainerOption{Name: "net0", Value: "name=eth0,bridge=vmbr0,ip=dhcp"},
		proxmox.ContainerOption{Name: "memory", Value: 1024},
		proxmox.ContainerOption{Name: "unprivileged", Value: true},
		proxmox.ContainerOption{Name: "features", Value: "nesting=1"},
		proxmox.ContainerOption{Name: "password", Value: "s3cret-pw"})
	waitOK(t, ctx, "create ct", ctask, err)
	ct, err := node.Container(ctx, ctid)
	if err != nil {
		t.Fatalf("read ct: %v", err)
	}
	cc := ct.ContainerConfig
	if cc.Hostname != "gpx-ct" || cc.Memory == nil || *cc.Memory != 1024 || !bool(cc.Unprivileged) {
		t.Errorf("ct read back hostname %q memory %v unprivileged %v", cc.Hostname, cc.Memory, cc.Unprivileged)
	}
	if cc.RootFS != "local-lvm:vm-"+itoa(ctid)+"-disk-0,size=8G" || cc.Mps["mp0"] != "local-lvm:vm-"+itoa(ctid)+"-disk-1,mp=/data,backup=1,size=16G" {
		t.Errorf("ct disks rootfs %q mp0 %q", cc.RootFS, cc.Mps["mp0"])
	}
	if n := cc.Nets["net0"]; !strings.HasPrefix(n, "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:") || !strings.HasSuffix(n, ",ip=dhcp,type=veth") {
		t.Errorf("ct net0 = %q", n)
	}
	if _, err := ct.Config(ctx, proxmox.ContainerOption{Name: "cores", Value: 2}); err != nil {
		t.Fatalf("ct PUT config: %v", err)
	}
	{
		tk, err := ct.Start(ctx)
		waitOK(t, ctx, "ct start", tk, err)
	}
	ct, err = node.Container(ctx, ctid)
	if err != nil || ct.Status != "running" || ct.ContainerConfig.Cores != 2 {
		t.Fatalf("ct after start: %v status %q cores %d", err, ct.Status, ct.ContainerConfig.Cores)
	}
	after, err := cluster.Resources(ctx, "vm")
	if err != nil || len(after) != len(before)+2 {
		t.Errorf("resources after creates: %d (before %d), %v", len(after), len(before), err)
	}
	{
		tk, err := ct.Stop(ctx)
		waitOK(t, ctx, "ct stop", tk, err)
	}
	{
		tk, err := ct.Delete(ctx, nil)
		waitOK(t, ctx, "ct delete", tk, err)
	}
	{
		tk, err := vm.Delete(ctx, nil)
		waitOK(t, ctx, "vm delete", tk, err)
	}
	if _, err := node.VirtualMachine(ctx, id); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("deleted VM still readable: %v", err)
	}
	if _, err := node.Container(ctx, ctid); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("deleted CT still readable: %v", err)
	}
}

func memStr(m proxmox.StringOrInt) string { return fmt.Sprint(m) }
