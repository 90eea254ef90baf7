package keybackup

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
)

// Algorithm is the backup algorithm this package implements.
const Algorithm = "m.megolm_backup.v1.curve25519-aes-sha2"

// Sizes.
const (
	// KeySize is the size of a backup decryption key.
	KeySize = 32
	// MACSize is the size of the (unauthenticating) mac of an entry.
	MACSize = aessha2.TagSize
	// MaxCiphertextSize bounds the ciphertext Decrypt accepts. Session
	// data is well under 2 KiB; 1 MiB leaves room for anything plausible.
	MaxCiphertextSize = 1 << 20
)

// Errors returned (wrapped) by this package. Errors of a key agreement
// with a low-order ephemeral or backup key also match
// key.ErrNonContributory.
var (
	// ErrMalformed: an entry's fields are not valid base64 of the right
	// sizes, a key has the wrong size, a recovery key does not decode
	// (bad character, length, prefix or parity), or passphrase parameters
	// are out of range.
	ErrMalformed = errors.New("keybackup: malformed backup data")
	// ErrAuthentication: the mac does not match, so the entry was not
	// encrypted to this key (a wrong recovery key, or an entry of another
	// backup). It does not authenticate the ciphertext: see the package
	// documentation.
	ErrAuthentication = errors.New("keybackup: bad MAC (wrong backup key)")
	// ErrDecrypt: the mac matched but the ciphertext does not decrypt to
	// valid session data (bad padding or bad JSON). Both conditions give
	// this one error on purpose; see the package documentation.
	ErrDecrypt = errors.New("keybackup: cannot decrypt backup data")
)

// DecryptionKey is a backup decryption key: the Curve25519 private key of
// m.megolm_backup.v1.curve25519-aes-sha2 (libolm's PkDecryption). It is
// secret; fmt prints only its public key. It is safe for concurrent use.
type DecryptionKey struct {
	priv *ecdh.PrivateKey
	pub  key.Curve25519
}

// GenerateDecryptionKey returns a new decryption key of 32 bytes from
// crypto/rand, as libolm's PkDecryption does. (For a key from known bytes
// use NewDecryptionKey.)
func GenerateDecryptionKey() (*DecryptionKey, error) {
	priv, err := key.GenerateCurve25519(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keybackup: %w", err)
	}
	return &DecryptionKey{priv: priv, pub: key.Curve25519Public(priv)}, nil
}

// NewDecryptionKey returns the decryption key with the given 32 private
// bytes (libolm's olm_pk_key_from_private; the m.megolm_backup.v1 secret
// after base64 decoding).
func NewDecryptionKey(private []byte) (*DecryptionKey, error) {
	if len(private) != KeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrMalformed, len(private), KeySize)
	}
	priv, err := key.NewCurve25519PrivateKey(private)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &DecryptionKey{priv: priv, pub: key.Curve25519Public(priv)}, nil
}

// PublicKey returns the public key for auth_data.public_key.
func (k *DecryptionKey) PublicKey() key.Curve25519 { return k.pub }

// Bytes returns the 32 private bytes (libolm's olm_pk_get_private_key),
// e.g. to store them as the m.megolm_backup.v1 secret. The result is
// secret and the caller's to wipe.
func (k *DecryptionKey) Bytes() [KeySize]byte { return [KeySize]byte(k.priv.Bytes()) }

// Equal reports in constant time whether k and other are the same key.
func (k *DecryptionKey) Equal(other *DecryptionKey) bool {
	return subtle.ConstantTimeCompare(k.priv.Bytes(), other.priv.Bytes()) == 1
}

// Matches reports whether auth_data describes a backup encrypted to k,
// i.e. whether its public_key is k's public key. It does not check the
// auth_data signatures (the signing package does).
func (k *DecryptionKey) Matches(a AuthData) bool { return a.PublicKey == k.pub }

// Format prints the public key only, for every verb.
func (k DecryptionKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "keybackup.DecryptionKey{PublicKey: %s}", k.pub)
}

// LogValue implements slog.LogValuer: the public key only.
func (k DecryptionKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("public_key", k.pub.String()), slog.String("private_key", "REDACTED"))
}

