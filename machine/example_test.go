package machine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// Alice and Bob talk in an encrypted room through a fake homeserver. A real client does the
// same with an HTTP client: send each request of OutgoingRequests and hand the response to
// MarkRequestSent, and feed each /sync to ReceiveSync.
func Example() {
	ctx := context.Background()
	hs := machinetest.NewServer()
	newDevice := func(user, device string) *machine.Machine {
		m, err := machine.New(ctx, machine.Config{UserID: user, DeviceID: device, Store: store.NewMemory()})
		if err != nil {
			panic(err)
		}
		return m
	}
	alice := newDevice("@alice:example.org", "ALICE")
	bob := newDevice("@bob:example.org", "BOB")
	// sendAll sends the machine's requests (keys upload, query, claim, to-device).
	sendAll := func(m *machine.Machine) {
		if err := hs.SendAll(ctx, m); err != nil {
			panic(err)
		}
	}
	syncOnce := func(m *machine.Machine) {
		if _, err := m.ReceiveSync(ctx, hs.Sync(m.UserID(), m.DeviceID())); err != nil {
			panic(err)
		}
	}
	sendAll(alice) // device keys and one-time keys
	sendAll(bob)
	room := hs.CreateRoom(alice.UserID(), bob.UserID())

	// Alice sends: track the members, query their devices, claim one-time keys, share the
	// room key, encrypt.
	members := hs.Members(room)
	must(alice.UpdateTrackedUsers(ctx, members))
	sendAll(alice)
	_, err := alice.GetMissingSessions(ctx, members)
	must(err)
	sendAll(alice)
	must(alice.ShareRoomKey(ctx, room, members, machine.RoomSettings{Policy: machine.AllDevices}))
	sendAll(alice)
	content, err := alice.EncryptRoomEvent(ctx, room, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"Hi Bob"}`))
	must(err)
	ev := hs.Send(room, alice.UserID(), content)

	// Bob syncs (receiving the room key over Olm), queries Alice's devices, and decrypts.
	must(bob.UpdateTrackedUsers(ctx, members))
	syncOnce(bob)
	sendAll(bob)
	dec, err := bob.DecryptRoomEvent(ctx, room, ev)
	must(err)
	fmt.Printf("%s from %s (device %s): %s\n", dec.Type, dec.Info.Sender, dec.Info.SenderDevice, dec.Content)
	fmt.Println("shield:", dec.Info.Shield == machine.ShieldRed, dec.Info.ShieldReason)
	// Output:
	// m.room.message from @alice:example.org (device ALICE): {"body":"Hi Bob","msgtype":"m.text"}
	// shield: true Encrypted by a device not verified by its owner.
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
