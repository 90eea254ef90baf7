//go:build !js && !wasip1

package machine_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// storeOpener opens a fresh store for a device.
type storeOpener func(t *testing.T, name string) store.Store

func sqliteOpener(t *testing.T, name string) store.Store {
	k, err := sqlstore.NewKey(make([]byte, sqlstore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), name+".db"), k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func postgresOpener(t *testing.T) storeOpener {
	dsn := os.Getenv("SICHER_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SICHER_TEST_POSTGRES is not set; in CI it must be (eval \"$(scripts/postgres.sh start)\")")
		}
		t.Skip("SICHER_TEST_POSTGRES is not set; eval \"$(scripts/postgres.sh start)\" to test PostgreSQL")
	}
	// A schema of the test's own: the database outlives the test and its store key.
	schema := "sicher_machine_" + strings.TrimPrefix(strings.Split(uniqueUser("t"), ":")[0], "@t-")
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn = u.String()
	key := sqlstore.GenerateKey()
	return func(t *testing.T, name string) store.Store {
		st, err := sqlstore.OpenPostgres(t.Context(), dsn, key)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// uniqueUser returns a user id no earlier run used (a PostgreSQL database outlives the test).
func uniqueUser(name string) string {
	var b [4]byte
	rand.Read(b[:])
	return "@" + name + "-" + hex.EncodeToString(b[:]) + ":example.org"
}

func TestBootstrapRecoverSQLite(t *testing.T) { bootstrapRecover(t, sqliteOpener) }

func TestBootstrapRecoverPostgres(t *testing.T) { bootstrapRecover(t, postgresOpener(t)) }

// bootstrapRecover: a device bootstraps cross-signing and backup; a second device of the same
// user recovers with the recovery key, is cross-signed, restores the backup and reads the
// history it never received.
func bootstrapRecover(t *testing.T, open storeOpener) {
	w := newWorld(t)
	user, bobUser := uniqueUser("alice"), uniqueUser("bob")
	a1 := w.deviceOn(open(t, "a1"), user, "A1")
	bob := w.deviceOn(open(t, "bob"), bobUser, "B")
	room := w.hs.CreateRoom(user, bobUser)
	w.sync(a1, bob)
	ev1 := w.say(bob, room, "history from bob", machine.RoomSettings{})
	w.mustRead(a1, room, ev1, "history from bob")
	ev2 := w.say(a1, room, "history from alice", machine.RoomSettings{})

	res, err := a1.Bootstrap(w.ctx, machine.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RecoveryKey == "" || res.AlreadyDone || strings.Contains(fmtAll(res), res.RecoveryKey) {
		t.Fatalf("bootstrap result %v", res)
	}
	w.send(a1)
	version, _ := w.hs.BackupVersion(user)
	if version == "" {
		t.Fatal("no backup version on the server")
	}
	var keys struct {
		Rooms map[string]struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(w.hs.BackupKeys(user), &keys); err != nil || len(keys.Rooms[room].Sessions) != 2 {
		t.Fatalf("backup holds %d sessions of the room, want 2 (%v)", len(keys.Rooms[room].Sessions), err)
	}
	// The bootstrapping device is now cross-signed by its own identity.
	w.sync(a1)
	w.send(a1)
	if d := ownDevice(t, w, a1, "A1"); !d.CrossSigned {
		t.Fatal("A1 is not cross-signed after Bootstrap")
	}

	a2 := w.deviceOn(open(t, "a2"), user, "A2")
	w.sync(a2)
	w.send(a2)
	if err := a2.Recover(w.ctx, res.RecoveryKey); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	if err := a2.RestoreBackup(w.ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	var progress [][2]int
	rr := restoreAll(t, w, a2, func(done, total int) { progress = append(progress, [2]int{done, total}) })
	if rr.Total != 2 || rr.Restored != 2 || rr.Failed != 0 || rr.Authenticated != 2 {
		t.Fatalf("restore %+v", rr)
	}
	if len(progress) == 0 || progress[len(progress)-1] != [2]int{2, 2} {
		t.Fatalf("progress %v", progress)
	}
	for _, c := range []struct {
		ev   json.RawMessage
		text string
	}{{ev1, "history from bob"}, {ev2, "history from alice"}} {
		d := w.mustRead(a2, room, c.ev, c.text)
		if d.Info.Provenance != event.Backup || d.Info.Shield != machine.ShieldGrey {
			t.Fatalf("restored session: provenance %v shield %v", d.Info.Provenance, d.Info.Shield)
		}
	}
	// A1 sees A2 cross-signed, and A2 sees A1.
	w.sync(a1, a2)
	w.send(a1, a2)
	if d := ownDevice(t, w, a1, "A2"); !d.CrossSigned || !d.Verified {
		t.Fatalf("A2 as A1 sees it: %+v", d)
	}
	if d := ownDevice(t, w, a2, "A1"); !d.CrossSigned || !d.Verified {
		t.Fatalf("A1 as A2 sees it: %+v", d)
	}
}

func fmtAll(v any) string {
	return strings.Join([]string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v)}, " ")
}

func ownDevice(t *testing.T, w *world, m *machine.Machine, id string) machine.Device {
	t.Helper()
	devs, err := m.Devices(w.ctx, m.UserID())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Keys.DeviceID == id {
			return d
		}
	}
	t.Fatalf("%s does not know device %s", m.DeviceID(), id)
	return machine.Device{}
}

// restoreAll sends the pending backup download and restores it.
func restoreAll(t *testing.T, w *world, m *machine.Machine, progress func(int, int)) machine.RestoreResult {
	t.Helper()
	reqs, err := m.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Kind != machine.KindBackupDownloadKeys {
			continue
		}
		resp, err := w.hs.Do(m.UserID(), m.DeviceID(), r)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := m.MarkBackupKeysReceived(w.ctx, r.ID, resp, progress)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	t.Fatal("no backup download queued")
	return machine.RestoreResult{}
}

// bootstrapped returns a world with a bootstrapped device A1 of alice that talked with bob in a
// room, and the recovery key.
func bootstrapped(t *testing.T) (w *world, a1 *machine.Machine, room string, ev json.RawMessage, recoveryKey string) {
	w = newWorld(t)
	a1 = w.device("@alice:example.org", "A1")
	bob := w.device("@bob:example.org", "B")
	room = w.hs.CreateRoom(a1.UserID(), bob.UserID())
	w.sync(a1, bob)
	ev = w.say(bob, room, "hello", machine.RoomSettings{})
	w.mustRead(a1, room, ev, "hello")
	res, err := a1.Bootstrap(w.ctx, machine.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.send(a1)
	return w, a1, room, ev, res.RecoveryKey
}

func TestBootstrapIdempotent(t *testing.T) {
	w, a1, _, _, _ := bootstrapped(t)
	before := w.hs.AccountData(a1.UserID(), secretstorage.DefaultKeyEventType)
	v1, _ := w.hs.BackupVersion(a1.UserID())
	res, err := a1.Bootstrap(w.ctx, machine.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyDone || res.RecoveryKey != "" {
		t.Fatalf("second bootstrap: %v", res)
	}
	reqs, err := a1.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 0 {
		t.Fatalf("second bootstrap queued %d requests", len(reqs))
	}
	v2, _ := w.hs.BackupVersion(a1.UserID())
	if v1 != v2 || string(before) != string(w.hs.AccountData(a1.UserID(), secretstorage.DefaultKeyEventType)) {
		t.Fatal("second bootstrap changed the server")
	}
	// Another device of the same user must recover, not bootstrap a second identity.
	a2 := w.device("@alice:example.org", "A2")
	w.sync(a2)
	w.send(a2)
	if _, err := a2.Bootstrap(w.ctx, machine.BootstrapOptions{}); !errors.Is(err, machine.ErrIdentityExists) {
		t.Fatalf("bootstrap over an existing identity: %v", err)
	}
}

// TestBootstrapResume: the account data uploads fail, the process restarts, and the queued
// requests complete the bootstrap.
func TestBootstrapResume(t *testing.T) {
	w := newWorld(t)
	st := store.NewMemory()
	a1 := w.deviceOn(st, "@alice:example.org", "A1")
	opts := machine.BootstrapOptions{Passphrase: "correct horse battery staple", Iterations: 100_000}
	if strings.Contains(fmtAll(opts), "horse") {
		t.Fatalf("options print the passphrase: %s", fmtAll(opts))
	}
	res, err := a1.Bootstrap(w.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := a1.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Kind == machine.KindAccountData {
			continue // the server failed: not confirmed
		}
		resp, err := w.hs.Do(a1.UserID(), a1.DeviceID(), r)
		if err != nil {
			t.Fatal(err)
		}
		if err := a1.MarkRequestSent(w.ctx, r.ID, resp); err != nil {
			t.Fatal(err)
		}
	}
	if w.hs.AccountData(a1.UserID(), secretstorage.DefaultKeyEventType) != nil {
		t.Fatal("account data stored although its requests failed")
	}
	a1, err = machine.New(w.ctx, machine.Config{UserID: "@alice:example.org", DeviceID: "A1", Store: st, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := a1.Bootstrap(w.ctx, machine.BootstrapOptions{}); err != nil || !again.AlreadyDone {
		t.Fatalf("bootstrap after restart: %v %v", again, err)
	}
	w.send(a1)
	// The passphrase and the recovery key both open the secret storage on a new device.
	for i, input := range []string{"correct horse battery staple", res.RecoveryKey} {
		a2 := w.device("@alice:example.org", "N"+string(rune('0'+i)))
		w.sync(a2)
		w.send(a2)
		if err := a2.Recover(w.ctx, input); err != nil {
			t.Fatalf("recover with input %d: %v", i, err)
		}
		w.send(a2)
		if err := a2.RestoreBackup(w.ctx, "", ""); err != nil {
			t.Fatalf("backup not enabled after recovery %d: %v", i, err)
		}
	}
}

func TestRecoverWrongKey(t *testing.T) {
	w, _, _, _, _ := bootstrapped(t)
	a2 := w.device("@alice:example.org", "A2")
	w.sync(a2)
	w.send(a2)
	other, err := secretstorage.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Recover(w.ctx, other.RecoveryKey()); !errors.Is(err, secretstorage.ErrAuthentication) {
		t.Fatalf("wrong recovery key: %v", err)
	}
	if err := a2.Recover(w.ctx, "not a key and no passphrase"); err == nil {
		t.Fatal("a wrong passphrase opened secret storage")
	}
	if err := a2.RestoreBackup(w.ctx, "", ""); !errors.Is(err, machine.ErrBackupDisabled) {
		t.Fatalf("backup enabled after failed recoveries: %v", err)
	}
	reqs, _ := a2.OutgoingRequests(w.ctx)
	if len(reqs) != 0 {
		t.Fatalf("failed recoveries queued %d requests", len(reqs))
	}
}

// TestRecoverTamperedAuthData: the server replaces the backup's auth_data (a signature that
// does not verify, or none): the new device refuses the backup.
func TestRecoverTamperedAuthData(t *testing.T) {
	for _, tamper := range []func(json.RawMessage) json.RawMessage{
		func(ad json.RawMessage) json.RawMessage { // every signature changed
			var v struct {
				PublicKey  string                       `json:"public_key"`
				Signatures map[string]map[string]string `json:"signatures"`
			}
			_ = json.Unmarshal(ad, &v)
			for _, sigs := range v.Signatures {
				for id, sig := range sigs {
					b := []byte(sig)
					if b[0] == 'A' {
						b[0] = 'B'
					} else {
						b[0] = 'A'
					}
					sigs[id] = string(b)
				}
			}
			out, _ := json.Marshal(v)
			return out
		},
		func(ad json.RawMessage) json.RawMessage { // unsigned
			var m map[string]json.RawMessage
			_ = json.Unmarshal(ad, &m)
			delete(m, "signatures")
			out, _ := json.Marshal(m)
			return out
		},
	} {
		w, _, _, _, rk := bootstrapped(t)
		_, info := w.hs.BackupVersion("@alice:example.org")
		var v struct {
			AuthData json.RawMessage `json:"auth_data"`
		}
		if err := json.Unmarshal(info, &v); err != nil {
			t.Fatal(err)
		}
		w.hs.ReplaceBackupAuthData("@alice:example.org", tamper(v.AuthData))
		a2 := w.device("@alice:example.org", "A2")
		w.sync(a2)
		w.send(a2)
		if err := a2.Recover(w.ctx, rk); err != nil {
			t.Fatal(err)
		}
		err := w.hs.SendAll(w.ctx, a2)
		if !errors.Is(err, machine.ErrUntrustedBackup) {
			t.Fatalf("tampered auth_data: %v", err)
		}
		if err := a2.RestoreBackup(w.ctx, "", ""); !errors.Is(err, machine.ErrBackupDisabled) {
			t.Fatalf("backup enabled with tampered auth_data: %v", err)
		}
	}
}

// TestBackupMACFailure: an entry whose MSC4048 MAC is broken, and one written with only the
// public key, are restored as unauthenticated; the genuine one is authenticated.
func TestBackupMACFailure(t *testing.T) {
	w, a1, room, ev, rk := bootstrapped(t)
	var keys struct {
		Rooms map[string]struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(w.hs.BackupKeys(a1.UserID()), &keys); err != nil {
		t.Fatal(err)
	}
	var sid string
	var entry json.RawMessage
	for id, e := range keys.Rooms[room].Sessions {
		sid, entry = id, e
	}
	// Flip a character of the MAC signature.
	s := string(entry)
	i := strings.Index(s, `backup_mac_key":"`) + len(`backup_mac_key":"`)
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	w.hs.PutBackupEntry(a1.UserID(), room, sid, b)

	a2 := w.device("@alice:example.org", "A2")
	w.sync(a2)
	w.send(a2)
	if err := a2.Recover(w.ctx, rk); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	if err := a2.RestoreBackup(w.ctx, room, ""); err != nil {
		t.Fatal(err)
	}
	rr := restoreAll(t, w, a2, nil)
	if rr.Restored != 1 || rr.Authenticated != 0 {
		t.Fatalf("restore of a broken MAC: %+v", rr)
	}
	if ok, err := a2.BackupAuthenticated(w.ctx, room, sid); err != nil || ok {
		t.Fatalf("broken MAC marked authenticated: %v %v", ok, err)
	}
	w.mustRead(a2, room, ev, "hello") // still usable as an unauthenticated v1 entry
}

// TestBackupNewVersion: another device replaces the backup version; the upload fails with
// M_WRONG_ROOM_KEYS_VERSION, the machine checks the new version and uploads everything again.
// A missing key is then fetched from the backup on demand.
func TestBackupNewVersion(t *testing.T) {
	w, a1, room, _, _ := bootstrapped(t)
	_, info := w.hs.BackupVersion(a1.UserID())
	if _, err := w.hs.Do(a1.UserID(), "A9", machine.Request{Kind: machine.KindBackupVersion, Body: info}); err != nil {
		t.Fatal(err)
	}
	v2, _ := w.hs.BackupVersion(a1.UserID())
	bob, _ := machine.New(w.ctx, machine.Config{UserID: "@bob:example.org", DeviceID: "B2", Store: store.NewMemory(), Clock: w.clock})
	w.send(bob)
	ev := w.say(bob, room, "after the new version", machine.RoomSettings{})
	if err := a1.UpdateTrackedUsers(w.ctx, w.hs.Members(room)); err != nil {
		t.Fatal(err)
	}
	w.sync(a1)
	for range 5 {
		reqs, err := a1.OutgoingRequests(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			resp, err := w.hs.Do(a1.UserID(), a1.DeviceID(), r)
			if errors.Is(err, machinetest.ErrWrongBackupVersion) {
				if err := a1.HandleWrongBackupVersion(w.ctx, r.ID); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := a1.MarkRequestSent(w.ctx, r.ID, resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := a1.DecryptRoomEvent(w.ctx, room, ev); err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Rooms map[string]struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(w.hs.BackupKeys(a1.UserID()), &keys); err != nil {
		t.Fatal(err)
	}
	if n := len(keys.Rooms[room].Sessions); n != 2 {
		t.Fatalf("version %s holds %d sessions of the room, want 2", v2, n)
	}
}

// TestBackupOnDemand: a key missing at decryption is fetched from the backup by session.
func TestBackupOnDemand(t *testing.T) {
	w, _, room, ev, rk := bootstrapped(t)
	a2 := w.device("@alice:example.org", "A2")
	w.sync(a2)
	w.send(a2)
	if err := a2.Recover(w.ctx, rk); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	_, _, err := w.read(a2, room, ev)
	var de *machine.DecryptionError
	if !errors.As(err, &de) || de.Reason != machine.FailureMissingSession {
		t.Fatalf("before the download: %v", err)
	}
	var c struct {
		Content struct {
			SessionID string `json:"session_id"`
		} `json:"content"`
	}
	if err := json.Unmarshal(ev, &c); err != nil {
		t.Fatal(err)
	}
	if err := a2.RestoreBackup(w.ctx, room, c.Content.SessionID); err != nil {
		t.Fatal(err)
	}
	reqs, err := a2.OutgoingRequests(w.ctx)
	if err != nil || len(reqs) != 1 || reqs[0].Kind != machine.KindBackupDownload || reqs[0].Method != "GET" ||
		!strings.Contains(reqs[0].Path, "/room_keys/keys/") {
		t.Fatalf("queued %+v, %v", reqs, err)
	}
	w.send(a2)
	w.mustRead(a2, room, ev, "hello")
	if ok, err := a2.BackupAuthenticated(w.ctx, room, c.Content.SessionID); err != nil || !ok {
		t.Fatalf("entry written by A1 not authenticated: %v %v", ok, err)
	}
}

// TestBackupDeleted: GET /room_keys/version answered 404 (the backup was deleted) disables
// backup; a bootstrap before our own keys query is refused.
func TestBackupDeleted(t *testing.T) {
	w, a1, _, _, _ := bootstrapped(t)
	if err := a1.CheckBackupVersion(w.ctx); err != nil {
		t.Fatal(err)
	}
	reqs, err := a1.OutgoingRequests(w.ctx)
	if err != nil || len(reqs) != 1 || reqs[0].Kind != machine.KindBackupVersionGet || reqs[0].Body != nil {
		t.Fatalf("queued %+v, %v", reqs, err)
	}
	if err := a1.RestoreBackup(w.ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := a1.HandleWrongBackupVersion(w.ctx, reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := a1.RestoreBackup(w.ctx, "", ""); !errors.Is(err, machine.ErrBackupDisabled) {
		t.Fatalf("backup after a 404: %v", err)
	}
	// The download queued before cannot be restored any more: it is dropped.
	reqs2, _ := a1.OutgoingRequests(w.ctx)
	if len(reqs2) != 1 || reqs2[0].Kind != machine.KindBackupDownloadKeys {
		t.Fatalf("queued %+v", reqs2)
	}
	if _, err := a1.MarkBackupKeysReceived(w.ctx, reqs2[0].ID, w.hs.BackupKeys(a1.UserID()), nil); !errors.Is(err, machine.ErrBackupDisabled) {
		t.Fatalf("restore after backup was disabled: %v", err)
	}
	if reqs2, _ = a1.OutgoingRequests(w.ctx); len(reqs2) != 0 {
		t.Fatalf("still queued: %+v", reqs2)
	}
	if err := a1.HandleWrongBackupVersion(w.ctx, reqs[0].ID); !errors.Is(err, machine.ErrUnknownRequest) {
		t.Fatalf("a request handled twice: %v", err)
	}

	fresh, err := machine.New(w.ctx, machine.Config{UserID: "@carol:example.org", DeviceID: "C", Store: store.NewMemory(), Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Bootstrap(w.ctx, machine.BootstrapOptions{}); !errors.Is(err, machine.ErrDevicesOutdated) {
		t.Fatalf("bootstrap before the keys query: %v", err)
	}
}

// TestBackupBatches: after a switch to a new backup version every session is uploaded again,
// at most 100 per request, each batch marked backed up when the server confirms it.
func TestBackupBatches(t *testing.T) {
	w, a1, _, _, rk := bootstrapped(t)
	_, info := w.hs.BackupVersion(a1.UserID())
	var v struct {
		AuthData keybackup.AuthData `json:"auth_data"`
	}
	if err := json.Unmarshal(info, &v); err != nil {
		t.Fatal(err)
	}
	rnd := mrand.NewChaCha8([32]byte{3})
	for i := range 150 {
		out, err := megolm.NewOutboundSessionFrom(rnd)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := megolm.NewInboundSession(out.SessionKey())
		room := fmt.Sprintf("!r%d:example.org", i%7)
		d, err := keybackup.EncryptSession(v.AuthData.PublicKey, megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), room, [32]byte{1}, [32]byte{2}))
		if err != nil {
			t.Fatal(err)
		}
		entry, _ := json.Marshal(keybackup.KeyBackupData{SessionData: d})
		w.hs.PutBackupEntry(a1.UserID(), room, in.SessionID().String(), entry)
	}
	a2 := w.device("@alice:example.org", "A2")
	w.sync(a2)
	w.send(a2)
	if err := a2.Recover(w.ctx, rk); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	if err := a2.RestoreBackup(w.ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if rr := restoreAll(t, w, a2, nil); rr.Restored != 151 || rr.Authenticated != 1 {
		t.Fatalf("restore %+v", rr)
	}
	// Restored sessions are in the backup: nothing to upload.
	if reqs, _ := a2.OutgoingRequests(w.ctx); len(reqs) != 0 {
		t.Fatalf("after the restore: %d requests", len(reqs))
	}
	// Another device makes a new version with the same key.
	if _, err := w.hs.Do(a1.UserID(), "A9", machine.Request{Kind: machine.KindBackupVersion, Body: info}); err != nil {
		t.Fatal(err)
	}
	if err := a2.CheckBackupVersion(w.ctx); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for range 5 {
		reqs, err := a2.OutgoingRequests(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			if r.Kind == machine.KindBackupUpload {
				var b struct {
					Rooms map[string]struct {
						Sessions map[string]json.RawMessage `json:"sessions"`
					} `json:"rooms"`
				}
				_ = json.Unmarshal(r.Body, &b)
				n := 0
				for _, rs := range b.Rooms {
					n += len(rs.Sessions)
				}
				sizes = append(sizes, n)
			}
			resp, err := w.hs.Do(a2.UserID(), a2.DeviceID(), r)
			if err != nil {
				t.Fatal(err)
			}
			if err := a2.MarkRequestSent(w.ctx, r.ID, resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fmt.Sprint(sizes) != "[100 51]" {
		t.Fatalf("upload batches %v, want [100 51]", sizes)
	}
	var keys struct {
		Rooms map[string]struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		} `json:"rooms"`
	}
	_ = json.Unmarshal(w.hs.BackupKeys(a1.UserID()), &keys)
	n := 0
	for _, rs := range keys.Rooms {
		n += len(rs.Sessions)
	}
	if n != 151 {
		t.Fatalf("the new version holds %d sessions, want 151", n)
	}
}
