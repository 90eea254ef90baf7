package machine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// FuzzReceive feeds arbitrary bytes to the machine as a to-device event, a room event and a
// server response: none may panic, and a real message still decrypts afterwards.
func FuzzReceive(f *testing.F) {
	ctx := context.Background()
	hs := machinetest.NewServer()
	newM := func(user, dev string) *machine.Machine {
		m, err := machine.New(ctx, machine.Config{UserID: user, DeviceID: dev, Store: store.NewMemory()})
		if err != nil {
			f.Fatal(err)
		}
		if err := hs.SendAll(ctx, m); err != nil {
			f.Fatal(err)
		}
		return m
	}
	alice, bob := newM("@alice:example.org", "A"), newM("@bob:example.org", "B")
	room := hs.CreateRoom(alice.UserID(), bob.UserID())
	members := hs.Members(room)
	for _, m := range []*machine.Machine{alice, bob} {
		if err := m.UpdateTrackedUsers(ctx, members); err != nil {
			f.Fatal(err)
		}
		if err := hs.SendAll(ctx, m); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := alice.GetMissingSessions(ctx, members); err != nil {
		f.Fatal(err)
	}
	if err := hs.SendAll(ctx, alice); err != nil {
		f.Fatal(err)
	}
	if err := alice.ShareRoomKey(ctx, room, members, machine.RoomSettings{}); err != nil {
		f.Fatal(err)
	}
	if err := hs.SendAll(ctx, alice); err != nil {
		f.Fatal(err)
	}
	c, err := alice.EncryptRoomEvent(ctx, room, "m.room.message", json.RawMessage(`{"body":"x"}`))
	if err != nil {
		f.Fatal(err)
	}
	ev := hs.Send(room, alice.UserID(), c)
	toDev := hs.Sync(bob.UserID(), "B").ToDevice
	for _, td := range toDev {
		f.Add([]byte(td))
	}
	f.Add([]byte(ev))
	if _, err := bob.ReceiveSync(ctx, machine.SyncChanges{ToDevice: toDev}); err != nil {
		f.Fatal(err)
	}
	if err := bob.UpdateTrackedUsers(ctx, []string{"@carol:example.org"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := bob.ReceiveSync(ctx, machine.SyncChanges{ToDevice: []json.RawMessage{b}}); err != nil {
			t.Fatal(err)
		}
		_, _ = bob.DecryptRoomEvent(ctx, room, b)
		if reqs, err := bob.OutgoingRequests(ctx); err == nil {
			for _, r := range reqs {
				_ = bob.MarkRequestSent(ctx, r.ID, b)
			}
		}
		if _, err := bob.DecryptRoomEvent(ctx, room, ev); err != nil {
			t.Fatalf("the real event no longer decrypts: %v", err)
		}
	})
}
