// Package attachment encrypts and decrypts Matrix file attachments: the
// EncryptedFile object (version "v2") of the Client-Server API, section
// "Sending encrypted attachments" (spec v1.18 makes verifying the hash a
// MUST; reference matrix-e2ee-formats.md §10).
//
// A file is encrypted with AES-256-CTR under a fresh random 256-bit key and
// a 128-bit counter block whose high 64 bits are random and whose low 64
// bits start at zero; the SHA-256 of the ciphertext travels, with the key
// (as a JSON Web Key) and the IV, inside the Megolm-encrypted event. The
// counter wraps its low 64 bits as WebCrypto does.
//
// Most users call [Encrypt] and [Decrypt] for data that fits in memory, or
// the streaming [NewEncryptingReader], [NewEncryptingWriter] and
// [NewDecryptingReader] for large documents, which run in constant memory
// whatever the file size and overlap AES-CTR with SHA-256 on a second core.
//
// Streaming decryption cannot know that the ciphertext is authentic until it
// has read all of it. [DecryptingReader] therefore holds back the last chunk
// of plaintext and returns [ErrHashMismatch] instead of it when the hash
// does not match; everything before that chunk has already been handed out
// and must be discarded by the caller on error. Callers that must never see
// unverified plaintext use [NewVerifiedReader], which first spools the
// ciphertext to a temporary file (or the caller's [Spool]) and checks the
// hash before decrypting a single byte.
//
// The key inside an [EncryptedFile] is secret: it is kept in an unexported
// field, appears only in the JSON encoding, and is redacted by fmt.
package attachment
