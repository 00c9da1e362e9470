// Package snapshot stores what the live cluster looked like: a Badger
// database in <workspace>/.pmpc/snapshot holding whole revisions (one per
// refresh, the last 50 by default), with lookups in the latest revision, the
// history of one guest across revisions, and Refresh, which reads only the
// guest configs whose cheap signals moved plus 1 % of them, least recently
// read first, to verify them.
//
// The snapshot is a cache, never a source of truth: everything in it can be
// rebuilt by `pmpc refresh`, and a corrupt store is moved aside and rebuilt
// rather than repaired. Nothing a plan needs to stay safe may live only
// here, and no secret is ever written to it (only salted hashes).
package snapshot
