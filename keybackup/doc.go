// Package keybackup implements server-side key backup with the
// m.megolm_backup.v1.curve25519-aes-sha2 algorithm (Matrix Client-Server
// API, "Server-side key backups":
// https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups),
// the recovery key that shows its decryption key to users (appendices,
// "Cryptographic key representation":
// https://spec.matrix.org/v1.19/appendices/#cryptographic-key-representation),
// passphrase-derived keys (m.pbkdf2), and libolm's PkDecryption and
// PkEncryption objects (libolm src/pk.cpp) that clients built on libolm
// use for it. libolm's PkSigning is key.SigningKey.
//
// A backup has a [DecryptionKey], a Curve25519 key pair. Its public key
// goes into the backup version's auth_data ([AuthData]); any device that
// trusts that auth_data encrypts the sessions it holds to it with
// [EncryptSession] (a megolm.ExportedSession) and uploads the resulting
// [EncryptedSessionData]. A device that holds the decryption key (from the
// user as a [RecoveryKey], from secret storage, or shared by a verified
// device) restores them with [DecryptionKey.DecryptSession], or a whole
// backup at once with [DecryptionKey.DecryptRoomKeys] (the server's GET
// /room_keys/keys body) or [DecryptionKey.DecryptAll], which use every CPU.
// Each restored megolm.ExportedSession becomes an (unverified)
// megolm.InboundSession with one call, its InboundSession method.
//
// # Security: backup v1 does not authenticate
//
// The mac of m.megolm_backup.v1.curve25519-aes-sha2 is HMAC-SHA-256 over
// the EMPTY string, not over the ciphertext: libolm computed it that way
// by mistake (pk.cpp passes the 8-byte MAC buffer as the "ciphertext" to
// MAC), and every client reproduces it, so this package does too. The mac
// therefore only shows that its writer knew the shared secret of its own
// ephemeral key, which anybody can choose; it says nothing about the
// ciphertext. Consequences:
//
//   - The server (or anyone who can write to the backup) can replace or
//     create entries with keys of its choosing: the public key is public.
//     Treat every restored session as unauthenticated: it cannot prove
//     who created it, and should not be marked verified.
//   - The ciphertext is malleable AES-CBC. Decrypt reports padding and
//     JSON failures as one error, [ErrDecrypt], to give no padding oracle
//     in its result, but callers must not send back any indication of why
//     an entry failed.
//
// The successor that authenticates entries is MSC4048 (authenticated key
// backup), not yet merged into the spec.
//
// # Randomness
//
// [GenerateDecryptionKey], [Encrypt], [EncryptSession] and
// [DecryptionKey.Pickle] read crypto/rand. [EncryptFrom] and
// [EncryptSessionFrom] take the reader first (nil means crypto/rand), for
// libolm's known-answer vectors and reproducible transcripts; a failing
// reader gives an error that wraps its error.
//
// # Errors
//
// [ErrMalformed] (bad base64, sizes, recovery keys, passphrase parameters),
// [ErrAuthentication] (the mac does not match: not this backup's key),
// [ErrDecrypt] (padding or session JSON, deliberately one error) and
// [ErrBadPickle]; a low-order key also matches key.ErrNonContributory.
//
// # Secrets
//
// A [DecryptionKey], a [RecoveryKey] and the session key inside a restored
// megolm.ExportedSession are secret. fmt and log/slog never show their
// secret parts, and encoding/json cannot write them. DecryptionKey and
// RecoveryKey are immutable and safe for concurrent use;
// EncryptedSessionData is a plain value owned by its caller. Returned
// slices are new: nothing aliases the caller's input.
package keybackup
