package matrixrtc

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"

	"github.com/sicher-go/sicher/internal/hmacsha256"
)

// The LiveKit key derivation, as livekit-client does it (src/e2ee/utils.ts: deriveKeys,
// ratchet; src/e2ee/constants.ts: SALT and KEY_PROVIDER_DEFAULTS), for the MatrixRTC LiveKit
// backend (MSC4195 "MatrixRTC using LiveKit backend"): each member's media key is the key
// material of its LiveKit participant, and frames are encrypted with AES-128-GCM under a key
// derived from it.
//
// livekit-client imports material given as bytes (a MatrixRTC media key) as HKDF key material
// and derives with HKDF-SHA-256, salt "LKFrameEncryptionKey" and info 128 zero bytes: 16 bytes
// for the frame key (keySize 128), 32 bytes for the next material when it ratchets. A shared
// password (KeyProvider with sharedKey and a string) is imported as PBKDF2 key material
// instead, and both derivations are then PBKDF2-HMAC-SHA-256 with the same salt and 100,000
// iterations; its ratcheted material stays PBKDF2 material.

// liveKitSalt is livekit-client's default ratchetSalt, the salt of every derivation.
const liveKitSalt = "LKFrameEncryptionKey"

// liveKitInfo is HKDF's info in livekit-client's getAlgoOptions: an ArrayBuffer of 128 zero
// bytes.
var liveKitInfo = string(make([]byte, 128))

// pbkdf2Iterations is livekit-client's PBKDF2 iteration count.
const pbkdf2Iterations = 100_000

// FrameKeySize is the size of a LiveKit frame key: AES-128.
const FrameKeySize = 16

// MaterialSize is the size of ratcheted key material, and of a MatrixRTC media key.
const MaterialSize = 32

// FrameKey returns the AES-128-GCM key with which LiveKit encrypts the frames of a participant
// whose key material is material (a MatrixRTC media key, or a ratchet of one). Material and
// result are secret.
func FrameKey(material []byte) [FrameKeySize]byte {
	var out [FrameKeySize]byte
	hmacsha256.HKDF(out[:], []byte(liveKitSalt), material, liveKitInfo)
	return out
}

// Ratchet returns the key material that follows material in LiveKit's key ratchet (the
// receiver ratchets when a frame does not decrypt, the sender when asked to). Material and
// result are secret.
func Ratchet(material []byte) [MaterialSize]byte {
	var out [MaterialSize]byte
	hmacsha256.HKDF(out[:], []byte(liveKitSalt), material, liveKitInfo)
	return out
}

// PasswordFrameKey returns the frame key of LiveKit's shared-password mode, where material is
// the password's UTF-8 bytes (or a PasswordRatchet of them). It costs 100,000 PBKDF2
// iterations. The only error is crypto/pbkdf2's, in FIPS 140-3 mode, for a password shorter
// than 14 bytes. Material and result are secret.
func PasswordFrameKey(material []byte) ([FrameKeySize]byte, error) {
	var out [FrameKeySize]byte
	return out, pbkdf2Into(out[:], material)
}

// PasswordRatchet returns the material that follows material in the shared-password mode's
// ratchet. It costs 100,000 PBKDF2 iterations; its error is PasswordFrameKey's. Material and
// result are secret.
func PasswordRatchet(material []byte) ([MaterialSize]byte, error) {
	var out [MaterialSize]byte
	return out, pbkdf2Into(out[:], material)
}

func pbkdf2Into(out, password []byte) error {
	k, err := pbkdf2.Key(sha256.New, string(password), []byte(liveKitSalt), pbkdf2Iterations, len(out))
	if err != nil {
		return fmt.Errorf("matrixrtc: LiveKit password key: %w", err)
	}
	copy(out, k)
	clear(k)
	return nil
}
