package megolm

import (
	"crypto/subtle"
	"fmt"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/hmacsha256"
)

const (
	partSize    = 32
	partCount   = 4
	ratchetSize = partSize * partCount // 128 bytes: R0 ‖ R1 ‖ R2 ‖ R3
)

// ratchet is the Megolm ratchet of megolm.md: four 32-byte parts R0..R3 and
// the counter i they belong to. R0 changes every 2^24 steps, R1 every 2^16,
// R2 every 2^8 and R3 every step; the 128 bytes together seed the message
// keys of index i. A ratchet is secret; copying the value copies the state
// (the inbound session relies on that to work on copies).
type ratchet struct {
	data    [ratchetSize]byte
	counter uint32
}

func (r *ratchet) part(j int) *[partSize]byte {
	return (*[partSize]byte)(r.data[j*partSize : (j+1)*partSize])
}

// hmacPart sets *dst = H_j(*src) = HMAC-SHA-256(key = src, data = byte j)
// (megolm.md, "the ratchet"). dst may be src. It does not allocate.
func hmacPart(dst, src *[partSize]byte, j byte) {
	*dst = hmacsha256.Sum(src[:], []byte{j})
}

// testHookRehash, when set by a test, is called once per HMAC.
var testHookRehash func()

// rehash sets R_to = H_to(R_from).
func (r *ratchet) rehash(from, to int) {
	if testHookRehash != nil {
		testHookRehash()
	}
	hmacPart(r.part(to), r.part(from), byte(to))
}

// advance moves the ratchet one step forward (libolm megolm_advance): the
// counter is incremented (wrapping from 2^32-1 to 0 as libolm does), h is
// the most significant part whose byte of the counter rolled over, and
// R_3, ..., R_h are re-derived from the old R_h, R_h itself last.
func (r *ratchet) advance() {
	r.counter++
	h := 3
	switch {
	case r.counter&0x00ffffff == 0:
		h = 0
	case r.counter&0x0000ffff == 0:
		h = 1
	case r.counter&0x000000ff == 0:
		h = 2
	}
	for k := 3; k >= h; k-- {
		r.rehash(h, k)
	}
}

// advanceTo moves the ratchet to counter n with libolm's megolm_advance_to:
// for each part j from R0 to R3 it computes how many times the counter's
// byte j must roll forward (modulo 256: a distance of 0 with n below the
// counter means a full turn of R0, i.e. the counter wraps past 2^32),
// hashes R_j that many times less one in place, then re-derives R_3..R_j
// from it. The cost is bounded by 4·(255+4) HMACs whatever the distance,
// so no gap limit is needed. n equal to the counter changes nothing.
func (r *ratchet) advanceTo(n uint32) {
	for j := range partCount {
		shift := uint(8 * (partCount - 1 - j))
		steps := ((n >> shift) - (r.counter >> shift)) & 0xff
		if steps == 0 {
			if n >= r.counter {
				continue
			}
			steps = 0x100 // wrapped around: a full turn of R_j (only R0 can get here)
		}
		for ; steps > 1; steps-- {
			r.rehash(j, j)
		}
		for k := partCount - 1; k >= j; k-- {
			r.rehash(j, k)
		}
		r.counter = n & (0xffffffff << shift)
	}
}

// keys derives the message keys of the ratchet's current index
// (megolm.md: HKDF-SHA-256 with info "MEGOLM_KEYS" over R0‖R1‖R2‖R3).
func (r *ratchet) keys() aessha2.Keys {
	return aessha2.Derive(r.data[:], aessha2.InfoMegolm)
}

// equal reports in constant time whether r and o hold the same parts and
// counter.
func (r *ratchet) equal(o *ratchet) bool {
	return subtle.ConstantTimeCompare(r.data[:], o.data[:])&
		subtle.ConstantTimeEq(int32(r.counter), int32(o.counter)) == 1
}

// Format redacts the ratchet for every verb.
func (r ratchet) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "megolm.ratchet{index: %d}", r.counter) }

// wipe clears the ratchet.
func (r *ratchet) wipe() {
	clear(r.data[:])
	r.counter = 0
}
