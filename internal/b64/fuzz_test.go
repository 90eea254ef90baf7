package b64

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzDecodeDifferential compares both codecs with the standard
// library's strict decoders: an input is accepted exactly when it is
// canonical unpadded base64 (RawStdEncoding.Strict) or canonical padded
// base64 (StdEncoding.Strict), and to the same bytes; DecodeInto agrees
// with Decode for the decoded length.
func FuzzDecodeDifferential(f *testing.F) {
	for _, s := range []string{"", "QQ", "QQ==", "QR", "QR==", "QUI", "QUI=", "AAAA", "A===", "=", "a+/b", "a-_b", " QQ", "QQ\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want []byte
		var ok bool
		if strings.HasSuffix(s, "=") {
			want, ok = stdDecode(base64.StdEncoding.Strict(), s)
		} else {
			want, ok = stdDecode(base64.RawStdEncoding.Strict(), s)
		}
		for name, dec := range map[string]func(string) ([]byte, error){"Decode": Decode, "DecodeSecret": DecodeSecret} {
			got, err := dec(s)
			if (err == nil) != ok || ok && !bytes.Equal(got, want) {
				t.Fatalf("%s(%q) = %x, %v; encoding/base64: %x, %v", name, s, got, err, want, ok)
			}
		}
		if ok {
			dst := make([]byte, len(want))
			if err := DecodeInto(dst, s); err != nil || !bytes.Equal(dst, want) {
				t.Fatalf("DecodeInto(%q) = %x, %v", s, dst, err)
			}
			if len(want) > 0 && DecodeInto(make([]byte, len(want)-1), s) == nil {
				t.Fatalf("DecodeInto(%q) accepted a short destination", s)
			}
		}
	})
}

func stdDecode(enc *base64.Encoding, s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") { // the standard library skips newlines
		return nil, false
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}
