package rustpeer_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sicher-go/sicher/machine"
)

// SAS verification between sicher's machine and matrix-sdk-crypto's OlmMachine, each side
// requesting and starting once: the emoji and decimals agree, and both sides mark the other's
// device verified.
func TestVerificationSASWithRust(t *testing.T) {
	for _, c := range []struct {
		sicherStarts, crossSigned bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		sicherStarts := c.sicherStarts
		name := map[bool]string{true: "sicher requests and starts", false: "rust requests and starts"}[sicherStarts]
		if c.crossSigned {
			name += ", cross-signed"
		}
		t.Run(name, func(t *testing.T) {
			var d *duo
			if c.crossSigned {
				d = newCrossSignedDuo(t)
			} else {
				d = newDuo(t)
				d.now = time.Now() // the rust machine ignores requests more than ten minutes off its clock
			}
			var v *machine.Verification
			if sicherStarts {
				v = d.sicherRequests()
				if err := v.StartSAS(d.ctx); err != nil {
					t.Fatal(err)
				}
				d.pumpN(2)
				d.rustDo(d.r.AcceptSAS(d.su, v.ID))
			} else {
				v = d.rustRequests()
				d.rustDo(d.r.StartSAS(d.su, v.ID))
			}
			d.pumpN(4)
			d.wantSicher(v, machine.VerificationKeysExchanged)
			code, err := v.SAS(d.ctx)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := d.r.SAS(d.su, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !rs.CanBePresented || len(rs.EmojiIndex) != 7 || len(rs.Decimals) != 3 {
				t.Fatalf("rust SAS state %+v", rs)
			}
			for i, e := range code.Emoji {
				if e.Number != rs.EmojiIndex[i] {
					t.Fatalf("emoji differ: sicher %v, rust %v", code.Emoji, rs.EmojiIndex)
				}
			}
			for i, n := range code.Decimals {
				if n != rs.Decimals[i] {
					t.Fatalf("decimals differ: sicher %v, rust %v", code.Decimals, rs.Decimals)
				}
			}
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
			d.wantSicher(v, machine.VerificationDone)
			d.rustDone(v.ID)
			d.bothVerified()
			if c.crossSigned {
				// The MACs covered the master keys too: each side verified the other's identity.
				if ok, err := d.s.UserVerified(d.ctx, d.ru); err != nil || !ok || v.Result.MasterKey == "" || !v.Result.Signed {
					t.Fatalf("sicher did not verify rust's identity: %+v %v", v.Result, err)
				}
				if ok, err := d.r.UserVerified(d.su); err != nil || !ok {
					t.Fatalf("rust did not verify sicher's identity: %v", err)
				}
			}
		})
	}
}

// QR code verification between two cross-signed users (mode 0), each side showing once: the
// scanner reciprocates, the shower confirms, and both sides verify the other user's identity.
func TestVerificationQRWithRust(t *testing.T) {
	for _, sicherShows := range []bool{true, false} {
		name := map[bool]string{true: "sicher shows, rust scans", false: "rust shows, sicher scans"}[sicherShows]
		t.Run(name, func(t *testing.T) {
			d := newCrossSignedDuo(t)
			v := d.sicherRequests()
			if sicherShows {
				code, err := v.QRCode(d.ctx)
				if err != nil {
					t.Fatal(err)
				}
				if code[7] != 0 {
					t.Fatalf("mode %d", code[7])
				}
				d.rustDo(d.r.ScanQR(d.su, v.ID, code))
				d.pumpN(2)
				d.wantSicher(v, machine.VerificationQRScanned)
				if err := v.ConfirmQRScanned(d.ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				code, err := d.r.GenerateQR(d.su, v.ID)
				if err != nil || code == nil {
					t.Fatalf("rust shows no QR code: %v\n%s", err, d.r.Stderr())
				}
				if err := v.ScanQR(d.ctx, code); err != nil {
					t.Fatal(err)
				}
				d.pumpN(2)
				qs, err := d.r.QR(d.su, v.ID)
				if err != nil || !qs.Scanned {
					t.Fatalf("rust QR state %+v, %v", qs, err)
				}
				d.rustDo(d.r.ConfirmQR(d.su, v.ID))
			}
			d.pumpN(4)
			d.wantSicher(v, machine.VerificationDone)
			if ok, err := d.s.UserVerified(d.ctx, d.ru); err != nil || !ok {
				t.Fatalf("sicher did not verify rust's identity: %v", err)
			}
			if ok, err := d.r.UserVerified(d.su); err != nil || !ok {
				t.Fatalf("rust did not verify sicher's identity: %v\n%s", err, d.r.Stderr())
			}
			if v.Result == nil || !v.Result.Signed {
				t.Fatalf("sicher's result %+v", v.Result)
			}
		})
	}
}

// In-room SAS verification with matrix-sdk-crypto, each side requesting once (the other
// starting SAS): the events reference the request's event id, and both sides verify the other's
// identity (cross-signed users).
func TestVerificationInRoomWithRust(t *testing.T) {
	for _, sicherRequests := range []bool{true, false} {
		name := map[bool]string{true: "sicher requests, rust starts", false: "rust requests, sicher starts"}[sicherRequests]
		t.Run(name, func(t *testing.T) {
			d := newCrossSignedDuo(t)
			seen := len(d.hs.Messages(d.room))
			var v *machine.Verification
			var err error
			if sicherRequests {
				if v, err = d.s.RequestVerificationInRoom(d.ctx, d.room, d.ru); err != nil {
					t.Fatal(err)
				}
				d.roomPump(1, &seen)
				if err := v.Refresh(d.ctx); err != nil {
					t.Fatal(err)
				}
				d.rustDoAny(d.r.AcceptVerification(d.su, v.ID))
				d.roomPump(2, &seen)
				d.wantSicher(v, machine.VerificationReady)
				d.rustDoAny(d.r.StartSAS(d.su, v.ID))
			} else {
				content, err := d.r.RoomRequestContent(d.su)
				if err != nil {
					t.Fatalf("%v\n%s", err, d.r.Stderr())
				}
				resp, err := d.hs.Do(d.ru, d.rd, machine.Request{ID: "rustreq", Kind: machine.KindRoomEvent, RoomID: d.room,
					EventType: "m.room.message", Body: content})
				if err != nil {
					t.Fatal(err)
				}
				var sent struct {
					EventID string `json:"event_id"`
				}
				_ = json.Unmarshal(resp, &sent)
				if _, err := d.r.RequestVerificationInRoom(d.su, d.room, sent.EventID); err != nil {
					t.Fatalf("%v\n%s", err, d.r.Stderr())
				}
				d.roomPump(1, &seen)
				if v, err = d.s.Verification(d.ctx, sent.EventID); err != nil {
					t.Fatal(err)
				}
				if err := v.Accept(d.ctx); err != nil {
					t.Fatal(err)
				}
				d.roomPump(2, &seen)
				if err := v.StartSAS(d.ctx); err != nil {
					t.Fatal(err)
				}
				d.roomPump(1, &seen)
				d.rustDoAny(d.r.AcceptSAS(d.su, v.ID))
			}
			d.roomPump(4, &seen)
			d.wantSicher(v, machine.VerificationKeysExchanged)
			code, _ := v.SAS(d.ctx)
			rs, err := d.r.SAS(d.su, v.ID)
			if err != nil || len(rs.EmojiIndex) != 7 {
				t.Fatalf("rust SAS %+v, %v", rs, err)
			}
			for i, e := range code.Emoji {
				if e.Number != rs.EmojiIndex[i] {
					t.Fatalf("emoji differ: sicher %v, rust %v", code.Emoji, rs.EmojiIndex)
				}
			}
			reqs, err := d.r.ConfirmSAS(d.su, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reqs {
				d.doRustAny(r)
			}
			if err := v.ConfirmSAS(d.ctx); err != nil {
				t.Fatal(err)
			}
			d.roomPump(4, &seen)
			d.wantSicher(v, machine.VerificationDone)
			if ok, err := d.s.UserVerified(d.ctx, d.ru); err != nil || !ok {
				t.Fatalf("sicher did not verify rust's identity: %v", err)
			}
			if ok, err := d.r.UserVerified(d.su); err != nil || !ok {
				t.Fatalf("rust did not verify sicher's identity: %v", err)
			}
		})
	}
}

// QR code self-verification with matrix-sdk-crypto: the rust device is a new device of sicher's
// user. The sicher device holds the cross-signing keys and shows mode 1, or the rust device
// (not trusting the master key yet) shows mode 2; either way the sicher device signs the rust
// device with the self-signing key and the rust device comes to trust the master key.
func TestVerificationQROwnDeviceWithRust(t *testing.T) {
	for _, sicherShows := range []bool{true, false} {
		name := map[bool]string{true: "sicher shows mode 1", false: "rust shows mode 2"}[sicherShows]
		t.Run(name, func(t *testing.T) {
			d := newCrossSignedDuoOf(t, sicherUser)
			v := d.sicherRequests()
			if sicherShows {
				code, err := v.QRCode(d.ctx)
				if err != nil || code[7] != 1 {
					t.Fatalf("QR code %x, %v", code, err)
				}
				d.rustDo(d.r.ScanQR(d.su, v.ID, code))
				d.pumpN(2)
				d.wantSicher(v, machine.VerificationQRScanned)
				if err := v.ConfirmQRScanned(d.ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				code, err := d.r.GenerateQR(d.su, v.ID)
				if err != nil || len(code) < 8 || code[7] != 2 {
					t.Fatalf("rust's QR code %x, %v\n%s", code, err, d.r.Stderr())
				}
				if err := v.ScanQR(d.ctx, code); err != nil {
					t.Fatal(err)
				}
				d.pumpN(2)
				d.rustDo(d.r.ConfirmQR(d.su, v.ID))
			}
			d.pumpN(4)
			d.wantSicher(v, machine.VerificationDone)
			if v.Result == nil || v.Result.DeviceID != d.rd || !v.Result.Signed {
				t.Fatalf("sicher's result %+v", v.Result)
			}
			d.pumpN(2)
			devs, _ := d.s.Devices(d.ctx, d.su)
			for _, dev := range devs {
				if dev.Keys.DeviceID == d.rd && !dev.CrossSigned {
					t.Fatal("the rust device is not cross-signed after the verification")
				}
			}
			if ok, err := d.r.UserVerified(d.su); err != nil || !ok {
				t.Fatalf("the rust device does not trust its master key: %v\n%s", err, d.r.Stderr())
			}
		})
	}
}
