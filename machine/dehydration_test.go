package machine_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

const (
	dAlice = "@alice:example.org"
	dBob   = "@bob:example.org"
)

// drain sends a machine's requests until none is left (a rehydration takes a round per page);
// it returns the first error MarkRequestSent gave.
func (w *world) drain(m *machine.Machine) error {
	for range 100 {
		reqs, err := m.OutgoingRequests(w.ctx)
		if err != nil {
			return err
		}
		if len(reqs) == 0 {
			return nil
		}
		for _, r := range reqs {
			resp, err := w.hs.Do(m.UserID(), m.DeviceID(), r)
			if err != nil {
				return err
			}
			if err := m.MarkRequestSent(w.ctx, r.ID, resp); err != nil {
				return err
			}
		}
	}
	w.t.Fatal("requests never stop")
	return nil
}

// loggedOut creates Alice's first device with a dehydrated device, logs it out, and returns
// the dehydration key and the dehydrated device's id.
func loggedOut(t *testing.T, w *world) (*[32]byte, string) {
	a1 := w.device(dAlice, "A1")
	id, err := a1.CreateDehydratedDevice(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.send(a1)
	if got := w.hs.DehydratedDevice(dAlice); got != id {
		t.Fatalf("server has dehydrated device %q, want %q", got, id)
	}
	k, err := a1.DehydrationKey(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.hs.DeleteDevice(dAlice, "A1")
	return k, id
}

// relogin creates Alice's new device with the dehydration key and runs the rehydration.
func relogin(t *testing.T, w *world, dev string, k *[32]byte) (*machine.Machine, error) {
	a := w.device(dAlice, dev)
	if err := a.SetDehydrationKey(w.ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := a.RehydrateDevice(w.ctx); err != nil {
		t.Fatal(err)
	}
	return a, w.drain(a)
}

// TestDehydratedDeviceKeepsKeys: a message Bob sends while Alice has no device logged in
// decrypts on her next login through the dehydrated device, which is then replaced.
func TestDehydratedDeviceKeepsKeys(t *testing.T) {
	w := newWorld(t)
	k, id := loggedOut(t, w)
	bob := w.device(dBob, "B1")
	room := w.hs.CreateRoom(dAlice, dBob)
	ev := w.say(bob, room, "while you were away", machine.RoomSettings{})

	a2, err := relogin(t, w, "A2", k)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a2.Rehydration(w.ctx)
	if err != nil || res == nil || !res.Done || res.DeviceID != id || res.RoomKeys != 1 || res.Failed != 0 {
		t.Fatalf("rehydration %+v %v", res, err)
	}
	d := w.mustRead(a2, room, ev, "while you were away")
	if !d.Info.ViaDehydratedDevice || d.Info.Provenance != event.OverOlm || d.Info.Sender != dBob {
		t.Fatalf("encryption info %+v", d.Info)
	}
	// The old dehydrated device is deleted and a fresh one took its place.
	if got := w.hs.DehydratedDevice(dAlice); got == "" || got == id {
		t.Fatalf("dehydrated device after rehydration %q (old %q)", got, id)
	}
	if w.hs.DeviceKeys(dAlice, id) != nil {
		t.Fatal("the old dehydrated device is still listed")
	}
}

// TestDehydratedDevicePages: the device's events are fetched page by page.
func TestDehydratedDevicePages(t *testing.T) {
	w := newWorld(t)
	k, _ := loggedOut(t, w)
	bob := w.device(dBob, "B1")
	w.hs.SetDehydratedPageSize(2)
	var rooms []string
	var evs []json.RawMessage
	for i := range 5 {
		room := w.hs.CreateRoom(dAlice, dBob)
		rooms = append(rooms, room)
		evs = append(evs, w.say(bob, room, "message "+string(rune('a'+i)), machine.RoomSettings{}))
	}
	// What a server or another user could put in the device's inbox: skipped, counted.
	dehydrated := w.hs.DehydratedDevice(dAlice)
	w.hs.InjectToDevice(dAlice, dehydrated, json.RawMessage(`{"type":"m.room.encrypted","sender":"@mallory:example.org","content":{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"junk","ciphertext":{}}}`))
	w.hs.InjectToDevice(dAlice, dehydrated, json.RawMessage(`{"type":"m.room_key","sender":"@mallory:example.org","content":{}}`))
	a2, err := relogin(t, w, "A2", k)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := a2.Rehydration(w.ctx)
	// 7 events in pages of 2: 4 pages with events and the empty one that ends.
	if res == nil || res.Pages != 5 || res.Events != 7 || res.RoomKeys != 5 || res.Failed != 2 {
		t.Fatalf("rehydration %+v", res)
	}
	for i, room := range rooms {
		w.mustRead(a2, room, evs[i], "message "+string(rune('a'+i)))
	}
}

// TestDehydratedDeviceRotation: a second CreateDehydratedDevice replaces the first; keys sent
// afterwards reach the new one, and the key still opens it.
func TestDehydratedDeviceRotation(t *testing.T) {
	w := newWorld(t)
	a1 := w.device(dAlice, "A1")
	first, err := a1.CreateDehydratedDevice(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.send(a1)
	second, err := a1.CreateDehydratedDevice(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.send(a1)
	if first == second || w.hs.DehydratedDevice(dAlice) != second || w.hs.DeviceKeys(dAlice, first) != nil {
		t.Fatalf("rotation: first %q second %q server %q", first, second, w.hs.DehydratedDevice(dAlice))
	}
	k := mustKey(t, a1)
	w.hs.DeleteDevice(dAlice, "A1")
	bob := w.device(dBob, "B1")
	room := w.hs.CreateRoom(dAlice, dBob)
	ev := w.say(bob, room, "to the rotated device", machine.RoomSettings{})
	a2, err := relogin(t, w, "A2", k)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := a2.Rehydration(w.ctx); res == nil || res.DeviceID != second {
		t.Fatalf("rehydrated %+v, want %s", res, second)
	}
	w.mustRead(a2, room, ev, "to the rotated device")
}

func mustKey(t *testing.T, m *machine.Machine) *[32]byte {
	t.Helper()
	k, err := m.DehydrationKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDehydratedDeviceWrongKey: a wrong key, or device data changed on the server, fails
// closed: ErrDehydrationKey, no session imported, the dehydrated device left in place.
func TestDehydratedDeviceWrongKey(t *testing.T) {
	w := newWorld(t)
	k, id := loggedOut(t, w)
	bob := w.device(dBob, "B1")
	room := w.hs.CreateRoom(dAlice, dBob)
	ev := w.say(bob, room, "secret", machine.RoomSettings{})

	wrong := *k
	wrong[0] ^= 1
	a2, err := relogin(t, w, "A2", &wrong)
	if !errors.Is(err, machine.ErrDehydrationKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if reqs, _ := a2.OutgoingRequests(w.ctx); len(reqs) != 0 {
		t.Fatalf("requests left after a failed rehydration: %+v", reqs)
	}
	if res, _ := a2.Rehydration(w.ctx); res != nil {
		t.Fatalf("rehydration recorded: %+v", res)
	}
	if _, _, err := w.read(a2, room, ev); err == nil {
		t.Fatal("decrypted without the dehydrated device")
	}
	if w.hs.DehydratedDevice(dAlice) != id {
		t.Fatal("the dehydrated device was replaced after a failed rehydration")
	}

	// Device data changed by the server.
	var data olm.DehydratedDevice
	raw, _ := w.hs.Do(dAlice, "A2", machine.Request{Kind: machine.KindDehydratedDeviceGet})
	var resp struct {
		DeviceData olm.DehydratedDevice `json:"device_data"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	data = resp.DeviceData
	data.Nonce = "AAAAAAAAAAAAAAAA"
	b, _ := json.Marshal(data)
	w.hs.SetDehydratedDeviceData(dAlice, b)
	if _, err := relogin(t, w, "A3", k); !errors.Is(err, machine.ErrDehydrationKey) {
		t.Fatalf("changed device data: %v", err)
	}

	// Without a key there is nothing to rehydrate with.
	a4 := w.device(dAlice, "A4")
	if err := a4.RehydrateDevice(w.ctx); !errors.Is(err, machine.ErrNoDehydrationKey) {
		t.Fatalf("no key: %v", err)
	}
}

// TestNoDehydratedDevice: when the server has no dehydrated device (404, handed over as {}),
// RehydrateDevice makes one.
func TestNoDehydratedDevice(t *testing.T) {
	w := newWorld(t)
	a := w.device(dAlice, "A1")
	var k [32]byte
	k[0] = 1
	if err := a.SetDehydrationKey(w.ctx, &k); err != nil {
		t.Fatal(err)
	}
	if err := a.RehydrateDevice(w.ctx); err != nil {
		t.Fatal(err)
	}
	reqs, err := a.OutgoingRequests(w.ctx)
	if err != nil || len(reqs) != 1 || reqs[0].Kind != machine.KindDehydratedDeviceGet {
		t.Fatalf("requests %+v %v", reqs, err)
	}
	if _, err := w.hs.Do(dAlice, "A1", reqs[0]); !errors.Is(err, machinetest.ErrNotFound) {
		t.Fatalf("server: %v", err)
	}
	if err := a.MarkRequestSent(w.ctx, reqs[0].ID, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	w.send(a)
	id := w.hs.DehydratedDevice(dAlice)
	if id == "" {
		t.Fatal("no dehydrated device made")
	}
	// Its device keys say so, are signed by it, and name it by its Curve25519 key.
	var dk struct {
		Dehydrated bool              `json:"dehydrated"`
		Keys       map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(w.hs.DeviceKeys(dAlice, id), &dk); err != nil || !dk.Dehydrated || dk.Keys["curve25519:"+id] != id {
		t.Fatalf("device keys %s: %v", w.hs.DeviceKeys(dAlice, id), err)
	}
	if _, err := signing.VerifyDeviceKeys(w.hs.DeviceKeys(dAlice, id), dAlice, id); err != nil {
		t.Fatal(err)
	}
	if got, err := a.DehydrationKey(w.ctx); err != nil || *got != k {
		t.Fatalf("key %v %v", got, err)
	}
}

// TestDehydratedDeviceCrossSigned: with our self-signing key in the store, the dehydrated
// device is cross-signed, so that identity-based sharing (and matrix-sdk-crypto) sends it keys.
func TestDehydratedDeviceCrossSigned(t *testing.T) {
	w := newWorld(t)
	stA := newMemory()
	a1 := w.deviceOn(stA, dAlice, "A1")
	w.newCrossSigning(dAlice, "A1", stA)
	w.track(a1, dAlice)
	id, err := a1.CreateDehydratedDevice(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.send(a1)
	bob := w.device(dBob, "B1")
	w.track(bob, dAlice)
	devs, err := bob.Devices(w.ctx, dAlice)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range devs {
		if d.Keys.DeviceID == id {
			found = true
			if !d.CrossSigned {
				t.Fatal("the dehydrated device is not cross-signed")
			}
		}
	}
	if !found {
		t.Fatalf("bob does not see the dehydrated device %s", id)
	}
}
