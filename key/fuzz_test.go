package key

import (
	"crypto/ed25519"
	"testing"
)

// FuzzVerifyStrict checks Ed25519 verification against
// crypto/ed25519: sicher accepts exactly what crypto/ed25519 accepts, minus
// small-order public keys and small-order R. Whatever Ed25519.Verify
// accepts, the key passes Check and NewVerifier, and the Verifier agrees
// with Verify.
func FuzzVerifyStrict(f *testing.F) {
	sk, _ := NewSigningKey(make([]byte, 32))
	msg := []byte("message")
	sig := sk.Sign(msg)
	pub := sk.Public()
	f.Add(pub[:], msg, sig[:])
	var id [32]byte
	id[0] = 1
	var idSig [64]byte
	idSig[0] = 1
	f.Add(id[:], msg, idSig[:])
	for _, v := range speccheck {
		f.Add(unhex(v.pub), unhex(v.msg), unhex(v.sig))
	}
	f.Fuzz(func(t *testing.T, pk, msg, sg []byte) {
		if len(pk) != 32 || len(sg) != 64 {
			return
		}
		k, s := Ed25519(pk), Ed25519Signature(sg)
		err := k.Verify(msg, s)
		v, verr := NewVerifier(k)
		if verr == nil {
			if verr2 := v.Verify(msg, s); (verr2 == nil) != (err == nil) {
				t.Fatalf("Verifier.Verify = %v, Ed25519.Verify = %v", verr2, err)
			}
		}
		want := ed25519.Verify(pk, msg, sg) && !isSmallOrderOrInvalid(pk) && !isSmallOrderEncoding(sg[:32])
		if (err == nil) != want {
			t.Fatalf("Verify = %v; crypto/ed25519 with the small-order rules says %v", err, want)
		}
		if err != nil {
			return
		}
		if !ed25519.Verify(pk, msg, sg) {
			t.Fatal("sicher accepted a signature crypto/ed25519 rejects")
		}
		if checkKey(k) != nil || verr != nil {
			t.Fatalf("accepted under a key that fails Check (%v) or NewVerifier (%v)", checkKey(k), verr)
		}
	})
}
