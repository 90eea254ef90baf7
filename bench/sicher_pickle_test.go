package bench

import (
	"testing"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

var ownPickleKey = func() *[olm.PickleKeySize]byte {
	var k [olm.PickleKeySize]byte
	copy(k[:], pickleKey)
	return &k
}()

// sicherPickleCases are the sicher objects of peerPickleCases. The
// inbound group session uses libolm's pickle format (as the peers do);
// olm.Account and olm.Session have only sicher's own format (AES-256-GCM
// envelope) so far, which RESULTS.md notes.
func sicherPickleCases() []pickleCase {
	acct := must(olm.NewAccount())
	if _, _, err := acct.GenerateOneTimeKeys(50); err != nil {
		panic(err)
	}
	x := newSicherOlmPair()
	igs := must(megolm.NewInboundSession(must(megolm.ParseSessionKey(string(megolmFix.sessionKey)))))
	return []pickleCase{
		{"Account50", func() []byte { return []byte(must(acct.Pickle(ownPickleKey))) },
			func(b []byte) any { return must(olm.UnpickleAccount(ownPickleKey, string(b))) }},
		{"OlmSession", func() []byte { return []byte(must(x.aliceS.Pickle(ownPickleKey))) },
			func(b []byte) any { return must(olm.UnpickleSession(ownPickleKey, string(b))) }},
		{"InboundGroupSession", func() []byte { return []byte(igs.PickleLibolm(pickleKey)) },
			func(b []byte) any { return must(megolm.UnpickleLibolmInboundSession(string(b), pickleKey)) }},
	}
}

func init() {
	cases := sicherPickleCases()
	for _, c := range cases {
		sicherBench["Pickle/"+c.name] = func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.unpickle(c.pickle())
			}
		}
		pkl := c.pickle()
		sicherMemory = append(sicherMemory, memoryCase{c.name, "sicher", func() any { return c.unpickle(pkl) }, len(pkl)})
	}
}
