// Package e2e runs two unmodified mautrix OlmMachines with the sicher
// driver against mautrix's mock homeserver: Olm key sharing, Megolm
// encryption and decryption, and a restart that reloads every object
// from its pickle in a SQLite store (modernc.org/sqlite, no cgo).
package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/crypto/goolm/account"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/mockserver"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	_ "github.com/sicher-go/sicher/mautrix/register"
)

const room = id.RoomID("!room:localhost")

var pickleKey = []byte("e2e pickle key of any length")

// openSQLite opens (or creates) the SQLite database at path through
// dbutil, as mautrix's SQL crypto store expects.
func openSQLite(t testing.TB, path string) *dbutil.Database {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	db, err := dbutil.NewWithDB(raw, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// login logs a device in on the mock server with its crypto in store (a
// *dbutil.Database or nil for a memory store), as mockserver.Login does.
func login(t testing.TB, ms *mockserver.MockServer, user id.UserID, device id.DeviceID, db *dbutil.Database) (*mautrix.Client, *cryptohelper.CryptoHelper) {
	t.Helper()
	ctx := context.Background()
	client, err := mautrix.NewClient(ms.Server.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	client.Client = ms.Server.Client()
	_, err = client.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
		DeviceID:         device,
		Password:         "password",
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var store any = db
	if db == nil {
		store = crypto.NewMemoryStore(nil)
		client.StateStore = mautrix.NewMemoryStateStore()
	}
	helper, err := cryptohelper.NewCryptoHelper(client, pickleKey, store)
	if err != nil {
		t.Fatal(err)
	}
	client.Crypto = helper
	if err := helper.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		l := zerolog.New(zerolog.NewTestWriter(t)).With().Stringer("device", device).Logger()
		helper.Machine().Log = &l
	}
	if err := helper.Machine().ShareKeys(ctx, 50); err != nil {
		t.Fatal(err)
	}
	return client, helper
}

// send encrypts body from one machine and decrypts it on the other.
func send(t testing.TB, from *crypto.OlmMachine, fromUser id.UserID, to *crypto.OlmMachine, body string, n int) {
	t.Helper()
	ctx := context.Background()
	enc, err := from.EncryptMegolmEvent(ctx, room, event.EventMessage, map[string]string{"body": body})
	if err != nil {
		t.Fatal(err)
	}
	evt := &event.Event{
		Type:    event.EventEncrypted,
		ID:      id.EventID(fmt.Sprintf("$%s-%d", body, n)),
		RoomID:  room,
		Sender:  fromUser,
		Content: event.Content{Parsed: enc},
	}
	dec, err := to.DecryptMegolmEvent(ctx, evt)
	if err != nil {
		t.Fatalf("decrypting %q: %v", body, err)
	}
	if got := dec.Content.Raw["body"]; got != body {
		t.Fatalf("decrypted %v, want %q", got, body)
	}
}

// share shares from's Megolm session for the room with to's user and
// delivers the to-device messages to to's machine, as a sync would.
func share(t testing.TB, ms *mockserver.MockServer, from *crypto.OlmMachine, to *mautrix.Client, toMach *crypto.OlmMachine) {
	t.Helper()
	ctx := context.Background()
	if err := from.ShareGroupSession(ctx, room, []id.UserID{to.UserID}); err != nil {
		t.Fatal(err)
	}
	inbox := ms.DeviceInbox[to.UserID][to.DeviceID]
	ms.DeviceInbox[to.UserID][to.DeviceID] = nil
	if len(inbox) == 0 {
		t.Fatal("nothing was sent")
	}
	for _, evt := range inbox {
		evt.Type.Class = event.ToDeviceEventType
		if evt.Content.Parsed == nil {
			if err := evt.Content.ParseRaw(evt.Type); err != nil {
				t.Fatal(err)
			}
		}
		toMach.HandleToDeviceEvent(ctx, &evt)
	}
}

func TestDriverRegistered(t *testing.T) {
	if olm.Driver != "sicher" {
		t.Fatalf("olm.Driver = %q", olm.Driver)
	}
}

// TestMemoryStore: Olm key sharing both ways and Megolm messages both
// ways, with mautrix's memory store.
func TestMemoryStore(t *testing.T) {
	ms := mockserver.Create(t)
	aliceC, alice := login(t, ms, "@alice:localhost", "ALICE", nil)
	bobC, bob := login(t, ms, "@bob:localhost", "BOB", nil)
	share(t, ms, alice.Machine(), bobC, bob.Machine())
	for i := range 5 {
		send(t, alice.Machine(), aliceC.UserID, bob.Machine(), "from alice", i)
	}
	share(t, ms, bob.Machine(), aliceC, alice.Machine())
	send(t, bob.Machine(), bobC.UserID, alice.Machine(), "from bob", 0)
}

// TestSQLiteRestart: Bob keeps his crypto in SQLite. After a restart
// (everything reloaded from pickles) he still decrypts Alice's session,
// encrypts over the reloaded Olm session, and his pickles are in sicher's
// format.
func TestSQLiteRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bob.db")
	ms := mockserver.Create(t)
	aliceC, alice := login(t, ms, "@alice:localhost", "ALICE", nil)
	db := openSQLite(t, path)
	bobC, bob := login(t, ms, "@bob:localhost", "BOB", db)
	share(t, ms, alice.Machine(), bobC, bob.Machine())
	send(t, alice.Machine(), aliceC.UserID, bob.Machine(), "before restart", 0)
	bobKey := bob.Machine().OwnIdentity().IdentityKey

	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openSQLite(t, path)
	defer db.Close()
	bobC, bob = login(t, ms, "@bob:localhost", "BOB", db)
	if bob.Machine().OwnIdentity().IdentityKey != bobKey {
		t.Fatal("the account was not reloaded")
	}
	send(t, alice.Machine(), aliceC.UserID, bob.Machine(), "after restart", 1)
	// Bob's room key goes to Alice over the Olm session he reloaded.
	share(t, ms, bob.Machine(), aliceC, alice.Machine())
	send(t, bob.Machine(), bobC.UserID, alice.Machine(), "from bob", 0)

	var pickled []byte
	if err := db.QueryRow(ctx, "SELECT account FROM crypto_account").Scan(&pickled); err != nil {
		t.Fatal(err)
	}
	if _, err := account.AccountFromPickled(pickled, pickleKey); err == nil {
		t.Fatal("the stored account is in libolm's format")
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM crypto_olm_session").Scan(&n); err != nil || n == 0 {
		t.Fatalf("olm sessions stored: %d, %v", n, err)
	}
}
