// Package recoverykey implements the two user-facing forms of a 32-byte
// Matrix secret key: the base58 "recovery key" (spec appendices,
// "Cryptographic key representation",
// https://spec.matrix.org/v1.19/appendices/#cryptographic-key-representation)
// and keys derived from a passphrase with m.pbkdf2 (spec "Deriving keys
// from passphrases",
// https://spec.matrix.org/v1.19/client-server-api/#deriving-keys-from-passphrases).
//
// It is shared by keybackup (the backup decryption key) and secretstorage
// (the secret storage key), which may not import each other; each exposes
// its own typed wrapper.
//
// A recovery key is base58 (Bitcoin alphabet) of 0x8B 0x01 ‖ key ‖ parity,
// where parity is the XOR of the 34 bytes before it, written in groups of
// four characters separated by spaces. Every such 35-byte value encodes to
// exactly 48 characters.
//
// Error messages carry no package prefix: the public packages wrap them
// with their own ("keybackup: ...", "secretstorage: ...").
//
// The key is secret. [Encode] and [Decode] do not index tables with
// key-dependent values and their loops run a number of times that depends
// only on the input length, so their timing does not reveal the key. Which
// check fails (characters, length, prefix, parity) is reported, as a user
// retyping a key needs to know; that reveals nothing about a correct key.
package recoverykey

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Sizes and limits.
const (
	// KeySize is the size of the key a recovery key carries.
	KeySize = 32
	// EncodedLen is the number of base58 characters of every recovery key
	// (without the separating spaces).
	EncodedLen = 48
	// MaxInputLen bounds the input Decode looks at, in bytes, whitespace
	// included. Longer input is rejected with ErrBadLength before any work.
	MaxInputLen = 1024

	// DefaultBits is the m.pbkdf2 key length when a passphrase description
	// has no "bits".
	DefaultBits = 256
	// MinIterations is the fewest m.pbkdf2 iterations FromPassphrase
	// accepts unless the caller allows fewer. The spec names no minimum;
	// its example uses 100 000, matrix-js-sdk and matrix-rust-sdk write
	// 500 000. The iteration count comes from account data the server
	// can rewrite: a server that lowers it to 1 and then sees a secret
	// encrypted under the resulting key can test passphrases at the cost
	// of one HMAC each.
	MinIterations = 100_000
	// MaxIterations bounds the m.pbkdf2 iteration count FromPassphrase
	// accepts, so a hostile key description or backup cannot stall a
	// client: about 20 times the common 500 000, a few seconds of work.
	MaxIterations = 10_000_000
	// MaxBits bounds the m.pbkdf2 output length FromPassphrase accepts.
	MaxBits = 4096
)

const (
	prefix0 = 0x8B
	prefix1 = 0x01
	rawLen  = 2 + KeySize + 1 // prefix ‖ key ‖ parity
)

// Errors returned (wrapped) by Decode and FromPassphrase.
var (
	// ErrBadCharacter: the input holds a character outside the base58
	// Bitcoin alphabet (0, O, I, l and punctuation are not in it).
	ErrBadCharacter = errors.New("invalid recovery key character (not base58)")
	// ErrBadLength: the input does not decode to 35 bytes.
	ErrBadLength = errors.New("wrong recovery key length")
	// ErrBadPrefix: the decoded bytes do not start with 0x8B 0x01.
	ErrBadPrefix = errors.New("wrong recovery key prefix")
	// ErrBadParity: the parity byte does not match (a mistyped character).
	ErrBadParity = errors.New("recovery key parity check failed")
	// ErrBadPassphraseParams: m.pbkdf2 iterations or bits out of range.
	// keybackup and secretstorage export this value under their own names,
	// so errors.Is matches it whichever package returned the error.
	ErrBadPassphraseParams = errors.New("invalid m.pbkdf2 passphrase parameters")
)

// Encode returns the recovery-key form of key: 48 base58 characters in 12
// groups of 4 separated by single spaces. The result is secret.
func Encode(key [KeySize]byte) string {
	var raw [rawLen]byte
	raw[0], raw[1] = prefix0, prefix1
	copy(raw[2:], key[:])
	var parity byte
	for _, b := range raw[:rawLen-1] {
		parity ^= b
	}
	raw[rawLen-1] = parity

	// Repeated division of the big-endian number in raw by 58. The number
	// of steps is fixed: every value with the 0x8B prefix has 48 digits.
	var digits [EncodedLen]byte
	for i := EncodedLen - 1; i >= 0; i-- {
		var rem uint
		for j := range raw {
			cur := rem<<8 | uint(raw[j])
			raw[j] = byte(cur / 58)
			rem = cur % 58
		}
		digits[i] = encodeDigit(rem)
	}
	clear(raw[:])

	out := make([]byte, 0, EncodedLen+EncodedLen/4-1)
	for i, d := range digits {
		if i > 0 && i%4 == 0 {
			out = append(out, ' ')
		}
		out = append(out, d)
	}
	clear(digits[:])
	return string(out)
}

