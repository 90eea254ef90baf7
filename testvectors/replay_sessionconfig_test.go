package testvectors_test

import (
	"bytes"
	"errors"
	"testing"

	b64pkg "github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/testvectors"
)

// TestReplaySessionConfigV2 replays sessionconfig/v2.json: a sicher with
// the default config refuses every v2 message with the typed error and
// changes nothing, one with v2 enabled decrypts them and re-encrypts them
// byte for byte from the recorded randomness; the v1 controls decrypt by
// default.
func TestReplaySessionConfigV2(t *testing.T) {
	vs := testvectors.Load[testvectors.SessionConfigV2](t, "sessionconfig/v2.json")
	seen := map[string]int{}
	for _, v := range vs {
		seen[v.Protocol]++
		t.Run(v.Name, func(t *testing.T) {
			switch v.Protocol {
			case "olm":
				replayOlmConfig(t, v)
			case "megolm":
				replayMegolmConfig(t, v)
			default:
				t.Fatalf("protocol %q", v.Protocol)
			}
		})
	}
	if seen["olm"] < 2 || seen["megolm"] < 2 {
		t.Fatalf("vectors per protocol: %v", seen)
	}
}

func decodeBody(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64pkg.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func replayMegolmConfig(t *testing.T, v testvectors.SessionConfigV2) {
	v2 := v.SessionConfig == 2
	sk, err := megolm.ParseSessionKey(decodeBody(t, v.SessionKey))
	if err != nil {
		t.Fatal(err)
	}
	def, err := megolm.NewInboundSession(sk)
	if err != nil {
		t.Fatal(err)
	}
	opted, err := megolm.NewInboundSession(sk)
	if err != nil {
		t.Fatal(err)
	}
	if err := opted.SetSessionConfig(megolm.SessionConfigV2); err != nil {
		t.Fatal(err)
	}
	if def.SessionID().String() != v.SessionID {
		t.Fatalf("session id %s", def.SessionID())
	}
	cfg := megolm.SessionConfig(0)
	if v2 {
		cfg = megolm.SessionConfigV2
	}
	out, err := megolm.NewOutboundSessionWithConfig(bytes.NewReader(v.OutboundRandom), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range v.Messages {
		body := decodeBody(t, m.Body)
		if got := out.Encrypt(nil, m.Plaintext); !bytes.Equal(got, body) {
			t.Fatalf("index %d: sicher encrypts\n%x\nthe vector has\n%x", m.Index, got, body)
		}
		right, wrong := def, opted
		if v2 {
			right, wrong = opted, def
		}
		_, _, err := wrong.Decrypt(nil, body)
		if v2 && !errors.Is(err, megolm.ErrSessionConfigV2) {
			t.Fatalf("index %d: a v1 session: %v, want ErrSessionConfigV2", m.Index, err)
		}
		if !v2 && (err == nil || errors.Is(err, megolm.ErrSessionConfigV2)) {
			t.Fatalf("index %d: a v2 session decrypts a v1 message: %v", m.Index, err)
		}
		pt, idx, err := right.Decrypt(nil, body)
		if err != nil || idx != m.Index || !bytes.Equal(pt, m.Plaintext) {
			t.Fatalf("index %d: %q, %d, %v", m.Index, pt, idx, err)
		}
	}
}

func replayOlmConfig(t *testing.T, v testvectors.SessionConfigV2) {
	v2 := v.SessionConfig == 2
	cfg := olm.SessionConfig(0)
	if v2 {
		cfg = olm.SessionConfigV2
	}
	alice, err := olm.NewAccountFrom(bytes.NewReader(v.AliceAccountRandom))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := olm.NewAccountFrom(bytes.NewReader(v.BobAccountRandom))
	if err != nil {
		t.Fatal(err)
	}
	otks, _, err := bob.GenerateOneTimeKeysFrom(bytes.NewReader(v.BobOneTimeKeyRandom), 1)
	if err != nil {
		t.Fatal(err)
	}
	if alice.Curve25519().String() != v.AliceIdentityKey || bob.Curve25519().String() != v.BobIdentityKey ||
		otks[0].Key.String() != v.BobOneTimeKey {
		t.Fatal("the accounts' public keys are not the vector's")
	}
	as, err := alice.NewOutboundSessionWithConfig(bytes.NewReader(v.AliceSessionRandom), bob.Curve25519(), otks[0].Key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var bs *olm.Session
	for i, m := range v.Messages {
		body := decodeBody(t, m.Body)
		msg := olm.EncryptedMessage{Type: m.Type, Body: body}
		sender, receiver := as, bs
		if m.From == "bob" {
			sender, receiver = bs, as
		}
		var rand *bytes.Reader
		if m.Random != nil {
			rand = bytes.NewReader(m.Random)
		}
		var got olm.EncryptedMessage
		if rand != nil {
			got, err = sender.EncryptFrom(rand, nil, m.Plaintext)
		} else {
			got, err = sender.EncryptFrom(bytes.NewReader(nil), nil, m.Plaintext)
		}
		if err != nil || got.Type != m.Type || !bytes.Equal(got.Body, body) {
			t.Fatalf("message %d: sicher encrypts type %d\n%x (%v)\nthe vector has type %d\n%x", i, got.Type, got.Body, err, m.Type, body)
		}
		if receiver == nil {
			// Bob has no session yet: the first pre-key message makes one.
			pre, err := olm.ParsePreKeyMessage(body)
			if err != nil {
				t.Fatal(err)
			}
			aliceKey := alice.Curve25519()
			if v2 {
				_, _, err = bob.NewInboundSession(pre, &olm.InboundOptions{TheirIdentityKey: &aliceKey})
				if !errors.Is(err, olm.ErrSessionConfigV2) {
					t.Fatalf("default options: %v, want ErrSessionConfigV2", err)
				}
				if bob.StoredOneTimeKeys() != 1 {
					t.Fatal("a refused pre-key message used the one-time key")
				}
			}
			// With v2 accepted, a v1 message still makes a v1 session.
			var pt []byte
			bs, pt, err = bob.NewInboundSession(pre, &olm.InboundOptions{TheirIdentityKey: &aliceKey, AcceptSessionConfigV2: true})
			if err != nil || !bytes.Equal(pt, m.Plaintext) {
				t.Fatalf("message %d: %q, %v", i, pt, err)
			}
			if bs.SessionConfig() != cfg {
				t.Fatalf("inbound session config %d", bs.SessionConfig())
			}
			continue
		}
		if v2 {
			// A v1 copy of the receiver refuses the message and does not change.
			v1 := receiver.Clone()
			pickleV1(t, v1)
			if _, err := v1.Decrypt(nil, msg); !errors.Is(err, olm.ErrSessionConfigV2) {
				t.Fatalf("message %d: a v1 session: %v, want ErrSessionConfigV2", i, err)
			}
		}
		pt, err := receiver.Decrypt(nil, msg)
		if err != nil || !bytes.Equal(pt, m.Plaintext) {
			t.Fatalf("message %d: %q, %v", i, pt, err)
		}
	}
}

// pickleV1 turns s into a v1 session with the same state, through libolm's
// pickle format, which has no session config.
func pickleV1(t *testing.T, s *olm.Session) {
	t.Helper()
	p := s.PickleLibolm([]byte("k"))
	c, err := olm.UnpickleLibolmSession([]byte("k"), p)
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionConfig() != 0 {
		t.Fatal("a libolm pickle kept the session config")
	}
	*s = *c
}
