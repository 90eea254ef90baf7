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

// The identity keys are checked when an account loads: a libolm account
// pickle whose Curve25519 or Ed25519 identity key does not match its
// private half (or whose Curve25519 public half is all zero) is refused
// with ErrBadPickle.
func TestMismatchedIdentityKeyRefusedAtLoad(t *testing.T) {
	_, bob, _ := lazyKeyFixture(t)
	good := bob.appendLibolm(nil)
	if _, err := parseLibolmAccount(good); err != nil {
		t.Fatalf("a consistent pickle: %v", err)
	}
	const edPubAt, curvePubAt = 4, 4 + 32 + 64
	for name, at := range map[string]int{"Ed25519": edPubAt, "Curve25519": curvePubAt} {
		bad := bytes.Clone(good)
		bad[at+1] ^= 1
		if _, err := parseLibolmAccount(bad); !errors.Is(err, ErrBadPickle) {
			t.Errorf("a mismatched %s identity key: %v, want ErrBadPickle", name, err)
		}
	}
	zero := bytes.Clone(good)
	clear(zero[curvePubAt : curvePubAt+32])
	if _, err := parseLibolmAccount(zero); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("an all-zero identity key: %v, want ErrBadPickle", err)
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
