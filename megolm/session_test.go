package megolm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
)

type sessionVector struct {
	Name            string   `json:"name"`
	SessionKey      string   `json:"session_key"`
	SessionID       string   `json:"session_id"`
	FirstKnownIndex uint32   `json:"first_known_index"`
	Message         string   `json:"message"`
	MessageIndex    uint32   `json:"message_index"`
	PlaintextHex    string   `json:"plaintext_hex"`
	BadMessage      string   `json:"bad_message"`
	BadMessageError string   `json:"bad_message_error"`
	FromLibolm      []string `json:"from_libolm"`
}

func loadSessionVectors(t testing.TB) []sessionVector {
	var f struct {
		Source  string          `json:"source"`
		Vectors []sessionVector `json:"vectors"`
	}
	loadJSON(t, "session_vectors.json", &f)
	if len(f.Vectors) != 3 {
		t.Fatalf("want 3 session vectors, have %d", len(f.Vectors))
	}
	return f.Vectors
}

// TestSessionVectors replays V5 (libolm test_group_session.cpp
// export/import: "Message" at index 0), V6 (the invalid-signature case: the
// good message decrypts, the one with its last base64 character changed to
// 'E' fails with a bad signature) and V7 (android OlmGroupSessionTest
// test18: a real-world key at index 12, an emoji message at 13). Source
// strings are in session_vectors.json.
func TestSessionVectors(t *testing.T) {
	for _, v := range loadSessionVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			sk, err := parseSessionKeyText(v.SessionKey)
			if err != nil {
				t.Fatal(err)
			}
			if got := sk.Base64(); got != v.SessionKey {
				t.Errorf("re-encoded session key differs:\n%s\n%s", got, v.SessionKey)
			}
			s, err := NewInboundSession(sk)
			if err != nil {
				t.Fatal(err)
			}
			if s.SessionID().String() != v.SessionID {
				t.Errorf("session id %s, want %s", s.SessionID(), v.SessionID)
			}
			if s.FirstKnownIndex() != v.FirstKnownIndex || !s.IsVerified() {
				t.Errorf("first known %d verified %t", s.FirstKnownIndex(), s.IsVerified())
			}
			pt, idx, err := decryptBase64(s, v.Message)
			if err != nil {
				t.Fatal(err)
			}
			if idx != v.MessageIndex || hex.EncodeToString(pt) != v.PlaintextHex {
				t.Errorf("got %d %q, want %d %s", idx, pt, v.MessageIndex, v.PlaintextHex)
			}
			if v.BadMessage != "" {
				before := *s
				_, _, err := decryptBase64(s, v.BadMessage)
				if !errors.Is(err, ErrAuthentication) {
					t.Errorf("tampered message: %v, want ErrAuthentication (libolm: %s)", err, v.BadMessageError)
				}
				if !sameState(s, &before) {
					t.Error("failed decryption changed the session")
				}
			}
			// A parsed message's bytes decrypt alike.
			m, err := decodeMessage(v.Message)
			if err != nil {
				t.Fatal(err)
			}
			if pt3, idx3, err := s.Decrypt(nil, m.Bytes()); err != nil || idx3 != idx || !bytes.Equal(pt3, pt) {
				t.Errorf("Decrypt(m.Bytes()): %q %d %v", pt3, idx3, err)
			}
			if _, _, err := s.Decrypt(nil, nil); !errors.Is(err, ErrMalformed) {
				t.Errorf("Decrypt(nil): %v", err)
			}
			// Again, now from the latest ratchet: same result.
			pt2, idx2, err := decryptBase64(s, v.Message)
			if err != nil || idx2 != idx || !bytes.Equal(pt, pt2) {
				t.Errorf("second decryption: %q %d %v", pt2, idx2, err)
			}
		})
	}
}

