package machinebench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/sqlstore"
)

var storeKey = sqlstore.GenerateKey()

// sicherDevice creates a machine on st and uploads its keys.
func sicherDevice(tb testing.TB, hs *machinetest.Server, user, dev string, st store.Store) *machine.Machine {
	tb.Helper()
	m, err := machine.New(context.Background(), machine.Config{UserID: user, DeviceID: dev, Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	sicherSend(tb, hs, m)
	return m
}

func sicherSend(tb testing.TB, hs *machinetest.Server, m *machine.Machine) {
	tb.Helper()
	if err := hs.SendAll(context.Background(), m); err != nil {
		tb.Fatal(err)
	}
}

func openSQLStore(tb testing.TB, path string) *sqlstore.Store {
	tb.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), path, storeKey)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// sicherShare: a new device on SQLite queries 100 users, claims one-time keys for their 500
// devices, and shares a new room key with them (the to-device requests executed by the fake
// homeserver). One op is one such share.
func sicherShare(b *testing.B) {
	ctx := context.Background()
	hs := machinetest.NewServer()
	var users []string
	for i := range shareUsers {
		users = append(users, shareUser(i))
		for j := range shareDevices {
			sicherDevice(b, hs, shareUser(i), shareDevice(i, j), store.NewMemory())
		}
	}
	members := append(users, "@sharer:localhost")
	dir := b.TempDir()
	b.ReportAllocs()
	var cpu cpuClock
	b.ResetTimer()
	cpu.Start()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cpu.Stop()
		st := openSQLStore(b, filepath.Join(dir, fmt.Sprintf("sharer%d.db", i)))
		m := sicherDevice(b, hs, "@sharer:localhost", fmt.Sprintf("SHARER%d", i), st)
		cpu.Start()
		b.StartTimer()
		if err := m.UpdateTrackedUsers(ctx, members); err != nil {
			b.Fatal(err)
		}
		sicherSend(b, hs, m)
		if _, err := m.GetMissingSessions(ctx, members); err != nil {
			b.Fatal(err)
		}
		sicherSend(b, hs, m)
		if err := m.ShareRoomKey(ctx, roomName(0), members, machine.RoomSettings{}); err != nil {
			b.Fatal(err)
		}
		reqs, err := m.OutgoingRequests(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sicherSend(b, hs, m)
		b.StopTimer()
		cpu.Stop()
		if n := sharedDevices(reqs); n != shareUsers*shareDevices {
			b.Fatalf("shared with %d devices", n)
		}
		st.Close()
		cpu.Start()
		b.StartTimer()
	}
	cpu.Stop()
	cpu.report(b)
}

// sharedDevices counts the recipients of the m.room.encrypted to-device requests.
func sharedDevices(reqs []machine.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Kind != machine.KindToDevice || r.EventType != "m.room.encrypted" {
			continue
		}
		var body struct {
			Messages map[string]map[string]json.RawMessage `json:"messages"`
		}
		_ = json.Unmarshal(r.Body, &body)
		for _, devs := range body.Messages {
			n += len(devs)
		}
	}
	return n
}

