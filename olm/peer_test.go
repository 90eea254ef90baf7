package olm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/key"
)

// TestOlmSessionRefusesOtherPeer: the outer keys of a pre-key message are
// not covered by its MAC, so anyone on the path can replace the identity
// key Alice's second pre-key message carries with Mallory's. Bob's session
// with Alice must refuse the rewritten message (and stay unchanged) rather
// than decrypt it as if it came from the device the message now names; a
// session always knows its peer (PeerIdentityKey), in both directions and
// across a pickle.
func TestOlmSessionRefusesOtherPeer(t *testing.T) {
	rand := &streamReader{seed: 51}
	alice, _ := NewAccountFrom(rand)
	bob, _ := NewAccountFrom(rand)
	mallory, _ := NewAccountFrom(rand)
	created, _, _ := bob.GenerateOneTimeKeysFrom(rand, 1)
	as, err := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), created[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := as.EncryptFrom(rand, nil, []byte("first"))
	pk, _ := ParsePreKeyMessage(first.Body)
	bs, _, err := bob.NewInboundSession(pk, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		s    *Session
		want key.Curve25519
	}{"outbound": {as, bob.Curve25519()}, "inbound": {bs, alice.Curve25519()}} {
		if peer, ok := c.s.PeerIdentityKey(); !ok || peer != c.want {
			t.Fatalf("%s session: peer %s %v, want %s", name, peer, ok, c.want)
		}
		p, err := c.s.Pickle(testPickleKey)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := UnpickleSession(testPickleKey, p)
		if err != nil {
			t.Fatal(err)
		}
		if peer, ok := loaded.PeerIdentityKey(); !ok || peer != c.want {
			t.Fatalf("%s session after a pickle: peer %s %v", name, peer, ok)
		}
	}

	// Alice's second message is still a pre-key message; Mallory swaps the
	// identity key in its header for his own.
	second, _ := as.EncryptFrom(rand, nil, []byte("second"))
	forged := bytes.Clone(second.Body)
	ik := alice.Curve25519()
	i := bytes.Index(forged, ik[:])
	if i < 0 {
		t.Fatal("identity key not found in the pre-key message")
	}
	mk := mallory.Curve25519()
	copy(forged[i:], mk[:])
	before := pickled(t, bs)
	if _, err := bs.Decrypt(nil, EncryptedMessage{TypePreKey, forged}); !errors.Is(err, ErrIdentityKeyMismatch) {
		t.Fatalf("a pre-key message naming another sender: %v, want ErrIdentityKeyMismatch", err)
	}
	if pickled(t, bs) != before {
		t.Fatal("the refused message changed the session")
	}
	// Also with the base key or the one-time key replaced.
	for _, k := range []key.Curve25519{pk.BaseKey, pk.OneTimeKey} {
		other := bytes.Clone(second.Body)
		j := bytes.Index(other, k[:])
		copy(other[j:], mk[:])
		if _, err := bs.Decrypt(nil, EncryptedMessage{TypePreKey, other}); !errors.Is(err, ErrIdentityKeyMismatch) {
			t.Fatalf("a pre-key message of another session: %v, want ErrIdentityKeyMismatch", err)
		}
	}
	if pt, err := bs.Decrypt(nil, second); err != nil || string(pt) != "second" {
		t.Fatalf("the genuine message: %q %v", pt, err)
	}

	// NewInboundSession refuses a message whose identity key is not the
	// one the caller expects (the envelope's sender_key).
	created, _, _ = bob.GenerateOneTimeKeysFrom(rand, 1)
	as2, _ := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), created[0].Key)
	m, _ := as2.EncryptFrom(rand, nil, []byte("hi"))
	pk2, _ := ParsePreKeyMessage(m.Body)
	if _, _, err := bob.NewInboundSession(pk2, &InboundOptions{TheirIdentityKey: &mk}); !errors.Is(err, ErrIdentityKeyMismatch) {
		t.Fatalf("NewInboundSession with another sender_key: %v", err)
	}
	if len(bob.OneTimeKeys()) != 1 {
		t.Fatal("the refused message used up the one-time key")
	}
}

// TestBindPeer: a session loaded from libolm's pickle (which does not store
// the peer) has no peer until bound, and binds only to keys consistent with
// its state.
func TestBindPeer(t *testing.T) {
	d := newDuo(t)
	for name, c := range map[string]struct {
		s           *Session
		ours, peer  key.Curve25519
		wrongPeerOK bool // an outbound session cannot check the peer
	}{
		"outbound": {d.as, d.alice.Curve25519(), d.bob.Curve25519(), true},
		"inbound":  {d.bs, d.bob.Curve25519(), d.alice.Curve25519(), false},
	} {
		load := func() *Session {
			l, err := UnpickleLibolmSession(nil, c.s.PickleLibolm(nil))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := l.PeerIdentityKey(); ok {
				t.Fatalf("%s: a libolm session knows its peer before BindPeer", name)
			}
			return l
		}
		var stranger key.Curve25519
		stranger[0] = 9
		if err := load().BindPeer(stranger, stranger); !errors.Is(err, ErrIdentityKeyMismatch) {
			t.Fatalf("%s: bound to strangers: %v", name, err)
		}
		if err := load().BindPeer(c.ours, stranger); (err == nil) != c.wrongPeerOK {
			t.Fatalf("%s: bound to another peer: %v", name, err)
		}
		l := load()
		if err := l.BindPeer(c.ours, c.peer); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if peer, ok := l.PeerIdentityKey(); !ok || peer != c.peer {
			t.Fatalf("%s: peer %s %v", name, peer, ok)
		}
		if err := l.BindPeer(c.ours, stranger); !errors.Is(err, ErrIdentityKeyMismatch) {
			t.Fatalf("%s: rebound to another peer: %v", name, err)
		}
		// The binding survives sicher's pickle, and so does its absence.
		p, _ := l.Pickle(testPickleKey)
		if r, err := UnpickleSession(testPickleKey, p); err != nil {
			t.Fatal(err)
		} else if peer, ok := r.PeerIdentityKey(); !ok || peer != c.peer {
			t.Fatalf("%s: peer after a pickle %s %v", name, peer, ok)
		}
		p, _ = load().Pickle(testPickleKey)
		if r, err := UnpickleSession(testPickleKey, p); err != nil {
			t.Fatal(err)
		} else if _, ok := r.PeerIdentityKey(); ok {
			t.Fatalf("%s: an unbound session came back bound", name)
		}
	}
}
