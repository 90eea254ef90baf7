package driver

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/signing"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// PKSigning is mautrix's olm.PKSigning (a cross-signing key) backed by a
// sicher key.SigningKey.
type PKSigning struct {
	k *key.SigningKey
}

var _ olm.PKSigning = (*PKSigning)(nil)

// NewPKSigning creates a signing key from a fresh 32-byte seed
// (olm.InitNewPKSigning).
func (d Driver) NewPKSigning() (olm.PKSigning, error) {
	k, err := key.GenerateSigningKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &PKSigning{k: k}, nil
}

// NewPKSigningFromSeed creates the signing key of a 32-byte seed
// (olm.InitNewPKSigningFromSeed).
func (d Driver) NewPKSigningFromSeed(seed []byte) (olm.PKSigning, error) {
	if len(seed) == 0 {
		return nil, olm.ErrEmptyInput
	}
	k, err := key.NewSigningKey(seed)
	if err != nil {
		return nil, wrap(olm.ErrBadInput, err)
	}
	return &PKSigning{k: k}, nil
}

// Seed returns the 32-byte seed.
func (p *PKSigning) Seed() []byte {
	seed, _ := p.k.Seed()
	return seed
}

// PublicKey returns the public key.
func (p *PKSigning) PublicKey() id.Ed25519 { return id.Ed25519(p.k.Public().String()) }

// Sign signs message and returns the signature as unpadded base64.
func (p *PKSigning) Sign(message []byte) ([]byte, error) {
	sig := p.k.Sign(message)
	return base64.RawStdEncoding.AppendEncode(nil, sig[:]), nil
}

// SignJSON signs the JSON encoding of obj as the spec's "Signing JSON"
// says (https://spec.matrix.org/v1.19/appendices/#signing-json): its
// canonical JSON without "signatures" and "unsigned". It returns the
// signature as unpadded base64.
func (p *PKSigning) SignJSON(obj any) (string, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	msg, err := signing.SigningBytes(data)
	if err != nil {
		return "", fmt.Errorf("%w: %w", olm.ErrBadInput, err)
	}
	sig := p.k.Sign(msg)
	return base64.RawStdEncoding.EncodeToString(sig[:]), nil
}
