package b64

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestEncodeKnownAnswers(t *testing.T) {
	// Source: libolm tests/test_base64.cpp ("Hello World") and RFC 4648 §10.
	tests := []struct{ in, out string }{
		{"", ""},
		{"f", "Zg"},
		{"fo", "Zm8"},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy"},
		{"Hello World", "SGVsbG8gV29ybGQ"},
	}
	for _, tt := range tests {
		if got := Encode([]byte(tt.in)); got != tt.out {
			t.Errorf("Encode(%q) = %q, want %q", tt.in, got, tt.out)
		}
		if got := EncodeSecret([]byte(tt.in)); got != tt.out {
			t.Errorf("EncodeSecret(%q) = %q, want %q", tt.in, got, tt.out)
		}
		for _, dec := range []func(string) ([]byte, error){Decode, DecodeSecret} {
			got, err := dec(tt.out)
			if err != nil || string(got) != tt.in {
				t.Errorf("decode(%q) = %q, %v; want %q", tt.out, got, err, tt.in)
			}
			padded := base64.StdEncoding.EncodeToString([]byte(tt.in))
			got, err = dec(padded)
			if err != nil || string(got) != tt.in {
				t.Errorf("decode(%q) = %q, %v; want %q", padded, got, err, tt.in)
			}
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	// Source: vodozemac src/utilities/mod.rs (padding indifference, invalid
	// last symbol) and libolm tests/test_base64.cpp (length % 4 == 1).
	invalid := []string{
		"A",         // length % 4 == 1
		"AAAAA",     // length % 4 == 1
		"AAZ",       // non-zero trailing bits
		"QR",        // non-zero trailing bits
		"QQ=",       // wrong padding length
		"QQ===",     // too much padding
		"Q===",      // padding where data is needed
		"QUFB=",     // padding that is not needed
		"QQ=A",      // padding in the middle
		"SGVs bG8",  // space
		"SGVs\nbG8", // line break (encoding/base64 skips these)
		"SGVs\rbG8",
		"SGVs-G8", // URL-safe alphabet
		"SGVs_G8", // URL-safe alphabet
		"SGVs\x00G8",
		"SGVs\xffG8",
		"SGVs.G8",
	}
	for _, s := range invalid {
		if b, err := Decode(s); !errors.Is(err, ErrInvalid) || b != nil {
			t.Errorf("Decode(%q) = %x, %v; want ErrInvalid", s, b, err)
		}
		if b, err := DecodeSecret(s); !errors.Is(err, ErrInvalid) || b != nil {
			t.Errorf("DecodeSecret(%q) = %x, %v; want ErrInvalid", s, b, err)
		}
	}
}

func TestCodecsAgreeOnEveryCharacter(t *testing.T) {
	// Every 4-character group of one repeated byte: both decoders must
	// accept and reject the same strings and produce the same bytes.
	for c := 0; c < 256; c++ {
		for _, s := range []string{string([]byte{byte(c), 'A', 'A', 'A'}), string([]byte{'A', 'A', 'A', byte(c)}), string([]byte{'A', 'A', byte(c)})} {
			b1, err1 := Decode(s)
			b2, err2 := DecodeSecret(s)
			if (err1 == nil) != (err2 == nil) || !bytes.Equal(b1, b2) {
				t.Errorf("%q: Decode = %x, %v; DecodeSecret = %x, %v", s, b1, err1, b2, err2)
			}
		}
	}
}

func TestRoundTripAllLengths(t *testing.T) {
	buf := make([]byte, 2400) // Encode works in 768-byte chunks: cross three
	for i := range buf {
		buf[i] = byte(i*151 + 7)
	}
	for n := range len(buf) {
		b := buf[:n]
		want := base64.RawStdEncoding.EncodeToString(b)
		if got := Encode(b); got != want {
			t.Fatalf("Encode(%d bytes) = %q, want %q", n, got, want)
		}
		if got := EncodeSecret(b); got != want {
			t.Fatalf("EncodeSecret(%d bytes) = %q, want %q", n, got, want)
		}
		got, err := DecodeSecret(want)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("DecodeSecret(%q) = %x, %v", want, got, err)
		}
	}
}

func TestDecodeInto(t *testing.T) {
	var k [32]byte
	s := Encode(bytes.Repeat([]byte{7}, 32))
	if err := DecodeInto(k[:], s); err != nil || k[0] != 7 {
		t.Fatalf("DecodeInto = %v", err)
	}
	if err := DecodeInto(k[:], s+"="); err != nil {
		t.Fatalf("DecodeInto(padded) = %v", err)
	}
	for _, bad := range []string{"", s[:42], s + "AAAA", Encode(make([]byte, 31)), Encode(make([]byte, 33))} {
		if err := DecodeInto(k[:], bad); err == nil {
			t.Errorf("DecodeInto(%q) succeeded", bad)
		}
	}
}

// TestSecretCodecHasNoTables is the CVE-2024-45192 regression: the secret
// codec must compute every character mapping arithmetically. It checks the
// arithmetic mapping against the alphabet for all 256 byte values, which
// would fail if someone "optimised" it back into a partial table.
func TestSecretCodecHasNoTables(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for v := range 64 {
		if got := encodeChar(uint(v)); got != alphabet[v] {
			t.Errorf("encodeChar(%d) = %q, want %q", v, got, alphabet[v])
		}
	}
	for c := range 256 {
		want := bytes.IndexByte([]byte(alphabet), byte(c))
		if got := decodeChar(byte(c)); got != want {
			t.Errorf("decodeChar(%#x) = %d, want %d", c, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "SGVsbG8gV29ybGQ", "SGVsbG8gV29ybGQ=", "AAZ", "QQ==", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b1, err1 := Decode(s)
		b2, err2 := DecodeSecret(s)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(b1, b2) {
			t.Fatalf("%q: Decode = %x, %v; DecodeSecret = %x, %v", s, b1, err1, b2, err2)
		}
		for _, l := range []int{len(b1), raw.DecodedLen(len(s)), padded.DecodedLen(len(s)), 32, 64} {
			dst := make([]byte, l)
			err := DecodeInto(dst, s)
			if want := err1 == nil && l == len(b1); (err == nil) != want || want && !bytes.Equal(dst, b1) {
				t.Fatalf("%q: Decode = %x, %v; DecodeInto(%d bytes) = %x, %v", s, b1, err1, l, dst, err)
			}
			if err != nil && !bytes.Equal(dst, make([]byte, l)) {
				t.Fatalf("%q: DecodeInto wrote %x before failing", s, dst)
			}
		}
		b3, err3 := AppendDecode([]byte("prefix"), s)
		if (err1 == nil) != (err3 == nil) || err3 == nil && !bytes.Equal(b3, append([]byte("prefix"), b1...)) ||
			err3 != nil && string(b3) != "prefix" {
			t.Fatalf("%q: Decode = %x, %v; AppendDecode = %q, %v", s, b1, err1, b3, err3)
		}
		if err1 != nil {
			return
		}
		// Accepted input re-encodes to its unique unpadded form.
		enc := Encode(b1)
		if enc != s && enc != trimPad(s) {
			t.Fatalf("%q decodes to %x which encodes to %q", s, b1, enc)
		}
		if EncodeSecret(b1) != enc {
			t.Fatalf("EncodeSecret(%x) != Encode", b1)
		}
	})
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

func TestDecodeIntoAllocatesNothing(t *testing.T) {
	var k [32]byte
	s := Encode(bytes.Repeat([]byte{0x3c}, 32))
	if n := testing.AllocsPerRun(20, func() {
		if err := DecodeInto(k[:], s); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodeInto of a key: %v allocations, want 0", n)
	}
	if err := DecodeInto(k[:], s+"="); err != nil || k != [32]byte(bytes.Repeat([]byte{0x3c}, 32)) {
		t.Errorf("DecodeInto of the padded form: %x, %v", k, err)
	}
}

func TestAppendDecodeReusesCapacity(t *testing.T) {
	s := Encode(bytes.Repeat([]byte{0xa5}, 1000))
	buf := make([]byte, 0, 1000)
	if n := testing.AllocsPerRun(20, func() {
		var err error
		if buf, err = AppendDecode(buf[:0], s); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendDecode into a large enough buffer: %v allocations, want 0", n)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xa5}, 1000)) {
		t.Errorf("AppendDecode = %x", buf)
	}
	for _, bad := range []string{"QQ=", "Q", "QUJD\nQUJD", "QQ==QQ", "QR"} {
		if _, err := AppendDecode(nil, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendDecode(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
