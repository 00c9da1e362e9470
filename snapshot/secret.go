package snapshot

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/pmpc-dev/pmpc/resource"
)

// SetSecret remembers that secret was last applied as key of the resource
// at addr (e.g. vm.web-01, "cipassword"). Only an HMAC-SHA256 of it under
// the store's random salt is written, never the secret.
//
// This is a cache for change detection: when it is lost (a new store), the
// plan must treat the secret as changed or unknown, never as unchanged.
func (s *Store) SetSecret(addr resource.Address, key string, secret []byte) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(secretKey(addr, key), s.secretHash(secret))
	})
	if err != nil {
		return fmt.Errorf("remember secret %s %s: %w", addr, key, err)
	}
	return nil
}

// SecretMatches reports whether secret is the one last recorded by
// SetSecret for addr and key. known is false when nothing was recorded; then
// same is false too.
func (s *Store) SecretMatches(addr resource.Address, key string, secret []byte) (known, same bool, err error) {
	var stored []byte
	err = s.db.View(func(txn *badger.Txn) error {
		var err error
		stored, err = getCopy(txn, secretKey(addr, key))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("secret %s %s: %w", addr, key, err)
	}
	return true, hmac.Equal(stored, s.secretHash(secret)), nil
}

// ForgetSecret drops what SetSecret recorded for addr and key.
func (s *Store) ForgetSecret(addr resource.Address, key string) error {
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(secretKey(addr, key)) })
	if err != nil {
		return fmt.Errorf("forget secret %s %s: %w", addr, key, err)
	}
	return nil
}

func (s *Store) secretHash(secret []byte) []byte {
	m := hmac.New(sha256.New, s.salt)
	m.Write(secret)
	return m.Sum(nil)
}
