package schema

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pmpc-dev/pmpc/resource"
)

// cacheFormat is bumped whenever the cache's layout or meaning changes.
const cacheFormat = 1

// cacheName is the cache file inside Loader.CacheDir.
const cacheName = "definitions.json"

// cacheFile is what the cache holds: for each definition file, keyed by
// workspace-relative path, its content hash and what loading it produced.
// Key covers the schema, pmpc's build and the policy files; a different key
// invalidates every entry.
type cacheFile struct {
	Key   string                 `json:"key"`
	Files map[string]*cacheEntry `json:"files"`
}

type cacheEntry struct {
	Hash   string `json:"hash"`
	Policy bool   `json:"policy,omitempty"`
	// Names are the resource names the file writes, for duplicate checks.
	Names []cachedName `json:"names,omitempty"`
	// Resources are the validated, decoded resources whose origin is this
	// file.
	Resources []cachedResource `json:"resources,omitempty"`
}

type cachedName struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

type cachedResource struct {
	Kind string          `json:"kind"`
	Name string          `json:"name"`
	Line int             `json:"line,omitempty"`
	Col  int             `json:"col,omitempty"`
	Spec json.RawMessage `json:"spec"`
}

// addTo decodes the resource into the set.
func (r cachedResource) addTo(set *resource.Set) error {
	var err error
	switch resource.Kind(r.Kind) {
	case resource.KindVM:
		v := new(resource.VM)
		err = json.Unmarshal(r.Spec, v)
		set.VMs[r.Name] = v
	case resource.KindContainer:
		v := new(resource.Container)
		err = json.Unmarshal(r.Spec, v)
		set.Containers[r.Name] = v
	case resource.KindPool:
		v := new(resource.Pool)
		err = json.Unmarshal(r.Spec, v)
		set.Pools[r.Name] = v
	default:
		err = fmt.Errorf("unknown kind %q", r.Kind)
	}
	if err != nil {
		return fmt.Errorf("decode %s.%s: %w", r.Kind, r.Name, err)
	}
	return nil
}

// addTo decodes the entry's resources into the set.
func (e *cacheEntry) addTo(set *resource.Set) error {
	for _, r := range e.Resources {
		if err := r.addTo(set); err != nil {
			return err
		}
	}
	return nil
}

// readCache returns the cache, or an empty one when there is none or it
// cannot be read: the cache is only ever an optimisation.
func (l *Loader) readCache() *cacheFile {
	empty := &cacheFile{Files: map[string]*cacheEntry{}}
	if l.CacheDir == "" {
		return empty
	}
	b, err := os.ReadFile(filepath.Join(l.CacheDir, cacheName))
	if err != nil {
		return empty
	}
	var c cacheFile
	if err := json.Unmarshal(b, &c); err != nil || c.Files == nil {
		return empty
	}
	return &c
}

// writeCache replaces the cache atomically. Failures are ignored: a missing
// cache only costs time.
func (l *Loader) writeCache(c *cacheFile) {
	if l.CacheDir == "" {
		return
	}
	if err := os.MkdirAll(l.CacheDir, 0o755); err != nil {
		return
	}
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(l.CacheDir, cacheName+".*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if err := os.Rename(tmp.Name(), filepath.Join(l.CacheDir, cacheName)); err != nil {
		os.Remove(tmp.Name())
	}
}
