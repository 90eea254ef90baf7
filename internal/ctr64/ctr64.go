// Package ctr64 implements AES-CTR with the counter semantics of WebCrypto's
// {name: "AES-CTR", length: 64}: the low 64 bits of the counter block are a
// big-endian counter that wraps modulo 2^64 without carrying into the high
// 64 bits.
//
// Go's cipher.NewCTR increments all 128 bits. The two agree until the low
// half overflows, which never happens for the IVs Matrix clients generate
// (attachments start the low half at zero; secret storage and key export
// clear bit 63), but does happen for foreign data with a large low half:
// matrix-react-sdk's key-export vector with an all-0xFF IV decrypts only
// with the wrapping counter. WebCrypto's AES-CTR with a counter length of
// 64 is what matrix-js-sdk uses for attachments, key exports and secret
// storage (https://www.w3.org/TR/WebCryptoAPI/#aes-ctr-operations).
//
// The stream is built from the standard library's CTR, restarted at each
// wrap, so it keeps the assembly fast path.
package ctr64

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math"
)

// BlockSize is the AES block size and the length of the counter block.
const BlockSize = aes.BlockSize

type stream struct {
	block cipher.Block
	ctr   cipher.Stream
	hi    [8]byte // the fixed high half of the counter block
	// left is the number of keystream bytes before the low half wraps to
	// zero; math.MaxUint64 stands for "more than any stream will use".
	left uint64
}

// New returns a cipher.Stream that encrypts or decrypts with block in
// counter mode, starting at counter block iv and wrapping the low 64 bits.
// iv must be BlockSize bytes long (New panics otherwise, like
// cipher.NewCTR). The stream holds key-derived state; it is not safe for
// concurrent use.
func New(block cipher.Block, iv []byte) cipher.Stream {
	if block.BlockSize() != BlockSize || len(iv) != BlockSize {
		panic("ctr64: IV length must equal block size")
	}
	s := &stream{block: block}
	copy(s.hi[:], iv[:8])
	s.start(binary.BigEndian.Uint64(iv[8:]))
	return s
}

// NewAES is New with a fresh AES cipher for key (16, 24 or 32 bytes; it
// panics on other lengths, which are a caller's bug).
func NewAES(key, iv []byte) cipher.Stream {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("ctr64: " + err.Error())
	}
	return New(block, iv)
}

// XORKeyStream is the one-shot form: dst = src XOR AES-CTR64(key, iv).
// dst and src may overlap entirely or not at all.
func XORKeyStream(key, iv, dst, src []byte) {
	NewAES(key, iv).XORKeyStream(dst, src)
}

// start restarts the underlying 128-bit CTR at low counter value lo.
func (s *stream) start(lo uint64) {
	var cb [BlockSize]byte
	copy(cb[:8], s.hi[:])
	binary.BigEndian.PutUint64(cb[8:], lo)
	s.ctr = cipher.NewCTR(s.block, cb[:])
	blocks := -lo // blocks until the low half wraps (0 means 2^64)
	if blocks == 0 || blocks > math.MaxUint64/BlockSize {
		s.left = math.MaxUint64
	} else {
		s.left = blocks * BlockSize
	}
}

func (s *stream) XORKeyStream(dst, src []byte) {
	if len(dst) < len(src) {
		panic("ctr64: output smaller than input")
	}
	for len(src) > 0 {
		if s.left == 0 {
			s.start(0)
		}
		n := len(src)
		if uint64(n) > s.left {
			n = int(s.left)
		}
		s.ctr.XORKeyStream(dst[:n], src[:n])
		if s.left != math.MaxUint64 {
			s.left -= uint64(n)
		}
		src, dst = src[n:], dst[n:]
	}
}
