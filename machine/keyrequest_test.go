package machine_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
)

// TestKeyRequestBetweenOwnDevices: Alice's second device missed a room key; it asks her other
// devices, which answer only because the requester is her own cross-signed device, and the
// forwarded key decrypts with a grey shield (provenance Forwarded). Requests from other users,
// and forwarded keys from them, are refused.
func TestKeyRequestBetweenOwnDevices(t *testing.T) {
	w := newWorld(t)
	a1 := w.device("@alice:example.org", "A1")
	a2 := w.device("@alice:example.org", "A2")
	bob := w.device("@bob:example.org", "B")
	w.crossSign("@alice:example.org", "A1", "A2")
	room := w.hs.CreateRoom(a1.UserID(), bob.UserID())
	w.sync(a1, a2, bob)

	// A2's copy of Bob's room key is lost.
	w.hs.ToDeviceFilter = func(user, dev string, evs []json.RawMessage) []json.RawMessage {
		if dev == "A2" {
			return nil
		}
		return evs
	}
	ev := w.say(bob, room, "secret plans", machine.RoomSettings{})
	w.mustRead(a1, room, ev, "secret plans")
	if _, _, err := w.read(a2, room, ev); err == nil {
		t.Fatal("A2 decrypted without the key")
	}
	w.hs.ToDeviceFilter = nil

	// A1 and A2 have Olm sessions with each other. Both are cross-signed, but under a master
	// key the server served and neither device verified: that proves nothing, so A1 does
	// not answer.
	w.connect("@alice:example.org", a1, a2)
	if err := a2.RequestRoomKey(w.ctx, room, sessionID(t, ev)); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1)
	w.send(a1)
	w.sync(a2)
	if _, _, err := w.read(a2, room, ev); err == nil {
		t.Fatal("A1 answered a device cross-signed under a master key nobody verified")
	}

	// Once each verified the other, A1 answers the request again.
	w.trust(a1, "A2")
	w.trust(a2, "A1")
	if err := a2.RequestRoomKey(w.ctx, room, sessionID(t, ev)); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1) // A1 answers
	w.send(a1)
	d := w.mustRead(a2, room, ev, "secret plans")
	if d.Info.Provenance != event.Forwarded || d.Info.Shield != machine.ShieldGrey {
		t.Fatalf("forwarded key info %+v", d.Info)
	}

	// Bob asks Alice for the key: refused.
	req, _ := json.Marshal(map[string]any{"type": "m.room_key_request", "sender": bob.UserID(), "content": map[string]any{
		"action": "request", "request_id": "r1", "requesting_device_id": "B",
		"body": map[string]string{"algorithm": "m.megolm.v1.aes-sha2", "room_id": room, "session_id": sessionID(t, ev)}}})
	w.hs.InjectToDevice(a1.UserID(), "A1", req)
	evs := w.sync(a1)
	if len(evs) != 1 || !errors.Is(evs[0].Err, machine.ErrUntrustedRequester) {
		t.Fatalf("request from another user: %+v", evs)
	}
}

