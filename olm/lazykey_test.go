package olm

import (
	"errors"
	"testing"
)

// A libolm account pickle whose one-time key's public half does not match
// its private half loads (checking every key at load would cost a scalar
// multiplication each), but the key is refused when a session would use it.
func TestMismatchedOneTimeKeyRefusedOnUse(t *testing.T) {
	alice, err := NewAccountFrom(detRand(1))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := NewAccountFrom(detRand(2))
	if err != nil {
		t.Fatal(err)
	}
	created, _, err := bob.GenerateOneTimeKeysFrom(detRand(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	// Corrupt the private half of Bob's key and round-trip through a libolm
	// pickle, so only the stored bytes remain.
	bob.otks[0].priv[1] ^= 1 // byte 0 would be cleared by clamping
	bob.otks[0].ecdh = nil
	loaded, err := UnpickleLibolmAccount(nil, bob.PickleLibolm(nil))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	out, err := alice.NewOutboundSessionFrom(detRand(4), bob.IdentityKeys().Curve25519, created[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := out.Encrypt([]byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ParsePreKeyMessage(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := loaded.NewInboundSession(pk, nil); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("NewInboundSession with a mismatched key: %v, want ErrBadPickle", err)
	}
}