// sicherDecrypt: Bob's machine on SQLite decrypts 10,000 room events from Alice, from one
// session or round robin over 100 sessions (rooms), one by one (DecryptRoomEvent) or, with
// page > 0, page events of one room at a time (DecryptRoomEvents). One op is all 10,000
// events.
func sicherDecrypt(b *testing.B, sessions, page int) {
	ctx := context.Background()
	hs := machinetest.NewServer()
	alice := sicherDevice(b, hs, "@alice:localhost", "ALICE", store.NewMemory())
	st := openSQLStore(b, filepath.Join(b.TempDir(), "bob.db"))
	defer st.Close()
	bob := sicherDevice(b, hs, "@bob:localhost", "BOB", st)
	members := []string{"@alice:localhost", "@bob:localhost"}
	rooms := make([]string, sessions)
	for r := range rooms {
		rooms[r] = hs.CreateRoom(members...)
	}
	if err := alice.UpdateTrackedUsers(ctx, members); err != nil {
		b.Fatal(err)
	}
	if err := bob.UpdateTrackedUsers(ctx, members); err != nil {
		b.Fatal(err)
	}
	sicherSend(b, hs, alice)
	sicherSend(b, hs, bob)
	if _, err := alice.GetMissingSessions(ctx, members); err != nil {
		b.Fatal(err)
	}
	sicherSend(b, hs, alice)
	rs := machine.RoomSettings{RotationMessages: 2 * decryptEvents}
	for _, r := range rooms {
		if err := alice.ShareRoomKey(ctx, r, members, rs); err != nil {
			b.Fatal(err)
		}
	}
	sicherSend(b, hs, alice)
	evs, err := hs.SyncMachine(ctx, bob)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range evs {
		if e.Err != nil {
			b.Fatal(e.Err)
		}
	}
	type roomEvent struct {
		room string
		ev   json.RawMessage
	}
	events := make([]roomEvent, decryptEvents)
	for i := range events {
		r := rooms[i%sessions]
		content, _ := json.Marshal(messageBody(i))
		c, err := alice.EncryptRoomEvent(ctx, r, "m.room.message", content)
		if err != nil {
			b.Fatal(err)
		}
		events[i] = roomEvent{r, hs.Send(r, "@alice:localhost", c)}
	}
	b.ReportAllocs()
	var cpu cpuClock
	cpu.Start()
	for b.Loop() {
		if page > 0 {
			for start := 0; start < len(events); start += page {
				batch := make([]json.RawMessage, 0, page)
				for _, e := range events[start:min(start+page, len(events))] {
					batch = append(batch, e.ev)
				}
				_, errs := bob.DecryptRoomEvents(ctx, events[start].room, batch)
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			continue
		}
		for _, e := range events {
			if _, err := bob.DecryptRoomEvent(ctx, e.room, e.ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu.Stop()
	cpu.report(b)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*decryptEvents), "ns/event")
}

// sicherSync: Bob's machine on SQLite (a fresh copy of one database each op) processes a sync
// with 1,000 Olm-encrypted m.room_key events from 50 devices whose keys it queried before.
// One op is the whole ReceiveSync.
func sicherSync(b *testing.B) {
	ctx := context.Background()
	hs := machinetest.NewServer()
	dir := b.TempDir()
	path := filepath.Join(dir, "bob.db")
	st := openSQLStore(b, path)
	bob := sicherDevice(b, hs, "@bob:localhost", "BOB", st)
	var senders []string
	for i := range syncSenders {
		senders = append(senders, syncSender(i))
	}
	if err := bob.UpdateTrackedUsers(ctx, senders); err != nil {
		b.Fatal(err)
	}
	for i := range syncSenders {
		s := sicherDevice(b, hs, syncSender(i), "SENDER", store.NewMemory())
		members := []string{syncSender(i), "@bob:localhost"}
		if err := s.UpdateTrackedUsers(ctx, members); err != nil {
			b.Fatal(err)
		}
		sicherSend(b, hs, s)
		if _, err := s.GetMissingSessions(ctx, members); err != nil {
			b.Fatal(err)
		}
		sicherSend(b, hs, s)
		for r := range syncRooms {
			if err := s.ShareRoomKey(ctx, roomName(r), members, machine.RoomSettings{}); err != nil {
				b.Fatal(err)
			}
		}
		sicherSend(b, hs, s)
	}
	sicherSend(b, hs, bob) // the keys query of the senders
	sync := hs.Sync("@bob:localhost", "BOB")
	if len(sync.ToDevice) != syncSenders*syncRooms {
		b.Fatalf("%d to-device events", len(sync.ToDevice))
	}
	sync.Changed, sync.Left = nil, nil
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var cpu cpuClock
	b.ResetTimer()
	cpu.Start()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cpu.Stop()
		st := openSQLStore(b, copyDB(b, path, dir, i))
		m, err := machine.New(ctx, machine.Config{UserID: "@bob:localhost", DeviceID: "BOB", Store: st})
		if err != nil {
			b.Fatal(err)
		}
		cpu.Start()
		b.StartTimer()
		evs, err := m.ReceiveSync(ctx, sync)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu.Stop()
		for _, e := range evs {
			if e.Err != nil || e.Type != "m.room_key" {
				b.Fatalf("%s: %v", e.Type, e.Err)
			}
		}
		st.Close()
		cpu.Start()
		b.StartTimer()
	}
	cpu.Stop()
	cpu.report(b)
}
