// Package megolm implements Megolm, the group ratchet behind Matrix's
// m.megolm.v1.aes-sha2 room encryption (libolm docs/megolm.md, and the
// Matrix Client-Server API, "m.megolm.v1.aes-sha2":
// https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2),
// byte for byte compatible with libolm 3.2.13 and vodozemac.
//
// A sender creates an [OutboundSession], shares its [SessionKey] with every
// recipient device over Olm (m.room_key), and encrypts room events with
// [OutboundSession.Encrypt]. A recipient creates an [InboundSession] from the
// session key with [NewInboundSession] and decrypts with
// [InboundSession.Decrypt], which returns the message index for replay
// detection. A session that travels with its metadata (a key export entry,
// a key backup entry, a forwarded room key) is an [ExportedSession]; its
// InboundSession method imports it, unverified, as [ImportInboundSession]
// does for a bare [ExportedSessionKey].
//
// # Shapes, aliasing and randomness
//
// Encrypt(dst, plaintext) and Decrypt(dst, message) append to dst, as
// crypto/cipher.AEAD does; they are the only forms: the base64 of events
// belongs to the event layer. [ParseMessage], [ParseSessionKey] and
// [ParseExportedSessionKey] take binary input and copy what they keep;
// base64 text goes through the types' UnmarshalText methods. No result
// aliases an input. [NewOutboundSession] reads crypto/rand;
// [NewOutboundSessionFrom] takes a reader (nil means crypto/rand) so that a
// libolm transcript replays. A failing reader gives an error that wraps its
// error; nothing panics on any reader.
//
// # Errors
//
// [ErrMalformed] (input that does not parse; with [ErrUnsupportedVersion]
// for another message version), [ErrAuthentication] (a signature or MAC
// that fails), [*UnknownIndexError] (matches [ErrUnknownIndex]),
// [ErrUnconnected] (Merge of two different sessions), [ErrBadPickle], and
// [ErrSessionConfigV2] (an authentic message of vodozemac's session config
// v2 for a session without it; matches [ErrUnsupportedVersion]).
//
// Wire formats (megolm.md): a message is
//
//	0x03 ‖ 0x08 index ‖ 0x12 ciphertext ‖ MAC (8) ‖ Ed25519 signature (64)
//
// a SessionKey is 0x02 ‖ index ‖ R0..R3 ‖ signing key ‖ signature (229
// bytes) and an ExportedSessionKey 0x01 ‖ index ‖ R0..R3 ‖ signing key (165
// bytes). Message keys are HKDF-SHA-256("MEGOLM_KEYS") of the 128-byte
// ratchet: AES-256-CBC, HMAC-SHA-256 truncated to 8 bytes.
//
// # Security
//
// Everything that holds a ratchet or a signing key is secret: sessions,
// session keys, exported sessions and pickles. Those types print only their
// session ID (and index) with fmt and log/slog, and encoding/json cannot
// write their secrets (ExportedSession's key leaves only through
// MarshalSecretJSON). Decryption verifies the signature (strict Ed25519: no
// small-order keys or R, the session's key validated once), then the MAC,
// then decrypts, and changes the session only after all three succeeded.
// Sessions are not safe for concurrent use; session keys and messages are
// immutable.
//
// Megolm gives no forward secrecy within a session and no replay
// protection: callers must track (session ID, message index) pairs, check
// that the decrypted event's room_id matches, and bind the session to the
// Olm sender that delivered its key.
//
// # Compatibility
//
// Messages, session keys and libolm pickles are byte-identical to libolm's
// ([NewOutboundSessionFrom] consumes its random bytes in libolm's order). Where
// vodozemac improved on libolm, this package follows vodozemac:
// decryption never marks an imported session verified (libolm does after
// any successful decryption); indices are ordered as plain numbers, so a
// message below the first known index is always unknown (libolm compares
// modulo 2^32); [InboundSession.Merge] and [InboundSession.AdvanceTo] work
// as vodozemac's merge and advance_to. Messages of version 4 (vodozemac's
// experimental session config v2, not in the specification: the whole
// 32-byte MAC; see [SessionConfig]) parse, and a session of the default
// config refuses them with [ErrSessionConfigV2] once their signature
// verified, changing nothing; [InboundSession.SetSessionConfig] and
// [NewOutboundSessionWithConfig] opt a session in to decrypting or
// sending them. sicher's pickles keep the config; libolm's cannot, and
// PickleLibolm refuses a v2 session.
//
// Pickles: [OutboundSession.Pickle] and [InboundSession.Pickle] use sicher's
// own format (AES-256-GCM, random nonce, 32-byte key, a u8 object version;
// every version written so far still loads);
// [OutboundSession.PickleLibolm] and [InboundSession.PickleLibolm] and the
// UnpickleLibolm functions read and write libolm's (outbound version 1;
// inbound versions 1 and 2, written as 2).
package megolm
