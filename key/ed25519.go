package key

import (
	"bytes"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"filippo.io/edwards25519"
)

var (
	// ErrBadSignature is returned when an Ed25519 signature does not verify.
	ErrBadSignature = errors.New("key: Ed25519 signature does not verify")
	// ErrWeakKey is returned for an Ed25519 public key that is not a point
	// on the curve or has small order: no signature made with it can be
	// trusted, so strict verification refuses it outright.
	ErrWeakKey = errors.New("key: Ed25519 public key is invalid or of small order")
)

// SmallOrder reports whether k encodes a point of small order (one of the
// encodings [NewVerifier] refuses without decoding). It is a cheap first
// check for keys that are stored now and verified with later; a key that is
// no point at all passes it, and NewVerifier refuses it.
func (k Ed25519) SmallOrder() bool { return isSmallOrderEncoding(k[:]) }

// Verify verifies sig over msg strictly: S must be canonical (S < ℓ), and
// neither the public key nor R may be of small order. It returns nil,
// [ErrWeakKey] or [ErrBadSignature]. To verify many messages under one key,
// use a [Verifier].
func (k Ed25519) Verify(msg []byte, sig Ed25519Signature) error {
	v, err := NewVerifier(k)
	if err != nil {
		return err
	}
	return v.Verify(msg, sig)
}

// Verifier verifies signatures strictly under one public key, checked and
// decoded once, when the Verifier was made. Use it where one key verifies
// many messages (a Megolm session's signing key): each Verify then skips the
// point decompression that crypto/ed25519 does for every call. The zero
// Verifier rejects every signature. It is safe for concurrent use.
type Verifier struct {
	pub    Ed25519
	minusA edwards25519.Point // −A, the decoded public key negated
	valid  bool
}

// NewVerifier returns a Verifier for k, or [ErrWeakKey] if k is not a point
// on the curve or is of small order.
func NewVerifier(k Ed25519) (Verifier, error) {
	// A small-order key is refused by its encoding (the list covers the
	// non-canonical encodings too), an off-curve one by SetBytes.
	var v Verifier
	if isSmallOrderEncoding(k[:]) {
		return Verifier{}, ErrWeakKey
	}
	if _, err := v.minusA.SetBytes(k[:]); err != nil {
		return Verifier{}, ErrWeakKey
	}
	v.minusA.Negate(&v.minusA)
	v.pub, v.valid = k, true
	return v, nil
}

// Verify verifies sig over msg strictly. See [Ed25519.Verify].
//
// The equation is RFC 8032 §5.1.7's cofactorless one, as crypto/ed25519
// checks it: with k = SHA-512(R ‖ A ‖ msg) mod ℓ, the encoding of
// [S]B − [k]A must equal R byte for byte, so a non-canonical R never
// verifies. What that equation lets through, R equal to the canonical
// encoding of a small-order point, is refused first, and S ≥ ℓ is refused
// by SetCanonicalBytes. TestVerifierMatchesStd checks every decision
// against crypto/ed25519 (plus the small-order rules).
func (v *Verifier) Verify(msg []byte, sig Ed25519Signature) error {
	if !v.valid {
		return ErrWeakKey
	}
	if isSmallOrderEncoding(sig[:32]) {
		return ErrBadSignature
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return ErrBadSignature
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(v.pub[:])
	h.Write(msg)
	var digest [sha512.Size]byte
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		panic("key: internal error: SHA-512 output is not 64 bytes")
	}
	var r edwards25519.Point
	r.VarTimeDoubleScalarBaseMult(k, &v.minusA, s)
	// R and the signature are public: no constant-time comparison needed.
	if [32]byte(r.Bytes()) != [32]byte(sig[:32]) {
		return ErrBadSignature
	}
	return nil
}

// smallOrder lists every 32-byte string that edwards25519 decodes to a
// point of small order: the y-coordinates 1 (identity), −1 (order 2),
// 0 (order 4) and ±y₈ (order 8), the non-canonical y+p of the two below 19
// (0 and 1), each with both sign bits. Comparing with the list costs
// nothing next to decompressing a point; TestSmallOrderList checks it
// against the group law.
var smallOrder = [14][32]byte{
	{0x01},
	{0x01, 31: 0x80},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{},
	{31: 0x80},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0xfa},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x85},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
}

