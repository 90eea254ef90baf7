// Package aessha2 implements the "aes-sha2" construction shared by Olm and
// Megolm messages, libolm pickles and key backup v1: HKDF-SHA-256 (salt of
// 32 zero bytes) expands a secret and a per-use info string into an AES-256
// key, an HMAC-SHA-256 key and a 16-byte CBC IV (80 bytes, in that order);
// messages are encrypted with AES-256-CBC and PKCS#7 padding and
// authenticated with HMAC-SHA-256, truncated to [TagSize] bytes in every v1
// format.
//
// [Keys.Open] is the only way to decrypt: it verifies the tag over the
// authenticated bytes first and decrypts only if it matches, the shape of
// crypto/cipher.AEAD's Open. Padding is checked strictly (1..16 bytes, all
// equal), which cannot become a padding oracle because only authenticated
// ciphertexts are ever unpadded.
//
// Keys values are secret.
package aessha2

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/hmacsha256"
)

// Info strings, one per use. A new use gets a new string.
const (
	InfoOlm    = "OLM_KEYS"    // Olm message keys (olm.md "Olm authenticated encryption")
	InfoMegolm = "MEGOLM_KEYS" // Megolm message keys (megolm.md)
	InfoPickle = "Pickle"      // libolm pickles (pickle_encoding.c)
	InfoBackup = ""            // m.megolm_backup.v1.curve25519-aes-sha2 expands with an empty info
)

const (
	// TagSize is the truncated MAC length of every v1 format, and the
	// shortest tag Open accepts: an empty or short tag never verifies.
	TagSize = 8
	// BlockSize is the AES block size; ciphertexts are a non-zero multiple.
	BlockSize = aes.BlockSize
)

var (
	// ErrAuthentication is returned by Open when the tag does not match.
	ErrAuthentication = errors.New("message authentication failed")
	// ErrBadPadding is returned by Open for an authenticated ciphertext
	// whose length or PKCS#7 padding is wrong: the sender encrypted garbage.
	ErrBadPadding = errors.New("invalid ciphertext length or padding")
)

// Keys holds the three values derived from one secret. It is secret, and
// safe for concurrent use once derived (its methods do not modify it).
type Keys struct {
	aesKey [32]byte
	macKey [32]byte
	iv     [16]byte
}

// Derive expands secret with HKDF-SHA-256 under info.
func Derive(secret []byte, info string) Keys {
	var b [80]byte
	hmacsha256.HKDF(b[:], nil, secret, info)
	var k Keys
	copy(k.aesKey[:], b[:32])
	copy(k.macKey[:], b[32:64])
	copy(k.iv[:], b[64:])
	clear(b[:])
	return k
}

// CiphertextLen returns the length of the ciphertext of n plaintext bytes.
func CiphertextLen(n int) int { return n/BlockSize*BlockSize + BlockSize }

// Encrypt appends the AES-256-CBC encryption of the PKCS#7-padded
// plaintext to dst and returns the extended slice. dst and plaintext may
// not overlap, except exactly: plaintext may be dst[len(dst):] with the
// capacity for the ciphertext, which is then encrypted in place.
func (k *Keys) Encrypt(dst, plaintext []byte) []byte {
	return encrypt(newBlock(&k.aesKey), &k.iv, dst, plaintext)
}

func encrypt(block cipher.Block, iv *[BlockSize]byte, dst, plaintext []byte) []byte {
	n := CiphertextLen(len(plaintext))
	ret, out := sliceForAppend(dst, n)
	copy(out, plaintext)
	pad := byte(n - len(plaintext))
	for i := len(plaintext); i < n; i++ {
		out[i] = pad
	}
	cbcEncrypt(block, iv, out)
	return ret
}

func newBlock(key *[32]byte) cipher.Block {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		// The key is always 32 bytes: NewCipher cannot fail.
		panic("aessha2: internal error: " + err.Error())
	}
	return block
}

// Open verifies that tag is the MAC of authenticated (or a prefix of it of
// at least TagSize bytes) and only then appends the decryption of
// ciphertext to dst, removing the padding, and returns the extended slice.
// authenticated is whatever the format MACs: the whole message before the
// tag for Olm and Megolm, the ciphertext for libolm pickles, nothing for
// key backup v1 (libolm's MAC of the empty string). ciphertext is never
// modified unless dst[len(dst):] is exactly ciphertext (in-place
// decryption). Errors are ErrAuthentication and ErrBadPadding.
func (k *Keys) Open(dst, authenticated, tag, ciphertext []byte) ([]byte, error) {
	if !k.verify(authenticated, tag) {
		return nil, ErrAuthentication
	}
	return k.decrypt(dst, ciphertext)
}

