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
// each cycle is one Update that reads a session, unpickles it, decrypts a message, records the
// index against replays and writes the session back.
func BenchmarkReadDecryptWrite(b *testing.B) {
	b.Run("Memory", func(b *testing.B) { benchCycles(b, store.NewMemory(), 10000) })
	b.Run("SQLite", func(b *testing.B) {
		s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), GenerateKey())
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchCycles(b, s, 1000)
	})
}

func benchCycles(b *testing.B, s store.Store, cycles int) {
	const sessions = 100
	o := storetest.NewOwner()
	type msg struct {
		sid  string
		body []byte
	}
	var msgs []msg
	for range sessions {
		out, state := realInboundPickle(b)
		sid := out.SessionID().String()
		if err := s.Update(ctx, o, func(tx store.Tx) error {
			return tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: "!r", SessionID: sid, Provenance: store.FromOlm, State: state})
		}); err != nil {
			b.Fatal(err)
		}
		for range cycles / sessions {
			msgs = append(msgs, msg{sid, out.Encrypt(nil, []byte(`{"type":"m.room.message","content":{"body":"hello"}}`))})
		}
	}
	b.ReportAllocs()
	start := time.Now()
	runs := 0
	for b.Loop() {
		for i, m := range msgs {
			err := s.Update(ctx, o, func(tx store.Tx) error {
				rec, err := tx.InboundGroupSession(ctx, "!r", m.sid)
				if err != nil {
					return err
				}
				in, err := megolm.UnpickleInboundSession(&crashPK, string(rec.State))
				if err != nil {
					return err
				}
				_, idx, err := in.Decrypt(nil, m.body)
				if err != nil {
					return err
				}
				if err := tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: m.sid, Index: idx, EventID: fmt.Sprint("$", i)}); err != nil {
					return err
				}
				p, err := in.Pickle(&crashPK)
				if err != nil {
					return err
				}
				rec.State = store.Secret(p)
				return tx.PutInboundGroupSession(ctx, rec)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		runs++
	}
	b.ReportMetric(float64(len(msgs)*runs)/time.Since(start).Seconds(), "cycles/s")
}
