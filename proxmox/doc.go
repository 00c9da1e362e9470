// Package proxmox is pmpc's client for the Proxmox VE HTTP API: transport,
// TLS (CA file or certificate pinning), API-token and ticket authentication,
// PVE's error shapes as one typed error, retries, bounded concurrency, tasks
// (UPIDs) and the reads and writes pmpc needs.
//
// It owns the wire only. It never parses property strings (that codec lives
// in resource/pve), never compares desired with observed state (package
// plan) and never talks to the QEMU guest agent. Values read from guest
// configs are returned as the strings PVE prints, and values written are sent
// as given, form-encoded like PVE's own web interface.
package proxmox
