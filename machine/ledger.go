package machine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/store"
)

// ledger is a bookkeeping map of the machine (peer → time of the last wedged-session
// recovery, room → withheld notices sent, ...), kept in a fixed number of store values. The
// store cannot delete a value, so one value per peer or room would grow with every peer ever
// seen; instead each key hashes into one of buckets values, a bucket holds at most max
// entries (the least recently written goes first), and entries older than ttl (if set) are
// dropped whenever their bucket is written. Losing an entry early is always harmless: it
// only rate-limits, de-duplicates or remembers what was sent, and the worst outcome is doing
// that work once more. A ledger holds nothing secret.
type ledger struct {
	name    string // value name prefix; the bucket number follows
	buckets int
	max     int
	ttl     time.Duration
}

// The machine's ledgers. Together they use at most 176 store values.
var (
	// wedgedLedger: peer Curve25519 key → when the last new session was started because its
	// session was wedged.
	wedgedLedger = ledger{name: "sicher.machine.wedged/", buckets: 16, max: 256, ttl: wedgeInterval}
	// dummyLedger: peer Curve25519 key → a new session is being claimed after a wedged one:
	// send m.dummy over it.
	dummyLedger = ledger{name: "sicher.machine.dummy/", buckets: 16, max: 256, ttl: 24 * time.Hour}
	// claimLedger: user|device → when a claim found no one-time key for it.
	claimLedger = ledger{name: "sicher.machine.claimed/", buckets: 16, max: 256, ttl: claimRetry}
	// seenLedger: hash of a decrypted Olm message → when (second deliveries, seenOlmLimit).
	seenLedger = ledger{name: "sicher.machine.olm_seen/", buckets: 64, max: seenOlmLimit, ttl: 0}
	// withheldLedger: room id → the session and the devices told why they did not get it.
	withheldLedger = ledger{name: "sicher.machine.withheld/", buckets: 64, max: 64, ttl: 0}
)

type ledgerEntry struct {
	T int64  // Unix milliseconds when written
	V []byte // may be empty
}

// ledgerFormat is the first byte of a bucket value. The entries follow, each its key, time and
// value as uvarint length, key bytes, uvarint milliseconds, uvarint length, value bytes:
// buckets are read and written on every decrypted Olm message, so they are binary (internal/wire),
// not JSON.
const ledgerFormat = 1

func encodeBucket(b map[string]ledgerEntry) []byte {
	w := wire.NewBuilder(nil)
	w.AddUint8(ledgerFormat)
	for _, k := range sortedKeys(b) {
		e := b[k]
		w.AddUvarint(uint64(len(k)))
		w.AddBytes([]byte(k))
		w.AddUvarint(uint64(e.T))
		w.AddUvarint(uint64(len(e.V)))
		w.AddBytes(e.V)
	}
	return w.Bytes()
}

func decodeBucket(raw []byte) (map[string]ledgerEntry, bool) {
	r := wire.Reader(raw)
	var format uint8
	if !r.ReadUint8(&format) || format != ledgerFormat {
		return nil, false
	}
	b := map[string]ledgerEntry{}
	for !r.Empty() {
		var n, t, vn uint64
		var k, v []byte
		if !r.ReadUvarint(&n) || n > uint64(r.Len()) || !r.ReadBytes(&k, int(n)) ||
			!r.ReadUvarint(&t) || t > math.MaxInt64 ||
			!r.ReadUvarint(&vn) || vn > uint64(r.Len()) || !r.ReadBytes(&v, int(vn)) {
			return nil, false
		}
		b[string(k)] = ledgerEntry{T: int64(t), V: slices.Clone(v)}
	}
	return b, true
}

func (l ledger) bucket(k string) string {
	h := sha256.Sum256([]byte(k))
	return fmt.Sprintf("%s%d", l.name, binary.BigEndian.Uint32(h[:4])%uint32(l.buckets))
}

// load reads a bucket; one that does not parse is empty (it only held bookkeeping).
func (l ledger) load(ctx context.Context, tx store.Tx, name string) (map[string]ledgerEntry, error) {
	raw, err := tx.Value(ctx, name)
	switch {
	case err == nil:
		if b, ok := decodeBucket(raw); ok {
			return b, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return map[string]ledgerEntry{}, nil
}

func (l ledger) expired(e ledgerEntry, now time.Time) bool {
	return l.ttl > 0 && now.Sub(time.UnixMilli(e.T)) >= l.ttl
}

// get returns k's entry if it is there and not expired.
func (l ledger) get(ctx context.Context, tx store.Tx, k string, now time.Time) (ledgerEntry, bool, error) {
	b, err := l.load(ctx, tx, l.bucket(k))
	if err != nil {
		return ledgerEntry{}, false, err
	}
	e, ok := b[k]
	if !ok || l.expired(e, now) {
		return ledgerEntry{}, false, nil
	}
	return e, true, nil
}

// put writes k's entry (with value v, which may be nil) at time now, dropping the bucket's
// expired entries and, beyond max, its oldest ones.
func (l ledger) put(ctx context.Context, tx store.Tx, k string, v []byte, now time.Time) error {
	return l.write(ctx, tx, k, now, func(b map[string]ledgerEntry) {
		b[k] = ledgerEntry{T: now.UnixMilli(), V: v}
	})
}

// remove deletes k's entry.
func (l ledger) remove(ctx context.Context, tx store.Tx, k string, now time.Time) error {
	return l.write(ctx, tx, k, now, func(b map[string]ledgerEntry) { delete(b, k) })
}

func (l ledger) write(ctx context.Context, tx store.Tx, k string, now time.Time, change func(map[string]ledgerEntry)) error {
	name := l.bucket(k)
	b, err := l.load(ctx, tx, name)
	if err != nil {
		return err
	}
	for kk, e := range b {
		if l.expired(e, now) {
			delete(b, kk)
		}
	}
	change(b)
	for len(b) > l.max {
		oldest, first := "", true
		for kk, e := range b {
			if o := b[oldest]; first || e.T < o.T || e.T == o.T && kk < oldest {
				oldest, first = kk, false
			}
		}
		delete(b, oldest)
	}
	return tx.PutValue(ctx, name, encodeBucket(b))
}
