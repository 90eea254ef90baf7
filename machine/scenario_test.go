package machine_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// TestThreeUsersFiveDevices: Alice (two devices), Bob (two devices) and Carol (one) share a
// room; every device reads every message, including a late-joining device and a user who
// joins later, and a member who leaves makes the key rotate so she cannot read on.
func TestThreeUsersFiveDevices(t *testing.T) {
	w := newWorld(t)
	a1 := w.device("@alice:example.org", "A1")
	a2 := w.device("@alice:example.org", "A2")
	b1 := w.device("@bob:example.org", "B1")
	b2 := w.device("@bob:example.org", "B2")
	room := w.hs.CreateRoom("@alice:example.org", "@bob:example.org")
	all := []*machine.Machine{a1, a2, b1, b2}
	w.sync(all...)

	ev := w.say(a1, room, "one", machine.RoomSettings{})
	for _, m := range all {
		w.mustRead(m, room, ev, "one")
	}
	ev = w.say(b2, room, "two", machine.RoomSettings{})
	for _, m := range all {
		w.mustRead(m, room, ev, "two")
	}

	// Carol joins late: she gets the current session from now on.
	c1 := w.device("@carol:example.org", "C1")
	w.hs.Join(room, "@carol:example.org")
	all = append(all, c1)
	w.sync(all...)
	ev = w.say(a1, room, "three", machine.RoomSettings{})
	for _, m := range all {
		w.mustRead(m, room, ev, "three")
	}
	before := sessionID(t, ev)

	// Bob leaves: the next message uses a new session he does not get.
	w.hs.Leave(room, "@bob:example.org")
	w.sync(all...)
	ev = w.say(a1, room, "four", machine.RoomSettings{})
	if sessionID(t, ev) == before {
		t.Fatal("the room key did not rotate when a member left")
	}
	for _, m := range []*machine.Machine{a1, a2, c1} {
		w.mustRead(m, room, ev, "four")
	}
	for _, m := range []*machine.Machine{b1, b2} {
		_, _, err := w.read(m, room, ev)
		var de *machine.DecryptionError
		if !errors.As(err, &de) || de.Reason != machine.FailureMissingSession {
			t.Fatalf("%s read after leaving: %v", m.DeviceID(), err)
		}
	}
}

func sessionID(t *testing.T, ev json.RawMessage) string {
	var e struct {
		Content struct {
			SessionID string `json:"session_id"`
		} `json:"content"`
	}
	if err := json.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	return e.Content.SessionID
}

// TestRotation: rotation by message count and by age, and when a device is removed or
// blacklisted.
func TestRotation(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	bob2 := w.device("@bob:example.org", "B2")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob, bob2)
	rs := machine.RoomSettings{RotationMessages: 2, RotationPeriod: time.Hour}
	s1 := sessionID(t, w.say(alice, room, "1", rs))
	if s := sessionID(t, w.say(alice, room, "2", rs)); s != s1 {
		t.Fatal("rotated too early")
	}
	s2 := sessionID(t, w.say(alice, room, "3", rs))
	if s2 == s1 {
		t.Fatal("no rotation after RotationMessages")
	}
	w.advance(2 * time.Hour)
	s3 := sessionID(t, w.say(alice, room, "4", rs))
	if s3 == s2 {
		t.Fatal("no rotation after RotationPeriod")
	}
	if err := alice.SetDeviceTrust(w.ctx, bob.UserID(), "B2", machine.TrustBlacklisted); err != nil {
		t.Fatal(err)
	}
	ev := w.say(alice, room, "5", rs)
	s4 := sessionID(t, ev)
	if s4 == s3 {
		t.Fatal("no rotation after blacklisting a device")
	}
	w.mustRead(bob, room, ev, "5")
	_, _, err := w.read(bob2, room, ev)
	var de *machine.DecryptionError
	if !errors.As(err, &de) || de.Reason != machine.FailureWithheld || de.Code != "m.blacklisted" {
		t.Fatalf("blacklisted device: %v", err)
	}
	w.hs.DeleteDevice(bob.UserID(), "B")
	w.sync(alice)
	if s := sessionID(t, w.say(alice, room, "6", rs)); s == s4 {
		t.Fatal("no rotation after a device was removed")
	}
}

