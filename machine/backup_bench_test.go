//go:build !js && !wasip1

package machine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
)

// BenchmarkRestore pairs, on one backup of 500 sessions, the machine's whole restore
// (MarkBackupKeysReceived: MSC4048 check, decrypt, store in batches, on the memory store) with
// keybackup's bare parallel decryption of the same body (DecryptRoomKeys): their ratio is what
// checking and storing cost on top of the cryptography.
func BenchmarkRestore(b *testing.B) {
	const n = 500
	ctx := context.Background()
	hs := machinetest.NewServer()
	now := time.UnixMilli(1_765_000_000_000)
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	st := store.NewMemory()
	m, err := machine.New(ctx, machine.Config{UserID: "@a:x.org", DeviceID: "A", Store: st, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	if err := hs.SendAll(ctx, m); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Bootstrap(ctx, machine.BootstrapOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := hs.SendAll(ctx, m); err != nil {
		b.Fatal(err)
	}
	var secret store.Secret
	_ = st.View(ctx, store.Owner{UserID: "@a:x.org", DeviceID: "A"}, func(tx store.Tx) error {
		secret, err = tx.Secret(ctx, machine.SecretBackup)
		return err
	})
	raw, _ := base64.RawStdEncoding.DecodeString(string(secret))
	bk, err := keybackup.NewDecryptionKey(raw)
	if err != nil {
		b.Fatal(err)
	}
	rnd := mrand.NewChaCha8([32]byte{9})
	for i := range n {
		out, err := megolm.NewOutboundSessionFrom(rnd)
		if err != nil {
			b.Fatal(err)
		}
		in, _ := megolm.NewInboundSession(out.SessionKey())
		room := "!r" + string(rune('a'+i%10)) + ":x.org"
		d, err := keybackup.EncryptSession(bk.PublicKey(), megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), room, [32]byte{1}, [32]byte{2}))
		if err != nil {
			b.Fatal(err)
		}
		entry, _ := json.Marshal(keybackup.KeyBackupData{SessionData: d})
		hs.PutBackupEntry("@a:x.org", room, in.SessionID().String(), entry)
	}
	body := hs.BackupKeys("@a:x.org")
	var keys keybackup.RoomKeys
	if err := json.Unmarshal(body, &keys); err != nil {
		b.Fatal(err)
	}

	b.Run("machine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := m.RestoreBackup(ctx, "", ""); err != nil {
				b.Fatal(err)
			}
			reqs, _ := m.OutgoingRequests(ctx)
			for _, r := range reqs {
				if r.Kind == machine.KindBackupDownloadKeys {
					if rr, err := m.MarkBackupKeysReceived(ctx, r.ID, body, nil); err != nil || rr.Restored != n {
						b.Fatalf("%+v %v", rr, err)
					}
				}
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	})
	b.Run("keybackup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range bk.DecryptRoomKeys(ctx, keys) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	})
}
