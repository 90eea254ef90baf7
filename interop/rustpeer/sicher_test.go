package rustpeer_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// sicherClient is a client written the way sicher's README tells it: an
// olm.Account, Olm sessions per peer device, Megolm sessions, and the
// event layer for everything that goes over the wire. It keeps its state
// in maps; a real client keeps it in a store.
type sicherClient struct {
	user, device string
	acct         *olm.Account
	ownKeys      *signing.DeviceKeys
	// devices are the device keys from /keys/query whose self-signature
	// was verified; sessions the Olm sessions by the peer's Curve25519 key.
	devices  map[string]map[string]*signing.DeviceKeys
	sessions map[key.Curve25519][]*olm.Session
	outbound *megolm.OutboundSession
	inbound  map[key.Ed25519]*inboundSession
	guard    event.ReplayGuard
}

// inboundSession is a Megolm session with what the m.room_key that
// brought it says about it.
type inboundSession struct {
	s    *megolm.InboundSession
	info event.SessionInfo
}

// Event types and the key algorithm of /keys/claim (client-server API,
// "End-to-end encryption").
const (
	typeEncrypted    = "m.room.encrypted"
	typeRoomKey      = "m.room_key"
	signedCurve25519 = "signed_curve25519"
)

// used moves s to the front of its list: event.DecryptOlm wants the
// sessions most recently used first.
func (c *sicherClient) used(peer key.Curve25519, s *olm.Session) {
	list := slices.DeleteFunc(c.sessions[peer], func(x *olm.Session) bool { return x == s })
	c.sessions[peer] = append([]*olm.Session{s}, list...)
}

func newSicherClient(t *testing.T, user, device string) *sicherClient {
	t.Helper()
	acct, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	own, err := signing.AccountDeviceKeys(acct, user, device, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sicherClient{
		user: user, device: device, acct: acct, ownKeys: own,
		devices:  map[string]map[string]*signing.DeviceKeys{},
		sessions: map[key.Curve25519][]*olm.Session{},
		inbound:  map[key.Ed25519]*inboundSession{},
	}
}

// upload publishes device keys, one-time keys and a fallback key.
func (c *sicherClient) upload(t *testing.T, r *relay) {
	t.Helper()
	if _, _, err := c.acct.GenerateOneTimeKeys(5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.acct.GenerateFallbackKey(); err != nil {
		t.Fatal(err)
	}
	u, err := event.KeysForUpload(c.acct, c.user, c.device, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.upload(c.user, c.device, body); err != nil {
		t.Fatal(err)
	}
	c.acct.MarkKeysAsPublished()
}

// query fetches user's device keys and keeps those whose self-signature
// verifies for the user and device they are listed under.
func (c *sicherClient) query(t *testing.T, r *relay, user string) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"device_keys": map[string][]string{user: {}}})
	resp, err := r.query(req)
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
	}
	if err := json.Unmarshal(resp, &q); err != nil {
		t.Fatal(err)
	}
	for id, raw := range q.DeviceKeys[user] {
		dk, err := signing.VerifyDeviceKeys(raw, user, id)
		if err != nil {
			t.Fatalf("device keys of %s %s: %v", user, id, err)
		}
		if c.devices[user] == nil {
			c.devices[user] = map[string]*signing.DeviceKeys{}
		}
		c.devices[user][id] = dk
	}
}

// device returns a queried device or fails.
func (c *sicherClient) deviceKeys(t *testing.T, user, device string) *signing.DeviceKeys {
	t.Helper()
	dk := c.devices[user][device]
	if dk == nil {
		t.Fatalf("%s has not queried %s %s", c.user, user, device)
	}
	return dk
}

