// Package b64 implements the base64 forms Matrix uses: the standard alphabet,
// emitted without padding, accepted with or without it.
//
// Two codecs are provided. [Encode] and [Decode] are for public values (keys,
// signatures, message bodies) and use encoding/base64. [EncodeSecret] and
// [DecodeSecret] are for secret material (pickles, private keys, session
// keys, recovery keys): they never index a table with a secret-dependent
// value and never branch on secret data, so their running time depends only
// on the length of the input. libolm's table-based decoder was
// CVE-2024-45192; vodozemac fixed the same class of leak in CVE-2024-40640.
//
// Both decoders are strict in the same way: only the standard alphabet,
// padding either absent or exactly right, no line breaks or spaces, and the
// unused low bits of the final character must be zero (so every byte string
// has exactly one accepted unpadded form).
package b64

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
)

// ErrInvalid is returned (wrapped) for input that is not valid Matrix base64.
var ErrInvalid = errors.New("b64: invalid base64")

var (
	raw    = base64.RawStdEncoding.Strict()
	padded = base64.StdEncoding.Strict()
)

// Encode returns the unpadded standard base64 encoding of b.
func Encode(b []byte) string {
	// One allocation, not EncodeToString's two (a buffer, then its copy
	// as a string): encode through a stack buffer into a sized Builder.
	var sb strings.Builder
	sb.Grow(raw.EncodedLen(len(b)))
	var chunk [1024]byte
	for len(b) > 0 {
		n := min(len(b), len(chunk)/4*3) // whole 3-byte groups until the end
		raw.Encode(chunk[:], b[:n])
		sb.Write(chunk[:raw.EncodedLen(n)])
		b = b[n:]
	}
	return sb.String()
}

// AppendEncode appends the unpadded standard base64 encoding of src to dst.
func AppendEncode(dst, src []byte) []byte { return raw.AppendEncode(dst, src) }

// EncodedLen returns the length of the unpadded encoding of n bytes.
func EncodedLen(n int) int { return raw.EncodedLen(n) }

// Decode decodes public base64 data, padded or unpadded.
func Decode(s string) ([]byte, error) {
	// encoding/base64 silently skips '\r' and '\n'; Matrix values never
	// contain them, and accepting them would give one value many encodings.
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		return nil, ErrInvalid
	}
	enc := raw
	if strings.HasSuffix(s, "=") {
		enc = padded
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, ErrInvalid
	}
	return b, nil
}

// AppendDecode appends the decoding of public base64 s, padded or
// unpadded, to dst and returns the extended slice, growing dst only if it
// lacks the capacity. It accepts exactly what [Decode] accepts; on error
// the contents of dst beyond its length are unspecified.
func AppendDecode(dst []byte, s string) ([]byte, error) {
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		return dst, ErrInvalid
	}
	enc := raw
	if strings.HasSuffix(s, "=") {
		enc = padded
	}
	n := len(dst)
	dst = slices.Grow(dst, enc.DecodedLen(len(s)))
	// []byte(s) is converted without a copy: Decode neither keeps nor
	// modifies its source.
	m, err := enc.Decode(dst[n:cap(dst)], []byte(s))
	if err != nil {
		return dst[:n], ErrInvalid
	}
	return dst[:n+m], nil
}

// DecodeInto decodes public base64 s into exactly len(dst) bytes. It fails
// without decoding if the length of s cannot hold exactly that many bytes,
// so oversized input costs no work.
func DecodeInto(dst []byte, s string) error {
	n := trimmedLen(s)
	if n < 0 || raw.DecodedLen(n) != len(dst) || raw.EncodedLen(len(dst)) != n {
		return ErrInvalid
	}
	// The padding is checked: what remains decodes with the unpadded codec
	// exactly as the whole would with the padded one (a '=' left inside is
	// rejected by either). Decoded on the stack and copied only on
	// success, so dst is untouched on error and nothing is allocated for
	// keys and signatures.
	t := s[:n]
	if strings.IndexByte(t, '\n') >= 0 || strings.IndexByte(t, '\r') >= 0 {
		return ErrInvalid
	}
	var stack [128]byte
	out := stack[:]
	if len(dst) > len(out) {
		out = make([]byte, len(dst))
	}
	m, err := raw.Decode(out[:len(dst)], []byte(t))
	if err != nil || m != len(dst) {
		return ErrInvalid
	}
	copy(dst, out[:m])
	return nil
}

