package rustpeer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// These tests put sicher's machine.Machine and matrix-sdk-crypto's OlmMachine
// on one fake homeserver (machinetest.Server): the server executes the
// requests of both machines and builds both /sync responses.

const (
	sicherUser, sicherDev = "@sicher:example.org", "SICHERDEV"
	rustUser, rustDev     = "@rust:example.org", "RUSTDEV"
)

// duo is a sicher machine and a rust machine in one room of one server.
type duo struct {
	t      *testing.T
	su, sd string // the sicher device
	ru, rd string // the rust device
	ctx    context.Context
	hs     *machinetest.Server
	s      *machine.Machine
	r      *rustpeer.Peer
	room   string
	now    time.Time
}

func newDuo(t *testing.T) *duo { return newDuoOf(t, sicherUser, rustUser) }

// newDuoOf makes the duo with the sicher device SICHERDEV of sicherUser and the rust device
// RUSTDEV of rustUser (the same user for key requests between one's own devices).
func newDuoOf(t *testing.T, sicherUser, rustUser string) *duo {
	t.Helper()
	d := &duo{t: t, su: sicherUser, sd: sicherDev, ru: rustUser, rd: rustDev, ctx: context.Background(),
		hs: machinetest.NewServer(), now: time.UnixMilli(1_765_000_000_000)}
	d.r = rustpeer.ForTest(t, d.ru, d.rd)
	s, err := machine.New(d.ctx, machine.Config{UserID: d.su, DeviceID: d.sd, Store: store.NewMemory(), Clock: d.clock})
	if err != nil {
		t.Fatal(err)
	}
	d.s = s
	d.room = d.newRoom()
	if err := d.s.UpdateTrackedUsers(d.ctx, d.users()); err != nil {
		t.Fatal(err)
	}
	if err := d.r.UpdateTrackedUsers(d.users()...); err != nil {
		t.Fatal(err)
	}
	// Upload both devices' keys, then let each query the other.
	d.pump()
	d.pump()
	return d
}

// users are the room members: both users, once.
func (d *duo) users() []string {
	if d.su == d.ru {
		return []string{d.su}
	}
	return []string{d.su, d.ru}
}

// newRoom creates a room with both users.
func (d *duo) newRoom() string { return d.hs.CreateRoom(d.users()...) }

func (d *duo) clock() time.Time {
	d.now = d.now.Add(time.Millisecond)
	return d.now
}

// kind maps a rust request type to the machine request kind the server executes.
var kind = map[string]machine.RequestKind{
	rustpeer.KeysUpload: machine.KindKeysUpload,
	rustpeer.KeysQuery:  machine.KindKeysQuery,
	rustpeer.KeysClaim:  machine.KindKeysClaim,
	rustpeer.ToDevice:   machine.KindToDevice,
}

// doRust executes one request of the rust machine on the server and hands it the response.
func (d *duo) doRust(req rustpeer.Request) {
	d.t.Helper()
	k, ok := kind[req.Type]
	if !ok {
		d.t.Fatalf("rust machine sent a %s request the fake server does not execute: %s", req.Type, req.Body)
	}
	id := req.ID
	if req.Type == rustpeer.ToDevice {
		id = req.TxnID // the server de-duplicates by transaction id
	}
	resp, err := d.hs.Do(d.ru, d.rd, machine.Request{ID: id, Kind: k, Body: req.Body, EventType: req.EventType})
	if err != nil {
		d.t.Fatalf("server: %s request of the rust machine: %v", req.Type, err)
	}
	if os.Getenv("SICHER_INTEROP_VERBOSE") != "" {
		d.t.Logf("rust %s %s %s -> %.300s", req.Type, req.EventType, req.Body, resp)
	}
	if err := d.r.MarkRequestSent(req.ID, req.Type, resp); err != nil {
		d.t.Fatalf("rust MarkRequestSent(%s): %v\n%s", req.Type, err, d.r.Stderr())
	}
}

// sendRust executes the rust machine's outgoing requests until it has none.
func (d *duo) sendRust() {
	d.t.Helper()
	for range 10 {
		reqs, err := d.r.OutgoingRequests()
		if err != nil {
			d.t.Fatal(err)
		}
		if len(reqs) == 0 {
			return
		}
		for _, req := range reqs {
			d.doRust(req)
		}
	}
}

