package megolm

import (
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

const (
	sessionKeyVersion  = 2
	exportedKeyVersion = 1

	// exportedKeySize is version ‖ index ‖ ratchet ‖ signing key.
	exportedKeySize = 1 + 4 + ratchetSize + key.Ed25519Size // 165
	// sessionKeySize adds the signature over the first 165 bytes.
	sessionKeySize = exportedKeySize + signatureSize // 229
)

// SessionKey is the signed form in which a sender shares a Megolm session
// (the session_key of m.room_key; megolm.md "Session-sharing format"):
//
//	0x02 ‖ index (u32 BE) ‖ R0‖R1‖R2‖R3 ‖ Ed25519 signing key ‖ signature
//
// 229 bytes, 306 characters of unpadded base64. The signature by the
// session's own signing key proves that whoever made it holds that key; a
// SessionKey exists only after the signature verified.
//
// A SessionKey is secret (the ratchet decrypts every message from its index
// on). fmt prints only the session ID and index. It is immutable and safe
// for concurrent use.
type SessionKey struct {
	r          ratchet
	signingKey key.Ed25519
	signature  key.Ed25519Signature
	// verifier is the signing key decoded when the key was parsed, kept so
	// that a session made from it does not decode the key again (nil for
	// keys made locally). A Verifier is immutable: copies share it.
	verifier *key.Verifier
}

// ExportedSessionKey is the unsigned form of a Megolm session used for
// forwarded keys, key backup and key export files (megolm.md "Session
// export format"):
//
//	0x01 ‖ index (u32 BE) ‖ R0‖R1‖R2‖R3 ‖ Ed25519 signing key
//
// 165 bytes, 220 characters of unpadded base64. Without a signature nothing
// proves that the signing key belongs to the ratchet, so sessions imported
// from it are unverified.
//
// An ExportedSessionKey is secret. fmt prints only the session ID and index.
// It is immutable and safe for concurrent use.
type ExportedSessionKey struct {
	r          ratchet
	signingKey key.Ed25519
	verifier   *key.Verifier // as in SessionKey
}

// maxKeyText bounds the base64 text of either key before decoding.
const maxKeyText = (sessionKeySize + 2) / 3 * 4

// ParseSessionKey decodes and verifies a base64 SessionKey. It returns an
// error wrapping [ErrMalformedSessionKey] for anything but exactly 229 bytes
// of version 2 with a usable signing key, and [ErrBadSignature] if the
// signature does not verify (strict Ed25519).
func ParseSessionKey(s string) (*SessionKey, error) {
	b, err := decodeKeyText(s)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return SessionKeyFromBytes(b)
}

// SessionKeyFromBytes is [ParseSessionKey] for the binary form. It does not
// retain b.
func SessionKeyFromBytes(b []byte) (*SessionKey, error) {
	k := new(SessionKey)
	if len(b) != sessionKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformedSessionKey, len(b), sessionKeySize)
	}
	r := wire.Reader(b)
	var version uint8
	if !r.ReadUint8(&version) || version != sessionKeyVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformedSessionKey, version, sessionKeyVersion)
	}
	if !readKeyBody(&r, &k.r, &k.signingKey) || !r.CopyBytes(k.signature[:]) || !r.Empty() {
		panic("megolm: internal error: session key layout")
	}
	v, err := key.NewVerifier(k.signingKey)
	if err != nil {
		k.r.wipe()
		return nil, fmt.Errorf("%w: %w", ErrMalformedSessionKey, err)
	}
	if v.Verify(b[:exportedKeySize], k.signature) != nil {
		k.r.wipe()
		return nil, ErrBadSignature
	}
	k.verifier = &v
	return k, nil
}

// ParseExportedSessionKey decodes a base64 ExportedSessionKey (version 1,
// 165 bytes). Because the Matrix specification's own examples put signed
// session keys where exported ones belong, it also accepts a SessionKey
// (version 2): the signature is verified, then dropped.
func ParseExportedSessionKey(s string) (*ExportedSessionKey, error) {
	b, err := decodeKeyText(s)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return ExportedSessionKeyFromBytes(b)
}

