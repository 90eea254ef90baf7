//go:build unix

package mautrixstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/id"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// The backup-restore benchmark: 10,000 Megolm sessions, as a key backup delivers them (the
// exported session key, sender key, claimed Ed25519 key), imported into an empty store.
//
//	go test -tags goolm -run '^$' -bench BackupRestore -benchtime 1x ./    (add SICHER_TEST_POSTGRES for PostgreSQL)
//
// Each iteration runs, on the same engine and in turn:
//   - sicher: megolm.ImportInboundSession and Pickle for each, all PutInboundGroupSession in one
//     Update (one transaction);
//   - mautrix-tx: (*crypto.OlmMachine).ImportRoomKeyFromBackupWithoutSaving (the olm import) and
//     SQLCryptoStore.PutGroupSession for each, all inside one dbutil transaction (DoTxn);
//   - mautrix: the same without the transaction, one commit per session, which is what
//     mautrix's own restore (GetAndStoreKeyBackup → ImportRoomKeyFromBackup) does.
//
// On SQLite both stores use modernc.org/sqlite (mautrix's store opened on a database/sql
// handle of the "sqlite" driver, with dbutil's "sqlite3" dialect) with the same settings: WAL,
// synchronous=FULL, busy timeout. With -tags goolm mautrix pickles with goolm (pure Go);
// without, with libolm through cgo.
const restoreSessions = 10000

type backupSession struct {
	sessionID  string
	sessionKey string // exported, base64
}

func makeBackup(b *testing.B) []backupSession {
	out := make([]backupSession, restoreSessions)
	for i := range out {
		o, err := megolm.NewOutboundSession()
		if err != nil {
			b.Fatal(err)
		}
		in, err := megolm.NewInboundSession(o.SessionKey())
		if err != nil {
			b.Fatal(err)
		}
		out[i] = backupSession{in.SessionID().String(), in.ExportAtFirstKnownIndex().Base64()}
	}
	return out
}

const (
	benchRoom      = "!bench:example.org"
	benchSenderKey = "senderCurve25519senderCurve25519senderCurv"
	benchSigning   = "senderEd25519senderEd25519senderEd25519sen"
)

var benchPickleKey = [megolm.PickleKeySize]byte{7}

func restoreSicher(ctx context.Context, s store.Store, o store.Owner, sessions []backupSession) error {
	return s.Update(ctx, o, func(tx store.Tx) error {
		for _, bs := range sessions {
			var k megolm.ExportedSessionKey
			if err := k.UnmarshalText([]byte(bs.sessionKey)); err != nil {
				return err
			}
			in, err := megolm.ImportInboundSession(&k)
			if err != nil {
				return err
			}
			p, err := in.Pickle(&benchPickleKey)
			if err != nil {
				return err
			}
			if err := tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: benchRoom, SessionID: bs.sessionID,
				SenderKey: benchSenderKey, SigningKey: benchSigning, Provenance: store.FromBackup,
				FirstKnownIndex: in.FirstKnownIndex(), State: store.Secret(p)}); err != nil {
				return err
			}
		}
		return nil
	})
}

func restoreMautrix(ctx context.Context, st *crypto.SQLCryptoStore, sessions []backupSession, inTx bool) error {
	var mach crypto.OlmMachine // ImportRoomKeyFromBackupWithoutSaving reads none of its fields
	put := func(ctx context.Context) error {
		for _, bs := range sessions {
			igs, err := mach.ImportRoomKeyFromBackupWithoutSaving(ctx, "1", id.RoomID(benchRoom), nil, id.SessionID(bs.sessionID),
				&backup.MegolmSessionData{Algorithm: id.AlgorithmMegolmV1, SenderKey: benchSenderKey,
					SenderClaimedKeys: backup.SenderClaimedKeys{Ed25519: benchSigning}, SessionKey: bs.sessionKey})
			if err != nil {
				return err
			}
			if err := st.PutGroupSession(ctx, igs); err != nil {
				return err
			}
		}
		return nil
	}
	if inTx {
		return st.DB.DoTxn(ctx, nil, put)
	}
	return put(ctx)
}

