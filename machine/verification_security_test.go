package machine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/signing"
)

// A QR code scanned, then the server serves another master key for the user before the other
// side's done arrives: the scanner must not sign the key the server swapped in (it signed the
// key tracked at the done, not the one it scanned).
func TestVerificationQRScannedMasterKeySwappedBeforeDone(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	code, err := vb.QRCode(w.ctx) // Bob shows (mode 0), Alice scans
	if err != nil {
		t.Fatal(err)
	}
	if err := va.ScanQR(w.ctx, code); err != nil {
		t.Fatal(err)
	}
	if errs := w.pump(nil, a, b); len(errs) > 0 {
		t.Fatal(errs)
	}
	w.wantState(vb, machine.VerificationQRScanned)
	w.wantState(va, machine.VerificationQRReciprocated)

	// The server now serves a new master key for Bob, and Alice's device sees it.
	_, oldMaster := w.serverKeys(b.UserID())
	w.newCrossSigning(b.UserID(), b.DeviceID(), nil)
	_, newMaster := w.serverKeys(b.UserID())
	if string(oldMaster) == string(newMaster) {
		t.Fatal("the master key did not change")
	}
	if err := a.UpdateTrackedUsers(w.ctx, []string{b.UserID()}); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a)

	if err := vb.ConfirmQRScanned(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelKeyMismatch)
	if ok, _ := a.UserVerified(w.ctx, b.UserID()); ok {
		t.Fatal("Bob's swapped master key is verified")
	}
	_, served := w.serverKeys(b.UserID())
	msk, err := signing.ParseCrossSigningKey(served)
	if err != nil {
		t.Fatal(err)
	}
	var sigs struct {
		Signatures map[string]map[string]json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(served, &sigs); err != nil {
		t.Fatal(err)
	}
	if len(sigs.Signatures[a.UserID()]) > 0 {
		t.Fatalf("Alice signed the master key %s the server swapped in", msk.Key)
	}
}

// A new device that verified nothing must not take secrets from a device merely because that
// device is cross-signed by the master key the server serves: the server could have forged the
// master key, a device signed by it, and secrets matching it.
func TestSecretFromDeviceCrossSignedByUnverifiedMaster(t *testing.T) {
	w, a1, a2, st2 := secretPair(t, true, false)
	if _, err := a2.RequestSecret(w.ctx, machine.SecretSelfSigning); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1)
	w.send(a1)
	if err := findErr(w.sync(a2), "m.secret.send"); !errors.Is(err, machine.ErrUntrustedSecretSender) {
		t.Fatalf("secret from a device only cross-signed by an unverified master key: %v", err)
	}
	if secretOf(t, w, st2, a2, machine.SecretSelfSigning) != "" {
		t.Fatal("A2 stored a secret from a device it cannot authenticate")
	}
}

// Anyone can send verification requests, and each one was a stored flow that every later
// request went through (allFlows): a flood is bounded per sender and in all.
func TestVerificationRequestFloodBounded(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	for i := range 40 {
		w.inject(b, "@mallory:evil.org", "m.key.verification.request", map[string]any{
			"transaction_id": fmt.Sprintf("flood%d", i), "from_device": "EVIL",
			"methods": []string{"m.sas.v1"}, "timestamp": w.clock().UnixMilli()})
	}
	var refused int
	for _, ev := range w.sync(b) {
		if errors.Is(ev.Err, machine.ErrTooManyVerifications) {
			refused++
		}
	}
	vs, err := b.Verifications(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) > 16 || refused != 40-len(vs) {
		t.Fatalf("%d flows listed, %d requests refused, want at most 16 flows and the rest refused", len(vs), refused)
	}
	// Another user's request still gets through.
	if _, err := a.RequestVerification(w.ctx, b.UserID(), b.DeviceID()); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	if vs, _ := b.Verifications(w.ctx); len(vs) != 17 {
		t.Fatalf("%d flows after Alice's request, want 17", len(vs))
	}
}