// ExportedSessionKeyFromBytes is [ParseExportedSessionKey] for the binary
// form. It does not retain b.
func ExportedSessionKeyFromBytes(b []byte) (*ExportedSessionKey, error) {
	if len(b) > 0 && b[0] == sessionKeyVersion {
		sk, err := SessionKeyFromBytes(b)
		if err != nil {
			return nil, err
		}
		return sk.exported(), nil
	}
	if len(b) != exportedKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformedSessionKey, len(b), exportedKeySize)
	}
	r := wire.Reader(b)
	var version uint8
	if !r.ReadUint8(&version) || version != exportedKeyVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformedSessionKey, version, exportedKeyVersion)
	}
	k := new(ExportedSessionKey)
	if !readKeyBody(&r, &k.r, &k.signingKey) || !r.Empty() {
		panic("megolm: internal error: exported key layout")
	}
	v, err := key.NewVerifier(k.signingKey)
	if err != nil {
		k.r.wipe()
		return nil, fmt.Errorf("%w: %w", ErrMalformedSessionKey, err)
	}
	k.verifier = &v
	return k, nil
}

func decodeKeyText(s string) ([]byte, error) {
	if len(s) > maxKeyText {
		return nil, fmt.Errorf("%w: %d characters", ErrMalformedSessionKey, len(s))
	}
	b, err := b64.DecodeSecret(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSessionKey, err)
	}
	return b, nil
}

// readKeyBody reads index ‖ ratchet ‖ signing key.
func readKeyBody(r *wire.Reader, rt *ratchet, signingKey *key.Ed25519) bool {
	return r.ReadUint32(&rt.counter) && r.CopyBytes(rt.data[:]) && r.CopyBytes(signingKey[:])
}

// appendKeyBody appends version ‖ index ‖ ratchet ‖ signing key.
func appendKeyBody(dst []byte, version uint8, rt *ratchet, signingKey key.Ed25519) []byte {
	w := wire.NewBuilder(dst)
	w.AddUint8(version)
	w.AddUint32(rt.counter)
	w.AddBytes(rt.data[:])
	w.AddBytes(signingKey[:])
	return w.Bytes()
}

// Index returns the message index the key starts at.
func (k *SessionKey) Index() uint32 { return k.r.counter }

// SessionID returns the session's signing key, its identifier.
func (k *SessionKey) SessionID() key.Ed25519 { return k.signingKey }

// Bytes returns the 229-byte binary form. The result is secret.
func (k *SessionKey) Bytes() []byte {
	b := appendKeyBody(make([]byte, 0, sessionKeySize), sessionKeyVersion, &k.r, k.signingKey)
	return append(b, k.signature[:]...)
}

// Base64 returns the unpadded base64 form (306 characters) for m.room_key.
// The result is secret. (There is deliberately no String method: fmt
// prints only the session ID.)
func (k *SessionKey) Base64() string {
	b := k.Bytes()
	defer clear(b)
	return b64.EncodeSecret(b)
}

// MarshalText implements encoding.TextMarshaler. The result is secret.
func (k *SessionKey) MarshalText() ([]byte, error) { return []byte(k.Base64()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseSessionKey].
func (k *SessionKey) UnmarshalText(b []byte) error {
	v, err := ParseSessionKey(string(b))
	if err != nil {
		return err
	}
	*k = *v
	return nil
}

// Format prints the session ID and index only, for every verb.
func (k SessionKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "megolm.SessionKey{session: %s, index: %d}", k.signingKey, k.r.counter)
}

func (k *SessionKey) exported() *ExportedSessionKey {
	return &ExportedSessionKey{r: k.r, signingKey: k.signingKey, verifier: k.verifier}
}

// Index returns the message index the key starts at.
func (k *ExportedSessionKey) Index() uint32 { return k.r.counter }

// SessionID returns the session's signing key, its identifier.
func (k *ExportedSessionKey) SessionID() key.Ed25519 { return k.signingKey }

// Bytes returns the 165-byte binary form. The result is secret.
func (k *ExportedSessionKey) Bytes() []byte {
	return appendKeyBody(make([]byte, 0, exportedKeySize), exportedKeyVersion, &k.r, k.signingKey)
}

// Base64 returns the unpadded base64 form (220 characters) used by
// m.forwarded_room_key, key backup and key export files. The result is
// secret.
func (k *ExportedSessionKey) Base64() string {
	b := k.Bytes()
	defer clear(b)
	return b64.EncodeSecret(b)
}

// MarshalText implements encoding.TextMarshaler. The result is secret.
func (k *ExportedSessionKey) MarshalText() ([]byte, error) { return []byte(k.Base64()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with
// [ParseExportedSessionKey].
func (k *ExportedSessionKey) UnmarshalText(b []byte) error {
	v, err := ParseExportedSessionKey(string(b))
	if err != nil {
		return err
	}
	*k = *v
	return nil
}

// Format prints the session ID and index only, for every verb.
func (k ExportedSessionKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "megolm.ExportedSessionKey{session: %s, index: %d}", k.signingKey, k.r.counter)
}
