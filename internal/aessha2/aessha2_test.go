package aessha2

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestHKDFRFC5869Case1 checks the HKDF underneath Derive. Source: RFC 5869
// Appendix A.1 (test case 1), also in libolm tests/test_crypto.cpp.
func TestHKDFRFC5869Case1(t *testing.T) {
	ikm := unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
	salt := unhex("000102030405060708090a0b0c")
	info := string(unhex("f0f1f2f3f4f5f6f7f8f9"))
	want := unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
	got := hkdfSHA256(ikm, salt, info, 42)
	if !bytes.Equal(got, want) {
		t.Fatalf("HKDF = %x, want %x", got, want)
	}
}

// TestDeriveSplit checks that Derive uses a zero salt and splits the 80
// bytes as AES key, MAC key, IV.
func TestDeriveSplit(t *testing.T) {
	secret := []byte("secret_key")
	okm := hkdfSHA256(secret, make([]byte, 32), InfoPickle, 80)
	k := Derive(secret, InfoPickle)
	if !bytes.Equal(k.aesKey[:], okm[:32]) || !bytes.Equal(k.macKey[:], okm[32:64]) || !bytes.Equal(k.iv[:], okm[64:]) {
		t.Fatal("Derive split differs from HKDF output with a zero salt")
	}
}

// TestAESCBCZeroBlock: source libolm tests/test_crypto.cpp "AES-256-CBC":
// key and IV all zero, 16 zero bytes of plaintext. libolm pads the full
// block, so the ciphertext is 32 bytes.
func TestAESCBCZeroBlock(t *testing.T) {
	var k Keys
	want := unhex("dc95c078a2408989ad48a21492842087 f3c003ddc4a7b8a94baedffc3d214c38")
	ct := k.Encrypt(nil, make([]byte, 16))
	if !bytes.Equal(ct, want) {
		t.Fatalf("ciphertext = %x, want %x", ct, want)
	}
	pt, err := k.decrypt(nil, ct)
	if err != nil || !bytes.Equal(pt, make([]byte, 16)) {
		t.Fatalf("Decrypt = %x, %v", pt, err)
	}
}

// TestHMACEmpty: source libolm tests/test_crypto.cpp: HMAC-SHA-256 with an
// empty key over the empty message.
func TestHMACEmpty(t *testing.T) {
	want := unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
	var k Keys // the MAC key is all zero, which HMAC treats like the empty key
	mac := k.MAC(nil)
	if !bytes.Equal(mac[:], want) {
		t.Fatalf("HMAC = %x, want %x", mac, want)
	}
}

func TestVerifyTagLengths(t *testing.T) {
	k := Derive([]byte("k"), InfoOlm)
	msg := []byte("message")
	mac := k.MAC(msg)
	for n := 0; n <= 33; n++ {
		var tag []byte
		if n <= 32 {
			tag = mac[:n]
		} else {
			tag = append(mac[:], 0)
		}
		want := n >= TagSize && n <= 32
		if got := k.verify(msg, tag); got != want {
			t.Errorf("Verify with a %d-byte tag = %v, want %v", n, got, want)
		}
	}
	tag := k.AppendTag(nil, msg)
	for i := range tag {
		bad := bytes.Clone(tag)
		bad[i] ^= 1
		if k.verify(msg, bad) {
			t.Errorf("Verify accepted a tag with byte %d flipped", i)
		}
	}
	if k.verify(append(msg, 0), tag) {
		t.Error("Verify accepted a tag for a longer message")
	}
}

func TestRoundTripAndAppend(t *testing.T) {
	k := Derive([]byte("secret"), InfoMegolm)
	for n := 0; n < 70; n++ {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		prefix := []byte("prefix")
		ct := k.Encrypt(bytes.Clone(prefix), pt)
		if !bytes.HasPrefix(ct, prefix) || len(ct)-len(prefix) != CiphertextLen(n) {
			t.Fatalf("n=%d: Encrypt did not append %d bytes", n, CiphertextLen(n))
		}
		body := bytes.Clone(ct[len(prefix):])
		got, err := k.decrypt(bytes.Clone(prefix), body)
		if err != nil || !bytes.Equal(got[len(prefix):], pt) || !bytes.HasPrefix(got, prefix) {
			t.Fatalf("n=%d: Decrypt = %x, %v", n, got, err)
		}
		if !bytes.Equal(body, ct[len(prefix):]) {
			t.Fatalf("n=%d: Decrypt modified its input", n)
		}
	}
}

