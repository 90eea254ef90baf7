package event

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sicher-go/sicher/internal/b64"
	"reflect"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

const room = "!room:example.org"

func megolmPair(t testing.TB) (*megolm.OutboundSession, *megolm.InboundSession) {
	t.Helper()
	out, err := megolm.NewOutboundSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	return out, in
}

const alice = "@alice:example.org"

// info is the SessionInfo a store would keep for s: shared over Olm by
// alice if s is verified, imported from an export otherwise.
func info(s *megolm.InboundSession) SessionInfo {
	p := OverOlm
	if !s.IsVerified() {
		p = Export
	}
	return SessionInfo{RoomID: room, SessionID: s.SessionID(), Sender: alice, Provenance: p}
}

// dp are the decrypt params for an event from alice in room.
func dp(s *megolm.InboundSession) MegolmDecryptParams {
	return MegolmDecryptParams{RoomID: room, Sender: alice, Session: info(s)}
}

// withGuard adds a replay guard and the event's identity to p.
func withGuard(p MegolmDecryptParams, g *ReplayGuard, id string, ts int64) MegolmDecryptParams {
	p.Guard, p.EventID, p.OriginServerTS = g, id, ts
	return p
}

func msg(t testing.TB, out *megolm.OutboundSession, content string) []byte {
	t.Helper()
	c, _, err := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: json.RawMessage(content)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMegolmRoundTrip(t *testing.T) {
	out, in := megolmPair(t)
	sk := key.Curve25519{1}
	content, idx, err := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message",
		Content: json.RawMessage(`{"body":"hi","m.relates_to":{"x":1}}`), SenderKey: &sk, DeviceID: "DEV"})
	if err != nil || idx != 0 {
		t.Fatal(err, idx)
	}
	var c map[string]any
	json.Unmarshal(content, &c)
	if c["algorithm"] != algorithmMegolm || c["session_id"] != out.SessionID().String() || c["sender_key"] != sk.String() || c["device_id"] != "DEV" {
		t.Fatalf("content %s", content)
	}
	noOpts, idx2, _ := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: json.RawMessage(`{}`)})
	if idx2 != 1 || strings.Contains(string(noOpts), "sender_key") || strings.Contains(string(noOpts), "device_id") {
		t.Fatalf("deprecated fields sent without being asked: %s", noOpts)
	}
	var g ReplayGuard
	ev, err := DecryptMegolm(in, content, withGuard(dp(in), &g, "$1", 5))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "m.room.message" || ev.RoomID != room || ev.MessageIndex != 0 || ev.Provenance != OverOlm || !ev.SenderChecked || ev.Sender != alice || ev.SessionID != out.SessionID() ||
		string(ev.Content) != `{"body":"hi","m.relates_to":{"x":1}}` {
		t.Fatalf("event %+v", ev)
	}
	// Re-decrypting the same event is fine; another event at index 0 is a replay.
	if _, err := DecryptMegolm(in, content, withGuard(dp(in), &g, "$1", 5)); err != nil {
		t.Fatalf("re-decrypt: %v", err)
	}
	for _, p := range []MegolmDecryptParams{
		withGuard(dp(in), &g, "$2", 5),
		withGuard(dp(in), &g, "$1", 6),
	} {
		_, err := DecryptMegolm(in, content, p)
		if !errors.Is(err, ErrReplay) || !strings.Contains(err.Error(), "index 0 was used by event $1 ") {
			t.Errorf("replay %+v: %v", p, err)
		}
	}
	if n := guardLen(t, &g); n != 1 {
		t.Fatalf("guard remembers %d", n)
	}
	// Persisting the guard keeps the verdict.
	var g2 ReplayGuard
	b, err := json.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g2); err != nil {
		t.Fatal(err)
	}
	if _, err := DecryptMegolm(in, content, withGuard(dp(in), &g2, "$3", 7)); !errors.Is(err, ErrReplay) {
		t.Errorf("restored guard: %v", err)
	}
	if err := g2.UnmarshalJSON([]byte(`[{"room_id":"!r","session_id":"` + out.SessionID().String() + `","index":1,"event_id":"","origin_server_ts":1}]`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("entry without event id restored: %v", err)
	}
	g.Forget(room, out.SessionID())
	if n := guardLen(t, &g); n != 0 {
		t.Fatal("Forget")
	}
}

