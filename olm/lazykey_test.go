package olm

import (
	"errors"
	"testing"

	"github.com/sicher-go/sicher/key"
)

// A libolm account pickle whose one-time key's public half does not match
// its private half loads (checking every key at load would cost a scalar
// multiplication each), but the key is refused when a session would use it.
func TestMismatchedOneTimeKeyRefusedOnUse(t *testing.T) {
	_, bob, pk := lazyKeyFixture(t)
	// Corrupt the private half of Bob's key and round-trip through a libolm
	// pickle, so only the stored bytes remain.
	bob.otks[0].priv[1] ^= 1 // byte 0 would be cleared by clamping
	bob.otks[0].ecdh = nil
	loaded, err := UnpickleLibolmAccount(nil, bob.PickleLibolm(nil))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if _, _, err := loaded.NewInboundSession(pk, nil); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("NewInboundSession with a mismatched key: %v, want ErrBadPickle", err)
	}
}

// The same for the identity key: a libolm account pickle whose Curve25519
// identity key does not match its private half loads, and every session
// that would use the key (outbound or inbound) is refused; an all-zero
// stored public half is refused at load.
func TestMismatchedIdentityKeyRefusedOnUse(t *testing.T) {
	alice, bob, pk := lazyKeyFixture(t)
	bob.identity.priv[1] ^= 1
	bob.identity.ecdh = nil
	loaded, err := UnpickleLibolmAccount(nil, bob.PickleLibolm(nil))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if _, _, err := loaded.NewInboundSession(pk, nil); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("NewInboundSession with a mismatched identity key: %v, want ErrBadPickle", err)
	}
	if _, err := loaded.NewOutboundSessionFrom(detRand(5), alice.IdentityKeys().Curve25519, alice.IdentityKeys().Curve25519); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("NewOutboundSession with a mismatched identity key: %v, want ErrBadPickle", err)
	}
	if len(loaded.otks) != 1 {
		t.Fatal("a refused inbound session consumed the one-time key")
	}

	bob.identity.pub = key.Curve25519{}
	if _, err := UnpickleLibolmAccount(nil, bob.PickleLibolm(nil)); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("load with an all-zero identity key: %v, want ErrBadPickle", err)
	}
}

// A libolm account pickle whose Ed25519 public key is not its private
// key's loads; CheckIdentityKeys reports it, and signatures are made with
// the derived key (never the stored one), so they verify under the derived
// key and not under the stored one.
func TestMismatchedEd25519IdentityKey(t *testing.T) {
	a, err := NewAccountFrom(detRand(1))
	if err != nil {
		t.Fatal(err)
	}
	good, err := UnpickleLibolmAccount(nil, a.PickleLibolm(nil))
	if err != nil || good.CheckIdentityKeys() != nil {
		t.Fatalf("a consistent pickle: %v, %v", err, good.CheckIdentityKeys())
	}
	if sig := good.Sign([]byte("m")); good.Ed25519().Verify([]byte("m"), sig) != nil {
		t.Fatal("a loaded account's signature does not verify")
	}

	real := a.signing.Public()
	exp := a.signing.Expanded()
	other, _ := NewAccountFrom(detRand(2))
	a.signing, err = key.NewExpandedSigningKeyWithPublic(exp[:], other.Ed25519())
	if err != nil {
		t.Fatal(err)
	}
	bad, err := UnpickleLibolmAccount(nil, a.PickleLibolm(nil))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := bad.CheckIdentityKeys(); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("CheckIdentityKeys = %v, want ErrBadPickle", err)
	}
	sig := bad.Sign([]byte("m"))
	if real.Verify([]byte("m"), sig) != nil {
		t.Fatal("the signature was not made with the derived public key")
	}
	if bad.Ed25519().Verify([]byte("m"), sig) == nil {
		t.Fatal("the signature verifies under the stored, wrong public key")
	}
}

// lazyKeyFixture returns Alice, Bob with one one-time key, and Alice's
// first pre-key message to Bob.
func lazyKeyFixture(t *testing.T) (alice, bob *Account, pk *PreKeyMessage) {
	t.Helper()
	alice, err := NewAccountFrom(detRand(1))
	if err != nil {
		t.Fatal(err)
	}
	bob, err = NewAccountFrom(detRand(2))
	if err != nil {
		t.Fatal(err)
	}
	created, _, err := bob.GenerateOneTimeKeysFrom(detRand(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := alice.NewOutboundSessionFrom(detRand(4), bob.IdentityKeys().Curve25519, created[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := out.Encrypt([]byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if pk, err = ParsePreKeyMessage(msg.Body); err != nil {
		t.Fatal(err)
	}
	return alice, bob, pk
}
