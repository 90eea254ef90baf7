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

func TestMegolmRoundTrip(t *testing.T) {
	out, in := megolmPair(t)
	sk := key.Curve25519{1}
	content, idx, err := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`{"body":"hi","m.relates_to":{"x":1}}`),
		&MegolmEncryptOptions{SenderKey: &sk, DeviceID: "DEV"})
	if err != nil || idx != 0 {
		t.Fatal(err, idx)
	}
	var c map[string]any
	json.Unmarshal(content, &c)
	if c["algorithm"] != AlgorithmMegolm || c["session_id"] != out.SessionID().String() || c["sender_key"] != sk.String() || c["device_id"] != "DEV" {
		t.Fatalf("content %s", content)
	}
	noOpts, idx2, _ := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`{}`), nil)
	if idx2 != 1 || strings.Contains(string(noOpts), "sender_key") || strings.Contains(string(noOpts), "device_id") {
		t.Fatalf("deprecated fields sent without being asked: %s", noOpts)
	}
	var g ReplayGuard
	ev, err := DecryptMegolm(in, content, MegolmDecryptParams{RoomID: room, EventID: "$1", OriginServerTS: 5, Guard: &g})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "m.room.message" || ev.RoomID != room || ev.MessageIndex != 0 || !ev.Verified || ev.SessionID != out.SessionID() ||
		string(ev.Content) != `{"body":"hi","m.relates_to":{"x":1}}` {
		t.Fatalf("event %+v", ev)
	}
	// Re-decrypting the same event is fine; another event at index 0 is a replay.
	if _, err := DecryptMegolm(in, content, MegolmDecryptParams{RoomID: room, EventID: "$1", OriginServerTS: 5, Guard: &g}); err != nil {
		t.Fatalf("re-decrypt: %v", err)
	}
	for _, p := range []MegolmDecryptParams{
		{RoomID: room, EventID: "$2", OriginServerTS: 5, Guard: &g},
		{RoomID: room, EventID: "$1", OriginServerTS: 6, Guard: &g},
		{RoomID: room, Guard: &g},
	} {
		_, err := DecryptMegolm(in, content, p)
		var re *ReplayError
		if !errors.Is(err, ErrReplay) || !errors.As(err, &re) || re.FirstEventID != "$1" || re.Index != 0 {
			t.Errorf("replay %+v: %v", p, err)
		}
	}
	if g.Len() != 1 {
		t.Fatalf("guard remembers %d", g.Len())
	}
	// Persisting the guard keeps the verdict.
	var g2 ReplayGuard
	g2.Restore(g.Entries())
	if _, err := DecryptMegolm(in, content, MegolmDecryptParams{RoomID: room, EventID: "$3", Guard: &g2}); !errors.Is(err, ErrReplay) {
		t.Errorf("restored guard: %v", err)
	}
	g.Forget(room, out.SessionID())
	if g.Len() != 0 {
		t.Fatal("Forget")
	}
}

