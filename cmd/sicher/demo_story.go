package main

// The demo's story, part one: devices, an Olm session and a room key,
// room messages, and a device that joins late.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

const (
	demoRoom  = "!praxis:example.org"
	demoAlice = "@alice:example.org"
	demoBob   = "@bob:example.org"
)

// demoDevice is a device in the story and what the server knows of it.
type demoDevice struct {
	user, id string
	acct     *olm.Account
	upload   demoUpload // what /keys/upload received
}

type demoUpload struct {
	DeviceKeys   json.RawMessage            `json:"device_keys"`
	OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
	FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
}

// demoStory holds the state that passes from step to step.
type demoStory struct {
	*demoRun
	alice, bobPhone, bobLaptop, bobTablet *demoDevice
	aliceKeys, bobKeys                    *signing.DeviceKeys // as each other fetched and verified them

	aliceOlm, bobOlm *olm.Session // Alice's session with Bob's phone, and Bob's end of it
	aliceRoom        *megolm.OutboundSession
	bobRoom          *megolm.OutboundSession
	bobInbound       *megolm.InboundSession // Bob's phone's copy of Alice's room session
	bobOwnInbound    *megolm.InboundSession // Bob's phone's copy of his own room session
	bobInboundInfo   event.SessionInfo
	firstMessage     []byte // Alice's first room event (index 0)
	events           int
}

func newDemoStory(d *demoRun) *demoStory { return &demoStory{demoRun: d} }

func (s *demoStory) play() {
	s.devices()
	s.olmAndRoomKey()
	s.roomMessages()
	s.lateDevice()
	s.verification()
	s.backup()
	s.document()
	s.machine()
}

// short abbreviates a public key or id for the narration.
func short(v string) string {
	if len(v) <= 12 {
		return v
	}
	return v[:10] + "…"
}

func (s *demoStory) newDevice(user, id string, oneTimeKeys int, fallback bool) *demoDevice {
	acct, err := olm.NewAccountFrom(s.rand)
	s.must("create the account of "+id, err)
	if oneTimeKeys > 0 {
		_, _, err := acct.GenerateOneTimeKeysFrom(s.rand, oneTimeKeys)
		s.must("generate one-time keys", err)
	}
	if fallback {
		_, err := acct.GenerateFallbackKeyFrom(s.rand)
		s.must("generate a fallback key", err)
	}
	up, err := event.KeysForUpload(acct, user, id, nil)
	s.must("build the /keys/upload body", err)
	body, err := json.Marshal(up)
	s.must("encode the /keys/upload body", err)
	dev := &demoDevice{user: user, id: id, acct: acct}
	s.must("decode the /keys/upload body", json.Unmarshal(body, &dev.upload))
	acct.MarkKeysAsPublished()
	return dev
}

// queryKeys is what another device does with /keys/query: it verifies the
// device keys' self-signature and that they are for the device asked for.
func (s *demoStory) queryKeys(dev *demoDevice, by string) *signing.DeviceKeys {
	dk, err := signing.VerifyDeviceKeys(dev.upload.DeviceKeys, dev.user, dev.id)
	s.check(fmt.Sprintf("%s verifies the self-signature of %s's device keys", by, dev.id), err)
	if err != nil {
		panic(demoAbort{err}) // recorded by check; the demo's run recovers it (see demoRun.must)
	}
	s.expect(fmt.Sprintf("%s's published keys are its account's identity keys", dev.id),
		dk.Curve25519 == dev.acct.Curve25519() && dk.Ed25519 == dev.acct.Ed25519(), "published keys differ")
	return dk
}

