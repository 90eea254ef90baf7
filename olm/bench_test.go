package olm

import (
	"testing"
)

func BenchmarkNewAccount(b *testing.B) {
	rand := &streamReader{seed: 20}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewAccountFrom(rand); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate100OneTimeKeys(b *testing.B) {
	rand := &streamReader{seed: 21}
	b.ReportAllocs()
	for b.Loop() {
		a, _ := NewAccountFrom(rand)
		if _, _, err := a.GenerateOneTimeKeysFrom(rand, 100); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOutboundSession(b *testing.B) {
	rand := &streamReader{seed: 22}
	alice, _ := NewAccountFrom(rand)
	bob, _ := NewAccountFrom(rand)
	otks, _, _ := bob.GenerateOneTimeKeysFrom(rand, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), otks[0].Key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInboundSession measures NewInboundSession including the
// decryption of the first message (the one-time key is kept so every
// iteration finds it).
func BenchmarkInboundSession(b *testing.B) {
	rand := &streamReader{seed: 23}
	alice, _ := NewAccountFrom(rand)
	bob, _ := NewAccountFrom(rand)
	otks, _, _ := bob.GenerateOneTimeKeysFrom(rand, 1)
	s, _ := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), otks[0].Key)
	m, _ := s.EncryptFrom(rand, nil, []byte("Hello, World"))
	pk, _ := ParsePreKeyMessage(m.Body)
	opts := &InboundOptions{KeepOneTimeKey: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := bob.NewInboundSession(pk, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptDecrypt1KiB encrypts and decrypts 1 KiB messages on one
// chain (no ratchet step).
func BenchmarkEncryptDecrypt1KiB(b *testing.B) {
	d := newDuo(b)
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	d.send(d.as, "start a sending chain")
	pt := make([]byte, 1024)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := d.as.EncryptFrom(d.rand, nil, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.bs.Decrypt(nil, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingPong1KiB alternates the sender, so every message starts a
// new chain: a ratchet step (X25519 key generation and agreement, HKDF)
// on each side per message.
func BenchmarkPingPong1KiB(b *testing.B) {
	d := newDuo(b)
	pt := make([]byte, 1024)
	from, to := d.bs, d.as
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := from.EncryptFrom(d.rand, nil, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := to.Decrypt(nil, m); err != nil {
			b.Fatal(err)
		}
		from, to = to, from
	}
}
