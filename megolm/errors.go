package megolm

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is wrapped by every error about input that does not
	// parse: a message (wrong version, missing or oversized fields,
	// truncation, or, after authentication, bad padding), a session key
	// (wrong length or version, unusable signing key) or an exported
	// session's JSON.
	ErrMalformed = errors.New("megolm: malformed input")

	// ErrUnsupportedVersion is returned, together with ErrMalformed, for a
	// message whose version byte is not 3. Version 4 is vodozemac's
	// experimental "session config v2" (untruncated MAC), which is not in
	// the Matrix specification and which sicher does not implement; the
	// error says so.
	ErrUnsupportedVersion = errors.New("megolm: unsupported version")

	// ErrAuthentication means a message or a session key did not
	// authenticate: its Ed25519 signature does not verify under the
	// session's signing key, or its MAC does not verify with the keys of
	// its index (the sender encrypted it for a different ratchet). The
	// error text tells which; callers need not.
	ErrAuthentication = errors.New("megolm: authentication failed")

	// ErrUnknownIndex is matched (errors.Is) by *UnknownIndexError.
	ErrUnknownIndex = errors.New("megolm: unknown message index")

	// ErrUnconnected is returned by Merge for two sessions that are not
	// the same session (different signing keys or unrelated ratchets).
	ErrUnconnected = errors.New("megolm: sessions are not connected")

	// ErrBadPickle is wrapped by every error from unpickling: wrong key,
	// corrupted or truncated pickle, unknown version, inconsistent state.
	ErrBadPickle = errors.New("megolm: bad pickle")
)

// The two kinds of authentication failure, both matching ErrAuthentication.
var (
	errBadSignature = fmt.Errorf("%w: signature does not verify", ErrAuthentication)
	errBadMAC       = fmt.Errorf("%w: message authentication code does not verify", ErrAuthentication)
)

// UnknownIndexError reports a message (or an export request) for an index
// below the session's first known index: the session cannot decrypt it,
// and clients typically ask other devices for the key from an earlier
// index. It matches [ErrUnknownIndex] with errors.Is.
type UnknownIndexError struct {
	Index      uint32 // the requested message index
	FirstKnown uint32 // the session's first known index
}

// Error names both indices.
func (e *UnknownIndexError) Error() string {
	return fmt.Sprintf("megolm: message index %d precedes the first known index %d", e.Index, e.FirstKnown)
}

// Is reports whether target is ErrUnknownIndex.
func (e *UnknownIndexError) Is(target error) bool { return target == ErrUnknownIndex }
