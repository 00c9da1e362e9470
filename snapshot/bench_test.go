package snapshot

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pmpc-dev/pmpc/resource"
)

// bigCluster returns n guests with configs of about 700 bytes, the size of
// a typical VM config.
func bigCluster(n, variant int) *resource.Cluster {
	gs := make([]resource.Guest, n)
	for i := range gs {
		vmid := 100 + i
		gs[i] = resource.Guest{
			Kind: resource.KindVM, VMID: vmid, Node: fmt.Sprintf("pve%d", i%8), Name: fmt.Sprintf("vm-%05d", i),
			Status: "running", Uptime: int64(1000 + variant), Tags: "prod;web", Pool: "prod",
			Digest: fmt.Sprintf("%040x", vmid*7+variant),
			Config: map[string]string{
				"name": fmt.Sprintf("vm-%05d", i), "cores": "2", "sockets": "1", "memory": "4096",
				"cpu": "x86-64-v2-AES", "ostype": "l26", "scsihw": "virtio-scsi-single", "boot": "order=scsi0;net0",
				"scsi0":   fmt.Sprintf("local-lvm:vm-%d-disk-0,iothread=1,size=32G", vmid),
				"net0":    fmt.Sprintf("virtio=BC:24:11:%02X:%02X:%02X,bridge=vmbr0,firewall=1", i>>16&0xff, i>>8&0xff, i&0xff),
				"smbios1": fmt.Sprintf("uuid=%08x-1111-2222-3333-444455556666", vmid), "vmgenid": fmt.Sprintf("%08x-aaaa-bbbb-cccc-ddddeeeeffff", vmid),
				"agent": "1", "onboot": "1", "tags": "prod;web", "meta": "creation-qemu=9.0.2,ctime=1727046067",
				"ipconfig0": "ip=dhcp", "ide2": fmt.Sprintf("local-lvm:vm-%d-cloudinit,media=cdrom", vmid),
				"description": fmt.Sprintf("revision %d", variant/2),
			},
		}
	}
	return cluster(t0, gs...)
}

func benchStore(b *testing.B) *Store {
	s, err := Open(filepath.Join(b.TempDir(), "snapshot"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPut10k writes 10,000-guest revisions whose configs all changed.
func BenchmarkPut10k(b *testing.B) {
	s := benchStore(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := bigCluster(10000, 2*i) // new configs: every Put writes new blobs
		b.StartTimer()
		if _, err := s.Put(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutUnchanged10k writes 10,000-guest revisions whose configs are
// unchanged (only uptime moved): the common refresh.
func BenchmarkPutUnchanged10k(b *testing.B) {
	s := benchStore(b)
	c := bigCluster(10000, 0)
	if _, err := s.Put(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for i := range c.Guests {
			c.Guests[i].Uptime++
		}
		if _, err := s.Put(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	revs, _ := s.Revisions()
	dir := s.Dir()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	_, alloc := diskUsage(b, dir)
	b.ReportMetric(float64(len(revs)), "revisions")
	b.ReportMetric(float64(alloc)/(1<<20), "MiB-on-disk")
}

// BenchmarkLatest10k reads a 10,000-guest revision back.
func BenchmarkLatest10k(b *testing.B) {
	s := benchStore(b)
	if _, err := s.Put(context.Background(), bigCluster(10000, 0)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, _, err := s.Latest()
		if err != nil || len(c.Guests) != 10000 {
			b.Fatal(len(c.Guests), err)
		}
	}
}

// BenchmarkGuest10k looks up one guest in a 10,000-guest revision.
func BenchmarkGuest10k(b *testing.B) {
	s := benchStore(b)
	if _, err := s.Put(context.Background(), bigCluster(10000, 0)); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, _, err := s.Guest(100 + i%10000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistory50 reads one guest across 50 revisions of 1,000 guests.
func BenchmarkHistory50(b *testing.B) {
	s := benchStore(b)
	for i := range 50 {
		if _, err := s.Put(context.Background(), bigCluster(1000, i)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		h, err := s.History(500)
		if err != nil || len(h) != 50 {
			b.Fatal(len(h), err)
		}
	}
}
