package megolm

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

var benchSizes = []int{100, 1024, 64 << 10}

func BenchmarkEncrypt(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			out := newTestOutbound(b, 'b')
			pt := make([]byte, n)
			buf := make([]byte, 0, messageLen(0xffffffff, n))
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

// BenchmarkDecryptAll decrypts 2,000 messages of 100 sessions (20 each,
// interleaved as in a sync of many rooms) with one worker and with
// GOMAXPROCS workers: the ratio is how far DecryptAll scales.
func BenchmarkDecryptAll(b *testing.B) {
	const nSessions, perSession = 100, 20
	var keys []*SessionKey
	var raw [][]byte
	var owner []int
	outs := make([]*OutboundSession, nSessions)
	for i := range outs {
		outs[i], _ = NewOutboundSession()
		keys = append(keys, outs[i].SessionKey())
	}
	pt := make([]byte, 200)
	for range perSession {
		for s, o := range outs {
			raw = append(raw, o.Encrypt(nil, pt))
			owner = append(owner, s)
		}
	}
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			msgs := make([]BulkMessage, len(raw))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ins := make([]*InboundSession, nSessions)
				for i, k := range keys {
					ins[i], _ = NewInboundSession(k)
				}
				for i := range msgs {
					msgs[i] = BulkMessage{ins[owner[i]], raw[i]}
				}
				b.StartTimer()
				for _, r := range decryptAll(context.Background(), msgs, workers) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
		})
	}
}
