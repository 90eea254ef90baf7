package event

import (
	"errors"
	"fmt"
)

// Errors a client maps to an "unable to decrypt" reason or a warning. Each
// is returned wrapped (errors.Is), often together with the error of the
// layer below (olm, megolm, signing).
var (
	// ErrMalformed means the event content or the decrypted payload is not
	// the JSON the spec requires: a required field is missing or has the
	// wrong type, a key does not parse.
	ErrMalformed = errors.New("event: malformed event")

	// ErrAlgorithm means the content names an algorithm this function does
	// not decrypt (an Olm event given to the Megolm path, or the reverse).
	ErrAlgorithm = errors.New("event: unsupported or unexpected algorithm")

	// ErrNotForThisDevice means an Olm event has no ciphertext for our
	// Curve25519 identity key: it was meant for another device. The spec
	// says to ignore such an event.
	ErrNotForThisDevice = errors.New("event: no ciphertext for this device")

	// ErrNoSession means no session can decrypt the event: an Olm normal
	// message that matches none of the sessions given, or a Megolm event
	// whose session_id is not the session's.
	ErrNoSession = errors.New("event: no session for this event")

	// ErrUnknownIndex means the Megolm session was received at a later
	// index than the event's (megolm.UnknownIndexError has the numbers),
	// or the Olm message key is gone.
	ErrUnknownIndex = errors.New("event: message index not known to the session")

	// ErrAuthentication means the message did not authenticate under the
	// session: a bad MAC or Megolm signature.
	ErrAuthentication = errors.New("event: message authentication failed")

	// ErrWrongSender means the decrypted Olm payload names another sender
	// than the to-device event, or a sender Ed25519 key other than the
	// sending device's (spec v1.19 Olm validation items 1 and 2).
	ErrWrongSender = errors.New("event: payload sender does not match")

	// ErrWrongRecipient means the payload's recipient is not our user ID
	// (validation item 3).
	ErrWrongRecipient = errors.New("event: payload recipient is not us")

	// ErrWrongRecipientKey means recipient_keys.ed25519 is not our device's
	// Ed25519 key (validation item 4).
	ErrWrongRecipientKey = errors.New("event: payload recipient key is not ours")

	// ErrSenderDeviceKeys means sender_device_keys (MSC4147) does not belong
	// to the sender, does not hold the keys of the Olm session and of the
	// payload, or its self-signature does not verify (validation item 5).
	ErrSenderDeviceKeys = errors.New("event: sender_device_keys do not match the sender")

	// ErrSenderKey means the envelope's sender_key is not the identity key
	// of the Olm session that decrypted the message, or known device keys
	// given by the caller are for another Curve25519 key.
	ErrSenderKey = errors.New("event: sender key does not match the session")

	// ErrWrongRoom means a Megolm payload's room_id is not the room the
	// event arrived in: the server moved it.
	ErrWrongRoom = errors.New("event: payload room_id is not the event's room")

	// ErrReplay is matched by *ReplayError: a second, different event at a
	// Megolm message index already seen.
	ErrReplay = errors.New("event: duplicate Megolm message index (possible replay)")

	// ErrWithheld is matched by *WithheldError: the sender told us it will
	// not share the key (m.room_key.withheld).
	ErrWithheld = errors.New("event: room key withheld by the sender")

	// ErrNotOlmEncrypted means a key-sharing event (m.room_key,
	// m.forwarded_room_key, m.dummy, ...) arrived other than Olm-encrypted,
	// for example inside a Megolm room event. Such keys must be dropped
	// (CVE-2022-39251).
	ErrNotOlmEncrypted = errors.New("event: key-sharing event must arrive Olm-encrypted")
)

// ReplayError reports a Megolm message index seen before in another event.
type ReplayError struct {
	SessionID string
	Index     uint32
	// The event seen first at this index, and the one now refused.
	FirstEventID, EventID string
	FirstTS, TS           int64
}

// Error names both events and the index they share.
func (e *ReplayError) Error() string {
	return fmt.Sprintf("event: Megolm session %s index %d already used by event %s (ts %d), now by %s (ts %d): possible replay attack",
		e.SessionID, e.Index, e.FirstEventID, e.FirstTS, e.EventID, e.TS)
}

// Unwrap returns ErrReplay.
func (e *ReplayError) Unwrap() error { return ErrReplay }

// WithheldError is the decryption error to show for a session whose key
// the sender withheld; see Withheld.Err.
type WithheldError struct {
	Code   string // one of the Withheld* codes, or another the sender used
	Reason string // the sender's human-readable reason, may be empty
}

// Error gives the code and the sender's reason.
func (e *WithheldError) Error() string {
	if e.Reason != "" {
		return "event: room key withheld by the sender: " + e.Code + " (" + e.Reason + ")"
	}
	return "event: room key withheld by the sender: " + e.Code
}

// Unwrap returns ErrWithheld.
func (e *WithheldError) Unwrap() error { return ErrWithheld }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
