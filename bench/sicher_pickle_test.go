package bench

import (
	"encoding/base64"
	"testing"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

var ownPickleKey = func() *[olm.PickleKeySize]byte {
	var k [olm.PickleKeySize]byte
	copy(k[:], pickleKey)
	return &k
}()

// sicherPickleCases are the sicher objects of peerPickleCases, in libolm's
// pickle format (as the peers use); sicherOwnPickleCases use sicher's own
// format (AES-256-GCM envelope, what sicher recommends for storage).
func sicherPickleCases() (libolm, own []pickleCase) {
	acct := must(olm.NewAccount())
	if _, _, err := acct.GenerateOneTimeKeys(50); err != nil {
		panic(err)
	}
	x := newSicherOlmPair()
	igs := must(megolm.NewInboundSession(must(megolm.ParseSessionKey(must(base64.RawStdEncoding.DecodeString(string(megolmFix.sessionKey)))))))
	libolm = []pickleCase{
		{"Account50", func() []byte { return []byte(acct.PickleLibolm(pickleKey)) },
			func(b []byte) any { return must(olm.UnpickleLibolmAccount(pickleKey, string(b))) },
			func() any { return must(olm.UnpickleLibolmAccount(pickleKey, acct.PickleLibolm(pickleKey))) }},
		{"OlmSession", func() []byte { return []byte(x.aliceS.PickleLibolm(pickleKey)) },
			func(b []byte) any { return must(olm.UnpickleLibolmSession(pickleKey, string(b))) },
			func() any { return must(olm.UnpickleLibolmSession(pickleKey, x.aliceS.PickleLibolm(pickleKey))) }},
		{"InboundGroupSession", func() []byte { return []byte(libolmPickle(igs, pickleKey)) },
			func(b []byte) any { return must(megolm.UnpickleLibolmInboundSession(pickleKey, string(b))) },
			func() any { return must(megolm.UnpickleLibolmInboundSession(pickleKey, libolmPickle(igs, pickleKey))) }},
	}
	own = []pickleCase{
		{"Account50", func() []byte { return []byte(must(acct.Pickle(ownPickleKey))) },
			func(b []byte) any { return must(olm.UnpickleAccount(ownPickleKey, string(b))) },
			func() any { return must(olm.UnpickleAccount(ownPickleKey, must(acct.Pickle(ownPickleKey)))) }},
		{"OlmSession", func() []byte { return []byte(must(x.aliceS.Pickle(ownPickleKey))) },
			func(b []byte) any { return must(olm.UnpickleSession(ownPickleKey, string(b))) },
			func() any { return must(olm.UnpickleSession(ownPickleKey, must(x.aliceS.Pickle(ownPickleKey)))) }},
		{"InboundGroupSession", func() []byte { return []byte(must(igs.Pickle(ownPickleKey))) },
			func(b []byte) any { return must(megolm.UnpickleInboundSession(ownPickleKey, string(b))) },
			func() any { return must(megolm.UnpickleInboundSession(ownPickleKey, must(igs.Pickle(ownPickleKey)))) }},
	}
	return libolm, own
}

func init() {
	libolm, own := sicherPickleCases()
	for _, c := range libolm {
		sicherBench["Pickle/"+c.name] = func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.roundTrip()
			}
		}
		pkl := c.pickle()
		sicherMemory = append(sicherMemory, memoryCase{c.name, "sicher", func() any { return c.unpickle(pkl) }, len(pkl)})
	}
	for _, c := range own {
		sicherOwnPickle = append(sicherOwnPickle, c)
		pkl := c.pickle()
		sicherMemory = append(sicherMemory, memoryCase{c.name + "(own-pickle)", "sicher", func() any { return c.unpickle(pkl) }, len(pkl)})
	}
}

var sicherOwnPickle []pickleCase

// BenchmarkPickleOwn: pickle+unpickle in sicher's own format (sicher only;
// no peer has this format).
func BenchmarkPickleOwn(b *testing.B) {
	for _, c := range sicherOwnPickle {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.roundTrip()
			}
		})
	}
}

// libolmPickle is PickleLibolm of a Megolm session or backup key, whose
// libolm form cannot fail.
func libolmPickle(s interface{ PickleLibolm([]byte) (string, error) }, pickleKey []byte) string {
	p, err := s.PickleLibolm(pickleKey)
	if err != nil {
		panic(err)
	}
	return p
}
