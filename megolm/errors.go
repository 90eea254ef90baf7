package megolm

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformedMessage is wrapped by every error about a message that
	// cannot be parsed: wrong version, missing or oversized fields,
	// truncation, bad base64, or (after authentication) bad padding.
	ErrMalformedMessage = errors.New("megolm: malformed message")

	// ErrUnsupportedVersion is returned, together with ErrMalformedMessage,
	// for a message whose version byte is not 3. Version 4 is vodozemac's
	// experimental "session config v2" (untruncated MAC), which is not in
	// the Matrix specification and which sicher does not implement; the
	// error says so.
	ErrUnsupportedVersion = errors.New("megolm: unsupported message version")

	// ErrMalformedSessionKey is wrapped by every error about a SessionKey or
	// ExportedSessionKey that cannot be parsed: wrong length or version,
	// bad base64, or an unusable signing key.
	ErrMalformedSessionKey = errors.New("megolm: malformed session key")

	// ErrBadSignature means the Ed25519 signature of a message or a session
	// key did not verify under the session's signing key.
	ErrBadSignature = errors.New("megolm: signature does not verify")

	// ErrBadMAC means a message carried a valid signature but its MAC did
	// not verify with the keys of its index: the sender encrypted it for a
	// different ratchet (or is not who holds the session).
	ErrBadMAC = errors.New("megolm: message authentication code does not verify")

	// ErrUnknownMessageIndex is matched (errors.Is) by *UnknownIndexError.
	ErrUnknownMessageIndex = errors.New("megolm: unknown message index")

	// ErrUnconnected is returned by Merge for two sessions that are not
	// the same session (different signing keys or unrelated ratchets).
	ErrUnconnected = errors.New("megolm: sessions are not connected")

	// ErrBadPickle is wrapped by every error from unpickling: wrong key,
	// corrupted or truncated pickle, unknown version, inconsistent state.
	ErrBadPickle = errors.New("megolm: bad pickle")
)

// UnknownIndexError reports a message (or an export request) for an index
// below the session's first known index: the session cannot decrypt it,
// and clients typically ask other devices for the key from an earlier
// index. It matches [ErrUnknownMessageIndex] with errors.Is.
type UnknownIndexError struct {
	Index      uint32 // the requested message index
	FirstKnown uint32 // the session's first known index
}

// Error names both indices.
func (e *UnknownIndexError) Error() string {
	return fmt.Sprintf("megolm: message index %d precedes the first known index %d", e.Index, e.FirstKnown)
}

// Is reports whether target is ErrUnknownMessageIndex.
func (e *UnknownIndexError) Is(target error) bool { return target == ErrUnknownMessageIndex }
