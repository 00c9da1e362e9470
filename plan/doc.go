// Package plan compares a workspace's desired resources with an observation
// of the live cluster and produces an ordered list of changes in PVE's terms,
// each with its disruption class and the API operations that carry it out.
// It also renders plans as text, markdown and JSON, and reads and writes
// saved plan files. It does no I/O against the cluster.
package plan
