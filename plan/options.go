package plan

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/pmpc-dev/pmpc/resource"
)

// Options tune how Make plans.
type Options struct {
	// Prune deletes guests that carry the pmpc tag but left the workspace
	// (and pools only such guests used). Without it they are listed as not
	// managed.
	Prune bool
	// AllowRestart lets pmpc restart a running guest to apply changes that
	// PVE keeps pending until the next restart (--allow-restart). Without
	// it such changes are planned as pending and the guest is not restarted.
	AllowRestart bool
	// AllowReplace lets a plan destroy and recreate a guest whose change
	// PVE cannot make in place (--allow-replace). Replacing loses the
	// guest's disks, so without it such a change is a plan error that says
	// which field forces it.
	AllowReplace bool
	// PurgeDisks removes disks that left a definition for good instead of
	// detaching them (they would become unusedN).
	PurgeDisks bool
	// SecretHash returns the salted hash (see HashSecret) of the secret
	// recorded for key of the resource at addr by the last apply, if any.
	SecretHash func(addr resource.Address, key string) (saltedHash string, ok bool)
	// ResolveSecret reads the current value of a secret reference. It is
	// called only for secrets with a recorded hash, and the value is used
	// only to compare hashes.
	ResolveSecret func(ref resource.SecretRef) (string, error)
	// CompareSecret, when set, is used instead of SecretHash: it reports
	// whether value is the secret recorded for key of the resource at addr
	// by the last apply (known is false when nothing was recorded). It lets
	// a store that keeps its salt to itself (package snapshot) answer.
	CompareSecret func(addr resource.Address, key, value string) (known, same bool, err error)
	// Protect lists kind.name globs (path.Match syntax, e.g. "vm.db-*") of
	// resources never deleted or replaced (pmpc.cue protect).
	Protect []string
	// Now stamps the plan; time.Now when nil.
	Now func() time.Time
}

const secretHashScheme = "hmac-sha256"

// HashSecret returns a salted hash of a secret value, printed as
// "hmac-sha256:<salt hex>:<mac hex>". The salt travels with the hash, so
// SecretMatches can check a value against it later. Record it instead of the
// secret; never record the value itself.
func HashSecret(salt, value string) string {
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(value))
	return secretHashScheme + ":" + hex.EncodeToString([]byte(salt)) + ":" + hex.EncodeToString(m.Sum(nil))
}

// SecretMatches reports whether value hashes to saltedHash (made by
// HashSecret). A malformed hash never matches.
func SecretMatches(saltedHash, value string) bool {
	scheme, rest, ok := strings.Cut(saltedHash, ":")
	if !ok || scheme != secretHashScheme {
		return false
	}
	saltHex, _, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	salt, err := hex.DecodeString(saltHex)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(HashSecret(string(salt), value)), []byte(saltedHash))
}

// NewSalt returns a fresh random salt for HashSecret.
func NewSalt() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
