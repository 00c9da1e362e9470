package render

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/pmpc-dev/pmpc/resource"
)

// LoadSetJSON reads a Set written as JSON in the definitions' field names
// (`{"vm": {...}, "container": {...}, "pool": {...}}`). The renderers' tests
// use it for their fixtures.
func LoadSetJSON(path string) (*resource.Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set := resource.NewSet()
	if err := json.Unmarshal(data, set); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return set, nil
}

// LoadClusterJSON reads a resource.Cluster written as JSON.
func LoadClusterJSON(path string) (*resource.Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c resource.Cluster
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}