// claimKey is /keys/claim: the claimer verifies the one-time key's
// signature with the device's Ed25519 key.
func (s *demoStory) claimKey(dev *demoDevice, dk *signing.DeviceKeys, by string) key.Curve25519 {
	ids := make([]string, 0, len(dev.upload.OneTimeKeys))
	for id := range dev.upload.OneTimeKeys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		s.must("claim a one-time key", errors.New("no one-time keys published"))
	}
	raw := dev.upload.OneTimeKeys[ids[0]]
	delete(dev.upload.OneTimeKeys, ids[0]) // the server hands it out once
	otk, err := signing.VerifySignedKey(raw, dev.user, dev.id, dk.Ed25519)
	s.check(fmt.Sprintf("%s verifies the signature on %s's one-time key %s", by, dev.id, ids[0]), err)
	if err != nil {
		panic(demoAbort{err}) // recorded by check; the demo's run recovers it (see demoRun.must)
	}
	return otk.Key
}

func (s *demoStory) nextEventID() string {
	s.events++
	return fmt.Sprintf("$event%d", s.events)
}

func (s *demoStory) devices() {
	s.step("Alice and Bob create their devices and publish signed keys")
	s.alice = s.newDevice(demoAlice, "ALICEPHONE", 0, false)
	s.bobPhone = s.newDevice(demoBob, "BOBPHONE", 5, true)
	for _, dev := range []*demoDevice{s.alice, s.bobPhone} {
		extra := ""
		if n := len(dev.upload.OneTimeKeys); n > 0 {
			extra = fmt.Sprintf("; %d signed one-time keys and %d fallback key", n, len(dev.upload.FallbackKeys))
		}
		s.say("%s %s publishes device keys: Curve25519 %s, Ed25519 %s%s",
			dev.user, dev.id, short(dev.acct.Curve25519().String()), short(dev.acct.Ed25519().String()), extra)
	}
	s.bobKeys = s.queryKeys(s.bobPhone, "Alice")
	s.aliceKeys = s.queryKeys(s.alice, "Bob")

	// A server that swaps the Curve25519 key of Bob's device keys (to
	// read what Alice sends) breaks the signature.
	var obj map[string]any
	s.must("decode device keys", json.Unmarshal(s.bobPhone.upload.DeviceKeys, &obj))
	obj["keys"].(map[string]any)["curve25519:BOBPHONE"] = s.alice.acct.Curve25519().String()
	forged, _ := json.Marshal(obj)
	_, err := signing.VerifyDeviceKeys(forged, demoBob, "BOBPHONE")
	s.refused("device keys with a Curve25519 key swapped by the server are refused", err, signing.ErrAuthentication)
}

