package bench

import (
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/sicher-go/sicher/bench/floor"
)

// pickleObjects returns, for a peer, pickles of an account with 50
// unpublished one-time keys, an established Olm session and an inbound
// group session, and functions that unpickle each.
type pickleCase struct {
	name     string
	pickle   func() []byte      // pickles a live object
	unpickle func(p []byte) any // restores one
	// roundTrip, when set, is pickle and unpickle through the
	// implementation's own types (sicher's pickles are strings), so that
	// the timed loop does not pay the []byte conversions above.
	roundTrip func() any
}

func peerPickleCases(p peer) []pickleCase {
	acct := must(p.newAccount())
	if err := acct.GenOneTimeKeys(50); err != nil {
		panic(err)
	}
	x := newOlmPair(p)
	igs := must(p.newInboundGroup(megolmFix.sessionKey))
	return []pickleCase{
		{"Account50", func() []byte { return must(acct.Pickle(pickleKey)) },
			func(b []byte) any { return must(p.accountFromPkl(b, pickleKey)) }, nil},
		{"OlmSession", func() []byte { return must(x.aliceS.Pickle(pickleKey)) },
			func(b []byte) any { return must(p.sessionFromPkl(b, pickleKey)) }, nil},
		{"InboundGroupSession", func() []byte { return must(igs.Pickle(pickleKey)) },
			func(b []byte) any { return must(p.igsFromPkl(b, pickleKey)) }, nil},
	}
}

// pickleFloor: two HKDFs ("Pickle"), AES-CBC both ways, the 8-byte MAC
// both ways and base64 both ways over a plaintext of n bytes, plus what
// the API's contract cannot avoid: pickling returns a new string (one
// allocation of the encoded length, written once) and unpickling returns
// a new object holding the state (one allocation of the plaintext length,
// filled by a copy). Serialising and parsing are not counted.
func pickleFloor(n int) func(b *testing.B) {
	return func(b *testing.B) {
		p := floor.New()
		var keys [80]byte
		pt := payload(n)
		ct := make([]byte, floor.PadLen(n)+8)
		out := make([]byte, base64.RawStdEncoding.EncodedLen(len(ct)))
		b.ReportAllocs()
		for b.Loop() {
			p.HKDF(keys[:], pickleKey, infoPickle)
			body := ct[:len(ct)-8]
			copy(body, pt)
			for i := n; i < len(body); i++ {
				body[i] = byte(len(body) - n)
			}
			floor.CBCEncrypt(keys[:32], keys[64:], body, body)
			p.SetKey(keys[32:64])
			mac := p.MAC(body, nil)
			copy(ct[len(body):], mac[:8])
			base64.RawStdEncoding.Encode(out, ct)
			pickled := string(out)

			m, _ := base64.RawStdEncoding.Decode(ct, []byte(pickled))
			p.HKDF(keys[:], pickleKey, infoPickle)
			p.SetKey(keys[32:64])
			mac = p.MAC(ct[:m-8], nil)
			sink ^= mac[0]
			floor.CBCDecrypt(keys[:32], keys[64:], ct[:m-8], ct[:m-8])
			state := make([]byte, n)
			copy(state, ct)
			pickleSink = state
		}
	}
}

// pickleSink keeps pickleFloor's restored state on the heap, as an
// unpickled object is.
var pickleSink []byte

// plaintextLen is the pickle plaintext length behind a libolm-format pickle
// of s base64 characters (8-byte MAC, 1..16 bytes of padding; the floor
// takes the padded length minus one block plus one byte).
func plaintextLen(s int) int {
	raw := s * 3 / 4
	return raw - 8 - 1
}

func BenchmarkPickle(b *testing.B) {
	cases := map[string][]pickleCase{}
	for pn, p := range peers {
		cases[pn] = peerPickleCases(p)
	}
	for i, c := range cases["goolm"] {
		b.Run(c.name, func(b *testing.B) {
			m := impls{}
			for pn := range peers {
				pc := cases[pn][i]
				m[pn] = func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						pc.unpickle(pc.pickle())
					}
				}
			}
			m["floor"] = pickleFloor(plaintextLen(len(c.pickle())))
			run(b, "Pickle/"+c.name, m)
		})
	}
}

// memoryCase measures one object kind for one implementation: a function
// that builds a fresh object (from a pickle, so only the object itself is
// retained) and the pickle's length.
type memoryCase struct {
	object, impl string
	build        func() any
	pickleLen    int
}

// sicherMemory is filled by sicher_test.go.
var sicherMemory []memoryCase

// heapPerObject returns the live heap bytes per object built by f.
func heapPerObject(f func() any) float64 {
	const n = 200
	keep := make([]any, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = f()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
}

// TestMemory prints "MEM <object> <impl> <heap bytes> <pickle bytes>" lines
// for run.sh (with BENCH_MEMORY=1).
func TestMemory(t *testing.T) {
	if os.Getenv("BENCH_MEMORY") == "" {
		t.Skip("set BENCH_MEMORY=1")
	}
	var all []memoryCase
	for pn, p := range peers {
		for _, c := range peerPickleCases(p) {
			pkl := c.pickle()
			all = append(all, memoryCase{c.name, pn, func() any { return c.unpickle(pkl) }, len(pkl)})
		}
	}
	all = append(all, sicherMemory...)
	for _, c := range all {
		fmt.Printf("MEM %s %s %.0f %d\n", c.object, c.impl, heapPerObject(c.build), c.pickleLen)
	}
}
