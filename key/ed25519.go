package key

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

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

// Check reports whether k is a point on the curve and not of small order.
// Strict verification needs this once per key; [Verifier] caches it.
func (k Ed25519) Check() error {
	if isSmallOrderOrInvalid(k[:]) {
		return ErrWeakKey
	}
	return nil
}

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

// Verifier verifies signatures strictly under one public key whose
// validity was checked once, when the Verifier was made. Use it where one
// key verifies many messages (a Megolm session's signing key). The zero
// Verifier rejects every signature. It is safe for concurrent use.
type Verifier struct {
	pub   Ed25519
	valid bool
}

// NewVerifier returns a Verifier for k, or [ErrWeakKey] if k encodes a
// point of small order. It costs no point decompression: a k that is not a
// point at all passes here and then fails every Verify with
// [ErrBadSignature] (use [Ed25519.Check] to tell the two apart up front).
func NewVerifier(k Ed25519) (Verifier, error) {
	if isSmallOrderEncoding(k[:]) {
		return Verifier{}, ErrWeakKey
	}
	return Verifier{pub: k, valid: true}, nil
}

// Key returns the public key v verifies for.
func (v Verifier) Key() Ed25519 { return v.pub }

// Verify verifies sig over msg strictly. See [Ed25519.Verify].
func (v Verifier) Verify(msg []byte, sig Ed25519Signature) error {
	if !v.valid {
		return ErrWeakKey
	}
	// crypto/ed25519 rejects S ≥ ℓ and compares R with the canonical
	// encoding of the point it recomputes, so a non-canonical R never
	// verifies; what it lets through is R equal to the canonical encoding
	// of a small-order point (and small-order public keys, refused when v
	// was made).
	if isSmallOrderEncoding(sig[:32]) || !ed25519.Verify(v.pub[:], msg, sig[:]) {
		return ErrBadSignature
	}
	return nil
}

// isSmallOrderOrInvalid reports whether b does not decode to a point, or
// decodes to one of the eight points of small order (cofactor times the
// point is the identity).
func isSmallOrderOrInvalid(b []byte) bool {
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return true
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
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
// computed once, when the key is made.
//
// A SigningKey is secret. Printing it with fmt shows only the public key.
// It is safe for concurrent use.
type SigningKey struct {
	std    ed25519.PrivateKey // seed ‖ public, when the seed is known
	scalar edwards25519.Scalar
	prefix [32]byte
	clamp  [32]byte // the clamped scalar bytes as stored by libolm
	public Ed25519
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

// GenerateSigningKey reads a 32-byte seed from rand and returns its key.
func GenerateSigningKey(rand io.Reader) (*SigningKey, error) {
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
	h.Reset()
	h.Write(R)
	h.Write(k.public[:])
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
	if k.std == nil {
		return nil, false
	}
	return k.std.Seed(), true
}

// Expanded returns libolm's 64-byte expanded form (clamped scalar ‖
// prefix). The result is secret.
func (k *SigningKey) Expanded() [ExpandedSigningKeySize]byte {
	var out [ExpandedSigningKeySize]byte
	copy(out[:32], k.clamp[:])
	copy(out[32:], k.prefix[:])
	return out
}

// Equal reports in constant time whether k and other sign identically.
func (k *SigningKey) Equal(other *SigningKey) bool {
	a, b := k.Expanded(), other.Expanded()
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Format prints the public key only, for every verb. It has a value
// receiver so that a SigningKey value (not only a pointer) is redacted too.
func (k SigningKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "key.SigningKey{public: %s}", k.public)
}