func (s *demoStory) olmAndRoomKey() {
	s.step("Alice opens an Olm session and shares her Megolm room key")
	otk := s.claimKey(s.bobPhone, s.bobKeys, "Alice")
	var err error
	s.aliceOlm, err = s.alice.acct.NewOutboundSessionFrom(s.rand, s.bobKeys.Curve25519, otk)
	s.must("create the outbound Olm session", err)
	s.say("Alice's Olm session %s uses Bob's one-time key %s", short(s.aliceOlm.ID()), short(otk.String()))

	s.aliceRoom, err = megolm.NewOutboundSessionFrom(s.rand)
	s.must("create the Megolm session", err)
	roomKey, err := event.RoomKeyContent(demoRoom, s.aliceRoom, false)
	s.must("build the m.room_key content", err)
	s.say("Alice's room session %s for %s", short(s.aliceRoom.SessionID().String()), demoRoom)

	content, _, err := event.EncryptOlmFrom(s.rand, s.alice.acct, s.aliceOlm, event.OlmEncryptParams{
		Sender: demoAlice, Recipient: demoBob,
		RecipientEd25519: s.bobKeys.Ed25519, RecipientCurve25519: s.bobKeys.Curve25519,
		Type: "m.room_key", Content: roomKey,
	})
	s.must("encrypt the m.room_key to-device event", err)
	oc, err := event.ParseOlmContent(content)
	s.must("parse the m.room.encrypted content", err)
	msg := oc.Ciphertext[s.bobKeys.Curve25519.String()]
	s.say("to-device m.room.encrypted for BOBPHONE: Olm message type %d, %d bytes", msg.Type, len(msg.Body))
	s.expect("the first message of a new session is a pre-key message (type 0)", msg.Type == olm.TypePreKey, "type %d", msg.Type)

	before := s.bobPhone.acct.StoredOneTimeKeys()
	ev, err := event.DecryptOlm(s.bobPhone.acct, content, event.OlmDecryptParams{
		Sender: demoAlice, OwnUserID: demoBob, SenderDevice: s.aliceKeys,
	})
	s.must("Bob decrypts the to-device event", err)
	s.bobOlm = ev.Session
	s.expect("Bob's device creates the inbound session from the pre-key message", ev.NewSession && ev.Session.ID() == s.aliceOlm.ID(),
		"new %v, id %s", ev.NewSession, ev.Session.ID())
	s.expect("the sender key is authenticated as Alice's device's Curve25519 key", ev.SenderKey == s.aliceKeys.Curve25519, "got %s", ev.SenderKey)
	after := s.bobPhone.acct.StoredOneTimeKeys()
	s.expect("the used one-time key is removed from Bob's account", after == before-1, "%d keys before, %d after", before, after)

	rk, err := event.RoomKeyFromEvent(ev)
	s.must("read the m.room_key event", err)
	s.bobInbound, err = rk.InboundSession()
	s.must("create the inbound Megolm session", err)
	s.bobInboundInfo = rk.Info
	s.expect("Bob's inbound room session has the id of Alice's outbound one",
		rk.Info.SessionID == s.aliceRoom.SessionID() && s.bobInbound.SessionID() == s.aliceRoom.SessionID(), "got %s", rk.Info.SessionID)

	_, err = event.DecryptOlm(s.bobPhone.acct, content, event.OlmDecryptParams{
		Sender: demoAlice, OwnUserID: demoBob, SenderDevice: s.aliceKeys, Sessions: []*olm.Session{s.bobOlm},
	})
	s.refused("the same to-device event delivered twice is refused", err, event.ErrUnknownIndex)
}

func (s *demoStory) encryptRoom(out *megolm.OutboundSession, dev *demoDevice, body string) ([]byte, uint32) {
	content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	ck := dev.acct.Curve25519()
	c, idx, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: demoRoom, Type: "m.room.message", Content: content, SenderKey: &ck, DeviceID: dev.id})
	s.must("encrypt a room message", err)
	return c, idx
}

// readRoom decrypts a room event and checks its body.
func (s *demoStory) readRoom(who string, in *megolm.InboundSession, c []byte, guard *event.ReplayGuard, eventID, sender string, info event.SessionInfo, want string) *event.RoomEvent {
	ev, err := event.DecryptMegolm(in, c, event.MegolmDecryptParams{
		RoomID: demoRoom, EventID: eventID, OriginServerTS: 1_700_000_000_000 + int64(s.events), Guard: guard,
		Sender: sender, Session: info,
	})
	if !s.check(fmt.Sprintf("%s decrypts %s", who, eventID), err) {
		return nil
	}
	var body struct{ Body string }
	json.Unmarshal(ev.Content, &body)
	s.expect(fmt.Sprintf("%s reads %q (message index %d)", who, body.Body, ev.MessageIndex), body.Body == want, "got %q", body.Body)
	return ev
}

