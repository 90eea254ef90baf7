package machine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// world is a fake homeserver with devices on it.
type world struct {
	t   *testing.T
	ctx context.Context
	hs  *machinetest.Server
	mu  sync.Mutex
	now time.Time
}

func newWorld(t *testing.T) *world {
	return &world{t: t, ctx: context.Background(), hs: machinetest.NewServer(), now: time.UnixMilli(1_765_000_000_000)}
}

// clock advances by a millisecond on every reading, as a real clock would between steps.
func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(time.Millisecond)
	return w.now
}

// advance moves the clock forward.
func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// device creates a machine on its own memory store and uploads its keys.
func (w *world) device(user, dev string) *machine.Machine {
	w.t.Helper()
	return w.deviceOn(store.NewMemory(), user, dev)
}

func (w *world) deviceOn(st store.Store, user, dev string) *machine.Machine {
	w.t.Helper()
	m, err := machine.New(w.ctx, machine.Config{UserID: user, DeviceID: dev, Store: st, Clock: w.clock})
	if err != nil {
		w.t.Fatal(err)
	}
	w.send(m)
	return m
}

func (w *world) send(ms ...*machine.Machine) {
	w.t.Helper()
	for _, m := range ms {
		if err := w.hs.SendAll(w.ctx, m); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) sync(ms ...*machine.Machine) []machine.ToDeviceEvent {
	w.t.Helper()
	var all []machine.ToDeviceEvent
	for _, m := range ms {
		evs, err := w.hs.SyncMachine(w.ctx, m)
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, evs...)
	}
	return all
}

// prepare runs the sender's side of a room message: track the members, query, claim, share.
func (w *world) prepare(m *machine.Machine, room string, rs machine.RoomSettings) {
	w.t.Helper()
	members := w.hs.Members(room)
	if err := m.UpdateTrackedUsers(w.ctx, members); err != nil {
		w.t.Fatal(err)
	}
	w.sync(m)
	w.send(m)
	if _, err := m.GetMissingSessions(w.ctx, members); err != nil {
		w.t.Fatal(err)
	}
	w.send(m)
	if err := m.ShareRoomKey(w.ctx, room, members, rs); err != nil {
		w.t.Fatal(err)
	}
	w.send(m)
}

// say prepares the room and sends a text message; it returns the room event.
func (w *world) say(m *machine.Machine, room, text string, rs machine.RoomSettings) json.RawMessage {
	w.t.Helper()
	w.prepare(m, room, rs)
	c, err := m.EncryptRoomEvent(w.ctx, room, "m.room.message", body(text))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.hs.Send(room, m.UserID(), c)
}

func body(text string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": text})
	return b
}

// read decrypts ev on m after a sync and returns the body text.
func (w *world) read(m *machine.Machine, room string, ev json.RawMessage) (string, *machine.DecryptedEvent, error) {
	w.t.Helper()
	if err := m.UpdateTrackedUsers(w.ctx, w.hs.Members(room)); err != nil {
		w.t.Fatal(err)
	}
	w.sync(m)
	w.send(m)
	d, err := m.DecryptRoomEvent(w.ctx, room, ev)
	if err != nil {
		return "", nil, err
	}
	var c struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(d.Content, &c); err != nil {
		w.t.Fatal(err)
	}
	return c.Body, d, nil
}

func (w *world) mustRead(m *machine.Machine, room string, ev json.RawMessage, want string) *machine.DecryptedEvent {
	w.t.Helper()
	got, d, err := w.read(m, room, ev)
	if err != nil {
		w.t.Fatalf("%s/%s: %v", m.UserID(), m.DeviceID(), err)
	}
	if got != want {
		w.t.Fatalf("%s/%s read %q, want %q", m.UserID(), m.DeviceID(), got, want)
	}
	return d
}

func newMemory() store.Store { return store.NewMemory() }