// TestRestartKeepsRequests: requests are in the store; a machine built again on the same store
// returns them, and a to-device request sent twice is delivered once.
func TestRestartKeepsRequests(t *testing.T) {
	w := newWorld(t)
	st := newMemory()
	alice := w.deviceOn(st, "@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	members := w.hs.Members(room)
	if err := alice.UpdateTrackedUsers(w.ctx, members); err != nil {
		t.Fatal(err)
	}
	w.sync(alice)
	w.send(alice)
	if _, err := alice.GetMissingSessions(w.ctx, members); err != nil {
		t.Fatal(err)
	}
	w.send(alice)
	if err := alice.ShareRoomKey(w.ctx, room, members, machine.RoomSettings{}); err != nil {
		t.Fatal(err)
	}
	reqs, err := alice.OutgoingRequests(w.ctx)
	if err != nil || len(reqs) != 1 || reqs[0].Kind != machine.KindToDevice {
		t.Fatalf("requests %v, %v", reqs, err)
	}
	// The response is lost; the process restarts.
	if _, err := w.hs.Do(alice.UserID(), alice.DeviceID(), reqs[0]); err != nil {
		t.Fatal(err)
	}
	alice2, err := machine.New(w.ctx, machine.Config{UserID: alice.UserID(), DeviceID: "A", Store: st, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if c1, _ := alice.IdentityKeys(); c1 != first(alice2.IdentityKeys()) {
		t.Fatal("the account was not loaded")
	}
	again, err := alice2.OutgoingRequests(w.ctx)
	if err != nil || len(again) != 1 || again[0].ID != reqs[0].ID || string(again[0].Body) != string(reqs[0].Body) {
		t.Fatalf("after restart: %v, %v", again, err)
	}
	w.send(alice2)
	if err := alice2.MarkRequestSent(w.ctx, reqs[0].ID, []byte(`{}`)); !errors.Is(err, machine.ErrUnknownRequest) {
		t.Fatalf("second MarkRequestSent: %v", err)
	}
	c, err := alice2.EncryptRoomEvent(w.ctx, room, "m.room.message", body("after restart"))
	if err != nil {
		t.Fatal(err)
	}
	evs := w.hs.Sync(bob.UserID(), bob.DeviceID()).ToDevice
	if len(evs) != 1 {
		t.Fatalf("bob got %d to-device events, want 1 (the server de-duplicates the transaction)", len(evs))
	}
	w.hs.InjectToDevice(bob.UserID(), bob.DeviceID(), evs[0])
	w.mustRead(bob, room, w.hs.Send(room, alice.UserID(), c), "after restart")
}

func first[A, B any](a A, _ B) A { return a }

// TestOneTimeKeys: the machine keeps 50 one-time keys on the server, tops them up after claims,
// and replaces the fallback key when the server says it was used.
func TestOneTimeKeys(t *testing.T) {
	w := newWorld(t)
	bob := w.device("@bob:example.org", "B")
	if n := w.hs.Sync(bob.UserID(), "B").OneTimeKeyCounts["signed_curve25519"]; n != 50 {
		t.Fatalf("server has %d one-time keys, want 50", n)
	}
	for i := range 3 {
		m := w.device("@alice:example.org", string(rune('A'+i)))
		w.prepare(m, w.hs.CreateRoom(m.UserID(), bob.UserID()), machine.RoomSettings{})
	}
	w.sync(bob)
	w.send(bob)
	if n := w.hs.Sync(bob.UserID(), "B").OneTimeKeyCounts["signed_curve25519"]; n != 50 {
		t.Fatalf("after claims the server has %d one-time keys, want 50 again", n)
	}
	// Exhaust the one-time keys: the fallback key is handed out, then replaced.
	for range 50 {
		if _, err := w.hs.Do("@x:example.org", "X", claimReq(bob)); err != nil {
			t.Fatal(err)
		}
	}
	if c := w.hs.Sync(bob.UserID(), "B"); len(c.UnusedFallbackKeyTypes) != 1 {
		t.Fatalf("fallback key used too early: %v", c.UnusedFallbackKeyTypes)
	}
	if _, err := w.hs.Do("@x:example.org", "X", claimReq(bob)); err != nil {
		t.Fatal(err)
	}
	c := w.hs.Sync(bob.UserID(), "B")
	if len(c.UnusedFallbackKeyTypes) != 0 {
		t.Fatal("the server did not report the fallback key as used")
	}
	if _, err := bob.ReceiveSync(w.ctx, c); err != nil {
		t.Fatal(err)
	}
	w.send(bob)
	if c := w.hs.Sync(bob.UserID(), "B"); len(c.UnusedFallbackKeyTypes) != 1 || c.OneTimeKeyCounts["signed_curve25519"] != 50 {
		t.Fatalf("after the upload: fallback %v, count %d", c.UnusedFallbackKeyTypes, c.OneTimeKeyCounts["signed_curve25519"])
	}
}

func claimReq(m *machine.Machine) machine.Request {
	b, _ := json.Marshal(map[string]any{"one_time_keys": map[string]any{m.UserID(): map[string]string{m.DeviceID(): "signed_curve25519"}}})
	return machine.Request{ID: "claim", Kind: machine.KindKeysClaim, Body: b}
}

// TestAdversarialToDelivery: the server drops, duplicates and reorders to-device messages.
// Duplicates are refused as replays, reordered messages decrypt, and a dropped room key shows
// as a missing session until the sender shares again after a rotation.
func TestAdversarialToDelivery(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	rng := rand.New(rand.NewPCG(1, 2))
	w.hs.ToDeviceFilter = func(user, dev string, evs []json.RawMessage) []json.RawMessage {
		evs = append(evs, evs...) // duplicate everything
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		return evs
	}
	ev := w.say(alice, room, "dup", machine.RoomSettings{})
	w.mustRead(bob, room, ev, "dup")
	ev = w.say(bob, room, "back", machine.RoomSettings{})
	w.mustRead(alice, room, ev, "back")

	// Drop everything for Bob: Alice's new session never arrives.
	w.hs.ToDeviceFilter = func(user, dev string, evs []json.RawMessage) []json.RawMessage {
		if user == bob.UserID() {
			return nil
		}
		return evs
	}
	rs := machine.RoomSettings{RotationMessages: 1}
	ev = w.say(alice, room, "lost", rs)
	_, _, err := w.read(bob, room, ev)
	var de *machine.DecryptionError
	if !errors.As(err, &de) || de.Reason != machine.FailureMissingSession {
		t.Fatalf("dropped key: %v", err)
	}
	w.hs.ToDeviceFilter = nil
	ev = w.say(alice, room, "found", rs)
	w.mustRead(bob, room, ev, "found")
}

// TestChangedDeviceKeyRefused: a server that serves another Ed25519 key for a known device id
// is ignored; the machine keeps encrypting to the device it knows.
func TestChangedDeviceKeyRefused(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.mustRead(bob, room, w.say(alice, room, "hi", machine.RoomSettings{}), "hi")

	// The server now serves keys it controls, correctly self-signed, under Bob's device id.
	acct, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	dk, err := signing.AccountDeviceKeys(acct, bob.UserID(), "B", nil)
	if err != nil {
		t.Fatal(err)
	}
	evil, err := dk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	w.hs.SetDeviceKeys(bob.UserID(), "B", evil)
	w.sync(alice)
	w.send(alice)
	devs, err := alice.Devices(w.ctx, bob.UserID())
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices %v %v", devs, err)
	}
	if _, bobEd := bob.IdentityKeys(); devs[0].Keys.Ed25519 != bobEd {
		t.Fatal("the changed device keys were accepted")
	}
}

// TestRoomKeyFromNonMember: Mallory, not in the room, sends Bob a room key over Olm for the
// room's id and then a message "from Alice" with it (the server forges the sender). Bob
// refuses the message as a sender mismatch; a key sent in the clear is dropped.
func TestRoomKeyFromNonMember(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.mustRead(bob, room, w.say(alice, room, "hi", machine.RoomSettings{}), "hi")

	mallory := w.device("@mallory:example.org", "M")
	side := w.hs.CreateRoom(mallory.UserID(), bob.UserID())
	w.prepare(mallory, side, machine.RoomSettings{})
	// Mallory shares a session for Alice's room id with Bob.
	if err := mallory.ShareRoomKey(w.ctx, room, []string{bob.UserID()}, machine.RoomSettings{}); err != nil {
		t.Fatal(err)
	}
	w.send(mallory)
	c, err := mallory.EncryptRoomEvent(w.ctx, room, "m.room.message", body("I am Alice"))
	if err != nil {
		t.Fatal(err)
	}
	forged := w.hs.Send(room, alice.UserID(), c)
	_, _, err = w.read(bob, room, forged)
	var de *machine.DecryptionError
	if !errors.As(err, &de) || de.Reason != machine.FailureSenderMismatch || !errors.Is(err, event.ErrValidation) {
		t.Fatalf("forged sender: %v", err)
	}
	// A room key in the clear is dropped.
	w.hs.InjectToDevice(bob.UserID(), "B", json.RawMessage(`{"type":"m.room_key","sender":"@mallory:example.org","content":{}}`))
	evs := w.sync(bob)
	if len(evs) != 1 || !errors.Is(evs[0].Err, event.ErrNotOlmEncrypted) {
		t.Fatalf("clear room key: %+v", evs)
	}
}

// TestConcurrentDecryption: goroutines decrypting events of one room, and Olm messages from
// one peer, never fork a ratchet or lose a session.
func TestConcurrentDecryption(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	var evs []json.RawMessage
	for i := range 20 {
		evs = append(evs, w.say(alice, room, string(rune('a'+i)), machine.RoomSettings{}))
	}
	w.sync(bob)
	// Olm: many room keys for many rooms arrive together and are processed concurrently.
	var rooms []string
	for range 8 {
		r := w.hs.CreateRoom(alice.UserID(), bob.UserID())
		rooms = append(rooms, r)
		w.prepare(alice, r, machine.RoomSettings{})
	}
	toDev := w.hs.Sync(bob.UserID(), "B").ToDevice
	var wg sync.WaitGroup
	errs := make(chan error, len(evs)+len(toDev))
	for _, ev := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := bob.DecryptRoomEvent(w.ctx, room, ev)
			errs <- err
		}()
	}
	for _, td := range toDev {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := bob.ReceiveSync(w.ctx, machine.SyncChanges{ToDevice: []json.RawMessage{td}})
			if err == nil && out[0].Err != nil {
				err = out[0].Err
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rooms {
		c, err := alice.EncryptRoomEvent(w.ctx, r, "m.room.message", body("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.DecryptRoomEvent(w.ctx, r, w.hs.Send(r, alice.UserID(), c)); err != nil {
			t.Fatalf("room %s: %v", r, err)
		}
	}
}

// TestNewDeviceNotLeftOut: a member adds a device; until the sender has queried the new device
// list, ShareRoomKey refuses (ErrDevicesOutdated) instead of leaving the device out.
func TestNewDeviceNotLeftOut(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.mustRead(bob, room, w.say(alice, room, "one", machine.RoomSettings{}), "one")
	bob2 := w.device("@bob:example.org", "B2")
	w.sync(alice)
	err := alice.ShareRoomKey(w.ctx, room, w.hs.Members(room), machine.RoomSettings{})
	if !errors.Is(err, machine.ErrDevicesOutdated) {
		t.Fatalf("share with an outdated member: %v", err)
	}
	w.mustRead(bob2, room, w.say(alice, room, "two", machine.RoomSettings{}), "two")
}

// TestDuplicateOlmIsNotWedged: a to-device message delivered twice is recognised as a
// duplicate (ErrDuplicate) and does not start wedged-session recovery.
func TestDuplicateOlmIsNotWedged(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.mustRead(bob, room, w.say(alice, room, "1", machine.RoomSettings{}), "1")
	w.mustRead(alice, room, w.say(bob, room, "2", machine.RoomSettings{}), "2")
	w.hs.ToDeviceFilter = func(user, dev string, evs []json.RawMessage) []json.RawMessage {
		return append(evs, evs...)
	}
	w.say(alice, room, "3", machine.RoomSettings{RotationMessages: 1})
	evs := w.sync(bob)
	if len(evs) != 2 || evs[0].Err != nil || !errors.Is(evs[1].Err, machine.ErrDuplicate) {
		t.Fatalf("%+v", evs)
	}
	if reqs, _ := bob.OutgoingRequests(w.ctx); len(reqs) != 0 {
		t.Fatalf("a duplicate started recovery: %v", reqs)
	}
}

// TestClaimNotRepeated: asking for missing sessions twice before the claim is sent queues one
// claim, so no second one-time key is spent.
func TestClaimNotRepeated(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	if err := alice.UpdateTrackedUsers(w.ctx, []string{bob.UserID()}); err != nil {
		t.Fatal(err)
	}
	w.send(alice)
	for i, want := range []bool{true, false} {
		queued, err := alice.GetMissingSessions(w.ctx, []string{bob.UserID()})
		if err != nil || queued != want {
			t.Fatalf("call %d: queued %v, %v", i, queued, err)
		}
	}
	w.send(alice)
	if n := w.hs.Sync(bob.UserID(), "B").OneTimeKeyCounts["signed_curve25519"]; n != 49 {
		t.Fatalf("bob has %d one-time keys left, want 49", n)
	}
}

// TestChangeDuringQuery: a device-list change that arrives while a query is in flight keeps
// the user outdated, so the new device is queried next.
func TestChangeDuringQuery(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	if err := alice.UpdateTrackedUsers(w.ctx, w.hs.Members(room)); err != nil {
		t.Fatal(err)
	}
	reqs, err := alice.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var query machine.Request
	for _, r := range reqs {
		if r.Kind == machine.KindKeysQuery {
			query = r
		}
	}
	resp, err := w.hs.Do(alice.UserID(), "A", query) // answered before Bob's new device
	if err != nil {
		t.Fatal(err)
	}
	w.device("@bob:example.org", "B2")
	w.sync(alice) // device_lists.changed: bob
	if err := alice.MarkRequestSent(w.ctx, query.ID, resp); err != nil {
		t.Fatal(err)
	}
	err = alice.ShareRoomKey(w.ctx, room, w.hs.Members(room), machine.RoomSettings{})
	if !errors.Is(err, machine.ErrDevicesOutdated) {
		t.Fatalf("bob was marked current by a stale answer: %v", err)
	}
	w.send(alice)
	if devs, _ := alice.Devices(w.ctx, bob.UserID()); len(devs) != 2 {
		t.Fatalf("bob's devices after the next query: %d", len(devs))
	}
}

// TestConcurrentEncryption: goroutines encrypting in one room never reuse a message index,
// and every event decrypts.
func TestConcurrentEncryption(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.prepare(alice, room, machine.RoomSettings{})
	var wg sync.WaitGroup
	contents := make([]json.RawMessage, 16)
	for i := range contents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := alice.EncryptRoomEvent(w.ctx, room, "m.room.message", body("m"))
			if err != nil {
				t.Error(err)
			}
			contents[i] = c
		}()
	}
	wg.Wait()
	w.sync(bob)
	if err := bob.UpdateTrackedUsers(w.ctx, w.hs.Members(room)); err != nil {
		t.Fatal(err)
	}
	w.send(bob)
	for _, c := range contents {
		if _, err := bob.DecryptRoomEvent(w.ctx, room, w.hs.Send(room, alice.UserID(), c)); err != nil {
			t.Fatal(err) // a reused index would be refused as a replay
		}
	}
}

// TestSharedHistory: the room key carries shared_history when the history visibility is
// shared (MSC3061), and the receiver stores the flag.
func TestSharedHistory(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bobStore := newMemory()
	bob := w.deviceOn(bobStore, "@bob:example.org", "B")
	for _, vis := range []string{"shared", "joined"} {
		room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
		w.sync(alice, bob)
		ev := w.say(alice, room, vis, machine.RoomSettings{HistoryVisibility: vis})
		w.mustRead(bob, room, ev, vis)
		err := bobStore.View(w.ctx, store.Owner{UserID: bob.UserID(), DeviceID: "B"}, func(tx store.Tx) error {
			s, err := tx.InboundGroupSession(w.ctx, room, sessionID(t, ev))
			if err != nil {
				return err
			}
			if s.SharedHistory != (vis == "shared") {
				t.Errorf("%s: shared_history %v", vis, s.SharedHistory)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestEncryptHonoursRotation: between two ShareRoomKey calls EncryptRoomEvent holds the session
// to the room's rotation limits, so a session set to rotate after 2 messages never encrypts a
// third, and none encrypts after the rotation period.
func TestEncryptHonoursRotation(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	rs := machine.RoomSettings{RotationMessages: 2, RotationPeriod: time.Hour}
	w.say(alice, room, "1", rs)
	if _, err := alice.EncryptRoomEvent(w.ctx, room, "m.room.message", body("2")); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.EncryptRoomEvent(w.ctx, room, "m.room.message", body("3")); !errors.Is(err, machine.ErrRoomKeyNotShared) {
		t.Fatalf("a third message on a 2-message session: %v", err)
	}
	w.say(alice, room, "3", rs) // ShareRoomKey rotates
	w.advance(2 * time.Hour)
	if _, err := alice.EncryptRoomEvent(w.ctx, room, "m.room.message", body("4")); !errors.Is(err, machine.ErrRoomKeyNotShared) {
		t.Fatalf("a message after the rotation period: %v", err)
	}
}
