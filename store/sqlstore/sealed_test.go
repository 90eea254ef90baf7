package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/storetest"
)

var ctx = context.Background()

func put(t *testing.T, s *Store, o store.Owner, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, o, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func inbound(id, state string) *store.InboundGroupSession {
	return &store.InboundGroupSession{RoomID: "!r:example.org", SessionID: id, SenderKey: "k", SigningKey: "e",
		Provenance: store.FromOlm, State: store.Secret(state)}
}

func readInbound(s *Store, o store.Owner, id string) (*store.InboundGroupSession, error) {
	var out *store.InboundGroupSession
	err := s.View(ctx, o, func(tx store.Tx) (err error) {
		out, err = tx.InboundGroupSession(ctx, "!r:example.org", id)
		return err
	})
	return out, err
}

func TestReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		key := GenerateKey()
		o := storetest.NewOwner()
		s := mustOpen(t, b, key)
		put(t, s, o, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Secret("the account")) })
		s.Close()
		s = mustOpen(t, b, key)
		if err := s.View(ctx, o, func(tx store.Tx) error {
			a, err := tx.Account(ctx)
			if err == nil && string(a) != "the account" {
				t.Errorf("Account after reopening = %q", a)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWrongKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		mustOpen(t, b, GenerateKey()).Close()
		_, err := b.open(ctx, GenerateKey())
		if !errors.Is(err, ErrWrongKey) {
			t.Fatalf("open with another key = %v, want ErrWrongKey", err)
		}
	})
}

// TestRowSwap copies sealed values between rows, sessions and owners: none opens, each error
// names its row, and the rows not touched stay readable.
func TestRowSwap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := mustOpen(t, b, GenerateKey())
		alice, eve := storetest.NewOwner(), storetest.NewOwner()
		for _, o := range []store.Owner{alice, eve} {
			put(t, s, o, func(tx store.Tx) error {
				if err := tx.PutAccount(ctx, store.Secret("account of "+o.DeviceID)); err != nil {
					return err
				}
				for _, id := range []string{"sessA", "sessB", "sessC"} {
					if err := tx.PutInboundGroupSession(ctx, inbound(id, o.DeviceID+" "+id)); err != nil {
						return err
					}
				}
				return nil
			})
		}
		q := b.dialectOf(s).q
		exec := func(query string, args ...any) {
			t.Helper()
			if _, err := b.raw.Exec(q(query), args...); err != nil {
				t.Fatal(err)
			}
		}
		// Within one owner: session B gets session A's sealed state.
		exec(`UPDATE sicher_inbound_group_sessions SET state = (SELECT state FROM sicher_inbound_group_sessions
			WHERE owner_device = ? AND session_id = 'sessA') WHERE owner_device = ? AND session_id = 'sessB'`, alice.DeviceID, alice.DeviceID)
		// Across owners: Eve's account row gets Alice's sealed account.
		exec(`UPDATE sicher_account SET state = (SELECT state FROM sicher_account WHERE owner_device = ?) WHERE owner_device = ?`,
			alice.DeviceID, eve.DeviceID)

		_, err := readInbound(s, alice, "sessB")
		if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "sessB") {
			t.Errorf("swapped session: %v, want ErrCorrupt naming sessB", err)
		}
		if x, err := readInbound(s, alice, "sessA"); err != nil || string(x.State) != alice.DeviceID+" sessA" {
			t.Errorf("untouched session A: %v, %v", x, err)
		}
		err = s.View(ctx, eve, func(tx store.Tx) error { _, err := tx.Account(ctx); return err })
		if !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("account copied from another owner: %v, want ErrCorrupt", err)
		}
		err = s.View(ctx, alice, func(tx store.Tx) error { _, err := tx.Account(ctx); return err })
		if err != nil {
			t.Errorf("untouched account: %v", err)
		}
	})
}

