package megolm

import (
	"bytes"
	"fmt"
	"testing"

	"filippo.io/edwards25519"

	"github.com/sicher-go/sicher/key"
)

// TestCachedVerifierMatchesKeyVerify: a session keeps its signing key
// decoded (key.Verifier) once a message authenticated, and verifies every
// later message with that point. For each message and each strictness
// case of RFC 8032 §5.1.7 as key enforces it (S ≥ ℓ, R of small order in
// both sign encodings, R's sign bit, single bit flips in R, S and the
// signed bytes), the cached session must accept exactly what
// key.Ed25519.Verify accepts for the same bytes, and what a session
// without a cached point (freshly unpickled) accepts. The speccheck
// vectors hold key.Verifier itself to crypto/ed25519 (key package).
func TestCachedVerifierMatchesKeyVerify(t *testing.T) {
	out := newTestOutbound(t, 'C')
	pt := []byte("strict verification, cached")
	sk := out.SessionKey()
	first := out.Encrypt(nil, pt)
	cached, err := NewInboundSession(sk)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cached.Decrypt(nil, first); err != nil || cached.verifier == nil {
		t.Fatalf("first message: %v (verifier cached: %v)", err, cached.verifier != nil)
	}
	pickled, err := cached.PickleLibolm([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	signingKey := cached.SessionID()

	accepted, checked := 0, 0
	for range 4 {
		msg := out.Encrypt(nil, pt)
		for name, variant := range signatureVariants(t, msg) {
			var m Message
			if err := parseMessage(variant, &m); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := signingKey.Verify(m.signatureInput(), key.Ed25519Signature(m.signature())) == nil

			warm := cached.Clone()
			_, _, errCached := warm.Decrypt(nil, variant)
			fresh, err := UnpickleLibolmInboundSession([]byte("k"), pickled)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.verifier != nil {
				t.Fatal("an unpickled session already holds a decoded key")
			}
			_, _, errFresh := fresh.Decrypt(nil, variant)
			if (errCached == nil) != want || (errFresh == nil) != want {
				t.Errorf("%s: key.Verify accepts: %v; cached session: %v; fresh session: %v", name, want, errCached, errFresh)
			}
			checked++
			if want {
				accepted++
			}
		}
	}
	if accepted == 0 || accepted == checked {
		t.Fatalf("%d of %d variants verify: the cases do not discriminate", accepted, checked)
	}
}

// signatureVariants returns msg and copies of it with the Ed25519
// signature (its last 64 bytes: R ‖ S) or the signed bytes altered.
func signatureVariants(t *testing.T, msg []byte) map[string][]byte {
	t.Helper()
	sigAt := len(msg) - signatureSize
	with := func(f func(b []byte)) []byte {
		b := bytes.Clone(msg)
		f(b)
		return b
	}
	v := map[string][]byte{"original": msg}
	// S + ℓ: the same scalar, not canonical (S + ℓ < 2^253 for any S < ℓ).
	v["S+ℓ"] = with(func(b []byte) {
		s, err := edwards25519.NewScalar().SetCanonicalBytes(b[sigAt+32:])
		if err != nil {
			t.Fatal(err)
		}
		addL(b[sigAt+32:], s.Bytes())
	})
	for i, r := range smallOrderEncodings() {
		v[fmt.Sprintf("small-order R %d", i)] = with(func(b []byte) { copy(b[sigAt:sigAt+32], r[:]) })
	}
	// R with the other sign bit: the other point with R's y, or none.
	v["R sign bit"] = with(func(b []byte) { b[sigAt+31] ^= 0x80 })
	for _, i := range []int{0, 13, 31} {
		v[fmt.Sprintf("R byte %d", i)] = with(func(b []byte) { b[sigAt+i] ^= 1 })
		v[fmt.Sprintf("S byte %d", i)] = with(func(b []byte) { b[sigAt+32+i] ^= 1 })
	}
	v["signed byte"] = with(func(b []byte) { b[sigAt-1] ^= 1 })
	return v
}

// addL writes s + ℓ (little-endian, 32 bytes) into dst.
func addL(dst, s []byte) {
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}
	carry := 0
	for i := range 32 {
		sum := int(s[i]) + int(l[i]) + carry
		dst[i], carry = byte(sum), sum>>8
	}
}

// smallOrderEncodings returns encodings of points of small order: the
// identity, the point of order 2, the two of order 4 and the order-8
// points, canonical and with the other sign bit.
func smallOrderEncodings() [][32]byte {
	id := [32]byte{1}
	order2 := [32]byte{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	order4 := [32]byte{}
	order8 := [32]byte{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05}
	var out [][32]byte
	for _, p := range [][32]byte{id, order2, order4, order8} {
		q := p
		q[31] ^= 0x80
		out = append(out, p, q)
	}
	return out
}