func (s *demoStory) roomMessages() {
	s.step("Alice and Bob talk in the room")
	var bobGuard, aliceGuard event.ReplayGuard
	c, idx := s.encryptRoom(s.aliceRoom, s.alice, "Hallo Bob, dein Befund ist da.")
	s.firstMessage = c
	first := s.nextEventID()
	s.say("Alice sends %s: m.room.encrypted, Megolm message index %d, %d bytes of content", first, idx, len(c))
	if ev := s.readRoom("Bob", s.bobInbound, c, &bobGuard, first, demoAlice, s.bobInboundInfo, "Hallo Bob, dein Befund ist da."); ev != nil {
		s.expect("the event comes from a session Alice's device shared over Olm (verified)", ev.Provenance == event.OverOlm && ev.SenderChecked, "marked unverified")
	}

	// Bob answers with his own room session, whose key goes to Alice over
	// the Olm session Alice opened.
	var err error
	s.bobRoom, err = megolm.NewOutboundSessionFrom(s.rand)
	s.must("create Bob's Megolm session", err)
	s.bobOwnInbound, err = megolm.NewInboundSession(s.bobRoom.SessionKey())
	s.must("keep Bob's own inbound copy", err)
	roomKey, err := event.RoomKeyContent(demoRoom, s.bobRoom, false)
	s.must("build Bob's m.room_key", err)
	content, _, err := event.EncryptOlmFrom(s.rand, s.bobPhone.acct, s.bobOlm, event.OlmEncryptParams{
		Sender: demoBob, Recipient: demoAlice,
		RecipientEd25519: s.aliceKeys.Ed25519, RecipientCurve25519: s.aliceKeys.Curve25519,
		Type: "m.room_key", Content: roomKey,
	})
	s.must("encrypt Bob's m.room_key", err)
	oc, err := event.ParseOlmContent(content)
	s.must("parse Bob's to-device content", err)
	msg := oc.Ciphertext[s.aliceKeys.Curve25519.String()]
	s.expect("Bob has heard from Alice, so his Olm reply is a normal message (type 1)", msg.Type == olm.TypeMessage, "type %d", msg.Type)
	ev, err := event.DecryptOlm(s.alice.acct, content, event.OlmDecryptParams{
		Sender: demoBob, OwnUserID: demoAlice, SenderDevice: s.bobKeys, Sessions: []*olm.Session{s.aliceOlm},
	})
	s.must("Alice decrypts Bob's to-device event", err)
	s.expect("Alice's existing Olm session decrypts it (no new session)", !ev.NewSession && ev.Session == s.aliceOlm, "new session %v", ev.NewSession)
	rk, err := event.RoomKeyFromEvent(ev)
	s.must("read Bob's m.room_key", err)
	aliceInbound, err := rk.InboundSession()
	s.must("Alice's inbound copy of Bob's session", err)

	c2, idx := s.encryptRoom(s.bobRoom, s.bobPhone, "Danke! Ich lese ihn gleich.")
	id2 := s.nextEventID()
	s.say("Bob sends %s with his own session %s, index %d", id2, short(s.bobRoom.SessionID().String()), idx)
	s.readRoom("Alice", aliceInbound, c2, &aliceGuard, id2, demoBob, rk.Info, "Danke! Ich lese ihn gleich.")

	c3, idx := s.encryptRoom(s.aliceRoom, s.alice, "Ruf mich an, wenn du Fragen hast.")
	id3 := s.nextEventID()
	s.say("Alice sends %s, index %d", id3, idx)
	s.readRoom("Bob", s.bobInbound, c3, &bobGuard, id3, demoAlice, s.bobInboundInfo, "Ruf mich an, wenn du Fragen hast.")

	// What the server could try.
	_, err = event.DecryptMegolm(s.bobInbound, c3, event.MegolmDecryptParams{
		RoomID: demoRoom, EventID: "$replayed", OriginServerTS: 1_700_000_009_999, Guard: &bobGuard,
		Sender: demoAlice, Session: s.bobInboundInfo,
	})
	s.refused("the server replays Alice's event under a new event id: refused", err, event.ErrReplay)
	_, err = event.DecryptMegolm(s.bobInbound, c3, event.MegolmDecryptParams{RoomID: "!other:example.org", Sender: demoAlice, Session: s.bobInboundInfo})
	s.refused("the server moves Alice's event into another room: refused", err, event.ErrValidation)
	tampered := tamperMegolmContent(c3)
	_, err = event.DecryptMegolm(s.bobInbound, tampered, event.MegolmDecryptParams{RoomID: demoRoom, Sender: demoAlice, Session: s.bobInboundInfo})
	s.refused("a ciphertext with one bit flipped is refused", err, event.ErrAuthentication)
	_, err = event.DecryptMegolm(s.bobInbound, c3, event.MegolmDecryptParams{RoomID: demoRoom, EventID: id3, Guard: &bobGuard, OriginServerTS: 1_700_000_000_000 + 3, Sender: demoAlice, Session: s.bobInboundInfo})
	s.check("after the refusals Bob's session still decrypts the original event", err)
}

