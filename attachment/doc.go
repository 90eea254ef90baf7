// Package attachment encrypts and decrypts Matrix file attachments: the
// EncryptedFile object (version "v2") of the Client-Server API, section
// "Sending encrypted attachments",
// https://spec.matrix.org/v1.19/client-server-api/#sending-encrypted-attachments
// (since v1.18 verifying the hash is a MUST).
//
// A file is encrypted with AES-256-CTR under a fresh random 256-bit key and
// a 128-bit counter block whose high 64 bits are random and whose low 64
// bits start at zero; the SHA-256 of the ciphertext travels, with the key
// (as a JSON Web Key) and the IV, inside the Megolm-encrypted event. The
// counter wraps its low 64 bits as WebCrypto does.
//
// # Which function to use
//
// [Encrypt] and [Decrypt] for data that fits in memory. For large files,
// [NewEncryptingReader] or [NewEncryptingWriter] to encrypt and
// [NewDecryptingReader] to decrypt: it reads the whole ciphertext into a
// spool (a temporary file, or the caller's [Spool]), checks the hash, and
// only then decrypts; [DecryptingReader.Size] tells a progress display
// how much plaintext follows. All of them run in constant memory whatever
// the file size and overlap AES-CTR with SHA-256 on a second core.
//
// [NewUnverifiedReader] streams plaintext before the hash is checked: it
// holds back the last chunk and returns [ErrAuthentication] instead of it
// when the hash does not match, but everything before that chunk has
// already been handed out. Use it only where output is discarded on error.
//
// # Randomness
//
// Encryption reads the key and IV from crypto/rand. [EncryptFrom] takes
// the reader first (nil means crypto/rand) for known-answer tests; a
// reader that fails gives an error that wraps the reader's error.
//
// # Errors
//
// [ErrAuthentication]: the ciphertext's SHA-256 is not the one in the
// EncryptedFile. [ErrMalformed]: an EncryptedFile that does not parse (its
// JSON is decoded strictly). [ErrUnsupportedVersion]: a version this
// package does not decrypt, or a legacy one without [Options].AllowLegacy.
//
// # Secrets
//
// The key inside an [EncryptedFile] is secret: it is kept in an unexported
// field, redacted by fmt and log/slog, and written only by MarshalJSON,
// whose output is the wire form for end-to-end encrypted content.
package attachment
