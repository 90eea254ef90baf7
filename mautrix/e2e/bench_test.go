package e2e

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sicher-go/sicher/mautrix/driver"
	"github.com/sicher-go/sicher/mautrix/internal/cputime"
	"maunium.net/go/mautrix/crypto/goolm"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/mockserver"
)

// drivers are the olm drivers the machine benchmarks switch between (by
// calling their Register, as mautrix's own init does); libolm joins in a
// cgo build without the goolm tag.
var drivers = []struct {
	name     string
	register func()
}{
	{"goolm", goolm.Register},
	{"sicher", driver.Register},
}

// BenchmarkDecrypt10000RoomEvents: Bob's OlmMachine decrypts 10,000
// Megolm room events (DecryptMegolmEvent: store lookup, replay check,
// decryption, JSON), with each driver. One op is all 10,000 events of a
// new Megolm session, in order, each once, as a client receives them; the
// session's rotation, its sharing and the encryption are not timed.
// (Decrypting the same events again would cost more: each message before
// the session's latest index is reached from its first ratchet.)
func BenchmarkDecrypt10000RoomEvents(b *testing.B) {
	const n = 10000
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			d.register()
			defer driver.Register()
			ctx := context.Background()
			ms := mockserver.Create(b)
			aliceC, alice := login(b, ms, "@alice:localhost", "ALICE", nil)
			bobC, bob := login(b, ms, "@bob:localhost", "BOB", nil)
			nop := zerolog.Nop()
			alice.Machine().Log, bob.Machine().Log = &nop, &nop
			if err := aliceC.StateStore.SetEncryptionEvent(ctx, room, &event.EncryptionEventContent{
				Algorithm: id.AlgorithmMegolmV1, RotationPeriodMessages: 2 * n, RotationPeriodMillis: 1 << 40,
			}); err != nil {
				b.Fatal(err)
			}
			// events rotates Alice's Megolm session, shares it with Bob and
			// returns n events encrypted with it.
			events := func() []*event.Event {
				if err := alice.Machine().CryptoStore.RemoveOutboundGroupSession(ctx, room); err != nil {
					b.Fatal(err)
				}
				share(b, ms, alice.Machine(), bobC, bob.Machine())
				evts := make([]*event.Event, n)
				for i := range evts {
					enc, err := alice.Machine().EncryptMegolmEvent(ctx, room, event.EventMessage, map[string]string{"body": fmt.Sprintf("message %d", i)})
					if err != nil {
						b.Fatal(err)
					}
					evts[i] = &event.Event{Type: event.EventEncrypted, ID: id.EventID(fmt.Sprintf("$%s%d", enc.SessionID, i)), RoomID: room, Sender: aliceC.UserID, Content: event.Content{Parsed: enc}}
				}
				return evts
			}
			b.ReportAllocs()
			var cpu int64 // CPU time of the timed part (see cputime)
			for b.Loop() {
				b.StopTimer()
				evts := events()
				runtime.GC() // the setup's garbage is not the decryption's
				b.StartTimer()
				start := cputime.Now()
				for _, evt := range evts {
					if _, err := bob.Machine().DecryptMegolmEvent(ctx, evt); err != nil {
						b.Fatal(err)
					}
				}
				cpu += cputime.Now() - start
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N*n), "cpu-ns/event")
			}
		})
	}
}
