package olm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
)

// Fuzz targets. Seeds: the libolm Loopback messages (libolm
// tests/test_olm.cpp) and sicher's own outputs.

func FuzzParseMessage(f *testing.F) {
	f.Add(mustDecode(f, loopbackMessage2))
	pk, _ := ParsePreKeyMessage(mustDecode(f, loopbackMessage1))
	f.Add(pk.Message.raw)
	f.Add([]byte{3})
	f.Add([]byte{4, 0x0a, 0x20})
	_, _, v2 := configPeers(f, SessionConfigV2) // session config v2: version 4, 32-byte MAC
	f.Add(v2.Message.raw)
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
	_, _, v2 := configPeers(f, SessionConfigV2)
	f.Add(v2.raw)
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

// Fuzz targets of account inbound session creation, mutation of authentic messages, and the stability of
// every pickle parser (parse -> encode -> parse).

// freshPair returns Bob's account (one-time keys and a fallback key, none
// used yet), Alice's session, and her first two messages to Bob (pre-key
// messages: she has not heard from him).
func freshPair(t testing.TB) (bob *Account, as *Session, m1, m2 EncryptedMessage) {
	ra, rb := newMockRandom('A', 0), newMockRandom('B', 0x80)
	alice, err := NewAccountFrom(ra)
	if err != nil {
		t.Fatal(err)
	}
	if bob, err = NewAccountFrom(rb); err != nil {
		t.Fatal(err)
	}
	otks, _, err := bob.GenerateOneTimeKeysFrom(rb, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GenerateFallbackKeyFrom(rb); err != nil {
		t.Fatal(err)
	}
	if as, err = alice.NewOutboundSessionFrom(ra, bob.Curve25519(), otks[2].Key); err != nil {
		t.Fatal(err)
	}
	m1, _ = as.EncryptFrom(ra, nil, []byte("first"))
	m2, _ = as.EncryptFrom(ra, nil, []byte("second"))
	return bob, as, m1, m2
}

// FuzzNewInboundSession hands arbitrary pre-key messages to an account.
// A message that fails leaves the account byte-for-byte unchanged (no
// one-time key consumed); one that succeeds names one of the account's
// keys, consumes it unless it is the fallback key, and cannot start a
// second session.
func FuzzNewInboundSession(f *testing.F) {
	bob, _, m1, m2 := freshPair(f)
	state := bob.appendState(nil)
	f.Add(m1.Body)
	f.Add(m2.Body)
	f.Add(mustDecode(f, loopbackMessage1))
	f.Fuzz(func(t *testing.T, body []byte) {
		pk, err := ParsePreKeyMessage(body)
		if err != nil {
			return
		}
		acct, err := parseAccountState(state)
		if err != nil {
			t.Fatal(err)
		}
		n := acct.StoredOneTimeKeys()
		s, pt, err := acct.NewInboundSession(pk, nil)
		if err != nil {
			if s != nil || pt != nil {
				t.Fatal("output returned with an error")
			}
			if !bytes.Equal(acct.appendState(nil), state) {
				t.Fatalf("failed inbound session changed the account: %v", err)
			}
			return
		}
		fb, _ := acct.FallbackKey()
		wantN := n - 1
		if pk.OneTimeKey == fb.Key {
			wantN = n
		}
		if acct.StoredOneTimeKeys() != wantN {
			t.Fatalf("one-time keys: %d -> %d", n, acct.StoredOneTimeKeys())
		}
		if id, ok := preKeySessionID(pk); !ok || id != s.ID() {
			t.Fatal("session id differs from the message's")
		}
		if pk.OneTimeKey != fb.Key {
			after := acct.appendState(nil)
			if _, _, err := acct.NewInboundSession(pk, nil); !errors.Is(err, ErrUnknownOneTimeKey) {
				t.Fatalf("pre-key message accepted twice: %v", err)
			}
			if !bytes.Equal(acct.appendState(nil), after) {
				t.Fatal("failed replay changed the account")
			}
		}
	})
}

// FuzzNewInboundSessionOptions is FuzzNewInboundSession with the options
// callers use: opts bit 0 sets KeepOneTimeKey (nothing is removed, even on
// success), bit 1 sets TheirIdentityKey to Alice's key and bit 2 to another
// key (every message then fails with ErrIdentityKeyMismatch, or with an
// authentication error if it omits its identity key). Failures never
// change the account.
func FuzzNewInboundSessionOptions(f *testing.F) {
	bob, as, m1, m2 := freshPair(f)
	state := bob.appendState(nil)
	alice := as.aliceIdentity
	other := key.Curve25519{9}
	for opts := range uint8(8) {
		f.Add(m1.Body, opts)
		f.Add(m2.Body, opts)
	}
	f.Fuzz(func(t *testing.T, body []byte, opts uint8) {
		pk, err := ParsePreKeyMessage(body)
		if err != nil {
			return
		}
		acct, err := parseAccountState(state)
		if err != nil {
			t.Fatal(err)
		}
		o := &InboundOptions{KeepOneTimeKey: opts&1 != 0}
		switch {
		case opts&4 != 0:
			o.TheirIdentityKey = &other
		case opts&2 != 0:
			o.TheirIdentityKey = &alice
		}
		n := acct.StoredOneTimeKeys()
		s, _, err := acct.NewInboundSession(pk, o)
		if err != nil {
			if !bytes.Equal(acct.appendState(nil), state) {
				t.Fatalf("failed inbound session changed the account: %v", err)
			}
			if opts&4 != 0 && pk.hasIdentityKey && !errors.Is(err, ErrIdentityKeyMismatch) && pk.IdentityKey != other {
				t.Fatalf("identity key mismatch not reported: %v", err)
			}
			return
		}
		if opts&4 != 0 && s.aliceIdentity != other {
			t.Fatal("session made for an identity key other than the expected one")
		}
		if o.TheirIdentityKey != nil && s.aliceIdentity != *o.TheirIdentityKey {
			t.Fatal("session's identity key is not the expected one")
		}
		if o.KeepOneTimeKey && acct.StoredOneTimeKeys() != n {
			t.Fatal("KeepOneTimeKey removed a key")
		}
	})
}

// FuzzMutatedMessage flips bits of authentic messages and delivers them:
//
//	target 0: Alice's reply (a normal message) to Alice's session;
//	target 1: Alice's second pre-key message to Bob's session;
//	target 2: Alice's first pre-key message to Bob's fresh account.
//
// Every mutation must fail and leave the state as it was, with one
// exception: Session.Decrypt, like libolm's olm_decrypt, decrypts a
// pre-key message's inner message without matching the outer keys (the
// caller routes with Session.Matches first), so a change to those may
// still yield the authentic plaintext, never anything else.
func FuzzMutatedMessage(f *testing.F) {
	bob, as, m1, m2 := freshPair(f)
	acctState := bob.appendState(nil)
	pk, _ := ParsePreKeyMessage(m1.Body)
	bs, _, err := bob.NewInboundSession(pk, nil)
	if err != nil {
		f.Fatal(err)
	}
	reply, err := bs.EncryptFrom(newMockRandom('R', 0), nil, []byte("reply"))
	if err != nil {
		f.Fatal(err)
	}
	bobState, aliceState := bs.appendState(nil), as.appendState(nil)
	for i := range 3 {
		f.Add(uint8(i), uint16(0), uint8(1))
		f.Add(uint8(i), uint16(60), uint8(0x80))
	}
	f.Fuzz(func(t *testing.T, target uint8, pos uint16, mask uint8) {
		if mask == 0 {
			return
		}
		var msg EncryptedMessage
		var want []byte
		switch target % 3 {
		case 0:
			msg, want = reply, []byte("reply")
		case 1:
			msg, want = m2, []byte("second")
		case 2:
			msg = m1
		}
		body := bytes.Clone(msg.Body)
		body[int(pos)%len(body)] ^= mask
		msg.Body = body
		switch target % 3 {
		case 0, 1:
			state := aliceState
			if target%3 == 1 {
				state = bobState
			}
			s, err := parseSessionState(state)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := s.Decrypt(nil, msg)
			if err == nil {
				inner := len(body) - len(mustInner(t, msg))
				if target%3 == 0 || int(pos)%len(body) >= inner || !bytes.Equal(pt, want) {
					t.Fatalf("mutated message decrypted to %q", pt)
				}
				return
			}
			if !bytes.Equal(s.appendState(nil), state) {
				t.Fatalf("failed decryption changed the session: %v", err)
			}
		case 2:
			pk, err := ParsePreKeyMessage(body)
			if err != nil {
				return
			}
			acct, err := parseAccountState(acctState)
			if err != nil {
				t.Fatal(err)
			}
			if _, pt, err := acct.NewInboundSession(pk, nil); err == nil {
				t.Fatalf("mutated pre-key message made a session (%q)", pt)
			}
			if !bytes.Equal(acct.appendState(nil), acctState) {
				t.Fatal("failed inbound session changed the account")
			}
		}
	})
}

// mustInner returns the inner normal message of a (pre-key) message.
func mustInner(t *testing.T, m EncryptedMessage) []byte {
	if m.Type != TypePreKey {
		return m.Body
	}
	pk, err := ParsePreKeyMessage(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pk.Message.raw
}

var fuzzLibolmKey = []byte("fuzz pickle key")

// libolmSessionPlaintext is the plaintext of s.PickleLibolm.
func libolmSessionPlaintext(t testing.TB, s *Session) []byte {
	pt, err := pickle.OpenLibolm(fuzzLibolmKey, s.PickleLibolm(fuzzLibolmKey))
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// FuzzPickleStable checks that every pickle parser is stable: whatever
// plaintext parses encodes to bytes that parse and encode to the same bytes
// again (parse -> encode -> parse is a fixed point), for sicher's and
// libolm's account and session pickles.
func FuzzPickleStable(f *testing.F) {
	alice, as, bob, bs := loopbackSessions(f)
	bob.GenerateFallbackKeyFrom(newMockRandom('F', 0))
	for _, a := range []*Account{alice, bob} {
		f.Add(uint8(0), a.appendState(nil))
		f.Add(uint8(1), a.appendLibolm(nil))
	}
	for _, s := range []*Session{as, bs} {
		f.Add(uint8(2), s.appendState(nil))
		f.Add(uint8(3), libolmSessionPlaintext(f, s))
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		var encode func([]byte) ([]byte, error)
		switch kind % 4 {
		case 0:
			encode = func(b []byte) ([]byte, error) {
				a, err := parseAccountState(b)
				if err != nil {
					return nil, err
				}
				return a.appendState(nil), nil
			}
		case 1:
			encode = func(b []byte) ([]byte, error) {
				a, err := parseLibolmAccount(b)
				if err != nil {
					return nil, err
				}
				return a.appendLibolm(nil), nil
			}
		case 2:
			encode = func(b []byte) ([]byte, error) {
				s, err := parseSessionState(b)
				if err != nil {
					return nil, err
				}
				return s.appendState(nil), nil
			}
		case 3:
			encode = func(b []byte) ([]byte, error) {
				s, err := parseLibolmSession(b)
				if err != nil {
					return nil, err
				}
				return libolmSessionPlaintext(t, s), nil
			}
		}
		e1, err := encode(b)
		if err != nil {
			if !errors.Is(err, ErrBadPickle) {
				t.Fatalf("pickle error does not wrap ErrBadPickle: %v", err)
			}
			return
		}
		e2, err := encode(e1)
		if err != nil {
			t.Fatalf("re-encoded pickle does not parse: %v", err)
		}
		if !bytes.Equal(e1, e2) {
			t.Fatalf("parse -> encode is not stable:\n%x\n%x", e1, e2)
		}
	})
}
