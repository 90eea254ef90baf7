package bench

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	"golang.org/x/crypto/hkdf"
	"maunium.net/go/mautrix/crypto/backup"

	"github.com/sicher-go/sicher/bench/internal/olmc"
)

// SAS inputs (hkdf-hmac-sha256.v2, spec "SAS HKDF calculation").
var (
	sasInfo = []byte("MATRIX_KEY_VERIFICATION_SAS|@alice:example.org|ALICEDEVICE|" +
		"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29yb|@bob:example.org|BOBDEVICE|" +
		"Ym9iIGtleSBib2Iga2V5IGJvYiBrZXkgYm9iIGtleSBib2I|$txn-id-0123456789")
	sasMACInfo = []byte("MATRIX_KEY_VERIFICATION_MAC@alice:example.orgALICEDEVICE" +
		"@bob:example.orgBOBDEVICE$txn-id-0123456789ed25519:ALICEDEVICE")
	sasMACInput = []byte("ed25519:ALICEDEVICE-key-aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8")
)

// goolmSAS is mautrix's pure-Go SAS path (crypto/verificationhelper),
// re-expressed as free functions: crypto/ecdh keys, x/crypto/hkdf readers
// and hmac.New, as verificationhelper calls them.
type goolmSAS struct {
	priv  *ecdh.PrivateKey
	their *ecdh.PublicKey
}

func (s *goolmSAS) sasBytes() []byte {
	secret, err := s.priv.ECDH(s.their)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 6)
	hkdf.New(sha256.New, secret, nil, sasInfo).Read(out)
	return out
}

func (s *goolmSAS) mac() []byte {
	secret, err := s.priv.ECDH(s.their)
	if err != nil {
		panic(err)
	}
	macKey := make([]byte, 32)
	hkdf.New(sha256.New, secret, nil, sasMACInfo).Read(macKey)
	h := hmac.New(sha256.New, macKey)
	h.Write(sasMACInput)
	return h.Sum(nil)
}

// BenchmarkSAS: both parties generate keys, exchange them, derive 6 SAS
// bytes each, Alice makes one MAC and Bob computes and checks it.
func BenchmarkSAS(b *testing.B) {
	run(b, "SAS", impls{
		"goolm": func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ak := must(ecdh.X25519().GenerateKey(rand.Reader))
				bk := must(ecdh.X25519().GenerateKey(rand.Reader))
				// keys travel as unpadded base64
				apub := base64.RawStdEncoding.EncodeToString(ak.PublicKey().Bytes())
				bpub := base64.RawStdEncoding.EncodeToString(bk.PublicKey().Bytes())
				a := &goolmSAS{priv: ak, their: must(ecdh.X25519().NewPublicKey(must(base64.RawStdEncoding.DecodeString(bpub))))}
				bb := &goolmSAS{priv: bk, their: must(ecdh.X25519().NewPublicKey(must(base64.RawStdEncoding.DecodeString(apub))))}
				if !bytes.Equal(a.sasBytes(), bb.sasBytes()) {
					b.Fatal("sas mismatch")
				}
				m := base64.RawStdEncoding.EncodeToString(a.mac())
				if !hmac.Equal(must(base64.RawStdEncoding.DecodeString(m)), bb.mac()) {
					b.Fatal("mac mismatch")
				}
			}
		},
		"libolm": func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, bb := must(olmc.NewSAS()), must(olmc.NewSAS())
				if a.SetTheirKey(bb.PublicKey()) != nil || bb.SetTheirKey(a.PublicKey()) != nil {
					b.Fatal("set key")
				}
				if !bytes.Equal(must(a.GenerateBytes(sasInfo, 6)), must(bb.GenerateBytes(sasInfo, 6))) {
					b.Fatal("sas mismatch")
				}
				if !hmac.Equal(must(a.MAC(sasMACInput, sasMACInfo)), must(bb.MAC(sasMACInput, sasMACInfo))) {
					b.Fatal("mac mismatch")
				}
				a.Free()
				bb.Free()
			}
		},
		"floor": func(b *testing.B) {
			f := newOlmFloor()
			var out [32]byte
			b.ReportAllocs()
			for b.Loop() {
				ka, kb := f.keygen(), f.keygen()
				for _, k := range []*ecdh.PrivateKey{ka, kb} {
					f.dh(k, 0)
					f.p.HKDF(out[:6], f.secret[:32], sasInfo)
					f.p.HKDF(out[:], f.secret[:32], sasMACInfo)
					mac := f.p.HMAC(out[:], sasMACInput)
					sink ^= mac[0]
				}
			}
		},
	})
}

