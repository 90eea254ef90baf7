package driver_test

import (
	"bytes"
	"testing"

	"github.com/sicher-go/sicher/megolm"
	sicherolm "github.com/sicher-go/sicher/olm"
)

// The BenchmarkAPI* benchmarks run the operations of the rows that are
// close to goolm through sicher's own API, without the driver: binary
// messages instead of base64, a derived pickle key. Set against the
// driver's row (BenchmarkX/sicher) they show what the driver adds.

func BenchmarkAPIMegolmDecrypt(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			out := must(megolm.NewOutboundSession())
			in := must(megolm.NewInboundSession(out.SessionKey()))
			msg := out.Encrypt(nil, bytes.Repeat([]byte("x"), n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if _, _, err := in.Decrypt(nil, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAPIMegolmEncrypt(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			out := must(megolm.NewOutboundSession())
			pt := bytes.Repeat([]byte("x"), n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				out.Encrypt(nil, pt)
			}
		})
	}
}

func BenchmarkAPIAccountCreate(b *testing.B) {
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		must(sicherolm.NewAccount())
	}
}

func BenchmarkAPIPickleAccount50(b *testing.B) {
	a := must(sicherolm.NewAccount())
	if _, _, err := a.GenerateOneTimeKeys(50); err != nil {
		b.Fatal(err)
	}
	k := sicherolm.DerivePickleKey(pickleKey)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		p := must(a.Pickle(k))
		must(sicherolm.UnpickleAccount(k, p))
	}
}

func BenchmarkAPISign(b *testing.B) {
	a := must(sicherolm.NewAccount())
	msg := bytes.Repeat([]byte("x"), 200)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		a.Sign(msg)
	}
}
