package b64

import (
	"strings"
	"testing"
)

// BenchmarkDecodeSecret decodes an exported Megolm session key's worth of
// base64 (220 characters) with the constant-time codec, beside the
// ordinary one.
func BenchmarkDecodeSecret(b *testing.B) {
	s := strings.Repeat("AbC+/9z", 31) + "AbC"
	for _, c := range []struct {
		name   string
		decode func(string) ([]byte, error)
	}{{"secret", DecodeSecret}, {"public", Decode}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
