// Package pickle implements the two envelopes sicher stores state in.
//
// [Seal] and [Open] are sicher's own format, used for every object by
// default: an envelope version byte, a random 12-byte nonce and AES-256-GCM
// under a 32-byte key, with the object kind as additional data (so an
// account pickle cannot be opened as a session), encoded as unpadded
// base64. The plaintext is the object's own u8 version followed by its
// body; each package parses its bodies with a switch on that version. A
// random nonce means two pickles of the same state differ and no IV is
// ever reused.
//
// [SealLibolm] and [OpenLibolm] are libolm's envelope (pickle_encoding.c):
// HKDF-SHA-256 of a pickle key of any length (empty included) with info
// "Pickle" gives an AES-256-CBC key, an HMAC key and an IV; the output is
// ciphertext ‖ HMAC-SHA-256(ciphertext)[:8], unpadded base64. The IV is a
// function of the key, so equal plaintexts under one key give equal
// pickles: it exists for interoperability, not as a recommendation.
//
// The plaintexts inside are each package's business; they are parsed with
// internal/wire. The base64 around the ciphertext uses the ordinary codec:
// the ciphertext is not secret (the constant-time codec is for secrets in
// the clear), and it is 2.7 times faster on long pickles.
package pickle

import (
	"crypto/aes"
	"crypto/cipher"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
)

// KeySize is the size of a key for sicher's own pickle format.
const KeySize = 32

// MaxEncodedLen bounds the base64 text either opener accepts, so hostile
// input is rejected before any work (an account with 5000 one-time keys
// pickles to under 1 MiB).
const MaxEncodedLen = 16 << 20

const (
	// envelopeVersion is the first byte of every own-format pickle; it
	// names this envelope (GCM, 12-byte nonce, aadPrefix), not the object
	// inside, whose version is the first plaintext byte (see versions.go).
	envelopeVersion = 1
	nonceSize       = 12
	tagSize         = 16
	aadPrefix       = "sicher pickle v1 "
)

var (
	// ErrDecrypt is returned when a pickle does not authenticate: a wrong
	// key, a pickle of another kind, or corrupted data.
	ErrDecrypt = errors.New("wrong pickle key or corrupted pickle")
	// ErrFormat is returned when the text is not a pickle at all.
	ErrFormat = errors.New("malformed pickle")
)

// Seal encrypts an object's body under key, with the object's kind as
// additional data and its version as the first plaintext byte, reading the
// nonce from rand (crypto/rand if nil). body is not changed.
func Seal(rand io.Reader, key *[KeySize]byte, kind string, version uint8, body []byte) (string, error) {
	buf := append(Buffer(1+len(body)), version)
	buf = append(buf, body...)
	return SealBuffer(rand, key, kind, buf)
}

// sealHead is the envelope before the plaintext: version and nonce.
const sealHead = 1 + nonceSize

// Buffer returns an empty buffer for SealBuffer with room for a plaintext
// of n bytes (the object's version and body) and the tag, so that an
// object serialises straight into it and is sealed with no further
// allocation or copy.
func Buffer(n int) []byte { return scratch(sealHead + n + tagSize)[:sealHead] }

