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
	// not decrypt (an Olm event given to the Megolm path, or the reverse),
	// or the message is of a variant sicher does not decrypt by default:
	// vodozemac's session config v2, when it wraps olm.ErrSessionConfigV2
	// or megolm.ErrSessionConfigV2.
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

	// ErrValidation is matched by *ValidationError: the event decrypted,
	// but a field of it is not what the spec's validation rules require
	// (a sender, recipient, key or room that does not match).
	ErrValidation = errors.New("event: validation failed")

	// ErrReplay means a message was seen before: a second, different
	// event at a Megolm message index a ReplayGuard saw (the error names
	// both events), or a pre-key message that would start an Olm session
	// we already have.
	ErrReplay = errors.New("event: message seen before (possible replay)")

	// ErrWithheld is matched by *Withheld: the sender told us it will not
	// share the key (m.room_key.withheld).
	ErrWithheld = errors.New("event: room key withheld by the sender")

	// ErrNotOlmEncrypted means a key-sharing event (m.room_key,
	// m.forwarded_room_key, m.dummy, ...) arrived other than Olm-encrypted,
	// for example inside a Megolm room event. Such keys must be dropped
	// (CVE-2022-39251).
	ErrNotOlmEncrypted = errors.New("event: key-sharing event must arrive Olm-encrypted")
)

// ValidationError reports an event that decrypted but breaks one of the
// spec's validation rules. Rule names the field checked:
//
//   - "sender": the Olm payload's sender is not the event's, the known
//     device is another user's, or a Megolm event's sender is not the
//     user who shared the session;
//   - "recipient", "recipient_keys.ed25519": the Olm payload is not for
//     us;
//   - "keys.ed25519": the Olm payload's sender key is not the known
//     device's Ed25519 key;
//   - "sender_device_keys": sender_device_keys are malformed, another
//     user's or device's, or not self-signed;
//   - "sender_key": the envelope's sender_key is not the Olm session's
//     peer or the known device's key (or, for m.room_key.withheld, not
//     the Olm sender's);
//   - "sender_device": the device keys given to DecryptMegolm are not
//     the session's sender's;
//   - "session": the SessionInfo given does not describe the session
//     (session id, room, or OverOlm for an unsigned session), or, from
//     CompareRoomKey, two copies of a session disagree about its sender;
//   - "room_id": a Megolm payload names another room.
//
// Got is what the event says and Want what it had to be. It matches
// ErrValidation, and errors.Is(err, &ValidationError{Rule: r}) tests for
// one rule. Nothing in it is secret: it holds user IDs, public keys and
// room IDs.
type ValidationError struct {
	Rule      string
	Got, Want string
}

// Error names the rule and both values.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("event: %s is %q, expected %q", e.Rule, e.Got, e.Want)
}

// Is reports whether target is ErrValidation, or a *ValidationError with
// the same Rule.
func (e *ValidationError) Is(target error) bool {
	if t, ok := target.(*ValidationError); ok {
		return t.Rule == e.Rule
	}
	return target == ErrValidation
}

func invalid(rule string, got, want any) error {
	return &ValidationError{Rule: rule, Got: fmt.Sprint(got), Want: fmt.Sprint(want)}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
