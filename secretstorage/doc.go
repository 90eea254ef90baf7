// Package secretstorage implements Matrix secret storage ("SSSS", "4S")
// with the m.secret_storage.v1.aes-hmac-sha2 algorithm: secrets such as
// the cross-signing private keys and the key-backup key, encrypted under a
// secret storage key and kept in the user's account data (spec
// Client-Server API, "Secrets"; reference matrix-e2ee-formats.md §8, §9).
//
// A [Key] is 32 secret bytes. Users hold it as a base58 recovery key
// ([KeyFromRecoveryKey], [Key.RecoveryKey]) or derive it from a passphrase
// with m.pbkdf2 ([KeyFromPassphrase], [NewPassphraseKey]). The account data
// event m.secret_storage.key.<key ID> holds its [KeyDescription], whose
// iv and mac let a client check a key the user typed ([Key.Check]) before
// it tries to decrypt anything.
//
// Each secret is encrypted under keys derived with HKDF-SHA-256 from the
// storage key and the secret's name, with AES-256-CTR (bit 63 of the IV
// cleared) and HMAC-SHA-256 over the ciphertext: [Key.Encrypt] and
// [Key.Decrypt] produce and consume the [EncryptedData] stored under
// "encrypted"/<key ID> in the account data event named after the secret.
// The MAC is checked in constant time before anything is decrypted.
//
// Key material and decrypted secrets are secret; Key keeps its bytes in an
// unexported field and is redacted by fmt. Everything in KeyDescription and
// EncryptedData is public.
package secretstorage