// decrypt appends the decryption of an authenticated ciphertext to dst,
// removing the padding, and returns the extended slice.
func (k *Keys) decrypt(dst, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) == 0 || len(ciphertext)%BlockSize != 0 {
		return nil, ErrBadPadding
	}
	return decrypt(newBlock(&k.aesKey), &k.iv, dst, ciphertext)
}

func decrypt(block cipher.Block, iv *[BlockSize]byte, dst, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) == 0 || len(ciphertext)%BlockSize != 0 {
		return nil, ErrBadPadding
	}
	ret, out := sliceForAppend(dst, len(ciphertext))
	cbcDecrypt(block, iv, out, ciphertext)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > BlockSize {
		clear(out)
		return nil, ErrBadPadding
	}
	good := 1
	for _, b := range out[len(out)-pad:] {
		good &= subtle.ConstantTimeByteEq(b, byte(pad))
	}
	if good != 1 {
		clear(out)
		return nil, ErrBadPadding
	}
	return ret[:len(ret)-pad], nil
}

// MAC returns the full HMAC-SHA-256 of msg.
func (k *Keys) MAC(msg []byte) [32]byte {
	return hmacsha256.Sum(k.macKey[:], msg)
}

// AppendTag appends the MAC of msg truncated to TagSize bytes.
func (k *Keys) AppendTag(dst, msg []byte) []byte {
	mac := k.MAC(msg)
	return append(dst, mac[:TagSize]...)
}

// verify reports, in constant time, whether tag is MAC(msg) or a prefix of
// it of at least TagSize bytes. An empty, short or over-long tag is always
// rejected.
func (k *Keys) verify(msg, tag []byte) bool {
	if len(tag) < TagSize || len(tag) > hmacsha256.Size {
		return false
	}
	mac := k.MAC(msg)
	return hmac.Equal(mac[:len(tag)], tag)
}

// Equal reports in constant time whether k and other hold the same keys.
func (k *Keys) Equal(other *Keys) bool {
	return subtle.ConstantTimeCompare(k.aesKey[:], other.aesKey[:])&
		subtle.ConstantTimeCompare(k.macKey[:], other.macKey[:])&
		subtle.ConstantTimeCompare(k.iv[:], other.iv[:]) == 1
}

// Format redacts the keys for every verb (%v, %+v, %#v, %s, %x, ...).
func (Keys) Format(f fmt.State, _ rune) { fmt.Fprint(f, "aessha2.Keys{REDACTED}") }

// sliceForAppend takes a slice and a requested number of bytes. It returns
// a slice with the contents of the given slice followed by that many bytes
// and a second slice that aliases into it and contains only the extra
// bytes (the idiom of crypto/cipher).
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}

// Prepared is Keys with the AES key schedule and the HMAC key's pad
// states computed once, for keys that encrypt or open many messages (a
// libolm pickle key, which derives the same Keys on every call). It is
// secret, and safe for concurrent use (its methods do not modify it).
type Prepared struct {
	iv    [BlockSize]byte
	block cipher.Block
	mac   *hmacsha256.Key
}

// Prepare returns k prepared for repeated use.
func (k *Keys) Prepare() *Prepared {
	return &Prepared{iv: k.iv, block: newBlock(&k.aesKey), mac: hmacsha256.NewKey(k.macKey[:])}
}

// Encrypt is [Keys.Encrypt] under the prepared keys.
func (p *Prepared) Encrypt(dst, plaintext []byte) []byte {
	return encrypt(p.block, &p.iv, dst, plaintext)
}

// AppendTag is [Keys.AppendTag] under the prepared keys.
func (p *Prepared) AppendTag(dst, msg []byte) []byte {
	mac := p.mac.Sum(msg)
	return append(dst, mac[:TagSize]...)
}

// Open is [Keys.Open] under the prepared keys.
func (p *Prepared) Open(dst, authenticated, tag, ciphertext []byte) ([]byte, error) {
	if len(tag) < TagSize || len(tag) > hmacsha256.Size {
		return nil, ErrAuthentication
	}
	mac := p.mac.Sum(authenticated)
	if !hmac.Equal(mac[:len(tag)], tag) {
		return nil, ErrAuthentication
	}
	return decrypt(p.block, &p.iv, dst, ciphertext)
}

// Format redacts the keys for every verb.
func (Prepared) Format(f fmt.State, _ rune) { fmt.Fprint(f, "aessha2.Prepared{REDACTED}") }
