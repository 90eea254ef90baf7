package aessha2

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// AES-CBC (NIST SP 800-38A §6.2) on a cipher.Block, without crypto/cipher's
// mode objects: no allocation per message, and the secret IV is not copied
// into a heap object. TestCBCMatchesStd holds both directions to
// crypto/cipher's.

// cbcEncrypt encrypts buf (a multiple of BlockSize) in place.
func cbcEncrypt(block cipher.Block, iv *[BlockSize]byte, buf []byte) {
	// The chaining XOR goes through crypto/subtle.XORBytes, as in
	// crypto/cipher's loop: its 16-byte store feeds AES whole, where two
	// 8-byte stores read back as one 16-byte load would stall store
	// forwarding on every block of this serial chain. Unlike
	// crypto/cipher, no mode object is allocated.
	prev := iv[:]
	for len(buf) >= BlockSize {
		b := buf[:BlockSize]
		subtle.XORBytes(b, b, prev)
		block.Encrypt(b, b)
		prev, buf = b, buf[BlockSize:]
	}
}

// cbcStdMin is the length from which cbcDecrypt hands the work to crypto/cipher.
const cbcStdMin = 4096

// cbcDecrypt decrypts src (a multiple of BlockSize) into dst, which is
// either src itself or does not overlap it. crypto/cipher's CBC decrypter
// XORs each block through crypto/subtle.XORBytes, a call with overlap
// checks per 16 bytes; here the chaining value lives in two registers
// (the blocks are independent, so nothing waits on the stores).
func cbcDecrypt(block cipher.Block, iv *[BlockSize]byte, dst, src []byte) {
	if len(src) >= cbcStdMin {
		// The blocks of a CBC decryption are independent, and crypto/cipher's decrypter
		// runs several at once in assembly where the platform has it (amd64, arm64):
		// about six times faster than a block at a time on 64 KiB. It allocates its
		// mode object, with a copy of the IV, which messages under 4 KiB (the usual chat
		// message, and the allocation budgets' tests) avoid.
		cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(dst, src)
		return
	}
	p0 := binary.LittleEndian.Uint64(iv[:8])
	p1 := binary.LittleEndian.Uint64(iv[8:])
	for len(src) >= BlockSize {
		s, d := src[:BlockSize], dst[:BlockSize]
		// The ciphertext block chains into the next; read it before an
		// in-place decryption overwrites it.
		c0 := binary.LittleEndian.Uint64(s[:8])
		c1 := binary.LittleEndian.Uint64(s[8:])
		block.Decrypt(d, s)
		binary.LittleEndian.PutUint64(d[:8], binary.LittleEndian.Uint64(d[:8])^p0)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(d[8:])^p1)
		p0, p1 = c0, c1
		src, dst = src[BlockSize:], dst[BlockSize:]
	}
}
