package workspace

import (
	_ "embed"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/pmpc-dev/pmpc/resource"
	"github.com/pmpc-dev/pmpc/schema"
)

// ConfigFile is the name of the file that marks a workspace root.
const ConfigFile = "pmpc.cue"

//go:embed config.cue
var configSchema []byte

// Config is a workspace's pmpc.cue. Environment variables (PMPC_ENDPOINT,
// PMPC_TOKEN, ...) override the cluster settings; that is the caller's job.
type Config struct {
	Cluster  Cluster  `json:"cluster"`
	Defaults Defaults `json:"defaults"`
	// Prune deletes pmpc-owned guests whose definition left git.
	Prune bool `json:"prune"`
	// Protect lists kind.name globs (path.Match syntax, e.g. "vm.db-*") of
	// resources that are never deleted.
	Protect []string `json:"protect"`
	// Ignore lists gitignore-style patterns of files that are not
	// definitions.
	Ignore []string `json:"ignore"`
	Audit  Audit    `json:"audit"`
}

// Cluster says how to reach the cluster.
type Cluster struct {
	Endpoint    string `json:"endpoint,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// CAFile is relative to the workspace root.
	CAFile string             `json:"ca_file,omitempty"`
	Token  resource.SecretRef `json:"token,omitempty"`
}

// Defaults fill what definitions leave unset.
type Defaults struct {
	Node    string `json:"node,omitempty"`
	Storage string `json:"storage,omitempty"`
	Bridge  string `json:"bridge,omitempty"`
}

// Audit configures the audit trail.
type Audit struct {
	// Branch receives the audit commits of applies.
	Branch string `json:"branch"`
}

// Protected reports whether a resource matches a protect pattern.
func (c *Config) Protected(a resource.Address) bool {
	for _, p := range c.Protect {
		if ok, _ := path.Match(p, a.String()); ok {
			return true
		}
	}
	return false
}

// ReadConfig reads and validates pmpc.cue in root. Invalid configuration
// is a *schema.Errors.
func ReadConfig(root string) (*Config, error) {
	src, err := os.ReadFile(filepath.Join(root, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("read workspace config: %w", err)
	}
	return parseConfig(src)
}

func parseConfig(src []byte) (cfg *Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, &schema.Errors{List: []schema.Error{{File: ConfigFile, Msg: fmt.Sprintf("internal error reading the config: %v", r)}}}
		}
	}()
	ctx := cuecontext.New()
	def := ctx.CompileBytes(configSchema, cue.Filename("pmpc:workspace/config.cue")).LookupPath(cue.ParsePath("#Config"))
	if err := def.Err(); err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	v := ctx.CompileBytes(src, cue.Filename(ConfigFile))
	if err := v.Err(); err != nil {
		return nil, configErrors(err)
	}
	u := def.Unify(v)
	if err := u.Validate(cue.Concrete(true), cue.Final()); err != nil {
		return nil, configErrors(err)
	}
	var c Config
	if err := u.Decode(&c); err != nil {
		return nil, configErrors(err)
	}
	return &c, nil
}

func configErrors(err error) error {
	list := schema.ErrorsFromCUE(err, func([]string) (string, int, int) { return ConfigFile, 0, 0 })
	for i := range list {
		list[i].Path = strings.TrimPrefix(strings.TrimPrefix(list[i].Path, "#Config"), ".")
		if list[i].File == "" {
			list[i].File = ConfigFile
		}
	}
	return schema.NewErrors(list)
}
