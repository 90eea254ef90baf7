package machine_test

import (
	"errors"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// qrRun: shower shows, scanner scans, shower confirms; both end done.
func (w *world) qrRun(shower, scanner *machine.Machine, vs, vc *machine.Verification) []byte {
	w.t.Helper()
	code, err := vs.QRCode(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := vc.ScanQR(w.ctx, code); err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(nil, shower, scanner); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	w.wantState(vs, machine.VerificationQRScanned)
	w.wantState(vc, machine.VerificationQRReciprocated)
	if err := vs.ConfirmQRScanned(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(nil, shower, scanner); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	w.wantState(vs, machine.VerificationDone)
	w.wantState(vc, machine.VerificationDone)
	return code
}

func TestVerificationQROtherUser(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	code := w.qrRun(b, a, vb, va)
	if code[7] != 0x00 {
		t.Fatalf("mode %d, want 0", code[7])
	}
	for _, c := range []struct {
		m    *machine.Machine
		v    *machine.Verification
		user string
	}{{a, va, b.UserID()}, {b, vb, a.UserID()}} {
		if ok, _ := c.m.UserVerified(w.ctx, c.user); !ok {
			t.Fatalf("%s did not verify %s", c.m.UserID(), c.user)
		}
		if c.v.Result == nil || c.v.Result.MasterKey == "" || !c.v.Result.Signed {
			t.Fatalf("%s: result %+v", c.m.UserID(), c.v.Result)
		}
	}
}

func TestVerificationQROwnDevice(t *testing.T) {
	for _, newShows := range []bool{false, true} {
		w := newWorld(t)
		a1, a2, _, _ := w.ownDevices()
		va, err := a2.RequestVerification(w.ctx, a2.UserID(), a1.DeviceID())
		if err != nil {
			t.Fatal(err)
		}
		w.pump(nil, a1, a2)
		v1 := w.only(a1)
		if err := v1.Accept(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.pump(nil, a1, a2)
		var code []byte
		if newShows {
			code = w.qrRun(a2, a1, va, v1) // mode 2: the new device does not trust the master key
		} else {
			code = w.qrRun(a1, a2, v1, va) // mode 1: the old device trusts it
		}
		if want := map[bool]byte{false: 1, true: 2}[newShows]; code[7] != want {
			t.Fatalf("mode %d, want %d", code[7], want)
		}
		if ok, _ := a2.UserVerified(w.ctx, a2.UserID()); !ok {
			t.Fatal("the new device does not trust the master key")
		}
		w.track(a1)
		devs, _ := a1.Devices(w.ctx, a1.UserID())
		for _, d := range devs {
			if d.Keys.DeviceID == a2.DeviceID() && !d.CrossSigned {
				// Either way the old device checked the new device's key and signed it.
				t.Fatalf("newShows=%v: new device cross-signed = %v", newShows, d.CrossSigned)
			}
		}
		_, master := w.serverKeys(a1.UserID())
		msk, _ := signing.ParseCrossSigningKey(master)
		_, ed := a2.IdentityKeys()
		if err := msk.VerifySignature(a2.UserID(), a2.DeviceID(), ed); err != nil {
			t.Fatalf("master key not signed by the new device: %v", err)
		}
	}
}

func TestVerificationRestartQR(t *testing.T) {
	w := newWorld(t)
	a, b, stA, stB, _ := w.pair()
	va, vb := w.readyPair(a, b)
	code, err := vb.QRCode(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	b = w.deviceOn(stB, b.UserID(), b.DeviceID())
	vb = w.only(b)
	again, _ := vb.QRCode(w.ctx)
	if string(again) != string(code) {
		t.Fatal("the QR code changed over a restart")
	}
	if err := va.ScanQR(w.ctx, code); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	a = w.deviceOn(stA, a.UserID(), a.DeviceID())
	b = w.deviceOn(stB, b.UserID(), b.DeviceID())
	va, vb = w.only(a), w.only(b)
	if err := vb.ConfirmQRScanned(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantState(va, machine.VerificationDone)
	w.wantState(vb, machine.VerificationDone)
}

func TestVerificationQRKeyMismatch(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	code, err := vb.QRCode(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), code...)
	bad[len(bad)-20-1] ^= 1 // inside the second key (the secret is 16 bytes)
	err = va.ScanQR(w.ctx, bad)
	if !errors.Is(err, &machine.CancelError{Code: machine.CancelKeyMismatch}) {
		t.Fatalf("ScanQR of a code with another key: %v", err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelKeyMismatch)
	w.wantCancel(vb, machine.CancelKeyMismatch)

	// A malformed payload changes nothing.
	va, vb = w.readyPair(a, b)
	var qe *machine.QRCodeError
	if err := va.ScanQR(w.ctx, []byte("MATRIX\x02\x00")); !errors.As(err, &qe) || !errors.Is(err, machine.ErrMalformedQRCode) {
		t.Fatalf("malformed payload: %v", err)
	}
	w.wantState(va, machine.VerificationReady)
	_ = vb
}

func TestVerificationQRWrongSecret(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	code, err := vb.QRCode(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	code[len(code)-1] ^= 1 // the secret: the scanner cannot tell, the shower can
	if err := va.ScanQR(w.ctx, code); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantCancel(vb, machine.CancelKeyMismatch)
	w.wantCancel(va, machine.CancelKeyMismatch)
	if ok, _ := b.UserVerified(w.ctx, a.UserID()); ok {
		t.Fatal("verified with a wrong secret")
	}
	_ = store.ErrNotFound
}
