//go:build !js && !wasip1

package machine_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// TestVerificationSQLiteRestart: an in-room flow on SQLite survives closing and reopening the
// store between every step, SAS first, then a QR code in a second flow.
func TestVerificationSQLiteRestart(t *testing.T) {
	w := newWorld(t)
	w.now = time.UnixMilli(1_700_000_000_000) // machinetest's origin_server_ts
	k, err := sqlstore.NewKey(make([]byte, sqlstore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bob.db")
	st, err := sqlstore.OpenSQLite(w.ctx, path, k)
	if err != nil {
		t.Fatal(err)
	}
	stA := store.NewMemory()
	a := w.deviceOn(stA, "@alice:x.org", "ALICE1")
	b := w.deviceOn(st, "@bob:x.org", "BOB1")
	room := w.hs.CreateRoom(a.UserID(), b.UserID())
	w.newCrossSigning(a.UserID(), a.DeviceID(), stA)
	w.newCrossSigning(b.UserID(), b.DeviceID(), st)
	w.track(a, b.UserID())
	w.track(b, a.UserID())
	feed := w.roomFeed(room)
	reopen := func() {
		t.Helper()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err = sqlstore.OpenSQLite(w.ctx, path, k); err != nil {
			t.Fatal(err)
		}
		nb, err := machine.New(w.ctx, machine.Config{UserID: b.UserID(), DeviceID: b.DeviceID(), Store: st, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		feed.pos[nb] = feed.pos[b]
		b = nb
	}
	defer func() { st.Close() }()
	bobFlow := func(id string) *machine.Verification {
		t.Helper()
		v, err := b.Verification(w.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	for _, qr := range []bool{false, true} {
		va, err := a.RequestVerificationInRoom(w.ctx, room, b.UserID())
		if err != nil {
			t.Fatal(err)
		}
		w.pump(feed, a, b)
		w.refresh(va)
		reopen()
		if err := bobFlow(va.ID).Accept(w.ctx); err != nil {
			t.Fatal(err)
		}
		reopen()
		w.pump(feed, a, b)
		if qr {
			code, err := bobFlow(va.ID).QRCode(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			reopen()
			if err := va.ScanQR(w.ctx, code); err != nil {
				t.Fatal(err)
			}
			w.pump(feed, a, b)
			reopen()
			if err := bobFlow(va.ID).ConfirmQRScanned(w.ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := va.StartSAS(w.ctx); err != nil {
				t.Fatal(err)
			}
			w.pump(feed, a, b)
			reopen()
			for _, v := range []*machine.Verification{va, bobFlow(va.ID)} {
				if err := v.ConfirmSAS(w.ctx); err != nil {
					t.Fatal(err)
				}
			}
			reopen()
		}
		w.pump(feed, a, b)
		w.wantState(va, machine.VerificationDone)
		w.wantState(bobFlow(va.ID), machine.VerificationDone)
	}
}

// TestVerificationRoomBystander: in a room with a third member, that member's events on our
// flow are ignored, and flows between others draw no cancel from us.
func TestVerificationRoomBystander(t *testing.T) {
	w := newWorld(t)
	w.now = time.UnixMilli(1_700_000_000_000)
	a, b, _, _, room := w.pair()
	c := w.device("@carol:x.org", "CAROL1")
	w.hs.Join(room, c.UserID())
	feed := w.roomFeed(room)
	va, err := a.RequestVerificationInRoom(w.ctx, room, b.UserID())
	if err != nil {
		t.Fatal(err)
	}
	w.pump(feed, a, b, c)
	w.refresh(va)
	if vs, _ := c.Verifications(w.ctx); len(vs) != 0 {
		t.Fatal("carol took a request addressed to bob")
	}
	// Carol references the request: alice and bob ignore her.
	w.do(c.UserID(), c.DeviceID(), machine.Request{ID: "carol1", Kind: machine.KindRoomEvent, RoomID: room,
		EventType: "m.key.verification.cancel",
		Body:      []byte(`{"code":"m.user","reason":"no","m.relates_to":{"rel_type":"m.reference","event_id":"` + va.ID + `"}}`)})
	w.pump(feed, a, b, c)
	w.wantState(va, machine.VerificationRequested)
	if err := w.only(b).Accept(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(feed, a, b, c)
	w.wantState(va, machine.VerificationReady)
	for _, ev := range w.hs.Messages(room) {
		if strings.Contains(string(ev), c.UserID()) && strings.Contains(string(ev), "m.unknown_transaction") {
			t.Fatal("a bystander answered with m.unknown_transaction")
		}
	}
}