// TestFlippedBit flips every bit of one sealed row in turn: reading it is an error naming the
// row, never a panic, and the other rows stay usable.
func TestFlippedBit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		s := mustOpen(t, b, GenerateKey())
		o := storetest.NewOwner()
		put(t, s, o, func(tx store.Tx) error {
			if err := tx.PutInboundGroupSession(ctx, inbound("victim", "secret state")); err != nil {
				return err
			}
			return tx.PutInboundGroupSession(ctx, inbound("bystander", "other state"))
		})
		q := b.dialectOf(s).q
		var sealed []byte
		if err := b.raw.QueryRow(q("SELECT state FROM sicher_inbound_group_sessions WHERE owner_device = ? AND session_id = 'victim'"), o.DeviceID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		step := 1
		if b.name == "PostgreSQL" || testing.Short() {
			step = 7 // a round trip per bit: sample them
		}
		for bit := 0; bit < len(sealed)*8; bit += step {
			bad := bytes.Clone(sealed)
			bad[bit/8] ^= 1 << (bit % 8)
			if _, err := b.raw.Exec(q("UPDATE sicher_inbound_group_sessions SET state = ? WHERE owner_device = ? AND session_id = 'victim'"), bad, o.DeviceID); err != nil {
				t.Fatal(err)
			}
			_, err := readInbound(s, o, "victim")
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "victim") {
				t.Fatalf("bit %d flipped: %v, want ErrCorrupt naming the row", bit, err)
			}
		}
		for _, cut := range []int{0, 1, 24, len(sealed) - 1} {
			if _, err := b.raw.Exec(q("UPDATE sicher_inbound_group_sessions SET state = ? WHERE owner_device = ? AND session_id = 'victim'"), sealed[:cut], o.DeviceID); err != nil {
				t.Fatal(err)
			}
			if _, err := readInbound(s, o, "victim"); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("sealed value cut to %d bytes: %v", cut, err)
			}
		}
		if x, err := readInbound(s, o, "bystander"); err != nil || string(x.State) != "other state" {
			t.Errorf("the other row: %v, %v", x, err)
		}
		// The damaged row can be overwritten.
		put(t, s, o, func(tx store.Tx) error { return tx.PutInboundGroupSession(ctx, inbound("victim", "fresh")) })
		if x, err := readInbound(s, o, "victim"); err != nil || string(x.State) != "fresh" {
			t.Errorf("rewritten row: %v, %v", x, err)
		}
	})
}

func (b *backend) dialectOf(s *Store) *dialect { return s.d }