// tamperMegolmContent flips one bit in the middle of the Megolm message of
// an m.room.encrypted content.
func tamperMegolmContent(content []byte) []byte {
	var obj map[string]any
	json.Unmarshal(content, &obj)
	ct := []byte(obj["ciphertext"].(string))
	i := len(ct) / 2
	if ct[i] == 'A' {
		ct[i] = 'B'
	} else {
		ct[i] = 'A'
	}
	obj["ciphertext"] = string(ct)
	out, _ := json.Marshal(obj)
	return out
}

func (s *demoStory) lateDevice() {
	s.step("Bob's laptop joins late and gets the room key forwarded")
	s.bobLaptop = s.newDevice(demoBob, "BOBLAPTOP", 1, false)
	s.say("Bob's new device BOBLAPTOP: Curve25519 %s", short(s.bobLaptop.acct.Curve25519().String()))
	laptopKeys := s.queryKeys(s.bobLaptop, "Bob's phone")
	otk := s.claimKey(s.bobLaptop, laptopKeys, "Bob's phone")
	toLaptop, err := s.bobPhone.acct.NewOutboundSessionFrom(s.rand, laptopKeys.Curve25519, otk)
	s.must("Bob's phone opens an Olm session to the laptop", err)

	fwd, err := event.ForwardedRoomKeyContent(megolm.NewExportedSession(s.bobInbound.ExportAtFirstKnownIndex(), demoRoom, s.aliceKeys.Curve25519, s.aliceKeys.Ed25519))
	s.must("build the m.forwarded_room_key", err)
	content, _, err := event.EncryptOlmFrom(s.rand, s.bobPhone.acct, toLaptop, event.OlmEncryptParams{
		Sender: demoBob, Recipient: demoBob,
		RecipientEd25519: laptopKeys.Ed25519, RecipientCurve25519: laptopKeys.Curve25519,
		Type: "m.forwarded_room_key", Content: fwd,
	})
	s.must("encrypt the m.forwarded_room_key", err)
	s.say("Bob's phone forwards Alice's session %s from index %d", short(s.bobInbound.SessionID().String()), s.bobInbound.FirstKnownIndex())

	ev, err := event.DecryptOlm(s.bobLaptop.acct, content, event.OlmDecryptParams{
		Sender: demoBob, OwnUserID: demoBob, SenderDevice: s.bobKeys,
	})
	s.must("the laptop decrypts the forward", err)
	frk, err := event.ForwardedRoomKeyFromEvent(ev)
	s.must("read the m.forwarded_room_key", err)
	s.expect("the forward names Bob's phone in its forwarding chain",
		len(frk.Info.ForwardingChain) == 1 && frk.Info.ForwardingChain[0] == s.bobKeys.Curve25519, "chain %v", frk.Info.ForwardingChain)
	s.expect("a forwarded key is marked unverified", frk.Info.Provenance == event.Forwarded, "marked verified")
	in, err := frk.Session.InboundSession()
	s.must("the laptop's inbound session", err)

	var guard event.ReplayGuard
	c, idx := s.encryptRoom(s.aliceRoom, s.alice, "Termin am Montag um 9 Uhr.")
	id := s.nextEventID()
	s.say("Alice sends %s, index %d", id, idx)
	if ev := s.readRoom("Bob's laptop", in, c, &guard, id, demoAlice, frk.Info, "Termin am Montag um 9 Uhr."); ev != nil {
		s.expect("the laptop shows the event as unverified (key came by forward, not from Alice)", ev.Provenance == event.Forwarded, "marked verified")
	}
	s.readRoom("Bob's laptop", in, s.firstMessage, &guard, "$event1", demoAlice, frk.Info, "Hallo Bob, dein Befund ist da.")
}
