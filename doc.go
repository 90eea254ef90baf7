// Package sicher is Matrix end-to-end encryption in pure Go: Olm, Megolm,
// SAS verification, server-side key backup and the formats around them,
// byte-compatible with libolm 3.2.13 and vodozemac. This package holds only
// the release [Version]; the work is done by the packages below it.
//
// # Which package
//
//   - event: start here for a client, bot or bridge. It builds and opens
//     the m.room.encrypted events of Olm (to-device) and Megolm (rooms),
//     applies the spec's validation rules (sender, recipient, keys, room,
//     replayed message indices) and the key-sharing events.
//   - olm: accounts (identity, one-time and fallback keys) and 1:1 sessions.
//   - megolm: outbound and inbound group sessions, session keys, exported
//     sessions (the one type for forwarded keys, backup and key export).
//   - sas: short authentication string device verification.
//   - keybackup: server-side key backup (m.megolm_backup.v1.curve25519-aes-sha2)
//     and recovery keys.
//   - secretstorage: m.secret_storage.v1.aes-hmac-sha2 secrets and keys.
//   - keyexport: MEGOLM SESSION DATA key export files.
//   - attachment: encrypted attachments (EncryptedFile v2), streaming.
//   - signing: canonical JSON, signed JSON, device keys, cross-signing.
//   - key: public keys, signatures and key ids; strict Ed25519.
//
// The Matrix specification, client-server API, section "End-to-End
// Encryption" (https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption),
// is the reference for every format.
//
// # Conventions in brief
//
// Every package follows the same rules (docs/conventions.md in the
// repository has the full list):
//
//   - Randomness: the plain form reads crypto/rand; a …From form takes an
//     io.Reader as its first argument (nil means crypto/rand) and consumes
//     it in libolm's order, so transcripts replay byte for byte.
//   - Encrypt(dst, plaintext) and Decrypt(dst, message) append to dst, like
//     crypto/cipher.AEAD; Parse… copies its input.
//   - Errors: ErrMalformed, ErrAuthentication, ErrBadPickle and
//     ErrUnsupportedVersion in every package, wrapped with %w across layers.
//   - Pickles: sicher's own versioned, AES-256-GCM-sealed format, and
//     libolm's, read and written byte for byte. Every version ever written
//     stays readable.
//   - JSON read from the network is decoded strictly: exact member names,
//     no duplicates.
//
// # Security model
//
// The homeserver and the network are the adversary: they may drop, replay,
// modify and inject anything. Hostile input gives an error, never a panic,
// and never changes state; MACs and signatures are checked before any
// decryption. Secrets live in unexported fields and are redacted in fmt,
// log/slog and JSON. Trust decisions, and remembering which Megolm message
// indices were seen (event.ReplayGuard helps), stay with the caller. SECURITY.md in the repository has the
// full threat model and how to report a vulnerability.
//
// # Further reading
//
// In the repository (https://github.com/sicher-go/sicher): README.md (an
// Olm and Megolm example in twenty lines), docs/architecture.md (packages,
// layers, import rules, where to change what), docs/conventions.md,
// docs/migrating.md (from libolm or goolm), docs/peer.md (the JSON-lines
// interop driver of the sicher command) and CHANGELOG.md.
package sicher

// Version is this release of sicher, in semantic versioning. The API may
// still change between minor versions before 1.0.0; every change is
// recorded in CHANGELOG.md.
const Version = "0.9.0"
