package machine_test

import (
	"errors"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// secretPair is a bootstrapped device A1 and a new device A2 of the same user on its own
// store, with an Olm session from A1 to A2 (A1 answers secret requests over it).
func secretPair(t *testing.T, a1TrustsA2, a2TrustsA1 bool) (w *world, a1, a2 *machine.Machine, st2 store.Store) {
	w, a1, _, _, _ = bootstrapped(t)
	st2 = store.NewMemory()
	a2 = w.deviceOn(st2, "@alice:example.org", "A2")
	w.sync(a1, a2)
	w.send(a1, a2)
	if a1TrustsA2 {
		if err := a1.SetDeviceTrust(w.ctx, a1.UserID(), "A2", machine.TrustVerified); err != nil {
			t.Fatal(err)
		}
	}
	if a2TrustsA1 {
		if err := a2.SetDeviceTrust(w.ctx, a1.UserID(), "A1", machine.TrustVerified); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a1.GetMissingSessions(w.ctx, []string{a1.UserID()}); err != nil {
		t.Fatal(err)
	}
	w.send(a1)
	return w, a1, a2, st2
}

func secretOf(t *testing.T, w *world, st store.Store, m *machine.Machine, name string) string {
	t.Helper()
	var v string
	err := st.View(w.ctx, store.Owner{UserID: m.UserID(), DeviceID: m.DeviceID()}, func(tx store.Tx) error {
		s, err := tx.Secret(w.ctx, name)
		v = string(s)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func findErr(evs []machine.ToDeviceEvent, typ string) error {
	for _, e := range evs {
		if e.Type == typ && e.Err != nil {
			return e.Err
		}
	}
	return nil
}

func TestSecretSharing(t *testing.T) {
	w, a1, a2, st2 := secretPair(t, true, true)
	for _, name := range []string{machine.SecretSelfSigning, machine.SecretUserSigning, machine.SecretMaster} {
		if _, err := a2.RequestSecret(w.ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	w.send(a2)
	if evs := w.sync(a1); findErr(evs, "m.secret.request") != nil {
		t.Fatal(findErr(evs, "m.secret.request"))
	}
	w.send(a1)
	evs := w.sync(a2)
	for _, e := range evs {
		if e.Err != nil || e.Content != nil {
			t.Fatalf("secret send on A2: %+v", e)
		}
	}
	for _, name := range []string{machine.SecretSelfSigning, machine.SecretUserSigning, machine.SecretMaster} {
		if secretOf(t, w, st2, a2, name) == "" {
			t.Fatalf("A2 did not store %s", name)
		}
	}
	// The backup key: A2 first learns the backup version (trusted: signed by the master key
	// it now holds), then gets the key and backup is enabled.
	if err := a2.CheckBackupVersion(w.ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.hs.SendAll(w.ctx, a2); !errors.Is(err, machine.ErrBackupKeyMissing) {
		t.Fatalf("backup version without the key: %v", err)
	}
	if _, err := a2.RequestSecret(w.ctx, machine.SecretBackup); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1)
	w.send(a1)
	if err := findErr(w.sync(a2), "m.secret.send"); err != nil {
		t.Fatal(err)
	}
	if err := a2.RestoreBackup(w.ctx, "", ""); err != nil {
		t.Fatalf("backup after the key arrived: %v", err)
	}
	if _, err := a2.RequestSecret(w.ctx, "m.something.else"); !errors.Is(err, machine.ErrUnknownSecret) {
		t.Fatalf("request of an unknown secret: %v", err)
	}
}

func TestSecretRequestFromUnverifiedDevice(t *testing.T) {
	w, a1, a2, st2 := secretPair(t, false, true)
	if _, err := a2.RequestSecret(w.ctx, machine.SecretSelfSigning); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	if err := findErr(w.sync(a1), "m.secret.request"); !errors.Is(err, machine.ErrUntrustedRequester) {
		t.Fatalf("request from an unverified device: %v", err)
	}
	reqs, _ := a1.OutgoingRequests(w.ctx)
	for _, r := range reqs {
		if r.Kind == machine.KindToDevice {
			t.Fatal("A1 answered an unverified device")
		}
	}
	w.send(a1)
	w.sync(a2)
	if secretOf(t, w, st2, a2, machine.SecretSelfSigning) != "" {
		t.Fatal("A2 got the secret")
	}
}

// TestSecretFromUntrustedSender: A1 is cross-signed by our identity, which the machine counts
// as verified for our own devices, so A2 marks it untrusted explicitly (blacklisted).
func TestSecretFromUntrustedSender(t *testing.T) {
	w, a1, a2, st2 := secretPair(t, true, false)
	if err := a2.SetDeviceTrust(w.ctx, a1.UserID(), "A1", machine.TrustBlacklisted); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.RequestSecret(w.ctx, machine.SecretSelfSigning); err != nil {
		t.Fatal(err)
	}
	w.send(a2)
	w.sync(a1)
	w.send(a1)
	if err := findErr(w.sync(a2), "m.secret.send"); !errors.Is(err, machine.ErrUntrustedSecretSender) {
		t.Fatalf("secret from an unverified device: %v", err)
	}
	if secretOf(t, w, st2, a2, machine.SecretSelfSigning) != "" {
		t.Fatal("A2 stored a secret from an unverified device")
	}
}
