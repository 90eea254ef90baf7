package key

import (
	"crypto/ed25519"
	"testing"
)

func BenchmarkSignSeed(b *testing.B) {
	k, _ := NewSigningKey(make([]byte, 32))
	msg := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		k.Sign(msg)
	}
}

func BenchmarkSignExpanded(b *testing.B) {
	seed, _ := NewSigningKey(make([]byte, 32))
	exp := seed.Expanded()
	k, _ := NewExpandedSigningKey(exp[:])
	msg := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		k.Sign(msg)
	}
}

// BenchmarkVerify compares a Verifier (key decoded once), a one-shot
// Ed25519.Verify and crypto/ed25519.Verify on a 1 KiB message.
func BenchmarkVerify(b *testing.B) {
	k, _ := NewSigningKey(make([]byte, 32))
	msg := make([]byte, 1024)
	sig := k.Sign(msg)
	pub := k.Public()
	v, _ := NewVerifier(pub)
	for _, c := range []struct {
		name   string
		verify func() bool
	}{
		{"Verifier", func() bool { return v.Verify(msg, sig) == nil }},
		{"OneShot", func() bool { return pub.Verify(msg, sig) == nil }},
		{"Std", func() bool { return ed25519.Verify(pub[:], msg, sig[:]) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.verify() {
					b.Fatal("verify failed")
				}
			}
		})
	}
}

func BenchmarkX25519(b *testing.B) {
	priv, _ := NewCurve25519PrivateKey(make([]byte, 32))
	peer := Curve25519Public(priv)
	b.ReportAllocs()
	for b.Loop() {
		X25519(priv, peer)
	}
}