// TestForwardedKeyFromUnverifiedDeviceRefused: Alice's devices are cross-signed under a master
// key the server served and A2 never verified. A1 verified A2 and answers its request, but A2
// drops the forwarded key: A1 is not one of its verified devices, and a signature by an
// unverified master key does not make it one.
func TestForwardedKeyFromUnverifiedDeviceRefused(t *testing.T) {
	w := newWorld(t)
	a1 := w.device("@alice:example.org", "A1")
	a2 := w.device("@alice:example.org", "A2")
	bob := w.device("@bob:example.org", "B")
	w.crossSign("@alice:example.org", "A1", "A2")
	room := w.hs.CreateRoom(a1.UserID(), bob.UserID())
	w.sync(a1, a2, bob)
	w.hs.ToDeviceFilter = func(user, dev string, evs []json.RawMessage) []json.RawMessage {
		if dev == "A2" {
			return nil
		}
		return evs
	}
	ev := w.say(bob, room, "secret", machine.RoomSettings{})
	w.mustRead(a1, room, ev, "secret")
	w.sync(a2) // the room key is lost
	w.hs.ToDeviceFilter = nil
	w.connect("@alice:example.org", a1, a2)
	w.trust(a1, "A2") // A1 verified A2; A2 did not verify A1
	if err := a2.RequestRoomKey(w.ctx, room, sessionID(t, ev)); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1)
	w.send(a1)
	evs := w.sync(a2)
	found := false
	for _, e := range evs {
		if e.Type == "m.forwarded_room_key" {
			found = true
			if !errors.Is(e.Err, machine.ErrUntrustedForwarder) {
				t.Fatalf("forwarded key from an unverified device: %v", e.Err)
			}
		}
	}
	if !found {
		t.Fatalf("no forwarded key arrived: %+v", evs)
	}
	if _, _, err := w.read(a2, room, ev); err == nil {
		t.Fatal("decrypted with a key from an unverified device")
	}
	// The Olm session that carried the refused key advanced all the same: A1's next
	// messages to A2 decrypt.
	own := w.hs.CreateRoom(a1.UserID())
	w.mustRead(a2, own, w.say(a1, own, "still talking", machine.RoomSettings{}), "still talking")
}

// TestForwardedEarlierIndicesNotShownOverOlm: A2 holds Bob's session from index 1, received
// over Olm; a forwarded copy from A1 extends it to index 0. The message at index 0 is vouched
// for only by the forward, so it must not decrypt as "over Olm from Bob's device".
func TestForwardedEarlierIndicesNotShownOverOlm(t *testing.T) {
	w := newWorld(t)
	a1 := w.device("@alice:example.org", "A1")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(a1.UserID(), bob.UserID())
	w.sync(a1, bob)
	ev0 := w.say(bob, room, "index 0", machine.RoomSettings{})
	w.mustRead(a1, room, ev0, "index 0")
	// A2 is a new device of Alice's: Bob shares his session with it from index 1.
	a2 := w.device("@alice:example.org", "A2")
	w.crossSign("@alice:example.org", "A1", "A2")
	w.sync(a1, a2, bob)
	ev1 := w.say(bob, room, "index 1", machine.RoomSettings{}) // shared with A2 from index 1
	if d := w.mustRead(a2, room, ev1, "index 1"); d.Info.Provenance != event.OverOlm {
		t.Fatalf("the Olm copy: %+v", d.Info)
	}
	w.connect("@alice:example.org", a1, a2)
	w.trust(a1, "A2")
	w.trust(a2, "A1")
	if err := a2.RequestRoomKey(w.ctx, room, sessionID(t, ev0)); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1)
	w.send(a1)
	d := w.mustRead(a2, room, ev0, "index 0")
	if d.Info.Provenance == event.OverOlm || d.Info.Shield == machine.ShieldNone {
		t.Fatalf("a message only the forward vouches for shows as %+v", d.Info)
	}
}

// connect gives the machines Olm sessions with every device of user: each
// tracks user, sends its keys query and claims what it lacks.
func (w *world) connect(user string, ms ...*machine.Machine) {
	w.t.Helper()
	for _, m := range ms {
		if err := m.UpdateTrackedUsers(w.ctx, []string{user}); err != nil {
			w.t.Fatal(err)
		}
		w.sync(m)
		w.send(m)
		if _, err := m.GetMissingSessions(w.ctx, []string{user}); err != nil {
			w.t.Fatal(err)
		}
		w.send(m)
	}
}

// trust records that m verified its own user's device id (SetDeviceTrust).
func (w *world) trust(m *machine.Machine, deviceID string) {
	w.t.Helper()
	if err := m.SetDeviceTrust(w.ctx, m.UserID(), deviceID, machine.TrustVerified); err != nil {
		w.t.Fatal(err)
	}
}
