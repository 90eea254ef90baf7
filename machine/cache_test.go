package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
)

// cacheFixture is Alice's outbound session and the room events she encrypted with it, with
// two machines of Bob's device on one store.
type cacheFixture struct {
	t          *testing.T
	ctx        context.Context
	room       string
	out        *megolm.OutboundSession
	keys       []*megolm.SessionKey // the session key before each message
	events     []json.RawMessage
	info       event.SessionInfo
	bob1, bob2 *Machine
}

func newCacheFixture(t *testing.T, cacheSize, messages int) *cacheFixture {
	t.Helper()
	ctx := context.Background()
	out, err := megolm.NewOutboundSession()
	if err != nil {
		t.Fatal(err)
	}
	alice, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	f := &cacheFixture{t: t, ctx: ctx, room: "!room:example.org", out: out}
	f.info = event.SessionInfo{RoomID: f.room, SessionID: out.SessionID(), Sender: "@alice:example.org",
		SenderKey: alice.Curve25519(), ClaimedEd25519: alice.Ed25519(), Ed25519Checked: true, Provenance: event.OverOlm}
	for i := range messages {
		f.keys = append(f.keys, out.SessionKey())
		c, _, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: f.room, Type: "m.room.message",
			Content: json.RawMessage(fmt.Sprintf(`{"body":"message %d"}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		f.events = append(f.events, roomEventJSON(fmt.Sprintf("$ev%d", i), c))
	}
	st := store.NewMemory()
	cfg := Config{UserID: "@bob:example.org", DeviceID: "BOB", Store: st, SessionCacheSize: cacheSize}
	if f.bob1, err = New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if f.bob2, err = New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func roomEventJSON(id string, content json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": "m.room.encrypted", "sender": "@alice:example.org",
		"event_id": id, "origin_server_ts": 1700000000000, "content": content})
	return b
}

// receive stores on m the session as its key was before message index.
func (f *cacheFixture) receive(m *Machine, index int) {
	f.t.Helper()
	s, err := megolm.NewInboundSession(f.keys[index])
	if err != nil {
		f.t.Fatal(err)
	}
	if err := m.update(f.ctx, func(tx store.Tx) error { return m.storeInbound(f.ctx, tx, f.info, s) }); err != nil {
		f.t.Fatal(err)
	}
}

func (f *cacheFixture) decrypt(m *Machine, ev json.RawMessage) error {
	f.t.Helper()
	_, err := m.DecryptRoomEvent(f.ctx, f.room, ev)
	return err
}

func reason(err error) DecryptFailure {
	var de *DecryptionError
	if errors.As(err, &de) {
		return de.Reason
	}
	return 0
}

// TestSessionCacheImprovedByOtherMachine: Bob's second machine has the session in its cache
// from index 2; the first machine on the same store imports the session from index 0, and the
// second machine decrypts index 0 with it.
func TestSessionCacheImprovedByOtherMachine(t *testing.T) {
	f := newCacheFixture(t, 16, 4)
	f.receive(f.bob1, 2)
	if err := f.decrypt(f.bob2, f.events[3]); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.bob2.sessions.get(f.room, f.out.SessionID().String(), f.stampOf(f.bob2)); !ok {
		t.Fatal("the session is not cached after a decryption")
	}
	if err := f.decrypt(f.bob2, f.events[0]); reason(err) != FailureUnknownIndex {
		t.Fatalf("index 0 before the import: %v", err)
	}
	f.receive(f.bob1, 0)
	for _, i := range []int{0, 1, 2, 3} {
		if err := f.decrypt(f.bob2, f.events[i]); err != nil {
			t.Fatalf("index %d after the import by the other machine: %v", i, err)
		}
	}
}

func (f *cacheFixture) stampOf(m *Machine) stamp {
	f.t.Helper()
	var st stamp
	err := m.st.View(f.ctx, m.owner, func(tx store.Tx) error {
		rec, err := tx.InboundGroupSession(f.ctx, f.room, f.out.SessionID().String())
		if err == nil {
			st = inboundStamp(rec)
		}
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// TestSessionCacheReplay: with the cache warm on both machines, another event at an index
// already used is refused, by either machine, because the replay records are in the store.
func TestSessionCacheReplay(t *testing.T) {
	for _, size := range []int{-1, 16} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := newCacheFixture(t, size, 2)
			f.receive(f.bob1, 0)
			for _, m := range []*Machine{f.bob1, f.bob2} {
				for _, ev := range f.events {
					if err := f.decrypt(m, ev); err != nil {
						t.Fatal(err)
					}
				}
			}
			var ev map[string]any
			if err := json.Unmarshal(f.events[1], &ev); err != nil {
				t.Fatal(err)
			}
			ev["event_id"] = "$replayed"
			replayed, _ := json.Marshal(ev)
			for _, m := range []*Machine{f.bob2, f.bob1} {
				if err := f.decrypt(m, replayed); reason(err) != FailureReplay || !errors.Is(err, store.ErrReplay) {
					t.Fatalf("replayed event: %v", err)
				}
			}
		})
	}
}

// TestSessionCacheBounded: the cache keeps at most its size of sessions, and a session pushed
// out is decoded from the store again.
func TestSessionCacheBounded(t *testing.T) {
	c := newSessionCache(2)
	s, err := megolm.NewInboundSession(func() *megolm.SessionKey {
		o, _ := megolm.NewOutboundSession()
		return o.SessionKey()
	}())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		c.put("!r", fmt.Sprint(i), stamp{byte(i)}, event.SessionInfo{}, s.Clone())
	}
	if c.order.Len() != 2 || len(c.items) != 2 {
		t.Fatalf("%d entries in a cache of 2", c.order.Len())
	}
	if _, _, ok := c.get("!r", "4", stamp{4}); !ok {
		t.Fatal("the newest entry is gone")
	}
	if _, _, ok := c.get("!r", "4", stamp{5}); ok {
		t.Fatal("an entry was used for another stored record")
	}
	if _, _, ok := c.get("!r", "0", stamp{0}); ok {
		t.Fatal("the oldest entry stayed")
	}
	var off *sessionCache = newSessionCache(0)
	off.put("!r", "0", stamp{}, event.SessionInfo{}, s)
	if _, _, ok := off.get("!r", "0", stamp{}); ok {
		t.Fatal("a cache of size 0 keeps sessions")
	}
}

// TestSessionCacheNotWrittenBack: with the cache on, decrypting does not rewrite the stored
// session; with it off, it stores the advanced ratchet.
func TestSessionCacheNotWrittenBack(t *testing.T) {
	for _, tc := range []struct {
		size    int
		changed bool
	}{{16, false}, {-1, true}} {
		f := newCacheFixture(t, tc.size, 3)
		f.receive(f.bob1, 0)
		before := f.stampOf(f.bob1)
		if err := f.decrypt(f.bob1, f.events[2]); err != nil {
			t.Fatal(err)
		}
		if changed := f.stampOf(f.bob1) != before; changed != tc.changed {
			t.Fatalf("cache size %d: stored session changed %v", tc.size, changed)
		}
	}
}
