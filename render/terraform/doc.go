// Package terraform renders a workspace's definitions as Terraform
// configuration for the bpg/proxmox provider: a provider block, one
// resource per VM, container and pool, and an import block for every guest
// and pool that already exists, so that `terraform plan` adopts what is
// there instead of recreating it.
//
// Blocks and attributes are rendered the way the provider's Read puts them
// into state on import (a block whose values are all provider defaults is
// left out, since Read leaves it out too), and an adopted guest lists in
// lifecycle.ignore_changes the few attributes whose imported value no
// configuration can state (see adoption in terraform.go), or that the
// provider's Read never puts into state (for containers: see container.go).
//
// It is pure: a resource.Set (and optionally the observed resource.Cluster)
// in, files out. Secrets are never written: passwords become sensitive
// variables and the API token is left to PROXMOX_VE_API_TOKEN.
package terraform
