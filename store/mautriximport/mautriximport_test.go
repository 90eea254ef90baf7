package mautriximport

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
	_ "modernc.org/sqlite" // the "sqlite" driver, for the fixture
)

// The fixture holds the tables and columns of mautrix-go's crypto store (schema 23) that
// Import reads, written here from the column list of crypto/sql_store.go's queries, with
// pickles made by sicher in libolm's format. compat/mautrixstore checks Import against a store
// mautrix itself wrote.
const fixtureSchema = `
CREATE TABLE crypto_version (version INTEGER, compat INTEGER);
INSERT INTO crypto_version VALUES (23, 23);
CREATE TABLE crypto_account (account_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, shared BOOLEAN NOT NULL,
	sync_token TEXT NOT NULL, account bytea NOT NULL, key_backup_version TEXT NOT NULL DEFAULT '');
CREATE TABLE crypto_message_index (session_id CHAR(43), "index" INTEGER, event_id TEXT NOT NULL,
	timestamp BIGINT NOT NULL, PRIMARY KEY (session_id, "index"));
CREATE TABLE crypto_tracked_user (user_id TEXT PRIMARY KEY, devices_outdated BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE crypto_device (user_id TEXT, device_id TEXT, identity_key CHAR(43) NOT NULL,
	signing_key CHAR(43) NOT NULL, trust SMALLINT NOT NULL, deleted BOOLEAN NOT NULL, name TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id));
CREATE TABLE crypto_olm_session (account_id TEXT, session_id CHAR(43), sender_key CHAR(43) NOT NULL,
	session bytea NOT NULL, created_at timestamp NOT NULL, last_decrypted timestamp NOT NULL,
	last_encrypted timestamp NOT NULL, PRIMARY KEY (account_id, session_id));
CREATE TABLE crypto_megolm_inbound_session (account_id TEXT NOT NULL, session_id CHAR(43) NOT NULL,
	sender_key CHAR(43) NOT NULL, signing_key CHAR(43), room_id TEXT NOT NULL, session bytea,
	forwarding_chains bytea, shared_history BOOLEAN, withheld_code TEXT, withheld_reason TEXT,
	key_backup_version TEXT NOT NULL DEFAULT '', key_source TEXT NOT NULL DEFAULT '',
	source_user TEXT NOT NULL DEFAULT '', PRIMARY KEY (account_id, room_id, session_id));
CREATE TABLE crypto_megolm_outbound_session (account_id TEXT, room_id TEXT, session_id CHAR(43) NOT NULL UNIQUE,
	session bytea NOT NULL, created_at timestamp NOT NULL, PRIMARY KEY (account_id, room_id));
CREATE TABLE crypto_megolm_outbound_session_shared (user_id TEXT NOT NULL, identity_key CHAR(43) NOT NULL,
	session_id CHAR(43) NOT NULL, PRIMARY KEY (user_id, identity_key, session_id));
CREATE TABLE crypto_secrets (account_id TEXT NOT NULL, name TEXT NOT NULL, secret bytea NOT NULL,
	PRIMARY KEY (account_id, name));
`

const (
	fxKey    = "bridge pickle key"
	fxAcct   = "acct"
	fxRoom   = "!room:example.org"
	fxUser   = "@bot:example.org"
	fxDevice = "BOTDEVICE"
)

var fxOwner = store.Owner{UserID: fxUser, DeviceID: fxDevice}

type fixture struct {
	db      *sql.DB
	account *olm.Account
	inbound *megolm.InboundSession
	out     *megolm.OutboundSession
	alice   key.Curve25519
}

