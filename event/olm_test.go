package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

type device struct {
	user, id string
	acct     *olm.Account
}

func newDevice(t testing.TB, user, id string) *device {
	t.Helper()
	a, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	return &device{user, id, a}
}

func (d *device) deviceKeys(t testing.TB) *signing.DeviceKeys {
	t.Helper()
	dk, err := signing.NewDeviceKeys(d.user, d.id, nil, d.acct.Curve25519(), d.acct.Ed25519(), d.acct)
	if err != nil {
		t.Fatal(err)
	}
	return dk
}

// oneTimeKey makes `to` publish a one-time key and returns it.
func (d *device) oneTimeKey(t testing.TB) key.Curve25519 {
	t.Helper()
	created, _, err := d.acct.GenerateOneTimeKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	d.acct.MarkKeysAsPublished()
	return created[0].Key
}

// outbound starts an Olm session from d to `to` with a fresh one-time key.
func (d *device) outbound(t testing.TB, to *device) *olm.Session {
	t.Helper()
	s, err := d.acct.NewOutboundSession(to.acct.Curve25519(), to.oneTimeKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payload returns a valid Olm payload from d to `to`.
func (d *device) payload(to *device, typ string, content string) map[string]any {
	return map[string]any{
		"type":           typ,
		"content":        json.RawMessage(content),
		"sender":         d.user,
		"recipient":      to.user,
		"recipient_keys": map[string]any{"ed25519": to.acct.Ed25519()},
		"keys":           map[string]any{"ed25519": d.acct.Ed25519()},
	}
}

// rawContent encrypts any payload (valid or not) with s, as a sender
// that does not follow the rules would.
func (d *device) rawContent(t testing.TB, s *olm.Session, to *device, payload any) []byte {
	t.Helper()
	pt, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Encrypt(nil, pt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(OlmContent{Algorithm: algorithmOlm, SenderKey: d.acct.Curve25519(),
		Ciphertext: map[string]olm.EncryptedMessage{to.acct.Curve25519().String(): m}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (d *device) encrypt(t testing.TB, s *olm.Session, to *device, typ, content string) []byte {
	t.Helper()
	c, _, err := EncryptOlm(d.acct, s, OlmEncryptParams{Sender: d.user, Recipient: to.user,
		RecipientEd25519: to.acct.Ed25519(), RecipientCurve25519: to.acct.Curve25519(),
		Type: typ, Content: json.RawMessage(content)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func params(from, to *device, sessions ...*olm.Session) OlmDecryptParams {
	return OlmDecryptParams{Sender: from.user, OwnUserID: to.user, Sessions: sessions}
}

func TestOlmRoundTrip(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	as := alice.outbound(t, bob)
	otks := bob.acct.StoredOneTimeKeys()

	content, payload, err := EncryptOlm(alice.acct, as, OlmEncryptParams{Sender: alice.user, Recipient: bob.user,
		RecipientEd25519: bob.acct.Ed25519(), RecipientCurve25519: bob.acct.Curve25519(),
		Type: "m.test", Content: json.RawMessage(`{"n":1}`), SenderDeviceKeys: alice.deviceKeys(t),
		Extra: map[string]json.RawMessage{"org.example.extra": json.RawMessage(`true`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"m.test"`, `"sender":"@alice:example.org"`, `"recipient":"@bob:example.org"`,
		`"recipient_keys":{"ed25519":"` + bob.acct.Ed25519().String(), `"keys":{"ed25519":"` + alice.acct.Ed25519().String(),
		`"sender_device_keys":{`, `"org.example.extra":true`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload lacks %s: %s", want, payload)
		}
	}
	var c map[string]any
	json.Unmarshal(content, &c)
	if c["algorithm"] != algorithmOlm || c["sender_key"] != alice.acct.Curve25519().String() {
		t.Fatalf("content %s", content)
	}

	p := params(alice, bob)
	p.SenderDevice = alice.deviceKeys(t)
	ev, err := DecryptOlm(bob.acct, content, p)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.NewSession || ev.Type != "m.test" || string(ev.SecretContent()) != `{"n":1}` || ev.SenderKey != alice.acct.Curve25519() ||
		ev.SenderEd25519 != alice.acct.Ed25519() || !ev.SenderEd25519Known || ev.SenderDeviceKeys == nil || !bytes.Equal(ev.SecretPayload(), payload) {
		t.Fatalf("event %+v", ev)
	}
	if bob.acct.StoredOneTimeKeys() != otks-1 {
		t.Fatal("one-time key not removed after success")
	}
	bs := ev.Session
	if bs.ID() != as.ID() {
		t.Fatal("session ids differ")
	}
	// A second pre-key message of the same session goes to the stored session.
	content2 := alice.encrypt(t, as, bob, "m.test", `{"n":2}`)
	ev2, err := DecryptOlm(bob.acct, content2, params(alice, bob, bs))
	if err != nil || ev2.NewSession || ev2.Session != bs {
		t.Fatalf("second pre-key: %v %+v", err, ev2)
	}
	// Bob answers with a normal message, Alice decrypts it with her session
	// among others.
	other := alice.outbound(t, newDevice(t, "@carol:example.org", "C"))
	reply := bob.encrypt(t, bs, alice, "m.test", `{"n":3}`)
	ev3, err := DecryptOlm(alice.acct, reply, params(bob, alice, other, as))
	if err != nil || ev3.Session != as || ev3.NewSession || string(ev3.SecretContent()) != `{"n":3}` {
		t.Fatalf("reply: %v %+v", err, ev3)
	}
	if !as.HasReceivedMessage() {
		t.Fatal("decrypting session not updated")
	}
	// Now Alice sends normal messages.
	n := alice.encrypt(t, as, bob, "m.test", `{"n":4}`)
	if !strings.Contains(string(n), `"type":1`) {
		t.Fatalf("expected a normal message: %s", n)
	}
	if ev, err := DecryptOlm(bob.acct, n, params(alice, bob, bs)); err != nil || string(ev.SecretContent()) != `{"n":4}` {
		t.Fatalf("normal: %v", err)
	}
	// Replaying it fails: the key was used.
	if _, err := DecryptOlm(bob.acct, n, params(alice, bob, bs)); !errors.Is(err, ErrNoSession) || !errors.Is(err, ErrUnknownIndex) {
		t.Fatalf("replay: %v", err)
	}
}

func TestOlmFallbackKey(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	if _, err := bob.acct.GenerateFallbackKey(); err != nil {
		t.Fatal(err)
	}
	fb, _ := bob.acct.FallbackKey()
	var known []*olm.Session
	for i := range 2 { // a fallback key serves several sessions
		s, err := alice.acct.NewOutboundSession(bob.acct.Curve25519(), fb.Key)
		if err != nil {
			t.Fatal(err)
		}
		content := alice.encrypt(t, s, bob, typeDummy, `{}`)
		if _, err := DecryptOlm(bob.acct, content, params(alice, bob, known...)); err == nil {
			t.Fatal("fallback-key session accepted without SessionsComplete")
		}
		p := params(alice, bob, known...)
		p.SessionsComplete = true
		ev, err := DecryptOlm(bob.acct, content, p)
		if err != nil || !ev.NewSession || ev.Type != typeDummy {
			t.Fatalf("session %d: %v", i, err)
		}
		known = append(known, ev.Session)
		if k, ok := bob.acct.FallbackKey(); !ok || k != fb {
			t.Fatal("fallback key removed by use")
		}
	}
}

// Each validation rule of the spec (v1.19) refuses the event, and nothing
// changes: the one-time key stays, an existing session does not move.
func TestOlmValidation(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	mallory := newDevice(t, "@mallory:example.org", "EVIL")
	aliceKeys := alice.deviceKeys(t)
	aliceKeysJSON, _ := aliceKeys.MarshalJSON()
	malloryKeysJSON, _ := mallory.deviceKeys(t).MarshalJSON()
	// Alice's keys as Mallory claims them: same user, other Curve key.
	otherCurve, _ := signing.NewDeviceKeys(alice.user, alice.id, nil, mallory.acct.Curve25519(), alice.acct.Ed25519(), alice.acct)
	otherCurveJSON, _ := otherCurve.MarshalJSON()
	badSig := bytes.Replace(aliceKeysJSON, []byte(`"m.megolm.v1.aes-sha2"`), []byte(`"m.megolm.v2"`), 1)

	tests := []struct {
		name   string
		mutate func(p map[string]any)
		params func(p *OlmDecryptParams)
		want   error
	}{
		{"sender is not the event sender", func(p map[string]any) { p["sender"] = "@mallory:example.org" }, nil, &ValidationError{Rule: "sender"}},
		{"recipient is another user", func(p map[string]any) { p["recipient"] = "@carol:example.org" }, nil, &ValidationError{Rule: "recipient"}},
		{"recipient key is another device's", func(p map[string]any) {
			p["recipient_keys"] = map[string]any{"ed25519": mallory.acct.Ed25519()}
		}, nil, &ValidationError{Rule: "recipient_keys.ed25519"}},
		{"keys.ed25519 not the known device key", func(p map[string]any) {
			p["keys"] = map[string]any{"ed25519": mallory.acct.Ed25519()}
		}, func(p *OlmDecryptParams) { p.SenderEd25519 = ptr(alice.acct.Ed25519()) }, &ValidationError{Rule: "keys.ed25519"}},
		{"keys.ed25519 not the known device's", func(p map[string]any) {
			p["keys"] = map[string]any{"ed25519": mallory.acct.Ed25519()}
		}, func(p *OlmDecryptParams) { p.SenderDevice = aliceKeys }, &ValidationError{Rule: "keys.ed25519"}},
		{"known device is another user's", nil, func(p *OlmDecryptParams) {
			d, _ := signing.NewDeviceKeys("@carol:example.org", "ALICE", nil, alice.acct.Curve25519(), alice.acct.Ed25519(), alice.acct)
			p.SenderDevice = d
		}, &ValidationError{Rule: "sender"}},
		{"known device has another Curve25519 key", nil, func(p *OlmDecryptParams) { p.SenderDevice = otherCurve }, &ValidationError{Rule: "sender_key"}},
		{"sender_device_keys of another user", func(p map[string]any) { p["sender_device_keys"] = json.RawMessage(malloryKeysJSON) }, nil, &ValidationError{Rule: "sender_device_keys"}},
		{"sender_device_keys with another Curve25519 key", func(p map[string]any) { p["sender_device_keys"] = json.RawMessage(otherCurveJSON) }, nil, &ValidationError{Rule: "sender_device_keys"}},
		{"sender_device_keys with another Ed25519 key", func(p map[string]any) {
			p["sender_device_keys"] = json.RawMessage(aliceKeysJSON)
			p["keys"] = map[string]any{"ed25519": mallory.acct.Ed25519()}
		}, nil, &ValidationError{Rule: "sender_device_keys"}},
		{"sender_device_keys badly signed", func(p map[string]any) { p["sender_device_keys"] = json.RawMessage(badSig) }, nil, &ValidationError{Rule: "sender_device_keys"}},
		{"unstable device keys badly signed", func(p map[string]any) { p["org.matrix.msc4147.device_keys"] = json.RawMessage(badSig) }, nil, &ValidationError{Rule: "sender_device_keys"}},
		{"sender_device_keys not device keys", func(p map[string]any) { p["sender_device_keys"] = json.RawMessage(`{"a":1}`) }, nil, &ValidationError{Rule: "sender_device_keys"}},
		{"no type", func(p map[string]any) { delete(p, "type") }, nil, ErrMalformed},
		{"no content", func(p map[string]any) { delete(p, "content") }, nil, ErrMalformed},
		{"content not an object", func(p map[string]any) { p["content"] = "x" }, nil, ErrMalformed},
		{"no sender", func(p map[string]any) { delete(p, "sender") }, nil, ErrMalformed},
		{"no recipient", func(p map[string]any) { delete(p, "recipient") }, nil, ErrMalformed},
		{"no recipient_keys", func(p map[string]any) { delete(p, "recipient_keys") }, nil, ErrMalformed},
		{"recipient_keys without ed25519", func(p map[string]any) { p["recipient_keys"] = map[string]any{} }, nil, ErrMalformed},
		{"no keys", func(p map[string]any) { delete(p, "keys") }, nil, ErrMalformed},
		{"bad keys.ed25519", func(p map[string]any) { p["keys"] = map[string]any{"ed25519": "short"} }, nil, ErrMalformed},
		{"payload not an object", func(p map[string]any) { clear(p); p["x"] = []int{1} }, nil, ErrMalformed},
	}
	for _, tt := range tests {
		for _, existing := range []bool{false, true} {
			name := tt.name
			if existing {
				name += " (existing session)"
			}
			as := alice.outbound(t, bob)
			var bs *olm.Session
			if existing {
				// Set the session up with a valid first message.
				ev, err := DecryptOlm(bob.acct, alice.encrypt(t, as, bob, "m.test", `{}`), params(alice, bob))
				if err != nil {
					t.Fatal(err)
				}
				bs = ev.Session
				// Have Alice receive, so her next message is a normal one.
				if _, err := DecryptOlm(alice.acct, bob.encrypt(t, bs, alice, "m.test", `{}`), params(bob, alice, as)); err != nil {
					t.Fatal(err)
				}
			}
			pl := alice.payload(bob, "m.test", `{"ok":true}`)
			if tt.mutate != nil {
				tt.mutate(pl)
			}
			bad := alice.rawContent(t, as, bob, pl)
			otks := bob.acct.StoredOneTimeKeys()
			var before string
			p := params(alice, bob)
			if existing {
				p.Sessions = []*olm.Session{bs}
				before = fmt.Sprint(bs)
			}
			if tt.params != nil {
				tt.params(&p)
			}
			_, err := DecryptOlm(bob.acct, bad, p)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: got %v, want %v", name, err, tt.want)
				continue
			}
			if !strings.HasPrefix(err.Error(), "event: ") {
				t.Errorf("%s: error %q", name, err)
			}
			if bob.acct.StoredOneTimeKeys() != otks {
				t.Errorf("%s: one-time key removed", name)
			}
			if existing && fmt.Sprint(bs) != before {
				t.Errorf("%s: session moved:\n%s\n%s", name, before, fmt.Sprint(bs))
			}
			// The refused message used no key: decrypting it again fails
			// the same way, not with an unknown index.
			if _, err := DecryptOlm(bob.acct, bad, p); !errors.Is(err, tt.want) {
				t.Errorf("%s: second attempt: %v", name, err)
			}
		}
	}
}

func TestOlmEnvelopeErrors(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "ALICE")
	bob := newDevice(t, "@bob:example.org", "BOB")
	mallory := newDevice(t, "@mallory:example.org", "EVIL")
	as := alice.outbound(t, bob)
	good := alice.encrypt(t, as, bob, "m.test", `{}`)
	var c map[string]json.RawMessage
	json.Unmarshal(good, &c)
	with := func(k, v string) []byte {
		m := maps.Clone(c)
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
		b, _ := json.Marshal(m)
		return b
	}
	entry := string(c["ciphertext"])
	tests := []struct {
		name    string
		content []byte
		p       OlmDecryptParams
		want    error
	}{
		{"not JSON", []byte(`{`), params(alice, bob), ErrMalformed},
		{"Megolm algorithm", with("algorithm", `"m.megolm.v1.aes-sha2"`), params(alice, bob), ErrAlgorithm},
		{"no algorithm", with("algorithm", ""), params(alice, bob), ErrMalformed},
		{"no sender_key", with("sender_key", ""), params(alice, bob), ErrMalformed},
		{"bad sender_key", with("sender_key", `"AAAA"`), params(alice, bob), ErrMalformed},
		{"no ciphertext", with("ciphertext", ""), params(alice, bob), ErrMalformed},
		{"for another device", with("ciphertext", strings.Replace(entry, bob.acct.Curve25519().String(), mallory.acct.Curve25519().String(), 1)), params(alice, bob), ErrNotForThisDevice},
		{"bad type", with("ciphertext", strings.Replace(entry, `"type":0`, `"type":2`, 1)), params(alice, bob), ErrMalformed},
		{"bad body", with("ciphertext", strings.Replace(entry, `"body":"`, `"body":"!`, 1)), params(alice, bob), ErrMalformed},
		{"pre-key body as normal", with("ciphertext", strings.Replace(entry, `"type":0`, `"type":1`, 1)), params(alice, bob), ErrMalformed},
		{"sender_key is not the session's", with("sender_key", `"`+mallory.acct.Curve25519().String()+`"`), params(alice, bob), &ValidationError{Rule: "sender_key"}},
		{"no sender", good, OlmDecryptParams{OwnUserID: bob.user}, nil},
	}
	for _, tt := range tests {
		_, err := DecryptOlm(bob.acct, tt.content, tt.p)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	// A normal message with no session.
	ev, err := DecryptOlm(bob.acct, good, params(alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	DecryptOlm(alice.acct, bob.encrypt(t, ev.Session, alice, "m.test", `{}`), params(bob, alice, as))
	normal := alice.encrypt(t, as, bob, "m.test", `{}`)
	if _, err := DecryptOlm(bob.acct, normal, params(alice, bob)); !errors.Is(err, ErrNoSession) {
		t.Errorf("no session: %v", err)
	}
	// A tampered normal message fails authentication in every session.
	tampered := flipBody(t, normal, -1)
	if _, err := DecryptOlm(bob.acct, tampered, params(alice, bob, ev.Session)); !errors.Is(err, ErrNoSession) {
		t.Errorf("tampered: %v", err)
	}
	if _, err := DecryptOlm(bob.acct, normal, params(alice, bob, ev.Session)); err != nil {
		t.Errorf("untampered after tampered: %v", err)
	}
}

// CVE-2022-39251: a room key must not be accepted unless it arrived
// Olm-encrypted.
func TestRoomKeyOnlyOverOlm(t *testing.T) {
	out, _ := megolm.NewOutboundSession()
	rk, _ := RoomKeyContent("!r:x", out, false)
	// An OlmEvent built by hand is not an Olm-decrypted event.
	for _, ev := range []*OlmEvent{nil, {Type: typeRoomKey, content: rk}, {Type: typeForwardedRoomKey, content: rk}} {
		if _, err := RoomKeyFromEvent(ev); !errors.Is(err, ErrNotOlmEncrypted) {
			t.Errorf("RoomKeyFromEvent(%+v): %v", ev, err)
		}
		if _, err := ForwardedRoomKeyFromEvent(ev); !errors.Is(err, ErrNotOlmEncrypted) {
			t.Errorf("ForwardedRoomKeyFromEvent: %v", err)
		}
		if _, err := WithheldFromEvent(ev); !errors.Is(err, ErrNotOlmEncrypted) {
			t.Errorf("WithheldFromEvent: %v", err)
		}
	}
	// Megolm refuses to carry key-sharing events, both ways.
	if _, _, err := EncryptMegolm(out, MegolmEncryptParams{RoomID: "!r:x", Type: typeRoomKey, Content: rk}); !errors.Is(err, ErrNotOlmEncrypted) {
		t.Errorf("EncryptMegolm(m.room_key): %v", err)
	}
	in, _ := megolm.NewInboundSession(out.SessionKey())
	for _, typ := range []string{typeRoomKey, typeForwardedRoomKey, typeDummy, typeRoomKeyWithheld, "m.secret.send"} {
		pt, _ := json.Marshal(map[string]any{"type": typ, "content": json.RawMessage(rk), "room_id": "!r:x"})
		content, _ := json.Marshal(MegolmContent{Algorithm: algorithmMegolm, Ciphertext: b64.Encode(out.Encrypt(nil, pt)), SessionID: out.SessionID()})
		if _, err := DecryptMegolm(in, content, MegolmDecryptParams{RoomID: "!r:x", InsecureSkipSenderCheck: true}); !errors.Is(err, ErrNotOlmEncrypted) {
			t.Errorf("DecryptMegolm(%s): %v", typ, err)
		}
	}
	// And an Olm event of the wrong type is not a room key.
	alice := newDevice(t, "@alice:example.org", "A")
	bob := newDevice(t, "@bob:example.org", "B")
	ev, err := DecryptOlm(bob.acct, alice.encrypt(t, alice.outbound(t, bob), bob, "m.room_key_x", string(rk)), params(alice, bob))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RoomKeyFromEvent(ev); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong type: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// flipBody flips a bit of byte i (negative: from the end) of the single
// Olm message in content.
func flipBody(t testing.TB, content []byte, i int) []byte {
	t.Helper()
	var c OlmContent
	if err := json.Unmarshal(content, &c); err != nil {
		t.Fatal(err)
	}
	for k, m := range c.Ciphertext {
		b := bytes.Clone(m.Body)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 1
		c.Ciphertext[k] = olm.EncryptedMessage{Type: m.Type, Body: b}
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func FuzzDecryptOlm(f *testing.F) {
	alice := newDevice(f, "@alice:example.org", "A")
	bob := newDevice(f, "@bob:example.org", "B")
	as := alice.outbound(f, bob)
	pre := alice.encrypt(f, as, bob, "m.test", `{}`)
	f.Add(pre)
	ev, err := DecryptOlm(bob.acct, pre, params(alice, bob))
	if err != nil {
		f.Fatal(err)
	}
	bs := ev.Session
	DecryptOlm(alice.acct, bob.encrypt(f, bs, alice, "m.test", `{}`), params(bob, alice, as))
	f.Add(alice.encrypt(f, as, bob, "m.test", `{"n":1}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		otks := bob.acct.StoredOneTimeKeys()
		before := fmt.Sprint(bs)
		ev, err := DecryptOlm(bob.acct, content, params(alice, bob, bs))
		if err != nil {
			if fmt.Sprint(bs) != before || bob.acct.StoredOneTimeKeys() != otks {
				t.Fatal("failed decryption changed state")
			}
			return
		}
		if ev.Sender != alice.user || ev.SenderKey != alice.acct.Curve25519() {
			t.Fatalf("accepted %+v", ev)
		}
	})
}

func BenchmarkDecryptOlm(b *testing.B) {
	alice := newDevice(b, "@alice:example.org", "A")
	bob := newDevice(b, "@bob:example.org", "B")
	as := alice.outbound(b, bob)
	ev, err := DecryptOlm(bob.acct, alice.encrypt(b, as, bob, "m.test", `{}`), params(alice, bob))
	if err != nil {
		b.Fatal(err)
	}
	DecryptOlm(alice.acct, bob.encrypt(b, ev.Session, alice, "m.test", `{}`), params(bob, alice, as))
	msgs := make([][]byte, 0, 1<<12)
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		if next == len(msgs) {
			b.StopTimer()
			msgs, next = msgs[:0], 0
			for range cap(msgs) {
				msgs = append(msgs, alice.encrypt(b, as, bob, "m.test", `{"body":"hello"}`))
			}
			b.StartTimer()
		}
		if _, err := DecryptOlm(bob.acct, msgs[next], params(alice, bob, ev.Session)); err != nil {
			b.Fatal(err)
		}
		next++
	}
}

// Any change to an Olm message body (every bit of every byte, every
// prefix, a byte appended) is refused and changes neither the session nor
// the account; the untouched message then decrypts.
func TestOlmTamperEveryByte(t *testing.T) {
	alice := newDevice(t, "@alice:example.org", "A")
	bob := newDevice(t, "@bob:example.org", "B")
	as := alice.outbound(t, bob)
	pre := alice.encrypt(t, as, bob, "m.test", `{"n":0}`)
	otks := bob.acct.StoredOneTimeKeys()
	preKeyLayout := []cryptotest.TamperOption{
		cryptotest.Regions(
			cryptotest.Region{Name: "version", Start: 0, End: 1},
			cryptotest.Region{Name: "one-time key", Start: 1, End: 35},
			cryptotest.Region{Name: "base key", Start: 35, End: 69},
			cryptotest.Region{Name: "identity key", Start: 69, End: 103},
			cryptotest.Region{Name: "inner message", Start: 103, End: 0},
		),
		// The identity key field is optional (olm.PreKeyMessage): renaming
		// it to an unknown field leaves a message whose peer is the
		// envelope's sender_key, which DecryptOlm checks. The key's bytes
		// are tampered with like the rest.
		cryptotest.SkipBits(69, 70, 0xff),
	}
	var bs *olm.Session
	cryptotest.Tamper(t, olmBody(t, pre), func(body []byte) error {
		ev, err := DecryptOlm(bob.acct, withOlmBody(t, pre, body), params(alice, bob))
		if err != nil {
			if bob.acct.StoredOneTimeKeys() != otks {
				t.Fatalf("a refused pre-key message used the one-time key: %v", err)
			}
			return err
		}
		bs = ev.Session
		return nil
	}, preKeyLayout...)
	if bs == nil {
		t.Fatal("the pre-key message did not open")
	}
	if _, err := DecryptOlm(alice.acct, bob.encrypt(t, bs, alice, "m.test", `{}`), params(bob, alice, as)); err != nil {
		t.Fatal(err)
	}
	normal := alice.encrypt(t, as, bob, "m.test", `{"n":1}`)
	before := fmt.Sprint(bs)
	cryptotest.Tamper(t, olmBody(t, normal), func(body []byte) error {
		_, err := DecryptOlm(bob.acct, withOlmBody(t, normal, body), params(alice, bob, bs))
		if err != nil && fmt.Sprint(bs) != before {
			t.Fatalf("a refused message changed the session: %v", err)
		}
		return err
	})
}

// olmBody returns the body of the single ciphertext of an Olm content.
func olmBody(t testing.TB, content []byte) []byte {
	t.Helper()
	var c OlmContent
	if err := json.Unmarshal(content, &c); err != nil || len(c.Ciphertext) != 1 {
		t.Fatalf("content with one ciphertext: %v", err)
	}
	for _, m := range c.Ciphertext {
		return m.Body
	}
	return nil
}

// withOlmBody returns the Olm content with the body of its single
// ciphertext replaced.
func withOlmBody(t testing.TB, content, body []byte) []byte {
	t.Helper()
	var c OlmContent
	if err := json.Unmarshal(content, &c); err != nil {
		t.Fatal(err)
	}
	for k, m := range c.Ciphertext {
		c.Ciphertext[k] = olm.EncryptedMessage{Type: m.Type, Body: body}
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
