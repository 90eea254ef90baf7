package keybackup

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sicher-go/sicher/internal/recoverykey"
)

// RecoveryKey is a backup decryption key in the form users write down:
// 48 base58 characters in groups of four, e.g. "EsTc LW2K … UE4d" (spec
// appendices, "Cryptographic key representation"). It is secret; fmt
// prints it redacted. It is safe for concurrent use.
type RecoveryKey struct {
	k [KeySize]byte
}

// ParseRecoveryKey parses a recovery key, ignoring whitespace of any kind.
// Errors wrap ErrMalformed and say what is wrong: a character outside the
// base58 alphabet, a length other than 35 decoded bytes, a prefix other
// than 0x8B 0x01, or a wrong parity byte (a typo).
func ParseRecoveryKey(s string) (RecoveryKey, error) {
	k, err := recoverykey.Decode(s)
	if err != nil {
		return RecoveryKey{}, &codecError{"recovery key", err}
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

// LogValue implements slog.LogValuer: the key redacted.
func (RecoveryKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// RecoveryKey returns k in recovery-key form.
func (k *DecryptionKey) RecoveryKey() RecoveryKey { return RecoveryKey{k.Bytes()} }

// DecryptionKeyFromPassphrase derives a 256-bit backup decryption key
// from a passphrase with m.pbkdf2 (PBKDF2-HMAC-SHA-512; the salt string's
// UTF-8 bytes are the salt). Legacy Element backups stored salt and
// iterations in auth_data.private_key_salt and private_key_iterations;
// current clients keep the key in secret storage instead. Iterations out
// of range (below 1, or above the bound the secret storage package shares)
// give an error wrapping ErrMalformed.
func DecryptionKeyFromPassphrase(passphrase, salt string, iterations int) (*DecryptionKey, error) {
	// The iteration floor (recoverykey.MinIterations) is not applied here
	// yet: legacy backups carry their own count; the ceiling is.
	b, err := recoverykey.FromPassphrase(passphrase, salt, iterations, KeySize*8, true)
	if err != nil {
		return nil, &codecError{"passphrase parameters", err}
	}
	defer clear(b)
	return NewDecryptionKey(b)
}

// codecError is an error of the recovery-key codec shared with secret
// storage, reported as ErrMalformed. Its text leaves out the internal
// package's name; it still unwraps to the codec's error, so that the
// module's own command-line tool can say which check failed.
type codecError struct {
	what string
	err  error
}

func (e *codecError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrMalformed, e.what, strings.TrimPrefix(e.err.Error(), "recoverykey: "))
}

func (e *codecError) Unwrap() []error { return []error{ErrMalformed, e.err} }
