package megolm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sicher-go/sicher/key"
)

func TestExportedSessionRoundTrip(t *testing.T) {
	out := newTestOutbound(t, 'E')
	in, _ := NewInboundSession(out.SessionKey())
	e := NewExportedSession(in.ExportAtFirstKnownIndex(), "!room:example.org", key.Curve25519{9}, key.Ed25519{8})
	e.ForwardingCurve25519KeyChain = []string{"a", "b"}
	e.SharedHistory = true
	b, err := e.MarshalSecretJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseExportedSession(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(e) || got.SenderKey != e.SenderKey || got.SessionKey().Base64() != e.SessionKey().Base64() {
		t.Errorf("round trip: %v, want %v", got, e)
	}
	if c, ok := got.ClaimedEd25519(); !ok || c != (key.Ed25519{8}) {
		t.Errorf("ClaimedEd25519 = %v, %v", c, ok)
	}
	s, err := got.InboundSession()
	if err != nil || s.IsVerified() || s.compare(in) != equal {
		t.Errorf("InboundSession = %v, %v", s, err)
	}
	b2, _ := got.MarshalSecretJSON()
	if !bytes.Equal(b, b2) {
		t.Errorf("re-marshalled differently:\n%s\n%s", b, b2)
	}
}

func TestParseExportedSession(t *testing.T) {
	out := newTestOutbound(t, 'F')
	in, _ := NewInboundSession(out.SessionKey())
	exp := in.ExportAtFirstKnownIndex().Base64()
	id := in.SessionID().String()
	entry := func(extra string) []byte {
		return []byte(`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"not a key","session_key":"` + exp + `"` + extra + `}`)
	}
	// A malformed sender_key does not lose the session.
	e, err := ParseExportedSession(entry(`,"forwardingCurve25519KeyChain":["x"]`))
	if err != nil {
		t.Fatal(err)
	}
	if e.RawSenderKey != "not a key" || e.SenderKey != (key.Curve25519{}) || len(e.ForwardingCurve25519KeyChain) != 1 {
		t.Errorf("parsed %v", e)
	}
	if b, _ := e.MarshalSecretJSON(); !bytes.Contains(b, []byte(`"sender_key":"not a key"`)) {
		t.Errorf("raw sender_key not written back: %s", b)
	}
	// A signed session key is verified and converted.
	signed := []byte(`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"","session_key":"` + out.SessionKey().Base64() + `"}`)
	if _, err := ParseExportedSession(signed); err != nil {
		t.Errorf("signed session key: %v", err)
	}
	for _, bad := range []struct {
		name string
		in   []byte
		want error
	}{
		{"not JSON", []byte(`{`), ErrMalformed},
		{"duplicate member", entry(`,"room_id":"a","room_id":"b"`), ErrMalformed},
		{"case-folded duplicate", entry(`,"Algorithm":"x"`), ErrMalformed},
		{"no algorithm", []byte(`{"sender_key":"","session_key":"` + exp + `"}`), ErrMalformed},
		{"no sender_key", []byte(`{"algorithm":"a","session_key":"` + exp + `"}`), ErrMalformed},
		{"no session_key", []byte(`{"algorithm":"a","sender_key":""}`), ErrMalformed},
		{"bad session_key", entry(`,"session_id":"` + id + `"`)[:0], ErrMalformed},
		{"session_id of another session", entry(`,"session_id":"` + strings.Repeat("A", 43) + `"`), ErrMalformed},
		{"short session_key", []byte(`{"algorithm":"a","sender_key":"","session_key":"AQID"}`), ErrMalformed},
	} {
		if _, err := ParseExportedSession(bad.in); !errors.Is(err, bad.want) {
			t.Errorf("%s: %v, want %v", bad.name, err, bad.want)
		}
	}
	if _, err := ParseExportedSession(entry(`,"session_id":"` + id + `"`)); err != nil {
		t.Errorf("matching session_id: %v", err)
	}
	other := &ExportedSession{Algorithm: "m.megolm.v2", sessionKey: in.ExportAtFirstKnownIndex()}
	if _, err := other.InboundSession(); !errors.Is(err, ErrMalformed) {
		t.Errorf("InboundSession of another algorithm: %v", err)
	}
	if _, err := new(ExportedSession).MarshalSecretJSON(); !errors.Is(err, ErrMalformed) {
		t.Errorf("MarshalSecretJSON without a key: %v", err)
	}
}

// TestRandomness: a nil reader means crypto/rand, and a failing reader
// gives an error that wraps the reader's, never a panic.
func TestRandomness(t *testing.T) {
	if s, err := NewOutboundSessionFrom(nil); err != nil || s == nil {
		t.Fatalf("NewOutboundSessionFrom(nil) = %v, %v", s, err)
	}
	boom := errors.New("reader failed")
	if _, err := NewOutboundSessionFrom(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v", err)
	}
	if _, err := NewOutboundSessionFrom(bytes.NewReader(make([]byte, randomSize-1))); err == nil {
		t.Error("short reader accepted")
	}
	out := newTestOutbound(t, 'R')
	if _, err := out.pickleFrom(iotest.ErrReader(boom), &testPickleKey); !errors.Is(err, boom) {
		t.Errorf("pickle with a failing reader: %v", err)
	}
}
