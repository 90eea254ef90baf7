package bench

import (
	"testing"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/sas"
)

func init() {
	// Both parties: keys exchanged as unpadded base64, 6 SAS bytes each,
	// Alice's MAC of one key made and checked by Bob (hkdf-hmac-sha256.v2).
	sicherBench["SAS"] = func(b *testing.B) {
		info, macInfo := string(sasInfo), string(sasMACInfo)
		b.ReportAllocs()
		for b.Loop() {
			a, err := sas.New()
			if err != nil {
				b.Fatal(err)
			}
			bb, err := sas.New()
			if err != nil {
				b.Fatal(err)
			}
			apub, bpub := a.PublicKey().String(), bb.PublicKey().String()
			ea, err := a.SetTheirKey(must(key.ParseCurve25519(bpub)))
			if err != nil {
				b.Fatal(err)
			}
			eb, err := bb.SetTheirKey(must(key.ParseCurve25519(apub)))
			if err != nil {
				b.Fatal(err)
			}
			if ea.Emoji(info) != eb.Emoji(info) {
				b.Fatal("sas mismatch")
			}
			mac, err := ea.MAC(sas.HKDFHMACSHA256V2, sasMACInput, macInfo)
			if err != nil {
				b.Fatal(err)
			}
			if err := eb.VerifyMAC(sas.HKDFHMACSHA256V2, sasMACInput, macInfo, mac); err != nil {
				b.Fatal(err)
			}
		}
	}
}
