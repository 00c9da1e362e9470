// Package resource holds pmpc's dependency-free domain types: the kinds of
// resources a workspace defines (VMs, containers, pools), their addresses,
// the desired specs decoded from definitions, and the observed state of a
// cluster as PVE reports it.
//
// It imports nothing of pmpc's and does no I/O. Parsing and printing of PVE
// values lives in resource/pve; the conversion between specs and PVE's flat
// config lives beside it.
package resource
