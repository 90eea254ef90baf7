package event

import (
	"errors"
	"testing"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

// TestSessionConfigV2Reason: events of vodozemac's session config v2 fail
// with ErrAlgorithm wrapping the protocol package's ErrSessionConfigV2, not
// as malformed or forged, and an opted-in session decrypts them.
func TestSessionConfigV2Reason(t *testing.T) {
	out, err := megolm.NewOutboundSessionWithConfig(nil, megolm.SessionConfigV2)
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	content := msg(t, out, `{"body":"v2"}`)
	_, err = DecryptMegolm(in, content, dp(in))
	if !errors.Is(err, ErrAlgorithm) || !errors.Is(err, megolm.ErrSessionConfigV2) ||
		errors.Is(err, ErrMalformed) || errors.Is(err, ErrAuthentication) {
		t.Fatalf("megolm v2 event, v1 session: %v", err)
	}
	if err := in.SetSessionConfig(megolm.SessionConfigV2); err != nil {
		t.Fatal(err)
	}
	if _, err := DecryptMegolm(in, content, dp(in)); err != nil {
		t.Fatalf("opted-in session: %v", err)
	}

	alice, bob := newDevice(t, "@alice:example.org", "ALICE"), newDevice(t, "@bob:example.org", "BOB")
	as, err := alice.acct.NewOutboundSessionWithConfig(nil, bob.acct.Curve25519(), bob.oneTimeKey(t), olm.SessionConfigV2)
	if err != nil {
		t.Fatal(err)
	}
	pre := alice.encrypt(t, as, bob, "m.dummy", `{}`)
	_, err = DecryptOlm(bob.acct, pre, params(alice, bob))
	if !errors.Is(err, ErrAlgorithm) || !errors.Is(err, olm.ErrSessionConfigV2) || errors.Is(err, ErrMalformed) {
		t.Fatalf("olm v2 pre-key event: %v", err)
	}
	// A normal v2 message to a v1 copy of the session, among other
	// sessions that fail to authenticate it: the session-config reason
	// wins over ErrNoSession.
	bs, _, err := bob.acct.NewInboundSession(mustPreKey(t, bob, pre), &olm.InboundOptions{AcceptSessionConfigV2: true})
	if err != nil {
		t.Fatal(err)
	}
	reply := bob.encrypt(t, bs, alice, "m.dummy", `{}`)
	v1, err := olm.UnpickleLibolmSession([]byte("k"), as.PickleLibolm([]byte("k")))
	if err != nil {
		t.Fatal(err)
	}
	if err := v1.BindPeer(alice.acct.Curve25519(), bob.acct.Curve25519()); err != nil {
		t.Fatal(err)
	}
	other := alice.outbound(t, bob)
	_, err = DecryptOlm(alice.acct, reply, params(bob, alice, v1, other))
	if !errors.Is(err, olm.ErrSessionConfigV2) || errors.Is(err, ErrNoSession) {
		t.Fatalf("olm v2 normal event, v1 session: %v", err)
	}
	if _, err := DecryptOlm(alice.acct, reply, params(bob, alice, other, as)); err != nil {
		t.Fatalf("olm v2 normal event, v2 session: %v", err)
	}
}

// mustPreKey returns the pre-key message for `to` in an Olm event's content.
func mustPreKey(t *testing.T, to *device, content []byte) *olm.PreKeyMessage {
	t.Helper()
	c, err := ParseOlmContent(content)
	if err != nil {
		t.Fatal(err)
	}
	m, err := olm.ParsePreKeyMessage(c.Ciphertext[to.acct.Curve25519().String()].Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
