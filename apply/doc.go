// Package apply executes a plan against a Proxmox VE cluster: it schedules
// the plan's changes by their dependencies under parallelism limits, runs
// each change's API operations in order (sending the digest the plan saw and
// waiting for every task), journals each intent before it is sent so that a
// crashed run can be recovered, and returns a Record of what happened for
// the audit trail.
//
// It talks to the cluster only through the small Client interface it
// declares, never to the proxmox package directly, and it knows nothing of
// flags, terminals or git. Secret references in a plan are resolved only at
// the moment they are sent; resolved values never reach the journal, the
// record or an error.
package apply
