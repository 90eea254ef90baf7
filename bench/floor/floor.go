// Package floor measures the physical floor of the Matrix E2EE operations:
// the standard-library primitives an operation cannot avoid, used without
// avoidable allocations.
//
// HMAC-SHA-256 and HKDF-SHA-256 are built directly on crypto/sha256 with
// reusable digests and saved pad states (the same compression-function
// count as an ideal implementation: an HMAC under a fresh key is four
// SHA-256 blocks for short messages; HKDF with the all-zero salt reuses the
// precomputed salt pads and the PRK pads across expand blocks). AES-256-CBC
// uses crypto/aes and crypto/cipher (the key schedule is unavoidable; the
// standard API allocates the expanded key and the mode, two small
// allocations that cost well under 100 ns). Ed25519 uses crypto/ed25519 and
// X25519 uses crypto/ecdh.
//
// Nothing here is constant-time hardened or meant for real use: it is a
// measuring stick for bench/.
package floor

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding"
	"hash"
)

type sha interface {
	hash.Hash
	encoding.BinaryAppender
	encoding.BinaryUnmarshaler
}

func newSHA() sha { return sha256.New().(sha) }

// Prims holds reusable state for zero-allocation HMAC and HKDF. It is not
// safe for concurrent use.
type Prims struct {
	in, out           sha
	inState, outState []byte // saved pad states for the current key
	zeroIn, zeroOut   []byte // saved pad states for the all-zero HKDF salt
	pad               [64]byte
	sum               [32]byte
	ctr               [1]byte
	prk               [32]byte
	t                 [32]byte
}

// New returns ready-to-use primitive state.
func New() *Prims {
	p := &Prims{in: newSHA(), out: newSHA()}
	p.inState = make([]byte, 0, 256)
	p.outState = make([]byte, 0, 256)
	var zero [32]byte
	p.SetKey(zero[:])
	p.zeroIn = append([]byte(nil), p.inState...)
	p.zeroOut = append([]byte(nil), p.outState...)
	return p
}

func (p *Prims) pads(key []byte, x byte) {
	if len(key) > 64 {
		// Programmer error: the floors are called with this package's fixed key sizes.
		panic("floor: HMAC key longer than a block")
	}
	for i := range p.pad {
		p.pad[i] = x
	}
	for i, b := range key {
		p.pad[i] ^= b
	}
}

// HMAC computes HMAC-SHA-256(key, msg) under a fresh key: four SHA-256
// blocks for messages under 56 bytes, nothing saved. Short messages go
// through sha256.Sum256 on a stack buffer (a plain function call, the
// cheapest way crypto/sha256 offers); longer ones stream through the
// reusable digests.
func (p *Prims) HMAC(key, msg []byte) [32]byte {
	if len(key) <= 64 && len(msg) <= 64 {
		return hmacShort(key, msg)
	}
	p.pads(key, 0x36)
	p.in.Reset()
	p.in.Write(p.pad[:])
	p.in.Write(msg)
	p.in.Sum(p.sum[:0])
	p.pads(key, 0x5c)
	p.out.Reset()
	p.out.Write(p.pad[:])
	p.out.Write(p.sum[:])
	p.out.Sum(p.sum[:0])
	return p.sum
}

func hmacShort(key, msg []byte) [32]byte {
	var buf [64 + 64]byte
	copy(buf[:], key)
	for i := range 64 {
		buf[i] ^= 0x36
	}
	n := copy(buf[64:], msg)
	inner := sha256.Sum256(buf[:64+n])
	clear(buf[:64])
	copy(buf[:], key)
	for i := range 64 {
		buf[i] ^= 0x5c
	}
	copy(buf[64:], inner[:])
	return sha256.Sum256(buf[:96])
}

// SetKey computes and saves the pad states of key for MAC.
func (p *Prims) SetKey(key []byte) {
	p.pads(key, 0x36)
	p.in.Reset()
	p.in.Write(p.pad[:])
	p.inState, _ = p.in.AppendBinary(p.inState[:0])
	p.pads(key, 0x5c)
	p.out.Reset()
	p.out.Write(p.pad[:])
	p.outState, _ = p.out.AppendBinary(p.outState[:0])
}

func (p *Prims) begin(state []byte) {
	if err := p.in.UnmarshalBinary(state); err != nil {
		// state was made by MarshalBinary of the same hash: it cannot fail.
		panic(err)
	}
}

func (p *Prims) finish(state []byte) [32]byte {
	p.in.Sum(p.sum[:0])
	if err := p.out.UnmarshalBinary(state); err != nil {
		// state was made by MarshalBinary of the same hash: it cannot fail.
		panic(err)
	}
	p.out.Write(p.sum[:])
	p.out.Sum(p.sum[:0])
	return p.sum
}

// MAC computes HMAC-SHA-256 of a‖b under the key given to SetKey.
func (p *Prims) MAC(a, b []byte) [32]byte {
	p.begin(p.inState)
	p.in.Write(a)
	p.in.Write(b)
	return p.finish(p.outState)
}

// HKDF fills out (at most 96 bytes) with HKDF-SHA-256 of secret under the
// 32-byte all-zero salt and info: one salt HMAC from saved pads, the PRK
// pads once, then one two-block HMAC per 32 output bytes.
func (p *Prims) HKDF(out, secret, info []byte) {
	p.begin(p.zeroIn)
	p.in.Write(secret)
	p.prk = p.finish(p.zeroOut)
	p.SetKey(p.prk[:])
	var prev []byte
	for i := 0; len(out) > 0; i++ {
		p.ctr[0] = byte(i + 1)
		p.begin(p.inState)
		p.in.Write(prev)
		p.in.Write(info)
		p.in.Write(p.ctr[:])
		p.t = p.finish(p.outState)
		n := copy(out, p.t[:])
		out = out[n:]
		prev = p.t[:]
	}
}

// CBCEncrypt encrypts src (a multiple of 16 bytes, already padded) into dst
// with AES-256-CBC.
func CBCEncrypt(key, iv, dst, src []byte) {
	b, err := aes.NewCipher(key)
	if err != nil {
		// Programmer error: benchmarks pass 32-byte keys.
		panic(err)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(dst, src)
}

// CBCDecrypt decrypts src into dst with AES-256-CBC.
func CBCDecrypt(key, iv, dst, src []byte) {
	b, err := aes.NewCipher(key)
	if err != nil {
		// Programmer error: benchmarks pass 32-byte keys.
		panic(err)
	}
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(dst, src)
}

// PadLen returns the PKCS#7-padded length of n bytes.
func PadLen(n int) int { return n/16*16 + 16 }
