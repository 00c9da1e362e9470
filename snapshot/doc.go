// Package snapshot stores what the live cluster looked like: a Badger
// database of whole revisions (one per refresh), with lookups in the latest
// revision and the history of one guest across revisions.
//
// The snapshot is a cache, never a source of truth: everything in it can be
// rebuilt by `pmpc refresh`, and a corrupt store is moved aside and rebuilt
// rather than repaired. Nothing a plan needs to stay safe may live only here.
package snapshot
