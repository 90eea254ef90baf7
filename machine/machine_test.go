package machine_test

import (
	"errors"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

func TestTwoDevicesConversation(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "ALICE")
	bob := w.device("@bob:example.org", "BOB")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)

	ev := w.say(alice, room, "hello bob", machine.RoomSettings{})
	d := w.mustRead(bob, room, ev, "hello bob")
	if d.Info.Sender != alice.UserID() || d.Info.SenderDevice != "ALICE" {
		t.Fatalf("info = %+v", d.Info)
	}
	if d.Info.Shield != machine.ShieldRed { // Alice's device is not cross-signed
		t.Fatalf("shield = %v, want red for a device not verified by its owner", d.Info.Shield)
	}
	ev = w.say(bob, room, "hello alice", machine.RoomSettings{})
	w.mustRead(alice, room, ev, "hello alice")
	// Alice reads her own message.
	ev = w.say(alice, room, "again", machine.RoomSettings{})
	if d := w.mustRead(alice, room, ev, "again"); d.Info.Shield != machine.ShieldNone {
		t.Fatalf("own message shield = %v", d.Info.Shield)
	}
	w.mustRead(bob, room, ev, "again")
	// Decrypting the same event twice is fine; another event at the same index is a replay.
	w.mustRead(bob, room, ev, "again")
}

func TestEncryptBeforeShare(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "ALICE")
	if _, err := alice.EncryptRoomEvent(w.ctx, "!r:example.org", "m.room.message", body("x")); !errors.Is(err, machine.ErrRoomKeyNotShared) {
		t.Fatalf("err = %v", err)
	}
}
