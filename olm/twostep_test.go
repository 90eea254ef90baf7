package olm_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/olm"
)

// twoStepPair returns Bob's account and the first two pre-key messages
// Alice sends him.
func twoStepPair(t *testing.T) (alice, bob *olm.Account, msgs []olm.EncryptedMessage) {
	t.Helper()
	var err error
	if alice, err = olm.NewAccount(); err != nil {
		t.Fatal(err)
	}
	if bob, err = olm.NewAccount(); err != nil {
		t.Fatal(err)
	}
	otks, _, err := bob.GenerateOneTimeKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	as, err := alice.NewOutboundSession(bob.Curve25519(), otks[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"first", "second"} {
		m, err := as.Encrypt(nil, []byte(p))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return alice, bob, msgs
}

func parsePreKey(t *testing.T, m olm.EncryptedMessage) *olm.PreKeyMessage {
	t.Helper()
	pk, err := olm.ParsePreKeyMessage(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// TestDeferDecryption is libolm's two-step inbound flow: the session is
// created without decrypting, survives a pickle round trip in either
// format, and decrypts the first message afterwards; the one-time key
// stays until RemoveOneTimeKeys.
func TestDeferDecryption(t *testing.T) {
	pk := olm.DerivePickleKey([]byte("any length"))
	round := map[string]func(*olm.Session) (*olm.Session, error){
		"none": func(s *olm.Session) (*olm.Session, error) { return s, nil },
		"sicher": func(s *olm.Session) (*olm.Session, error) {
			p, err := s.Pickle(pk)
			if err != nil {
				return nil, err
			}
			return olm.UnpickleSession(pk, p)
		},
		"libolm": func(s *olm.Session) (*olm.Session, error) {
			return olm.UnpickleLibolmSession([]byte("k"), s.PickleLibolm([]byte("k")))
		},
	}
	for name, rt := range round {
		t.Run(name, func(t *testing.T) {
			alice, bob, msgs := twoStepPair(t)
			aid := alice.Curve25519()
			s, pt, err := bob.NewInboundSession(parsePreKey(t, msgs[1]), &olm.InboundOptions{TheirIdentityKey: &aid, DeferDecryption: true})
			if err != nil {
				t.Fatal(err)
			}
			if pt != nil || s.HasReceivedMessage() {
				t.Fatalf("deferred session decrypted: %q, received %v", pt, s.HasReceivedMessage())
			}
			if bob.StoredOneTimeKeys() != 1 {
				t.Fatal("DeferDecryption removed the one-time key")
			}
			if s, err = rt(s); err != nil {
				t.Fatal(err)
			}
			// Both messages, the one that made the session last.
			for i, want := range []string{"first", "second"} {
				got, err := s.Decrypt(nil, msgs[i])
				if err != nil || string(got) != want {
					t.Fatalf("message %d: %q, %v", i, got, err)
				}
			}
			if !s.HasReceivedMessage() {
				t.Fatal("HasReceivedMessage false after decryption")
			}
			if _, err := s.Decrypt(nil, msgs[1]); !errors.Is(err, olm.ErrUnknownMessageIndex) {
				t.Fatalf("replay: %v", err)
			}
			if err := bob.RemoveOneTimeKeys(s); err != nil || bob.StoredOneTimeKeys() != 0 {
				t.Fatalf("RemoveOneTimeKeys: %v, %d left", err, bob.StoredOneTimeKeys())
			}
		})
	}
}

// TestDeferDecryptionForged: a pre-key message whose inner message does
// not authenticate creates no session and keeps the one-time key, in the
// deferred form as in the one-step form.
func TestDeferDecryptionForged(t *testing.T) {
	_, bob, msgs := twoStepPair(t)
	body := bytes.Clone(msgs[0].Body)
	body[len(body)-1] ^= 1 // the MAC of the inner message
	s, pt, err := bob.NewInboundSession(parsePreKey(t, olm.EncryptedMessage{Type: olm.TypePreKey, Body: body}), &olm.InboundOptions{DeferDecryption: true})
	if !errors.Is(err, olm.ErrAuthentication) || s != nil || pt != nil {
		t.Fatalf("forged message: %v, %v, %q", err, s, pt)
	}
	if bob.StoredOneTimeKeys() != 1 {
		t.Fatal("a forged pre-key message burnt the one-time key")
	}
}

// libolmBlankSession is libolm 3.2.13's pickle of olm_session() before
// any olm_create_*_session (zero keys, no chains), under the key "test".
const libolmBlankSession = "ZJ7rOtZ7Y4EL4xIlTymU3jLZqoHeDPc9/6HZUORbLx4f2t0wWl+UDvIyYLMS7jmADtly058ZUuTkh/K7jSondiJMqpvp0FcGoSGHMhJQG3zWkyLh8QNptKX1X1Kv/TD6p0Z4f7ZrCPCAm7nEoEiYZM/etU6ID1WqrGVwFVRSx4JsPRq6NzSRkRfozzK0FqR5BNkZAejj4GvzfRtPlCouKmlPCi07zYo4"

// TestBlankSession: libolm's blank session pickle loads, has libolm's id,
// pickles back byte for byte and through sicher's format, and refuses to
// encrypt or decrypt with ErrBlankSession; the zero value is the same.
func TestBlankSession(t *testing.T) {
	s, err := olm.UnpickleLibolmSession([]byte("test"), libolmBlankSession)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != "LqmrkZjRY4AHQAzSw77xzHRbhkt2ARoOG8UhgKxkUtQ" || s.HasReceivedMessage() {
		t.Fatalf("id %s, received %v", s.ID(), s.HasReceivedMessage())
	}
	if got := s.PickleLibolm([]byte("test")); got != libolmBlankSession {
		t.Fatalf("libolm pickle differs:\n%s", got)
	}
	pk := olm.DerivePickleKey([]byte("test"))
	p, err := s.Pickle(pk)
	if err != nil {
		t.Fatal(err)
	}
	back, err := olm.UnpickleSession(pk, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*olm.Session{s, back, new(olm.Session), s.Clone()} {
		if _, err := b.Encrypt(nil, []byte("x")); !errors.Is(err, olm.ErrBlankSession) {
			t.Fatalf("Encrypt: %v", err)
		}
		if _, err := b.Decrypt(nil, olm.EncryptedMessage{Type: olm.TypeMessage, Body: []byte{3}}); !errors.Is(err, olm.ErrBlankSession) {
			t.Fatalf("Decrypt: %v", err)
		}
		if b.PickleLibolm([]byte("test")) != libolmBlankSession {
			t.Fatal("a blank session does not pickle as libolm's")
		}
	}
}

// TestDerivePickleKey pins the derivation (HKDF-SHA-256, empty salt, info
// "sicher pickle key v1") and checks that keys of any length work.
func TestDerivePickleKey(t *testing.T) {
	for _, secret := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{7}, 1000)} {
		want, err := hkdf.Key(sha256.New, secret, nil, "sicher pickle key v1", olm.PickleKeySize)
		if err != nil {
			t.Fatal(err)
		}
		if got := olm.DerivePickleKey(secret); !bytes.Equal(got[:], want) {
			t.Fatalf("secret of %d bytes: %x", len(secret), got)
		}
	}
	if *olm.DerivePickleKey([]byte("a")) == *olm.DerivePickleKey([]byte("b")) {
		t.Fatal("different secrets, same key")
	}
	a, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Pickle(olm.DerivePickleKey([]byte("mautrix pickle key")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := olm.UnpickleAccount(olm.DerivePickleKey([]byte("mautrix pickle key")), p); err != nil {
		t.Fatal(err)
	}
	if _, err := olm.UnpickleAccount(olm.DerivePickleKey([]byte("mautrix pickle kez")), p); !errors.Is(err, olm.ErrBadPickle) {
		t.Fatalf("wrong key: %v", err)
	}
}
