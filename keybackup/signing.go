package keybackup

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/key"
)

// SeedSize is the size of a PkSigning seed.
const SeedSize = key.SigningKeySeedSize

// PkSigning is libolm's PkSigning: an Ed25519 key made from a 32-byte
// seed, as used for cross-signing keys (the seed is what secret storage
// keeps as m.cross_signing.master and friends). Signatures are standard
// Ed25519 (RFC 8032) and equal libolm's olm_pk_sign. The seed is secret;
// fmt prints the public key only. It is safe for concurrent use.
type PkSigning struct {
	k *key.SigningKey
}

// NewPkSigning returns the key for a 32-byte seed.
func NewPkSigning(seed []byte) (*PkSigning, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("%w: seed is %d bytes, want %d", ErrMalformed, len(seed), SeedSize)
	}
	k, err := key.NewSigningKey(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &PkSigning{k}, nil
}

// GeneratePkSigning reads a 32-byte seed from r (crypto/rand if nil).
func GeneratePkSigning(r io.Reader) (*PkSigning, error) {
	if r == nil {
		r = rand.Reader
	}
	k, err := key.GenerateSigningKey(r)
	if err != nil {
		return nil, fmt.Errorf("keybackup: %w", err)
	}
	return &PkSigning{k}, nil
}

// PublicKey returns the Ed25519 public key.
func (s *PkSigning) PublicKey() key.Ed25519 { return s.k.Public() }

// Seed returns a copy of the seed. It is secret and the caller's to wipe.
func (s *PkSigning) Seed() []byte {
	seed, _ := s.k.Seed()
	return seed
}

// Sign signs msg. For signed JSON, msg is the canonical JSON (the signing
// package does this).
func (s *PkSigning) Sign(msg []byte) key.Ed25519Signature { return s.k.Sign(msg) }

// Format prints the public key only, for every verb.
func (s PkSigning) Format(f fmt.State, _ rune) {
	if s.k == nil {
		fmt.Fprint(f, "keybackup.PkSigning{}")
		return
	}
	fmt.Fprintf(f, "keybackup.PkSigning{PublicKey: %s}", s.k.Public())
}
