package key

import (
	"encoding/binary"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
)

// KeyID identifies a one-time or fallback key of an account. It is libolm's
// counter: the first key gets 1, and one-time and fallback keys share the
// counter. Its text form is the unpadded base64 of the 4-byte big-endian
// value ("AAAAAQ" for 1), as libolm publishes it.
type KeyID uint32

// String returns the libolm text form of the id.
func (id KeyID) String() string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(id))
	return b64.Encode(b[:])
}

// ParseKeyID decodes the libolm text form of a key id.
func ParseKeyID(s string) (KeyID, error) {
	var b [4]byte
	if err := b64.DecodeInto(b[:], s); err != nil {
		if len(s) > 16 {
			// The input is untrusted and unbounded: quote a prefix only.
			return 0, fmt.Errorf("%w: key id %q… (%d bytes) is not 4 bytes of base64", ErrMalformed, s[:16], len(s))
		}
		return 0, fmt.Errorf("%w: key id %q is not 4 bytes of base64", ErrMalformed, s)
	}
	return KeyID(binary.BigEndian.Uint32(b[:])), nil
}
