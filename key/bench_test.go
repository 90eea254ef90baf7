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

func BenchmarkVerifyStrict(b *testing.B) {
	k, _ := NewSigningKey(make([]byte, 32))
	msg := make([]byte, 1024)
	sig := k.Sign(msg)
	v, _ := NewVerifier(k.Public())
	b.ReportAllocs()
	for b.Loop() {
		if v.Verify(msg, sig) != nil {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkVerifyStd(b *testing.B) {
	k, _ := NewSigningKey(make([]byte, 32))
	msg := make([]byte, 1024)
	sig := k.Sign(msg)
	pub := k.Public()
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Verify(pub[:], msg, sig[:])
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