func (d *duo) sendSicher() {
	d.t.Helper()
	if err := d.hs.SendAll(d.ctx, d.s); err != nil {
		d.t.Fatal(err)
	}
}

func (d *duo) syncRust() []rustpeer.ToDeviceEvent {
	d.t.Helper()
	c := d.hs.Sync(d.ru, d.rd)
	evs, err := d.r.ReceiveSync(rustpeer.SyncChanges{ToDevice: c.ToDevice, Changed: c.Changed, Left: c.Left,
		OneTimeKeyCounts: c.OneTimeKeyCounts, UnusedFallbackKeyTypes: c.UnusedFallbackKeyTypes})
	if err != nil {
		d.t.Fatalf("rust ReceiveSync: %v\n%s", err, d.r.Stderr())
	}
	return evs
}

func (d *duo) syncSicher() []machine.ToDeviceEvent {
	d.t.Helper()
	evs, err := d.hs.SyncMachine(d.ctx, d.s)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Err != nil {
			d.t.Logf("sicher dropped a %s from %s: %v", ev.Type, ev.Sender, ev.Err)
		}
	}
	return evs
}

// pump sends what both machines want sent and syncs both.
func (d *duo) pump() {
	d.t.Helper()
	d.sendSicher()
	d.sendRust()
	d.syncSicher()
	d.syncRust()
	d.sendSicher()
	d.sendRust()
}

// rustShares shares the rust machine's room key for room with both users.
func (d *duo) rustShares(room string, s rustpeer.ShareSettings) []machine.ToDeviceEvent {
	d.t.Helper()
	claim, err := d.r.GetMissingSessions(d.users()...)
	if err != nil {
		d.t.Fatal(err)
	}
	if claim != nil {
		d.doRust(*claim)
	}
	reqs, err := d.r.ShareRoomKey(room, d.users(), s)
	if err != nil {
		d.t.Fatalf("rust ShareRoomKey: %v\n%s", err, d.r.Stderr())
	}
	for _, req := range reqs {
		d.doRust(req)
	}
	return d.syncSicher()
}

// sicherShares shares the sicher machine's room key for room with both users.
func (d *duo) sicherShares(room string, rs machine.RoomSettings) []rustpeer.ToDeviceEvent {
	d.t.Helper()
	members := d.users()
	if _, err := d.s.GetMissingSessions(d.ctx, members); err != nil {
		d.t.Fatal(err)
	}
	d.sendSicher()
	if err := d.s.ShareRoomKey(d.ctx, room, members, rs); err != nil {
		d.t.Fatal(err)
	}
	d.sendSicher()
	return d.syncRust()
}

// rustSays encrypts a message on the rust side and returns the room event the server stored.
func (d *duo) rustSays(room, text string) json.RawMessage {
	d.t.Helper()
	c, err := d.r.EncryptRoomEvent(room, "m.room.message", body(text))
	if err != nil {
		d.t.Fatalf("rust EncryptRoomEvent: %v\n%s", err, d.r.Stderr())
	}
	return d.hs.Send(room, d.ru, c)
}

func (d *duo) sicherSays(room, text string) json.RawMessage {
	d.t.Helper()
	c, err := d.s.EncryptRoomEvent(d.ctx, room, "m.room.message", body(text))
	if err != nil {
		d.t.Fatal(err)
	}
	return d.hs.Send(room, d.su, c)
}

func body(text string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": text})
	return b
}

func textOf(t *testing.T, content json.RawMessage) string {
	t.Helper()
	var c struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
		t.Fatalf("decrypted content %s: %v", content, err)
	}
	return c.Body
}

// sicherReads decrypts a rust message on the sicher side and checks its text and sender.
func (d *duo) sicherReads(room string, ev json.RawMessage, want string) *machine.DecryptedEvent {
	d.t.Helper()
	dec, err := d.s.DecryptRoomEvent(d.ctx, room, ev)
	if err != nil {
		d.t.Fatalf("sicher cannot decrypt %q from rust: %v", want, err)
	}
	if got := textOf(d.t, dec.Content); got != want || dec.Type != "m.room.message" {
		d.t.Fatalf("sicher decrypted %s %q, want m.room.message %q", dec.Type, got, want)
	}
	rk := d.r.IdentityKeys()
	in := dec.Info
	if in.Sender != d.ru || in.SenderDevice != d.rd || in.SenderKey.String() != rk.Curve25519 || in.Provenance != event.OverOlm {
		d.t.Errorf("sicher's info: sender %s device %s key %s provenance %v; want %s %s %s over Olm",
			in.Sender, in.SenderDevice, in.SenderKey, in.Provenance, d.ru, d.rd, rk.Curve25519)
	}
	// The rust device is not cross-signed and not verified: red, as matrix-sdk-crypto's
	// UnsignedDevice shield.
	if in.Verified || in.CrossSigned || in.Shield != machine.ShieldRed {
		d.t.Errorf("sicher's trust info: verified %v cross-signed %v shield %v (%s); want unverified, red",
			in.Verified, in.CrossSigned, in.Shield, in.ShieldReason)
	}
	return dec
}

