package cryptotest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/megolm"
)

// TestPropertyMegolmReplays: Megolm itself has no replay protection
// (megolm.TestPropertyMegolmSchedules); sicher's event layer adds it with a
// ReplayGuard. Random schedules deliver a room's events in any order, again
// (a sync repeating an event: accepted), and replayed under another event
// ID or timestamp (a server re-sending the ciphertext as a new event:
// refused with event.ErrReplay), to receivers whose sessions come from
// the session key or from exports at random indices, with the guard
// persisted and restored at random points. A refused event changes neither
// the session nor the guard.
func TestPropertyMegolmReplays(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 40
	}
	var accepted, repeats, replays, unknown int
	for sched := range n {
		rng := rand.New(rand.NewPCG(0x5ec0_0308, uint64(sched)))
		r := seeded(fmt.Sprintf("replay %d", sched))
		out := must(megolm.NewOutboundSessionFrom(r))
		const room = "!ward:hospital.example"
		type sent struct {
			content []byte
			index   uint32
			id      string
			ts      int64
		}
		var events []sent
		first := must(megolm.NewInboundSession(out.SessionKey()))
		for i := range 10 + rng.IntN(30) {
			c, idx, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: json.RawMessage(fmt.Sprintf(`{"body":"%d"}`, i))})
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, sent{c, idx, fmt.Sprintf("$e%d", i), int64(1000 + i)})
		}
		// The receiver's session: from the key, or an import at a random index.
		s := first
		info := func(s *megolm.InboundSession) event.SessionInfo {
			p := event.OverOlm
			if !s.IsVerified() {
				p = event.Export
			}
			return event.SessionInfo{RoomID: room, SessionID: s.SessionID(), Sender: "@alice:hospital.example", Provenance: p}
		}
		if rng.IntN(2) == 0 {
			s = must(megolm.ImportInboundSession(must(first.Export(uint32(rng.IntN(len(events)))))))
		}
		guard := new(event.ReplayGuard)
		seen := map[uint32]sent{} // the model: index -> event accepted there
		for range 3 * len(events) {
			e := events[rng.IntN(len(events))]
			replayed := rng.IntN(3) == 0
			if replayed {
				e.id += "-again"
				if rng.IntN(2) == 0 {
					e.id, e.ts = events[rng.IntN(len(events))].id, e.ts+1
				}
			}
			if rng.IntN(10) == 0 { // persist and restore the guard
				g := new(event.ReplayGuard)
				if err := g.UnmarshalJSON(must(guard.MarshalJSON())); err != nil {
					t.Fatal(err)
				}
				guard = g
			}
			before := must(s.PickleLibolm(nil))
			guardState := must(guard.MarshalJSON())
			ev, err := event.DecryptMegolm(s, e.content, event.MegolmDecryptParams{
				RoomID: room, EventID: e.id, OriginServerTS: e.ts, Guard: guard,
				Sender: "@alice:hospital.example", Session: info(s),
			})
			prev, known := seen[e.index]
			switch {
			case e.index < s.FirstKnownIndex():
				if !errors.Is(err, event.ErrUnknownIndex) {
					t.Fatalf("schedule %d: index %d below the first known: %v", sched, e.index, err)
				}
				unknown++
			case known && (prev.id != e.id || prev.ts != e.ts):
				if !errors.Is(err, event.ErrReplay) || !strings.Contains(err.Error(), fmt.Sprintf("index %d was used by event %s ", e.index, prev.id)) {
					t.Fatalf("schedule %d: replay of index %d as %s (first %s): %v", sched, e.index, e.id, prev.id, err)
				}
				replays++
			default:
				if err != nil || ev.MessageIndex != e.index {
					t.Fatalf("schedule %d: event %s at %d: %v", sched, e.id, e.index, err)
				}
				if known {
					repeats++
				} else {
					accepted++
				}
				seen[e.index] = e
				continue
			}
			if after := must(s.PickleLibolm(nil)); after != before || string(must(guard.MarshalJSON())) != string(guardState) {
				t.Fatalf("schedule %d: a refused event changed the session or the guard", sched)
			}
		}
	}
	t.Logf("accepted %d, repeats %d, replays refused %d, unknown index %d", accepted, repeats, replays, unknown)
	if !testing.Short() && (replays < 100 || repeats < 100 || unknown < 10) {
		t.Error("the schedules did not exercise replays, repeats and unknown indices")
	}
}