// claim claims a one-time key of the device, checks its signature and
// opens an outbound Olm session with it.
func (c *sicherClient) claim(t *testing.T, r *relay, user, device string) *olm.Session {
	t.Helper()
	dk := c.deviceKeys(t, user, device)
	req, _ := json.Marshal(map[string]any{"one_time_keys": map[string]map[string]string{user: {device: signedCurve25519}}})
	resp, err := r.claim(req)
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
	}
	if err := json.Unmarshal(resp, &cl); err != nil {
		t.Fatal(err)
	}
	keys := cl.OneTimeKeys[user][device]
	if len(keys) != 1 {
		t.Fatalf("claimed %d keys of %s %s", len(keys), user, device)
	}
	for _, raw := range keys {
		sk, err := signing.VerifySignedKey(raw, user, device, dk.Ed25519)
		if err != nil {
			t.Fatalf("claimed key of %s %s: %v", user, device, err)
		}
		s, err := c.acct.NewOutboundSession(dk.Curve25519, sk.Key)
		if err != nil {
			t.Fatal(err)
		}
		c.used(dk.Curve25519, s)
		return s
	}
	panic("unreachable")
}

// sendOlm encrypts a to-device event for one device with session s,
// queues it at the relay and returns the Olm message type it used
// (olm.TypePreKey or olm.TypeMessage).
func (c *sicherClient) sendOlm(t *testing.T, r *relay, s *olm.Session, user, device, typ string, content json.RawMessage) int {
	t.Helper()
	dk := c.deviceKeys(t, user, device)
	enc, _, err := event.EncryptOlm(c.acct, s, event.OlmEncryptParams{
		Sender: c.user, Recipient: user,
		RecipientEd25519: dk.Ed25519, RecipientCurve25519: dk.Curve25519,
		Type: typ, Content: content,
		SenderDeviceKeys: c.ownKeys,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.used(dk.Curve25519, s)
	body, _ := json.Marshal(map[string]any{"messages": map[string]map[string]json.RawMessage{user: {device: enc}}})
	if _, err := r.sendToDevice(c.user, typeEncrypted, body); err != nil {
		t.Fatal(err)
	}
	oc, err := event.ParseOlmContent(enc)
	if err != nil {
		t.Fatal(err)
	}
	return int(oc.Ciphertext[dk.Curve25519.String()].Type)
}

// sync reads the relay's to-device events for us and decrypts the Olm
// ones with event.DecryptOlm; m.room_key events become inbound sessions.
func (c *sicherClient) sync(t *testing.T, r *relay) []*event.OlmEvent {
	t.Helper()
	var out []*event.OlmEvent
	for _, raw := range r.sync(c.user, c.device).ToDevice {
		var ev struct {
			Type    string          `json:"type"`
			Sender  string          `json:"sender"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != typeEncrypted {
			t.Fatalf("unencrypted to-device event %s", ev.Type)
		}
		oc, err := event.ParseOlmContent(ev.Content)
		if err != nil {
			t.Fatal(err)
		}
		// The sending device is the queried device of ev.Sender with the
		// envelope's sender key.
		var sender *signing.DeviceKeys
		for _, dk := range c.devices[ev.Sender] {
			if dk.Curve25519 == oc.SenderKey {
				sender = dk
			}
		}
		if sender == nil {
			t.Fatalf("to-device event from unknown device %s of %s", oc.SenderKey, ev.Sender)
		}
		dec, err := event.DecryptOlm(c.acct, ev.Content, event.OlmDecryptParams{
			Sender: ev.Sender, OwnUserID: c.user,
			Sessions: c.sessions[oc.SenderKey], SessionsComplete: true, SenderDevice: sender,
		})
		if err != nil {
			t.Fatalf("DecryptOlm from %s: %v", ev.Sender, err)
		}
		c.used(oc.SenderKey, dec.Session)
		if dec.Type == typeRoomKey {
			rk, err := event.RoomKeyFromEvent(dec)
			if err != nil {
				t.Fatal(err)
			}
			s, err := rk.InboundSession()
			if err != nil {
				t.Fatal(err)
			}
			c.inbound[rk.Info.SessionID] = &inboundSession{s: s, info: rk.Info}
		}
		out = append(out, dec)
	}
	return out
}

// encrypt encrypts a room event with our outbound Megolm session, with the
// deprecated sender_key and device_id if asked.
func (c *sicherClient) encrypt(t *testing.T, typ string, content json.RawMessage, deprecated bool) json.RawMessage {
	t.Helper()
	p := event.MegolmEncryptParams{RoomID: room, Type: typ, Content: content}
	if deprecated {
		p.SenderKey, p.DeviceID = new(c.acct.Curve25519()), c.device
	}
	enc, _, err := event.EncryptMegolm(c.outbound, p)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// decrypt decrypts an m.room.encrypted room event with the inbound session
// it names, binding it to the user who shared the session and checking the
// sending device against our /keys/query result.
func (c *sicherClient) decrypt(ev json.RawMessage) (*event.RoomEvent, error) {
	var e struct {
		Sender         string          `json:"sender"`
		EventID        string          `json:"event_id"`
		OriginServerTS int64           `json:"origin_server_ts"`
		Content        json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(ev, &e); err != nil {
		return nil, err
	}
	mc, err := event.ParseMegolmContent(e.Content)
	if err != nil {
		return nil, err
	}
	in := c.inbound[mc.SessionID]
	if in == nil {
		return nil, fmt.Errorf("no inbound session %s", mc.SessionID)
	}
	var device *signing.DeviceKeys
	for _, dk := range c.devices[in.info.Sender] {
		if dk.Curve25519 == in.info.SenderKey {
			device = dk
		}
	}
	return event.DecryptMegolm(in.s, e.Content, event.MegolmDecryptParams{
		RoomID: room, Sender: e.Sender, Session: in.info, SenderDevice: device,
		EventID: e.EventID, OriginServerTS: e.OriginServerTS, Guard: &c.guard,
	})
}

// TestSicherAndRust exchanges room keys and room messages both ways
// between a sicher event-level client and matrix-sdk-crypto through the
// relay: rust → sicher as an Olm pre-key message carrying m.room_key and
// Megolm m.room.encrypted events, decrypted with event.DecryptOlm and
// event.DecryptMegolm; sicher → rust the same on a session sicher opens;
// then sicher sends a normal Olm message on the session rust opened.
func TestSicherAndRust(t *testing.T) {
	r := newRelay()
	rust := rustpeer.ForTest(t, "@rust:example.org", "RUSTDEV")
	rustID := rust.IdentityKeys().UserID
	sicher := newSicherClient(t, "@sicher:example.org", "SICHERDEV")

	// Both publish their keys; each queries the other.
	r.flush(t, rust)
	r.syncRust(t, rust)
	sicher.upload(t, r)
	if err := rust.UpdateTrackedUsers(sicher.user); err != nil {
		t.Fatal(err)
	}
	r.syncRust(t, rust)
	r.flush(t, rust)
	d, err := rust.Device(sicher.user, sicher.device)
	if err != nil || d == nil {
		t.Fatalf("rust does not know sicher's device: %v %v", d, err)
	}
	if d.Curve25519 != sicher.acct.Curve25519().String() || d.Ed25519 != sicher.acct.Ed25519().String() {
		t.Fatalf("rust has sicher's device as %+v", d)
	}
	sicher.query(t, r, rustID)
	rk := rust.IdentityKeys()
	if dk := sicher.deviceKeys(t, rustID, "RUSTDEV"); dk.Curve25519.String() != rk.Curve25519 || dk.Ed25519.String() != rk.Ed25519 {
		t.Fatalf("sicher has rust's device as %v %v, want %s %s", dk.Curve25519, dk.Ed25519, rk.Curve25519, rk.Ed25519)
	}

	t.Run("rust to sicher", func(t *testing.T) {
		claim, err := rust.GetMissingSessions(sicher.user)
		if err != nil {
			t.Fatal(err)
		}
		if claim == nil {
			t.Fatal("rust has no session to claim for sicher")
		}
		if claim.Type != rustpeer.KeysClaim {
			t.Fatalf("claim request of type %s", claim.Type)
		}
		r.send(t, rust, *claim)
		reqs, err := rust.ShareRoomKey(room, []string{sicher.user}, rustpeer.ShareSettings{})
		if err != nil {
			t.Fatal(err)
		}
		for _, req := range reqs {
			r.send(t, rust, req)
		}
		content, err := rust.EncryptRoomEvent(room, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"Antwort"}`))
		if err != nil {
			t.Fatal(err)
		}

		evs := sicher.sync(t, r)
		if len(evs) != 1 || evs[0].Type != typeRoomKey || !evs[0].NewSession {
			t.Fatalf("sicher's to-device events: %v", evs)
		}
		if evs[0].SenderDeviceKeys == nil {
			t.Log("rust sent no sender_device_keys")
		} else if evs[0].SenderDeviceKeys.DeviceID != "RUSTDEV" {
			t.Errorf("sender_device_keys for %s", evs[0].SenderDeviceKeys.DeviceID)
		}
		if !evs[0].SenderEd25519Known || evs[0].SenderEd25519.String() != rk.Ed25519 {
			t.Errorf("room key from %v", evs[0])
		}

		got, err := sicher.decrypt(roomEvent(t, rustID, "$r1", content))
		if err != nil {
			t.Fatalf("sicher cannot decrypt rust's Megolm event: %v", err)
		}
		var body struct{ Body string }
		json.Unmarshal(got.Content, &body)
		if got.Type != "m.room.message" || body.Body != "Antwort" || got.MessageIndex != 0 || got.Sender != rustID ||
			got.Provenance != event.OverOlm || !got.SenderChecked || !got.SenderDeviceKnown || got.SenderKey.String() != rk.Curve25519 {
			t.Errorf("sicher decrypted %v (body %q)", got, body.Body)
		}

		// A second rust message; then the replay of the first is refused.
		content2, err := rust.EncryptRoomEvent(room, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"noch eine"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := sicher.decrypt(roomEvent(t, rustID, "$r2", content2)); err != nil || got.MessageIndex != 1 {
			t.Fatalf("second message: %v %v", got, err)
		}
		if _, err := sicher.decrypt(roomEvent(t, rustID, "$r1-again", content)); err == nil {
			t.Error("sicher accepted a replayed message index under another event ID")
		}
		if _, err := sicher.decrypt(roomEvent(t, "@mallory:example.org", "$r3", content2)); err == nil {
			t.Error("sicher accepted rust's session for another sender")
		}
	})

	t.Run("sicher to rust", func(t *testing.T) {
		s := sicher.claim(t, r, rustID, "RUSTDEV")
		out, err := megolm.NewOutboundSession()
		if err != nil {
			t.Fatal(err)
		}
		sicher.outbound = out
		rkc, err := event.RoomKeyContent(room, out, false)
		if err != nil {
			t.Fatal(err)
		}
		if typ := sicher.sendOlm(t, r, s, rustID, "RUSTDEV", typeRoomKey, rkc); typ != olm.TypePreKey {
			t.Fatalf("the first message of a new session has type %d", typ)
		}

		evs := r.syncRust(t, rust)
		if len(evs) != 1 || evs[0].Kind != "Decrypted" {
			t.Fatalf("rust's to-device events: %+v", evs)
		}
		var got struct{ Type, Sender string }
		json.Unmarshal(evs[0].Event, &got)
		if got.Type != typeRoomKey || got.Sender != sicher.user {
			t.Fatalf("rust decrypted %s from %s, want m.room_key from %s", got.Type, got.Sender, sicher.user)
		}
		// The library checks an m.room_key's sender device lazily: its
		// encryption info may leave the device ID empty.
		if info := evs[0].EncryptionInfo; info.Sender != sicher.user || (info.SenderDevice != "" && info.SenderDevice != sicher.device) || info.SenderCurve25519Key != sicher.acct.Curve25519().String() {
			t.Errorf("rust sees the room key as from %+v", info)
		}

		// Without the deprecated sender_key/device_id (spec v1.3 on) and
		// with them, for older readers.
		cases := []struct {
			name       string
			deprecated bool
		}{
			{"v1.3 content", false},
			{"deprecated fields", true},
		}
		for i, tc := range cases {
			text := fmt.Sprintf("Befund %d ist da", i)
			content := sicher.encrypt(t, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"`+text+`"}`), tc.deprecated)
			dec, err := rust.DecryptRoomEvent(room, roomEvent(t, sicher.user, fmt.Sprintf("$s%d", i), content))
			if err != nil {
				t.Fatalf("%s: rust cannot decrypt sicher's Megolm event: %v", tc.name, err)
			}
			var body struct{ Body string }
			json.Unmarshal(dec.Content, &body)
			if dec.Type != "m.room.message" || body.Body != text || dec.Sender != sicher.user ||
				dec.SenderDevice != sicher.device || dec.SenderCurve25519Key != sicher.acct.Curve25519().String() ||
				dec.SenderClaimedEd25519Key != sicher.acct.Ed25519().String() {
				t.Errorf("%s: rust decrypted %+v (body %q)", tc.name, dec, body.Body)
			}
			t.Logf("%s: shield %+v", tc.name, dec.Shield)
		}

		// Rust refuses the event when the server claims another sender
		// (the session is bound to the user who shared it).
		content := sicher.encrypt(t, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"spoofed"}`), false)
		dec, err := rust.DecryptRoomEvent(room, roomEvent(t, "@mallory:example.org", "$spoof", content))
		if err == nil && dec.Shield.Code != "MismatchedSender" {
			t.Errorf("rust accepted a spoofed sender without a warning: %+v", dec)
		}
		if err != nil {
			t.Logf("spoofed sender: %v", err)
		} else {
			t.Logf("spoofed sender: decrypted with shield %+v", dec.Shield)
		}
	})

	t.Run("sicher answers on the session rust opened", func(t *testing.T) {
		// sicher has the inbound session rust opened; a message on it is
		// a normal (not pre-key) Olm message.
		ss := sicher.sessions[sicher.deviceKeys(t, rustID, "RUSTDEV").Curve25519]
		var inbound *olm.Session
		for _, s := range ss {
			if s.HasReceivedMessage() {
				inbound = s
			}
		}
		if inbound == nil {
			t.Skip("no session that received a message")
		}
		out, err := megolm.NewOutboundSession()
		if err != nil {
			t.Fatal(err)
		}
		sicher.outbound = out
		rkc, err := event.RoomKeyContent(room, out, true)
		if err != nil {
			t.Fatal(err)
		}
		if typ := sicher.sendOlm(t, r, inbound, rustID, "RUSTDEV", typeRoomKey, rkc); typ != olm.TypeMessage {
			t.Fatalf("a reply on an established session has type %d", typ)
		}
		evs := r.syncRust(t, rust)
		if len(evs) != 1 || evs[0].Kind != "Decrypted" {
			t.Fatalf("rust's to-device events: %+v", evs)
		}
		content := sicher.encrypt(t, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"rotated"}`), false)
		if dec, err := rust.DecryptRoomEvent(room, roomEvent(t, sicher.user, "$s-rot", content)); err != nil {
			t.Fatalf("rust cannot decrypt after rotation: %v", err)
		} else if dec.Sender != sicher.user {
			t.Errorf("rotated: %+v", dec)
		}
	})

	t.Run("key shared after the first message", func(t *testing.T) {
		// A session key shared at index 1 cannot decrypt index 0: rust
		// reports UnknownMessageIndex, and then decrypts index 1.
		out, err := megolm.NewOutboundSession()
		if err != nil {
			t.Fatal(err)
		}
		sicher.outbound = out
		early := sicher.encrypt(t, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"zu früh"}`), false)
		rkc, err := event.RoomKeyContent(room, out, false)
		if err != nil {
			t.Fatal(err)
		}
		s := sicher.sessions[sicher.deviceKeys(t, rustID, "RUSTDEV").Curve25519][0]
		sicher.sendOlm(t, r, s, rustID, "RUSTDEV", typeRoomKey, rkc)
		if evs := r.syncRust(t, rust); len(evs) != 1 || evs[0].Kind != "Decrypted" {
			t.Fatalf("rust's to-device events: %+v", evs)
		}
		late := sicher.encrypt(t, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"rechtzeitig"}`), false)
		_, err = rust.DecryptRoomEvent(room, roomEvent(t, sicher.user, "$early", early))
		if !rustpeer.IsType(err, "UnknownMessageIndex") {
			t.Errorf("index 0 with a key from index 1: %v, want UnknownMessageIndex", err)
		}
		if _, err := rust.DecryptRoomEvent(room, roomEvent(t, sicher.user, "$late", late)); err != nil {
			t.Errorf("index 1: %v", err)
		}
	})
}