// TestExportImportV5 is libolm's "Inbound group session export/import" with
// vodozemac's verification rule: the imported copy decrypts but stays
// unverified (libolm flips it to verified).
func TestExportImportV5(t *testing.T) {
	v := loadSessionVectors(t)[0]
	sk, err := parseSessionKeyText(v.SessionKey)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := NewInboundSession(sk)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := s1.Export(0)
	if err != nil {
		t.Fatal(err)
	}
	text := exp.Base64()
	if len(text) != 220 || text[:2] != "AQ" {
		t.Errorf("export %q: want 220 characters starting AQ", text)
	}
	imp, err := parseExportedKeyText(text)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ImportInboundSession(imp)
	if err != nil {
		t.Fatal(err)
	}
	if s2.IsVerified() {
		t.Error("imported session is verified")
	}
	pt, idx, err := decryptBase64(s2, v.Message)
	if err != nil || string(pt) != "Message" || idx != 0 {
		t.Fatalf("imported session: %q %d %v", pt, idx, err)
	}
	if s2.IsVerified() {
		t.Error("decryption flipped an imported session to verified (libolm does; sicher follows vodozemac)")
	}
	// A signed key given where an exported one is expected: verified, then
	// imported unverified.
	e2, err := parseExportedKeyText(v.SessionKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e2.Bytes(), exp.Bytes()) {
		t.Error("0x02 key accepted as export differs from the export")
	}
	bad := []byte(v.SessionKey)
	bad[len(bad)-3] ^= 1
	if _, err := parseExportedKeyText(string(bad)); !errors.Is(err, ErrAuthentication) {
		t.Errorf("0x02 key with a bad signature as export: %v", err)
	}
	// Merging with the verified copy upgrades it.
	m, err := s2.Merge(s1)
	if err != nil || !m.IsVerified() {
		t.Errorf("merge: %v verified=%v", err, m != nil && m.IsVerified())
	}
}

// newTestOutbound makes an outbound session from a fixed byte pattern.
func newTestOutbound(t testing.TB, tag byte) *OutboundSession {
	t.Helper()
	rnd := bytes.Repeat([]byte{tag}, randomSize)
	for i := range rnd {
		rnd[i] ^= byte(i)
	}
	s, err := NewOutboundSessionFrom(bytes.NewReader(rnd))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	out := newTestOutbound(t, 'A')
	sk := out.SessionKey()
	if sk.Index() != 0 || sk.SessionID() != out.SessionID() || len(sk.Base64()) != 306 {
		t.Fatalf("session key %v", sk)
	}
	in, err := NewInboundSession(sk)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		pt := bytes.Repeat([]byte{byte(i)}, i)
		msg := out.Encrypt([]byte("prefix"), pt)
		if string(msg[:6]) != "prefix" {
			t.Fatal("Encrypt did not append")
		}
		msg = msg[6:]
		if len(msg) != messageLen(uint32(i), len(pt)) {
			t.Fatalf("message %d: %d bytes, MessageLen says %d", i, len(msg), messageLen(uint32(i), len(pt)))
		}
		got, idx, err := in.Decrypt([]byte("x"), msg)
		if err != nil || idx != uint32(i) || !bytes.Equal(got[1:], pt) || got[0] != 'x' {
			t.Fatalf("message %d: %v %d %v", i, len(got), idx, err)
		}
	}
	if out.MessageIndex() != 300 || in.latest.counter != 299 || in.FirstKnownIndex() != 0 {
		t.Errorf("indices: out %d latest %d first %d", out.MessageIndex(), in.latest.counter, in.FirstKnownIndex())
	}
}

func TestOutOfOrderAndLateJoiner(t *testing.T) {
	out := newTestOutbound(t, 'B')
	k0 := out.SessionKey()
	var msgs [][]byte
	for i := range 10 {
		msgs = append(msgs, out.Encrypt(nil, []byte(fmt.Sprint("msg ", i))))
	}
	late := out.SessionKey() // at index 10
	msgs = append(msgs, out.Encrypt(nil, []byte("msg 10")))

	early, err := NewInboundSession(k0)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{7, 3, 9, 0, 10, 5, 5} {
		pt, idx, err := early.Decrypt(nil, msgs[i])
		if err != nil || idx != uint32(i) || string(pt) != fmt.Sprint("msg ", i) {
			t.Fatalf("message %d: %q %d %v", i, pt, idx, err)
		}
	}
	if early.latest.counter != 10 {
		t.Errorf("latest ratchet at %d, want 10", early.latest.counter)
	}
	in, err := NewInboundSession(late)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = in.Decrypt(nil, msgs[9])
	var ue *UnknownIndexError
	if !errors.As(err, &ue) || ue.Index != 9 || ue.FirstKnown != 10 || !errors.Is(err, ErrUnknownIndex) {
		t.Fatalf("message before the first known index: %v", err)
	}
	if _, err := in.Export(9); !errors.As(err, &ue) || ue.FirstKnown != 10 {
		t.Errorf("export below first known: %v", err)
	}
	if pt, idx, err := in.Decrypt(nil, msgs[10]); err != nil || idx != 10 || string(pt) != "msg 10" {
		t.Errorf("late joiner: %q %d %v", pt, idx, err)
	}
}

