package keybackup

import (
	"crypto/subtle"
	"fmt"

	"github.com/sicher-go/sicher/internal/recoverykey"
)

// Errors of ParseRecoveryKey and DecryptionKeyFromPassphrase, shared with
// secret storage's recovery keys and passphrases.
var (
	// ErrRecoveryKeyCharacter: a character outside the base58 alphabet.
	ErrRecoveryKeyCharacter = recoverykey.ErrBadCharacter
	// ErrRecoveryKeyLength: the text does not decode to 35 bytes.
	ErrRecoveryKeyLength = recoverykey.ErrBadLength
	// ErrRecoveryKeyPrefix: the decoded bytes do not start 0x8B 0x01.
	ErrRecoveryKeyPrefix = recoverykey.ErrBadPrefix
	// ErrRecoveryKeyParity: the parity byte is wrong (a typo).
	ErrRecoveryKeyParity = recoverykey.ErrBadParity
	// ErrPassphraseParams: iterations out of 1..recoverykey's maximum
	// (10 000 000).
	ErrPassphraseParams = recoverykey.ErrBadPassphraseParams
)

// RecoveryKey is a backup decryption key in the form users write down:
// 48 base58 characters in groups of four, e.g. "EsTc LW2K … UE4d" (spec
// appendices, "Cryptographic key representation"). It is secret; fmt
// prints it redacted. It is safe for concurrent use.
type RecoveryKey struct {
	k [KeySize]byte
}

// ParseRecoveryKey parses a recovery key, ignoring whitespace of any kind.
// Errors match ErrRecoveryKeyCharacter, ErrRecoveryKeyLength,
// ErrRecoveryKeyPrefix or ErrRecoveryKeyParity.
func ParseRecoveryKey(s string) (RecoveryKey, error) {
	k, err := recoverykey.Decode(s)
	if err != nil {
		return RecoveryKey{}, fmt.Errorf("keybackup: %w", err)
	}
	return RecoveryKey{k}, nil
}

// Encode returns the recovery key text to show the user. It is secret.
func (r RecoveryKey) Encode() string { return recoverykey.Encode(r.k) }

// DecryptionKey returns the backup decryption key r represents.
func (r RecoveryKey) DecryptionKey() *DecryptionKey {
	k, err := NewDecryptionKey(r.k[:])
	if err != nil {
		panic("keybackup: internal error: " + err.Error())
	}
	return k
}

// Equal reports in constant time whether r and other are the same key.
func (r RecoveryKey) Equal(other RecoveryKey) bool {
	return subtle.ConstantTimeCompare(r.k[:], other.k[:]) == 1
}

// Format redacts the key for every verb.
func (RecoveryKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, "keybackup.RecoveryKey{REDACTED}") }

// RecoveryKey returns k in recovery-key form.
func (k *DecryptionKey) RecoveryKey() RecoveryKey { return RecoveryKey{k.Bytes()} }

// DecryptionKeyFromPassphrase derives a 256-bit backup decryption key
// from a passphrase with m.pbkdf2 (PBKDF2-HMAC-SHA-512; the salt string's
// UTF-8 bytes are the salt). Legacy Element backups stored salt and
// iterations in auth_data.private_key_salt and private_key_iterations;
// current clients keep the key in secret storage instead.
func DecryptionKeyFromPassphrase(passphrase, salt string, iterations int) (*DecryptionKey, error) {
	// The iteration floor (recoverykey.MinIterations) is not applied here
	// yet: legacy backups carry their own count; the ceiling is.
	b, err := recoverykey.FromPassphrase(passphrase, salt, iterations, KeySize*8, true)
	if err != nil {
		return nil, fmt.Errorf("keybackup: %w", err)
	}
	defer clear(b)
	return NewDecryptionKey(b)
}