func guardLen(t testing.TB, g *ReplayGuard) int {
	t.Helper()
	b, err := g.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var entries []any
	json.Unmarshal(b, &entries)
	return len(entries)
}

// TestReplayGuardNeedsEventID: a guard given without the event's ID and
// timestamp used to record nothing, so a replay went through; now it is an
// error, and the session does not move.
func TestReplayGuardNeedsEventID(t *testing.T) {
	out, in := megolmPair(t)
	content := msg(t, out, `{"body":"hi"}`)
	var g ReplayGuard
	for _, p := range []MegolmDecryptParams{withGuard(dp(in), &g, "", 5), withGuard(dp(in), &g, "$1", 0), withGuard(dp(in), &g, "", 0)} {
		before := *in
		if _, err := DecryptMegolm(in, content, p); err == nil {
			t.Errorf("guard without event identity accepted: %+v", p)
		}
		if !reflect.DeepEqual(before, *in) {
			t.Error("refused event moved the session")
		}
	}
	if n := guardLen(t, &g); n != 0 {
		t.Fatalf("guard recorded %d entries", n)
	}
}

func TestMegolmErrors(t *testing.T) {
	out, in := megolmPair(t)
	_, other := megolmPair(t)
	content := msg(t, out, `{"body":"hi"}`)
	later := msg(t, out, `{"body":"later"}`)
	exp, _ := in.Export(1)
	fromIndex1, _ := megolm.ImportInboundSession(exp)
	var c MegolmContent
	json.Unmarshal(content, &c)
	raw, _ := base64.RawStdEncoding.DecodeString(c.Ciphertext)
	withCiphertext := func(b []byte) []byte {
		c2 := c
		c2.Ciphertext = base64.RawStdEncoding.EncodeToString(b)
		out, _ := json.Marshal(c2)
		return out
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return withCiphertext(b)
	}
	forged := func(payload string) []byte {
		c2 := c
		c2.Ciphertext = b64.Encode(out.Encrypt(nil, []byte(payload)))
		b, _ := json.Marshal(c2)
		return b
	}
	p := dp(in)
	wrongRoom := dp(in)
	wrongRoom.RoomID, wrongRoom.Session.RoomID = "!other:example.org", "!other:example.org"
	tests := []struct {
		name    string
		s       *megolm.InboundSession
		content []byte
		p       MegolmDecryptParams
		want    error
	}{
		{"wrong room", in, content, wrongRoom, &ValidationError{Rule: "room_id"}},
		{"other session", other, content, dp(other), ErrNoSession},
		{"unknown index", fromIndex1, content, dp(fromIndex1), ErrUnknownIndex},
		{"signature flipped", in, flip(len(raw) - 1), p, ErrAuthentication},
		{"MAC flipped", in, flip(len(raw) - 65), p, ErrAuthentication},
		{"ciphertext flipped", in, flip(len(raw) - 80), p, ErrAuthentication},
		{"truncated", in, withCiphertext(raw[:len(raw)-1]), p, ErrMalformed},
		{"empty ciphertext", in, withCiphertext(nil), p, ErrMalformed},
		{"not base64", in, []byte(`{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"!!","session_id":"` + c.SessionID.String() + `"}`), p, ErrMalformed},
		{"Olm content", in, []byte(`{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"x","ciphertext":{}}`), p, ErrAlgorithm},
		{"no algorithm", in, []byte(`{"ciphertext":"x","session_id":"x"}`), p, ErrMalformed},
		{"no session_id", in, []byte(`{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"x"}`), p, ErrMalformed},
		{"bad session_id", in, []byte(`{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"x","session_id":"abc"}`), p, ErrMalformed},
		{"no room id given", in, content, MegolmDecryptParams{Sender: alice, Session: info(in)}, nil},
		{"no sender given", in, content, MegolmDecryptParams{RoomID: room, Session: info(in)}, nil},
		{"no session info given", in, content, MegolmDecryptParams{RoomID: room, Sender: alice}, nil},
		{"session info of another room", in, content, MegolmDecryptParams{RoomID: room, Sender: alice, Session: SessionInfo{RoomID: "!x", SessionID: in.SessionID(), Sender: alice, Provenance: OverOlm}}, &ValidationError{Rule: "session"}},
		{"session info of another session", in, content, MegolmDecryptParams{RoomID: room, Sender: alice, Session: info(other)}, &ValidationError{Rule: "session"}},
		{"imported session claimed OverOlm", fromIndex1, later, MegolmDecryptParams{RoomID: room, Sender: alice, Session: SessionInfo{RoomID: room, SessionID: in.SessionID(), Sender: alice, Provenance: OverOlm}}, &ValidationError{Rule: "session"}},
		{"payload without room_id", in, forged(`{"type":"m.room.message","content":{}}`), p, ErrMalformed},
		{"payload without type", in, forged(`{"room_id":"` + room + `","content":{}}`), p, ErrMalformed},
		{"payload content not object", in, forged(`{"type":"t","room_id":"` + room + `","content":[]}`), p, ErrMalformed},
		{"payload not JSON", in, forged(`{"type"`), p, ErrMalformed},
	}
	for _, tt := range tests {
		before := *tt.s
		_, err := DecryptMegolm(tt.s, tt.content, tt.p)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
		if !reflect.DeepEqual(before, *tt.s) {
			t.Errorf("%s: session changed", tt.name)
		}
	}
	// The megolm error stays reachable.
	_, err := DecryptMegolm(fromIndex1, content, dp(fromIndex1))
	var ue *megolm.UnknownIndexError
	if !errors.As(err, &ue) || ue.FirstKnown != 1 {
		t.Errorf("UnknownIndexError lost: %v", err)
	}
	// Every single-bit flip of the message is refused and changes nothing.
	for i := range raw {
		before := *in
		if _, err := DecryptMegolm(in, flip(i), p); err == nil {
			t.Errorf("flip at %d accepted", i)
		}
		if !reflect.DeepEqual(before, *in) {
			t.Fatalf("flip at %d changed the session", i)
		}
	}
	// A session binds its events to the user who shared it.
	mallory := dp(in)
	mallory.Sender = "@mallory:x"
	if _, err := DecryptMegolm(in, later, mallory); !errors.Is(err, &ValidationError{Rule: "sender"}) {
		t.Errorf("sender binding: %v", err)
	}
	if _, err := DecryptMegolm(in, later, dp(in)); err != nil {
		t.Errorf("same sender: %v", err)
	}
	// Every strict prefix of a content is refused.
	for i := range len(content) {
		if _, err := ParseMegolmContent(content[:i]); err == nil {
			t.Errorf("prefix %q parsed", content[:i])
		}
	}
	// The Insecure options skip the room and sender checks, and say so.
	if ev, err := DecryptMegolm(in, later, MegolmDecryptParams{InsecureSkipRoomCheck: true, InsecureSkipSenderCheck: true}); err != nil || ev.RoomID != room || ev.SenderChecked {
		t.Errorf("Insecure options: %v", err)
	}
	if _, _, err := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: json.RawMessage(`[1]`)}); err == nil {
		t.Error("non-object content encrypted")
	}
	if _, _, err := EncryptMegolm(out, MegolmEncryptParams{Type: "m.room.message", Content: json.RawMessage(`{}`)}); err == nil {
		t.Error("empty room encrypted")
	}
	// An imported session decrypts and says where it came from.
	imp, _ := megolm.ImportInboundSession(in.ExportAtFirstKnownIndex())
	if ev, err := DecryptMegolm(imp, content, dp(imp)); err != nil || ev.Provenance != Export {
		t.Errorf("imported session: %v", err)
	}
}

