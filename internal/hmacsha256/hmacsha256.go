// Package hmacsha256 computes HMAC-SHA-256 (RFC 2104) and HKDF-SHA-256
// (RFC 5869) without heap allocations.
//
// It exists because sicher's hot paths are made of these two functions:
// every Olm chain step and message key, every Megolm ratchet step (up to
// ~1000 per advance), and the key expansion of every message. crypto/hmac
// and crypto/hkdf allocate several objects per call (hmac.New builds two
// hash states and pads for every new key); here the SHA-256 states come
// from a pool and are re-keyed in place, so a call costs the SHA-256
// compressions and nothing else. The construction is the textbook one,
// built on crypto/sha256, and the tests check it against crypto/hmac,
// crypto/hkdf and the RFC 4231 and RFC 5869 vectors.
//
// All inputs and outputs are secret; the functions run in time that
// depends only on the lengths of their inputs.
package hmacsha256

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

// Size is the size of an HMAC-SHA-256 output.
const Size = sha256.Size

const blockSize = sha256.BlockSize

type state struct {
	inner, outer hash.Hash
	pad          [blockSize]byte
	sum          [Size]byte
	buf          [Size + 256]byte // T(i-1) ‖ info ‖ counter for HKDF-Expand
	// Saved keyed states (HKDF-Expand keys every block with the same PRK):
	// restoring one copies ~100 bytes instead of hashing two pad blocks.
	innerKeyed, outerKeyed []byte
}

// snapshotter is the part of crypto/sha256's digest that saves and
// restores its state (encoding.BinaryAppender and BinaryUnmarshaler).
type snapshotter interface {
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
}

const snapshotCap = 128 // a SHA-256 state marshals to 108 bytes

var pool = sync.Pool{New: func() any {
	return &state{
		inner: sha256.New(), outer: sha256.New(),
		innerKeyed: make([]byte, 0, snapshotCap), outerKeyed: make([]byte, 0, snapshotCap),
	}
}}

// zeroSaltInner and zeroSaltOuter are the states keyed with HKDF's default
// salt (32 zero bytes), which every KDF in Olm and Megolm uses.
var zeroSaltInner, zeroSaltOuter = func() ([]byte, []byte) {
	s := pool.New().(*state)
	s.setKey(make([]byte, Size))
	s.save()
	return s.innerKeyed, s.outerKeyed
}()

// save records the current keyed states.
func (s *state) save() {
	var err1, err2 error
	s.innerKeyed, err1 = s.inner.(snapshotter).AppendBinary(s.innerKeyed[:0])
	s.outerKeyed, err2 = s.outer.(snapshotter).AppendBinary(s.outerKeyed[:0])
	if err1 != nil || err2 != nil {
		panic("hmacsha256: internal error: cannot save a SHA-256 state")
	}
}

// restore returns the hashes to the given keyed states.
func (s *state) restore(inner, outer []byte) {
	err1 := s.inner.(snapshotter).UnmarshalBinary(inner)
	err2 := s.outer.(snapshotter).UnmarshalBinary(outer)
	if err1 != nil || err2 != nil {
		panic("hmacsha256: internal error: cannot restore a SHA-256 state")
	}
}

// setKey keys s.inner and s.outer for HMAC under key.
func (s *state) setKey(key []byte) {
	s.pad = [blockSize]byte{}
	if len(key) > blockSize {
		// sha256.Sum256 is a plain function, so key does not escape.
		h := sha256.Sum256(key)
		copy(s.pad[:], h[:])
	} else {
		copy(s.pad[:], key)
	}
	for i := range s.pad {
		s.pad[i] ^= 0x36
	}
	s.inner.Reset()
	s.inner.Write(s.pad[:])
	for i := range s.pad {
		s.pad[i] ^= 0x36 ^ 0x5c
	}
	s.outer.Reset()
	s.outer.Write(s.pad[:])
}

// write feeds p to the inner hash through s.buf, so that p (often a
// secret on the caller's stack) never reaches an interface method and
// never escapes to the heap.
func (s *state) write(p []byte) {
	for len(p) > 0 {
		n := copy(s.buf[:], p)
		s.inner.Write(s.buf[:n])
		p = p[n:]
	}
}

// finish completes the MAC of what was written to s.inner into s.sum.
func (s *state) finish() {
	s.inner.Sum(s.sum[:0])
	s.outer.Write(s.sum[:])
	s.outer.Sum(s.sum[:0])
}

func (s *state) release() {
	s.pad = [blockSize]byte{}
	s.sum = [Size]byte{}
	s.buf = [len(s.buf)]byte{}
	pool.Put(s)
}

// shortMsg is the longest message Sum hashes from stack buffers alone.
const shortMsg = 64