// cpuTime returns the CPU time (user and system) the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRestore runs the three restores per iteration and reports sessions per second of each
// and sicher's ratios to both mautrix runs, in wall time (x-mautrix, x-mautrix-tx) and in this
// process's CPU time (cpu-x-mautrix-tx; on a loaded machine the wall time is mostly waiting
// for a core; on PostgreSQL the server's CPU time is not in it).
func benchRestore(b *testing.B, s store.Store, mautrixDB *sql.DB, dialect string) {
	ctx := context.Background()
	sessions := makeBackup(b)
	db, err := dbutil.NewWithDB(mautrixDB, dialect)
	if err != nil {
		b.Fatal(err)
	}
	var tSicher, tTx, tAuto, cSicher, cTx time.Duration
	runs := 0
	for b.Loop() {
		o := store.Owner{UserID: "@bench:example.org", DeviceID: fmt.Sprint("D", runs, time.Now().UnixNano())}
		start, cpu := time.Now(), cpuTime(b)
		if err := restoreSicher(ctx, s, o, sessions); err != nil {
			b.Fatal(err)
		}
		tSicher += time.Since(start)
		cSicher += cpuTime(b) - cpu

		st := crypto.NewSQLCryptoStore(db, nil, fmt.Sprint("tx", runs, time.Now().UnixNano()), "BENCH", []byte("pickle key"))
		if runs == 0 {
			if err := st.DB.Upgrade(ctx); err != nil {
				b.Fatal(err)
			}
		}
		start, cpu = time.Now(), cpuTime(b)
		if err := restoreMautrix(ctx, st, sessions, true); err != nil {
			b.Fatal(err)
		}
		tTx += time.Since(start)
		cTx += cpuTime(b) - cpu

		st = crypto.NewSQLCryptoStore(db, nil, fmt.Sprint("auto", runs, time.Now().UnixNano()), "BENCH", []byte("pickle key"))
		start = time.Now()
		if err := restoreMautrix(ctx, st, sessions, false); err != nil {
			b.Fatal(err)
		}
		tAuto += time.Since(start)
		runs++
	}
	rate := func(d time.Duration) float64 { return float64(restoreSessions*runs) / d.Seconds() }
	b.ReportMetric(rate(tSicher), "sicher-sessions/s")
	b.ReportMetric(rate(tTx), "mautrix-tx-sessions/s")
	b.ReportMetric(rate(tAuto), "mautrix-sessions/s")
	b.ReportMetric(tTx.Seconds()/tSicher.Seconds(), "x-mautrix-tx")
	b.ReportMetric(tAuto.Seconds()/tSicher.Seconds(), "x-mautrix")
	b.ReportMetric(cTx.Seconds()/cSicher.Seconds(), "cpu-x-mautrix-tx")
}

const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"

func BenchmarkBackupRestoreSQLite(b *testing.B) {
	dir := b.TempDir()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "sicher.db"), sqlstore.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mautrix.db")+"?"+sqlitePragmas+"&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	benchRestore(b, s, raw, "sqlite3")
}

func BenchmarkBackupRestorePostgres(b *testing.B) {
	dsn := os.Getenv("SICHER_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("SICHER_TEST_POSTGRES is not set; eval \"$(scripts/postgres.sh start)\" to benchmark PostgreSQL")
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "h19_bench_" + hex.EncodeToString(rnd[:])
	admin := must(sql.Open("pgx", dsn))
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		b.Fatal(err)
	}
	defer admin.Exec("DROP SCHEMA " + schema + " CASCADE")
	u := must(url.Parse(dsn))
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := sqlstore.OpenPostgres(context.Background(), u.String(), sqlstore.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	raw := must(sql.Open("pgx", u.String()))
	defer raw.Close()
	benchRestore(b, s, raw, "postgres")
}