// EncryptedSessionData is the session_data of one backed-up session (and
// libolm's PkMessage): the ephemeral public key, the AES-256-CBC
// ciphertext and the 8-byte mac over the empty string. Its JSON form is
// {"ephemeral", "ciphertext", "mac"}, all unpadded base64. It holds no
// secret.
type EncryptedSessionData struct {
	Ephemeral  key.Curve25519
	Ciphertext []byte
	MAC        [MACSize]byte
}

// ParseEncryptedSessionData decodes the three base64 fields of a
// session_data object (or of a libolm PkMessage). Padded base64 is
// accepted as well as unpadded.
func ParseEncryptedSessionData(ephemeral, ciphertext, mac string) (EncryptedSessionData, error) {
	var d EncryptedSessionData
	var err error
	if d.Ephemeral, err = key.ParseCurve25519(ephemeral); err != nil {
		return EncryptedSessionData{}, fmt.Errorf("%w: ephemeral: %v", ErrMalformed, err)
	}
	if len(ciphertext) > b64.EncodedLen(MaxCiphertextSize)+2 {
		return EncryptedSessionData{}, fmt.Errorf("%w: ciphertext longer than %d bytes", ErrMalformed, MaxCiphertextSize)
	}
	if d.Ciphertext, err = b64.Decode(ciphertext); err != nil {
		return EncryptedSessionData{}, fmt.Errorf("%w: ciphertext is not base64", ErrMalformed)
	}
	if len(mac) > 12 || b64.DecodeInto(d.MAC[:], mac) != nil {
		return EncryptedSessionData{}, fmt.Errorf("%w: mac is not 8 bytes of base64", ErrMalformed)
	}
	return d, nil
}

// Encrypt encrypts plaintext to the backup public key backupKey with an
// ephemeral key from crypto/rand, as libolm's olm_pk_encrypt does. A
// low-order backupKey is rejected (key.ErrNonContributory). Anyone with
// the public key can do this: see the package documentation.
func Encrypt(backupKey key.Curve25519, plaintext []byte) (EncryptedSessionData, error) {
	return EncryptFrom(rand.Reader, backupKey, plaintext)
}

// EncryptFrom is Encrypt reading the 32-byte ephemeral private key from
// rand (nil means crypto/rand), for libolm's known-answer vectors. A
// failing reader gives an error that wraps the reader's.
func EncryptFrom(rand io.Reader, backupKey key.Curve25519, plaintext []byte) (EncryptedSessionData, error) {
	if rand == nil {
		return Encrypt(backupKey, plaintext)
	}
	eph, err := key.GenerateCurve25519(rand)
	if err != nil {
		return EncryptedSessionData{}, fmt.Errorf("keybackup: %w", err)
	}
	secret, err := key.X25519(eph, backupKey)
	if err != nil {
		return EncryptedSessionData{}, fmt.Errorf("keybackup: backup key: %w", err)
	}
	keys := aessha2.Derive(secret[:], aessha2.InfoBackup)
	clear(secret[:])
	d := EncryptedSessionData{
		Ephemeral:  key.Curve25519Public(eph),
		Ciphertext: keys.Encrypt(make([]byte, 0, aessha2.CiphertextLen(len(plaintext))), plaintext),
	}
	// libolm's MAC: over the empty string, not the ciphertext.
	keys.AppendTag(d.MAC[:0], nil)
	return d, nil
}

// Decrypt checks the entry's mac and decrypts it, returning the
// plaintext (the session data JSON, which is secret). Errors:
// key.ErrNonContributory for a low-order ephemeral key, ErrAuthentication for an
// entry not encrypted to k, ErrDecrypt for a ciphertext that does not
// decrypt, ErrMalformed for a ciphertext that is empty, too long or not
// a whole number of blocks. The mac does not authenticate the ciphertext.
func (k *DecryptionKey) Decrypt(d EncryptedSessionData) ([]byte, error) {
	if n := len(d.Ciphertext); n == 0 || n%aessha2.BlockSize != 0 || n > MaxCiphertextSize {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes", ErrMalformed, n)
	}
	secret, err := key.X25519(k.priv, d.Ephemeral)
	if err != nil {
		return nil, fmt.Errorf("keybackup: ephemeral key: %w", err)
	}
	keys := aessha2.Derive(secret[:], aessha2.InfoBackup)
	clear(secret[:])
	pt, err := keys.Open(nil, nil, d.MAC[:], d.Ciphertext)
	if errors.Is(err, aessha2.ErrAuthentication) {
		return nil, ErrAuthentication
	}
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
