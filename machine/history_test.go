package machine_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// markUserVerified records in st that owner verified user's master key, as a finished
// verification does (the value the machine's verification flows write).
func markUserVerified(w *world, st store.Store, owner *machine.Machine, user, master string) {
	w.t.Helper()
	err := st.Update(w.ctx, store.Owner{UserID: owner.UserID(), DeviceID: owner.DeviceID()}, func(tx store.Tx) error {
		return tx.PutValue(w.ctx, "sicher.machine.verification:user:"+user, []byte(master))
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if ok, err := owner.UserVerified(w.ctx, user); !ok || err != nil {
		w.t.Fatalf("%s not verified: %v", user, err)
	}
}

// bundleEvent returns the m.room_key_bundle event among evs.
func bundleEvent(t *testing.T, evs []machine.ToDeviceEvent) machine.ToDeviceEvent {
	t.Helper()
	for _, ev := range evs {
		if ev.Type == machine.TypeRoomKeyBundle {
			return ev
		}
	}
	t.Fatalf("no room key bundle in %+v", evs)
	return machine.ToDeviceEvent{}
}

// historyRoom sets up Alice in a room with one message whose key is not shared history and one
// whose key is, and Bob invited; it returns both messages, Alice's bundle event as Bob
// received it and the uploaded ciphertext.
func historyRoom(t *testing.T, w *world) (alice, bob *machine.Machine, stBob store.Store, room string, secret, shared json.RawMessage, ev machine.ToDeviceEvent, ct []byte) {
	stA := store.NewMemory()
	stBob = store.NewMemory()
	alice = w.deviceOn(stA, "@alice:example.org", "A1")
	bob = w.deviceOn(stBob, "@bob:example.org", "B1")
	room = w.hs.CreateRoom(alice.UserID())
	w.newCrossSigning(alice.UserID(), "A1", stA)
	w.sync(alice)
	w.send(alice)
	secret = w.say(alice, room, "before the invite, joined only", machine.RoomSettings{HistoryVisibility: "joined", RotationMessages: 1})
	shared = w.say(alice, room, "before the invite, shared", machine.RoomSettings{HistoryVisibility: "shared", RotationMessages: 1})

	// Alice invites Bob and shares the history.
	w.hs.Join(room, bob.UserID())
	if _, err := alice.ShareRoomHistory(w.ctx, room, bob.UserID(), machine.RoomSettings{HistoryVisibility: "joined"}); !errors.Is(err, machine.ErrHistoryNotShared) {
		t.Fatalf("joined visibility: %v", err)
	}
	h, err := alice.ShareRoomHistory(w.ctx, room, bob.UserID(), machine.RoomSettings{HistoryVisibility: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Keys != 1 || h.Withheld != 1 {
		t.Fatalf("bundle has %d keys and %d withheld, want 1 and 1", h.Keys, h.Withheld)
	}
	w.track(alice, bob.UserID())
	w.track(bob, alice.UserID())
	if _, err := alice.GetMissingSessions(w.ctx, []string{bob.UserID()}); err != nil {
		t.Fatal(err)
	}
	w.send(alice)
	n, err := alice.SendRoomHistory(w.ctx, h, "mxc://example.org/bundle")
	if err != nil || n != 1 {
		t.Fatalf("SendRoomHistory: %d devices, %v", n, err)
	}
	w.send(alice)
	ev = bundleEvent(t, w.sync(bob))
	rb, err := machine.ParseRoomKeyBundle(ev)
	if err != nil || rb.RoomID != room || rb.URL != "mxc://example.org/bundle" {
		t.Fatalf("bundle event %+v: %v", rb, err)
	}
	return alice, bob, stBob, room, secret, shared, ev, h.Ciphertext
}

// TestRoomHistorySharing: Bob, invited by Alice, imports her room key bundle once he verified
// her identity and reads the message whose key had shared history; the other shows
// m.history_not_shared. Before the verification, from another sender, tampered or in the
// clear, the bundle is refused and nothing is stored.
func TestRoomHistorySharing(t *testing.T) {
	w := newWorld(t)
	alice, bob, stBob, room, secret, shared, ev, ct := historyRoom(t, w)

	refuse := func(name string, want error, inviter string, ev machine.ToDeviceEvent, ct []byte) {
		t.Helper()
		if _, err := bob.ImportRoomKeyBundle(w.ctx, room, inviter, ev, ct); !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		if _, _, err := w.read(bob, room, shared); err == nil {
			t.Fatalf("%s: the shared message decrypts after a refused bundle", name)
		}
	}
	refuse("identity not verified", machine.ErrBundleUntrusted, alice.UserID(), ev, ct)

	_, master := w.serverKeys(alice.UserID())
	var mk struct {
		Keys map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(master, &mk); err != nil || len(mk.Keys) != 1 {
		t.Fatalf("master key %s: %v", master, err)
	}
	for _, k := range mk.Keys {
		markUserVerified(w, stBob, bob, alice.UserID(), k)
	}
	refuse("another inviter", machine.ErrBundleSender, "@carol:example.org", ev, ct)
	if _, err := bob.ImportRoomKeyBundle(w.ctx, "!other:example.org", alice.UserID(), ev, ct); !errors.Is(err, machine.ErrBundleSender) {
		t.Fatalf("bundle for another room: %v", err)
	}
	clear := ev
	clear.Encrypted = false
	refuse("sent in the clear", machine.ErrBundleSender, alice.UserID(), clear, ct)
	bad := append([]byte(nil), ct...)
	bad[len(bad)/2] ^= 1
	refuse("tampered file", machine.ErrBundleMalformed, alice.UserID(), ev, bad)
	refuse("truncated file", machine.ErrBundleMalformed, alice.UserID(), ev, ct[:len(ct)-1])
	other := ev
	other.Content = json.RawMessage(`{"room_id":"` + room + `"}`)
	refuse("no file", machine.ErrBundleMalformed, alice.UserID(), other, ct)

	res, err := bob.ImportRoomKeyBundle(w.ctx, room, alice.UserID(), ev, ct)
	if err != nil {
		t.Fatal(err)
	}
	if res.RoomID != room || res.Imported != 1 || res.Withheld != 1 || res.Skipped != 0 {
		t.Fatalf("import %+v", res)
	}
	d := w.mustRead(bob, room, shared, "before the invite, shared")
	if d.Info.HistorySharedBy != alice.UserID() || d.Info.Provenance != event.Forwarded || d.Info.Shield != machine.ShieldGrey {
		t.Fatalf("encryption info %+v", d.Info)
	}
	if _, _, err := w.read(bob, room, secret); withheldCode(t, err) != "m.history_not_shared" {
		t.Fatalf("secret message: %v", err)
	}

	// Importing again changes nothing and refuses nothing.
	if res, err := bob.ImportRoomKeyBundle(w.ctx, room, alice.UserID(), ev, ct); err != nil || res.Imported+res.Skipped != 1 {
		t.Fatalf("second import %+v %v", res, err)
	}
}

// TestRoomHistoryCrossSigningRequired: a bundle from a device its owner did not cross-sign is
// refused even when the owner's identity is verified.
func TestRoomHistoryCrossSigningRequired(t *testing.T) {
	w := newWorld(t)
	alice, bob, stBob, _, _, _, _, _ := historyRoom(t, w)
	alice2 := w.device(alice.UserID(), "A2") // not cross-signed
	room := w.hs.CreateRoom(alice.UserID())
	w.say(alice2, room, "from the second device", machine.RoomSettings{HistoryVisibility: "shared"})
	w.hs.Join(room, bob.UserID())
	h, err := alice2.ShareRoomHistory(w.ctx, room, bob.UserID(), machine.RoomSettings{HistoryVisibility: "world_readable"})
	if err != nil {
		t.Fatal(err)
	}
	w.track(alice2, bob.UserID())
	w.track(bob, alice.UserID())
	if _, err := alice2.GetMissingSessions(w.ctx, []string{bob.UserID()}); err != nil {
		t.Fatal(err)
	}
	w.send(alice2)
	if _, err := alice2.SendRoomHistory(w.ctx, h, "mxc://example.org/2"); err != nil {
		t.Fatal(err)
	}
	w.send(alice2)
	ev := bundleEvent(t, w.sync(bob))
	_, master := w.serverKeys(alice.UserID())
	var mk struct {
		Keys map[string]string `json:"keys"`
	}
	_ = json.Unmarshal(master, &mk)
	for _, k := range mk.Keys {
		markUserVerified(w, stBob, bob, alice.UserID(), k)
	}
	if _, err := bob.ImportRoomKeyBundle(w.ctx, room, alice.UserID(), ev, h.Ciphertext); !errors.Is(err, machine.ErrBundleUntrusted) {
		t.Fatalf("uncross-signed device: %v", err)
	}
}
