package megolm

import (
	"fmt"
	"testing"
)

var benchSizes = []int{100, 1024, 64 << 10}

func BenchmarkEncrypt(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			out := newTestOutbound(b, 'b')
			pt := make([]byte, n)
			buf := make([]byte, 0, MessageLen(0xffffffff, n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				buf = out.Encrypt(buf[:0], pt)
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			out := newTestOutbound(b, 'b')
			in, err := NewInboundSession(out.SessionKey())
			if err != nil {
				b.Fatal(err)
			}
			msg := out.Encrypt(nil, make([]byte, n))
			buf := make([]byte, 0, n+16)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				// The same message each time: the latest ratchet is used as is.
				buf, _, err = in.Decrypt(buf[:0], msg)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecryptFreshAt1M is a fresh inbound session (index 0)
// decrypting a message at index 1,000,000: one advanceTo from the start.
func BenchmarkDecryptFreshAt1M(b *testing.B) {
	out := newTestOutbound(b, 'c')
	sk := out.SessionKey()
	out.r.advanceTo(1_000_000)
	msg := out.Encrypt(nil, make([]byte, 100))
	b.ReportAllocs()
	for b.Loop() {
		in, err := NewInboundSession(sk)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := in.Decrypt(nil, msg); err != nil {
			b.Fatal(err)
		}
	}
}
