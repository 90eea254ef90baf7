package hmacsha256

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 4231 §4.2–4.7 (test cases 1, 2, 3, 4, 6, 7; 5 is truncated output).
func TestRFC4231(t *testing.T) {
	tests := []struct{ key, data, mac string }{
		{strings.Repeat("0b", 20), hex.EncodeToString([]byte("Hi There")),
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{hex.EncodeToString([]byte("Jefe")), hex.EncodeToString([]byte("what do ya want for nothing?")),
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{strings.Repeat("aa", 20), strings.Repeat("dd", 50),
			"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
		{"0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50),
			"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{strings.Repeat("aa", 131), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")),
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{strings.Repeat("aa", 131), hex.EncodeToString([]byte("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")),
			"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
	}
	for i, tt := range tests {
		got := Sum(unhex(tt.key), unhex(tt.data))
		if hex.EncodeToString(got[:]) != tt.mac {
			t.Errorf("case %d: %x, want %s", i, got, tt.mac)
		}
	}
}

// RFC 5869 Appendix A.1–A.3.
func TestRFC5869(t *testing.T) {
	tests := []struct{ ikm, salt, info, okm string }{
		{strings.Repeat("0b", 22), "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
			"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
			"b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
		{strings.Repeat("0b", 22), "", "",
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	}
	for i, tt := range tests {
		out := make([]byte, len(tt.okm)/2)
		salt := unhex(tt.salt)
		if tt.salt == "" {
			salt = nil // RFC: not provided → HashLen zeros
		}
		HKDF(out, salt, unhex(tt.ikm), string(unhex(tt.info)))
		if hex.EncodeToString(out) != tt.okm {
			t.Errorf("case %d: %x", i+1, out)
		}
	}
}

func TestAgainstStd(t *testing.T) {
	for klen := range 140 {
		key := bytes.Repeat([]byte{byte(klen)}, klen)
		for _, mlen := range []int{0, 1, 55, 56, 63, 64, 65, 1000} {
			msg := bytes.Repeat([]byte{byte(mlen + 1)}, mlen)
			h := hmac.New(sha256.New, key)
			h.Write(msg)
			if got := Sum(key, msg); !bytes.Equal(got[:], h.Sum(nil)) {
				t.Fatalf("key %d, msg %d: mismatch", klen, mlen)
			}
		}
	}
	for _, n := range []int{0, 1, 32, 33, 64, 80, 255 * 32} {
		for _, info := range []string{"", "OLM_ROOT", strings.Repeat("MATRIX_KEY_VERIFICATION_SAS|", 20)} {
			want, err := hkdf.Key(sha256.New, []byte("ikm"), nil, info, n)
			if n == 0 {
				want, err = []byte{}, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n)
			HKDF(got, nil, []byte("ikm"), info)
			if !bytes.Equal(got, want) {
				t.Fatalf("HKDF n=%d info=%d bytes: mismatch", n, len(info))
			}
		}
	}
}

func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	key := make([]byte, 32)
	msg := make([]byte, 1024)
	out := make([]byte, 80)
	Sum(key, msg) // warm the pool
	if n := testing.AllocsPerRun(100, func() { Sum(key, msg) }); n != 0 {
		t.Errorf("Sum: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { HKDF(out, nil, key, "MEGOLM_KEYS") }); n != 0 {
		t.Errorf("HKDF: %v allocations, want 0", n)
	}
}

func TestHKDFTooLongPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for 255·32+1 bytes")
		}
	}()
	HKDF(make([]byte, 255*32+1), nil, nil, "")
}

func BenchmarkSum1Byte(b *testing.B) {
	key, msg := make([]byte, 32), []byte{1}
	b.ReportAllocs()
	for b.Loop() {
		Sum(key, msg)
	}
}

func BenchmarkStdHMAC1Byte(b *testing.B) {
	key, msg := make([]byte, 32), []byte{1}
	b.ReportAllocs()
	for b.Loop() {
		h := hmac.New(sha256.New, key)
		h.Write(msg)
		h.Sum(nil)
	}
}

func BenchmarkHKDF80(b *testing.B) {
	key, out := make([]byte, 32), make([]byte, 80)
	b.ReportAllocs()
	for b.Loop() {
		HKDF(out, nil, key, "MEGOLM_KEYS")
	}
}

func BenchmarkStdHKDF80(b *testing.B) {
	key := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		hkdf.Key(sha256.New, key, nil, "MEGOLM_KEYS", 80)
	}
}
