// Package terraform renders a workspace's definitions as Terraform
// configuration for the bpg/proxmox provider: a provider block, one
// resource per VM, container and pool, and an import block for every guest
// and pool that already exists, so that `terraform plan` adopts what is
// there instead of recreating it.
//
// It is pure: a resource.Set (and optionally the observed resource.Cluster)
// in, files out. Secrets are never written: passwords become sensitive
// variables and the API token is left to PROXMOX_VE_API_TOKEN.
package terraform
