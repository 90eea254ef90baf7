package keybackup

import (
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// PickleKeySize is the size of the key of sicher's own pickle format.
const PickleKeySize = pickle.KeySize

const (
	pickleKind          = "keybackup.DecryptionKey"
	libolmPickleVersion = 1 // libolm's PkDecryption pickle
)

// ErrBadPickle is returned (wrapped) for a pickle that does not open (wrong
// key, corrupted) or does not hold a valid decryption key.
var ErrBadPickle = errors.New("keybackup: bad pickle")

// PickleLibolm returns k in libolm's PkDecryption pickle format (version
// 1: public key ‖ private key, in libolm's pickle envelope) under a
// pickle key of any length, as olm_pickle_pk_decryption does. libolm's
// envelope derives its IV from the key, so equal keys give equal pickles.
// The result is secret. Every decryption key is representable in libolm's
// format.
func (k *DecryptionKey) PickleLibolm(pickleKey []byte) (string, error) {
	b := wire.NewBuilder(pickle.LibolmBuffer(4 + 2*KeySize))
	b.AddUint32(libolmPickleVersion)
	b.AddBytes(k.pub[:])
	b.AddBytes(k.priv.Bytes())
	return pickle.SealLibolmInPlace(pickleKey, b.Bytes()), nil // consumes the plaintext
}

// UnpickleLibolm restores a decryption key from libolm's PkDecryption
// pickle (olm_unpickle_pk_decryption). Errors wrap ErrBadPickle.
func UnpickleLibolm(pickleKey []byte, p string) (*DecryptionKey, error) {
	opened, err := pickle.OpenLibolmScratch(pickleKey, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	pt := opened.Body
	r := wire.Reader(pt)
	var version uint32
	if !r.ReadUint32(&version) || version != libolmPickleVersion {
		return nil, fmt.Errorf("%w: unknown libolm version %d", ErrBadPickle, version)
	}
	return parsePublicPrivate(&r)
}

// Pickle returns k in sicher's own pickle format (AES-256-GCM under a
// 32-byte key, random nonce from crypto/rand). The result is secret only as
// far as pickleKey is.
func (k *DecryptionKey) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	priv := k.priv.Bytes()
	defer clear(priv)
	s, err := pickle.Seal(nil, pickleKey, pickleKind, pickle.BackupKeyV1, priv)
	if err != nil {
		return "", fmt.Errorf("keybackup: %w", err)
	}
	return s, nil
}

// Unpickle restores a decryption key from Pickle's output, in any version
// sicher has written. Errors wrap ErrBadPickle.
func Unpickle(pickleKey *[PickleKeySize]byte, p string) (*DecryptionKey, error) {
	opened, err := pickle.OpenScratch(pickleKey, pickleKind, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	version, body := opened.Version, opened.Body
	r := wire.Reader(body)
	switch version {
	case pickle.BackupKeyLegacy:
		// libolm's layout: the rest of a u32 version 1, then public key ‖
		// private key.
		var v []byte
		if !r.ReadBytes(&v, 3) || v[0] != 0 || v[1] != 0 || v[2] != libolmPickleVersion {
			return nil, fmt.Errorf("%w: unknown legacy version", ErrBadPickle)
		}
		return parsePublicPrivate(&r)
	case pickle.BackupKeyV1:
		var priv []byte
		if !r.ReadBytes(&priv, KeySize) || !r.Empty() {
			return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadPickle, len(body), KeySize)
		}
		k, err := NewDecryptionKey(priv)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadPickle, version)
	}
}

// parsePublicPrivate reads public key ‖ private key and checks that they
// belong together.
func parsePublicPrivate(r *wire.Reader) (*DecryptionKey, error) {
	var pub key.Curve25519
	var priv [KeySize]byte
	defer clear(priv[:])
	if !r.CopyBytes(pub[:]) || !r.CopyBytes(priv[:]) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	if !r.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadPickle)
	}
	k, err := NewDecryptionKey(priv[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	if k.pub != pub {
		return nil, fmt.Errorf("%w: public key does not match private key", ErrBadPickle)
	}
	return k, nil
}
