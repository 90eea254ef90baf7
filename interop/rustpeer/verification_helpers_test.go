package rustpeer_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// pumpN pumps n rounds: verification steps answer each other one sync at a time.
func (d *duo) pumpN(n int) {
	d.t.Helper()
	for range n {
		d.pump()
	}
}

// rustDo sends a request a rust verification call returned.
func (d *duo) rustDo(r *rustpeer.Request, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatalf("%v\n%s", err, d.r.Stderr())
	}
	if r != nil {
		d.doRust(*r)
	}
}

func (d *duo) wantSicher(v *machine.Verification, want machine.VerificationState) {
	d.t.Helper()
	if err := v.Refresh(d.ctx); err != nil {
		d.t.Fatal(err)
	}
	if v.State != want {
		d.t.Fatalf("sicher's flow is %s (%s %s), want %s", v.State, v.CancelCode, v.CancelReason, want)
	}
}

// sicherRequests: sicher asks the rust device, rust accepts; the flow is ready on both sides.
func (d *duo) sicherRequests() *machine.Verification {
	d.t.Helper()
	v, err := d.s.RequestVerification(d.ctx, d.ru, d.rd)
	if err != nil {
		d.t.Fatal(err)
	}
	d.pump()
	reqs, err := d.r.VerificationRequests(d.su)
	if err != nil || len(reqs) != 1 || reqs[0].FlowID != v.ID {
		d.t.Fatalf("rust's requests %+v, %v\n%s", reqs, err, d.r.Stderr())
	}
	d.rustDo(d.r.AcceptVerification(d.su, v.ID))
	d.pumpN(2)
	d.wantSicher(v, machine.VerificationReady)
	return v
}

// rustRequests: rust asks the sicher device, sicher accepts.
func (d *duo) rustRequests() *machine.Verification {
	d.t.Helper()
	id, req, err := d.r.RequestVerification(d.su, d.sd)
	d.rustDo(req, err)
	d.pump()
	v, err := d.s.Verification(d.ctx, id)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := v.Accept(d.ctx); err != nil {
		d.t.Fatal(err)
	}
	d.pumpN(2)
	if reqs, _ := d.r.VerificationRequests(d.su); len(reqs) != 1 || reqs[0].Phase != "Ready" {
		d.t.Fatalf("rust's request: %+v", reqs)
	}
	return v
}

// bothVerified checks that each side marks the other's device verified.
func (d *duo) bothVerified() {
	d.t.Helper()
	devs, err := d.s.Devices(d.ctx, d.ru)
	if err != nil {
		d.t.Fatal(err)
	}
	var ok bool
	for _, dev := range devs {
		ok = ok || dev.Keys.DeviceID == d.rd && dev.Verified
	}
	if !ok {
		d.t.Fatalf("sicher does not mark the rust device verified: %+v", devs)
	}
	rd, err := d.r.Device(d.su, d.sd)
	if err != nil || rd == nil || !rd.Verified {
		d.t.Fatalf("rust does not mark the sicher device verified: %+v, %v", rd, err)
	}
}

// rustDone checks that the rust machine's request of a flow is done: listed as done, or
// gone (matrix-sdk-crypto forgets finished requests).
func (d *duo) rustDone(flowID string) {
	d.t.Helper()
	reqs, err := d.r.VerificationRequests(d.su)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, r := range reqs {
		if r.FlowID == flowID {
			if r.Phase != "Done" || !r.Done {
				d.t.Fatalf("rust's request is %+v", r)
			}
			return
		}
	}
}

func init() {
	// The fake server executes signature uploads too (cross-signing).
	kind[rustpeer.SignatureUpload] = machine.KindSignatureUpload
}

// newCrossSignedDuo is newDuo with both users cross-signed: the rust machine bootstraps its
// keys, the sicher machine gets keys made here (uploaded, its device signed, the private keys
// in its store as the spec's secret names).
func newCrossSignedDuo(t *testing.T) *duo { return newCrossSignedDuoOf(t, rustUser) }

