package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

// exactMembers is the reference reading of a JSON object that Python,
// JavaScript and Rust clients make: member names are exact byte strings.
// It returns the raw value of each top-level member (the last one of a
// name, as those clients keep it) and false if data is not one object.
func exactMembers(data []byte) (map[string]jsontext.Value, bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	m := map[string]jsontext.Value{}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, false
		}
		name := tok.String()
		v, err := dec.ReadValue()
		if err != nil {
			return nil, false
		}
		m[name] = bytes.Clone(v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, false
	}
	return m, true
}

// exactString reads the member path of data as a JSON string, exactly.
func exactString(t *testing.T, data []byte, path ...string) string {
	t.Helper()
	v := jsontext.Value(data)
	for _, name := range path {
		m, ok := exactMembers(v)
		if !ok {
			t.Fatalf("%s: not an object in %q", name, data)
		}
		if v, ok = m[name]; !ok {
			t.Fatalf("strict decode accepted %q but an exact reading has no %v", data, path)
		}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%v is %s, not a string, in %q", path, v, data)
	}
	return s
}

// F1: a Megolm payload with "ROOM_ID" written last. encoding/json matched
// it to room_id (case-insensitively, last wins), so a client that asked for
// the room "!evil" accepted an event every other client reads as sent to
// "!room". The strict decoder refuses the payload.
func TestMegolmPayloadCaseFoldedRoomID(t *testing.T) {
	out, in := megolmPair(t)
	pt := `{"type":"m.room.message","content":{"body":"hi"},"room_id":"` + room + `","ROOM_ID":"!evil:example.org"}`
	content, _ := json.Marshal(MegolmContent{Algorithm: algorithmMegolm, Ciphertext: b64.Encode(out.Encrypt(nil, []byte(pt))), SessionID: out.SessionID()})
	p := dp(in)
	p.RoomID, p.Session.RoomID = "!evil:example.org", "!evil:example.org"
	if _, err := DecryptMegolm(in, content, p); !errors.Is(err, ErrMalformed) {
		t.Fatalf("case-folded room_id: %v", err)
	}
}

