package bench

import (
	"encoding/base64"
	"fmt"
	"sync"
	"testing"

	"github.com/sicher-go/sicher/megolm"
)

func workersName(w int) string { return fmt.Sprintf("workers=%d", w) }

// BenchmarkBulkMegolmDecrypt decrypts 10,000 Megolm messages of 100
// sessions (100 each, interleaved as in a sync of many rooms). megolm has
// no bulk API, so the harness shards by session (an InboundSession is not
// safe for concurrent use) over w goroutines and writes results in input
// order: this measures how far the per-message work scales on the machine.
func BenchmarkBulkMegolmDecrypt(b *testing.B) {
	const nSessions, perSession = 100, 100
	type msg struct {
		session int
		raw     []byte
	}
	var keys []*megolm.SessionKey
	var msgs []msg
	outs := make([]*megolm.OutboundSession, nSessions)
	for i := range outs {
		outs[i] = must(megolm.NewOutboundSession(nil))
		keys = append(keys, outs[i].SessionKey())
	}
	pt := payload(200)
	for range perSession {
		for s, o := range outs {
			text := o.EncryptBase64(pt)
			msgs = append(msgs, msg{s, must(base64.RawStdEncoding.DecodeString(text))})
		}
	}
	for _, w := range []int{1, 2} {
		b.Run(workersName(w), func(b *testing.B) {
			ins := make([]*megolm.InboundSession, nSessions)
			for i, k := range keys {
				ins[i] = must(megolm.NewInboundSession(k))
			}
			results := make([][]byte, len(msgs))
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for worker := range w {
					wg.Go(func() {
						var err error
						for i, m := range msgs {
							if m.session%w != worker {
								continue
							}
							if results[i], _, err = ins[m.session].Decrypt(results[i][:0], m.raw); err != nil {
								panic(err)
							}
						}
					})
				}
				wg.Wait()
			}
		})
	}
}