// Sum returns HMAC-SHA-256(key, msg).
func Sum(key, msg []byte) [Size]byte {
	if len(key) <= blockSize && len(msg) <= shortMsg {
		return sumShort(key, msg)
	}
	s := pool.Get().(*state)
	s.setKey(key)
	s.write(msg)
	s.finish()
	out := s.sum
	s.release()
	return out
}

// sumShort computes HMAC-SHA-256 with sha256.Sum256 over fixed-size stack
// buffers: the ratchet steps of Olm and Megolm (a 32-byte key, a 1-byte
// message) cost two SHA-256 calls and touch neither the heap nor the pool.
func sumShort(key, msg []byte) [Size]byte {
	var buf [blockSize + max(shortMsg, Size)]byte
	copy(buf[:], key)
	for i := range blockSize {
		buf[i] ^= 0x36
	}
	n := blockSize + copy(buf[blockSize:], msg)
	inner := sha256.Sum256(buf[:n])
	for i := range blockSize {
		buf[i] ^= 0x36 ^ 0x5c
	}
	copy(buf[blockSize:], inner[:])
	out := sha256.Sum256(buf[:blockSize+Size])
	clear(buf[:])
	clear(inner[:])
	return out
}

// HKDF fills out with HKDF-SHA-256(salt, ikm, info) (RFC 5869). A nil
// salt is the RFC's default, HashLen zero bytes. len(out) must be at most
// 255·32; a longer out is a programming error and panics.
func HKDF(out, salt, ikm []byte, info string) {
	if len(out) > 255*Size {
		panic("hmacsha256: HKDF output longer than 255·32 bytes")
	}
	s := pool.Get().(*state)
	// Extract: PRK = HMAC(salt, IKM).
	if salt == nil {
		s.restore(zeroSaltInner, zeroSaltOuter)
	} else {
		s.setKey(salt)
	}
	s.write(ikm)
	s.finish()
	prk := s.sum
	// Expand: T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i).
	var prev []byte
	s.setKey(prk[:])
	s.save()
	for i := 1; len(out) > 0; i++ {
		if i > 1 {
			s.restore(s.innerKeyed, s.outerKeyed)
		}
		n := copy(s.buf[:], prev)
		if n+len(info)+1 <= len(s.buf) {
			n += copy(s.buf[n:], info)
			s.buf[n] = byte(i)
			s.inner.Write(s.buf[:n+1])
		} else {
			// Long info strings (SAS) are rare: hash them piecewise.
			s.inner.Write(s.buf[:n])
			writeString(s.inner, info)
			s.buf[0] = byte(i)
			s.inner.Write(s.buf[:1])
		}
		s.finish()
		c := copy(out, s.sum[:])
		out = out[c:]
		prev = s.sum[:]
		s.buf = [len(s.buf)]byte{}
	}
	prk = [Size]byte{}
	clear(s.innerKeyed[:cap(s.innerKeyed)])
	clear(s.outerKeyed[:cap(s.outerKeyed)])
	s.release()
}

// writeString writes str to h in chunks through a stack buffer, so no
// []byte conversion of the whole string is allocated.
func writeString(h hash.Hash, str string) {
	var chunk [256]byte
	for len(str) > 0 {
		n := copy(chunk[:], str)
		h.Write(chunk[:n])
		str = str[n:]
	}
}

// Key is an HMAC key whose two pad blocks are hashed once, when it is
// made: a Sum under it then costs the message's blocks and the outer
// block, two SHA-256 compressions fewer than [Sum]. It is secret, and safe
// for concurrent use once made (Sum does not modify it).
type Key struct {
	inner, outer       [snapshotCap]byte // saved keyed SHA-256 states
	innerLen, outerLen uint8
}

// NewKey returns key prepared for repeated MACs.
func NewKey(key []byte) *Key {
	s := pool.Get().(*state)
	s.setKey(key)
	s.save()
	k := new(Key)
	k.innerLen = uint8(copy(k.inner[:], s.innerKeyed))
	k.outerLen = uint8(copy(k.outer[:], s.outerKeyed))
	clear(s.innerKeyed[:cap(s.innerKeyed)])
	clear(s.outerKeyed[:cap(s.outerKeyed)])
	s.release()
	return k
}

// Sum returns HMAC-SHA-256 of msg under k.
func (k *Key) Sum(msg []byte) [Size]byte {
	s := pool.Get().(*state)
	s.restore(k.inner[:k.innerLen], k.outer[:k.outerLen])
	// Straight to the hash, not through s.buf as in Sum: Key serves long
	// messages on the heap (pickles), where the copy would cost more.
	s.inner.Write(msg)
	s.finish()
	out := s.sum
	s.release()
	return out
}

// Format redacts the key for every verb.
func (Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, "hmacsha256.Key{REDACTED}") }
