// Package render holds what pmpc's renderers share: turning an observed
// cluster into desired definitions (for `pmpc render --from live`), the
// naming of guests, and matching definitions to live guests.
//
// Like the renderers in render/terraform and render/ansible it is pure: a
// Set or Cluster in, values out. It must not read the workspace, the
// snapshot or the network.
package render
