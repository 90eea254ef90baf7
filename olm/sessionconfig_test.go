package olm

import (
	"bytes"
	"errors"
	"testing"
)

// configPeers returns Alice's outbound session of config c to Bob, Bob's
// account, and Alice's first message (a pre-key message).
func configPeers(t testing.TB, c SessionConfig) (*Session, *Account, *PreKeyMessage) {
	t.Helper()
	alice, err := NewAccountFrom(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := NewAccountFrom(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	otks, _, err := bob.GenerateOneTimeKeysFrom(bytes.NewReader(bytes.Repeat([]byte{3}, 32)), 1)
	if err != nil {
		t.Fatal(err)
	}
	as, err := alice.NewOutboundSessionWithConfig(bytes.NewReader(bytes.Repeat([]byte{4}, 64)), bob.Curve25519(), otks[0].Key, c)
	if err != nil {
		t.Fatal(err)
	}
	m, err := as.Encrypt(nil, []byte("hello"))
	if err != nil || m.Type != TypePreKey {
		t.Fatal(err)
	}
	pre, err := ParsePreKeyMessage(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return as, bob, pre
}

func TestSessionConfigV2Conversation(t *testing.T) {
	as, bob, pre := configPeers(t, SessionConfigV2)
	if pre.Version() != 3 || pre.Message.Version() != 4 || pre.Message.macLen() != 32 {
		t.Fatalf("pre-key version %d, inner version %d", pre.Version(), pre.Message.Version())
	}
	bs, pt, err := bob.NewInboundSession(pre, &InboundOptions{AcceptSessionConfigV2: true})
	if err != nil || string(pt) != "hello" || bs.SessionConfig() != SessionConfigV2 {
		t.Fatalf("inbound: %q %v", pt, err)
	}
	for i := range 3 {
		from, to := bs, as
		if i%2 == 1 {
			from, to = as, bs
		}
		m, err := from.Encrypt(nil, []byte{byte(i)})
		if err != nil || m.Type != TypeMessage || m.Body[0] != 4 {
			t.Fatalf("message %d: %v", i, err)
		}
		if pt, err := to.Decrypt(nil, m); err != nil || !bytes.Equal(pt, []byte{byte(i)}) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

func TestSessionConfigV1RefusesV2(t *testing.T) {
	as, bob, pre := configPeers(t, SessionConfigV2)
	before := bob.appendState(nil)
	_, _, err := bob.NewInboundSession(pre, nil)
	if !errors.Is(err, ErrSessionConfigV2) || !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrAuthentication) {
		t.Fatalf("v1 account, v2 pre-key message: %v", err)
	}
	if !bytes.Equal(bob.appendState(nil), before) {
		t.Fatal("the refused pre-key message changed the account")
	}
	// A v2 pre-key message with a forged MAC is an authentication failure.
	forged := bytes.Clone(pre.raw)
	forged[len(forged)-1] ^= 1
	fp, err := ParsePreKeyMessage(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.NewInboundSession(fp, nil); !errors.Is(err, ErrAuthentication) || errors.Is(err, ErrSessionConfigV2) {
		t.Fatalf("forged v2 pre-key message: %v", err)
	}
	// An established v1 session (the same state, through libolm's pickle,
	// which has no config) refuses a v2 normal message and does not change.
	bs, _, err := bob.NewInboundSession(pre, &InboundOptions{AcceptSessionConfigV2: true})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := bs.Encrypt(nil, []byte("reply"))
	if err != nil {
		t.Fatal(err)
	}
	v1, err := UnpickleLibolmSession([]byte("k"), as.PickleLibolm([]byte("k")))
	if err != nil || v1.SessionConfig() != 0 {
		t.Fatal(err)
	}
	state := v1.appendState(nil)
	if _, err := v1.Decrypt(nil, reply); !errors.Is(err, ErrSessionConfigV2) {
		t.Fatalf("v1 session, v2 message: %v", err)
	}
	if !bytes.Equal(v1.appendState(nil), state) {
		t.Fatal("the refused message changed the session")
	}
	// A v2 session refuses a v1 message.
	v1reply, err := v1.Encrypt(nil, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Decrypt(nil, v1reply); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("v2 session, v1 message: %v", err)
	}
	// The v2 session still decrypts.
	if pt, err := as.Decrypt(nil, reply); err != nil || string(pt) != "reply" {
		t.Fatalf("v2 session: %q %v", pt, err)
	}
}

func TestSessionConfigPickle(t *testing.T) {
	as, _, _ := configPeers(t, SessionConfigV2)
	var k [PickleKeySize]byte
	p, err := as.Pickle(&k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnpickleSession(&k, p)
	if err != nil || back.SessionConfig() != SessionConfigV2 {
		t.Fatalf("unpickle: %v", err)
	}
	st := as.appendState(nil)
	if st[0] != 0x43 {
		t.Fatalf("pickle version %#x", st[0])
	}
	v1, _, _ := configPeers(t, 0)
	if st := v1.appendState(nil); st[0] != 3 {
		t.Fatalf("v1 pickle version %d changed", st[0])
	}
	if _, err := (&Account{}).NewOutboundSessionWithConfig(nil, v1.aliceIdentity, v1.bobOneTime, 5); err == nil {
		t.Fatal("accepted config 5")
	}
}

// FuzzSessionConfigMessage mutates v2 and v1 normal messages and gives
// them to a v1 and a v2 copy of one session: nothing panics, each session
// accepts only its own version, a refused message changes nothing, and
// ErrSessionConfigV2 comes only from the v1 copy.
func FuzzSessionConfigMessage(f *testing.F) {
	as, bob, pre := configPeers(f, SessionConfigV2)
	bs, _, err := bob.NewInboundSession(pre, &InboundOptions{AcceptSessionConfigV2: true})
	if err != nil {
		f.Fatal(err)
	}
	m, err := bs.Encrypt(nil, []byte("reply"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.Body)
	f.Add(append([]byte{3}, m.Body[1:len(m.Body)-24]...))
	f.Add([]byte{4, 0x0a, 0x20})
	v2State := as.appendState(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []SessionConfig{0, SessionConfigV2} {
			s, err := parseSessionState(v2State)
			if err != nil {
				t.Fatal(err)
			}
			s.config = c
			before := s.appendState(nil)
			_, err = s.Decrypt(nil, EncryptedMessage{Type: TypeMessage, Body: b})
			if err == nil && b[0] != c.messageVersion() {
				t.Fatalf("config %d decrypted a version %d message", c, b[0])
			}
			if err != nil && !bytes.Equal(s.appendState(nil), before) {
				t.Fatalf("a refused message changed the session: %v", err)
			}
			if errors.Is(err, ErrSessionConfigV2) && c == SessionConfigV2 {
				t.Fatal("a v2 session reported ErrSessionConfigV2")
			}
		}
	})
}
