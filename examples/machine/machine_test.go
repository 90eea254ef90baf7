//go:build !js && !wasip1

// Package machine_test tells the story of examples/newcomer on the client machine and a fake
// homeserver: two users, four devices, a room, an attachment, a late device, a restart on
// SQLite. Key backup and SAS are not on the machine yet: examples/newcomer shows them.
package machine_test

import (
	"bytes"
	"context"
	"encoding/json"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/sqlstore"
)

const alice, bob = "@dr.alice:praxis.example", "@bob:patient.example"
const red, none = machine.ShieldRed, machine.ShieldNone

// must stops the story at the first error, as examples/newcomer does: a panic fails the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func check(err error) { must(0, err) }

func TestNewcomerOnTheMachine(t *testing.T) {
	ctx, hs := context.Background(), machinetest.NewServer()
	rnd, now := mrand.NewChaCha8([32]byte{'s', 'i', 'c', 'h', 'e', 'r'}), time.UnixMilli(1_765_000_000_000)
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	// open creates (or, on the same store, loads) a device's machine and uploads its keys.
	open := func(st store.Store, user, dev string) *machine.Machine {
		m := must(machine.NewFrom(ctx, rnd, machine.Config{UserID: user, DeviceID: dev, Store: st, Clock: clock}))
		check(hs.SendAll(ctx, m))
		return m
	}
	// step is one turn of a client's loop: track the room's members, sync, query their
	// devices, claim one-time keys for new ones (each time sending what the machine asks for).
	step := func(room string, ms ...*machine.Machine) {
		for _, m := range ms {
			check(m.UpdateTrackedUsers(ctx, hs.Members(room)))
			for _, ev := range must(hs.SyncMachine(ctx, m)) {
				check(ev.Err) // to-device events the machine refused (none here)
			}
			check(hs.SendAll(ctx, m))
			must(m.GetMissingSessions(ctx, hs.Members(room)))
			check(hs.SendAll(ctx, m))
		}
	}
	// say shares the room key with every device of the members and sends content.
	say := func(m *machine.Machine, room string, content string) json.RawMessage {
		step(room, m)
		check(m.ShareRoomKey(ctx, room, hs.Members(room), machine.RoomSettings{Policy: machine.AllDevices}))
		check(hs.SendAll(ctx, m))
		return hs.Send(room, m.UserID(), must(m.EncryptRoomEvent(ctx, room, "m.room.message", json.RawMessage(content))))
	}
	// read decrypts ev on m and checks its body, sender, how it reached m and the shield: red
	// for other devices, as nobody here cross-signs, none for our own and locally verified ones.
	read := func(m *machine.Machine, room string, ev json.RawMessage, body, from string, p event.Provenance, shield machine.Shield) json.RawMessage {
		step(room, m)
		dec := must(m.DecryptRoomEvent(ctx, room, ev))
		var c struct{ Body string }
		check(json.Unmarshal(dec.Content, &c))
		if c.Body != body || dec.Info.Sender != from || dec.Info.Provenance != p || dec.Info.Shield != shield {
			t.Fatalf("%s read %q from %s (%v, shield %v %s)", m.DeviceID(), c.Body, dec.Info.Sender, dec.Info.Provenance, dec.Info.Shield, dec.Info.ShieldReason)
		}
		return dec.Content
	}

	// Devices and keys: Alice's practice PC, Bob's phone on SQLite and his laptop.
	key := must(sqlstore.NewKey(bytes.Repeat([]byte{7}, sqlstore.KeySize))) // a real app keeps it in the OS keyring
	path := filepath.Join(t.TempDir(), "bob-phone.db")
	phoneStore := must(sqlstore.OpenSQLite(ctx, path, key))
	pc, phone, laptop := open(store.NewMemory(), alice, "PRAXISPC"), open(phoneStore, bob, "BOBPHONE"), open(store.NewMemory(), bob, "BOBLAPTOP")
	room := hs.CreateRoom(alice, bob)
	step(room, pc)
	if devs, err := pc.Devices(ctx, bob); err != nil || len(devs) != 2 || devs[0].Keys.DeviceID != "BOBLAPTOP" || devs[1].Keys.DeviceID != "BOBPHONE" {
		t.Fatalf("Alice sees Bob's devices %+v, %v", devs, err)
	}

	// A room message, read on every device of both users (Alice's own PC included).
	ev := say(pc, room, `{"msgtype":"m.text","body":"Hallo Bob, dein Befund ist da."}`)
	read(phone, room, ev, "Hallo Bob, dein Befund ist da.", alice, event.OverOlm, red)
	read(laptop, room, ev, "Hallo Bob, dein Befund ist da.", alice, event.OverOlm, red)
	read(pc, room, ev, "Hallo Bob, dein Befund ist da.", alice, event.OverOlm, none)
	thanks := say(laptop, room, `{"msgtype":"m.text","body":"Danke!"}`)
	read(pc, room, thanks, "Danke!", bob, event.OverOlm, red)

	// An attachment: the file is encrypted apart, its key travels in the Megolm event.
	ct, file, err := attachment.Encrypt([]byte("%PDF-1.7 Befund"))
	check(err)
	file.URL = "mxc://praxis.example/Befund"
	content := must(json.Marshal(map[string]any{"msgtype": "m.file", "body": "Befund.pdf", "file": file}))
	got := read(phone, room, say(pc, room, string(content)), "Befund.pdf", alice, event.OverOlm, red)
	var m struct{ File *attachment.EncryptedFile }
	check(json.Unmarshal(got, &m))
	if string(must(attachment.Decrypt(ct, m.File, nil))) != "%PDF-1.7 Befund" {
		t.Fatal("the document differs")
	}

	// A late device: Bob's tablet gets new messages, and the old one from his verified phone.
	tablet := open(store.NewMemory(), bob, "BOBTABLET")
	step(room, phone, tablet)
	check(phone.SetDeviceTrust(ctx, bob, "BOBTABLET", machine.TrustVerified)) // after SAS, see examples/newcomer
	check(tablet.SetDeviceTrust(ctx, bob, "BOBPHONE", machine.TrustVerified))
	read(tablet, room, say(pc, room, `{"msgtype":"m.text","body":"Termin am Montag?"}`), "Termin am Montag?", alice, event.OverOlm, red)
	read(tablet, room, say(phone, room, `{"msgtype":"m.text","body":"Moment."}`), "Moment.", bob, event.OverOlm, none)
	var e struct{ Content map[string]any }
	check(json.Unmarshal(thanks, &e)) // the laptop's session, shared before the tablet existed
	check(tablet.RequestRoomKey(ctx, room, e.Content["session_id"].(string)))
	step(room, tablet, phone) // the request goes out, the phone answers with the key
	read(tablet, room, thanks, "Danke!", bob, event.Forwarded, machine.ShieldGrey)

	// A restart: the phone's account, sessions and replay records are in the SQLite file.
	check(phoneStore.Close())
	phoneStore = must(sqlstore.OpenSQLite(ctx, path, key))
	defer phoneStore.Close()
	phone = open(phoneStore, bob, "BOBPHONE")
	read(phone, room, ev, "Hallo Bob, dein Befund ist da.", alice, event.OverOlm, red)
	read(pc, room, say(phone, room, `{"msgtype":"m.text","body":"Montag passt."}`), "Montag passt.", bob, event.OverOlm, red)
}