// rustReads decrypts a sicher message on the rust side and checks its text, sender and shield.
func (d *duo) rustReads(room string, ev json.RawMessage, want string) *rustpeer.DecryptedEvent {
	d.t.Helper()
	dec, err := d.r.DecryptRoomEvent(room, ev)
	if err != nil {
		d.t.Fatalf("rust cannot decrypt %q from sicher: %v\n%s", want, err, d.r.Stderr())
	}
	if got := textOf(d.t, dec.Content); got != want || dec.Type != "m.room.message" {
		d.t.Fatalf("rust decrypted %s %q, want m.room.message %q", dec.Type, got, want)
	}
	sc, se := d.s.IdentityKeys()
	if dec.Sender != d.su || dec.SenderDevice != d.sd || dec.SenderCurve25519Key != sc.String() ||
		dec.SenderClaimedEd25519Key != se.String() {
		d.t.Errorf("rust's info: sender %s device %s curve %s ed %s; want %s %s %s %s", dec.Sender, dec.SenderDevice,
			dec.SenderCurve25519Key, dec.SenderClaimedEd25519Key, d.su, d.sd, sc, se)
	}
	// sicher's device has no cross-signing identity: matrix-sdk-crypto shows a red shield,
	// "not verified by its owner".
	if dec.Shield.Color != "Red" || dec.Shield.Code != "UnsignedDevice" {
		d.t.Errorf("rust's shield %+v, want Red UnsignedDevice", dec.Shield)
	}
	return dec
}

func sessionID(t *testing.T, ev json.RawMessage) string {
	t.Helper()
	var e struct {
		Content struct {
			SessionID string `json:"session_id"`
		} `json:"content"`
	}
	if err := json.Unmarshal(ev, &e); err != nil || e.Content.SessionID == "" {
		t.Fatalf("no session id in %s (%v)", ev, err)
	}
	return e.Content.SessionID
}

