package machine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
)

// valueRecorder remembers the names of the values written through it.
type valueRecorder struct {
	store.Store
	mu    sync.Mutex
	names map[string]int // name → size of the last write
}

func (s *valueRecorder) Update(ctx context.Context, o store.Owner, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, o, func(tx store.Tx) error { return fn(recordingTx{tx, s}) })
}

type recordingTx struct {
	store.Tx
	s *valueRecorder
}

func (t recordingTx) PutValue(ctx context.Context, name string, v []byte) error {
	t.s.mu.Lock()
	t.s.names[name] = len(v)
	t.s.mu.Unlock()
	return t.Tx.PutValue(ctx, name, v)
}

// bookkeeping returns the machine's values other than the fixed ones.
func (s *valueRecorder) bookkeeping() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for n, size := range s.names {
		if strings.Contains(n, "/") {
			out[n] = size
		}
	}
	return out
}

// TestLedgerBounded: wedged-session recoveries, claim attempts, m.dummy markers, Olm message
// hashes and withheld notices for 4,200 peers and rooms, a second apart,, through the code that writes them,
// stay within the ledgers' values and entries, and the oldest and expired entries go first.
func TestLedgerBounded(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_765_000_000_000)
	rec := &valueRecorder{Store: store.NewMemory(), names: map[string]int{}}
	m, err := New(ctx, Config{UserID: "@bob:example.org", DeviceID: "BOB", Store: rec,
		Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	const peers, spacing = 4200, time.Second
	for i := range peers {
		now = now.Add(spacing)
		peer := key.Curve25519(sha256.Sum256(fmt.Appendf(nil, "peer %d", i)))
		oc := &event.OlmContent{SenderKey: peer,
			Ciphertext: map[string]olm.EncryptedMessage{m.curve.String(): {Body: fmt.Appendf(nil, "message %d", i)}}}
		err = m.update(ctx, func(tx store.Tx) error {
			if err := m.rememberOlm(ctx, tx, oc); err != nil {
				return err
			}
			if err := wedgedLedger.put(ctx, tx, peer.String(), nil, now); err != nil {
				return err
			}
			if err := dummyLedger.put(ctx, tx, peer.String(), nil, now); err != nil {
				return err
			}
			if err := claimLedger.put(ctx, tx, fmt.Sprintf("@u%d:example.org|D", i), nil, now); err != nil {
				return err
			}
			sid := key.Ed25519(peer)
			return m.sendWithheld(ctx, tx, fmt.Sprintf("!room%d:example.org", i), sid,
				map[string]string{fmt.Sprintf("@u%d:example.org|D", i): withheldNoOlm})
		})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && !m.seenOlm(ctx, oc) {
			t.Fatal("a remembered message is not recognised")
		}
	}
	const slack = 5 * time.Minute
	values := rec.bookkeeping()
	limit := 0
	for _, l := range []ledger{wedgedLedger, dummyLedger, claimLedger, seenLedger, withheldLedger} {
		limit += l.buckets
		n := 0
		err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
			for b := range l.buckets {
				entries, err := l.load(ctx, tx, fmt.Sprintf("%s%d", l.name, b))
				if err != nil {
					return err
				}
				if len(entries) > l.max {
					return fmt.Errorf("%s%d has %d entries, max %d", l.name, b, len(entries), l.max)
				}
				for _, e := range entries {
					// Expired entries go when their bucket is next written: a few seconds.
					if l.ttl > 0 && now.Sub(time.UnixMilli(e.T)) > l.ttl+slack {
						return fmt.Errorf("%s%d keeps an entry long expired", l.name, b)
					}
				}
				n += len(entries)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		bound := l.buckets * l.max
		if l.ttl > 0 {
			bound = min(bound, int((l.ttl+slack)/spacing)+1)
		}
		if n == 0 || n > bound {
			t.Errorf("%s keeps %d entries, want 1 to %d", l.name, n, bound)
		}
		t.Logf("%s: %d entries in %d values", l.name, n, l.buckets)
	}
	if len(values) > limit {
		t.Fatalf("%d bookkeeping values for %d peers, limit %d", len(values), peers, limit)
	}
	if limit != 176 {
		t.Fatalf("the ledgers use %d values, the doc says 176", limit)
	}
}

// TestLedgerEviction: beyond max the least recently written entry goes, expired entries are
// not returned and are dropped on the next write.
func TestLedgerEviction(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	owner := store.Owner{UserID: "@a:example.org", DeviceID: "A"}
	l := ledger{name: "test/", buckets: 1, max: 3, ttl: time.Hour}
	t0 := time.UnixMilli(1_765_000_000_000)
	err := st.Update(ctx, owner, func(tx store.Tx) error {
		for i, k := range []string{"a", "b", "c", "d"} {
			if err := l.put(ctx, tx, k, json.RawMessage(`1`), t0.Add(time.Duration(i)*time.Minute)); err != nil {
				return err
			}
		}
		if _, ok, _ := l.get(ctx, tx, "a", t0.Add(5*time.Minute)); ok {
			t.Error("the oldest entry stayed beyond max")
		}
		if _, ok, _ := l.get(ctx, tx, "d", t0.Add(5*time.Minute)); !ok {
			t.Error("the newest entry is gone")
		}
		later := t0.Add(time.Hour + 90*time.Second) // b expired, c and d not
		if _, ok, _ := l.get(ctx, tx, "b", later); ok {
			t.Error("an expired entry is returned")
		}
		if err := l.put(ctx, tx, "e", nil, later); err != nil {
			return err
		}
		b, err := l.load(ctx, tx, "test/0")
		if err != nil {
			return err
		}
		if len(b) != 3 || b["b"].T != 0 {
			t.Errorf("after expiry: %v", b)
		}
		if err := l.remove(ctx, tx, "e", later); err != nil {
			return err
		}
		if _, ok, _ := l.get(ctx, tx, "e", later); ok {
			t.Error("a removed entry is returned")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLedgerBucketEncoding: a bucket round-trips; every strict prefix either fails or is a
// bucket of fewer entries (cut between entries), and a damaged value reads as an empty
// bucket without a panic.
func TestLedgerBucketEncoding(t *testing.T) {
	b := map[string]ledgerEntry{"a": {T: 1}, "bb": {T: 1 << 40, V: []byte(`{"x":1}`)}, "": {T: 0, V: []byte{0}}}
	raw := encodeBucket(b)
	got, ok := decodeBucket(raw)
	if !ok || len(got) != 3 || got["bb"].T != 1<<40 || string(got["bb"].V) != `{"x":1}` {
		t.Fatalf("round trip: %v %v", got, ok)
	}
	for n := range len(raw) {
		if p, ok := decodeBucket(raw[:n]); ok && len(p) >= len(b) {
			t.Fatalf("prefix of %d bytes parses as %d entries", n, len(p))
		}
	}
	for _, bad := range [][]byte{nil, {}, {2}, {ledgerFormat, 5, 'a'}, {ledgerFormat, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0}} {
		if _, ok := decodeBucket(bad); ok {
			t.Errorf("%x decodes", bad)
		}
	}
	ctx := context.Background()
	st := store.NewMemory()
	owner := store.Owner{UserID: "@a:example.org", DeviceID: "A"}
	l := ledger{name: "test/", buckets: 1, max: 3}
	err := st.Update(ctx, owner, func(tx store.Tx) error {
		if err := tx.PutValue(ctx, "test/0", []byte("not a bucket")); err != nil {
			return err
		}
		if _, ok, err := l.get(ctx, tx, "a", time.Now()); ok || err != nil {
			t.Errorf("damaged bucket: %v %v", ok, err)
		}
		return l.put(ctx, tx, "a", nil, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
}