// F1: folded duplicates of sender, recipient and keys in an Olm payload
// ("ſender" with U+017F, "\u212aeys" with the Kelvin sign, "RECIPIENT")
// used to replace the exact member for encoding/json; they are refused.
func TestOlmPayloadCaseFoldedMembers(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	mallory := newDevice(t, "@mallory:example.org", "EVIL")
	aliceEd, _ := json.Marshal(alice.acct.Ed25519())
	for _, tt := range []struct {
		name   string
		mutate func(p map[string]any)
		last   string // written after every other member
	}{
		{"ſender", func(p map[string]any) { p["sender"] = mallory.user }, `"ſender":"` + alice.user + `"`},
		{"RECIPIENT", func(p map[string]any) { p["recipient"] = "@carol:example.org" }, `"RECIPIENT":"` + bob.user + `"`},
		{"\u212aeys", func(p map[string]any) { p["keys"] = map[string]any{"ed25519": mallory.acct.Ed25519()} }, `"\u212aeys":{"ed25519":` + string(aliceEd) + `}`},
		{"duplicate sender", func(p map[string]any) { p["sender"] = mallory.user }, `"sender":"` + alice.user + `"`},
	} {
		as := alice.outbound(t, bob)
		pl := alice.payload(bob, "m.test", `{}`)
		tt.mutate(pl)
		b, _ := json.Marshal(pl)
		raw := json.RawMessage(append(b[:len(b)-1:len(b)-1], []byte(","+tt.last+"}")...))
		p := params(alice, bob)
		p.SenderEd25519 = ptr(alice.acct.Ed25519())
		if _, err := DecryptOlm(bob.acct, alice.rawContent(t, as, bob, raw), p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// F1: an m.room_key with two session_key members. The last one won; now
// the event is refused.
func TestRoomKeyDuplicateSessionKey(t *testing.T) {
	out, _ := megolm.NewOutboundSession()
	other, _ := megolm.NewOutboundSession()
	dup := `{"algorithm":"m.megolm.v1.aes-sha2","room_id":"` + room + `","session_id":"` + out.SessionID().String() +
		`","session_key":"` + other.SessionKey().Base64() + `","session_key":"` + out.SessionKey().Base64() + `"}`
	alice := newDevice(t, "@alice:example.org", "A")
	bob := newDevice(t, "@bob:example.org", "B")
	// The whole payload is refused: the strict decoder checks every
	// object in it, the content included.
	ev, err := DecryptOlm(bob.acct, alice.rawContent(t, alice.outbound(t, bob), bob, alice.payload(bob, typeRoomKey, dup)), params(alice, bob))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("duplicate session_key: %v", err)
	}
	if ev != nil {
		if _, err := RoomKeyFromEvent(ev); err == nil {
			t.Fatal("room key with two session keys accepted")
		}
	}
}

// F2: DecryptMegolm checked the event's sender against the session's only
// when the caller set both, and the package example set neither. The
// binding is now part of every decryption: leaving it out is an error,
// and only InsecureSkipSenderCheck skips it (and the result says so).
func TestMegolmSenderBindingFailsClosed(t *testing.T) {
	out, in := megolmPair(t)
	content := msg(t, out, `{"body":"hi"}`)
	for _, p := range []MegolmDecryptParams{
		{RoomID: room},
		{RoomID: room, Sender: alice},
		{RoomID: room, Session: info(in)},
	} {
		if _, err := DecryptMegolm(in, content, p); err == nil {
			t.Errorf("decrypted without the sender binding: %+v", p)
		}
	}
	mallory := dp(in)
	mallory.Sender = "@mallory:example.org"
	if _, err := DecryptMegolm(in, content, mallory); !errors.Is(err, &ValidationError{Rule: "sender"}) {
		t.Errorf("event from another user: %v", err)
	}
	// The sending device, when known, must be the session's.
	other := newDevice(t, alice, "OTHER")
	withDevice := dp(in)
	withDevice.Session.SenderKey = key.Curve25519{9}
	withDevice.SenderDevice = other.deviceKeys(t)
	if _, err := DecryptMegolm(in, content, withDevice); !errors.Is(err, &ValidationError{Rule: "sender_device"}) {
		t.Errorf("device with another key: %v", err)
	}
	withDevice.Session.SenderKey, withDevice.Session.ClaimedEd25519 = other.acct.Curve25519(), other.acct.Ed25519()
	ev, err := DecryptMegolm(in, content, withDevice)
	if err != nil || !ev.SenderDeviceKnown || !ev.SenderChecked || ev.Provenance != OverOlm {
		t.Fatalf("known device: %v %v", err, ev)
	}
	skip := MegolmDecryptParams{RoomID: room, InsecureSkipSenderCheck: true}
	if ev, err := DecryptMegolm(in, content, skip); err != nil || ev.SenderChecked {
		t.Errorf("InsecureSkipSenderCheck: %v", err)
	}
}

// F5: the envelope's sender_key must be the peer of the session that
// decrypts, for sessions we started too: Bob's reply in Alice's own
// session, relabelled as Mallory's, is refused.
func TestOlmSessionWeStartedBoundToPeer(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	mallory := newDevice(t, "@mallory:example.org", "EVIL")
	as := alice.outbound(t, bob)
	ev, err := DecryptOlm(bob.acct, alice.encrypt(t, as, bob, "m.test", `{}`), params(alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	reply := bob.encrypt(t, ev.Session, alice, "m.test", `{}`)
	var c map[string]json.RawMessage
	json.Unmarshal(reply, &c)
	c["sender_key"], _ = json.Marshal(mallory.acct.Curve25519())
	relabelled, _ := json.Marshal(c)
	before := as.PickleLibolm(nil)
	if _, err := DecryptOlm(alice.acct, relabelled, params(bob, alice, as)); !errors.Is(err, &ValidationError{Rule: "sender_key"}) {
		t.Fatalf("relabelled reply: %v", err)
	}
	if as.PickleLibolm(nil) != before {
		t.Fatal("refused message moved the session")
	}
	if _, err := DecryptOlm(alice.acct, reply, params(bob, alice, as)); err != nil {
		t.Fatalf("the genuine reply: %v", err)
	}
}

// F7: Mallory, a room member, received Alice's room key; she re-shares the
// same signed session key as her own m.room_key. Under "replace if lower
// index" her copy (from index 0) would replace Bob's copy (from index 1)
// and move the session's sender binding to her. CompareRoomKey keeps them
// apart.
func TestRoomKeyReshareKeepsSenderBinding(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	mallory := newDevice(t, "@mallory:example.org", "EVIL")
	out, _ := megolm.NewOutboundSession()
	toMallory, _ := RoomKeyContent(room, out, false)
	out.Encrypt(nil, []byte("index 0"))
	toBob, _ := RoomKeyContent(room, out, false)

	share := func(from, to *device, content []byte) (*RoomKey, *megolm.InboundSession) {
		ev, err := DecryptOlm(to.acct, from.encrypt(t, from.outbound(t, to), to, typeRoomKey, string(content)), params(from, to))
		if err != nil {
			t.Fatal(err)
		}
		rk, err := RoomKeyFromEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		s, err := rk.InboundSession()
		if err != nil {
			t.Fatal(err)
		}
		return rk, s
	}
	stored, storedSession := share(alice, bob, toBob)
	// Mallory re-shares what she got, unchanged, as her own room key.
	ev, err := DecryptOlm(mallory.acct, alice.encrypt(t, alice.outbound(t, mallory), mallory, typeRoomKey, string(toMallory)), params(alice, mallory))
	if err != nil {
		t.Fatal(err)
	}
	forged, forgedSession := share(mallory, bob, ev.SecretContent())
	if forgedSession.FirstKnownIndex() >= storedSession.FirstKnownIndex() {
		t.Fatal("test setup: the re-shared copy must know an earlier index")
	}
	merge, err := CompareRoomKey(stored.Info, storedSession, forged.Info, forgedSession)
	if merge || !errors.Is(err, &ValidationError{Rule: "session"}) {
		t.Fatalf("re-shared key: merge %v, %v", merge, err)
	}
	// The genuine earlier copy from Alice merges.
	again, againSession := share(alice, bob, toMallory)
	if merge, err := CompareRoomKey(stored.Info, storedSession, again.Info, againSession); !merge || err != nil {
		t.Fatalf("Alice's earlier copy: merge %v, %v", merge, err)
	}
	if merge, err := CompareRoomKey(stored.Info, storedSession, stored.Info, storedSession); merge || err != nil {
		t.Fatalf("same copy: merge %v, %v", merge, err)
	}
	// A forward of the right session does not displace the binding, and a
	// copy whose ratchet does not connect is kept apart.
	imp, _ := megolm.ImportInboundSession(storedSession.ExportAtFirstKnownIndex())
	fwd := stored.Info
	fwd.Provenance, fwd.Sender = Forwarded, ""
	if merge, err := CompareRoomKey(stored.Info, storedSession, fwd, imp); merge || err != nil {
		t.Fatalf("forward of the same copy: merge %v, %v", merge, err)
	}
	bad := stored.Info
	bad.SessionID = key.Ed25519{1}
	if _, err := CompareRoomKey(stored.Info, storedSession, bad, storedSession); err == nil {
		t.Fatal("an info that does not describe its session was accepted")
	}
}

// F8: a forged normal Olm message used to be tried with every stored
// session of the claimed sender key. At most maxOlmCandidates are tried,
// most recently used first.
func TestOlmForgedMessageBoundedWork(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	var sessions []*olm.Session
	for range 12 {
		ev, err := DecryptOlm(bob.acct, alice.encrypt(t, alice.outbound(t, bob), bob, "m.test", `{}`), params(alice, bob, sessions...))
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ev.Session)
	}
	// A normal message in a live session, forged by flipping a MAC bit.
	as := alice.outbound(t, bob)
	ev, err := DecryptOlm(bob.acct, alice.encrypt(t, as, bob, "m.test", `{}`), params(alice, bob, sessions...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecryptOlm(alice.acct, bob.encrypt(t, ev.Session, alice, "m.test", `{}`), params(bob, alice, as)); err != nil {
		t.Fatal(err)
	}
	forged := flipBody(t, alice.encrypt(t, as, bob, "m.test", `{}`), -1)
	all := append([]*olm.Session{ev.Session}, sessions...)

	calls := 0
	orig := decryptOlmSession
	decryptOlmSession = func(s *olm.Session, m olm.EncryptedMessage) ([]byte, error) {
		calls++
		return orig(s, m)
	}
	defer func() { decryptOlmSession = orig }()
	if _, err := DecryptOlm(bob.acct, forged, params(alice, bob, all...)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("forged: %v", err)
	}
	if calls != maxOlmCandidates {
		t.Fatalf("a forged message cost %d decryption attempts with %d sessions, want %d", calls, len(all), maxOlmCandidates)
	}
}

// F11: a replayed pre-key message to the fallback key. Without the
// session it started, it used to start a second, identical session and
// deliver its payload again; now a new fallback-key session needs
// SessionsComplete, and with the first session listed the replay is
// refused.
func TestOlmFallbackPreKeyReplay(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	bob.acct.GenerateFallbackKey()
	fb, _ := bob.acct.FallbackKey()
	s, err := alice.acct.NewOutboundSession(bob.acct.Curve25519(), fb.Key)
	if err != nil {
		t.Fatal(err)
	}
	content := alice.encrypt(t, s, bob, "m.test", `{"once":true}`)
	p := params(alice, bob)
	p.SessionsComplete = true
	first, err := DecryptOlm(bob.acct, content, p)
	if err != nil {
		t.Fatal(err)
	}
	// The replay, with the caller not handing over the first session.
	if ev, err := DecryptOlm(bob.acct, content, params(alice, bob)); err == nil {
		t.Fatalf("replayed pre-key message delivered again (new session %v)", ev.NewSession)
	}
	// With every session listed, it goes to the first session and fails.
	p.Sessions = []*olm.Session{first.Session}
	if _, err := DecryptOlm(bob.acct, content, p); err == nil {
		t.Fatal("replay accepted by the first session")
	}
}

// F12: the sender's Ed25519 key being checked is kept in the room key's
// info; a withheld notice says whether it came over Olm, and one that did
// must carry the Olm sender's key.
func TestRoomKeyAndWithheldProvenance(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	out, _ := megolm.NewOutboundSession()
	rkc, _ := RoomKeyContent(room, out, false)
	p := params(alice, bob)
	p.SenderDevice = alice.deviceKeys(t)
	ev, err := DecryptOlm(bob.acct, alice.encrypt(t, alice.outbound(t, bob), bob, typeRoomKey, string(rkc)), p)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := RoomKeyFromEvent(ev)
	if err != nil || !rk.Info.Ed25519Checked {
		t.Fatalf("Ed25519 check lost: %v", err)
	}

	notice := func(senderKey key.Curve25519) string {
		return `{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"` + senderKey.String() + `","code":"m.unverified","room_id":"` +
			room + `","session_id":"` + out.SessionID().String() + `"}`
	}
	clear, err := ParseWithheld([]byte(notice(alice.acct.Curve25519())))
	if err != nil || clear.OverOlm {
		t.Fatalf("clear notice: %v %+v", err, clear)
	}
	ev, err = DecryptOlm(bob.acct, alice.encrypt(t, alice.outbound(t, bob), bob, typeRoomKeyWithheld, notice(alice.acct.Curve25519())), params(alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	w, err := WithheldFromEvent(ev)
	if err != nil || !w.OverOlm {
		t.Fatalf("notice over Olm: %v", err)
	}
	ev, err = DecryptOlm(bob.acct, alice.encrypt(t, alice.outbound(t, bob), bob, typeRoomKeyWithheld, notice(key.Curve25519{5})), params(alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WithheldFromEvent(ev); !errors.Is(err, &ValidationError{Rule: "sender_key"}) {
		t.Fatalf("notice naming another sender: %v", err)
	}
}

// F4: an Olm event's content and payload carry room keys; they reach
// neither fmt, log/slog (text or JSON) nor encoding/json.
func TestOlmEventContentStaysOutOfLogs(t *testing.T) {
	out, _ := megolm.NewOutboundSession()
	rkc, _ := RoomKeyContent(room, out, false)
	ev, err := olmEvent(t, typeRoomKey, rkc)
	if err != nil {
		t.Fatal(err)
	}
	cryptotest.Redacted(t, ev, out.SessionKey().Bytes())
	cryptotest.Redacted(t, *ev, out.SessionKey().Bytes())
	if !strings.Contains(string(ev.SecretContent()), "session_key") {
		t.Fatal("SecretContent lost the content")
	}
}

// FuzzOlmPayload: whatever the strict decoder accepts, every field it
// read equals an exact-name reading of the same bytes.
func FuzzOlmPayload(f *testing.F) {
	f.Add([]byte(`{"type":"m.test","content":{},"sender":"@a:x","recipient":"@b:x","recipient_keys":{"ed25519":"` +
		key.Ed25519{1}.String() + `"},"keys":{"ed25519":"` + key.Ed25519{2}.String() + `"}}`))
	f.Add([]byte(`{"type":"m.test","content":{},"sender":"@a:x","ſender":"@m:x","recipient":"@b:x","recipient_keys":{"ed25519":"` +
		key.Ed25519{1}.String() + `"},"keys":{"ed25519":"` + key.Ed25519{2}.String() + `"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, err := parseOlmPayload(b)
		if err != nil {
			return
		}
		for _, c := range []struct {
			got  string
			path []string
		}{
			{*pl.Type, []string{"type"}},
			{*pl.Sender, []string{"sender"}},
			{*pl.Recipient, []string{"recipient"}},
			{pl.RecipientKeys.Ed25519.String(), []string{"recipient_keys", "ed25519"}},
			{pl.Keys.Ed25519.String(), []string{"keys", "ed25519"}},
		} {
			if want := exactString(t, b, c.path...); want != c.got {
				t.Fatalf("%v: strict %q, exact reading %q", c.path, c.got, want)
			}
		}
	})
}

// FuzzMegolmPayload: the same property for the Megolm payload.
func FuzzMegolmPayload(f *testing.F) {
	f.Add([]byte(`{"type":"m.room.message","content":{"body":"x"},"room_id":"!r:x"}`))
	f.Add([]byte(`{"type":"m.room.message","content":{},"room_id":"!r:x","ROOM_ID":"!evil:x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, err := parseMegolmPayload(b)
		if err != nil {
			return
		}
		if want := exactString(t, b, "room_id"); want != *pl.RoomID {
			t.Fatalf("room_id: strict %q, exact reading %q", *pl.RoomID, want)
		}
		if want := exactString(t, b, "type"); want != *pl.Type {
			t.Fatalf("type: strict %q, exact reading %q", *pl.Type, want)
		}
	})
}