func TestExportAtAnyIndex(t *testing.T) {
	out := newTestOutbound(t, 'C')
	in, err := NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []uint32{0, 1, 2, 255, 256, 1000, 65536, 1 << 24, 0xffffffff} {
		e, err := in.Export(at)
		if err != nil || e.Index() != at {
			t.Fatalf("Export(%d): %v", at, err)
		}
		want := in.initial
		want.advanceTo(at)
		if e.r != want || e.SessionID() != in.SessionID() {
			t.Errorf("Export(%d) holds the wrong ratchet", at)
		}
		s2, err := ImportInboundSession(e)
		if err != nil || s2.FirstKnownIndex() != at || s2.IsVerified() {
			t.Fatalf("import at %d: %v", at, err)
		}
		if s2.ExportAtFirstKnownIndex().Base64() != e.Base64() {
			t.Errorf("re-export at %d differs", at)
		}
	}
	// Exporting from below the latest ratchet uses the initial one.
	for range 5 {
		m := out.Encrypt(nil, []byte("x"))
		if _, _, err := in.Decrypt(nil, m); err != nil {
			t.Fatal(err)
		}
	}
	e, err := in.Export(2)
	if err != nil {
		t.Fatal(err)
	}
	want := in.initial
	want.advanceTo(2)
	if e.r != want {
		t.Error("Export(2) after decrypting 0..4 holds the wrong ratchet")
	}
}

func TestAdvanceToForgets(t *testing.T) {
	out := newTestOutbound(t, 'D')
	in, _ := NewInboundSession(out.SessionKey())
	var msgs [][]byte
	for range 30 {
		msgs = append(msgs, out.Encrypt(nil, []byte("m")))
	}
	if !in.AdvanceTo(10) || in.FirstKnownIndex() != 10 || in.latest.counter != 10 {
		t.Fatalf("AdvanceTo(10): first %d latest %d", in.FirstKnownIndex(), in.latest.counter)
	}
	if in.AdvanceTo(10) || in.AdvanceTo(3) {
		t.Error("AdvanceTo to an index not above the first known one reported a change")
	}
	if _, _, err := in.Decrypt(nil, msgs[9]); !errors.Is(err, ErrUnknownIndex) {
		t.Errorf("forgotten index decrypted: %v", err)
	}
	if _, idx, err := in.Decrypt(nil, msgs[25]); err != nil || idx != 25 {
		t.Fatal(err)
	}
	if !in.AdvanceTo(20) || in.FirstKnownIndex() != 20 || in.latest.counter != 25 {
		t.Errorf("AdvanceTo(20) below latest: first %d latest %d", in.FirstKnownIndex(), in.latest.counter)
	}
	if _, idx, err := in.Decrypt(nil, msgs[22]); err != nil || idx != 22 {
		t.Errorf("index 22 after AdvanceTo(20): %v", err)
	}
}

func TestCompareMerge(t *testing.T) {
	out := newTestOutbound(t, 'E')
	k0 := out.SessionKey()
	for range 5 {
		out.Encrypt(nil, nil)
	}
	k5 := out.SessionKey()
	other := newTestOutbound(t, 'F')

	at0, _ := NewInboundSession(k0)
	at5, _ := NewInboundSession(k5)
	imp0, _ := ImportInboundSession(k0.exported())
	otherS, _ := NewInboundSession(other.SessionKey())
	// Same signing key, unrelated ratchet: a forged copy.
	forged := *at0
	forged.initial.data[0] ^= 1
	forged.latest = forged.initial

	cases := []struct {
		name string
		a, b *InboundSession
		want ordering
	}{
		{"same", at0, at0, equal},
		{"import vs verified", imp0, at0, equal},
		{"earlier is better", at0, at5, better},
		{"later is worse", at5, at0, worse},
		{"other session", at0, otherS, unconnected},
		{"forged ratchet", at0, &forged, unconnected},
		{"forged ratchet, later", at5, &forged, unconnected},
	}
	for _, c := range cases {
		before := [2]InboundSession{*c.a, *c.b}
		if got := c.a.compare(c.b); got != c.want {
			t.Errorf("%s: Compare = %v, want %v", c.name, got, c.want)
		}
		if !sameState(&before[0], c.a) || !sameState(&before[1], c.b) {
			t.Errorf("%s: Compare changed a session", c.name)
		}
	}

	mergeCases := []struct {
		name         string
		a, b         *InboundSession
		first        uint32
		verified, ok bool
	}{
		{"unverified earlier + verified later", imp0, at5, 0, true, true},
		{"verified later + unverified earlier", at5, imp0, 0, true, true},
		{"equal keeps flag of either", imp0, at0, 0, true, true},
		{"unverified alone", imp0, imp0, 0, false, true},
		{"unconnected", at0, otherS, 0, false, false},
		{"forged", at5, &forged, 0, false, false},
	}
	for _, c := range mergeCases {
		m, err := c.a.Merge(c.b)
		if !c.ok {
			if !errors.Is(err, ErrUnconnected) || m != nil {
				t.Errorf("%s: Merge = %v, %v; want ErrUnconnected", c.name, m, err)
			}
			continue
		}
		if err != nil || m.FirstKnownIndex() != c.first || m.IsVerified() != c.verified {
			t.Errorf("%s: Merge = %v, %v", c.name, m, err)
		}
	}
	if imp0.IsVerified() {
		t.Error("Merge changed its receiver")
	}
}

