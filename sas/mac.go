package sas

import (
	"crypto/sha256"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
)

// MACMethod is a message_authentication_code method of m.sas.v1. The zero
// value is HKDFHMACSHA256V2, the default.
type MACMethod int

const (
	// HKDFHMACSHA256V2 is "hkdf-hmac-sha256.v2" (unstable name
	// "org.matrix.msc3783.hkdf-hmac-sha256"): the HMAC key is 32 bytes of
	// HKDF output, the MAC is the unpadded base64 of the full HMAC. It is
	// libolm's olm_sas_calculate_mac_fixed_base64 and vodozemac's
	// calculate_mac. Use this.
	HKDFHMACSHA256V2 MACMethod = iota

	// LegacyHKDFHMACSHA256 is the deprecated "hkdf-hmac-sha256": the same
	// HMAC as v2, encoded by libolm's olm_sas_calculate_mac, which base64
	// encodes the HMAC in place and so overwrites bytes it has not read
	// yet: only HMAC bytes 0, 1, 2, 4, 5 and 8 (48 bits) reach the text. It is
	// here to verify clients that know nothing newer; the spec forbids it
	// when both sides support v2.
	LegacyHKDFHMACSHA256

	// LegacyHMACSHA256 is the legacy "hmac-sha256" of old Riot clients:
	// libolm's olm_sas_calculate_mac_long_kdf, whose HMAC key is 256 bytes
	// of HKDF output and whose output has the same in-place base64 defect
	// as LegacyHKDFHMACSHA256. It is not in the spec.
	LegacyHMACSHA256
)

// Names of the MAC methods in m.key.verification.start and accept events
// ([MACMethod.String] and [ParseMACMethod] convert).
const (
	nameHKDFHMACSHA256V2         = "hkdf-hmac-sha256.v2"
	nameHKDFHMACSHA256V2Unstable = "org.matrix.msc3783.hkdf-hmac-sha256"
	nameLegacyHKDFHMACSHA256     = "hkdf-hmac-sha256"
	nameLegacyHMACSHA256         = "hmac-sha256"
)

// String returns the method's name as it appears in events, or a
// description of an invalid value.
func (m MACMethod) String() string {
	switch m {
	case HKDFHMACSHA256V2:
		return nameHKDFHMACSHA256V2
	case LegacyHKDFHMACSHA256:
		return nameLegacyHKDFHMACSHA256
	case LegacyHMACSHA256:
		return nameLegacyHMACSHA256
	}
	return fmt.Sprintf("sas.MACMethod(%d)", int(m))
}

// ParseMACMethod returns the method with the given event name (the
// unstable v2 name included), or an error wrapping ErrUnknownMethod.
func ParseMACMethod(name string) (MACMethod, error) {
	switch name {
	case nameHKDFHMACSHA256V2, nameHKDFHMACSHA256V2Unstable:
		return HKDFHMACSHA256V2, nil
	case nameLegacyHKDFHMACSHA256:
		return LegacyHKDFHMACSHA256, nil
	case nameLegacyHMACSHA256:
		return LegacyHMACSHA256, nil
	}
	return 0, fmt.Errorf("%w: MAC method %q", ErrUnknownMethod, name)
}

// encode returns the wire text of a 32-byte HMAC for method m.
func (m MACMethod) encode(mac *[sha256.Size]byte) []byte {
	if m == HKDFHMACSHA256V2 {
		return b64.AppendEncodeSecret(make([]byte, 0, 43), mac[:])
	}
	return libolmInPlaceBase64(mac)
}

// libolmInPlaceBase64 reproduces libolm's olm_sas_calculate_mac: the HMAC
// is written to the start of the output buffer and _olm_encode_base64 is
// called with input and output at the same address. The encoder reads
// three bytes, then writes four characters, group after group; from the
// second group on it reads bytes that earlier groups already overwrote
// with characters. The two-byte tail (bytes 30 and 31, long overwritten)
// becomes the last three characters at offset 40 (libolm src/sas.c and
// src/base64.cpp).
func libolmInPlaceBase64(mac *[sha256.Size]byte) []byte {
	var buf [44]byte
	copy(buf[:], mac[:])
	var chars [4]byte
	in, out := 0, 0
	for ; in+3 <= sha256.Size; in, out = in+3, out+4 {
		enc := b64.AppendEncodeSecret(chars[:0], buf[in:in+3])
		copy(buf[out:], enc)
	}
	enc := b64.AppendEncodeSecret(chars[:0], buf[in:sha256.Size])
	copy(buf[out:], enc)
	return buf[:43:43]
}
