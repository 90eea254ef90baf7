package machinebench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	globallog "github.com/rs/zerolog/log"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/crypto/goolm"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/mockserver"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", the one sqlstore uses
)

func init() {
	// goolm, mautrix's pure-Go Olm, as in a build with the goolm tag.
	goolm.Register()
	globallog.Logger = zerolog.Nop()
}

var mautrixPickleKey = []byte("bench pickle key")

// openMautrixDB opens the SQLite database at path for mautrix's SQL crypto store.
func openMautrixDB(tb testing.TB, path string) *dbutil.Database {
	tb.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	db, err := dbutil.NewWithDB(raw, "sqlite")
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// mautrixLogin logs a device in on the mock server with its crypto in db (nil: mautrix's memory
// store), as mockserver.Login does, and uploads its keys.
func mautrixLogin(tb testing.TB, ms *mockserver.MockServer, user id.UserID, device id.DeviceID, db *dbutil.Database) (*mautrix.Client, *cryptohelper.CryptoHelper) {
	tb.Helper()
	ctx := context.Background()
	client, err := mautrix.NewClient(ms.Server.URL, "", "")
	if err != nil {
		tb.Fatal(err)
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
		tb.Fatal(err)
	}
	var st any = db
	if db == nil {
		st = crypto.NewMemoryStore(nil)
		client.StateStore = mautrix.NewMemoryStateStore()
	}
	helper, err := cryptohelper.NewCryptoHelper(client, mautrixPickleKey, st)
	if err != nil {
		tb.Fatal(err)
	}
	client.Crypto = helper
	if err := helper.Init(ctx); err != nil {
		tb.Fatal(err)
	}
	nop := zerolog.Nop()
	helper.Machine().Log = &nop
	if err := helper.Machine().ShareKeys(ctx, -1); err != nil {
		tb.Fatal(err)
	}
	return client, helper
}

// mautrixShare: the mautrix side of sicherShare. One op is one ShareGroupSession (device
// query, one-time key claims, Olm encryption, to-device over the mock server's HTTP).
func mautrixShare(b *testing.B) {
	ctx := context.Background()
	ms := mockserver.Create(b)
	ms.PopOTKs = false
	var users []id.UserID
	for i := range shareUsers {
		users = append(users, id.UserID(shareUser(i)))
		for j := range shareDevices {
			mautrixLogin(b, ms, id.UserID(shareUser(i)), id.DeviceID(shareDevice(i, j)), nil)
		}
	}
	dir := b.TempDir()
	b.ReportAllocs()
	var cpu cpuClock
	b.ResetTimer()
	cpu.Start()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cpu.Stop()
		db := openMautrixDB(b, filepath.Join(dir, fmt.Sprintf("sharer%d.db", i)))
		_, h := mautrixLogin(b, ms, "@sharer:localhost", id.DeviceID(fmt.Sprintf("SHARER%d", i)), db)
		before := inboxSize(ms)
		cpu.Start()
		b.StartTimer()
		if err := h.Machine().ShareGroupSession(ctx, id.RoomID(roomName(0)), users); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu.Stop()
		if n := inboxSize(ms) - before; n != shareUsers*shareDevices {
			b.Fatalf("shared with %d devices", n)
		}
		h.Close()
		db.Close()
		cpu.Start()
		b.StartTimer()
	}
	cpu.Stop()
	cpu.report(b)
}

func inboxSize(ms *mockserver.MockServer) int {
	n := 0
	for _, devs := range ms.DeviceInbox {
		for _, evs := range devs {
			n += len(evs)
		}
	}
	return n
}

// deliver hands a device's inbox on the mock server to its machine, as a sync would.
func deliver(tb testing.TB, ms *mockserver.MockServer, to *mautrix.Client, mach *crypto.OlmMachine) {
	tb.Helper()
	inbox := ms.DeviceInbox[to.UserID][to.DeviceID]
	ms.DeviceInbox[to.UserID][to.DeviceID] = nil
	for _, evt := range inbox {
		evt.Type.Class = event.ToDeviceEventType
		if evt.Content.Parsed == nil {
			if err := evt.Content.ParseRaw(evt.Type); err != nil {
				tb.Fatal(err)
			}
		}
		mach.HandleToDeviceEvent(context.Background(), &evt)
	}
}

