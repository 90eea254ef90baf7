package rustpeer_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/interop/rustpeer"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// Cross-signing and key backup between sicher's machine and matrix-sdk-crypto's OlmMachine.

// newDuoOn is newDuoOf with the sicher machine on st, so a test can read its secrets.
func newDuoOn(t *testing.T, st store.Store, sicherUser, rustUser string) *duo {
	t.Helper()
	d := &duo{t: t, su: sicherUser, sd: sicherDev, ru: rustUser, rd: rustDev, ctx: context.Background(),
		hs: machinetest.NewServer(), now: time.UnixMilli(1_765_000_000_000)}
	d.r = rustpeer.ForTest(t, d.ru, d.rd)
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
	d.pump()
	d.pump()
	return d
}

func secretOf(t *testing.T, d *duo, st store.Store, name string) string {
	t.Helper()
	var v store.Secret
	err := st.View(d.ctx, store.Owner{UserID: d.su, DeviceID: d.sd}, func(tx store.Tx) error {
		var err error
		v, err = tx.Secret(d.ctx, name)
		return err
	})
	if err != nil {
		t.Fatalf("secret %s: %v", name, err)
	}
	return string(v)
}

// bootstrapSicher runs machine.Bootstrap on the duo's sicher device and sends its requests.
func bootstrapSicher(t *testing.T, d *duo) *machine.BootstrapResult {
	t.Helper()
	res, err := d.s.Bootstrap(d.ctx, machine.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.sendSicher()
	return res
}

// TestCrossSigningInterop: sicher's Bootstrap as matrix-sdk-crypto sees it, and
// bootstrapCrossSigning's output as sicher's device tracking sees it.
func TestCrossSigningInterop(t *testing.T) {
	t.Run("SicherBootstrapCheckedByRust", func(t *testing.T) {
		d := newDuo(t)
		bootstrapSicher(t, d)
		d.pump()
		id, err := d.r.Identity(d.su)
		if err != nil || id == nil {
			t.Fatalf("rust has no identity for sicher's user: %v\n%s", err, d.r.Stderr())
		}
		msk, err := signing.ParseCrossSigningKey(id.MasterKey)
		if err != nil || msk.UserID != d.su || !msk.HasUsage(signing.UsageMaster) {
			t.Fatalf("rust's master key of sicher's user %s: %v", id.MasterKey, err)
		}
		dev, err := d.r.Device(d.su, d.sd)
		if err != nil || dev == nil || !dev.CrossSignedByOwner {
			t.Fatalf("rust does not see sicher's device as cross-signed by its owner: %+v %v", dev, err)
		}
	})
	t.Run("SicherKeysImportedByRust", func(t *testing.T) {
		// A rust device of the same user takes sicher's private keys (the store secrets, in the
		// secret-storage format) and finds they match the published identity.
		st := store.NewMemory()
		d := newDuoOn(t, st, sicherUser, sicherUser)
		bootstrapSicher(t, d)
		d.pump()
		status, err := d.r.ImportCrossSigningKeys(rustpeer.CrossSigningKeys{
			Master:      secretOf(t, d, st, machine.SecretMaster),
			SelfSigning: secretOf(t, d, st, machine.SecretSelfSigning),
			UserSigning: secretOf(t, d, st, machine.SecretUserSigning),
		})
		if err != nil || !status.HasMaster || !status.HasSelfSigning || !status.HasUserSigning {
			t.Fatalf("rust imported %+v: %v\n%s", status, err, d.r.Stderr())
		}
		id, err := d.r.Identity(d.su)
		if err != nil || id == nil || !id.Own || !id.IsVerified {
			t.Fatalf("rust's own identity: %+v %v", id, err)
		}
		t.Logf("rust's own identity after the import: verified %v, trusts its device %v", id.IsVerified, *id.TrustsOurOwnDevice)
		// The backup version sicher made is signed by the master key and sicher's device.
		version, info := d.hs.BackupVersion(d.su)
		var full map[string]any
		_ = json.Unmarshal(info, &full)
		full["version"] = version
		b, _ := json.Marshal(full)
		ver, err := d.r.VerifyBackup(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, d.r.Stderr())
		}
		t.Logf("rust's verdict on sicher's backup version: %+v", ver)
		// DeviceState is about the rust device's own signature, which it has not made.
		if !ver.Trusted || ver.UserState != "ValidAndTrusted" {
			t.Fatalf("rust finds sicher's auth_data signatures wrong: %+v", ver)
		}
	})
	t.Run("RustBootstrapCheckedBySicher", func(t *testing.T) {
		d := newDuo(t)
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
		if _, err := d.hs.Do(d.ru, d.rd, machine.Request{Kind: machine.KindSignatureUpload, Body: b.Signatures}); err != nil {
			t.Fatal(err)
		}
		d.pump()
		devs, err := d.s.Devices(d.ctx, d.ru)
		if err != nil || len(devs) != 1 {
			t.Fatalf("sicher knows %d devices of rust's user: %v", len(devs), err)
		}
		if !devs[0].CrossSigned || devs[0].IdentityChanged {
			t.Fatalf("sicher's view of rust's bootstrapped device: %+v", devs[0])
		}
		status, err := d.r.CrossSigningStatus()
		if err != nil || !status.HasMaster {
			t.Fatalf("rust status %+v %v", status, err)
		}
	})
}

