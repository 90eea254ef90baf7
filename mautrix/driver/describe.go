package driver

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	sicherolm "github.com/sicher-go/sicher/olm"
)

// describeKey is the pickle key describeLibolm uses for its private
// round trip; the pickle never leaves the function.
var describeKey = []byte("sicher describe")

// describeLibolm builds libolm's olm_session_describe text from the
// session's libolm pickle (src/session.cpp describe; the layout is in
// src/ratchet.cpp pickle): the sender chain's index (0 without one), every
// receiver chain's index and every skipped message key's index, in the
// pickle's order.
func describeLibolm(s *sicherolm.Session) string {
	pt := openLibolmPickle(describeKey, s.PickleLibolm(describeKey))
	defer clear(pt)
	const head = 4 + 1 + 3*32 + 32
	if len(pt) < head {
		return ""
	}
	var b strings.Builder
	b.WriteString("sender chain index: ")
	// u32 version ‖ u8 received ‖ 3 keys ‖ root key.
	r := reader(pt[head:])
	senders := r.u32()
	sender := uint32(0)
	for range senders {
		r.skip(3 * 32)
		sender = r.u32()
	}
	b.WriteString(strconv.FormatUint(uint64(sender), 10))
	b.WriteString(" receiver chain indices:")
	for range r.u32() {
		r.skip(2 * 32)
		b.WriteString(" " + strconv.FormatUint(uint64(r.u32()), 10))
	}
	b.WriteString(" skipped message keys:")
	for range r.u32() {
		r.skip(2 * 32)
		b.WriteString(" " + strconv.FormatUint(uint64(r.u32()), 10))
	}
	return b.String()
}

type reader []byte

func (r *reader) skip(n int) { *r = (*r)[min(n, len(*r)):] }

func (r *reader) u32() uint32 {
	if len(*r) < 4 {
		*r = nil
		return 0
	}
	v := binary.BigEndian.Uint32(*r)
	*r = (*r)[4:]
	return v
}

// openLibolmPickle decrypts a libolm pickle this package just made (no
// MAC check: the text never left memory). libolm's envelope
// (src/pickle_encoding.c, src/cipher.cpp): HKDF-SHA-256 of the key with
// the info "Pickle" gives an AES-256 key, an HMAC key and a CBC IV; the
// text is base64 of the AES-256-CBC ciphertext and an 8-byte MAC.
func openLibolmPickle(key []byte, p string) []byte {
	raw, err := base64.RawStdEncoding.DecodeString(p)
	if err != nil || len(raw) < 8+aes.BlockSize {
		return nil
	}
	k, err := hkdf.Key(sha256.New, key, nil, "Pickle", 80)
	if err != nil {
		return nil
	}
	defer clear(k)
	ct := raw[:len(raw)-8]
	if len(ct)%aes.BlockSize != 0 {
		return nil
	}
	block, _ := aes.NewCipher(k[:32])
	cipher.NewCBCDecrypter(block, k[64:80]).CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad == 0 || pad > len(ct) {
		return nil
	}
	return ct[:len(ct)-pad]
}