// isSmallOrderEncoding reports whether b is one of the encodings in
// smallOrder. Public keys and R values are public: no constant time needed.
func isSmallOrderEncoding(b []byte) bool {
	for i := range smallOrder {
		if [32]byte(b) == smallOrder[i] {
			return true
		}
	}
	return false
}

// SigningKey is an Ed25519 private key. It holds either a 32-byte seed (what
// RFC 8032 and crypto/ed25519 call the private key) or only libolm's 64-byte
// expanded form (clamped scalar ‖ prefix, what libolm pickles store), and
// signs with either; signatures from a seed equal crypto/ed25519's, and
// signatures from an expanded key equal libolm's. The public key is
// computed once, when the key is made, and Sign hashes that computed key,
// never a stored one (hashing a public key supplied from outside is the
// known way to leak an Ed25519 scalar).
//
// A SigningKey is secret. Printing it with fmt shows only the public key.
// It is safe for concurrent use.
type SigningKey struct {
	std    ed25519.PrivateKey // seed ‖ public, when the seed is known
	scalar edwards25519.Scalar
	prefix [32]byte
	clamp  [32]byte // the clamped scalar bytes as stored by libolm
	public Ed25519
	// signer, set only by NewSigningKeyWithPublic, is the key derived from
	// the private half on the first Sign: public was taken as stored, and
	// Sign must hash a computed public key.
	signer *lazySigner
}

// lazySigner derives a SigningKey from the private half once.
type lazySigner struct {
	once sync.Once
	key  *SigningKey
	priv []byte // seed or expanded key, cleared once derived
}

func (l *lazySigner) get() *SigningKey {
	l.once.Do(func() {
		if len(l.priv) == SigningKeySeedSize {
			l.key, _ = NewSigningKey(l.priv)
		} else {
			l.key, _ = NewExpandedSigningKey(l.priv)
		}
		clear(l.priv)
		l.priv = nil
	})
	return l.key
}

// SigningKeySeedSize is the size of an Ed25519 seed.
const SigningKeySeedSize = ed25519.SeedSize

// ExpandedSigningKeySize is the size of libolm's expanded Ed25519 key.
const ExpandedSigningKeySize = 64

// NewSigningKey returns the signing key for a 32-byte seed.
func NewSigningKey(seed []byte) (*SigningKey, error) {
	if len(seed) != SigningKeySeedSize {
		return nil, fmt.Errorf("key: Ed25519 seed is %d bytes, want %d", len(seed), SigningKeySeedSize)
	}
	k := &SigningKey{std: ed25519.NewKeyFromSeed(seed)}
	h := sha512.Sum512(seed)
	k.setExpanded(h[:32], h[32:])
	clear(h[:])
	copy(k.public[:], k.std[32:])
	return k, nil
}

// GenerateSigningKey reads a 32-byte seed from rand (nil means
// crypto/rand) and returns its key. A failing reader gives an error that
// wraps the reader's error.
func GenerateSigningKey(rand io.Reader) (*SigningKey, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	var seed [SigningKeySeedSize]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("key: reading randomness: %w", err)
	}
	defer clear(seed[:])
	return NewSigningKey(seed[:])
}

// NewExpandedSigningKey returns the signing key for libolm's 64-byte
// expanded form: the clamped secret scalar followed by the 32-byte prefix
// that makes signatures deterministic. Such a key cannot report a seed.
func NewExpandedSigningKey(expanded []byte) (*SigningKey, error) {
	if len(expanded) != ExpandedSigningKeySize {
		return nil, fmt.Errorf("key: expanded Ed25519 key is %d bytes, want %d", len(expanded), ExpandedSigningKeySize)
	}
	k := new(SigningKey)
	k.setExpanded(expanded[:32], expanded[32:])
	copy(k.public[:], new(edwards25519.Point).ScalarBaseMult(&k.scalar).Bytes())
	return k, nil
}

