package olm

import (
	"errors"

	"github.com/sicher-go/sicher/ratchet"
)

var (
	// ErrMalformedMessage is wrapped by every error about a message that
	// cannot be parsed: truncated, a missing or wrong-sized field, an
	// unknown wire type, an unknown message type.
	ErrMalformedMessage = errors.New("olm: malformed message")
	// ErrUnsupportedVersion is returned for a message whose version byte is
	// not 3 (Olm v1). Version 4 is vodozemac's unspecified "v2" session
	// configuration, which sicher does not implement.
	ErrUnsupportedVersion = errors.New("olm: unsupported message version")
	// ErrAuthentication means a message did not authenticate: its MAC (or,
	// after a valid MAC, its padding) is wrong, or it claims a new ratchet
	// chain we cannot have shared with its sender. The session is unchanged.
	ErrAuthentication = errors.New("olm: message authentication failed")
	// ErrMessageGap is returned for a message more than 2000 indices ahead
	// of its chain (ratchet.MaxMessageGap).
	ErrMessageGap = ratchet.ErrMessageGap
	// ErrUnknownMessageIndex is returned for a message whose key is gone: a
	// replay, or an out-of-order message older than the skipped keys kept.
	ErrUnknownMessageIndex = ratchet.ErrUnknownMessageIndex
	// ErrUnknownOneTimeKey is returned when a pre-key message names a
	// one-time or fallback key the account does not have (used already, or
	// never ours), and by RemoveOneTimeKeys when the key is gone.
	ErrUnknownOneTimeKey = errors.New("olm: unknown one-time key")
	// ErrIdentityKeyMismatch is returned when a pre-key message carries an
	// identity key other than the one the caller expected.
	ErrIdentityKeyMismatch = errors.New("olm: identity key does not match")
	// ErrBadPickle is wrapped by every error about a pickle: wrong key,
	// corruption, another object's pickle, unknown version, bad contents.
	ErrBadPickle = errors.New("olm: bad pickle")
	// ErrTooManyKeys is returned for a request to generate more one-time
	// keys than an account stores, or when the 32-bit key id counter is
	// used up.
	ErrTooManyKeys = errors.New("olm: too many keys")
)