// Decode parses a recovery key. Whitespace of any kind anywhere in s is
// ignored; everything else must be base58 decoding to 0x8B 0x01 ‖ key ‖
// parity. Errors wrap ErrBadCharacter, ErrBadLength, ErrBadPrefix or
// ErrBadParity, checked in that order. The result is secret.
func Decode(s string) ([KeySize]byte, error) {
	var key [KeySize]byte
	if len(s) > MaxInputLen {
		return key, fmt.Errorf("%w: input is %d bytes, at most %d accepted", ErrBadLength, len(s), MaxInputLen)
	}

	// Collect the digit values, dropping whitespace. Which positions hold
	// whitespace is not secret; the digit values are.
	var digits [MaxInputLen]byte
	n := 0
	bad := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
				continue
			}
			v := decodeDigit(c)
			bad |= v
			digits[n] = byte(v)
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if !unicode.IsSpace(r) { // e.g. a no-break space pasted from a PDF
			bad = -1
		}
	}
	defer clear(digits[:n])
	if bad < 0 {
		return key, ErrBadCharacter
	}
	if n != EncodedLen {
		return key, fmt.Errorf("%w: %d base58 characters, want %d", ErrBadLength, n, EncodedLen)
	}

	// 48 base58 digits are below 58^48 < 2^282, so 36 bytes hold the value.
	// Multiply-accumulate over the whole buffer for every digit.
	var acc [rawLen + 1]byte
	for _, d := range digits[:EncodedLen] {
		carry := uint(d)
		for j := len(acc) - 1; j >= 0; j-- {
			cur := uint(acc[j])*58 + carry
			acc[j] = byte(cur)
			carry = cur >> 8
		}
	}
	defer clear(acc[:])
	// Values of 36 bytes are too long. Shorter ones (and a leading '1',
	// which Bitcoin base58 reads as a zero byte) fail the prefix check.
	if acc[0] != 0 {
		return key, fmt.Errorf("%w: does not decode to %d bytes", ErrBadLength, rawLen)
	}
	raw := acc[1:]
	if subtle.ConstantTimeByteEq(raw[0], prefix0)&subtle.ConstantTimeByteEq(raw[1], prefix1) != 1 {
		return key, ErrBadPrefix
	}
	var parity byte
	for _, b := range raw {
		parity ^= b
	}
	if subtle.ConstantTimeByteEq(parity, 0) != 1 {
		return key, ErrBadParity
	}
	copy(key[:], raw[2:2+KeySize])
	return key, nil
}

// FromPassphrase derives a key from a passphrase as m.pbkdf2 specifies:
// PBKDF2-HMAC-SHA-512 with the salt string's UTF-8 bytes as salt (not
// base64-decoded), the given iteration count, and bits/8 bytes of output.
// iterations must be MinIterations..MaxIterations (1..MaxIterations if
// allowFewIterations) and bits a multiple of 8 in 8..MaxBits (pass
// DefaultBits when the description omits "bits"); otherwise the error
// wraps ErrBadPassphraseParams and no work is done. The result is secret.
func FromPassphrase(passphrase, salt string, iterations, bits int, allowFewIterations bool) ([]byte, error) {
	minIterations := MinIterations
	if allowFewIterations {
		minIterations = 1
	}
	if iterations < minIterations || iterations > MaxIterations {
		return nil, fmt.Errorf("%w: %d iterations (want %d..%d)", ErrBadPassphraseParams, iterations, minIterations, MaxIterations)
	}
	if bits < 8 || bits > MaxBits || bits%8 != 0 {
		return nil, fmt.Errorf("%w: %d bits (want a multiple of 8 in 8..%d)", ErrBadPassphraseParams, bits, MaxBits)
	}
	k, err := pbkdf2.Key(sha512.New, passphrase, []byte(salt), iterations, bits/8)
	if err != nil {
		// Only FIPS 140-only mode rejects these parameters (short salt).
		return nil, fmt.Errorf("%w: %v", ErrBadPassphraseParams, err)
	}
	return k, nil
}

// decodeDigit maps a base58 (Bitcoin alphabet) character to its value, or
// to -1, without branches or table lookups: each range test is computed
// from the sign bits of two differences, as internal/b64 does for base64.
//
//	'1'..'9' -> 0..8    'A'..'H' -> 9..16   'J'..'N' -> 17..21
//	'P'..'Z' -> 22..32  'a'..'k' -> 33..43  'm'..'z' -> 44..57
func decodeDigit(ch byte) int {
	c := int(ch)
	ret := -1
	ret += inRange(c, '1', '9') & (c - '1' + 1)
	ret += inRange(c, 'A', 'H') & (c - 'A' + 9 + 1)
	ret += inRange(c, 'J', 'N') & (c - 'J' + 17 + 1)
	ret += inRange(c, 'P', 'Z') & (c - 'P' + 22 + 1)
	ret += inRange(c, 'a', 'k') & (c - 'a' + 33 + 1)
	ret += inRange(c, 'm', 'z') & (c - 'm' + 44 + 1)
	return ret
}

// inRange returns -1 (all bits set) if lo <= c <= hi and 0 otherwise, for
// 0 <= c < 256.
func inRange(c, lo, hi int) int {
	return ((lo - 1 - c) & (c - hi - 1)) >> 8
}

// encodeDigit maps 0..57 to its base58 character without branches or
// table lookups.
func encodeDigit(v uint) byte {
	x := int(v)
	c := '1' + x
	c += ((8 - x) >> 8) & ('A' - '9' - 1)  // x >= 9: skip to 'A'
	c += ((16 - x) >> 8) & ('J' - 'H' - 1) // x >= 17: skip 'I'
	c += ((21 - x) >> 8) & ('P' - 'N' - 1) // x >= 22: skip 'O'
	c += ((32 - x) >> 8) & ('a' - 'Z' - 1) // x >= 33: skip to 'a'
	c += ((43 - x) >> 8) & ('m' - 'k' - 1) // x >= 44: skip 'l'
	return byte(c)
}
