package machine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// countingStore counts the write transactions of a store.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, o store.Owner, fn func(store.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, o, fn)
}

// tamper flips a character in the middle of an Olm event's ciphertext body.
func tamper(t *testing.T, ev json.RawMessage) json.RawMessage {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	for _, c := range e["content"].(map[string]any)["ciphertext"].(map[string]any) {
		m := c.(map[string]any)
		b := []byte(m["body"].(string))
		i := len(b) / 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		m["body"] = string(b)
	}
	out, _ := json.Marshal(e)
	return out
}

// TestSyncBatch: a sync with room keys from two senders, a tampered message and a second
// delivery is processed in one transaction for the Olm events; each event gets the result it
// would get alone, and both rooms decrypt.
func TestSyncBatch(t *testing.T) {
	w := newWorld(t)
	cs := &countingStore{Store: store.NewMemory()}
	bob := w.deviceOn(cs, "@bob:example.org", "B")
	alice := w.device("@alice:example.org", "A")
	carol := w.device("@carol:example.org", "C")
	r1 := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	r2 := w.hs.CreateRoom(carol.UserID(), bob.UserID())
	ev1 := w.say(alice, r1, "from alice", machine.RoomSettings{})
	ev2 := w.say(carol, r2, "from carol", machine.RoomSettings{})

	c := w.hs.Sync(bob.UserID(), "B")
	if len(c.ToDevice) != 2 {
		t.Fatalf("%d to-device events", len(c.ToDevice))
	}
	c.ToDevice = []json.RawMessage{c.ToDevice[0], tamper(t, c.ToDevice[1]), c.ToDevice[1], c.ToDevice[0]}
	before := cs.updates.Load()
	evs, err := bob.ReceiveSync(w.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.updates.Load() - before; n != 2 {
		t.Fatalf("ReceiveSync made %d write transactions, want 2 (sync state, the Olm events)", n)
	}
	if len(evs) != 4 {
		t.Fatalf("%d results", len(evs))
	}
	for i, want := range []string{"", "tampered", "", "duplicate"} {
		e := evs[i].Err
		switch {
		case want == "" && (e != nil || evs[i].Type != "m.room_key"):
			t.Errorf("event %d: %s %v", i, evs[i].Type, e)
		case want == "tampered" && (e == nil || errors.Is(e, machine.ErrDuplicate)):
			t.Errorf("tampered event: %v", e)
		case want == "duplicate" && !errors.Is(e, machine.ErrDuplicate):
			t.Errorf("second delivery: %v", e)
		}
	}
	w.mustRead(bob, r1, ev1, "from alice")
	w.mustRead(bob, r2, ev2, "from carol")
}

// TestSyncBatchStoreFailure: when the store fails inside the shared transaction, the events
// are processed one transaction each, with the results they have alone.
func TestSyncBatchStoreFailure(t *testing.T) {
	w := newWorld(t)
	fs := &failingStore{Store: store.NewMemory()}
	bob := w.deviceOn(fs, "@bob:example.org", "B")
	alice := w.device("@alice:example.org", "A")
	carol := w.device("@carol:example.org", "C")
	r1 := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	r2 := w.hs.CreateRoom(carol.UserID(), bob.UserID())
	ev1 := w.say(alice, r1, "from alice", machine.RoomSettings{})
	ev2 := w.say(carol, r2, "from carol", machine.RoomSettings{})
	c := w.hs.Sync(bob.UserID(), "B")
	fs.failNext.Store(true) // the first transaction with two Olm events fails once
	evs, err := bob.ReceiveSync(w.ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if fs.failed.Load() != 1 {
		t.Fatalf("the store failed %d times", fs.failed.Load())
	}
	for i, e := range evs {
		if e.Err != nil {
			t.Fatalf("event %d: %v", i, e.Err)
		}
	}
	w.mustRead(bob, r1, ev1, "from alice")
	w.mustRead(bob, r2, ev2, "from carol")
}

// failingStore fails the room-key write of the first transaction that stores two inbound
// sessions, once.
type failingStore struct {
	store.Store
	failNext atomic.Bool
	failed   atomic.Int64
}

func (s *failingStore) Update(ctx context.Context, o store.Owner, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, o, func(tx store.Tx) error {
		return fn(&failingTx{Tx: tx, s: s})
	})
}

type failingTx struct {
	store.Tx
	s     *failingStore
	count int
}

func (t *failingTx) PutInboundGroupSession(ctx context.Context, r *store.InboundGroupSession) error {
	if t.count++; t.count == 2 && t.s.failNext.CompareAndSwap(true, false) {
		t.s.failed.Add(1)
		return errors.New("test: the disk is full")
	}
	return t.Tx.PutInboundGroupSession(ctx, r)
}

// TestDecryptRoomEvents: a page of events decrypts in one transaction, each event with the
// result DecryptRoomEvent gives it alone: a replayed index, a malformed event and an unknown
// session fail, the others decrypt, and an event seen twice is not a replay.
func TestDecryptRoomEvents(t *testing.T) {
	for _, cache := range []int{0, -1} {
		w := newWorld(t)
		cs := &countingStore{Store: store.NewMemory()}
		bob, err := machine.New(w.ctx, machine.Config{UserID: "@bob:example.org", DeviceID: "B", Store: cs,
			Clock: w.clock, SessionCacheSize: cache})
		if err != nil {
			t.Fatal(err)
		}
		w.send(bob)
		alice := w.device("@alice:example.org", "A")
		room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
		var evs []json.RawMessage
		for _, text := range []string{"one", "two", "three"} {
			evs = append(evs, w.say(alice, room, text, machine.RoomSettings{}))
		}
		w.mustRead(bob, room, evs[0], "one")
		var replayed map[string]any
		if err := json.Unmarshal(evs[1], &replayed); err != nil {
			t.Fatal(err)
		}
		replayed["event_id"] = "$replayed"
		rb, _ := json.Marshal(replayed)
		other := w.hs.CreateRoom(alice.UserID())
		unknown := w.say(alice, other, "elsewhere", machine.RoomSettings{})
		page := []json.RawMessage{evs[0], evs[1], rb, json.RawMessage(`{}`), evs[2], unknown, evs[1]}

		before := cs.updates.Load()
		res, errs := bob.DecryptRoomEvents(w.ctx, room, page)
		if n := cs.updates.Load() - before; n != 1 {
			t.Fatalf("%d write transactions for a page, want 1", n)
		}
		want := []any{"one", "two", machine.FailureReplay, machine.FailureMalformed, "three", machine.FailureMissingSession, "two"}
		for i, wnt := range want {
			switch wnt := wnt.(type) {
			case string:
				if errs[i] != nil || res[i] == nil {
					t.Fatalf("cache %d, event %d: %v", cache, i, errs[i])
				}
				var c struct {
					Body string `json:"body"`
				}
				if err := json.Unmarshal(res[i].Content, &c); err != nil || c.Body != wnt {
					t.Fatalf("cache %d, event %d: %q, want %q", cache, i, c.Body, wnt)
				}
			case machine.DecryptFailure:
				var de *machine.DecryptionError
				if res[i] != nil || !errors.As(errs[i], &de) || de.Reason != wnt {
					t.Fatalf("cache %d, event %d: %v, want failure %d", cache, i, errs[i], wnt)
				}
				_, alone := bob.DecryptRoomEvent(w.ctx, room, page[i])
				var de2 *machine.DecryptionError
				if !errors.As(alone, &de2) || de2.Reason != de.Reason {
					t.Fatalf("cache %d, event %d: %v in a page, %v alone", cache, i, errs[i], alone)
				}
			}
		}
	}
}