// A Megolm event as matrix-js-sdk writes it (export-format session key,
// index 0). Its payload has no "type", so DecryptMegolm refuses it as
// malformed after authenticating it; the key and message are real.
func TestMegolmJSSDKVector(t *testing.T) {
	ek := new(megolm.ExportedSessionKey)
	err := ek.UnmarshalText([]byte("AQAAAAA+rPPVHcT/tDMBb6ffG42SvM8DKBjCiQfOhmd1GhMa5YE8i0FZDNuytN/1wk8F10oAW5Cqh7IZ3IUIEjaw6ExA1XZby9dyAgJ1rAjwFuN6b8+qhZUbaAeuL4SzMvOGdvYyI3aVsSPwPKoptWzBvy+N9wMR75o7E5RYDQPmd0/OoqPttYUoz/poBJnH3bJT7EHb81p5HbdFsqNNCqfvkfCn"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.ImportInboundSession(ek)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(`{"algorithm":"m.megolm.v1.aes-sha2","session_id":"o+21hSjP+mgEmcfdslPsQdvzWnkdt0Wyo00Kp++R8Kc",` +
		`"ciphertext":"AwgAEjD+VwXZ7PoGPRS/H4kwpAsMp/g+WPvJVtPEKE8fmM9IcT/NCiwPb8PehecDKP0cjm1XO88k6Bw3D17aGiBHr5iBoP7oSw8CXULXAMTkBlmkufRQq2+d0Giy1s4/Cg5n13jSVrSb2q7VTSv1ZHAFjUCsLSfR0gxqcQs"}`)
	_, err = DecryptMegolm(in, content, MegolmDecryptParams{RoomID: "!ROOM:ID", EventID: "$event1", OriginServerTS: 1507753886000,
		InsecureSkipSenderCheck: true})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "needs type") {
		t.Fatalf("got %v", err)
	}
	// With the wrong room the error is still about the payload shape, which
	// is checked first; with a wrong session it never decrypts.
	_, other := megolmPair(t)
	if _, err := DecryptMegolm(other, content, MegolmDecryptParams{RoomID: "!ROOM:ID", InsecureSkipSenderCheck: true}); !errors.Is(err, ErrNoSession) {
		t.Fatalf("got %v", err)
	}
}

func TestMegolmAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	out, in := megolmPair(t)
	content := msg(t, out, `{"body":"hello"}`)
	p := dp(in)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := DecryptMegolm(in, content, p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 40 {
		t.Errorf("DecryptMegolm: %v allocations, budget 40", allocs)

	}
}

func BenchmarkEncryptMegolm(b *testing.B) {
	out, _ := megolmPair(b)
	c := json.RawMessage(`{"msgtype":"m.text","body":"Der Befund liegt vor, bitte melden Sie sich in der Praxis."}`)
	b.SetBytes(int64(len(c)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: c}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptMegolm(b *testing.B) {
	out, in := megolmPair(b)
	c := json.RawMessage(`{"msgtype":"m.text","body":"Der Befund liegt vor, bitte melden Sie sich in der Praxis."}`)
	content := msg(b, out, string(c))
	var g ReplayGuard
	p := withGuard(dp(in), &g, "$e", 1)
	b.SetBytes(int64(len(c)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecryptMegolm(in, content, p); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecryptMegolm(f *testing.F) {
	out, in := megolmPair(f)
	content := msg(f, out, `{"body":"hi"}`)
	f.Add(content)
	f.Add([]byte(`{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgAEjD+","session_id":"` + out.SessionID().String() + `"}`))
	var g ReplayGuard
	f.Fuzz(func(t *testing.T, c []byte) {
		before := *in
		ev, err := DecryptMegolm(in, c, withGuard(dp(in), &g, "$x", 1))
		if err != nil {
			if !reflect.DeepEqual(before, *in) {
				t.Fatal("failed decryption changed the session")
			}
			return
		}
		if ev.RoomID != room || olmOnlyTypes[ev.Type] {
			t.Fatalf("accepted %+v", ev)
		}
	})
}

// Racing decryptions of one index under different event IDs: exactly one
// wins.
func TestReplayGuardConcurrent(t *testing.T) {
	var g ReplayGuard
	sid := key.Ed25519{1}
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- g.check(room, sid, 7, fmt.Sprintf("$e%d", i), 1) }()
	}
	ok := 0
	for range n {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrReplay) {
			t.Fatal(err)
		}
	}
	if ok != 1 || guardLen(t, &g) != 1 {
		t.Fatalf("%d winners, %d entries", ok, guardLen(t, &g))
	}
	// Other rooms and sessions are independent.
	if g.check("!other:x", sid, 7, "$x", 1) != nil || g.check(room, key.Ed25519{2}, 7, "$x", 1) != nil {
		t.Fatal("index shared across rooms or sessions")
	}
}
