package keybackup

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// PickleKeySize is the size of the key of sicher's own pickle format.
const PickleKeySize = pickle.KeySize

const (
	pickleKind          = "keybackup.DecryptionKey"
	libolmPickleVersion = 1
	pickleVersion       = 1
)

// ErrPickle is returned (wrapped) for a pickle that does not open (wrong
// key, corrupted) or does not hold a valid decryption key.
var ErrPickle = errors.New("keybackup: invalid pickle")

// PickleLibolm returns k in libolm's PkDecryption pickle format (version
// 1: public key ‖ private key, in libolm's pickle envelope) under a
// pickle key of any length, as olm_pickle_pk_decryption does. libolm's
// envelope derives its IV from the key, so equal keys give equal pickles.
// The result is secret.
func (k *DecryptionKey) PickleLibolm(pickleKey []byte) string {
	pt := k.appendPlain(make([]byte, 0, pickle.LibolmCap(64)))
	return pickle.SealLibolmInPlace(pickleKey, pt) // consumes pt
}

// UnpickleLibolm restores a decryption key from libolm's PkDecryption
// pickle (olm_unpickle_pk_decryption). Errors wrap ErrPickle.
func UnpickleLibolm(pickleKey []byte, p string) (*DecryptionKey, error) {
	pt, err := pickle.OpenLibolm(pickleKey, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPickle, err)
	}
	defer clear(pt)
	return parsePlain(pt)
}

// Pickle returns k in sicher's own pickle format (AES-256-GCM under a
// 32-byte key, random nonce read from r, crypto/rand if nil). The result
// is secret.
func (k *DecryptionKey) Pickle(pickleKey *[PickleKeySize]byte, r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	pt := k.appendPlain(make([]byte, 0, pickle.LibolmCap(64)))
	defer clear(pt)
	s, err := pickle.Seal(r, pickleKey, pickleKind, pt[0], pt[1:])
	if err != nil {
		return "", fmt.Errorf("keybackup: %w", err)
	}
	return s, nil
}

// Unpickle restores a decryption key from Pickle's output. Errors wrap
// ErrPickle.
func Unpickle(pickleKey *[PickleKeySize]byte, p string) (*DecryptionKey, error) {
	version, body, err := pickle.Open(pickleKey, pickleKind, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPickle, err)
	}
	pt := append([]byte{version}, body...) // TODO(api-v1): parse by version
	clear(body)
	defer clear(pt)
	return parsePlain(pt)
}

// appendPlain writes the pickle plaintext; both formats share libolm's
// layout: u32 version 1 ‖ public key ‖ private key.
func (k *DecryptionKey) appendPlain(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint32(libolmPickleVersion)
	b.AddBytes(k.pub[:])
	b.AddBytes(k.priv.Bytes())
	return b.Bytes()
}

func parsePlain(pt []byte) (*DecryptionKey, error) {
	r := wire.Reader(pt)
	var version uint32
	var pub key.Curve25519
	var priv [KeySize]byte
	defer clear(priv[:])
	if !r.ReadUint32(&version) {
		return nil, fmt.Errorf("%w: truncated", ErrPickle)
	}
	if version != libolmPickleVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrPickle, version)
	}
	if !r.CopyBytes(pub[:]) || !r.CopyBytes(priv[:]) {
		return nil, fmt.Errorf("%w: truncated", ErrPickle)
	}
	if !r.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrPickle)
	}
	k, err := NewDecryptionKey(priv[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPickle, err)
	}
	if k.pub != pub {
		return nil, fmt.Errorf("%w: public key does not match private key", ErrPickle)
	}
	return k, nil
}
