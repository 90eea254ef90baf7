package rustpeer_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/machine"
)

// verifiedDuo is a cross-signed duo after an SAS verification, so that each side verified the
// other's identity (sicher imports room key bundles only from a verified inviter).
func verifiedDuo(t *testing.T) *duo {
	d := newCrossSignedDuo(t)
	v := d.sicherRequests()
	if err := v.StartSAS(d.ctx); err != nil {
		t.Fatal(err)
	}
	d.pumpN(2)
	d.rustDo(d.r.AcceptSAS(d.su, v.ID))
	d.pumpN(4)
	reqs, err := d.r.ConfirmSAS(d.su, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		d.doRust(r)
	}
	if err := v.ConfirmSAS(d.ctx); err != nil {
		t.Fatal(err)
	}
	d.pumpN(4)
	if ok, err := d.s.UserVerified(d.ctx, d.ru); err != nil || !ok {
		t.Fatalf("sicher did not verify rust's identity: %v", err)
	}
	return d
}

// TestRoomKeyBundleRustToSicher: matrix-sdk-crypto builds the room key bundle of a room whose
// history is shared and sends it to sicher's device on invite; sicher imports it and reads the
// message sent before it joined, shown as history shared by the rust user.
func TestRoomKeyBundleRustToSicher(t *testing.T) {
	d := verifiedDuo(t)
	room := d.hs.CreateRoom(d.ru)
	var secret, ev json.RawMessage
	for _, vis := range []string{"joined", "shared"} {
		reqs, err := d.r.ShareRoomKey(room, []string{d.ru}, rustpeer.ShareSettings{HistoryVisibility: vis, RotationPeriodMsgs: 1})
		if err != nil {
			t.Fatalf("%v\n%s", err, d.r.Stderr())
		}
		for _, r := range reqs {
			d.doRust(r)
		}
		if vis == "joined" {
			secret = d.rustSays(room, "joined members only")
		} else {
			ev = d.rustSays(room, "said before the invite")
		}
	}
	d.hs.Join(room, d.su)

	b, err := d.r.BuildRoomKeyBundle(room)
	if err != nil || b == nil {
		t.Fatalf("BuildRoomKeyBundle: %v %v\n%s", b, err, d.r.Stderr())
	}
	claim, err := d.r.GetMissingSessions(d.su)
	if err != nil {
		t.Fatal(err)
	}
	if claim != nil {
		d.doRust(*claim)
	}
	const uri = "mxc://example.org/rust-bundle"
	reqs, err := d.r.ShareRoomKeyBundleData(d.su, room, uri, b.MediaEncryptionInfo)
	if err != nil || len(reqs) == 0 {
		t.Fatalf("ShareRoomKeyBundleData: %d requests, %v\n%s", len(reqs), err, d.r.Stderr())
	}
	for _, r := range reqs {
		d.doRust(r)
	}
	var bundle *machine.ToDeviceEvent
	for _, e := range d.syncSicher() {
		if e.Type == machine.TypeRoomKeyBundle || e.Type == machine.TypeRoomKeyBundleUnstable {
			bundle = &e
		}
	}
	if bundle == nil {
		t.Fatal("sicher received no room key bundle event")
	}
	rb, err := machine.ParseRoomKeyBundle(*bundle)
	if err != nil || rb.URL != uri || rb.RoomID != room {
		t.Fatalf("bundle event %+v: %v", rb, err)
	}
	res, err := d.s.ImportRoomKeyBundle(d.ctx, room, d.ru, *bundle, b.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 1 {
		t.Fatalf("import %+v", res)
	}
	dec, err := d.s.DecryptRoomEvent(d.ctx, room, ev)
	if err != nil {
		t.Fatalf("sicher cannot decrypt the message the bundle's key opens: %v", err)
	}
	if got := textOf(t, dec.Content); got != "said before the invite" || dec.Info.Sender != d.ru {
		t.Fatalf("sicher decrypted %q from %s", got, dec.Info.Sender)
	}
	if dec.Info.HistorySharedBy != d.ru || dec.Info.Provenance != event.Forwarded || dec.Info.Shield != machine.ShieldGrey {
		t.Fatalf("encryption info %+v", dec.Info)
	}
	_, err = d.s.DecryptRoomEvent(d.ctx, room, secret)
	var de *machine.DecryptionError
	if !errors.As(err, &de) || de.Reason != machine.FailureWithheld || de.Code != "m.history_not_shared" || res.Withheld != 1 {
		t.Fatalf("joined-only message: %v (bundle had %d withheld entries)", err, res.Withheld)
	}
	t.Logf("sicher imported %d keys and %d withheld notices from matrix-sdk-crypto's bundle; the joined-only message: %v", res.Imported, res.Withheld, err)
}

// TestRoomKeyBundleSicherToRust: sicher builds the bundle and sends it (under MSC4268's
// unstable event name, which matrix-sdk-crypto knows); matrix-sdk-crypto imports it and reads
// the message sent before it joined.
func TestRoomKeyBundleSicherToRust(t *testing.T) {
	d := verifiedDuo(t)
	room := d.hs.CreateRoom(d.su)
	if err := d.s.ShareRoomKey(d.ctx, room, []string{d.su}, machine.RoomSettings{HistoryVisibility: "joined", RotationMessages: 1}); err != nil {
		t.Fatal(err)
	}
	secret := d.sicherSays(room, "joined members only")
	if err := d.s.ShareRoomKey(d.ctx, room, []string{d.su}, machine.RoomSettings{HistoryVisibility: "shared", RotationMessages: 1}); err != nil {
		t.Fatal(err)
	}
	ev := d.sicherSays(room, "sicher said this before the invite")
	d.hs.Join(room, d.ru)
	h, err := d.s.ShareRoomHistory(d.ctx, room, d.ru, machine.RoomSettings{HistoryVisibility: "shared"})
	if err != nil || h.Keys != 1 || h.Withheld != 1 {
		t.Fatalf("ShareRoomHistory: %+v %v", h, err)
	}
	h.EventType = machine.TypeRoomKeyBundleUnstable
	if _, err := d.s.GetMissingSessions(d.ctx, []string{d.ru}); err != nil {
		t.Fatal(err)
	}
	d.sendSicher()
	const uri = "mxc://example.org/sicher-bundle"
	if n, err := d.s.SendRoomHistory(d.ctx, h, uri); err != nil || n != 1 {
		t.Fatalf("SendRoomHistory: %d %v", n, err)
	}
	d.sendSicher()
	d.syncRust()
	d.sendRust()
	got, err := d.r.ReceiveRoomKeyBundle(room, d.su, h.Ciphertext)
	if err != nil || got != uri {
		t.Fatalf("rust ReceiveRoomKeyBundle: %q %v\n%s", got, err, d.r.Stderr())
	}
	dec, err := d.r.DecryptRoomEvent(room, ev)
	if err != nil {
		t.Fatalf("rust cannot decrypt the message the bundle's key opens: %v\n%s", err, d.r.Stderr())
	}
	if got := textOf(t, dec.Content); got != "sicher said this before the invite" || dec.Sender != d.su {
		t.Fatalf("rust decrypted %q from %s", got, dec.Sender)
	}
	// A key from a bundle is the inviter's word: matrix-sdk-crypto shows it grey too.
	if dec.Shield.Color != "Grey" {
		t.Fatalf("rust's shield %+v, want Grey", dec.Shield)
	}
	// The joined-only session was listed as withheld, m.history_not_shared.
	_, err = d.r.DecryptRoomEvent(room, secret)
	var re *rustpeer.Error
	if !errors.As(err, &re) || re.WithheldCode != "m.history_not_shared" {
		t.Fatalf("rust on the joined-only message: %v", err)
	}
}