// trimmedLen returns the length of s without valid-looking padding, or -1
// if the padding is malformed.
func trimmedLen(s string) int {
	n := len(s)
	if strings.HasSuffix(s, "=") {
		if n%4 != 0 {
			return -1
		}
		n--
		if n > 0 && s[n-1] == '=' {
			n--
		}
	}
	return n
}

// EncodeSecret returns the unpadded standard base64 encoding of secret in
// constant time.
func EncodeSecret(secret []byte) string {
	return string(AppendEncodeSecret(make([]byte, 0, EncodedLen(len(secret))), secret))
}

// AppendEncodeSecret appends the unpadded standard base64 encoding of secret
// to dst in constant time.
func AppendEncodeSecret(dst, secret []byte) []byte {
	i := 0
	for ; i+3 <= len(secret); i += 3 {
		v := uint(secret[i])<<16 | uint(secret[i+1])<<8 | uint(secret[i+2])
		dst = append(dst, encodeChar(v>>18), encodeChar(v>>12&63), encodeChar(v>>6&63), encodeChar(v&63))
	}
	switch len(secret) - i {
	case 1:
		v := uint(secret[i]) << 16
		dst = append(dst, encodeChar(v>>18), encodeChar(v>>12&63))
	case 2:
		v := uint(secret[i])<<16 | uint(secret[i+1])<<8
		dst = append(dst, encodeChar(v>>18), encodeChar(v>>12&63), encodeChar(v>>6&63))
	}
	return dst
}

// DecodeSecret decodes base64 secret material, padded or unpadded, in time
// that depends only on len(s). Malformed input gets [ErrInvalid] with no
// indication of where the input was wrong.
func DecodeSecret(s string) ([]byte, error) {
	n := trimmedLen(s)
	if n < 0 || n%4 == 1 {
		return nil, ErrInvalid
	}
	out := make([]byte, 0, n*3/4)
	bad := 0 // becomes negative if any character is invalid
	i := 0
	for ; i+4 <= n; i += 4 {
		a, b, c, d := decodeChar(s[i]), decodeChar(s[i+1]), decodeChar(s[i+2]), decodeChar(s[i+3])
		bad |= a | b | c | d
		v := uint(a&63)<<18 | uint(b&63)<<12 | uint(c&63)<<6 | uint(d&63)
		out = append(out, byte(v>>16), byte(v>>8), byte(v))
	}
	switch n - i {
	case 2:
		a, b := decodeChar(s[i]), decodeChar(s[i+1])
		bad |= a | b
		bad |= -(b & 15) // unused low bits must be zero
		out = append(out, byte((a&63)<<2|(b&63)>>4))
	case 3:
		a, b, c := decodeChar(s[i]), decodeChar(s[i+1]), decodeChar(s[i+2])
		bad |= a | b | c
		bad |= -(c & 3)
		v := uint(a&63)<<12 | uint(b&63)<<6 | uint(c&63)
		out = append(out, byte(v>>10), byte(v>>2))
	}
	if bad < 0 {
		clear(out)
		return nil, ErrInvalid
	}
	return out, nil
}

// decodeChar maps a base64 character to its 6-bit value, or to -1, without
// branches or table lookups: each range test is computed arithmetically from
// the sign bit of two differences (the technique of libsodium's and
// base64ct's constant-time codecs).
func decodeChar(ch byte) int {
	c := int(ch)
	ret := -1
	ret += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64) // 'A'..'Z' -> 0..25
	ret += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70) // 'a'..'z' -> 26..51
	ret += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5)  // '0'..'9' -> 52..61
	ret += (((0x2a - c) & (c - 0x2c)) >> 8) & 63       // '+' -> 62
	ret += (((0x2e - c) & (c - 0x30)) >> 8) & 64       // '/' -> 63
	return ret
}

// encodeChar maps a 6-bit value to its base64 character without branches
// or table lookups.
func encodeChar(v uint) byte {
	x := int(v)
	diff := 0x41
	diff += ((25 - x) >> 8) & 6
	diff -= ((51 - x) >> 8) & 75
	diff -= ((61 - x) >> 8) & 15
	diff += ((62 - x) >> 8) & 3
	return byte(x + diff)
}
