package key

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"filippo.io/edwards25519"

	"github.com/sicher-go/sicher/internal/cryptotest"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 8032 §7.1, TEST 1–3.
var rfc8032 = []struct{ secret, public, msg, sig string }{
	{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
}

func TestRFC8032(t *testing.T) {
	for i, v := range rfc8032 {
		seed, msg := unhex(v.secret), unhex(v.msg)
		want := Ed25519Signature(unhex(v.sig))
		pub := Ed25519(unhex(v.public))

		k, err := NewSigningKey(seed)
		if err != nil {
			t.Fatal(err)
		}
		if k.Public() != pub {
			t.Errorf("vector %d: public = %x", i+1, k.Public())
		}
		if got := k.Sign(msg); got != want {
			t.Errorf("vector %d: seed signature = %x", i+1, got)
		}
		// The same key known only in libolm's expanded form signs identically.
		exp := k.Expanded()
		h := sha512.Sum512(seed)
		h[0] &= 248
		h[31] &= 127
		h[31] |= 64
		if !bytes.Equal(exp[:], h[:]) {
			t.Errorf("vector %d: expanded form = %x, want clamped SHA-512(seed)", i+1, exp)
		}
		ek, err := NewExpandedSigningKey(exp[:])
		if err != nil {
			t.Fatal(err)
		}
		if ek.Public() != pub || ek.Sign(msg) != want {
			t.Errorf("vector %d: expanded key signs differently", i+1)
		}
		if _, ok := ek.Seed(); ok {
			t.Errorf("vector %d: expanded key reports a seed", i+1)
		}
		if s, ok := k.Seed(); !ok || !bytes.Equal(s, seed) {
			t.Errorf("vector %d: Seed = %x, %v", i+1, s, ok)
		}
		if k.Expanded() != ek.Expanded() {
			t.Errorf("vector %d: seed and expanded keys not Equal", i+1)
		}
		if err := pub.Verify(msg, want); err != nil {
			t.Errorf("vector %d: Verify = %v", i+1, err)
		}
		bad := want
		bad[63] ^= 0x10
		if err := pub.Verify(msg, bad); !errors.Is(err, ErrBadSignature) {
			t.Errorf("vector %d: Verify of a modified signature = %v", i+1, err)
		}
		if err := pub.Verify(append(msg, 0), want); !errors.Is(err, ErrBadSignature) {
			t.Errorf("vector %d: Verify of another message = %v", i+1, err)
		}
	}
}

// The eight points of small order (canonical encodings) and the
// non-canonical encodings of some of them. Sources: RFC 8032 discussion in
// "Taming the many EdDSAs" (Chalkias et al. 2020), Table 6c; libsodium's
// blocklist.
var smallOrderHex = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // non-canonical identity (p+1)
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // non-canonical order 4 (p)
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

// isSmallOrderOrInvalid reports, by the group law, whether b does not
// decode to a point or decodes to one of the eight points of small order
// (cofactor times the point is the identity). The tests hold the encoding
// list to it.
func isSmallOrderOrInvalid(b []byte) bool {
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return true
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}

// TestSmallOrderList checks the list used on the hot path against the group
// law: every listed string decodes to a small-order point or not at all,
// every small-order point's encoding is listed, and both sign bits of the
// y-coordinates near 0 and p are covered.
func TestSmallOrderList(t *testing.T) {
	for _, enc := range smallOrder {
		if !isSmallOrderOrInvalid(enc[:]) {
			t.Errorf("%x is listed but is a point of large order", enc)
		}
	}
	// Multiples of an order-8 point give all eight small-order points.
	p8, err := new(edwards25519.Point).SetBytes(smallOrder[6][:])
	if err != nil {
		t.Fatal(err)
	}
	q := edwards25519.NewIdentityPoint()
	for range 8 {
		if !isSmallOrderEncoding(q.Bytes()) {
			t.Errorf("small-order point %x is not listed", q.Bytes())
		}
		q.Add(q, p8)
	}
	// Every y below 32 or within 32 of p and 2^255, with both signs: the
	// list and the group law agree on which decode to small-order points.
	for _, base := range [][32]byte{{}, {0xed - 32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		for d := range 50 {
			for _, sign := range []byte{0, 0x80} {
				enc := base
				enc[0] += byte(d)
				enc[31] |= sign
				p, err := new(edwards25519.Point).SetBytes(enc[:])
				small := err == nil && new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
				if small != isSmallOrderEncoding(enc[:]) {
					t.Errorf("%x: small order %v, listed %v", enc, small, isSmallOrderEncoding(enc[:]))
				}
			}
		}
	}
}

func TestSmallOrderKeysRejected(t *testing.T) {
	for _, h := range smallOrderHex {
		pub := Ed25519(unhex(h))
		if err := checkKey(pub); !errors.Is(err, ErrWeakKey) {
			t.Errorf("Check(%s) = %v, want ErrWeakKey", h, err)
		}
		if _, err := NewVerifier(pub); !errors.Is(err, ErrWeakKey) {
			t.Errorf("NewVerifier(%s) = %v", h, err)
		}
		// R = the same point, S = 0: for the identity this verifies under
		// crypto/ed25519 for every message.
		var sig Ed25519Signature
		copy(sig[:], pub[:])
		if err := pub.Verify([]byte("any message"), sig); err == nil {
			t.Errorf("Verify with small-order key %s accepted", h)
		}
	}
	identity := Ed25519(unhex(smallOrderHex[0]))
	var sig Ed25519Signature
	sig[0] = 1
	if ed25519.Verify(identity[:], []byte("any message"), sig[:]) {
		t.Log("crypto/ed25519 accepts the identity key with R = identity, S = 0 (why strict verification exists)")
	}
	var zero Verifier
	if err := zero.Verify(nil, sig); !errors.Is(err, ErrWeakKey) {
		t.Errorf("zero Verifier accepted a signature: %v", err)
	}
}

// TestSmallOrderRRejected builds, for a valid key, a signature whose R is a
// small-order point and which crypto/ed25519 accepts (S = k·s with
// k = H(R ‖ A ‖ M)); strict verification must refuse it.
func TestSmallOrderRRejected(t *testing.T) {
	k, _ := NewSigningKey(unhex(rfc8032[0].secret))
	pub := k.Public()
	msg := []byte("message")
	for _, h := range smallOrderHex[:8] {
		R := unhex(h)
		if _, err := new(edwards25519.Point).SetBytes(R); err != nil {
			continue
		}
		d := sha512.New()
		d.Write(R)
		d.Write(pub[:])
		d.Write(msg)
		kh, _ := new(edwards25519.Scalar).SetUniformBytes(d.Sum(nil))
		S := new(edwards25519.Scalar).Multiply(kh, &k.scalar)
		var sig Ed25519Signature
		copy(sig[:32], R)
		copy(sig[32:], S.Bytes())
		stdAccepts := ed25519.Verify(pub[:], msg, sig[:])
		if err := pub.Verify(msg, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("R = %s: Verify = %v (crypto/ed25519 accepts: %v)", h, err, stdAccepts)
		}
	}
}

// TestNonCanonicalSRejected is the CVE-2024-45193 shape: S + ℓ must not
// verify.
func TestNonCanonicalSRejected(t *testing.T) {
	v := rfc8032[0]
	pub := Ed25519(unhex(v.public))
	sig := Ed25519Signature(unhex(v.sig))
	// ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
	l := unhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	var carry uint16
	for i := range 32 {
		s := uint16(sig[32+i]) + uint16(l[i]) + carry
		sig[32+i], carry = byte(s), s>>8
	}
	if err := pub.Verify(nil, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify accepted S + ℓ: %v", err)
	}
}

func TestX25519RFC7748(t *testing.T) {
	// RFC 7748 §6.1, also libolm tests/test_crypto.cpp.
	alice, _ := NewCurve25519PrivateKey(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	bob, _ := NewCurve25519PrivateKey(unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	alicePub, bobPub := Curve25519Public(alice), Curve25519Public(bob)
	if alicePub.String() != "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo" || bobPub.String() != "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08" {
		t.Fatalf("public keys = %s, %s", alicePub, bobPub)
	}
	want := unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
	s1, err1 := X25519(alice, bobPub)
	s2, err2 := X25519(bob, alicePub)
	if err1 != nil || err2 != nil || !bytes.Equal(s1[:], want) || s1 != s2 {
		t.Fatalf("shared = %x %v, %x %v", s1, err1, s2, err2)
	}
	k, err := GenerateCurve25519(bytes.NewReader(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))
	if err != nil || Curve25519Public(k) != alicePub {
		t.Fatalf("GenerateCurve25519 did not use the 32 bytes read: %v", err)
	}
	if _, err := GenerateCurve25519(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("GenerateCurve25519 succeeded on a short reader")
	}
	if _, err := NewCurve25519PrivateKey(make([]byte, 31)); err == nil {
		t.Fatal("NewCurve25519PrivateKey accepted 31 bytes")
	}
}

func TestX25519LowOrderRejected(t *testing.T) {
	// Low-order points and their non-canonical encodings below 2^255
	// (libsodium's blocklist, cr.yp.to/ecdh.html#validate). The blocklist's
	// entries with the top bit set are not low order under RFC 7748, which
	// masks that bit, so X25519 rightly computes a contributory result.
	lowOrder := []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	}
	priv, _ := NewCurve25519PrivateKey(bytes.Repeat([]byte{0x42}, 32))
	for _, h := range lowOrder {
		if s, err := X25519(priv, Curve25519(unhex(h))); !errors.Is(err, ErrNonContributory) || s != [32]byte{} {
			t.Errorf("X25519 with %s = %x, %v; want ErrNonContributory", h, s, err)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	good := "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo"
	if _, err := ParseCurve25519(good); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCurve25519(good + "="); err != nil {
		t.Fatalf("padded key rejected: %v", err)
	}
	for _, s := range []string{"", good[:42], good + "A", good + "==", "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo",
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp", // non-zero trailing bits
		"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm!", strings.Repeat("A", 1<<20)} {
		if k, err := ParseCurve25519(s); !errors.Is(err, ErrMalformed) || k != (Curve25519{}) {
			t.Errorf("ParseCurve25519(%.50q) = %v, %v", s, k, err)
		}
		if _, err := ParseEd25519(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEd25519(%.50q) = %v", s, err)
		}
	}
	sig := Ed25519Signature(unhex(rfc8032[0].sig))
	if got, err := ParseEd25519Signature(sig.String()); err != nil || got != sig {
		t.Fatalf("signature round trip: %v", err)
	}
	if _, err := ParseEd25519Signature(sig.String()[:85]); err == nil {
		t.Fatal("85-character signature accepted")
	}
}

func TestKeyID(t *testing.T) {
	// libolm: the first key id is 1, published as "AAAAAQ"; 42 is "AAAAKg".
	for id, s := range map[KeyID]string{1: "AAAAAQ", 42: "AAAAKg", 0xffffffff: "/////w"} {
		if id.String() != s {
			t.Errorf("KeyID(%d) = %s, want %s", id, id, s)
		}
		if got, err := ParseKeyID(s); err != nil || got != id {
			t.Errorf("ParseKeyID(%s) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "AAAA", "AAAAAAA", "AAAAAAAAAAA", "AAAA!Q"} {
		if _, err := ParseKeyID(s); err == nil {
			t.Errorf("ParseKeyID(%q) succeeded", s)
		}
	}
}

func TestJSON(t *testing.T) {
	type doc struct {
		C Curve25519       `json:"c"`
		E Ed25519          `json:"e"`
		S Ed25519Signature `json:"s"`
		I KeyID            `json:"i"`
	}
	in := doc{C: Curve25519{1}, E: Ed25519{2}, S: Ed25519Signature{3}, I: 7}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("JSON round trip: %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"c":"AAAA"}`), &out); err == nil {
		t.Fatal("short key accepted from JSON")
	}
}

// TestSigningKeyRedaction: a SigningKey prints, logs and marshals its
// public key only, never the seed or the expanded key.
func TestSigningKeyRedaction(t *testing.T) {
	seed := unhex(rfc8032[0].secret)
	k, _ := NewSigningKey(seed)
	exp := k.Expanded()
	for _, v := range []any{k, *k} {
		cryptotest.Redacted(t, v, seed, exp[:32], exp[32:])
		if out := fmt.Sprint(v); !strings.Contains(out, k.Public().String()) {
			t.Errorf("%T does not show its public key: %s", v, out)
		}
	}
}

func TestNewSigningKeyLengths(t *testing.T) {
	if _, err := NewSigningKey(make([]byte, 31)); err == nil {
		t.Error("31-byte seed accepted")
	}
	if _, err := NewExpandedSigningKey(make([]byte, 63)); err == nil {
		t.Error("63-byte expanded key accepted")
	}
	if _, err := GenerateSigningKey(bytes.NewReader(nil)); err == nil {
		t.Error("GenerateSigningKey with no randomness succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo")
	f.Add("AAAAAQ")
	f.Add(Ed25519Signature(unhex(rfc8032[0].sig)).String())
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseCurve25519(s); err == nil {
			if k2, err := ParseCurve25519(k.String()); err != nil || k2 != k {
				t.Fatalf("Curve25519 %q does not round-trip", s)
			}
		}
		if k, err := ParseEd25519(s); err == nil {
			_ = checkKey(k)
			if k2, err := ParseEd25519(k.String()); err != nil || k2 != k {
				t.Fatalf("Ed25519 %q does not round-trip", s)
			}
		}
		if sig, err := ParseEd25519Signature(s); err == nil {
			_ = Ed25519(unhex(rfc8032[0].public)).Verify(nil, sig)
		}
		if id, err := ParseKeyID(s); err == nil && id.String() != strings.TrimRight(s, "=") {
			t.Fatalf("KeyID %q re-encodes to %q", s, id)
		}
	})
}

func TestVerifierNonPointKey(t *testing.T) {
	var k Ed25519
	for y := byte(2); ; y++ {
		k[0] = y
		if _, err := new(edwards25519.Point).SetBytes(k[:]); err != nil {
			break
		}
	}
	if err := checkKey(k); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("Check of a non-point: %v", err)
	}
	if v, err := NewVerifier(k); !errors.Is(err, ErrWeakKey) || v.valid {
		t.Fatalf("NewVerifier of a non-point: %v", err)
	}
	if err := k.Verify([]byte("m"), Ed25519Signature{2}); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("Ed25519.Verify under a non-point key: %v", err)
	}
	var zero Verifier
	if err := zero.Verify([]byte("m"), Ed25519Signature{2}); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("zero Verifier: %v", err)
	}
}

// TestVerifierMatchesStd holds Verifier.Verify, which owns the verification
// equation so that it can keep the decoded key, to crypto/ed25519 on valid
// signatures and on every single-bit corruption of key, message and
// signature: the two must agree except where the small-order rules refuse.
func TestVerifierMatchesStd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var seed [32]byte
	keys := 40
	if testing.Short() {
		keys = 4 // the race detector makes each verification ~10 times slower
	}
	for i := range keys {
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		sk, err := NewSigningKey(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, i*7)
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		pub, sig := sk.Public(), sk.Sign(msg)
		check := func(what string, pub Ed25519, msg []byte, sig Ed25519Signature) {
			t.Helper()
			want := ed25519.Verify(pub[:], msg, sig[:]) && !isSmallOrderOrInvalid(pub[:]) && !isSmallOrderEncoding(sig[:32])
			err := pub.Verify(msg, sig)
			if (err == nil) != want {
				t.Fatalf("%s: Verify = %v, want accepted = %v", what, err, want)
			}
			if v, verr := NewVerifier(pub); verr == nil {
				if err2 := v.Verify(msg, sig); (err2 == nil) != want {
					t.Fatalf("%s: Verifier.Verify = %v, want accepted = %v", what, err2, want)
				}
			} else if !errors.Is(verr, ErrWeakKey) || !isSmallOrderOrInvalid(pub[:]) {
				t.Fatalf("%s: NewVerifier = %v for a key of large order", what, verr)
			}
		}
		check("valid", pub, msg, sig)
		for bit := range 256 {
			p := pub
			p[bit/8] ^= 1 << (bit % 8)
			check("key bit", p, msg, sig)
		}
		for bit := range 512 {
			s := sig
			s[bit/8] ^= 1 << (bit % 8)
			check("signature bit", pub, msg, s)
		}
		if len(msg) > 0 {
			m := bytes.Clone(msg)
			m[rng.IntN(len(m))] ^= 1 << rng.IntN(8)
			check("message bit", pub, m, sig)
		}
	}
}

// checkKey is what the removed Ed25519.Check did: NewVerifier's verdict.
func checkKey(k Ed25519) error {
	_, err := NewVerifier(k)
	return err
}

func TestNewSigningKeyWithPublic(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, SigningKeySeedSize)
	k, err := NewSigningKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	exp := k.Expanded()
	for _, priv := range [][]byte{seed, exp[:]} {
		k2, err := NewSigningKeyWithPublic(priv, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if k2.Public() != k.Public() || k2.Sign([]byte("m")) != k.Sign([]byte("m")) {
			t.Fatalf("%d-byte key: another key", len(priv))
		}
	}
	if _, err := NewSigningKeyWithPublic(seed[:31], k.Public()); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
}

// TestNewSigningKeyWithWrongPublic: a stored public key that is not the
// private key's never reaches the signature hash (signatures of one
// message under two public keys would reveal the scalar): signatures stay
// the private key's own, and do not verify under the wrong key.
func TestNewSigningKeyWithWrongPublic(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, SigningKeySeedSize)
	k, _ := NewSigningKey(seed)
	wrong := k.Public()
	wrong[0] ^= 1
	exp := k.Expanded()
	for _, priv := range [][]byte{seed, exp[:]} {
		k2, err := NewSigningKeyWithPublic(priv, wrong)
		if err != nil {
			t.Fatal(err)
		}
		if k2.Public() != wrong {
			t.Fatal("the given public key is not reported")
		}
		if k2.Sign([]byte("m")) != k.Sign([]byte("m")) {
			t.Fatalf("%d-byte key: the signature hashed the stored public key", len(priv))
		}
	}
}
