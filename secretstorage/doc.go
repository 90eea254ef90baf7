// Package secretstorage implements Matrix secret storage ("SSSS", "4S")
// with the m.secret_storage.v1.aes-hmac-sha2 algorithm: secrets such as
// the cross-signing private keys and the key-backup key, encrypted under a
// secret storage key and kept in the user's account data (spec "Secrets",
// https://spec.matrix.org/v1.19/client-server-api/#secrets).
//
// A [Key] is 32 secret bytes. Users hold it as a base58 recovery key
// ([KeyFromRecoveryKey], [Key.RecoveryKey]) or derive it from a passphrase
// with m.pbkdf2 ([NewPassphraseKey]). The account data event
// m.secret_storage.key.<key ID> holds its [KeyDescription], whose iv and
// mac let a client check a key the user typed before it decrypts
// anything: [KeyFromDescription] turns a typed recovery key or passphrase
// into the checked key.
//
// Each secret is encrypted under keys derived with HKDF-SHA-256 from the
// storage key and the secret's name, with AES-256-CTR (bit 63 of the IV
// cleared) and HMAC-SHA-256 over the ciphertext: [Key.Encrypt] and
// [Key.Decrypt] produce and consume the [EncryptedData] stored under
// "encrypted"/<key ID> in the account data event named after the secret.
// The MAC is checked in constant time before anything is decrypted.
//
// # Descriptions the server rewrote
//
// Account data belongs to the server. A description without iv and mac
// accepts any input as its key, and its passphrase salt and iteration
// count are the server's choice; a client that then stores a secret under
// the key hands the server a MAC to test passphrases against. So
// KeyFromDescription refuses such a description with [ErrUnchecked]
// unless [Options].AllowUnchecked is set, a key accepted that way refuses
// to encrypt unless AllowStoreUnderUnchecked is set too, and m.pbkdf2
// iteration counts must lie in 100 000..10 000 000 (fewer only with
// AllowFewIterations).
//
// # Randomness
//
// [NewKey], [NewPassphraseKey], [NewKeyID], [Key.Description] and
// [Key.Encrypt] read crypto/rand; a failing reader gives an error that
// wraps the reader's error.
//
// # Errors
//
// [ErrAuthentication] is a wrong key or a MAC that does not verify,
// [ErrUnchecked] a description without a key check, [ErrMalformed] input
// that does not parse (JSON is decoded strictly: exact member names, no
// duplicates), [ErrBadRecoveryKey] a mistyped recovery key,
// [ErrBadPassphraseParams] m.pbkdf2 parameters out of range and
// [ErrUnsupportedAlgorithm] an algorithm other than this package's.
//
// # Secrets
//
// Key material and decrypted secrets are secret; Key keeps its bytes in an
// unexported field and is redacted by fmt, log/slog and encoding/json.
// Everything in KeyDescription and EncryptedData is public.
package secretstorage
