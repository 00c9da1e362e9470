// Package sim is a stateful fake Proxmox VE API server for tests, demos and
// rehearsals: HTTPS with a self-signed certificate, API tokens and tickets,
// asynchronous tasks with real UPIDs, locks, config digests, pending changes,
// PVE's own error texts, and latency, worker and fault injection.
//
// The fake keeps guest configs as PVE does, as flat key → value text, and
// imports nothing of pmpc's client or domain packages
// (github.com/pmpc-dev/pmpc/proxmox, .../resource), so it cannot agree with
// their bugs. Third-party clients (go-proxmox, proxmoxer, the Terraform
// provider) must work against it unchanged.
//
// Fault injection (Options.FaultRate) makes that share of API requests fail
// before their handler runs, in one of three ways chosen at random:
//
//   - 500 "can't lock file '/var/lock/qemu-server/lock-0.conf' - got timeout"
//     (what a busy per-guest file lock looks like; clients such as bpg retry it),
//   - 503 "Service Unavailable" (pveproxy restarting),
//   - a connection dropped without any response.
//
// and the same share of tasks end with exit status
// "simulated task failure (fault injection)" and no change made.
// Faults are deterministic for a given Options.RandSeed and request order.
package sim