// backupPayload is the 1 KiB session data JSON of a backed-up session.
var backupPayload = jsonPayload(1024)

// goolmBackup is mautrix's crypto/backup with the wire fields as unpadded
// base64, the form they have in the key backup JSON.
type backupWire struct{ ct, mac, eph []byte }

func BenchmarkBackupEncrypt(b *testing.B) {
	run(b, "BackupEncrypt", impls{
		"goolm": func(b *testing.B) {
			key := must(backup.NewMegolmBackupKey())
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				esd := must(backup.EncryptSessionDataWithPubkey(key.PublicKey(), json.RawMessage(backupPayload)))
				w := backupWire{
					ct:  base64.RawStdEncoding.AppendEncode(nil, esd.Ciphertext),
					mac: base64.RawStdEncoding.AppendEncode(nil, esd.MAC),
					eph: base64.RawStdEncoding.AppendEncode(nil, esd.Ephemeral.Bytes()),
				}
				sink ^= w.ct[0]
			}
		},
		"libolm": func(b *testing.B) {
			_, pub, _ := olmc.NewPkDecryption(randBytes(32))
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				ct, _, _, err := olmc.PkEncrypt(pub, backupPayload)
				if err != nil {
					b.Fatal(err)
				}
				sink ^= ct[0]
			}
		},
		"floor": func(b *testing.B) {
			f := newOlmFloor()
			ct := make([]byte, PadLenFor(1024))
			out := make([]byte, base64.RawStdEncoding.EncodedLen(len(ct)))
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				k := f.keygen()
				f.dh(k, 0)
				f.p.HKDF(f.keys[:], f.secret[:32], nil)
				copy(ct, backupPayload)
				for i := 1024; i < len(ct); i++ {
					ct[i] = 16
				}
				floorCBCEnc(f.keys[:32], f.keys[64:], ct)
				mac := f.p.HMAC(f.keys[32:64], nil)
				sink ^= mac[0]
				base64.RawStdEncoding.Encode(out, ct)
			}
		},
	})
}

func BenchmarkBackupDecrypt(b *testing.B) {
	priv := randBytes(32)
	dec, pub, _ := olmc.NewPkDecryption(priv)
	ct, mac, eph := must3(olmc.PkEncrypt(pub, backupPayload))
	run(b, "BackupDecrypt", impls{
		"goolm": func(b *testing.B) {
			key := must(backup.MegolmBackupKeyFromBytes(priv))
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				var esd backup.EncryptedSessionData[json.RawMessage]
				esd.Ciphertext = must(base64.RawStdEncoding.AppendDecode(nil, ct))
				esd.MAC = must(base64.RawStdEncoding.AppendDecode(nil, mac))
				esd.Ephemeral.PublicKey = must(ecdh.X25519().NewPublicKey(must(base64.RawStdEncoding.AppendDecode(nil, eph))))
				pt := must(esd.Decrypt(key))
				if len(*pt) != 1024 {
					b.Fatal("decrypt")
				}
			}
		},
		"libolm": func(b *testing.B) {
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				pt, err := dec.Decrypt(eph, mac, ct)
				if err != nil || len(pt) != 1024 {
					b.Fatal(err)
				}
			}
		},
		"floor": func(b *testing.B) {
			f := newOlmFloor()
			k := f.keygen()
			raw := make([]byte, len(ct))
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				n, _ := base64.RawStdEncoding.Decode(raw, ct)
				f.dh(k, 0)
				f.p.HKDF(f.keys[:], f.secret[:32], nil)
				mac := f.p.HMAC(f.keys[32:64], nil)
				sink ^= mac[0]
				floorCBCDec(f.keys[:32], f.keys[64:], raw[:n])
			}
		},
	})
}

func must3[A, B, C any](a A, b B, c C, err error) (A, B, C) {
	if err != nil {
		panic(err)
	}
	return a, b, c
}

// olmcPk and olmcEncrypt expose the libolm PK shim to the sicher side's
// fixtures (libolm-made ciphertexts are the shared input).
func olmcPk(priv []byte) (*olmc.PkDecryption, []byte, error) { return olmc.NewPkDecryption(priv) }

func olmcEncrypt(pub, pt []byte) ([]byte, []byte, []byte, error) { return olmc.PkEncrypt(pub, pt) }