func check[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := check[*sql.DB](t)(sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")))
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(fixtureSchema); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	bot := check[*olm.Account](t)(olm.NewAccount())
	alice := check[*olm.Account](t)(olm.NewAccount())
	carol := check[*olm.Account](t)(olm.NewAccount())
	otks := check[[]olm.OneTimeKey](t)(func() ([]olm.OneTimeKey, error) { c, _, err := alice.GenerateOneTimeKeys(2); return c, err }())
	exec(`INSERT INTO crypto_account VALUES ($1, $2, true, 'sync', $3, 'v7')`, fxAcct, fxDevice, []byte(bot.PickleLibolm([]byte(fxKey))))

	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := check[*olm.Session](t)(bot.NewOutboundSession(alice.Curve25519(), otks[0].Key))
	exec(`INSERT INTO crypto_olm_session VALUES ($1, $2, $3, $4, $5, $6, $7)`, fxAcct, s.ID(), alice.Curve25519().String(),
		[]byte(s.PickleLibolm([]byte(fxKey))), now, now.Add(time.Minute), now.Add(2*time.Minute))
	// A session of another account, stored under alice's key: it is not ours.
	foreign := check[*olm.Session](t)(carol.NewOutboundSession(alice.Curve25519(), otks[1].Key))
	exec(`INSERT INTO crypto_olm_session VALUES ($1, $2, $3, $4, $5, $6, $7)`, fxAcct, foreign.ID(), alice.Curve25519().String(),
		[]byte(foreign.PickleLibolm([]byte(fxKey))), now, now, now)

	og := check[*megolm.OutboundSession](t)(megolm.NewOutboundSession())
	in := check[*megolm.InboundSession](t)(megolm.NewInboundSession(og.SessionKey()))
	exec(`INSERT INTO crypto_megolm_inbound_session (account_id, session_id, sender_key, signing_key, room_id, session,
		forwarding_chains, shared_history, key_backup_version, key_source, source_user) VALUES ($1, $2, $3, $4, $5, $6, $7, true, 'v7', 'forward', '')`,
		fxAcct, in.SessionID().String(), alice.Curve25519().String(), alice.Ed25519().String(), fxRoom,
		[]byte(check[string](t)(in.PickleLibolm([]byte(fxKey)))), carol.Curve25519().String())
	exec(`INSERT INTO crypto_megolm_inbound_session (account_id, session_id, sender_key, room_id, withheld_code, withheld_reason)
		VALUES ($1, 'withheldwithheldwithheldwithheldwithheldwit', $2, $3, 'm.unverified', 'no')`, fxAcct, alice.Curve25519().String(), fxRoom)
	exec(`INSERT INTO crypto_megolm_inbound_session (account_id, session_id, sender_key, signing_key, room_id, session)
		VALUES ($1, 'brokenbrokenbrokenbrokenbrokenbrokenbroken', $2, $3, $4, $5)`, fxAcct, alice.Curve25519().String(),
		alice.Ed25519().String(), fxRoom, []byte("not a pickle"))
	in2 := check[*megolm.InboundSession](t)(megolm.NewInboundSession(check[*megolm.OutboundSession](t)(megolm.NewOutboundSession()).SessionKey()))
	exec(`INSERT INTO crypto_megolm_inbound_session (account_id, session_id, sender_key, signing_key, room_id, session, forwarding_chains)
		VALUES ($1, $2, $3, $4, $5, $6, 'not-a-key')`, fxAcct, in2.SessionID().String(), alice.Curve25519().String(),
		alice.Ed25519().String(), "!other:example.org", []byte(check[string](t)(in2.PickleLibolm([]byte(fxKey)))))
	exec(`INSERT INTO crypto_message_index VALUES ($1, 0, '$e0', 1700000000000)`, in.SessionID().String())
	exec(`INSERT INTO crypto_message_index VALUES ('someoneelsesessionsomeoneelsesessionsomeon', 0, '$x', 1)`)

	out := check[*megolm.OutboundSession](t)(megolm.NewOutboundSession())
	out.Encrypt(nil, []byte("one"))
	exec(`INSERT INTO crypto_megolm_outbound_session VALUES ($1, $2, $3, $4, $5)`, fxAcct, "!own:example.org",
		out.SessionID().String(), []byte(check[string](t)(out.PickleLibolm([]byte(fxKey)))), now.Format("2006-01-02 15:04:05.999999999-07:00"))
	exec(`INSERT INTO crypto_device VALUES ('@alice:example.org', 'ALICE', $1, $2, 0, false, '')`, alice.Curve25519().String(), alice.Ed25519().String())
	exec(`INSERT INTO crypto_megolm_outbound_session_shared VALUES ('@alice:example.org', $1, $2)`, alice.Curve25519().String(), out.SessionID().String())
	exec(`INSERT INTO crypto_secrets VALUES ($1, 'm.megolm_backup.v1', $2)`, fxAcct, []byte(pickle.SealLibolm([]byte(fxKey), []byte("backup secret"))))
	exec(`INSERT INTO crypto_tracked_user (user_id) VALUES ('@alice:example.org')`)
	return &fixture{db: db, account: bot, inbound: in, out: out, alice: alice.Curve25519()}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	dst := store.NewMemory()
	rep, err := Import(ctx, fx.db, SQLite, []byte(fxKey), fxOwner, dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"account": 1, "olm_session": 1, "inbound_group_session": 1, "withheld": 1,
		"outbound_group_session": 1, "replay": 1, "secret": 1, "tracked_user": 1}
	if rep.SchemaVersion != 23 || len(rep.Imported) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for k, n := range want {
		if rep.Imported[k] != n {
			t.Errorf("%s: %d imported, want %d", k, rep.Imported[k], n)
		}
	}
	if len(rep.Skipped) != 3 || !strings.Contains(rep.Skipped[0].Reason, "does not belong") ||
		!strings.Contains(rep.Skipped[1].Reason, "forwarding chain") ||
		!strings.Contains(rep.Skipped[2].Reason, "pickle does not open") {
		t.Errorf("skipped %+v, want the foreign Olm session and two broken Megolm rows", rep.Skipped)
	}

	// The machine loads what was imported.
	m, err := machine.New(ctx, machine.Config{UserID: fxUser, DeviceID: fxDevice, Store: dst})
	if err != nil {
		t.Fatal(err)
	}
	if c, e := m.IdentityKeys(); c != fx.account.Curve25519() || e != fx.account.Ed25519() {
		t.Fatal("the machine's identity keys are not the imported account's")
	}
	err = dst.View(ctx, fxOwner, func(tx store.Tx) error {
		in, err := tx.InboundGroupSession(ctx, fxRoom, fx.inbound.SessionID().String())
		if err != nil {
			return err
		}
		if in.Provenance != store.Forwarded || len(in.ForwardingChain) != 1 || !in.SharedHistory || !in.BackedUp {
			t.Errorf("inbound metadata %+v", in)
		}
		if v, err := tx.Value(ctx, "sicher.machine.device_keys_up"); err != nil || string(v) != "1" {
			t.Errorf("device keys uploaded: %q, %v", v, err)
		}
		if v, err := tx.BackupVersion(ctx); err != nil || v != "v7" {
			t.Errorf("backup version %q, %v", v, err)
		}
		out, err := tx.OutboundGroupSession(ctx, "!own:example.org")
		if err != nil {
			return err
		}
		if out.MessageCount != 1 || len(out.SharedWith) != 1 || out.SharedWith[0].DeviceID != "ALICE" || out.SharedWith[0].Index != 1 ||
			!out.Created.Equal(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("outbound %+v", out)
		}
		olms, err := tx.OlmSessions(ctx, fx.alice.String())
		if err != nil {
			return err
		}
		at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		if len(olms) != 1 || !olms[0].Created.Equal(at) || !olms[0].LastReceived.Equal(at.Add(time.Minute)) ||
			!olms[0].LastUsed.Equal(at.Add(2*time.Minute)) {
			t.Errorf("olm sessions %+v", olms)
		}
		if v, err := tx.Secret(ctx, "m.megolm_backup.v1"); err != nil || string(v) != "backup secret" {
			t.Errorf("secret %q, %v", v, err)
		}
		if u, err := tx.TrackedUser(ctx, "@alice:example.org"); err != nil || !u.Outdated {
			t.Errorf("tracked user %+v, %v", u, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// mautrix's replay record came along: another event at index 0 is refused.
	err = dst.Update(ctx, fxOwner, func(tx store.Tx) error {
		return tx.RecordReplay(ctx, &store.Replay{RoomID: fxRoom, SessionID: fx.inbound.SessionID().String(), Index: 0, EventID: "$other", OriginServerTS: 1})
	})
	if !errors.Is(err, store.ErrReplay) {
		t.Fatalf("replayed index: %v", err)
	}

	// A second import into the same store is refused.
	if _, err := Import(ctx, fx.db, SQLite, []byte(fxKey), fxOwner, dst, Options{}); !errors.Is(err, ErrDestinationNotEmpty) {
		t.Fatalf("second import: %v", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	dst := store.NewMemory()
	rep, err := Import(ctx, fx.db, SQLite, []byte(fxKey), fxOwner, dst, Options{DryRun: true})
	if err != nil || rep.Imported["inbound_group_session"] != 1 {
		t.Fatalf("dry run: %+v, %v", rep, err)
	}
	err = dst.View(ctx, fxOwner, func(tx store.Tx) error {
		_, err := tx.Account(ctx)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a dry run the store has an account: %v", err)
	}
}

func TestRefused(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	dry := Options{DryRun: true}
	if _, err := Import(ctx, fx.db, SQLite, []byte("wrong"), fxOwner, nil, dry); !errors.Is(err, ErrAccount) {
		t.Errorf("wrong pickle key: %v", err)
	}
	if _, err := Import(ctx, fx.db, SQLite, []byte(fxKey), store.Owner{UserID: fxUser, DeviceID: "OTHER"}, nil, dry); !errors.Is(err, ErrAccount) {
		t.Errorf("other device: %v", err)
	}
	if _, err := Import(ctx, fx.db, SQLite, []byte(fxKey), fxOwner, nil, Options{DryRun: true, AccountID: "nope"}); !errors.Is(err, ErrAccount) {
		t.Errorf("unknown account id: %v", err)
	}
	if _, err := Import(ctx, fx.db, Dialect(9), []byte(fxKey), fxOwner, nil, dry); err == nil {
		t.Error("unknown dialect accepted")
	}
	for _, v := range []int{21, 24} {
		if _, err := fx.db.Exec("UPDATE crypto_version SET version = $1", v); err != nil {
			t.Fatal(err)
		}
		if _, err := Import(ctx, fx.db, SQLite, []byte(fxKey), fxOwner, nil, dry); !errors.Is(err, ErrUnknownSchema) {
			t.Errorf("schema %d: %v", v, err)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	q := "SELECT a FROM t WHERE x=$1 AND y=$2"
	if got := (&reader{d: SQLite}).q(q); got != "SELECT a FROM t WHERE x=? AND y=?" {
		t.Errorf("sqlite: %q", got)
	}
	if got := (&reader{d: Postgres}).q(q); got != q {
		t.Errorf("postgres: %q", got)
	}
}

func TestTimeOf(t *testing.T) {
	want := time.Date(2026, 11, 1, 12, 0, 0, 500000000, time.UTC)
	for _, v := range []any{want, "2026-11-01 12:00:00.5+00:00", []byte("2026-11-01T12:00:00.5Z"),
		"2026-11-01 12:00:00.5 +0000 UTC", "2026-11-01 12:00:00.5 +0000 UTC m=+0.001", want.UnixMilli()} {
		if got := timeOf(v); !got.Equal(want) {
			t.Errorf("timeOf(%v) = %v", v, got)
		}
	}
	if !timeOf(nil).IsZero() || !timeOf("garbage").IsZero() {
		t.Error("unparseable times are not zero")
	}
}
