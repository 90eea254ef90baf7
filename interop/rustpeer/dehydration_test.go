package rustpeer_test

import (
	"encoding/json"
	"testing"

	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// TestSicherRehydratesRustDevice: matrix-sdk-crypto creates a dehydrated device for its user
// (it needs the user's self-signing key to cross-sign it) and logs out; sicher's machine shares a room key with that user's devices (the dehydrated
// one is the only one left); a new sicher login of the user rehydrates the device through the
// MSC3814 endpoints, takes the key from its events, and reads the message.
func TestSicherRehydratesRustDevice(t *testing.T) {
	d := newCrossSignedDuo(t)
	k, body, err := d.r.CreateDehydratedDevice(nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, d.r.Stderr())
	}
	if _, err := d.hs.Do(d.ru, d.rd, machine.Request{Kind: machine.KindDehydratedDevicePut, Body: body}); err != nil {
		t.Fatal(err)
	}
	dehydrated := d.hs.DehydratedDevice(d.ru)
	d.hs.DeleteDevice(d.ru, d.rd) // the rust device logs out

	d.syncSicher()
	d.sendSicher()
	members := d.users()
	if _, err := d.s.GetMissingSessions(d.ctx, members); err != nil {
		t.Fatal(err)
	}
	d.sendSicher()
	if err := d.s.ShareRoomKey(d.ctx, d.room, members, machine.RoomSettings{}); err != nil {
		t.Fatal(err)
	}
	d.sendSicher()
	ev := d.sicherSays(d.room, "for the rust user's next login")

	next, err := machine.New(d.ctx, machine.Config{UserID: d.ru, DeviceID: "NEXTLOGIN", Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := next.SetDehydrationKey(d.ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := next.RehydrateDevice(d.ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.hs.SendAll(d.ctx, next); err != nil {
		t.Fatal(err)
	}
	res, err := next.Rehydration(d.ctx)
	if err != nil || res == nil || !res.Done || res.DeviceID != dehydrated || res.RoomKeys != 1 {
		t.Fatalf("rehydration of the rust device %s: %+v %v", dehydrated, res, err)
	}
	dec, err := next.DecryptRoomEvent(d.ctx, d.room, ev)
	if err != nil {
		t.Fatal(err)
	}
	if textOf(t, dec.Content) != "for the rust user's next login" || !dec.Info.ViaDehydratedDevice {
		t.Fatalf("decrypted %s %+v", dec.Content, dec.Info)
	}
	if got := d.hs.DehydratedDevice(d.ru); got == "" || got == dehydrated {
		t.Fatalf("dehydrated device after rehydration: %q", got)
	}
}

// TestRustRehydratesSicherMachineDevice: sicher's machine creates the dehydrated device through
// the MSC3814 endpoints, cross-signed with the self-signing key in its store (matrix-sdk-crypto
// withholds room keys, m.unverified, from a dehydrated device its owner did not sign); matrix-sdk-crypto shares a room key with it while no sicher device is
// logged in; a new matrix-sdk-crypto login of the user rehydrates it with the key and reads
// the message.
func TestRustRehydratesSicherMachineDevice(t *testing.T) {
	d := newCrossSignedDuo(t)
	if _, err := d.s.CreateDehydratedDevice(d.ctx); err != nil {
		t.Fatal(err)
	}
	d.sendSicher()
	k, err := d.s.DehydrationKey(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.hs.DeleteDevice(d.su, d.sd) // the sicher device logs out

	d.syncRust()
	d.sendRust()
	d.rustShares(d.room, rustpeer.ShareSettings{})
	ev := d.rustSays(d.room, "for the sicher user's next login")

	get, err := d.hs.Do(d.su, "NEXTLOGIN", machine.Request{Kind: machine.KindDehydratedDeviceGet})
	if err != nil {
		t.Fatal(err)
	}
	var dev struct {
		DeviceID   string          `json:"device_id"`
		DeviceData json.RawMessage `json:"device_data"`
	}
	if err := json.Unmarshal(get, &dev); err != nil {
		t.Fatal(err)
	}
	page, err := d.hs.Do(d.su, "NEXTLOGIN", machine.Request{Kind: machine.KindDehydratedDeviceEvents, DeviceID: dev.DeviceID, Body: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	var events struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(page, &events); err != nil || len(events.Events) == 0 {
		t.Fatalf("events of the dehydrated device: %s %v", page, err)
	}

	next := rustpeer.ForTest(t, d.su, "NEXTLOGIN")
	n, err := next.RehydrateDevice(k, dev.DeviceID, dev.DeviceData, events.Events)
	if err != nil || n != 1 {
		t.Fatalf("rust rehydrated sicher's device: %d room keys, %v\n%s\n%s", n, err, next.Stderr(), events.Events)
	}
	dec, err := next.DecryptRoomEvent(d.room, ev)
	if err != nil {
		t.Fatalf("%v\n%s", err, next.Stderr())
	}
	if textOf(t, dec.Content) != "for the sicher user's next login" {
		t.Fatalf("rust decrypted %s", dec.Content)
	}
}
