package key

import (
	"crypto/ecdh"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
)

// ErrNonContributory is returned by [X25519] when the peer's public key is
// of low order, so the shared secret would not depend on our private key
// (the all-zero output). Every protocol package rejects such keys with this
// error: the 3DH and every ratchet step of Olm, SAS, and key backup.
var ErrNonContributory = errors.New("key: non-contributory X25519 key agreement (low-order public key)")

// GenerateCurve25519 reads 32 bytes from rand (nil means crypto/rand) and
// returns them as an X25519 private key (libolm's draw order: exactly 32
// bytes, used as they are). A failing reader gives an error that wraps the
// reader's error.
func GenerateCurve25519(rand io.Reader) (*ecdh.PrivateKey, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("key: reading randomness: %w", err)
	}
	defer clear(b[:])
	return NewCurve25519PrivateKey(b[:])
}

// NewCurve25519PrivateKey returns the X25519 private key with the given 32
// bytes. Any 32 bytes are a valid key (X25519 clamps them).
func NewCurve25519PrivateKey(b []byte) (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key: Curve25519 private key is %d bytes, want 32", len(b))
	}
	return k, nil
}

// Curve25519Public returns the public key of an X25519 private key.
func Curve25519Public(priv *ecdh.PrivateKey) Curve25519 {
	return Curve25519(priv.PublicKey().Bytes())
}

// X25519 returns the shared secret of priv and peer, or
// [ErrNonContributory] if peer is of low order. The result is secret.
func X25519(priv *ecdh.PrivateKey, peer Curve25519) ([32]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer[:])
	if err != nil {
		return [32]byte{}, fmt.Errorf("key: internal error: %w", err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		// crypto/ecdh fails X25519 exactly when the output is all zero.
		return [32]byte{}, ErrNonContributory
	}
	out := [32]byte(shared)
	clear(shared)
	return out, nil
}