func TestMachineInterop(t *testing.T) {
	t.Run("RoomKeys", func(t *testing.T) {
		d := newDuo(t)
		t.Run("RustToSicher", func(t *testing.T) {
			d.t = t
			d.rustShares(d.room, rustpeer.ShareSettings{})
			d.sicherReads(d.room, d.rustSays(d.room, "hello from rust"), "hello from rust")
		})
		t.Run("SicherToRust", func(t *testing.T) {
			d.t = t
			d.sicherShares(d.room, machine.RoomSettings{})
			d.rustReads(d.room, d.sicherSays(d.room, "hello from sicher"), "hello from sicher")
		})
	})

	t.Run("EventsAcrossRotation/BothWays", func(t *testing.T) {
		d := newDuo(t)
		const n = 3 // messages per session
		rs := machine.RoomSettings{RotationMessages: n}
		ss := rustpeer.ShareSettings{RotationPeriodMsgs: n}
		var rustSessions, sicherSessions []string
		for round := range 3 {
			d.rustShares(d.room, ss)
			d.sicherShares(d.room, rs)
			for i := range n {
				text := fmt.Sprintf("rust %d.%d", round, i)
				ev := d.rustSays(d.room, text)
				d.sicherReads(d.room, ev, text)
				if i == 0 {
					rustSessions = append(rustSessions, sessionID(t, ev))
				}
				text = fmt.Sprintf("sicher %d.%d", round, i)
				ev = d.sicherSays(d.room, text)
				d.rustReads(d.room, ev, text)
				if i == 0 {
					sicherSessions = append(sicherSessions, sessionID(t, ev))
				}
			}
			d.pump()
		}
		for _, ids := range [][]string{rustSessions, sicherSessions} {
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("a session was not rotated after %d messages: %v", n, ids)
				}
				seen[id] = true
			}
		}
		// sicher's EncryptRoomEvent documents ErrRoomKeyNotShared for a session at its rotation
		// count; it encrypts anyway (machine/room.go checks the count only in ShareRoomKey).
		if _, err := d.s.EncryptRoomEvent(d.ctx, d.room, "m.room.message", body("one too many")); err == nil {
			t.Logf("sicher encrypted a message %d of a session rotating after %d (its doc says ErrRoomKeyNotShared)", n+1, n)
		}
		// Old messages still decrypt on both sides after the rotations.
		msgs := d.hs.Messages(d.room)
		if _, err := d.s.DecryptRoomEvent(d.ctx, d.room, msgs[0]); err != nil {
			t.Fatalf("sicher: the first rust message no longer decrypts: %v", err)
		}
		if _, err := d.r.DecryptRoomEvent(d.room, msgs[1]); err != nil {
			t.Fatalf("rust: the first sicher message no longer decrypts: %v", err)
		}
	})

	t.Run("Withheld/ByRust", func(t *testing.T) {
		d := newDuo(t)
		d.rustShares(d.room, rustpeer.ShareSettings{OnlyAllowTrustedDevices: true})
		ev := d.rustSays(d.room, "only for verified devices")
		_, err := d.s.DecryptRoomEvent(d.ctx, d.room, ev)
		var de *machine.DecryptionError
		if !errors.As(err, &de) || de.Reason != machine.FailureWithheld || de.Code != "m.unverified" {
			t.Fatalf("sicher: %v; want a withheld failure with code m.unverified", err)
		}
		t.Logf("sicher: %v", err)
	})

	t.Run("Withheld/BySicher", func(t *testing.T) {
		d := newDuo(t)
		d.sicherShares(d.room, machine.RoomSettings{Policy: machine.OnlyVerified})
		ev := d.sicherSays(d.room, "only for verified devices")
		_, err := d.r.DecryptRoomEvent(d.room, ev)
		var re *rustpeer.Error
		if !errors.As(err, &re) || re.WithheldCode != "m.unverified" {
			t.Fatalf("rust: %v; want a failure with withheld code m.unverified", err)
		}
		t.Logf("rust: %v (withheld code %s)", err, re.WithheldCode)
	})

	t.Run("DroppedFirstOlmMessage", func(t *testing.T) {
		// Dropping the to-device message that carries the first (pre-key) Olm message of a
		// session does not wedge it: the sender keeps sending pre-key messages until it hears
		// back, and the next one creates the session on the receiving side.
		t.Run("RustToSicher", func(t *testing.T) {
			d := newDuo(t)
			hit := d.intercept(d.su, d.sd, drop)
			d.rustShares(d.room, rustpeer.ShareSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit {
				t.Fatal("no Olm message from rust to drop")
			}
			_, err := d.s.DecryptRoomEvent(d.ctx, d.room, d.rustSays(d.room, "lost"))
			var de *machine.DecryptionError
			if !errors.As(err, &de) || de.Reason != machine.FailureMissingSession {
				t.Fatalf("sicher: %v; want a missing session", err)
			}
			room2 := d.newRoom()
			d.pump()
			d.rustShares(room2, rustpeer.ShareSettings{})
			d.sicherReads(room2, d.rustSays(room2, "after the drop"), "after the drop")
			d.sicherShares(room2, machine.RoomSettings{})
			d.rustReads(room2, d.sicherSays(room2, "reply"), "reply")
		})
		t.Run("SicherToRust", func(t *testing.T) {
			d := newDuo(t)
			hit := d.intercept(d.ru, d.rd, drop)
			d.sicherShares(d.room, machine.RoomSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit {
				t.Fatal("no Olm message from sicher to drop")
			}
			if _, err := d.r.DecryptRoomEvent(d.room, d.sicherSays(d.room, "lost")); !rustpeer.IsType(err, "MissingRoomKey") {
				t.Fatalf("rust: %v; want MissingRoomKey", err)
			}
			room2 := d.newRoom()
			d.pump()
			d.sicherShares(room2, machine.RoomSettings{})
			d.rustReads(room2, d.sicherSays(room2, "after the drop"), "after the drop")
			d.rustShares(room2, rustpeer.ShareSettings{})
			d.sicherReads(room2, d.rustSays(room2, "reply"), "reply")
		})
	})

	t.Run("WedgedSession", func(t *testing.T) {
		// An Olm message of an established session that does not decrypt (here: its MAC is
		// broken in transit, as after a receiver restored an old session state) wedges the
		// session; the receiver claims a new one-time key, starts a new session and sends
		// m.dummy over it. Room keys sent after that decrypt.
		t.Run("RecoveredBySicher", func(t *testing.T) {
			d := newDuo(t)
			d.sicherShares(d.room, machine.RoomSettings{})
			d.rustShares(d.room, rustpeer.ShareSettings{})
			d.sicherReads(d.room, d.rustSays(d.room, "before"), "before")
			room2 := d.newRoom()
			d.pump()
			hit := d.intercept(d.su, d.sd, corrupt)
			evs := d.rustShares(room2, rustpeer.ShareSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit {
				t.Fatal("no Olm message from rust to corrupt")
			}
			failed := false
			for _, ev := range evs {
				failed = failed || ev.Err != nil
			}
			if !failed {
				t.Fatalf("sicher decrypted the corrupted message: %+v", evs)
			}
			d.sendSicher() // the claim, then m.dummy over the new session
			if !hasRustEvent(d.syncRust(), "Decrypted", "m.dummy") {
				t.Fatal("rust received no m.dummy from sicher")
			}
			room3 := d.newRoom()
			d.pump()
			d.rustShares(room3, rustpeer.ShareSettings{})
			d.sicherReads(room3, d.rustSays(room3, "after recovery"), "after recovery")
			d.sicherShares(room3, machine.RoomSettings{})
			d.rustReads(room3, d.sicherSays(room3, "reply"), "reply")
		})
		t.Run("RecoveredByRust", func(t *testing.T) {
			d := newDuo(t)
			d.sicherShares(d.room, machine.RoomSettings{})
			d.rustShares(d.room, rustpeer.ShareSettings{})
			d.sicherReads(d.room, d.rustSays(d.room, "before"), "before")
			// matrix-sdk-crypto unwedges only a session created more than an hour ago
			// (SessionManager::UNWEDGING_INTERVAL in
			// crates/matrix-sdk-crypto/src/session_manager/sessions.rs): age it.
			if err := d.r.AdvanceClock(61 * time.Minute); err != nil {
				t.Fatal(err)
			}
			room2 := d.newRoom()
			d.pump()
			hit := d.intercept(d.ru, d.rd, corrupt)
			evs := d.sicherShares(room2, machine.RoomSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit {
				t.Fatal("no Olm message from sicher to corrupt")
			}
			if !hasRustEvent(evs, "UnableToDecrypt", "") {
				t.Fatalf("rust decrypted the corrupted message: %+v", evs)
			}
			// matrix-sdk-crypto claims the new one-time key in its next GetMissingSessions.
			claim, err := d.r.GetMissingSessions(d.users()...)
			if err != nil || claim == nil {
				t.Fatalf("rust did not claim a key for the wedged session: %v", err)
			}
			d.doRust(*claim)
			d.sendRust()
			// matrix-sdk-crypto creates the new session when the claim returns and queues an
			// m.dummy over it (SessionManager::check_if_unwedged, session_manager/sessions.rs),
			// but OlmMachine::outgoing_requests (machine/mod.rs) never returns the session
			// manager's to-device requests: the m.dummy is not sent. The new session reaches
			// sicher with rust's next Olm message instead.
			dummy := false
			for _, ev := range d.syncSicher() {
				dummy = dummy || (ev.Type == "m.dummy" && ev.Encrypted && ev.Err == nil)
			}
			if dummy {
				t.Log("matrix-sdk-crypto now sends the unwedging m.dummy")
			} else {
				t.Log("matrix-sdk-crypto queued no m.dummy after unwedging (upstream: not returned by outgoing_requests)")
			}
			room3 := d.newRoom()
			d.pump()
			var preKey bool
			hit = d.intercept(d.su, d.sd, func(t *testing.T, ev json.RawMessage) json.RawMessage {
				preKey = olmType(t, ev) == 0
				return ev
			})
			d.rustShares(room3, rustpeer.ShareSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit || !preKey && !dummy {
				t.Fatalf("rust's room key after the claim is not a pre-key message of a new session (seen %v)", *hit)
			}
			d.sicherReads(room3, d.rustSays(room3, "after recovery"), "after recovery")
			// sicher now sends over the session it last received on: the new one.
			d.sicherShares(room3, machine.RoomSettings{})
			d.rustReads(room3, d.sicherSays(room3, "reply"), "reply")
		})
	})

	t.Run("KeyRequests", func(t *testing.T) {
		// Key requests travel between devices of one user (sicher asks only its own devices, and
		// accepts forwarded keys only from its own verified ones), so both machines are
		// devices of @carol. The room key to the requesting device is dropped in transit.
		const carol = "@carol:example.org"
		t.Run("SicherAsksRust", func(t *testing.T) {
			d := newDuoOf(t, carol, carol)
			hit := d.intercept(d.su, d.sd, drop)
			d.rustShares(d.room, rustpeer.ShareSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit {
				t.Fatal("no room key to drop")
			}
			ev := d.rustSays(d.room, "asked for")
			var de *machine.DecryptionError
			if _, err := d.s.DecryptRoomEvent(d.ctx, d.room, ev); !errors.As(err, &de) || de.Reason != machine.FailureMissingSession {
				t.Fatalf("sicher: %v; want a missing session", err)
			}
			if err := d.s.SetDeviceTrust(d.ctx, carol, d.rd, machine.TrustVerified); err != nil {
				t.Fatal(err)
			}
			if err := d.r.SetLocalTrust(carol, d.sd, "Verified"); err != nil {
				t.Fatal(err)
			}
			if err := d.s.RequestRoomKey(d.ctx, d.room, sessionID(t, ev)); err != nil {
				t.Fatal(err)
			}
			d.sendSicher()
			d.syncRust()
			d.sendRust()
			fwd := false
			for _, e := range d.syncSicher() {
				fwd = fwd || (e.Type == "m.forwarded_room_key" && e.Err == nil)
			}
			if !fwd {
				t.Fatal("sicher received no m.forwarded_room_key from rust")
			}
			dec, err := d.s.DecryptRoomEvent(d.ctx, d.room, ev)
			if err != nil {
				t.Fatalf("sicher after the forwarded key: %v", err)
			}
			if got := textOf(t, dec.Content); got != "asked for" {
				t.Fatalf("sicher decrypted %q", got)
			}
			in := dec.Info
			rk := d.r.IdentityKeys()
			if in.Provenance != event.Forwarded || in.Sender != carol || in.SenderKey.String() != rk.Curve25519 || in.Shield != machine.ShieldGrey {
				t.Errorf("sicher's info: provenance %v sender %s key %s shield %v (%s); want forwarded, %s, %s, grey",
					in.Provenance, in.Sender, in.SenderKey, in.Shield, in.ShieldReason, carol, rk.Curve25519)
			}
		})
		t.Run("RustAsksSicher", func(t *testing.T) {
			d := newDuoOf(t, carol, carol)
			k, err := d.r.KeyRequests()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("matrix-sdk-crypto defaults: room key requests %v, forwarding %v", k.Requests, k.Forwarding)
			if !k.Requests || !k.Forwarding {
				if err := d.r.SetKeyRequests(rustpeer.KeyRequests{Requests: true, Forwarding: true}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.s.SetDeviceTrust(d.ctx, carol, d.rd, machine.TrustVerified); err != nil {
				t.Fatal(err)
			}
			if err := d.r.SetLocalTrust(carol, d.sd, "Verified"); err != nil {
				t.Fatal(err)
			}
			hit := d.intercept(d.ru, d.rd, drop)
			d.sicherShares(d.room, machine.RoomSettings{})
			d.hs.ToDeviceFilter = nil
			if !*hit {
				t.Fatal("no room key to drop")
			}
			ev := d.sicherSays(d.room, "asked for")
			if _, err := d.r.DecryptRoomEvent(d.room, ev); !rustpeer.IsType(err, "MissingRoomKey") {
				t.Fatalf("rust: %v; want MissingRoomKey", err)
			}
			// The failed decryption queues an m.room_key_request in rust's outgoing requests.
			d.sendRust()
			var refused error
			for _, e := range d.syncSicher() {
				if e.Type == "m.room_key_request" && e.Err != nil {
					refused = e.Err
				}
			}
			if refused != nil {
				t.Fatalf("sicher refused rust's key request: %v", refused)
			}
			d.sendSicher()
			d.syncRust()
			dec, err := d.r.DecryptRoomEvent(d.room, ev)
			if err != nil {
				t.Fatalf("rust after the key request: %v\n%s", err, d.r.Stderr())
			}
			if got := textOf(t, dec.Content); got != "asked for" {
				t.Fatalf("rust decrypted %q", got)
			}
			sc, _ := d.s.IdentityKeys()
			if dec.Sender != carol || dec.SenderCurve25519Key != sc.String() {
				t.Errorf("rust's info: sender %s key %s; want %s %s", dec.Sender, dec.SenderCurve25519Key, carol, sc)
			}
			// A forwarded key: matrix-sdk-crypto shows grey (red in strict mode), as sicher does.
			if dec.Shield.Color != "Grey" || dec.Shield.Code != "AuthenticityNotGuaranteed" {
				t.Errorf("rust's shield for a forwarded key: %+v, want Grey AuthenticityNotGuaranteed", dec.Shield)
			}
		})
	})
}

func hasRustEvent(evs []rustpeer.ToDeviceEvent, kind, typ string) bool {
	for _, ev := range evs {
		var e struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(ev.Event, &e)
		if ev.Kind == kind && (typ == "" || e.Type == typ) {
			return true
		}
	}
	return false
}

// intercept makes the server apply f to the first m.room.encrypted to-device event for a
// device (f returns nil to drop it) and pass everything else; the result says whether it did.
func (d *duo) intercept(user, dev string, f func(*testing.T, json.RawMessage) json.RawMessage) *bool {
	hit := new(bool)
	d.hs.ToDeviceFilter = func(u, dv string, evs []json.RawMessage) []json.RawMessage {
		if u != user || dv != dev || *hit {
			return evs
		}
		out := make([]json.RawMessage, 0, len(evs))
		for _, ev := range evs {
			var e struct {
				Type string `json:"type"`
			}
			if !*hit && json.Unmarshal(ev, &e) == nil && e.Type == "m.room.encrypted" {
				*hit = true
				if ev = f(d.t, ev); ev == nil {
					continue
				}
			}
			out = append(out, ev)
		}
		return out
	}
	return hit
}

// olmType returns the Olm message type (0 pre-key, 1 normal) of an m.room.encrypted to-device
// event with one ciphertext.
func olmType(t *testing.T, ev json.RawMessage) int {
	var e struct {
		Content struct {
			Ciphertext map[string]struct {
				Type int `json:"type"`
			} `json:"ciphertext"`
		} `json:"content"`
	}
	if err := json.Unmarshal(ev, &e); err != nil || len(e.Content.Ciphertext) != 1 {
		t.Fatalf("not an Olm event with one ciphertext: %s (%v)", ev, err)
	}
	for _, c := range e.Content.Ciphertext {
		return c.Type
	}
	return -1
}

func drop(*testing.T, json.RawMessage) json.RawMessage { return nil }

// corrupt flips a bit in the MAC (the last byte) of every ciphertext of an Olm to-device event.
func corrupt(t *testing.T, ev json.RawMessage) json.RawMessage {
	var e map[string]any
	if err := json.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	cts, _ := e["content"].(map[string]any)["ciphertext"].(map[string]any)
	for _, c := range cts {
		ct := c.(map[string]any)
		b, err := base64.RawStdEncoding.DecodeString(ct["body"].(string))
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 1
		ct["body"] = base64.RawStdEncoding.EncodeToString(b)
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDriverAdditions covers the driver commands the machine tests added.
func TestDriverAdditions(t *testing.T) {
	p := rustpeer.ForTest(t, "@dana:example.org", "DANADEV")
	if err := p.AdvanceClock(-time.Second); err == nil {
		t.Error("AdvanceClock accepted a negative duration")
	}
	if err := p.AdvanceClock(2 * time.Hour); err != nil {
		t.Error(err)
	}
	if err := p.SetLocalTrust("@dana:example.org", "NOSUCHDEV", "Verified"); !rustpeer.IsType(err, "BadArgument") {
		t.Errorf("SetLocalTrust of an unknown device: %v", err)
	}
	off := rustpeer.KeyRequests{}
	if err := p.SetKeyRequests(off); err != nil {
		t.Fatal(err)
	}
	if k, err := p.KeyRequests(); err != nil || k != off {
		t.Errorf("KeyRequests after turning both off: %+v, %v", k, err)
	}
}
