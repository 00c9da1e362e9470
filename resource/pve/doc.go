// Package pve is pmpc's one codec for Proxmox VE values: property strings,
// sizes, tags and URL-encoded ssh keys, plus the conversion between desired
// specs (resource.VM, resource.Container) and PVE's flat guest config, and
// the per-key comparison of two configs in PVE's own terms.
//
// It is pure code: it imports only the standard library and resource, and it
// must never do I/O, resolve secrets or talk to PVE.
package pve
