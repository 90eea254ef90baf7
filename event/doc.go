// Package event is the Matrix layer of sicher: the JSON that clients, bots
// and bridges exchange around Olm and Megolm (client-server API,
// "End-to-End Encryption",
// https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption).
//
//   - Olm to-device events ("m.olm.v1.curve25519-aes-sha2",
//     https://spec.matrix.org/v1.19/client-server-api/#molmv1curve25519-aes-sha2):
//     EncryptOlm builds the m.room.encrypted content and the full
//     plaintext payload; DecryptOlm picks our ciphertext, decrypts with an
//     existing session or a new inbound one, and applies every validation
//     rule, committing nothing unless all pass.
//   - Megolm room events ("m.megolm.v1.aes-sha2",
//     https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2):
//     EncryptMegolm and DecryptMegolm, with the sender binding, the
//     room_id check and a ReplayGuard for reused message indices.
//   - Key sharing ("m.room_key", "m.forwarded_room_key",
//     "m.room_key_request", "m.room_key.withheld",
//     https://spec.matrix.org/v1.19/client-server-api/#mroom_key):
//     RoomKeyFromEvent, ForwardedRoomKeyFromEvent, ParseRoomKeyRequest,
//     ParseWithheld and WithheldFromEvent. Room keys can only be built from
//     an OlmEvent, which only DecryptOlm makes, and DecryptMegolm refuses
//     key-sharing event types: a key that did not arrive Olm-encrypted
//     cannot be accepted through this API (Albrecht et al. 2022,
//     CVE-2022-39251).
//   - KeysForUpload: signed device keys, one-time keys and fallback keys
//     of an olm.Account for /keys/upload.
//
// # What a session proves
//
// A SessionInfo is what we know about an inbound Megolm session: the user
// and device that shared it and how it reached us (Provenance: OverOlm,
// Forwarded, Backup, Export). RoomKey.Info and ForwardedRoomKey.Info make
// one; a store keeps it with the session. DecryptMegolm requires it and
// the event's sender for every event: the info must describe the session
// (same session id and room; OverOlm only for a signed session), and the
// event's sender must be the user who shared it when that is known.
// RoomEvent says what was checked (Provenance, SenderKey,
// SenderDeviceKnown). When a second copy of a stored session arrives,
// CompareRoomKey says whether to merge it: only copies that agree on the
// sender merge, so a member cannot re-share a session as her own.
//
// # Validation rules and errors
//
// DecryptOlm applies the spec's rules for a decrypted Olm payload: the
// payload's sender is the event's sender, recipient is us,
// recipient_keys.ed25519 is our key, keys.ed25519 is the known device's
// Ed25519 key (when the caller gives the device), sender_device_keys
// (MSC4147) belong to the sender and the session and are self-signed, and
// the envelope's sender_key is the peer of the session that decrypts, for
// sessions we started too. DecryptMegolm checks the payload's room_id and
// the sender binding above. A rule that fails gives a *ValidationError
// (its Rule names the field, Got and Want the values) matching
// ErrValidation; errors.Is(err, &ValidationError{Rule: "sender"}) tests
// one rule. Other errors: ErrMalformed, ErrAlgorithm, ErrNotForThisDevice
// (ignore the event), ErrNoSession, ErrUnknownIndex, ErrAuthentication,
// ErrReplay, ErrWithheld and ErrNotOlmEncrypted; they wrap the olm,
// megolm or signing error below, so errors.Is(err, megolm.ErrUnknownIndex)
// and errors.Is(err, olm.ErrAuthentication) hold.
//
// # Options that skip a check
//
// MegolmDecryptParams.InsecureSkipRoomCheck skips the room_id check and
// InsecureSkipSenderCheck the sender binding (RoomEvent.SenderChecked is
// then false); they are for tools that inspect an event outside its room
// or without a store, never for clients. OlmDecryptParams.SessionsComplete
// is required, not a skip: it states that Sessions lists every session
// with the sender, which a pre-key message to our fallback key needs (a
// replay could otherwise start a second copy of a session). Nothing else
// can be turned off.
//
// # JSON, bounds and secrets
//
// Every JSON object read here (contents, payloads, key-sharing events)
// goes through a strict decoder: member names match exactly, and
// duplicate names, also equal under Unicode case folding, are refused
// anywhere in the object. A normal Olm message is tried with at most five
// of the sender's sessions, most recently used first, so a forged message
// costs bounded work. Secret material (the content and payload of an
// OlmEvent, the session keys inside RoomKey and ForwardedRoomKey) is held
// unexported or in redacting types and shows neither in fmt, log/slog nor
// encoding/json; it leaves through OlmEvent.SecretContent and
// SecretPayload. Randomness: EncryptOlm reads crypto/rand, EncryptOlmFrom
// a caller's reader (nil means crypto/rand). Functions are safe for
// concurrent use as far as the olm and megolm objects passed in are:
// sessions and accounts are not, so guard them.
package event
