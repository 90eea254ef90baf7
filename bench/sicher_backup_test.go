package bench

import (
	"context"
	"encoding/base64"
	"github.com/sicher-go/sicher/megolm"
	"runtime"
	"testing"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
)

func init() {
	sicherBench["BackupEncrypt"] = func(b *testing.B) {
		dk := must(keybackup.GenerateDecryptionKey())
		pub := dk.PublicKey()
		var ct, mac, eph []byte
		b.SetBytes(1024)
		b.ReportAllocs()
		for b.Loop() {
			d, err := keybackup.Encrypt(pub, backupPayload)
			if err != nil {
				b.Fatal(err)
			}
			// The three wire fields, as the peers produce them, into
			// reused buffers as for every sicher benchmark.
			ct = base64.RawStdEncoding.AppendEncode(ct[:0], d.Ciphertext)
			mac = base64.RawStdEncoding.AppendEncode(mac[:0], d.MAC[:])
			eph = base64.RawStdEncoding.AppendEncode(eph[:0], d.Ephemeral[:])
			sink ^= ct[0] ^ mac[0] ^ eph[0]
		}
	}
	sicherBench["BackupDecrypt"] = func(b *testing.B) {
		priv := randBytes(32)
		_, pub, _ := olmcPk(priv)
		ct, mac, eph := must3(olmcEncrypt(pub, backupPayload))
		cts, macs, ephs := string(ct), string(mac), string(eph)
		dk := must(keybackup.NewDecryptionKey(priv))
		b.SetBytes(1024)
		b.ReportAllocs()
		for b.Loop() {
			d, err := keybackup.ParseEncryptedSessionData(ephs, cts, macs)
			if err != nil {
				b.Fatal(err)
			}
			pt, err := dk.Decrypt(d)
			if err != nil || len(pt) != 1024 {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBulkBackupDecrypt decrypts 10,000 backed-up sessions with
// keybackup's bulk API, with one worker and with two.
func BenchmarkBulkBackupDecrypt(b *testing.B) {
	dk := must(keybackup.GenerateDecryptionKey())
	entries := make([]keybackup.EncryptedSessionData, 10_000)
	var sk megolm.ExportedSessionKey
	if err := sk.UnmarshalText(megolmFix.sessionKey); err != nil {
		b.Fatal(err)
	}
	var sender key.Curve25519
	var claimed key.Ed25519
	copy(sender[:], randBytes(32))
	copy(claimed[:], randBytes(32))
	for i := range entries {
		entries[i] = must(keybackup.EncryptSession(dk.PublicKey(), megolm.NewExportedSession(&sk, "", sender, claimed)))
	}
	for _, w := range []int{1, 2} {
		b.Run(workersName(w), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(w)) // DecryptAll uses GOMAXPROCS workers
			b.ReportAllocs()
			for b.Loop() {
				res := dk.DecryptAll(context.Background(), entries)
				if len(res) != len(entries) || res[len(res)-1].Err != nil {
					b.Fatal("bulk decrypt failed")
				}
			}
		})
	}
}