func TestRekey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		oldKey, newKey := GenerateKey(), GenerateKey()
		s := mustOpen(t, b, oldKey)
		other := mustOpen(t, b, oldKey) // another process with the store open
		o := storetest.NewOwner()
		put(t, s, o, func(tx store.Tx) error {
			if err := tx.PutAccount(ctx, store.Secret("acct")); err != nil {
				return err
			}
			if err := tx.PutSecret(ctx, "m.megolm_backup.v1", store.Secret("backup key")); err != nil {
				return err
			}
			if err := tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: "p", SessionID: "s", State: store.Secret("olm")}); err != nil {
				return err
			}
			if err := tx.PutOutboundGroupSession(ctx, &store.OutboundGroupSession{RoomID: "!r", SessionID: "o", State: store.Secret("out")}); err != nil {
				return err
			}
			if err := tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: "r", Type: "t", Body: []byte("{}")}); err != nil {
				return err
			}
			return tx.PutInboundGroupSession(ctx, inbound("in", "inbound"))
		})
		if err := s.Rekey(ctx, GenerateKey(), newKey); !errors.Is(err, ErrWrongKey) {
			t.Errorf("Rekey with a wrong old key = %v", err)
		}
		if err := s.Rekey(ctx, oldKey, newKey); err != nil {
			t.Fatalf("Rekey: %v", err)
		}
		check := func(s *Store) {
			t.Helper()
			err := s.View(ctx, o, func(tx store.Tx) error {
				a, err := tx.Account(ctx)
				if err != nil || string(a) != "acct" {
					t.Errorf("account: %q, %v", a, err)
				}
				sec, err := tx.Secret(ctx, "m.megolm_backup.v1")
				if err != nil || string(sec) != "backup key" {
					t.Errorf("secret: %q, %v", sec, err)
				}
				if _, err := tx.OlmSession(ctx, "p", "s"); err != nil {
					t.Error(err)
				}
				if _, err := tx.OutboundGroupSession(ctx, "!r"); err != nil {
					t.Error(err)
				}
				if r, err := tx.OutgoingRequests(ctx); err != nil || len(r) != 1 {
					t.Error(r, err)
				}
				_, err = tx.InboundGroupSession(ctx, "!r:example.org", "in")
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}
		check(s)
		put(t, s, o, func(tx store.Tx) error { return tx.PutValue(ctx, "after", []byte("rekey")) })
		// The other handle still holds the old key: its writes are refused.
		err := other.Update(ctx, o, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Secret("sealed with the old key")) })
		if !errors.Is(err, ErrWrongKey) {
			t.Errorf("Update by a handle with the old key = %v, want ErrWrongKey", err)
		}
		err = other.View(ctx, o, func(tx store.Tx) error { _, err := tx.Account(ctx); return err })
		if !errors.Is(err, ErrWrongKey) {
			t.Errorf("View by a handle with the old key = %v, want ErrWrongKey", err)
		}
		s.Close()
		if _, err := b.open(ctx, oldKey); !errors.Is(err, ErrWrongKey) {
			t.Errorf("open with the old key after Rekey = %v", err)
		}
		check(mustOpen(t, b, newKey))
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		key := GenerateKey()
		s := mustOpen(t, b, key)
		if _, err := b.raw.Exec(s.d.q("UPDATE sicher_meta SET value = ? WHERE name = 'schema_version'"), []byte("99")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err := b.open(ctx, key)
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "newer version") || !strings.Contains(err.Error(), "99") {
			t.Fatalf("open a database of schema 99 = %v, want ErrNewerSchema", err)
		}
	})
}

func TestNotAStore(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("these are not the droids you are looking for, not a database at all, no header here at all either, really"), 0o600)
	if _, err := OpenSQLite(ctx, text, GenerateKey()); !errors.Is(err, ErrNotStore) {
		t.Errorf("a text file: %v, want ErrNotStore", err)
	}
	short := filepath.Join(dir, "short.txt")
	os.WriteFile(short, []byte("hello"), 0o600)
	if _, err := OpenSQLite(ctx, short, GenerateKey()); !errors.Is(err, ErrNotStore) {
		t.Errorf("a 5-byte text file: %v, want ErrNotStore", err)
	}
	other := filepath.Join(dir, "other.db")
	db := openRawSQLite(t, other)
	if _, err := db.Exec("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO messages (body) VALUES ('hi')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := OpenSQLite(ctx, other, GenerateKey())
	if !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), "messages") {
		t.Errorf("another application's database: %v, want ErrNotStore naming its tables", err)
	}
	for _, p := range []string{"", ":memory:", filepath.Join(dir, "a?b")} {
		if _, err := OpenSQLite(ctx, p, GenerateKey()); err == nil {
			t.Errorf("OpenSQLite(%q) succeeded", p)
		}
	}

	t.Run("PostgreSQL", func(t *testing.T) {
		b := postgresBackend(t)
		if _, err := b.raw.Exec(`CREATE TABLE sicher_meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL); INSERT INTO sicher_meta VALUES ('format', 'something else')`); err != nil {
			t.Fatal(err)
		}
		if _, err := b.open(ctx, GenerateKey()); !errors.Is(err, ErrNotStore) {
			t.Errorf("a foreign sicher_meta: %v, want ErrNotStore", err)
		}
	})
}

func TestTruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	key := GenerateKey()
	s, err := OpenSQLite(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	o := storetest.NewOwner()
	put(t, s, o, func(tx store.Tx) error {
		for i := range 200 {
			if err := tx.PutInboundGroupSession(ctx, inbound(strings.Repeat("x", 40)+string(rune('a'+i%26))+strings.Repeat("y", i), strings.Repeat("state", 40))); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close() // the last connection checkpoints the WAL into the file
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{fi.Size() / 2, fi.Size() - 1, 50} {
		cut := filepath.Join(t.TempDir(), "cut.db")
		data, _ := os.ReadFile(path)
		os.WriteFile(cut, data[:size], 0o600)
		if _, err := OpenSQLite(ctx, cut, key); !errors.Is(err, ErrDamaged) {
			t.Errorf("file cut to %d of %d bytes: %v, want ErrDamaged", size, fi.Size(), err)
		}
	}
}

// TestSealedAtRest checks that no secret column reaches the SQLite file in clear.
func TestSealedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenSQLite(ctx, path, GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	o := storetest.NewOwner()
	secrets := []string{"ACCOUNT-SECRET-BYTES", "OLM-SECRET-BYTES", "MEGOLM-SECRET-BYTES", "OUTBOUND-SECRET-BYTES", "NAMED-SECRET-BYTES", "REQUEST-BODY-BYTES"}
	put(t, s, o, func(tx store.Tx) error {
		return errors.Join(
			tx.PutAccount(ctx, store.Secret(secrets[0])),
			tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: "p", SessionID: "s", State: store.Secret(secrets[1])}),
			tx.PutInboundGroupSession(ctx, inbound("s", secrets[2])),
			tx.PutOutboundGroupSession(ctx, &store.OutboundGroupSession{RoomID: "!r", State: store.Secret(secrets[3])}),
			tx.PutSecret(ctx, "m.cross_signing.master", store.Secret(secrets[4])),
			tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: "r", Body: []byte(secrets[5])}),
		)
	})
	s.Close()
	var all []byte
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	for _, sec := range secrets {
		if bytes.Contains(all, []byte(sec)) {
			t.Errorf("%s is in the database file in clear", sec)
		}
	}
	if !bytes.Contains(all, []byte("m.cross_signing.master")) {
		t.Errorf("the index columns should stay clear")
	}
}

func TestRedacted(t *testing.T) {
	raw := bytes.Repeat([]byte{0xa7}, KeySize)
	key, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a very secret ratchet state, 42 bytes long")
	rec := &store.InboundGroupSession{RoomID: "!r", SessionID: "s", State: store.Secret(secret)}
	for _, v := range []any{key, &key, store.Secret(secret)} {
		cryptotest.Redacted(t, v, raw, secret)
	}
	// A record is not secret itself (only its State is): it prints its
	// fields, and its State shows only its length.
	j, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v", rec, rec, rec) + string(j)
	for _, enc := range cryptotest.Encodings(secret) {
		if strings.Contains(out, enc) {
			t.Errorf("a record shows its secret state: %s", out)
		}
	}
	if _, err := NewKey(raw[:31]); err == nil {
		t.Error("NewKey accepted 31 bytes")
	}
}

// TestDamagedPage overwrites a page in the middle of the file: reading gives an error (the
// damaged page, or a row whose seal no longer opens), never a panic.
func TestDamagedPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	key := GenerateKey()
	s, err := OpenSQLite(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	o := storetest.NewOwner()
	put(t, s, o, func(tx store.Tx) error {
		for i := range 300 {
			if err := tx.PutInboundGroupSession(ctx, inbound(fmt.Sprintf("session%04d", i), strings.Repeat("state", 60))); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := 4096
	for i := len(data)/2 - len(data)/2%page; i < len(data)/2-len(data)/2%page+page; i++ {
		data[i] = byte(i * 7)
	}
	os.WriteFile(path, data, 0o600)
	s, err = OpenSQLite(ctx, path, key)
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("open a damaged file: %v", err)
		}
		return
	}
	defer s.Close()
	failed := 0
	for i := range 300 {
		if _, err := readInbound(s, o, fmt.Sprintf("session%04d", i)); err != nil {
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("session %d: %v, want ErrDamaged or store.ErrCorrupt", i, err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Error("no read noticed the damaged page")
	}
	t.Logf("%d of 300 sessions unreadable after one damaged page", failed)
}
