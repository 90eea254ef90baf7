// Package event is the Matrix layer of sicher: the JSON that clients, bots
// and bridges exchange around Olm and Megolm (client-server API
// "End-to-End Encryption": "m.olm.v1.curve25519-aes-sha2",
// "m.megolm.v1.aes-sha2", "Key-sharing events"; spec v1.19).
//
//   - Olm to-device events: EncryptOlm builds the m.room.encrypted content
//     and the full plaintext payload; DecryptOlm picks our ciphertext,
//     decrypts with an existing session or a new inbound one, and applies
//     every validation rule of the spec (sender, recipient, recipient key,
//     the sender's Ed25519 key, sender_device_keys), committing nothing
//     unless all pass.
//   - Megolm room events: EncryptMegolm and DecryptMegolm, with the room_id
//     check and a ReplayGuard for reused message indices.
//   - Key sharing: RoomKey, ForwardedRoomKey (always unverified),
//     RoomKeyRequest, Withheld and m.dummy. Room keys can only be built
//     from an OlmEvent, which only DecryptOlm makes, and DecryptMegolm
//     refuses key-sharing event types: a key that did not arrive
//     Olm-encrypted cannot be accepted through this API (Albrecht et al.
//     2022, CVE-2022-39251).
//   - KeysForUpload: signed device keys, one-time keys and fallback keys
//     of an olm.Account for /keys/upload.
//
// Errors name the reason a client shows for an undecryptable event:
// ErrNoSession, ErrUnknownIndex, ErrAuthentication, ErrWrongRecipient,
// ErrWrongRoom, ErrReplay, ErrWithheld and the others in errors.go.
//
// Secret material (session keys inside key-sharing events, payloads that
// carry them) is printed redacted by fmt. Functions are safe for concurrent
// use as far as the olm and megolm objects passed in are: sessions and
// accounts are not, so guard them.
package event
