// Package ansible renders a workspace's definitions as an Ansible playbook
// that creates and updates the guests through the Proxmox modules
// (community.general by default, community.proxmox on request), plus a
// static YAML inventory of the guests grouped by tag, pool and node.
//
// It is pure: a resource.Set (and optionally the observed resource.Cluster)
// in, files out; the inventory needs no API call at run time. Secrets are
// never written: the API token and passwords are environment lookups.
package ansible
