package mautrixstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // mautrix's SQLite driver ("sqlite3")
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	sicherolm "github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/mautriximport"
	"github.com/sicher-go/sicher/store/sqlstore"
	_ "modernc.org/sqlite" // the driver the sicher CLI reads the source with ("sqlite")
)

const (
	alice     = id.UserID("@alice:example.org")
	bob       = id.UserID("@bob:example.org")
	bobDevice = id.DeviceID("BOBDEVICE")
	room      = id.RoomID("!room:example.org")
	ownRoom   = id.RoomID("!own:example.org")
	pickleKey = "bridge pickle key"
)

// world is what the mautrix side produced: the encrypted room events sicher must decrypt
// after the import, and one more Olm message for the imported Olm session.
type world struct {
	events   []json.RawMessage // in room
	own      []json.RawMessage // in ownRoom, by bob's own outbound session
	olmMsg   string            // from alice over the Olm session, not yet decrypted by bob
	olmPlain string
	aliceKey id.Curve25519
	// sessionID and firstCiphertext are alice's Megolm session and its message at index 0.
	sessionID       id.SessionID
	firstCiphertext []byte
}

// must panics on err, which fails the test with the error and its stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// writeMautrixStore has mautrix-go create bob's crypto store at path: an account, an Olm
// session established by really exchanging messages with alice, alice's room key sent over
// it, bob's own outbound session, and encrypted room messages.
func writeMautrixStore(t *testing.T, path string) world {
	raw := must(sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000"))
	defer raw.Close()
	return writeMautrixStoreDB(t, raw, "sqlite3")
}

// writeMautrixStoreDB is writeMautrixStore on a database the caller opened, of mautrix's
// dialect "sqlite3" or "postgres".
func writeMautrixStoreDB(t *testing.T, raw *sql.DB, dialect string) world {
	ctx := context.Background()
	db := must(dbutil.NewWithDB(raw, dialect))
	st := crypto.NewSQLCryptoStore(db, nil, "bridge-account", bobDevice, []byte(pickleKey))
	if err := st.DB.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}

	bobAcct := crypto.NewOlmAccount()
	aliceAcct := crypto.NewOlmAccount()
	bobEd, bobCurve := bobAcct.Keys()
	aliceEd, aliceCurve := aliceAcct.Keys()
	if err := bobAcct.Internal.GenOneTimeKeys(1); err != nil {
		t.Fatal(err)
	}
	otks := must(bobAcct.Internal.OneTimeKeys())
	bobAcct.Internal.MarkKeysAsPublished()
	var otk id.Curve25519
	for _, k := range otks {
		otk = k
	}

	// Olm: alice opens a session and sends a pre-key message; bob answers.
	aliceSess := must(aliceAcct.Internal.NewOutboundSession(bobCurve, otk))
	outer := must(olm.NewOutboundGroupSession())
	_ = outer
	roomKey := must(json.Marshal(map[string]any{
		"type": "m.room_key", "sender": alice, "recipient": bob,
		"keys": map[string]any{"ed25519": aliceEd}, "recipient_keys": map[string]any{"ed25519": bobEd},
		"content": map[string]any{"algorithm": id.AlgorithmMegolmV1, "room_id": room,
			"session_id": outer.ID(), "session_key": outer.Key()},
	}))
	_, preKey := must2(t)(aliceSess.Encrypt(roomKey))
	bobSess := must(bobAcct.Internal.NewInboundSession(string(preKey)))
	if err := bobAcct.Internal.RemoveOneTimeKeys(bobSess); err != nil {
		t.Fatal(err)
	}
	got := must(bobSess.Decrypt(string(preKey), id.OlmMsgTypePreKey))
	var rk struct {
		Content struct {
			SessionKey string `json:"session_key"`
		} `json:"content"`
	}
	if err := json.Unmarshal(got, &rk); err != nil {
		t.Fatal(err)
	}
	typ, reply := must2(t)(bobSess.Encrypt([]byte(`{"type":"m.dummy"}`)))
	if _, err := aliceSess.Decrypt(string(reply), typ); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAccount(ctx, bobAcct); err != nil {
		t.Fatal(err)
	}
	// As mautrix's wrapSession does for a new session.
	wrapped := &crypto.OlmSession{Internal: bobSess}
	wrapped.CreationTime = time.Now()
	wrapped.LastEncryptedTime, wrapped.LastDecryptedTime = wrapped.CreationTime, wrapped.CreationTime
	if err := st.AddSession(ctx, aliceCurve, wrapped); err != nil {
		t.Fatal(err)
	}

	// Megolm: bob stores alice's room key as mautrix does on m.room_key.
	igs := must(crypto.NewInboundGroupSession(aliceCurve, aliceEd, room, rk.Content.SessionKey, 0, 0, nil, false))
	igs.SourceUser = alice
	if err := st.PutGroupSession(ctx, igs); err != nil {
		t.Fatal(err)
	}
	var w world
	w.aliceKey = aliceCurve
	for i := range 3 {
		payload := must(json.Marshal(map[string]any{"type": "m.room.message", "room_id": room,
			"content": map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("hello %d", i)}}))
		ct := must(outer.Encrypt(payload))
		if i == 0 {
			w.sessionID, w.firstCiphertext = id.SessionID(outer.ID()), ct
		}
		w.events = append(w.events, roomEvent(t, alice, room, fmt.Sprintf("$a%d", i), aliceCurve, "ALICEDEVICE", outer.ID(), ct))
	}

	// Bob's own outbound session, with its inbound copy, as mautrix's ShareGroupSession keeps it.
	ogs := must(crypto.NewOutboundGroupSession(ownRoom, nil, nil))
	ogs.Shared = true
	own := must(crypto.NewInboundGroupSession(bobCurve, bobEd, ownRoom, ogs.Internal.Key(), 0, 0, nil, false))
	own.SourceUser = bob
	if err := st.PutGroupSession(ctx, own); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		payload := must(json.Marshal(map[string]any{"type": "m.room.message", "room_id": ownRoom,
			"content": map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("mine %d", i)}}))
		ct := must(ogs.Encrypt(payload))
		w.own = append(w.own, roomEvent(t, bob, ownRoom, fmt.Sprintf("$b%d", i), bobCurve, string(bobDevice), ogs.ID(), ct))
	}
	if err := st.AddOutboundGroupSession(ctx, ogs); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDevices(ctx, alice, map[id.DeviceID]*id.Device{"ALICEDEVICE": {UserID: alice, DeviceID: "ALICEDEVICE",
		IdentityKey: aliceCurve, SigningKey: aliceEd}}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkOutboundGroupSessionShared(ctx, alice, aliceCurve, ogs.ID()); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSecret(ctx, id.SecretMegolmBackupV1, "backup key bytes"); err != nil {
		t.Fatal(err)
	}

	// mautrix decrypted the first event: its replay record (session, index) -> event.
	if ok, err := st.ValidateMessageIndex(ctx, outer.ID(), "$a0", 0, 1700000000000); err != nil || !ok {
		t.Fatalf("ValidateMessageIndex: %v %v", ok, err)
	}
	if err := st.PutWithheldGroupSession(ctx, event.RoomKeyWithheldEventContent{RoomID: room, Algorithm: id.AlgorithmMegolmV1,
		SessionID: "withheldsessionwithheldsessionwithheldsess", SenderKey: aliceCurve, Code: event.RoomKeyWithheldUnauthorized,
		Reason: "not allowed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO crypto_megolm_inbound_session (account_id, session_id, sender_key, signing_key, room_id, session)
		VALUES ('bridge-account', 'brokenbrokenbrokenbrokenbrokenbrokenbroken', $1, $2, $3, $4)`,
		aliceCurve, aliceEd, room, []byte("not a pickle")); err != nil {
		t.Fatal(err)
	}

	// One more Olm message, to decrypt with the imported session.
	w.olmPlain = `{"type":"m.dummy","n":2}`
	_, m2 := must2(t)(aliceSess.Encrypt([]byte(w.olmPlain)))
	w.olmMsg = string(m2)
	return w
}

func must2(t *testing.T) func(id.OlmMsgType, []byte, error) (id.OlmMsgType, []byte) {
	return func(a id.OlmMsgType, b []byte, err error) (id.OlmMsgType, []byte) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func roomEvent(t *testing.T, sender id.UserID, roomID id.RoomID, eventID string, senderKey id.Curve25519, device string, sessionID id.SessionID, ct []byte) json.RawMessage {
	return must(json.Marshal(map[string]any{
		"type": "m.room.encrypted", "sender": sender, "event_id": eventID, "room_id": roomID,
		"origin_server_ts": 1700000000000,
		"content": map[string]any{"algorithm": id.AlgorithmMegolmV1, "ciphertext": string(ct),
			"sender_key": senderKey, "device_id": device, "session_id": sessionID},
	}))
}

func TestImportMautrixStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "mautrix.db")
	w := writeMautrixStore(t, src)

	db := must(sql.Open("sqlite", "file:"+src+"?mode=ro"))
	defer db.Close()
	owner := store.Owner{UserID: string(bob), DeviceID: string(bobDevice)}

	// Dry run: the report, nothing written.
	rep := must(mautriximport.Import(ctx, db, mautriximport.SQLite, []byte(pickleKey), owner, nil, mautriximport.Options{DryRun: true}))
	want := map[string]int{"account": 1, "olm_session": 1, "inbound_group_session": 2, "withheld": 1,
		"outbound_group_session": 1, "replay": 1, "secret": 1, "tracked_user": 1}
	if rep.SchemaVersion != 23 || fmt.Sprint(rep.Imported) != fmt.Sprint(want) || len(rep.Skipped) != 1 ||
		rep.Skipped[0].Kind != "inbound_group_session" || !strings.Contains(rep.Skipped[0].Reason, "pickle does not open") {
		t.Fatalf("dry run report %+v, want schema 23, %v, the broken row skipped", rep, want)
	}

	// A wrong pickle key is refused before anything is written.
	if _, err := mautriximport.Import(ctx, db, mautriximport.SQLite, []byte("wrong"), owner, nil, mautriximport.Options{DryRun: true}); !errors.Is(err, mautriximport.ErrAccount) {
		t.Fatalf("wrong pickle key: %v", err)
	}

	skey := sqlstore.GenerateKey()
	dst := must(sqlstore.OpenSQLite(ctx, filepath.Join(dir, "sicher.db"), skey))
	defer dst.Close()
	rep = must(mautriximport.Import(ctx, db, mautriximport.SQLite, []byte(pickleKey), owner, dst, mautriximport.Options{}))
	if fmt.Sprint(rep.Imported) != fmt.Sprint(want) {
		t.Fatalf("report %v, want %v", rep.Imported, want)
	}
	if _, err := mautriximport.Import(ctx, db, mautriximport.SQLite, []byte(pickleKey), owner, dst, mautriximport.Options{}); !errors.Is(err, mautriximport.ErrDestinationNotEmpty) {
		t.Fatalf("second import: %v", err)
	}

	// The machine loads the imported store and decrypts what mautrix encrypted.
	m := must(machine.New(ctx, machine.Config{UserID: string(bob), DeviceID: string(bobDevice), Store: dst}))
	// The replay record came along: before sicher decrypted anything, another event at index 0 of alice's session is refused.
	forged := roomEvent(t, alice, room, "$forged", w.aliceKey, "ALICEDEVICE", w.sessionID, w.firstCiphertext)
	if _, err := m.DecryptRoomEvent(ctx, string(room), forged); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("an event replaying index 0 under another event id: %v, want a replay error", err)
	}
	for i, ev := range w.events {
		d := must(m.DecryptRoomEvent(ctx, string(room), ev))
		if want := fmt.Sprintf(`"hello %d"`, i); !contains(d.Content, want) {
			t.Fatalf("event %d decrypted to %s", i, d.Content)
		}
	}
	for i, ev := range w.own {
		d := must(m.DecryptRoomEvent(ctx, string(ownRoom), ev))
		if want := fmt.Sprintf(`"mine %d"`, i); !contains(d.Content, want) {
			t.Fatalf("own event %d decrypted to %s", i, d.Content)
		}
	}

	// The withheld notice came along.
	err := dst.View(ctx, owner, func(tx store.Tx) error {
		wh, err := tx.Withheld(ctx, string(room), "withheldsessionwithheldsessionwithheldsess")
		if err != nil {
			return err
		}
		if wh.Code != "m.unauthorised" || wh.Reason != "not allowed" {
			return fmt.Errorf("withheld %+v", wh)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The imported Olm session decrypts alice's next message.
	err = dst.View(ctx, owner, func(tx store.Tx) error {
		pk, err := tx.Secret(ctx, "sicher.machine.pickle_key")
		if err != nil {
			return err
		}
		recs, err := tx.OlmSessions(ctx, string(w.aliceKey))
		if err != nil || len(recs) != 1 {
			return fmt.Errorf("olm sessions %d: %v", len(recs), err)
		}
		if time.Since(recs[0].Created) > time.Hour || recs[0].LastUsed.Before(recs[0].Created) {
			return fmt.Errorf("olm session times %v %v: mautrix's timestamps were not read", recs[0].Created, recs[0].LastUsed)
		}
		s, err := sicherolm.UnpickleSession((*[32]byte)(pk), string(recs[0].State))
		if err != nil {
			return err
		}
		if peer, ok := s.PeerIdentityKey(); !ok || peer != must(key.ParseCurve25519(string(w.aliceKey))) {
			return fmt.Errorf("peer %v %v", peer, ok)
		}
		msg := must(base64.RawStdEncoding.DecodeString(w.olmMsg))
		pt, err := s.Decrypt(nil, sicherolm.EncryptedMessage{Type: sicherolm.TypeMessage, Body: msg})
		if err != nil {
			return err
		}
		if string(pt) != w.olmPlain {
			return fmt.Errorf("olm plaintext %q", pt)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
