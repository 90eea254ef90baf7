package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/store"
)

// openOptions opens another handle on b's database with opts.
func openOptions(t *testing.T, b *backend, key Key, opts Options) *Store {
	t.Helper()
	var (
		s   *Store
		err error
	)
	if b.dsn != "" {
		s, err = OpenPostgresOptions(ctx, b.dsn, key, opts)
	} else {
		s, err = OpenSQLiteOptions(ctx, b.path, key, opts)
	}
	if err != nil {
		t.Fatalf("open %s: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func getInbound(t *testing.T, s *Store, o store.Owner, room, sid string) *store.InboundGroupSession {
	t.Helper()
	var rec *store.InboundGroupSession
	if err := s.View(ctx, o, func(tx store.Tx) (err error) {
		rec, err = tx.InboundGroupSession(ctx, room, sid)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestCacheTwoHandles: two handles on one database, each with its session cache. What one
// writes (state, first known index, backed-up flag, replay records) the other reads at once,
// although it has the row's older state cached; a rolled-back write leaves the committed state.
func TestCacheTwoHandles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		key := GenerateKey()
		a := openOptions(t, b, key, Options{CacheSize: 16})
		c := openOptions(t, b, key, Options{CacheSize: 16})
		o := store.Owner{UserID: "@u:example.org", DeviceID: "D"}
		put(t, a, o, func(tx store.Tx) error {
			return tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: "!r", SessionID: "s", Provenance: store.FromOlm,
				FirstKnownIndex: 5, State: store.Secret("state one")})
		})
		for range 3 {
			if rec := getInbound(t, a, o, "!r", "s"); string(rec.State) != "state one" {
				t.Fatalf("a reads %q", rec.State)
			}
		}
		if h := a.cache.hits.Load(); h != 2 {
			t.Fatalf("a: %d cache hits, want 2 (the second and third read)", h)
		}
		getInbound(t, c, o, "!r", "s")

		// c writes a new state and changes the clear columns; it records a replay.
		put(t, c, o, func(tx store.Tx) error {
			rec, err := tx.InboundGroupSession(ctx, "!r", "s")
			if err != nil {
				return err
			}
			rec.State, rec.FirstKnownIndex, rec.BackedUp = store.Secret("state two"), 2, true
			if err := tx.PutInboundGroupSession(ctx, rec); err != nil {
				return err
			}
			return tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: "s", Index: 7, EventID: "$c"})
		})
		rec := getInbound(t, a, o, "!r", "s")
		if string(rec.State) != "state two" || rec.FirstKnownIndex != 2 || !rec.BackedUp {
			t.Fatalf("a reads %+v after c's write, want state two, index 2, backed up", rec)
		}
		err := a.Update(ctx, o, func(tx store.Tx) error {
			return tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: "s", Index: 7, EventID: "$a"})
		})
		if !errors.Is(err, store.ErrReplay) {
			t.Fatalf("a records index 7 for another event: %v, want ErrReplay", err)
		}

		// A write that rolls back updates a's cache entry but not the row.
		boom := errors.New("boom")
		err = a.Update(ctx, o, func(tx store.Tx) error {
			rec, err := tx.InboundGroupSession(ctx, "!r", "s")
			if err != nil {
				return err
			}
			rec.State = store.Secret("state three")
			if err := tx.PutInboundGroupSession(ctx, rec); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		for _, s := range []*Store{a, c} {
			if rec := getInbound(t, s, o, "!r", "s"); string(rec.State) != "state two" {
				t.Fatalf("read %q after a rolled-back write, want state two", rec.State)
			}
		}
	})
}

// TestCacheSealStillChecked: a sealed state moved from one row into another does not open,
// although both rows' states are cached.
func TestCacheSealStillChecked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := openOptions(t, b, GenerateKey(), Options{CacheSize: 16})
		o := store.Owner{UserID: "@u:example.org", DeviceID: "D"}
		put(t, s, o, func(tx store.Tx) error {
			for _, sid := range []string{"a", "b"} {
				if err := tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: "!r", SessionID: sid,
					Provenance: store.FromOlm, State: store.Secret("state of " + sid)}); err != nil {
					return err
				}
			}
			return nil
		})
		getInbound(t, s, o, "!r", "a")
		getInbound(t, s, o, "!r", "b")
		q := "UPDATE sicher_inbound_group_sessions SET state = (SELECT state FROM sicher_inbound_group_sessions WHERE session_id = 'a') WHERE session_id = 'b'"
		if _, err := b.raw.Exec(q); err != nil {
			t.Fatal(err)
		}
		err := s.View(ctx, o, func(tx store.Tx) error {
			_, err := tx.InboundGroupSession(ctx, "!r", "b")
			return err
		})
		if !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("session b with a's sealed state: %v, want ErrCorrupt", err)
		}
		if rec := getInbound(t, s, o, "!r", "a"); string(rec.State) != "state of a" {
			t.Fatalf("session a: %q", rec.State)
		}
	})
}

// TestCacheBounded: the cache never holds more than CacheSize rows, evicts the least recently
// used, and returns copies; a negative size turns it off.
func TestCacheBounded(t *testing.T) {
	b := sqliteBackend(t)
	key := GenerateKey()
	s := openOptions(t, b, key, Options{CacheSize: 8})
	o := store.Owner{UserID: "@u:example.org", DeviceID: "D"}
	const n = 50
	put(t, s, o, func(tx store.Tx) error {
		for i := range n {
			if err := tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: "!r", SessionID: fmt.Sprint(i),
				Provenance: store.FromOlm, State: store.Secret(fmt.Sprint("state ", i))}); err != nil {
				return err
			}
		}
		return nil
	})
	if l := s.cache.len(); l != 0 {
		t.Fatalf("an import filled the cache with %d rows", l)
	}
	for i := range n {
		rec := getInbound(t, s, o, "!r", fmt.Sprint(i))
		if string(rec.State) != fmt.Sprint("state ", i) {
			t.Fatalf("session %d: %q", i, rec.State)
		}
		if l := s.cache.len(); l > 8 {
			t.Fatalf("cache holds %d rows, more than 8", l)
		}
	}
	// The last 8 are cached; the first is not.
	hits := s.cache.hits.Load()
	getInbound(t, s, o, "!r", fmt.Sprint(n-1))
	getInbound(t, s, o, "!r", "0")
	if got := s.cache.hits.Load() - hits; got != 1 {
		t.Fatalf("%d hits reading the newest and the evicted row, want 1", got)
	}
	rec := getInbound(t, s, o, "!r", "0")
	rec.State[0] = 'X'
	if again := getInbound(t, s, o, "!r", "0"); !bytes.Equal(again.State, []byte("state 0")) {
		t.Fatalf("changing a returned state changed the cache: %q", again.State)
	}

	off := openOptions(t, b, key, Options{CacheSize: -1})
	if off.cache != nil {
		t.Fatal("CacheSize -1 made a cache")
	}
	if rec := getInbound(t, off, o, "!r", "3"); string(rec.State) != "state 3" {
		t.Fatalf("without cache: %q", rec.State)
	}
	if def := openOptions(t, b, key, Options{}); def.cache == nil || def.cache.max != DefaultCacheSize {
		t.Fatal("CacheSize 0 is not the default size")
	}
}
