package megolm

import (
	"bytes"
	"errors"
	"testing"
)

// newConfigPair returns an outbound session of config c and an inbound
// session of config in made from its session key.
func newConfigPair(t testing.TB, c, in SessionConfig) (*OutboundSession, *InboundSession) {
	t.Helper()
	rnd := bytes.Repeat([]byte{0x5c}, randomSize)
	out, err := NewOutboundSessionWithConfig(bytes.NewReader(rnd), c)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionConfig(in); err != nil {
		t.Fatal(err)
	}
	return out, s
}

func TestSessionConfigV2RoundTrip(t *testing.T) {
	out, in := newConfigPair(t, SessionConfigV2, SessionConfigV2)
	for i, pt := range []string{"", "one", "a message of more than one AES block"} {
		msg := out.Encrypt(nil, []byte(pt))
		if msg[0] != 4 || len(msg) != messageLenMAC(uint32(i), len(pt), 32) {
			t.Fatalf("message %d: version %d, %d bytes", i, msg[0], len(msg))
		}
		m, err := ParseMessage(msg)
		if err != nil || m.Version() != 4 || len(m.MAC()) != 32 {
			t.Fatalf("parse: %v", err)
		}
		got, idx, err := in.Decrypt(nil, msg)
		if err != nil || idx != uint32(i) || string(got) != pt {
			t.Fatalf("message %d: %q %d %v", i, got, idx, err)
		}
	}
	if in.SessionConfig() != SessionConfigV2 {
		t.Fatal("config lost")
	}
}

func TestSessionConfigV1RefusesV2(t *testing.T) {
	out, in := newConfigPair(t, SessionConfigV2, 0)
	out.Encrypt(nil, []byte("skip index 0"))
	msg := out.Encrypt(nil, []byte("x"))
	before := inboundPickle(t, in)
	_, _, err := in.Decrypt(nil, msg)
	if !errors.Is(err, ErrSessionConfigV2) || !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrAuthentication) {
		t.Fatalf("v1 session, v2 message: %v", err)
	}
	if inboundPickle(t, in) != before {
		t.Fatal("the refused message changed the session")
	}
	// A forged v2 message (bad signature) is an authentication failure,
	// not a claim about the sender's app.
	forged := bytes.Clone(msg)
	forged[len(forged)-1] ^= 1
	if _, _, err := in.Decrypt(nil, forged); !errors.Is(err, ErrAuthentication) || errors.Is(err, ErrSessionConfigV2) {
		t.Fatalf("forged v2 message: %v", err)
	}
	// A v2 session refuses a v1 message.
	out1, in2 := newConfigPair(t, 0, SessionConfigV2)
	if _, _, err := in2.Decrypt(nil, out1.Encrypt(nil, []byte("v1"))); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("v2 session, v1 message: %v", err)
	}
	// A v2 message with a wrong MAC fails authentication in a v2 session.
	_, in3 := newConfigPair(t, SessionConfigV2, SessionConfigV2)
	bad := bytes.Clone(msg)
	bad[len(bad)-signatureSize-1] ^= 1 // last MAC byte, beyond the 8 of v1
	if _, _, err := in3.Decrypt(nil, bad); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("tampered v2 MAC: %v", err)
	}
}

func TestSessionConfigPickle(t *testing.T) {
	_, v1 := newConfigPair(t, 0, 0)
	_, v2 := newConfigPair(t, SessionConfigV2, SessionConfigV2)
	p1, p2 := inboundPickle(t, v1), inboundPickle(t, v2)
	if len(p2) <= len(p1) {
		t.Fatal("the v2 pickle does not record the config")
	}
	for _, c := range []struct {
		p    string
		want SessionConfig
	}{{p1, 0}, {p2, SessionConfigV2}} {
		s, err := UnpickleInboundSession(&testPickleKey, c.p)
		if err != nil || s.SessionConfig() != c.want {
			t.Fatalf("unpickle: %v, config %d want %d", err, s.SessionConfig(), c.want)
		}
	}
	if _, err := v2.PickleLibolm([]byte("k")); !errors.Is(err, ErrSessionConfigV2) {
		t.Fatalf("libolm pickle of a v2 session: %v", err)
	}
	out, err := NewOutboundSessionWithConfig(nil, SessionConfigV2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.PickleLibolm([]byte("k")); !errors.Is(err, ErrSessionConfigV2) {
		t.Fatalf("libolm pickle of a v2 outbound session: %v", err)
	}
	po, err := out.Pickle(&testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnpickleOutboundSession(&testPickleKey, po)
	if err != nil || back.config != SessionConfigV2 {
		t.Fatalf("outbound pickle: %v, config %d", err, back.config)
	}
	// Merge refuses copies of different configs.
	if _, err := v1.Merge(v2); err == nil {
		t.Fatal("merged sessions of different configs")
	}
}

func TestSessionConfigInvalid(t *testing.T) {
	_, in := newConfigPair(t, 0, 0)
	if err := in.SetSessionConfig(7); err == nil || in.SessionConfig() != 0 {
		t.Fatal("accepted config 7")
	}
	if err := in.SetSessionConfig(1); err != nil || in.SessionConfig() != 0 {
		t.Fatal("config 1 (vodozemac's number for v1) is not v1")
	}
	if _, err := NewOutboundSessionWithConfig(nil, 3); err == nil {
		t.Fatal("accepted config 3")
	}
}

// FuzzDecryptSessionConfig feeds mutations of v1 and v2 messages to a v1
// and a v2 session of the same key: nothing panics, a session accepts only
// its own version, a refused message changes nothing, and
// ErrSessionConfigV2 only ever comes from the v1 session.
func FuzzDecryptSessionConfig(f *testing.F) {
	out2, _ := newConfigPair(f, SessionConfigV2, 0)
	rnd := bytes.Repeat([]byte{0x5c}, randomSize)
	out1, err := NewOutboundSessionFrom(bytes.NewReader(rnd))
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		f.Add(out2.Encrypt(nil, bytes.Repeat([]byte{'a'}, i*9)))
		f.Add(out1.Encrypt(nil, bytes.Repeat([]byte{'b'}, i*9)))
	}
	f.Add([]byte{4})
	sk := out1.SessionKey()
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, c := range []SessionConfig{0, SessionConfigV2} {
			in, err := NewInboundSession(sk)
			if err != nil {
				t.Fatal(err)
			}
			if err := in.SetSessionConfig(c); err != nil {
				t.Fatal(err)
			}
			in.AdvanceTo(0)
			before := inboundPickle(t, in)
			_, _, err = in.Decrypt(nil, msg)
			if err == nil && msg[0] != c.messageVersion() {
				t.Fatalf("config %d decrypted a version %d message", c, msg[0])
			}
			if err != nil && inboundPickle(t, in) != before {
				t.Fatalf("config %d: a refused message changed the session: %v", c, err)
			}
			if errors.Is(err, ErrSessionConfigV2) && c == SessionConfigV2 {
				t.Fatal("a v2 session reported ErrSessionConfigV2")
			}
		}
	})
}
