package olm

import (
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/ratchet"
)

var (
	// ErrMalformed is wrapped by every error about a message that cannot be
	// parsed: truncated, a missing or wrong-sized field, an unknown wire
	// type, an unknown message type.
	ErrMalformed = errors.New("olm: malformed message")
	// ErrUnsupportedVersion is returned for a message whose version byte is
	// not 3 (Olm v1). Version 4 is vodozemac's unspecified "v2" session
	// configuration, which sicher does not implement.
	ErrUnsupportedVersion = errors.New("olm: unsupported message version")
	// ErrAuthentication means a message did not authenticate: its MAC (or,
	// after a valid MAC, its padding) is wrong, or it claims a new ratchet
	// chain we cannot have shared with its sender. The session is unchanged.
	ErrAuthentication = errors.New("olm: message authentication failed")
	// ErrMessageGap is returned for a message more than 2000 indices ahead
	// of its chain (libolm's and vodozemac's limit).
	ErrMessageGap = errors.New("olm: message index too far ahead of its chain")
	// ErrUnknownMessageIndex is returned for a message whose key is gone: a
	// replay, or an out-of-order message older than the skipped keys kept.
	ErrUnknownMessageIndex = errors.New("olm: no key for this message index (replayed or too old)")
	// ErrUnknownOneTimeKey is returned when a pre-key message names a
	// one-time or fallback key the account does not have (used already, or
	// never ours), and by RemoveOneTimeKeys when the key is gone.
	ErrUnknownOneTimeKey = errors.New("olm: unknown one-time key")
	// ErrIdentityKeyMismatch is returned when a message or a stored session
	// names another Curve25519 identity key than the session's peer (or
	// than the one the caller expected).
	ErrIdentityKeyMismatch = errors.New("olm: identity key does not match the session's peer")
	// ErrBadPickle is wrapped by every error about a pickle or a dehydrated
	// device: wrong key, corruption, another object's pickle, unknown
	// version, bad contents.
	ErrBadPickle = errors.New("olm: bad pickle")
	// ErrBlankSession is returned by Encrypt and Decrypt of a blank
	// session (see Session): one without a ratchet chain.
	ErrBlankSession = errors.New("olm: blank session (no ratchet chain)")
)

// ratchetError maps an error of the Double Ratchet engine to olm's own
// sentinels, once, so that no internal package name reaches a caller.
// Errors of package key (a low-order ratchet key, a failing reader) are
// wrapped with olm's prefix.
func ratchetError(err error) error {
	switch {
	case errors.Is(err, ratchet.ErrMessageGap):
		return ErrMessageGap
	case errors.Is(err, ratchet.ErrUnknownMessageIndex):
		return ErrUnknownMessageIndex
	case errors.Is(err, ratchet.ErrNoSendingChain):
		return fmt.Errorf("%w: the peer started a new chain before we sent one", ErrAuthentication)
	case errors.Is(err, ratchet.ErrChainExhausted):
		return errors.New("olm: sending chain exhausted (2^32 messages)")
	case errors.Is(err, ratchet.ErrBadState):
		return fmt.Errorf("%w: session: malformed Double Ratchet state", ErrBadPickle)
	}
	return fmt.Errorf("olm: %w", err)
}