// NewSigningKeyWithPublic makes a signing key from a 32-byte seed or a
// 64-byte expanded key and its public key, without computing the public
// key at once (a scalar multiplication): Public returns public as given.
// It is for keys read back from authenticated storage that sicher wrote,
// such as its own pickles. Sign still hashes the public key computed from
// the private half (once, on the first signature), so a wrong public key
// makes signatures fail to verify and never exposes the private key.
func NewSigningKeyWithPublic(priv []byte, public Ed25519) (*SigningKey, error) {
	k := new(SigningKey)
	switch len(priv) {
	case SigningKeySeedSize:
		std := make(ed25519.PrivateKey, ed25519.PrivateKeySize)
		copy(std, priv)
		copy(std[SigningKeySeedSize:], public[:])
		k.std = std // for Seed; never used to sign (see Sign)
		h := sha512.Sum512(priv)
		k.setExpanded(h[:32], h[32:])
		clear(h[:])
	case ExpandedSigningKeySize:
		k.setExpanded(priv[:32], priv[32:])
	default:
		return nil, fmt.Errorf("key: Ed25519 private key is %d bytes, want %d or %d", len(priv), SigningKeySeedSize, ExpandedSigningKeySize)
	}
	k.public = public
	k.signer = &lazySigner{priv: bytes.Clone(priv)}
	return k, nil
}

func (k *SigningKey) setExpanded(scalar, prefix []byte) {
	copy(k.clamp[:], scalar)
	// libolm stores the scalar already clamped; clamping is idempotent, and
	// SetBytesWithClamping reduces it modulo ℓ as RFC 8032 signing does.
	k.clamp[0] &= 248
	k.clamp[31] &= 127
	k.clamp[31] |= 64
	if _, err := k.scalar.SetBytesWithClamping(k.clamp[:]); err != nil {
		panic("key: internal error: " + err.Error())
	}
	copy(k.prefix[:], prefix)
}

// Public returns the public key.
func (k *SigningKey) Public() Ed25519 { return k.public }

// Sign signs msg (pure Ed25519, RFC 8032 §5.1.6).
func (k *SigningKey) Sign(msg []byte) Ed25519Signature {
	if k.signer != nil {
		return k.signer.get().Sign(msg)
	}
	var sig Ed25519Signature
	if k.std != nil {
		copy(sig[:], ed25519.Sign(k.std, msg))
		return sig
	}
	// RFC 8032 §5.1.6 from the expanded key: r = H(prefix ‖ M),
	// R = rB, k = H(R ‖ A ‖ M), S = r + k·s mod ℓ.
	h := sha512.New()
	h.Write(k.prefix[:])
	h.Write(msg)
	var digest [64]byte
	r, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		panic("key: internal error: " + err.Error())
	}
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	pub := k.public
	h.Reset()
	h.Write(R)
	h.Write(pub[:])
	h.Write(msg)
	kh, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		panic("key: internal error: " + err.Error())
	}
	S := new(edwards25519.Scalar).MultiplyAdd(kh, &k.scalar, r)
	copy(sig[:32], R)
	copy(sig[32:], S.Bytes())
	return sig
}

// Seed returns a copy of the 32-byte seed, or false for a key known only in
// libolm's expanded form. The copy is secret and the caller's to wipe.
func (k *SigningKey) Seed() ([]byte, bool) {
	if k.std != nil {
		return k.std.Seed(), true
	}
	return nil, false
}

// Expanded returns libolm's 64-byte expanded form (clamped scalar ‖
// prefix). The result is secret.
func (k *SigningKey) Expanded() [ExpandedSigningKeySize]byte {
	var out [ExpandedSigningKeySize]byte
	copy(out[:32], k.clamp[:])
	copy(out[32:], k.prefix[:])
	return out
}

// Format prints the public key only, for every verb. It has a value
// receiver so that a SigningKey value (not only a pointer) is redacted too.
func (k SigningKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "key.SigningKey{public: %s}", k.public)
}

// LogValue implements slog.LogValuer: the public key only.
func (k SigningKey) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("key.SigningKey{public: %s}", k.public))
}
