package key

import (
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
)

// Sizes of the values in this package.
const (
	Curve25519Size       = 32
	Ed25519Size          = 32
	Ed25519SignatureSize = 64
)

// ErrMalformed is returned (wrapped) when a key or signature cannot be parsed.
var ErrMalformed = errors.New("key: malformed key or signature")

// Curve25519 is a Curve25519 (X25519) public key: an identity, one-time,
// fallback, base or ratchet key.
type Curve25519 [Curve25519Size]byte

// Ed25519 is an Ed25519 public key: a device fingerprint key, a
// cross-signing key or a Megolm session's signing key.
type Ed25519 [Ed25519Size]byte

// Ed25519Signature is an Ed25519 signature (R ‖ S).
type Ed25519Signature [Ed25519SignatureSize]byte

// ParseCurve25519 decodes a Curve25519 public key from Matrix base64.
func ParseCurve25519(s string) (Curve25519, error) {
	var k Curve25519
	err := parseInto(k[:], s, "Curve25519 key")
	return k, err
}

// ParseEd25519 decodes an Ed25519 public key from Matrix base64. It checks
// the length only; [Ed25519.Verify] rejects unusable keys.
func ParseEd25519(s string) (Ed25519, error) {
	var k Ed25519
	err := parseInto(k[:], s, "Ed25519 key")
	return k, err
}

// ParseEd25519Signature decodes an Ed25519 signature from Matrix base64.
func ParseEd25519Signature(s string) (Ed25519Signature, error) {
	var sig Ed25519Signature
	err := parseInto(sig[:], s, "Ed25519 signature")
	return sig, err
}

func parseInto(dst []byte, s, what string) error {
	want := b64.EncodedLen(len(dst))
	if len(s) != want && len(s) != (want+3)/4*4 {
		return fmt.Errorf("%w: %s is %d characters, want %d", ErrMalformed, what, len(s), want)
	}
	if err := b64.DecodeInto(dst, s); err != nil {
		return fmt.Errorf("%w: %s is not valid base64", ErrMalformed, what)
	}
	return nil
}

// String returns the unpadded base64 form used in Matrix events.
func (k Curve25519) String() string { return b64.Encode(k[:]) }

// String returns the unpadded base64 form used in Matrix events.
func (k Ed25519) String() string { return b64.Encode(k[:]) }

// String returns the unpadded base64 form used in Matrix events.
func (s Ed25519Signature) String() string { return b64.Encode(s[:]) }

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (k Curve25519) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Curve25519) UnmarshalText(b []byte) error {
	v, err := ParseCurve25519(string(b))
	if err == nil {
		*k = v
	}
	return err
}

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (k Ed25519) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Ed25519) UnmarshalText(b []byte) error {
	v, err := ParseEd25519(string(b))
	if err == nil {
		*k = v
	}
	return err
}

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (s Ed25519Signature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Ed25519Signature) UnmarshalText(b []byte) error {
	v, err := ParseEd25519Signature(string(b))
	if err == nil {
		*s = v
	}
	return err
}