// SealBuffer is Seal of the plaintext (the object's version, then its
// body) appended to a buffer from Buffer. It is encrypted in place, so
// the plaintext is gone afterwards, and buf must not be used again.
func SealBuffer(rand io.Reader, key *[KeySize]byte, kind string, buf []byte) (string, error) {
	if len(buf) < sealHead+1 {
		return "", fmt.Errorf("%w: no object version", ErrFormat)
	}
	if cap(buf)-len(buf) < tagSize {
		// Outgrew its Buffer: move it, leaving no plaintext behind.
		nb := append(make([]byte, 0, len(buf)+tagSize), buf...)
		clear(buf)
		buf = nb
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	if _, err := io.ReadFull(rand, buf[1:sealHead]); err != nil {
		release(buf, len(buf))
		return "", fmt.Errorf("reading randomness: %w", err)
	}
	buf[0] = envelopeVersion
	// Sealed in place: the ciphertext overwrites the plaintext.
	buf = ownAEAD(key).Seal(buf[:sealHead], buf[1:sealHead], buf[sealHead:], additionalData(kind))
	s := b64.Encode(buf)
	release(buf, len(buf))
	return s, nil
}

// aadCache holds the additional data of each kind sealed or opened so
// far (a handful of constants), so that it is not built for every pickle.
var aadCache sync.Map // kind string → []byte, never modified

// additionalData returns the GCM additional data of kind. The caller must
// not modify it.
func additionalData(kind string) []byte {
	if v, ok := aadCache.Load(kind); ok {
		return v.([]byte)
	}
	v, _ := aadCache.LoadOrStore(kind, []byte(aadPrefix+kind))
	return v.([]byte)
}

// Open decrypts a pickle made by Seal for the same kind and key, and
// returns the object's version and body. Errors wrap ErrFormat or are
// ErrDecrypt.
func Open(key *[KeySize]byte, kind string, pickle string) (version uint8, body []byte, err error) {
	if len(pickle) > MaxEncodedLen {
		return 0, nil, fmt.Errorf("%w: %d characters", ErrFormat, len(pickle))
	}
	buf, err := b64.AppendDecode(nil, pickle)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: not base64", ErrFormat)
	}
	return openBuffer(key, kind, buf)
}

// openBuffer is Open of the decoded pickle in buf, decrypted in place.
func openBuffer(key *[KeySize]byte, kind string, buf []byte) (version uint8, body []byte, err error) {
	if len(buf) < 1+nonceSize+tagSize {
		return 0, nil, fmt.Errorf("%w: too short", ErrFormat)
	}
	if buf[0] != envelopeVersion {
		return 0, nil, fmt.Errorf("%w: unknown envelope version %d", ErrFormat, buf[0])
	}
	nonce, sealed := buf[1:1+nonceSize], buf[1+nonceSize:]
	// Decrypted in place: the plaintext overwrites the ciphertext.
	out, err := ownAEAD(key).Open(sealed[:0], nonce, sealed, additionalData(kind))
	if err != nil {
		return 0, nil, ErrDecrypt
	}
	if len(out) == 0 {
		return 0, nil, fmt.Errorf("%w: no object version", ErrFormat)
	}
	return out[0], out[1:], nil
}

// Plaintext is an opened pickle in a pooled buffer, for the common case
// of a caller that parses the plaintext and drops it: Body is valid until
// Release, which clears the buffer and returns it to the pool. A parser
// must copy what it keeps (as it must anyway: the plaintext is secret and
// cleared after parsing).
type Plaintext struct {
	// Version is the object's version (own format only).
	Version uint8
	// Body is the object's plaintext: the body after the version in the
	// own format, the whole plaintext in libolm's.
	Body []byte
	buf  []byte
}

// Release clears the plaintext and returns its buffer to the pool. It is
// a no-op on a zero Plaintext and on a second call.
func (p *Plaintext) Release() {
	if p.buf != nil {
		release(p.buf, len(p.buf))
	}
	*p = Plaintext{}
}

// OpenScratch is [Open] into a pooled buffer: the caller must call
// Release once it has parsed the body.
func OpenScratch(key *[KeySize]byte, kind string, pickle string) (Plaintext, error) {
	if len(pickle) > MaxEncodedLen {
		return Plaintext{}, fmt.Errorf("%w: %d characters", ErrFormat, len(pickle))
	}
	buf, err := b64.AppendDecode(scratch(len(pickle)), pickle)
	if err != nil {
		release(buf[:0], cap(buf))
		return Plaintext{}, fmt.Errorf("%w: not base64", ErrFormat)
	}
	version, body, err := openBuffer(key, kind, buf)
	if err != nil {
		release(buf, len(buf))
		return Plaintext{}, err
	}
	return Plaintext{Version: version, Body: body, buf: buf}, nil
}

// SealRaw is Seal of a whole plaintext whose first byte is the object's
// version, for fuzzers that mutate the plaintext as one string.
func SealRaw(rand io.Reader, key *[KeySize]byte, kind string, plaintext []byte) (string, error) {
	if len(plaintext) == 0 {
		return "", fmt.Errorf("%w: no object version", ErrFormat)
	}
	return Seal(rand, key, kind, plaintext[0], plaintext[1:])
}

