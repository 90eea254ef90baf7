// Package keybackup implements server-side key backup with the
// m.megolm_backup.v1.curve25519-aes-sha2 algorithm (client-server spec
// "Server-side key backups"; reference matrix-e2ee-formats.md §7), the
// recovery key that shows its decryption key to users (spec appendices,
// "Cryptographic key representation"; §1.4), passphrase-derived keys
// (m.pbkdf2; §8), and libolm's PkDecryption, PkEncryption and PkSigning
// objects that clients built on libolm use for it.
//
// A backup has a [DecryptionKey], a Curve25519 key pair. Its public key
// goes into the backup version's auth_data ([AuthData]); any device that
// trusts that auth_data encrypts the sessions it holds to it with
// [EncryptSession] and uploads the resulting [EncryptedSessionData]. A
// device that holds the decryption key (from the user as a
// [RecoveryKey], from secret storage, or shared by a verified device)
// restores them with [DecryptionKey.DecryptSession], or a whole backup at
// once with [DecryptionKey.DecryptRoomKeys] (the server's GET
// /room_keys/keys body) or [DecryptionKey.DecryptAll], which use every
// CPU.
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
// # Secrets
//
// A [DecryptionKey], a [RecoveryKey], a [PkSigning] key and the session
// key inside a [SessionData] are secret. fmt never prints their secret
// parts. DecryptionKey, RecoveryKey and PkSigning are immutable and safe
// for concurrent use; SessionData and EncryptedSessionData are plain
// values owned by their caller.
package keybackup
