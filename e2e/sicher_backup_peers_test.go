package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
	"github.com/sicher-go/sicher/event"
)

// TestBackupSicherToJSSDK: a backup written by sicher (Bootstrap) is
// restored by a new js-sdk device of the same user with the recovery key,
// which then decrypts the old messages.
func TestBackupSicherToJSSDK(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	a1, b := sicherc.Login(t, s, alice), sicherc.Login(t, s, bob)
	res := a1.Bootstrap()
	room, err := a1.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "bob joins", func() error {
		_, err := b.C().JoinRoom(ctx, room)
		return err
	})
	a1.WaitMembers(room, alice.ID, bob.ID)
	b.WaitMembers(room, alice.ID, bob.ID)
	a1.WaitDevices(bob.ID, b.DeviceID)
	b.WaitDevices(alice.ID, a1.DeviceID)
	l := ledger{}
	for i := range 2 {
		l.send(t, a1, room, fmt.Sprintf("sicher alice %d", i))
		l.send(t, b, room, fmt.Sprintf("sicher bob %d", i))
	}
	expectDecrypts(t, a1, room, l)
	waitBackup(t, s, a1, 2)

	p := login(t, s, "jssdk", alice)
	p.p.Must(t, "sync", p.p.Sync(0))
	total, imported, err := p.p.RestoreBackup(res.RecoveryKey)
	p.p.Must(t, "restore_backup", err)
	t.Logf("js-sdk restored %d of %d keys from sicher's backup", imported, total)
	if imported < 2 {
		t.Errorf("js-sdk imported %d keys from the backup, want 2", imported)
	}
	peerDecrypts(t, p, room, l)
}

// TestBackupJSSDKToSicher: a backup written by js-sdk
// (bootstrapCrossSigning, bootstrapSecretStorage with a new key backup)
// is restored by a new sicher device of the same user (Recover with the
// recovery key, RestoreBackup), which then decrypts the old messages,
// marked as from backup.
func TestBackupJSSDKToSicher(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	b := sicherc.Login(t, s, bob)
	p := login(t, s, "jssdk", alice)
	rk, err := p.p.BootstrapBackup()
	p.p.Must(t, "bootstrap_backup", err)

	room, err := b.C().CreateRoom(ctx, t.Name(), []string{alice.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "js-sdk joins", func() error {
		if err := p.p.Sync(0); err != nil {
			return err
		}
		return p.p.Join(room)
	})
	b.WaitMembers(room, alice.ID, bob.ID)
	b.WaitDevices(alice.ID, p.dev.DeviceID)
	waitPeerKnows(t, p, bob.ID, b.DeviceID)
	l := ledger{}
	for i := range 2 {
		l.send(t, b, room, fmt.Sprintf("sicher bob %d", i))
		p.p.Must(t, "sync", p.p.Sync(0))
		body := fmt.Sprintf("js-sdk alice %d", i)
		id, err := p.p.SendText(room, body)
		p.p.Must(t, "send_text", err)
		l[id] = sent{body, alice.ID, p.dev.DeviceID}
	}
	peerDecrypts(t, p, room, l)
	sicherc.Eventually(t, 60*time.Second, "js-sdk backs up the room keys", func() error {
		n, err := p.p.BackupCount()
		if err != nil {
			return err
		}
		if n < 2 {
			return fmt.Errorf("backup holds %d keys", n)
		}
		return nil
	})

	a := sicherc.Login(t, s, alice)
	a.WaitDevices(alice.ID, p.dev.DeviceID)
	sicherc.Eventually(t, 30*time.Second, "sicher recovers with js-sdk's recovery key", func() error {
		return a.M().Recover(ctx, rk)
	})
	sicherc.Eventually(t, 30*time.Second, "sicher restores js-sdk's backup", func() error {
		if err := a.C().SendRequests(ctx); err != nil {
			return err
		}
		if err := a.M().RestoreBackup(ctx, "", ""); err != nil {
			return err
		}
		return a.C().SendRequests(ctx)
	})
	n := expectDecrypts(t, a, room, l)
	fromBackup := 0
	for _, m := range a.Messages(room) {
		if m.Dec != nil && m.Dec.Info.Provenance == event.Backup {
			fromBackup++
		}
	}
	t.Logf("sicher restored %d of %d messages from js-sdk's backup (%d marked from backup)", n, len(l), fromBackup)
	if fromBackup != len(l) {
		t.Errorf("%d of %d messages marked from backup", fromBackup, len(l))
	}
}

// waitBackup waits until the server's current backup holds at least n
// room keys, sending c's requests meanwhile.
func waitBackup(t *testing.T, s *hs.Server, c *sicherc.Client, n int) {
	t.Helper()
	ctx := context.Background()
	sicherc.Eventually(t, 60*time.Second, "the backup holds the room keys", func() error {
		if err := c.C().SendRequests(ctx); err != nil {
			return err
		}
		var v struct {
			Count int `json:"count"`
		}
		if err := s.Do(ctx, c.Token(), "GET", "/_matrix/client/v3/room_keys/version", nil, &v); err != nil {
			return err
		}
		if v.Count < n {
			return errors.New(fmt.Sprint("backup holds ", v.Count, " keys"))
		}
		return nil
	})
}