// OpenRaw is Open returning the whole plaintext, the version byte first.
func OpenRaw(key *[KeySize]byte, kind string, pickle string) ([]byte, error) {
	v, body, err := Open(key, kind, pickle)
	if err != nil {
		return nil, err
	}
	// body is the rest of the decrypted buffer, just after the version.
	return append([]byte{v}, body...), nil
}

func newGCM(key *[KeySize]byte) cipher.AEAD {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("pickle: internal error: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("pickle: internal error: " + err.Error())
	}
	return aead
}

// SealLibolm encrypts plaintext in libolm's pickle envelope under a pickle
// key of any length. plaintext is not changed.
func SealLibolm(key, plaintext []byte) string {
	return SealLibolmInPlace(key, append(make([]byte, 0, LibolmCap(len(plaintext))), plaintext...))
}

// SealLibolmInPlace is SealLibolm for a plaintext its caller gives up: it
// is encrypted in place when it has the capacity for the ciphertext and
// tag ([LibolmCap]), which saves a copy of a large account, and its
// contents are lost either way. plaintext must have been appended to a
// buffer from [LibolmBuffer] or make (its capacity past the plaintext
// clear); it may go back to the pool of LibolmBuffer.
func SealLibolmInPlace(key, plaintext []byte) string {
	k := libolmKeys(key)
	var buf []byte
	if cap(plaintext) >= LibolmCap(len(plaintext)) {
		buf = k.Encrypt(plaintext[:0], plaintext)
	} else {
		buf = k.Encrypt(scratch(LibolmCap(len(plaintext))), plaintext)
		clear(plaintext)
	}
	buf = k.AppendTag(buf, buf)
	s := b64.Encode(buf)
	release(buf, len(buf))
	return s
}

// LibolmCap is the capacity a plaintext of n bytes needs for
// SealLibolmInPlace to encrypt it in place.
func LibolmCap(n int) int { return aessha2.CiphertextLen(n) + aessha2.TagSize }

// LibolmBuffer returns an empty buffer from a pool, with the capacity to
// build a plaintext of up to n bytes in it and seal it in place with
// SealLibolmInPlace, which returns it to the pool.
func LibolmBuffer(n int) []byte { return scratch(LibolmCap(n)) }

// OpenLibolm decrypts a libolm pickle under key, verifying its MAC first.
func OpenLibolm(key []byte, pickle string) ([]byte, error) {
	if len(pickle) > MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d characters", ErrFormat, len(pickle))
	}
	buf, err := b64.AppendDecode(nil, pickle)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrFormat)
	}
	return openLibolmBuffer(key, buf)
}

// openLibolmBuffer is OpenLibolm of the decoded pickle in buf, decrypted
// in place.
func openLibolmBuffer(key, buf []byte) ([]byte, error) {
	if len(buf) < aessha2.BlockSize+aessha2.TagSize {
		return nil, fmt.Errorf("%w: too short", ErrFormat)
	}
	ct, tag := buf[:len(buf)-aessha2.TagSize], buf[len(buf)-aessha2.TagSize:]
	out, err := libolmKeys(key).Open(ct[:0], ct, tag, ct) // in place, after the MAC
	if errors.Is(err, aessha2.ErrAuthentication) {
		return nil, ErrDecrypt
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return out, nil
}

// OpenLibolmScratch is [OpenLibolm] into a pooled buffer: the caller must
// call Release once it has parsed the body.
func OpenLibolmScratch(key []byte, pickle string) (Plaintext, error) {
	if len(pickle) > MaxEncodedLen {
		return Plaintext{}, fmt.Errorf("%w: %d characters", ErrFormat, len(pickle))
	}
	buf, err := b64.AppendDecode(scratch(len(pickle)), pickle)
	if err != nil {
		release(buf[:0], cap(buf))
		return Plaintext{}, fmt.Errorf("%w: not base64", ErrFormat)
	}
	body, err := openLibolmBuffer(key, buf)
	if err != nil {
		release(buf, len(buf))
		return Plaintext{}, err
	}
	return Plaintext{Body: body, buf: buf}, nil
}