func TestSessionKeyInvalid(t *testing.T) {
	out := newTestOutbound(t, 'G')
	good := out.SessionKey().Bytes()
	exp := out.SessionKey().exported().Bytes()
	mut := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	weak := mut(exp, func(b []byte) []byte { clear(b[133:]); b[133] = 1; return b }) // identity point
	cases := []struct {
		name     string
		b        []byte
		exported bool
		want     error
	}{
		{"empty", nil, false, ErrMalformed},
		{"short", good[:228], false, ErrMalformed},
		{"long", append(append([]byte(nil), good...), 0), false, ErrMalformed},
		{"version 1 as session key", mut(good, func(b []byte) []byte { b[0] = 1; return b }), false, ErrMalformed},
		{"version 3", mut(good, func(b []byte) []byte { b[0] = 3; return b }), false, ErrMalformed},
		{"index changed", mut(good, func(b []byte) []byte { b[4] ^= 1; return b }), false, ErrAuthentication},
		{"ratchet changed", mut(good, func(b []byte) []byte { b[50] ^= 1; return b }), false, ErrAuthentication},
		{"signature changed", mut(good, func(b []byte) []byte { b[200] ^= 1; return b }), false, ErrAuthentication},
		{"signing key changed", mut(good, func(b []byte) []byte { b[140] ^= 1; return b }), false, ErrAuthentication},
		{"export as session key", exp, false, ErrMalformed},
		{"exported short", exp[:164], true, ErrMalformed},
		{"exported long", append(append([]byte(nil), exp...), 0), true, ErrMalformed},
		{"exported version 3", mut(exp, func(b []byte) []byte { b[0] = 3; return b }), true, ErrMalformed},
		{"exported weak key", weak, true, ErrMalformed},
		{"signed key, bad signature, as export", mut(good, func(b []byte) []byte { b[228] ^= 1; return b }), true, ErrAuthentication},
	}
	for _, c := range cases {
		var err error
		var got any
		if c.exported {
			var k *ExportedSessionKey
			k, err = ParseExportedSessionKey(c.b)
			if k != nil {
				got = k
			}
		} else {
			var k *SessionKey
			k, err = ParseSessionKey(c.b)
			if k != nil {
				got = k
			}
		}
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	// Text forms.
	for _, s := range []string{"", "!!!!", good64(good) + "A", good64(good)[:305], "AgAAAA"} {
		if k, err := parseSessionKeyText(s); err == nil {
			t.Errorf("ParseSessionKey(%q) = %v", s, k)
		}
		if k, err := parseExportedKeyText(s); err == nil {
			t.Errorf("ParseExportedSessionKey(%q) = %v", s, k)
		}
	}
	if _, err := parseSessionKeyText(good64(good) + "=="); err != nil {
		t.Errorf("padded session key: %v", err)
	}
}

func good64(b []byte) string { return b64.Encode(b) }

// TestKeyStrictPrefix: no strict prefix of either key parses.
func TestKeyStrictPrefix(t *testing.T) {
	out := newTestOutbound(t, 'H')
	sk := out.SessionKey().Bytes()
	ek := out.SessionKey().exported().Bytes()
	for i := range len(sk) {
		if _, err := ParseSessionKey(sk[:i]); err == nil {
			t.Errorf("accepted a %d-byte prefix of a session key", i)
		}
	}
	for i := range len(ek) {
		if _, err := ParseExportedSessionKey(ek[:i]); err == nil {
			t.Errorf("accepted a %d-byte prefix of an exported key", i)
		}
	}
}

// TestWeakSigningKeyRefused: an exported key whose signing key has small
// order cannot make a session (strict Ed25519 would refuse every message).
func TestWeakSigningKeyRefused(t *testing.T) {
	var r ratchet
	weak := key.Ed25519{1} // the identity point
	if _, err := newInbound(&r, weak, nil, false); !errors.Is(err, ErrMalformed) || !errors.Is(err, key.ErrWeakKey) {
		t.Errorf("weak signing key: %v", err)
	}
}

// TestNonPointSigningKeyRefusedOnDecrypt: a restored session decodes its
// signing key on its first decryption; a key that is no point fails that
// decryption (wrapping key.ErrWeakKey) and leaves the session as it was.
func TestNonPointSigningKeyRefusedOnDecrypt(t *testing.T) {
	out, err := NewOutboundSession()
	if err != nil {
		t.Fatal(err)
	}
	sk := out.SessionKey()
	msg, err := decodeMessage(encryptBase64(out, []byte("hi")))
	if err != nil {
		t.Fatal(err)
	}
	var notPoint key.Ed25519
	for y := byte(2); ; y++ {
		notPoint[0] = y
		if _, err := key.NewVerifier(notPoint); err != nil && !notPoint.SmallOrder() {
			break
		}
	}
	in, err := newInbound(&sk.r, notPoint, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	before := *in
	if _, _, err := in.Decrypt(nil, msg.Bytes()); !errors.Is(err, ErrAuthentication) || !errors.Is(err, key.ErrWeakKey) {
		t.Fatalf("Decrypt = %v", err)
	}
	if !sameState(in, &before) || in.verifier != nil {
		t.Fatal("a refused decryption changed the session")
	}
	// The same session with its real key decodes it once, on success.
	in, err = newInbound(&sk.r, sk.SessionID(), nil, false)
	if err != nil || in.verifier != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Decrypt(nil, msg.Bytes()); err != nil || in.verifier == nil {
		t.Fatalf("Decrypt = %v, verifier kept: %v", err, in.verifier != nil)
	}
}

// sameState reports whether a and b hold the same session state: the
// ratchets, the signing key and the verification flag, not the decoded-key
// cache (which a restored session fills on its first decryption).
func sameState(a, b *InboundSession) bool {
	return a.initial == b.initial && a.latest == b.latest && a.signingKey == b.signingKey && a.verified == b.verified
}

// Text forms, as the event layer uses them.

func parseSessionKeyText(s string) (*SessionKey, error) {
	k := new(SessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

func parseExportedKeyText(s string) (*ExportedSessionKey, error) {
	k := new(ExportedSessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

func decodeMessage(s string) (*Message, error) {
	m := new(Message)
	if err := m.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return m, nil
}

func encryptBase64(s *OutboundSession, plaintext []byte) string {
	return b64.Encode(s.Encrypt(nil, plaintext))
}

func decryptBase64(s *InboundSession, message string) ([]byte, uint32, error) {
	m, err := decodeMessage(message)
	if err != nil {
		return nil, 0, err
	}
	return s.Decrypt(nil, m.raw)
}

func mustPickleLibolm(t testing.TB, p interface{ PickleLibolm([]byte) (string, error) }, key []byte) string {
	t.Helper()
	s, err := p.PickleLibolm(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTextMarshalling: the JSON forms of the public values, and the
// secret keys, which encoding/json reads as text but never writes.
func TestTextMarshalling(t *testing.T) {
	out := newTestOutbound(t, 'J')
	type content struct {
		SessionKey *SessionKey         `json:"session_key"`
		Exported   *ExportedSessionKey `json:"exported"`
		Ciphertext *Message            `json:"ciphertext"`
	}
	sk := out.SessionKey()
	m, err := ParseMessage(out.Encrypt(nil, []byte("json")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(content{sk, sk.exported(), m})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(sk.Base64())) || bytes.Contains(b, []byte(sk.exported().Base64())) {
		t.Fatalf("encoding/json wrote a secret key: %s", b)
	}
	in := fmt.Sprintf(`{"session_key":%q,"exported":%q,"ciphertext":%q}`, sk.Base64(), sk.exported().Base64(), b64.Encode(m.raw))
	var got content
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	if got.SessionKey.Base64() != sk.Base64() || got.Exported.Base64() != sk.exported().Base64() || !bytes.Equal(got.Ciphertext.Bytes(), m.Bytes()) {
		t.Errorf("JSON round trip differs: %s", b)
	}
	for _, bad := range []string{`{"session_key":"AgAA"}`, `{"exported":"!!"}`, `{"ciphertext":"AwgA"}`} {
		if err := json.Unmarshal([]byte(bad), new(content)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