// mautrixDecrypt: the mautrix side of sicherDecrypt (DecryptMegolmEvent: session from the
// SQL store, replay check, decryption, JSON).
func mautrixDecrypt(b *testing.B, sessions int) {
	ctx := context.Background()
	ms := mockserver.Create(b)
	aliceC, alice := mautrixLogin(b, ms, "@alice:localhost", "ALICE", nil)
	db := openMautrixDB(b, filepath.Join(b.TempDir(), "bob.db"))
	defer db.Close()
	bobC, bob := mautrixLogin(b, ms, "@bob:localhost", "BOB", db)
	rooms := make([]id.RoomID, sessions)
	for r := range rooms {
		rooms[r] = id.RoomID(roomName(r))
		if err := aliceC.StateStore.SetEncryptionEvent(ctx, rooms[r], &event.EncryptionEventContent{
			Algorithm: id.AlgorithmMegolmV1, RotationPeriodMessages: 2 * decryptEvents, RotationPeriodMillis: 1 << 40,
		}); err != nil {
			b.Fatal(err)
		}
		if err := alice.Machine().ShareGroupSession(ctx, rooms[r], []id.UserID{bobC.UserID}); err != nil {
			b.Fatal(err)
		}
	}
	deliver(b, ms, bobC, bob.Machine())
	evts := make([]*event.Event, decryptEvents)
	for i := range evts {
		r := rooms[i%sessions]
		enc, err := alice.Machine().EncryptMegolmEvent(ctx, r, event.EventMessage, messageBody(i))
		if err != nil {
			b.Fatal(err)
		}
		evts[i] = &event.Event{Type: event.EventEncrypted, ID: id.EventID(eventID(i)), RoomID: r, Sender: aliceC.UserID,
			Timestamp: 1700000000000 + int64(i), Content: event.Content{Parsed: enc}}
	}
	b.ReportAllocs()
	var cpu cpuClock
	cpu.Start()
	for b.Loop() {
		for _, evt := range evts {
			if _, err := bob.Machine().DecryptMegolmEvent(ctx, evt); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu.Stop()
	cpu.report(b)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*decryptEvents), "ns/event")
}

// mautrixSync: the mautrix side of sicherSync (ProcessSyncResponse with the 1,000 events, on a
// fresh copy of Bob's SQLite database each op).
func mautrixSync(b *testing.B) {
	ctx := context.Background()
	ms := mockserver.Create(b)
	dir := b.TempDir()
	path := filepath.Join(dir, "bob.db")
	db := openMautrixDB(b, path)
	bobC, bob := mautrixLogin(b, ms, "@bob:localhost", "BOB", db)
	var senders []id.UserID
	for i := range syncSenders {
		c, h := mautrixLogin(b, ms, id.UserID(syncSender(i)), "SENDER", nil)
		senders = append(senders, c.UserID)
		for r := range syncRooms {
			if err := h.Machine().ShareGroupSession(ctx, id.RoomID(roomName(r)), []id.UserID{bobC.UserID}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := bob.Machine().FetchKeys(ctx, senders, true); err != nil {
		b.Fatal(err)
	}
	inbox := ms.DeviceInbox[bobC.UserID][bobC.DeviceID]
	ms.DeviceInbox[bobC.UserID][bobC.DeviceID] = nil
	if len(inbox) != syncSenders*syncRooms {
		b.Fatalf("%d to-device events", len(inbox))
	}
	raw, err := json.Marshal(inbox)
	if err != nil {
		b.Fatal(err)
	}
	bob.Close()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var cpu cpuClock
	b.ResetTimer()
	cpu.Start()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cpu.Stop()
		db := openMautrixDB(b, copyDB(b, path, dir, i))
		_, h := mautrixLogin(b, ms, "@bob:localhost", "BOB", db)
		var resp mautrix.RespSync
		if err := json.Unmarshal(raw, &resp.ToDevice.Events); err != nil {
			b.Fatal(err)
		}
		resp.DeviceOTKCount.SignedCurve25519 = 50
		cpu.Start()
		b.StartTimer()
		h.Machine().ProcessSyncResponse(ctx, &resp, "")
		b.StopTimer()
		cpu.Stop()
		var n int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM crypto_megolm_inbound_session").Scan(&n); err != nil || n != syncSenders*syncRooms {
			b.Fatalf("%d inbound sessions stored (%v)", n, err)
		}
		h.Close()
		db.Close()
		cpu.Start()
		b.StartTimer()
	}
	cpu.Stop()
	cpu.report(b)
}
