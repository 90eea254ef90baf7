package olm

import (
	"bytes"
	"errors"
	"testing"
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

// A libolm account pickle whose Ed25519 identity key does not match its
// private half loads, reports the stored key, and signs with the key of its
// private half (so its signatures fail under the stored key and the stored
// key never reaches the signature hash). Its Curve25519 identity key is
// checked like a one-time key, when a session first uses it.
func TestMismatchedIdentityKeyRefused(t *testing.T) {
	alice, bob, pk := lazyKeyFixture(t)
	good := bob.appendLibolm(nil)
	if _, err := parseLibolmAccount(good); err != nil {
		t.Fatalf("a consistent pickle: %v", err)
	}
	const edPubAt, curvePubAt = 4, 4 + 32 + 64
	bad := bytes.Clone(good)
	bad[edPubAt+1] ^= 1
	loaded, err := parseLibolmAccount(bad)
	if err != nil {
		t.Fatalf("a mismatched Ed25519 identity key: load: %v", err)
	}
	if loaded.Ed25519() == bob.Ed25519() {
		t.Fatal("the stored Ed25519 key is not reported")
	}
	if sig := loaded.Sign([]byte("m")); sig != bob.Sign([]byte("m")) || loaded.Ed25519().Verify([]byte("m"), sig) == nil {
		t.Fatal("a signature hashed the stored, mismatched public key")
	}
	for name, mutate := range map[string]func([]byte){
		"mismatched": func(b []byte) { b[curvePubAt+1] ^= 1 },
		"all-zero":   func(b []byte) { clear(b[curvePubAt : curvePubAt+32]) },
	} {
		b := bytes.Clone(good)
		mutate(b)
		loaded, err := parseLibolmAccount(b)
		if err != nil {
			t.Fatalf("%s Curve25519 identity key: load: %v", name, err)
		}
		if _, _, err := loaded.NewInboundSession(pk, nil); !errors.Is(err, ErrBadPickle) {
			t.Errorf("%s Curve25519 identity key: NewInboundSession: %v, want ErrBadPickle", name, err)
		}
		if _, err := loaded.NewOutboundSession(alice.Curve25519(), alice.Curve25519()); !errors.Is(err, ErrBadPickle) {
			t.Errorf("%s Curve25519 identity key: NewOutboundSession: %v, want ErrBadPickle", name, err)
		}
	}
	if sig := bob.Sign([]byte("m")); bob.Ed25519().Verify([]byte("m"), sig) != nil {
		t.Fatal("a signature does not verify")
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
	out, err := alice.NewOutboundSessionFrom(detRand(4), bob.identityKeys().Curve25519, created[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := out.Encrypt(nil, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if pk, err = ParsePreKeyMessage(msg.Body); err != nil {
		t.Fatal(err)
	}
	return alice, bob, pk
}
