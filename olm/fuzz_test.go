package olm

import (
	"bytes"
	"testing"
)

// Fuzz targets. Seeds: the libolm Loopback messages (reference §3.4) and
// sicher's own outputs.

func FuzzParseMessage(f *testing.F) {
	f.Add(mustDecode(f, loopbackMessage2))
	pk, _ := ParsePreKeyMessage(mustDecode(f, loopbackMessage1))
	f.Add(pk.Message.raw)
	f.Add([]byte{3})
	f.Add([]byte{4, 0x0a, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.raw, b) || len(m.Ciphertext)%16 != 0 || len(m.Ciphertext) == 0 {
			t.Fatal("parsed message inconsistent with its input")
		}
	})
}

func FuzzParsePreKeyMessage(f *testing.F) {
	f.Add(mustDecode(f, loopbackMessage1))
	f.Add([]byte{3, 0x0a, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePreKeyMessage(b)
		if err != nil {
			return
		}
		if m.Message == nil || !bytes.Equal(m.raw, b) {
			t.Fatal("parsed pre-key message inconsistent with its input")
		}
		preKeySessionID(m)
	})
}

// loopbackSessions replays the start of the libolm Loopback test and
// returns Alice's account and session (message 1 sent) and Bob's account
// and session (message 1 decrypted).
func loopbackSessions(t testing.TB) (alice *Account, as *Session, bob *Account, bs *Session) {
	ra, rb := newMockRandom('A', 0), newMockRandom('B', 0x80)
	alice, _ = NewAccountFrom(ra)
	bob, _ = NewAccountFrom(rb)
	otks, _, _ := bob.GenerateOneTimeKeysFrom(rb, 42)
	as, err := alice.NewOutboundSessionFrom(ra, bob.Curve25519(), otks[41].Key)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := as.EncryptFrom(ra, nil, []byte("Hello, World"))
	pk, _ := ParsePreKeyMessage(m.Body)
	if bs, _, err = bob.NewInboundSession(pk, nil); err != nil {
		t.Fatal(err)
	}
	return alice, as, bob, bs
}

// FuzzDecrypt decrypts arbitrary input with a fixed session (Alice's
// Loopback session, which can decrypt message 2) and checks that every
// failure leaves the session byte-for-byte unchanged.
func FuzzDecrypt(f *testing.F) {
	_, as, _, _ := loopbackSessions(f)
	state := as.appendState(nil)
	f.Add(uint8(1), mustDecode(f, loopbackMessage2))
	f.Add(uint8(0), mustDecode(f, loopbackMessage1))
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		s, err := parseSessionState(state)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Decrypt(nil, EncryptedMessage{int(typ), body}); err != nil {
			if !bytes.Equal(s.appendState(nil), state) {
				t.Fatalf("failed decryption changed the session: %v", err)
			}
		}
	})
}

// FuzzUnpickle feeds arbitrary plaintexts to the pickle parsers (the
// envelopes are authenticated, so this is what a corrupted store with the
// right key reaches).
func FuzzUnpickle(f *testing.F) {
	alice, as, bob, bs := loopbackSessions(f)
	bob.GenerateFallbackKeyFrom(newMockRandom('F', 0))
	for _, a := range []*Account{alice, bob} {
		f.Add(uint8(0), a.appendState(nil))
		f.Add(uint8(1), a.appendLibolm(nil))
	}
	for _, s := range []*Session{as, bs} {
		f.Add(uint8(2), s.appendState(nil))
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		switch kind % 4 {
		case 0:
			if a, err := parseAccountState(b); err == nil {
				a.OneTimeKeys()
				a.Sign(b)
			}
		case 1:
			if a, err := parseLibolmAccount(b); err == nil {
				a.appendLibolm(nil)
			}
		case 2:
			if s, err := parseSessionState(b); err == nil {
				s.describe()
				s.EncryptFrom(newMockRandom('E', 0), nil, b)
			}
		case 3:
			if s, err := parseLibolmSession(b); err == nil {
				s.describe()
				s.EncryptFrom(newMockRandom('E', 0), nil, b)
			}
		}
	})
}