func TestMegolmErrors(t *testing.T) {
	out, in := megolmPair(t)
	_, other := megolmPair(t)
	content, _, _ := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`{"body":"hi"}`), nil)
	later, _, _ := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`{"body":"later"}`), nil)
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
	p := MegolmDecryptParams{RoomID: room}
	tests := []struct {
		name    string
		s       *megolm.InboundSession
		content []byte
		p       MegolmDecryptParams
		want    error
	}{
		{"wrong room", in, content, MegolmDecryptParams{RoomID: "!other:example.org"}, ErrWrongRoom},
		{"other session", other, content, p, ErrNoSession},
		{"unknown index", fromIndex1, content, p, ErrUnknownIndex},
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
		{"no room id given", in, content, MegolmDecryptParams{}, nil},
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
	_, err := DecryptMegolm(fromIndex1, content, p)
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
	if _, err := DecryptMegolm(in, later, MegolmDecryptParams{RoomID: room, Sender: "@mallory:x", SessionSender: "@alice:x"}); !errors.Is(err, ErrWrongSender) {
		t.Errorf("sender binding: %v", err)
	}
	if _, err := DecryptMegolm(in, later, MegolmDecryptParams{RoomID: room, Sender: "@alice:x", SessionSender: "@alice:x"}); err != nil {
		t.Errorf("same sender: %v", err)
	}
	// Every strict prefix of a content is refused.
	for i := range len(content) {
		if _, err := ParseMegolmContent(content[:i]); err == nil {
			t.Errorf("prefix %q parsed", content[:i])
		}
	}
	// AnyRoom skips the room check.
	if ev, err := DecryptMegolm(in, later, MegolmDecryptParams{AnyRoom: true}); err != nil || ev.RoomID != room {
		t.Errorf("AnyRoom: %v", err)
	}
	if _, _, err := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`[1]`), nil); err == nil {
		t.Error("non-object content encrypted")
	}
	if _, _, err := EncryptMegolm(out, "", "m.room.message", json.RawMessage(`{}`), nil); err == nil {
		t.Error("empty room encrypted")
	}
	// A forwarded (imported) session decrypts but is not verified.
	imp, _ := megolm.ImportInboundSession(in.ExportAtFirstKnownIndex())
	if ev, err := DecryptMegolm(imp, content, p); err != nil || ev.Verified {
		t.Errorf("imported session: %v, verified %v", err, ev != nil && ev.Verified)
	}
}

// Reference §14.6: a matrix-js-sdk Megolm event (export-format session key,
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
	_, err = DecryptMegolm(in, content, MegolmDecryptParams{RoomID: "!ROOM:ID", EventID: "$event1", OriginServerTS: 1507753886000})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "needs type") {
		t.Fatalf("got %v", err)
	}
	// With the wrong room the error is still about the payload shape, which
	// is checked first; with a wrong session it never decrypts.
	_, other := megolmPair(t)
	if _, err := DecryptMegolm(other, content, MegolmDecryptParams{RoomID: "!ROOM:ID"}); !errors.Is(err, ErrNoSession) {
		t.Fatalf("got %v", err)
	}
}

func TestMegolmAllocs(t *testing.T) {
	out, in := megolmPair(t)
	content, _, _ := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`{"body":"hello"}`), nil)
	p := MegolmDecryptParams{RoomID: room}
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
		if _, _, err := EncryptMegolm(out, room, "m.room.message", c, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptMegolm(b *testing.B) {
	out, in := megolmPair(b)
	c := json.RawMessage(`{"msgtype":"m.text","body":"Der Befund liegt vor, bitte melden Sie sich in der Praxis."}`)
	content, _, _ := EncryptMegolm(out, room, "m.room.message", c, nil)
	var g ReplayGuard
	p := MegolmDecryptParams{RoomID: room, EventID: "$e", OriginServerTS: 1, Guard: &g}
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
	content, _, _ := EncryptMegolm(out, room, "m.room.message", json.RawMessage(`{"body":"hi"}`), nil)
	f.Add(content)
	f.Add([]byte(`{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgAEjD+","session_id":"` + out.SessionID().String() + `"}`))
	var g ReplayGuard
	f.Fuzz(func(t *testing.T, c []byte) {
		before := *in
		ev, err := DecryptMegolm(in, c, MegolmDecryptParams{RoomID: room, EventID: "$x", Guard: &g})
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
		go func() { errs <- g.Check(room, sid, 7, fmt.Sprintf("$e%d", i), 1) }()
	}
	ok := 0
	for range n {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrReplay) {
			t.Fatal(err)
		}
	}
	if ok != 1 || g.Len() != 1 {
		t.Fatalf("%d winners, %d entries", ok, g.Len())
	}
	// Other rooms and sessions are independent.
	if g.Check("!other:x", sid, 7, "$x", 1) != nil || g.Check(room, key.Ed25519{2}, 7, "$x", 1) != nil {
		t.Fatal("index shared across rooms or sessions")
	}
}
