package megolm

import (
	"fmt"
	"log/slog"

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

// ParseSessionKey parses and verifies a binary SessionKey (base64 text goes
// through [SessionKey.UnmarshalText]). It does not retain b. It returns an
// error wrapping [ErrMalformed] for anything but exactly 229 bytes of
// version 2 with a usable signing key, and one wrapping [ErrAuthentication]
// if the signature does not verify (strict Ed25519).
func ParseSessionKey(b []byte) (*SessionKey, error) {
	k := new(SessionKey)
	if len(b) != sessionKeySize {
		return nil, fmt.Errorf("%w: session key of %d bytes, want %d", ErrMalformed, len(b), sessionKeySize)
	}
	r := wire.Reader(b)
	var version uint8
	if !r.ReadUint8(&version) || version != sessionKeyVersion {
		return nil, fmt.Errorf("%w: session key version %d, want %d", ErrMalformed, version, sessionKeyVersion)
	}
	if !readKeyBody(&r, &k.r, &k.signingKey) || !r.CopyBytes(k.signature[:]) || !r.Empty() {
		panic("megolm: internal error: session key layout")
	}
	v, err := key.NewVerifier(k.signingKey)
	if err != nil {
		k.r.wipe()
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v.Verify(b[:exportedKeySize], k.signature) != nil {
		k.r.wipe()
		return nil, errBadSignature
	}
	k.verifier = &v
	return k, nil
}

// ParseExportedSessionKey parses a binary ExportedSessionKey (version 1,
// 165 bytes; base64 text goes through [ExportedSessionKey.UnmarshalText]).
// It does not retain b. Because the Matrix specification's own examples
// put signed session keys where exported ones belong, it also accepts a
// SessionKey (version 2): the signature is verified, then dropped. Errors
// wrap [ErrMalformed] or, for a version 2 key, [ErrAuthentication].
func ParseExportedSessionKey(b []byte) (*ExportedSessionKey, error) {
	if len(b) > 0 && b[0] == sessionKeyVersion {
		sk, err := ParseSessionKey(b)
		if err != nil {
			return nil, err
		}
		return sk.exported(), nil
	}
	if len(b) != exportedKeySize {
		return nil, fmt.Errorf("%w: exported session key of %d bytes, want %d", ErrMalformed, len(b), exportedKeySize)
	}
	r := wire.Reader(b)
	var version uint8
	if !r.ReadUint8(&version) || version != exportedKeyVersion {
		return nil, fmt.Errorf("%w: exported session key version %d, want %d", ErrMalformed, version, exportedKeyVersion)
	}
	k := new(ExportedSessionKey)
	if !readKeyBody(&r, &k.r, &k.signingKey) || !r.Empty() {
		panic("megolm: internal error: exported key layout")
	}
	v, err := key.NewVerifier(k.signingKey)
	if err != nil {
		k.r.wipe()
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	k.verifier = &v
	return k, nil
}

// decodeKeyText decodes the base64 of either key in constant time. The
// result is secret.
func decodeKeyText(s []byte) ([]byte, error) {
	if len(s) > maxKeyText {
		return nil, fmt.Errorf("%w: session key of %d characters", ErrMalformed, len(s))
	}
	b, err := b64.DecodeSecret(string(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
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

// UnmarshalText implements encoding.TextUnmarshaler: it decodes base64
// (in constant time) and parses the key as [ParseSessionKey] does. There
// is deliberately no MarshalText: the key leaves only through
// [SessionKey.Base64] or [SessionKey.Bytes].
func (k *SessionKey) UnmarshalText(text []byte) error {
	b, err := decodeKeyText(text)
	if err != nil {
		return err
	}
	defer clear(b)
	v, err := ParseSessionKey(b)
	if err != nil {
		return err
	}
	*k = *v
	return nil
}

// LogValue implements slog.LogValuer: the session ID and index only.
func (k SessionKey) LogValue() slog.Value { return keyLogValue(k.signingKey, k.r.counter) }

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

// UnmarshalText implements encoding.TextUnmarshaler: it decodes base64
// (in constant time) and parses the key as [ParseExportedSessionKey] does.
// There is deliberately no MarshalText: the key leaves only through
// [ExportedSessionKey.Base64] or [ExportedSessionKey.Bytes].
func (k *ExportedSessionKey) UnmarshalText(text []byte) error {
	b, err := decodeKeyText(text)
	if err != nil {
		return err
	}
	defer clear(b)
	v, err := ParseExportedSessionKey(b)
	if err != nil {
		return err
	}
	*k = *v
	return nil
}

// LogValue implements slog.LogValuer: the session ID and index only.
func (k ExportedSessionKey) LogValue() slog.Value { return keyLogValue(k.signingKey, k.r.counter) }

func keyLogValue(id key.Ed25519, index uint32) slog.Value {
	return slog.GroupValue(slog.String("session_id", id.String()), slog.Uint64("index", uint64(index)), slog.String("key", "REDACTED"))
}

// Format prints the session ID and index only, for every verb.
func (k ExportedSessionKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "megolm.ExportedSessionKey{session: %s, index: %d}", k.signingKey, k.r.counter)
}
