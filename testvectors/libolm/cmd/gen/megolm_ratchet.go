package main

import (
	"crypto/sha256"
	"encoding/binary"

	tv "github.com/sicher-go/sicher/testvectors"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

// The ratchet libolm's tests/test_megolm.cpp starts from.
var megolmTestData = func() (d [128]byte) {
	copy(d[:], "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"+
		"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF")
	return d
}()

type ratchetRun struct {
	v tv.MegolmRatchet
	m libolm.Megolm
}

func newRatchetRun(name, source string, data [128]byte, counter uint32) *ratchetRun {
	r := &ratchetRun{m: libolm.MegolmInit(data, counter)}
	r.v = tv.MegolmRatchet{Meta: tv.Meta{Name: name, Source: source, Expect: tv.OK}, Initial: data[:], Counter: counter}
	return r
}

func (r *ratchetRun) advance() *ratchetRun {
	r.m.Advance()
	r.v.Ops = append(r.v.Ops, tv.MegolmOp{Op: "advance", Data: clone(r.m.Data[:]), Counter: r.m.Counter})
	return r
}

func (r *ratchetRun) advanceTo(n uint32) *ratchetRun {
	r.m.AdvanceTo(n)
	r.v.Ops = append(r.v.Ops, tv.MegolmOp{Op: "advance_to", To: n, Data: clone(r.m.Data[:]), Counter: r.m.Counter})
	return r
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func genMegolmRatchet() {
	const srcUp = "libolm tests/test_megolm.cpp (V3), checked against libolm 3.2.13"
	var vs []tv.MegolmRatchet

	// V3: the three full-state vectors and the equivalences.
	expected1 := unhex("303132333435363738394142434445463031323334353637383941424344454630313233343536373839414243444546303132333435363738394142434445463031323334353637383941424344454630313233343536373839414243444546ba9cd955741d1c162323ec825e7c5ce889bbb423a18f23828fb2090d6e2af86a")
	expected2 := unhex("54022d7dc0298e1637e21c97153092f933c056ff74fe1b922d971f2482c2859c7004c01ee49bd6efe0073525af9b1632c5be726d12349cc5bd472bdc2df6540f3112591194fda617e568c683101eaecd7eddd6de1fbc0767ae34da1a09a54eabba9cd955741d1c162323ec825e7c5ce889bbb423a18f23828fb2090d6e2af86a")
	expected3 := unhex("54022d7dc0298e1637e21c97153092f933c056ff74fe1b922d971f2482c2859c55588df5b7a48878428927868164589f3663447b51edc3595b036ca604c46dcd5c54850bfa98a1fd79a9df1cbe8fc5681937d30c85c8c31f7bb828816cf9ff3b956cbf807e65126a49558d45c84a2e4cd56f03e24416b98e1cfd97c206aa907a")
	r := newRatchetRun("V3 advance", srcUp, megolmTestData, 0).advance()
	same("V3 expected1", r.m.Data[:], expected1)
	vs = append(vs, r.v)
	r = newRatchetRun("V3 advance_to 1, 0x1000000, 0x1041506", srcUp, megolmTestData, 0).advanceTo(1)
	same("V3 expected1 via advance_to", r.m.Data[:], expected1)
	r.advanceTo(0x1000000)
	same("V3 expected2", r.m.Data[:], expected2)
	r.advanceTo(0x1041506)
	same("V3 expected3", r.m.Data[:], expected3)
	vs = append(vs, r.v)
	a := newRatchetRun("V3 wraparound 0xffffffff to 0x1000000", srcUp, megolmTestData, 0xffffffff).advanceTo(0x1000000)
	b := newRatchetRun("V3 wraparound 0 to 0x2000000", srcUp, megolmTestData, 0).advanceTo(0x2000000)
	same("V3 wraparound equivalence", a.m.Data[:], b.m.Data[:])
	vs = append(vs, a.v, b.v)

	// V4: vodozemac's advancing_back_creates_the_correct_bytes.
	r = newRatchetRun("V4 zero ratchet advance then advance_to 0 (full wrap)",
		"vodozemac src/megolm/ratchet.rs advancing_back_creates_the_correct_bytes (V4), checked against libolm 3.2.13",
		[128]byte{}, 0).advance().advanceTo(0)
	same("V4 prefix", r.m.Data[:8], []byte{23, 172, 138, 192, 105, 192, 252, 68})
	same("V4 suffix", r.m.Data[124:], []byte{24, 205, 26, 90})
	vs = append(vs, r.v)

	// Boundaries: every part of the counter rolling over, from a fixed and
	// from pseudo-random ratchets, single steps and jumps.
	s := tv.NewStream("sicher megolm ratchet boundaries")
	boundaries := []uint32{0, 1, 2, 254, 255, 256, 257, 511, 512, 0xffff, 0x10000, 0x10001, 0x1ffff,
		0xffffff, 0x1000000, 0x1000001, 0x7fffffff, 0x80000000, 0xfeffffff, 0xff000000, 0xfffffeff,
		0xffffff00, 0xfffffffe, 0xffffffff}
	for i, start := range boundaries {
		var d [128]byte
		s.Read(d[:])
		r := newRatchetRun("steps from "+hex32(start), srcLibolm, d, start)
		for range 3 {
			r.advance()
		}
		vs = append(vs, r.v)
		var tbuf [4]byte
		s.Read(tbuf[:])
		r = newRatchetRun("jumps from "+hex32(start)+" #"+itoa(i), srcLibolm, d, start)
		for _, to := range []uint32{start + 1, start + 0x100, start + 0x10000, start + 0x1000000, binary.BigEndian.Uint32(tbuf[:]), start} {
			r.advanceTo(to)
		}
		vs = append(vs, r.v)
	}
	emit("megolm/ratchet.json", "megolm/ratchet",
		"The raw Megolm ratchet (libolm src/megolm.c): megolm_init, advance, advance_to, with the state after every op. Upstream V3 (libolm test_megolm.cpp) and V4 (vodozemac), plus every counter boundary from libolm. The ratchet is internal to package megolm; replay from its internal tests.", vs)

	// Accumulated digests.
	var ds []tv.MegolmRatchetDigest
	for _, c := range []struct {
		seed  string
		pairs int
	}{{"sicher megolm digest small", 256}, {"sicher megolm digest large", 4096}, {"sicher megolm digest 2", 2048}} {
		v := tv.MegolmRatchetDigest{Meta: tv.Meta{Name: c.seed, Source: srcLibolm, Expect: tv.OK}, Seed: c.seed, Pairs: c.pairs}
		h := sha256.New()
		v.Each(func(initial *[128]byte, start, target uint32) {
			m := libolm.MegolmInit(*initial, start)
			m.AdvanceTo(target)
			h.Write(m.Data[:])
			h.Write(binary.BigEndian.AppendUint32(nil, m.Counter))
		})
		v.Digest = h.Sum(nil)
		ds = append(ds, v)
	}
	emit("megolm/ratchet_digest.json", "megolm/ratchet_digest",
		"Accumulated Megolm ratchet test: thousands of pseudo-random (initial, start, target) triples (testvectors.MegolmRatchetDigest.Each) through megolm_init + megolm_advance_to, state hashed into one SHA-256 digest.", ds)
}

func hex32(n uint32) string {
	const digits = "0123456789abcdef"
	b := []byte("0x00000000")
	for i := 9; i >= 2; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b)
}
