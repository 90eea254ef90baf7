package machine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
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

// A backup version whose auth_data only a device of ours signed, a device that is cross-signed
// under a master key this device does not trust (nor verified itself), is not trusted: the
// server may have forged that master key and the device.
func TestBackupAuthDataByDeviceUnderUntrustedMaster(t *testing.T) {
	w, _, _, _, rk := bootstrapped(t)
	const user = "@alice:example.org"
	_, info := w.hs.BackupVersion(user)
	var v struct {
		AuthData map[string]json.RawMessage `json:"auth_data"`
	}
	if err := json.Unmarshal(info, &v); err != nil {
		t.Fatal(err)
	}
	var sigs map[string]map[string]string
	if err := json.Unmarshal(v.AuthData["signatures"], &sigs); err != nil {
		t.Fatal(err)
	}
	for id := range sigs[user] {
		if id != "ed25519:A1" {
			delete(sigs[user], id) // the master key's signature
		}
	}
	v.AuthData["signatures"], _ = json.Marshal(sigs)
	ad, _ := json.Marshal(v.AuthData)
	w.hs.ReplaceBackupAuthData(user, ad)

	// A2 holds the backup key (an application imported it) and verified nothing.
	st2 := store.NewMemory()
	a2 := w.deviceOn(st2, user, "A2")
	w.sync(a2)
	w.send(a2)
	var def struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(w.hs.AccountData(user, secretstorage.DefaultKeyEventType), &def); err != nil {
		t.Fatal(err)
	}
	var desc secretstorage.KeyDescription
	if err := json.Unmarshal(w.hs.AccountData(user, secretstorage.KeyEventTypePrefix+def.Key), &desc); err != nil {
		t.Fatal(err)
	}
	k, err := secretstorage.KeyFromDescription(rk, &desc, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sc secretstorage.SecretContent
	if err := json.Unmarshal(w.hs.AccountData(user, machine.SecretBackup), &sc); err != nil {
		t.Fatal(err)
	}
	enc := sc.Encrypted[def.Key]
	backupKey, err := k.Decrypt(machine.SecretBackup, &enc)
	if err != nil {
		t.Fatal(err)
	}
	err = st2.Update(w.ctx, store.Owner{UserID: user, DeviceID: "A2"}, func(tx store.Tx) error {
		return tx.PutSecret(w.ctx, machine.SecretBackup, store.Secret(backupKey))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.CheckBackupVersion(w.ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.hs.SendAll(w.ctx, a2); !errors.Is(err, machine.ErrUntrustedBackup) {
		t.Fatalf("auth_data signed only by a device under an untrusted master key: %v", err)
	}
	if err := a2.RestoreBackup(w.ctx, "", ""); !errors.Is(err, machine.ErrBackupDisabled) {
		t.Fatalf("backup enabled: %v", err)
	}
}
