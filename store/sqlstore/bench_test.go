package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/storetest"
)

// realInboundPickle returns the pickle of a real inbound Megolm session, the size a client
// stores per session.
func realInboundPickle(b *testing.B) (*megolm.OutboundSession, store.Secret) {
	out, err := megolm.NewOutboundSession()
	if err != nil {
		b.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		b.Fatal(err)
	}
	p, err := in.Pickle(&crashPK)
	if err != nil {
		b.Fatal(err)
	}
	return out, store.Secret(p)
}

// benchImport stores 10,000 inbound Megolm sessions in one transaction (a key-backup restore
// or a key-export import) and reports sessions per second.
func benchImport(b *testing.B, s *Store) {
	const n = 10000
	_, state := realInboundPickle(b)
	b.ReportAllocs()
	start := time.Now()
	runs := 0
	for b.Loop() {
		o := storetest.NewOwner()
		err := s.Update(ctx, o, func(tx store.Tx) error {
			for i := range n {
				err := tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{
					RoomID: "!room:example.org", SessionID: fmt.Sprintf("session%06d", i), SenderKey: "senderCurve25519",
					SigningKey: "senderEd25519", Provenance: store.FromBackup, State: state,
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		runs++
	}
	b.ReportMetric(float64(n*runs)/time.Since(start).Seconds(), "sessions/s")
}

func BenchmarkImportMegolmSQLite(b *testing.B) {
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchImport(b, s)
}

func BenchmarkImportMegolmPostgres(b *testing.B) {
	s := mustOpen(b, postgresBackend(b), GenerateKey())
	benchImport(b, s)
}

// BenchmarkReadDecryptWrite runs 10,000 read-decrypt-write cycles over 100 Megolm sessions:
// each cycle reads a session, unpickles it, decrypts a message, records the index against
// replays and writes the session back (decryptInTx, what machine.DecryptRoomEvent does on the
// store). Every iteration runs the same events on the in-memory store and on the SQL store in
// turn, so the ratio (x-memory: SQL rate / memory rate) is paired in time:
//   - PerEvent: one Update per event, as machine.DecryptRoomEvent does (on SQL, one durable
//     commit per event; 1,000 events, to keep a run short);
//   - Batch100: 100 events per Update, as a client decrypting one /sync batch together can.
func BenchmarkReadDecryptWrite(b *testing.B) {
	sqlite := func(b *testing.B) store.Store {
		s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), GenerateKey())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	postgres := func(b *testing.B) store.Store { return mustOpen(b, postgresBackend(b), GenerateKey()) }
	for _, e := range []struct {
		name   string
		open   func(*testing.B) store.Store
		events int
		batch  int
	}{
		{"SQLite/PerEvent", sqlite, 1000, 1},
		{"SQLite/Batch100", sqlite, 10000, 100},
		{"PostgreSQL/PerEvent", postgres, 1000, 1},
		{"PostgreSQL/Batch100", postgres, 10000, 100},
	} {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			mem := newCycles(b, store.NewMemory(), e.events)
			sql := newCycles(b, s, e.events)
			var tMem, tSQL time.Duration
			runs := 0
			for b.Loop() {
				tMem += mem.run(b, e.batch)
				tSQL += sql.run(b, e.batch)
				runs++
			}
			memRate := float64(e.events*runs) / tMem.Seconds()
			sqlRate := float64(e.events*runs) / tSQL.Seconds()
			b.ReportMetric(memRate, "memory-events/s")
			b.ReportMetric(sqlRate, "sql-events/s")
			b.ReportMetric(sqlRate/memRate, "x-memory")
			if st, ok := s.(*Store); ok && st.cache != nil {
				b.ReportMetric(float64(st.cache.hits.Load())/float64(st.cache.hits.Load()+st.cache.misses.Load()), "cache-hit-rate")
			}
		})
	}
}

// cycles holds 100 stored sessions of one store and events encrypted with them.
type cycles struct {
	s    store.Store
	o    store.Owner
	msgs []cycleMsg
}

type cycleMsg struct {
	sid  string
	body []byte
}

func newCycles(b *testing.B, s store.Store, events int) *cycles {
	const sessions = 100
	c := &cycles{s: s, o: storetest.NewOwner()}
	var outs []*megolm.OutboundSession
	for range sessions {
		out, state := realInboundPickle(b)
		outs = append(outs, out)
		if err := s.Update(ctx, c.o, func(tx store.Tx) error {
			return tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: "!r", SessionID: out.SessionID().String(), Provenance: store.FromOlm, State: state})
		}); err != nil {
			b.Fatal(err)
		}
	}
	// Round robin over the sessions, as events of many rooms arrive interleaved.
	for i := range events {
		out := outs[i%sessions]
		c.msgs = append(c.msgs, cycleMsg{out.SessionID().String(), out.Encrypt(nil, []byte(`{"type":"m.room.message","content":{"msgtype":"m.text","body":"hello"}}`))})
	}
	return c
}

// run decrypts every event once, batch events per Update, and returns the time it took. A
// later run decrypts the same events again (same event ids: allowed by the replay check).
func (c *cycles) run(b *testing.B, batch int) time.Duration {
	start := time.Now()
	for i := 0; i < len(c.msgs); i += batch {
		err := c.s.Update(ctx, c.o, func(tx store.Tx) error {
			for j := i; j < min(i+batch, len(c.msgs)); j++ {
				m := c.msgs[j]
				if err := decryptInTx(tx, m.sid, m.body, fmt.Sprint("$", j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
