package olm

// Dehydrated devices (MSC3814, open): an Account stored encrypted on the
// server so that it can receive Olm messages while the user has no device
// logged in, and be rehydrated on the next login. The format is the one
// vodozemac's Account::to_dehydrated_device and from_dehydrated_device
// implement (vodozemac src/olm/account/mod.rs and
// src/olm/account/dehydrated_device.rs; MSC3814,
// https://github.com/matrix-org/matrix-spec-proposals/pull/3814).

import (
	cryptorand "crypto/rand"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// Dehydrated-device algorithm names for device_data.algorithm. sicher
// writes the unstable name while MSC3814 is open and accepts both.
const (
	dehydratedDeviceAlgorithm       = "org.matrix.msc3814.v2"
	dehydratedDeviceAlgorithmStable = "m.dehydration.v2"
)

// dehydratedVersion is the version of the plaintext.
const dehydratedVersion = 1

// DehydratedDevice is the device_data object of a dehydrated device: the
// encrypted account (ChaCha20-Poly1305, RFC 8439) and its nonce, both
// unpadded base64. It is public (only the key opens it).
type DehydratedDevice struct {
	Algorithm    string `json:"algorithm"`
	DevicePickle string `json:"device_pickle"`
	Nonce        string `json:"nonce"`
}

// Dehydrate encrypts the account for MSC3814 under dkey (32 random bytes,
// kept in secret storage as "org.matrix.msc3814", later
// "m.dehydrated_device"), with a random 12-byte nonce from crypto/rand.
// The algorithm written is "org.matrix.msc3814.v2". The plaintext is vodozemac's:
//
//	u32 version 1 ‖ Curve25519 private (32) ‖ Ed25519 seed (32)
//	‖ u32 n ‖ n one-time private keys (32 each) ‖ u8 has fallback ‖ [fallback private (32)]
//
// It holds every one-time key (published or not) and the current fallback
// key; the previous fallback key, key ids and published flags are not
// stored. The account should be a fresh one made for the dehydrated
// device (sessions are never part of an account). It fails with
// an error wrapping ErrBadPickle for an account imported from libolm (it
// has only libolm's expanded Ed25519 key; create a fresh account for the
// dehydrated device). The account is
// not changed. MSC3814 makes the device ID the unpadded base64 of the
// Curve25519 identity key (Account.Curve25519().String()); the device keys
// uploaded with it carry "dehydrated": true and must be cross-signed.
func (a *Account) Dehydrate(dkey *[32]byte) (*DehydratedDevice, error) {
	return a.dehydrateFrom(nil, dkey)
}

// dehydrateFrom is Dehydrate with the nonce read from rand (nil means
// crypto/rand), for tests.
func (a *Account) dehydrateFrom(rand io.Reader, dkey *[32]byte) (*DehydratedDevice, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	seed, ok := a.signing.Seed()
	if !ok {
		return nil, fmt.Errorf("%w: an account imported from libolm has no Ed25519 seed and cannot be dehydrated", ErrBadPickle)
	}
	defer clear(seed)
	var nonce [chacha20poly1305.NonceSize]byte
	if _, err := io.ReadFull(rand, nonce[:]); err != nil {
		return nil, fmt.Errorf("olm: reading randomness: %w", err)
	}
	n := len(a.otks)
	b := wire.NewBuilder(make([]byte, 0, 4+32+32+4+32*n+1+32+chacha20poly1305.Overhead))
	b.AddUint32(dehydratedVersion)
	b.AddBytes(a.identity.priv[:])
	b.AddBytes(seed)
	b.AddUint32(uint32(n))
	for i := range a.otks {
		b.AddBytes(a.otks[i].priv[:])
	}
	b.AddBool(a.fallback != nil)
	if a.fallback != nil {
		b.AddBytes(a.fallback.priv[:])
	}
	pt := b.Bytes()
	defer clear(pt)
	aead, err := chacha20poly1305.New(dkey[:])
	if err != nil {
		panic("olm: internal error: " + err.Error())
	}
	ct := aead.Seal(nil, nonce[:], pt, nil)
	return &DehydratedDevice{
		Algorithm:    dehydratedDeviceAlgorithm,
		DevicePickle: b64.Encode(ct),
		Nonce:        b64.Encode(nonce[:]),
	}, nil
}

// Rehydrate decrypts a dehydrated device with key and returns its account.
// As in vodozemac, the one-time keys get ids 0..n-1 and, like the fallback
// key (id n), are marked published: they were published by the client that
// dehydrated the device. An empty Algorithm is accepted (callers that keep
// only the pickle and nonce); any other must be "org.matrix.msc3814.v2" or
// "m.dehydration.v2". Every error wraps ErrBadPickle;
// nothing is returned on error.
func Rehydrate(dkey *[32]byte, d *DehydratedDevice) (*Account, error) {
	bad := func(format string, args ...any) (*Account, error) {
		return nil, fmt.Errorf("%w: dehydrated device: "+format, append([]any{ErrBadPickle}, args...)...)
	}
	if d == nil {
		return bad("no device data")
	}
	switch d.Algorithm {
	case "", dehydratedDeviceAlgorithm, dehydratedDeviceAlgorithmStable:
	default:
		return bad("unsupported algorithm %q", d.Algorithm)
	}
	var nonce [chacha20poly1305.NonceSize]byte
	if err := b64.DecodeInto(nonce[:], d.Nonce); err != nil {
		return bad("nonce is not 12 bytes of base64")
	}
	if len(d.DevicePickle) > b64.EncodedLen(maxDehydratedSize)+2 {
		return bad("device_pickle too long")
	}
	ct, err := b64.Decode(d.DevicePickle)
	if err != nil {
		return bad("device_pickle is not base64")
	}
	aead, err := chacha20poly1305.New(dkey[:])
	if err != nil {
		panic("olm: internal error: " + err.Error())
	}
	pt, err := aead.Open(ct[:0], nonce[:], ct, nil)
	if err != nil {
		return bad("decryption failed (wrong key or corrupted data)")
	}
	defer clear(pt)
	return parseDehydrated(pt)
}

// maxDehydratedSize bounds the plaintext of a dehydrated device: the
// fixed fields and MaxOneTimeKeys one-time keys.
const maxDehydratedSize = 4 + 32 + 32 + 4 + 32*MaxOneTimeKeys + 1 + 32 + chacha20poly1305.Overhead

func parseDehydrated(pt []byte) (*Account, error) {
	bad := func(what string) (*Account, error) {
		return nil, fmt.Errorf("%w: dehydrated device: %s", ErrBadPickle, what)
	}
	rd := wire.Reader(pt)
	var version, n uint32
	var priv, seed []byte
	if !rd.ReadUint32(&version) {
		return bad("missing version")
	}
	if version != dehydratedVersion {
		return bad(fmt.Sprintf("unsupported version %d", version))
	}
	if !rd.ReadBytes(&priv, 32) || !rd.ReadBytes(&seed, key.SigningKeySeedSize) || !rd.ReadUint32(&n) {
		return bad("truncated")
	}
	if n > MaxOneTimeKeys || uint64(n)*32 > uint64(rd.Len()) {
		return bad(fmt.Sprintf("%d one-time keys", n))
	}
	a := new(Account)
	var err error
	if a.signing, err = key.NewSigningKey(seed); err != nil {
		return bad(err.Error())
	}
	copy(a.identity.priv[:], priv)
	if err := a.identity.derive(); err != nil {
		return bad(err.Error())
	}
	a.otks = make([]oneTimeKey, n)
	for i := range a.otks {
		k := &a.otks[i]
		if !rd.CopyBytes(k.priv[:]) {
			return bad("truncated one-time key")
		}
		k.id, k.published = key.KeyID(i), true
		if err := k.derive(); err != nil {
			return bad(err.Error())
		}
	}
	if n > 0 {
		a.lastID = n - 1
	}
	var hasFallback bool
	if !rd.ReadBool(&hasFallback) {
		return bad("missing fallback key flag")
	}
	if hasFallback {
		k := &oneTimeKey{id: key.KeyID(n), published: true}
		if !rd.CopyBytes(k.priv[:]) {
			return bad("truncated fallback key")
		}
		if err := k.derive(); err != nil {
			return bad(err.Error())
		}
		a.fallback = k
		a.lastID = n
	}
	if !rd.Empty() {
		return bad(fmt.Sprintf("%d trailing bytes", rd.Len()))
	}
	return a, nil
}
