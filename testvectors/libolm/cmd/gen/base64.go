package main

import (
	tv "github.com/sicher-go/sicher/testvectors"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

// genBase64 writes decoding cases. The expectations are Matrix's strict
// reading (standard alphabet, padding absent or exact, zero trailing bits:
// vodozemac's and sicher's); libolm's lax decoder is recorded beside them.
func genBase64() {
	const src = "Matrix base64 (spec appendix \"Unpadded Base64\"; vodozemac strictness); libolm 3.2.13's decoder recorded"
	var vs []tv.Base64
	add := func(name, kind, in string, out []byte, class string) {
		v := tv.Base64{Meta: tv.Meta{Name: name, Source: src, Expect: class}, Kind: kind, Input: in}
		if class == tv.OK {
			v.Output = out
		}
		lout, lok := libolm.Base64Decode(in)
		// For keys, libolm also checks the decoded length.
		if size := map[string]int{"curve25519": 32, "ed25519": 32, "signature": 64, "key_id": 4}[kind]; size != 0 && len(lout) != size {
			lok = false
		}
		switch {
		case class == tv.OK && (!lok || string(lout) != string(out)) && kind == "base64":
			if !lok {
				v.LibolmError = "INVALID_BASE64"
			}
		case class != tv.OK && lok:
			v.LibolmExpect = tv.OK
			v.Comment = "libolm decodes it (to " + b64.EncodeToString(lout) + " re-encoded): its decoder checks only the length of its input"
		case class != tv.OK:
			v.LibolmError = "INVALID_BASE64"
		}
		vs = append(vs, v)
	}
	// libolm tests/test_base64.cpp and vodozemac src/utilities (V16).
	add("libolm test_base64 Hello World", "base64", "SGVsbG8gV29ybGQ", []byte("Hello World"), tv.OK)
	add("V16 padded ThisIsATest", "base64", "VGhpc0lzQVRlc3Q=", []byte("ThisIsATest"), tv.OK)
	add("V16 unpadded ThisIsATest", "base64", "VGhpc0lzQVRlc3Q", []byte("ThisIsATest"), tv.OK)
	add("empty", "base64", "", []byte{}, tv.OK)
	add("one byte", "base64", "AA", []byte{0}, tv.OK)
	add("one byte padded", "base64", "AA==", []byte{0}, tv.OK)
	add("two bytes", "base64", "AAE", []byte{0, 1}, tv.OK)
	add("all 64 symbols", "base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		unb64("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), tv.OK)
	add("length 1 mod 4", "base64", "SGVsbG8gV29ybGQAB", nil, tv.BadBase64)
	add("single character", "base64", "A", nil, tv.BadBase64)
	add("invalid character *", "base64", "SGVs*G8", nil, tv.BadBase64)
	add("url-safe alphabet", "base64", "SGVs-G8_", nil, tv.BadBase64)
	add("non-zero trailing bits", "base64", "SGVsbG8gV29ybGR", nil, tv.BadBase64)
	add("non-zero trailing bits, one byte", "base64", "AB", nil, tv.BadBase64)
	add("wrong padding", "base64", "AA=", nil, tv.BadBase64)
	add("too much padding", "base64", "AA===", nil, tv.BadBase64)
	add("padding inside", "base64", "AA==AA==", nil, tv.BadBase64)
	add("newline", "base64", "SGVsbG8g\nV29ybGQ", nil, tv.BadBase64)
	add("space", "base64", "SGVsbG8g V29ybGQ", nil, tv.BadBase64)

	k := rfcAlicePub
	ks := b64.EncodeToString(k)
	for _, kind := range []string{"curve25519", "ed25519"} {
		add(kind+" unpadded", kind, ks, k, tv.OK)
		add(kind+" padded", kind, ks+"=", k, tv.OK)
		add(kind+" 42 characters", kind, ks[:42], nil, tv.BadKey)
		add(kind+" 44 characters", kind, ks+"A", nil, tv.BadKey)
		add(kind+" 31 bytes", kind, b64.EncodeToString(k[:31]), nil, tv.BadKey)
		add(kind+" 33 bytes", kind, b64.EncodeToString(append(clone(k), 0)), nil, tv.BadKey)
		add(kind+" invalid character", kind, "!"+ks[1:], nil, tv.BadKey)
		add(kind+" non-zero trailing bits", kind, ks[:42]+"p", nil, tv.BadKey)
		add(kind+" empty", kind, "", nil, tv.BadKey)
	}
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(i * 7)
	}
	ss := b64.EncodeToString(sig)
	add("signature unpadded", "signature", ss, sig, tv.OK)
	add("signature padded", "signature", ss+"==", sig, tv.OK)
	add("signature 85 characters", "signature", ss[:85], nil, tv.BadKey)
	add("signature 63 bytes", "signature", b64.EncodeToString(sig[:63]), nil, tv.BadKey)
	for _, c := range []struct {
		s  string
		id uint32
	}{{"AAAAAQ", 1}, {"AAAAAg", 2}, {"AAAAKg", 42}, {"AAAAZA", 100}, {"AAABAA", 256}, {"/////w", 0xffffffff}, {"AAAAAA", 0}} {
		add("key id "+c.s, "key_id", c.s, []byte{byte(c.id >> 24), byte(c.id >> 16), byte(c.id >> 8), byte(c.id)}, tv.OK)
	}
	add("key id vodozemac 8-byte form", "key_id", "AAAAAAAAAAc", nil, tv.BadKey)
	add("key id 3 bytes", "key_id", "AAAB", nil, tv.BadKey)
	add("key id invalid character", "key_id", "AAAA*Q", nil, tv.BadKey)
	emit("primitives/base64.json", "base64",
		"Base64 and key text decoding as Matrix specifies it (standard alphabet, unpadded on output, padded accepted on input, no invalid characters, zero trailing bits), with libolm's lax decoder's outcome recorded (libolm_expect ok where it decodes garbage). Kinds: base64, curve25519, ed25519, signature, key_id (libolm's 4-byte id; Output is the big-endian id).", vs)
}