// newCrossSignedDuoOf is newCrossSignedDuo with the rust device's user; when it is sicher's
// user, the rust device is a new device of that user: its cross-signing keys are the ones the
// sicher device made, which the rust device neither holds nor trusts yet.
func newCrossSignedDuoOf(t *testing.T, rustUser string) *duo {
	t.Helper()
	d := &duo{t: t, su: sicherUser, sd: sicherDev, ru: rustUser, rd: rustDev, ctx: context.Background(),
		hs: machinetest.NewServer(), now: time.Now()}
	d.r = rustpeer.ForTest(t, d.ru, d.rd)
	st := store.NewMemory()
	s, err := machine.New(d.ctx, machine.Config{UserID: d.su, DeviceID: d.sd, Store: st, Clock: d.clock})
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
	d.pumpN(2)

	if d.ru != d.su {
		b, err := d.r.BootstrapCrossSigning()
		if err != nil {
			t.Fatalf("%v\n%s", err, d.r.Stderr())
		}
		if b.UploadKeys != nil {
			d.doRust(*b.UploadKeys)
		}
		if _, err := d.hs.Do(d.ru, d.rd, machine.Request{Kind: machine.KindSigningKeysUpload, Body: b.SigningKeys}); err != nil {
			t.Fatal(err)
		}
		// The bootstrap's requests carry no id to mark sent.
		if _, err := d.hs.Do(d.ru, d.rd, machine.Request{Kind: machine.KindSignatureUpload, Body: b.Signatures}); err != nil {
			t.Fatal(err)
		}
	}

	var seeds [3][]byte
	var keys [3]*key.SigningKey
	for i := range seeds {
		seeds[i] = make([]byte, 32)
		_, _ = rand.Read(seeds[i])
		keys[i], _ = key.NewSigningKey(seeds[i])
	}
	msk := signing.NewCrossSigningKey(d.su, signing.UsageMaster, keys[0].Public())
	ssk := signing.NewCrossSigningKey(d.su, signing.UsageSelfSigning, keys[1].Public())
	usk := signing.NewCrossSigningKey(d.su, signing.UsageUserSigning, keys[2].Public())
	ssk.AddSignature(d.su, msk.KeyName(), keys[0])
	usk.AddSignature(d.su, msk.KeyName(), keys[0])
	body, _ := json.Marshal(map[string]any{"master_key": msk, "self_signing_key": ssk, "user_signing_key": usk})
	if _, err := d.hs.Do(d.su, d.sd, machine.Request{Kind: machine.KindSigningKeysUpload, Body: body}); err != nil {
		t.Fatal(err)
	}
	dk, err := signing.ParseDeviceKeys(d.hs.DeviceKeys(d.su, d.sd))
	if err != nil {
		t.Fatal(err)
	}
	dk.AddSignature(d.su, keys[1].Public().String(), keys[1])
	body, _ = json.Marshal(map[string]map[string]any{d.su: {d.sd: dk}})
	if _, err := d.hs.Do(d.su, d.sd, machine.Request{Kind: machine.KindSignatureUpload, Body: body}); err != nil {
		t.Fatal(err)
	}
	err = st.Update(d.ctx, store.Owner{UserID: d.su, DeviceID: d.sd}, func(tx store.Tx) error {
		for i, name := range []string{"m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"} {
			if err := tx.PutSecret(d.ctx, name, store.Secret(base64.RawStdEncoding.EncodeToString(seeds[i]))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.pumpN(2)
	return d
}

// doRustAny executes any rust request, RoomMessage ones (in-room verification events) in
// their room.
func (d *duo) doRustAny(req rustpeer.Request) {
	d.t.Helper()
	if req.Type != rustpeer.RoomMessage {
		d.doRust(req)
		return
	}
	resp, err := d.hs.Do(d.ru, d.rd, machine.Request{ID: req.TxnID, Kind: machine.KindRoomEvent, RoomID: req.RoomID,
		EventType: req.EventType, Body: req.Body})
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.r.MarkRequestSent(req.ID, req.Type, resp); err != nil {
		d.t.Fatalf("rust MarkRequestSent(%s): %v\n%s", req.Type, err, d.r.Stderr())
	}
}

// roomPump sends both machines' requests, syncs both and feeds both the room's new events, n
// times. machinetest stamps events with a fixed time in 2023; the feed stamps them with the
// current time, as a real server would (both machines ignore requests older than ten minutes).
func (d *duo) roomPump(n int, seen *int) {
	d.t.Helper()
	for range n {
		d.sendSicher()
		for range 5 {
			reqs, err := d.r.OutgoingRequests()
			if err != nil {
				d.t.Fatal(err)
			}
			if len(reqs) == 0 {
				break
			}
			for _, r := range reqs {
				d.doRustAny(r)
			}
		}
		d.syncSicher()
		d.syncRust()
		evs := d.hs.Messages(d.room)
		for _, raw := range evs[*seen:] {
			var ev map[string]any
			if err := json.Unmarshal(raw, &ev); err != nil {
				d.t.Fatal(err)
			}
			ev["origin_server_ts"] = d.clock().UnixMilli()
			raw, _ = json.Marshal(ev)
			if _, err := d.s.ReceiveRoomEvent(d.ctx, d.room, raw); err != nil {
				d.t.Logf("sicher: room event %s: %v", ev["type"], err)
			}
			if err := d.r.ReceiveVerificationEvent(d.room, raw); err != nil {
				d.t.Fatalf("rust: room event %s: %v\n%s", ev["type"], err, d.r.Stderr())
			}
		}
		*seen = len(evs)
	}
}

// rustDoAny sends a request a rust verification call returned, in a room or to-device.
func (d *duo) rustDoAny(r *rustpeer.Request, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatalf("%v\n%s", err, d.r.Stderr())
	}
	if r != nil {
		d.doRustAny(*r)
	}
}