// restoreOnSecondDevice recovers a second sicher device of the duo's sicher user and restores
// the whole backup into it.
func restoreOnSecondDevice(t *testing.T, d *duo, recoveryKey string) (*machine.Machine, machine.RestoreResult) {
	t.Helper()
	s2, err := machine.New(d.ctx, machine.Config{UserID: d.su, DeviceID: "SICHER2", Store: store.NewMemory(), Clock: d.clock})
	if err != nil {
		t.Fatal(err)
	}
	send := func() {
		if err := d.hs.SendAll(d.ctx, s2); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if _, err := d.hs.SyncMachine(d.ctx, s2); err != nil {
		t.Fatal(err)
	}
	send()
	if err := s2.Recover(d.ctx, recoveryKey); err != nil {
		t.Fatal(err)
	}
	send()
	if err := s2.RestoreBackup(d.ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	reqs, err := s2.OutgoingRequests(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Kind == machine.KindBackupDownloadKeys {
			resp, err := d.hs.Do(d.su, "SICHER2", r)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := s2.MarkBackupKeysReceived(d.ctx, r.ID, resp, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s2, rr
		}
	}
	t.Fatal("no backup download queued")
	return nil, machine.RestoreResult{}
}

// TestBackupInterop: a backup written by sicher restored by matrix-sdk-crypto, and entries
// written by matrix-sdk-crypto (to the backup key of sicher's user) restored by sicher.
func TestBackupInterop(t *testing.T) {
	t.Run("SicherBackupRestoredByRust", func(t *testing.T) {
		st := store.NewMemory()
		d := newDuoOn(t, st, sicherUser, rustUser)
		bootstrapSicher(t, d)
		d.rustShares(d.room, rustpeer.ShareSettings{})
		fromRust := d.rustSays(d.room, "rust, backed up by sicher")
		d.sicherReads(d.room, fromRust, "rust, backed up by sicher")
		d.sicherShares(d.room, machine.RoomSettings{})
		fromSicher := d.sicherSays(d.room, "sicher, backed up by sicher")
		d.sendSicher() // uploads both sessions
		version, _ := d.hs.BackupVersion(d.su)
		// A fresh rust device restores with the backup key (the m.megolm_backup.v1 secret).
		r2 := rustpeer.ForTest(t, rustUser, "RUSTDEV2")
		n, err := r2.RestoreBackup(secretOf(t, d, st, machine.SecretBackup), d.hs.BackupKeys(d.su), version)
		if err != nil || n.Imported != 2 || n.Total != 2 || n.Failed != 0 {
			t.Fatalf("rust restored %+v: %v\n%s", n, err, r2.Stderr())
		}
		for ev, want := range map[*json.RawMessage]string{&fromRust: "rust, backed up by sicher", &fromSicher: "sicher, backed up by sicher"} {
			dec, err := r2.DecryptRoomEvent(d.room, *ev)
			if err != nil || textOf(t, dec.Content) != want {
				t.Fatalf("rust after restore: %v\n%s", err, r2.Stderr())
			}
		}
	})
	t.Run("RustBackupRestoredBySicher", func(t *testing.T) {
		d := newDuo(t)
		res := bootstrapSicher(t, d)
		version, info := d.hs.BackupVersion(d.su)
		var v struct {
			AuthData struct {
				PublicKey string `json:"public_key"`
			} `json:"auth_data"`
		}
		if err := json.Unmarshal(info, &v); err != nil {
			t.Fatal(err)
		}
		// rust writes to the backup of sicher's user, as any holder of the public key can.
		if err := d.r.EnableBackupV1(v.AuthData.PublicKey, version); err != nil {
			t.Fatalf("%v\n%s", err, d.r.Stderr())
		}
		d.rustShares(d.room, rustpeer.ShareSettings{})
		ev := d.rustSays(d.room, "rust, backed up by rust")
		req, err := d.r.BackupRoomKeys()
		if err != nil || req == nil {
			t.Fatalf("rust has nothing to back up: %v\n%s", err, d.r.Stderr())
		}
		if _, err := d.hs.Do(d.su, "RUSTWRITER", machine.Request{Kind: machine.KindBackupUpload, Version: req.Version, Body: req.Body}); err != nil {
			t.Fatal(err)
		}
		s2, rr := restoreOnSecondDevice(t, d, res.RecoveryKey)
		if rr.Restored < 1 || rr.Failed != 0 {
			t.Fatalf("sicher restored %+v", rr)
		}
		dec, err := s2.DecryptRoomEvent(d.ctx, d.room, ev)
		if err != nil || textOf(t, dec.Content) != "rust, backed up by rust" {
			t.Fatalf("sicher after restore: %v", err)
		}
		if dec.Info.Provenance != event.Backup || dec.Info.Shield != machine.ShieldGrey {
			t.Fatalf("restored from rust's entry: %+v", dec.Info)
		}
		// rust's entry carries no MSC4048 MAC under sicher's backup key.
		if ok, err := s2.BackupAuthenticated(d.ctx, d.room, sessionID(t, ev)); err != nil || ok {
			t.Fatalf("rust's entry authenticated: %v %v", ok, err)
		}
	})
}

// TestSecretSharingInterop: m.secret.request and m.secret.send between a sicher device and a
// rust device of the same user, each direction.
func TestSecretSharingInterop(t *testing.T) {
	t.Run("SicherAnswersRust", func(t *testing.T) {
		d := newDuoOf(t, sicherUser, sicherUser)
		bootstrapSicher(t, d)
		d.pump()
		if err := d.s.SetDeviceTrust(d.ctx, d.su, d.rd, machine.TrustVerified); err != nil {
			t.Fatal(err)
		}
		if err := d.r.SetLocalTrust(d.su, d.sd, "Verified"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.s.GetMissingSessions(d.ctx, []string{d.su}); err != nil {
			t.Fatal(err)
		}
		d.sendSicher()
		queued, err := d.r.RequestMissingSecrets()
		if err != nil || !queued {
			t.Fatalf("rust queued no secret request: %v\n%s", err, d.r.Stderr())
		}
		d.sendRust()
		for _, ev := range d.syncSicher() {
			if ev.Type == "m.secret.request" && ev.Err != nil {
				t.Fatalf("sicher refused rust's request: %v", ev.Err)
			}
		}
		d.sendSicher()
		d.syncRust()
		status, err := d.r.CrossSigningStatus()
		if err != nil || !status.HasMaster || !status.HasSelfSigning || !status.HasUserSigning {
			t.Fatalf("rust after sicher's answers: %+v %v\n%s", status, err, d.r.Stderr())
		}
	})
	t.Run("RustAnswersSicher", func(t *testing.T) {
		st := store.NewMemory()
		d := newDuoOn(t, st, sicherUser, sicherUser)
		bootstrapSicher(t, d)
		d.pump()
		// rust holds the cross-signing keys (the import checks them against the identity).
		keys := rustpeer.CrossSigningKeys{Master: secretOf(t, d, st, machine.SecretMaster),
			SelfSigning: secretOf(t, d, st, machine.SecretSelfSigning), UserSigning: secretOf(t, d, st, machine.SecretUserSigning)}
		if _, err := d.r.ImportCrossSigningKeys(keys); err != nil {
			t.Fatal(err)
		}
		// A new sicher device asks for them.
		st2 := store.NewMemory()
		s2, err := machine.New(d.ctx, machine.Config{UserID: d.su, DeviceID: "SICHER2", Store: st2, Clock: d.clock})
		if err != nil {
			t.Fatal(err)
		}
		send2 := func() {
			if err := d.hs.SendAll(d.ctx, s2); err != nil {
				t.Fatal(err)
			}
		}
		send2()
		d.pump()
		if _, err := d.hs.SyncMachine(d.ctx, s2); err != nil {
			t.Fatal(err)
		}
		send2()
		if err := s2.SetDeviceTrust(d.ctx, d.su, d.rd, machine.TrustVerified); err != nil {
			t.Fatal(err)
		}
		if err := d.r.SetLocalTrust(d.su, "SICHER2", "Verified"); err != nil {
			t.Fatal(err)
		}
		claim, err := d.r.GetMissingSessions(d.su)
		if err != nil {
			t.Fatal(err)
		}
		if claim != nil {
			d.doRust(*claim)
		}
		for _, name := range []string{machine.SecretSelfSigning, machine.SecretUserSigning} {
			if _, err := s2.RequestSecret(d.ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		send2()
		d.syncRust()
		d.sendRust()
		evs, err := d.hs.SyncMachine(d.ctx, s2)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, ev := range evs {
			if ev.Type == "m.secret.send" {
				if ev.Err != nil {
					t.Fatalf("sicher refused rust's secret: %v", ev.Err)
				}
				got++
			}
		}
		for _, name := range []string{machine.SecretSelfSigning, machine.SecretUserSigning} {
			var v store.Secret
			err := st2.View(d.ctx, store.Owner{UserID: d.su, DeviceID: "SICHER2"}, func(tx store.Tx) error {
				v, err = tx.Secret(d.ctx, name)
				return err
			})
			if err != nil || string(v) != secretOf(t, d, st, name) {
				t.Fatalf("SICHER2's %s after rust's answer (%d m.secret.send): %v\n%s", name, got, err, d.r.Stderr())
			}
		}
	})
}