func TestDecryptBadPadding(t *testing.T) {
	k := Derive([]byte("secret"), InfoOlm)
	if _, err := k.decrypt(nil, nil); err != ErrBadPadding {
		t.Errorf("empty ciphertext: %v", err)
	}
	if _, err := k.decrypt(nil, make([]byte, 15)); err != ErrBadPadding {
		t.Errorf("15-byte ciphertext: %v", err)
	}
	// Encrypt raw blocks with chosen "padding" and check each is rejected.
	for _, last := range [][]byte{
		append(bytes.Repeat([]byte{'a'}, 15), 0),       // pad 0
		append(bytes.Repeat([]byte{'a'}, 15), 17),      // pad > 16
		append(bytes.Repeat([]byte{'a'}, 14), 3, 2),    // inconsistent
		append(bytes.Repeat([]byte{'a'}, 13), 2, 3, 3), // inconsistent
	} {
		ct := k.Encrypt(nil, last)[:16] // first block encrypts exactly `last`
		if pt, err := k.decrypt(nil, ct); err != ErrBadPadding || pt != nil {
			t.Errorf("padding %x: Decrypt = %x, %v", last[13:], pt, err)
		}
	}
}

// TestRedaction: fmt, log/slog and encoding/json never show the derived
// keys or IV.
func TestRedaction(t *testing.T) {
	k := Derive([]byte("secret"), InfoOlm)
	for _, v := range []any{k, &k} {
		cryptotest.Redacted(t, v, k.aesKey[:], k.macKey[:], k.iv[:])
	}
}

func hkdfSHA256(ikm, salt []byte, info string, n int) []byte {
	if salt == nil {
		salt = make([]byte, sha256.Size)
	}
	prk := hmac.New(sha256.New, salt)
	prk.Write(ikm)
	key := prk.Sum(nil)
	var out, prev []byte
	for i := byte(1); len(out) < n; i++ {
		h := hmac.New(sha256.New, key)
		h.Write(prev)
		h.Write([]byte(info))
		h.Write([]byte{i})
		prev = h.Sum(nil)
		out = append(out, prev...)
	}
	return out[:n]
}

func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	secret := make([]byte, 32)
	pt := make([]byte, 1024)
	dst := make([]byte, 0, 2048)
	k := Derive(secret, InfoOlm)
	ct := k.Encrypt(nil, pt)
	if n := testing.AllocsPerRun(100, func() { Derive(secret, InfoOlm) }); n != 0 {
		t.Errorf("Derive: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { k.verify(ct[:100], ct[100:108]) }); n != 0 {
		t.Errorf("Verify: %v allocations, want 0", n)
	}
	// crypto/aes and crypto/cipher allocate the block and the CBC mode.
	if n := testing.AllocsPerRun(100, func() { k.Encrypt(dst[:0], pt) }); n > 2 {
		t.Errorf("Encrypt into a large enough dst: %v allocations, want ≤ 2", n)
	}
	if n := testing.AllocsPerRun(100, func() { k.decrypt(dst[:0], ct) }); n > 2 {
		t.Errorf("Decrypt into a large enough dst: %v allocations, want ≤ 2", n)
	}
}

func BenchmarkSeal1KiB(b *testing.B) {
	secret := make([]byte, 32)
	pt := make([]byte, 1024)
	dst := make([]byte, 0, 2048)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		k := Derive(secret, InfoMegolm)
		out := k.Encrypt(dst[:0], pt)
		k.AppendTag(out, out)
	}
}

func TestOpenVerifiesFirst(t *testing.T) {
	k := Derive([]byte("secret"), InfoOlm)
	header := []byte("header")
	ct := k.Encrypt(nil, []byte("plaintext"))
	msg := append(bytes.Clone(header), ct...)
	tag := k.AppendTag(nil, msg)
	pt, err := k.Open(nil, msg, tag, ct)
	if err != nil || string(pt) != "plaintext" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	for i := range tag {
		bad := bytes.Clone(tag)
		bad[i] ^= 1
		if pt, err := k.Open(nil, msg, bad, ct); err != ErrAuthentication || pt != nil {
			t.Fatalf("tag byte %d flipped: Open = %q, %v", i, pt, err)
		}
	}
	if _, err := k.Open(nil, msg, nil, ct); err != ErrAuthentication {
		t.Fatalf("empty tag: %v", err)
	}
	// A ciphertext that authenticates but pads badly is the sender's garbage.
	garbage := make([]byte, BlockSize)
	if _, err := k.Open(nil, nil, k.AppendTag(nil, nil), garbage); err != ErrBadPadding && err != nil {
		t.Fatalf("garbage: %v", err)
	}
}
