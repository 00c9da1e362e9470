// Package sim is a stateful fake Proxmox VE API server for tests, demos and
// rehearsals: HTTPS with a self-signed certificate, API tokens and tickets,
// asynchronous tasks with real UPIDs, locks, config digests, pending changes
// and hotplug rules, PVE's own error texts and shapes, and latency, worker
// and fault injection. `pmpc sim` serves it; tests start it in-process with
// Test.
//
// The fake keeps guest configs as PVE does, as flat key → value text, and
// imports nothing of pmpc's client or domain packages
// (github.com/pmpc-dev/pmpc/proxmox, .../resource), so it cannot agree with
// their bugs. Third-party clients (go-proxmox, proxmoxer, the Terraform
// provider) must work against it unchanged.
//
// Clusters come from a Seed: a JSON file in PVE's own terms (LoadSeed,
// ParseSeed) or a generated preset (Empty, Homelab, Large; Preset by name).
//
// Hooks for tests: EditConfig (an out-of-band edit, e.g. to provoke a digest
// mismatch or drift), FailNextTask (make the next task of a type fail),
// AddToken (a token with a limited ACL, for 403s), SetRunning, Config,
// Guest, VMIDs, WaitTasks, Stats and ResetStats. Operators get the same
// counters at GET /_sim/stats (POST /_sim/stats/reset zeroes them); keys
// are "METHOD /path/template", e.g. "GET /nodes/{node}/qemu/{vmid}/config".
//
// Fault injection (Options.FaultRate) makes that share of API requests fail
// before their handler runs, in one of three ways chosen at random:
//
//   - 500 "can't lock file '/var/lock/qemu-server/lock-0.conf' - got timeout"
//     (what a busy per-guest file lock looks like; clients such as bpg retry it),
//   - 503 "Service Unavailable" (pveproxy restarting),
//   - a connection dropped without any response,
//
// and the same share of tasks end with exit status
// "simulated task failure (fault injection)" and no change made.
// Faults are deterministic for a given Options.RandSeed and request order.
//
// What the fake leaves out: HA, replication, backups (vzdump), firewall,
// SDN beyond the localnetwork entries, storage uploads and downloads,
// consoles, and the extjs/html formats (501).
package sim
