package snapshot

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/pmpc-dev/pmpc/resource"
)

// Key layout. Every revision is written under its own number, so history
// never depends on Badger's MVCC versions:
//
//	m/format              format version of the store (formatVersion)
//	m/salt                random salt for secret hashes
//	h/<rev>               revision header; writing it commits the revision
//	g/<rev>/<vmid>        per-guest entry of a revision (guestEntry)
//	c/<sha256>            guest config blob, shared by every revision that saw it
//	r/<sha256>            newest revision that references c/<sha256>
//	s/<address>\x00<key>  salted hash of the last applied secret
//
// <rev> is 8 bytes big endian and <vmid> 10 decimal digits, so keys sort by
// revision and then vmid.
const formatVersion = "1"

var (
	keyFormat   = []byte("m/format")
	keySalt     = []byte("m/salt")
	prefixHead  = []byte("h/")
	prefixGuest = []byte("g/")
	prefixBlob  = []byte("c/")
	prefixRef   = []byte("r/")
	prefixSec   = []byte("s/")
)

func headKey(rev uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefixHead...), rev)
}

func revFromHeadKey(k []byte) (uint64, bool) {
	if len(k) != len(prefixHead)+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefixHead):]), true
}

// guestPrefix is the prefix of every guest entry of rev.
func guestPrefix(rev uint64) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte(nil), prefixGuest...), rev)
	return append(k, '/')
}

func guestKey(rev uint64, vmid int) []byte {
	return fmt.Appendf(guestPrefix(rev), "%010d", vmid)
}

// revFromGuestKey returns the revision a guest entry key belongs to.
func revFromGuestKey(k []byte) (uint64, bool) {
	if len(k) < len(prefixGuest)+9 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefixGuest):]), true
}

func vmidFromGuestKey(k []byte) (int, bool) {
	if len(k) < len(prefixGuest)+9 {
		return 0, false
	}
	n, err := strconv.Atoi(string(k[len(prefixGuest)+9:]))
	return n, err == nil
}

func blobKey(h []byte) []byte { return append(append([]byte(nil), prefixBlob...), h...) }
func refKey(h []byte) []byte  { return append(append([]byte(nil), prefixRef...), h...) }

func secretKey(addr resource.Address, key string) []byte {
	k := append(append([]byte(nil), prefixSec...), addr.String()...)
	k = append(k, 0)
	return append(k, key...)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func hexKey(k []byte) string {
	// Keys are mostly printable; show the binary parts in hex for messages.
	for _, c := range k {
		if c < 0x20 || c > 0x7e {
			return hex.EncodeToString(k)
		}
	}
	return string(k)
}
