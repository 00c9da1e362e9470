package apply

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// ResolveSecretRef returns the default secret resolver: "env:NAME" reads
// the environment variable NAME (which must be set and not empty), and
// "file:PATH" reads the file at PATH, relative to root, without its
// trailing newline. Errors name the reference, never a value.
func ResolveSecretRef(root string) func(resource.SecretRef) (string, error) {
	return func(ref resource.SecretRef) (string, error) {
		s := string(ref)
		switch {
		case strings.HasPrefix(s, "env:"):
			name := strings.TrimPrefix(s, "env:")
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			return v, nil
		case strings.HasPrefix(s, "file:"):
			p := strings.TrimPrefix(s, "file:")
			if !filepath.IsAbs(p) && root != "" {
				p = filepath.Join(root, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("read secret file: %w", err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
		return "", fmt.Errorf("secret reference %q: want env:NAME or file:PATH", s)
	}
}
