package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"testing"

	"github.com/sicher-go/sicher/megolm"
)

func workersName(w int) string { return fmt.Sprintf("workers=%d", w) }

// BenchmarkBulkMegolmDecrypt decrypts 10,000 Megolm messages of 100
// sessions (100 each, interleaved as in a sync of many rooms) with
// megolm.DecryptAll, with one worker and with two (GOMAXPROCS). Fresh sessions
// are made outside the timed region for every iteration, so each one
// decrypts the same messages from the same state.
func BenchmarkBulkMegolmDecrypt(b *testing.B) {
	const nSessions, perSession = 100, 100
	var keys []*megolm.SessionKey
	var raw [][]byte
	var owner []int
	outs := make([]*megolm.OutboundSession, nSessions)
	for i := range outs {
		outs[i] = must(megolm.NewOutboundSession())
		keys = append(keys, outs[i].SessionKey())
	}
	pt := payload(200)
	for range perSession {
		for s, o := range outs {
			text := base64.RawStdEncoding.EncodeToString(o.Encrypt(nil, pt))
			raw = append(raw, must(base64.RawStdEncoding.DecodeString(text)))
			owner = append(owner, s)
		}
	}
	for _, w := range []int{1, 2} {
		b.Run(workersName(w), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(w)) // DecryptAll uses GOMAXPROCS workers
			msgs := make([]megolm.BulkMessage, len(raw))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ins := make([]*megolm.InboundSession, nSessions)
				for i, k := range keys {
					ins[i] = must(megolm.NewInboundSession(k))
				}
				for i := range msgs {
					msgs[i] = megolm.BulkMessage{Session: ins[owner[i]], Message: raw[i]}
				}
				b.StartTimer()
				for _, r := range megolm.DecryptAll(context.Background(), msgs) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
		})
	}
}
