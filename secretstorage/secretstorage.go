package secretstorage

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/ctr64"
	"github.com/sicher-go/sicher/internal/hmacsha256"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/internal/recoverykey"
)

// Algorithm identifiers and account data event types.
const (
	// Algorithm is the only secret storage algorithm of the spec.
	Algorithm = "m.secret_storage.v1.aes-hmac-sha2"
	// PassphraseAlgorithm derives a key from a passphrase.
	PassphraseAlgorithm = "m.pbkdf2"
	// KeyEventTypePrefix followed by the key ID is the account data event
	// type of a KeyDescription.
	KeyEventTypePrefix = "m.secret_storage.key."
	// DefaultKeyEventType is the account data event type naming the
	// default key: {"key": "<key ID>"}.
	DefaultKeyEventType = "m.secret_storage.default_key"
)

// Well-known secret names (the account data event types the secrets are
// stored under).
const (
	SecretCrossSigningMaster      = "m.cross_signing.master"
	SecretCrossSigningSelfSigning = "m.cross_signing.self_signing"
	SecretCrossSigningUserSigning = "m.cross_signing.user_signing"
	SecretMegolmBackup            = "m.megolm_backup.v1"
)

// Sizes and iteration counts.
const (
	// KeySize is the size of a secret storage key.
	KeySize = 32
	// DefaultIterations is the m.pbkdf2 iteration count NewPassphraseKey
	// uses when given 0 (matrix-js-sdk's and matrix-rust-sdk's choice).
	// Counts below 100 000 or above 10 000 000 are refused unless
	// [Options] allow the low ones.
	DefaultIterations = 500_000
)

const (
	ivSize  = 16
	macSize = 32
	// maxSecretSize bounds the ciphertext Decrypt accepts (secrets are
	// small keys; 1 MiB is generous).
	maxSecretSize = 1 << 20
)

var (
	// ErrAuthentication: a key does not match a KeyDescription's key
	// check, or the MAC of encrypted data does not verify under the key
	// and secret name (a wrong key, a wrong name, or tampering).
	ErrAuthentication = errors.New("secretstorage: wrong key or MAC mismatch")
	// ErrUnchecked: a KeyDescription has no key check (iv and mac), so any
	// input would be accepted as its key, or a key made from such a
	// description was asked to encrypt. Accepting one takes
	// Options.AllowUnchecked; storing under one takes
	// Options.AllowStoreUnderUnchecked.
	ErrUnchecked = errors.New("secretstorage: key description has no key check")
	// ErrMalformed: a field is missing, not base64, or the wrong length,
	// or a JSON object does not decode strictly.
	ErrMalformed = errors.New("secretstorage: malformed data")
	// ErrUnsupportedAlgorithm: a KeyDescription or passphrase description
	// names an algorithm other than the ones of this package.
	ErrUnsupportedAlgorithm = errors.New("secretstorage: unsupported algorithm")
	// ErrBadPassphraseParams: m.pbkdf2 iterations or bits out of range
	// (fewer than 100 000 iterations unless Options allow them, more than
	// 10 000 000, bits other than 256). It is the same value as
	// keybackup.ErrPassphraseParams.
	ErrBadPassphraseParams = recoverykey.ErrBadPassphraseParams
	// ErrBadRecoveryKey: the text is not a valid recovery key (it also
	// wraps the specific error: character, length, prefix or parity,
	// the values keybackup exports as ErrRecoveryKey…).
	ErrBadRecoveryKey = errors.New("secretstorage: invalid recovery key")
)

// Options relaxes the checks of [KeyFromDescription]. The zero value, and
// a nil *Options, is strict.
type Options struct {
	// AllowUnchecked accepts a KeyDescription without iv and mac. Such a
	// description checks nothing: any recovery key or passphrase yields a
	// key, and the server that stores the description chose it. The key
	// may decrypt (a wrong key then fails there) but not encrypt, unless
	// AllowStoreUnderUnchecked is set too.
	AllowUnchecked bool
	// AllowStoreUnderUnchecked lets a key accepted under AllowUnchecked
	// encrypt. A secret stored under a passphrase key whose salt and
	// iteration count came from the server gives the server a MAC to test
	// passphrases against. Prefer writing a new description with a key
	// check ([Key.Description]) first.
	AllowStoreUnderUnchecked bool
	// AllowFewIterations accepts m.pbkdf2 iteration counts from 1 up,
	// below the floor of 100 000 (tests, old accounts).
	AllowFewIterations bool
}

// Key is a secret storage key: 32 secret bytes. It is immutable after
// creation and safe for concurrent use. fmt, log/slog and encoding/json
// print it redacted. Make keys with NewKey or the Key* functions.
type Key struct {
	key [KeySize]byte
	// unchecked: from a description without a key check; Encrypt refuses.
	unchecked bool
}

// NewKey returns a fresh random key read from crypto/rand.
func NewKey() (*Key, error) { return newKeyFrom(nil) }

func newKeyFrom(rand io.Reader) (*Key, error) {
	k := new(Key)
	if _, err := io.ReadFull(orDefault(rand), k.key[:]); err != nil {
		return nil, fmt.Errorf("secretstorage: reading randomness: %w", err)
	}
	return k, nil
}

// NewKeyFromBytes returns the key with the given 32 bytes. The slice is
// copied; the caller may wipe it.
func NewKeyFromBytes(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrMalformed, len(b), KeySize)
	}
	k := new(Key)
	copy(k.key[:], b)
	return k, nil
}

// KeyFromRecoveryKey parses a base58 recovery key (whitespace ignored).
// Errors wrap ErrBadRecoveryKey and the specific recovery key error.
func KeyFromRecoveryKey(s string) (*Key, error) {
	b, err := recoverykey.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecoveryKey, err)
	}
	return &Key{key: b}, nil
}

// RecoveryKey returns the key as a base58 recovery key in groups of four
// characters. The result is secret.
func (k *Key) RecoveryKey() string { return recoverykey.Encode(k.key) }

// Bytes returns a copy of the key bytes. The result is secret; prefer
// keeping the Key.
func (k *Key) Bytes() []byte { return append([]byte(nil), k.key[:]...) }

// Equal reports, in constant time, whether k and other are the same key.
func (k *Key) Equal(other *Key) bool {
	return subtle.ConstantTimeCompare(k.key[:], other.key[:]) == 1
}

// Format implements fmt.Formatter; the key bytes are never printed.
func (k Key) Format(s fmt.State, _ rune) { io.WriteString(s, "secretstorage.Key{REDACTED}") }

// LogValue implements slog.LogValuer; the key bytes are never logged.
func (k Key) LogValue() slog.Value { return slog.StringValue("secretstorage.Key{REDACTED}") }

// PassphraseInfo is the "passphrase" object of a KeyDescription: how to
// derive the key from a passphrase with m.pbkdf2 (PBKDF2-HMAC-SHA-512 over
// the salt string's UTF-8 bytes). It is public.
type PassphraseInfo struct {
	Algorithm  string `json:"algorithm"`
	Salt       string `json:"salt"`
	Iterations int    `json:"iterations"`
	// Bits is the key length; 0 (absent) means 256, the only value a
	// secret storage key can have.
	Bits int `json:"bits,omitempty"`
}

// keyFromPassphrase derives the key described by info from passphrase.
// Errors wrap ErrMalformed, ErrUnsupportedAlgorithm or
// ErrBadPassphraseParams (iterations outside recoverykey's
// MinIterations..MaxIterations, or 1..MaxIterations with allowFew; bits
// other than 256). Nothing is derived when the parameters are refused.
func keyFromPassphrase(passphrase string, info *PassphraseInfo, allowFew bool) (*Key, error) {
	if info == nil {
		return nil, fmt.Errorf("%w: no passphrase information", ErrMalformed)
	}
	if info.Algorithm != PassphraseAlgorithm {
		return nil, fmt.Errorf("%w: passphrase algorithm %q", ErrUnsupportedAlgorithm, info.Algorithm)
	}
	bits := info.Bits
	if bits == 0 {
		bits = 8 * KeySize
	}
	if bits != 8*KeySize {
		return nil, fmt.Errorf("secretstorage: %w: %d bits (want 256)", ErrBadPassphraseParams, info.Bits)
	}
	b, err := recoverykey.FromPassphrase(passphrase, info.Salt, info.Iterations, bits, allowFew)
	if err != nil {
		return nil, fmt.Errorf("secretstorage: %w", err)
	}
	k := new(Key)
	copy(k.key[:], b)
	clear(b)
	return k, nil
}

// NewPassphraseKey derives a new key from passphrase with a fresh random
// salt of 32 alphanumeric characters (read from crypto/rand) and the given
// iteration count (DefaultIterations if 0; at least 100 000). It returns
// the key and the PassphraseInfo to store in its KeyDescription.
func NewPassphraseKey(passphrase string, iterations int) (*Key, *PassphraseInfo, error) {
	return newPassphraseKeyFrom(nil, passphrase, iterations, false)
}

func newPassphraseKeyFrom(rand io.Reader, passphrase string, iterations int, allowFew bool) (*Key, *PassphraseInfo, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	salt, err := randomString(orDefault(rand), 32)
	if err != nil {
		return nil, nil, err
	}
	info := &PassphraseInfo{Algorithm: PassphraseAlgorithm, Salt: salt, Iterations: iterations}
	k, err := keyFromPassphrase(passphrase, info, allowFew)
	if err != nil {
		return nil, nil, err
	}
	return k, info, nil
}

// NewKeyID returns a random key ID of 32 alphanumeric characters, read
// from crypto/rand, as matrix-js-sdk and matrix-rust-sdk generate them.
func NewKeyID() (string, error) { return randomString(rand.Reader, 32) }

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString draws n characters uniformly from alphanumeric by rejection
// sampling single bytes.
func randomString(rand io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return "", fmt.Errorf("secretstorage: reading randomness: %w", err)
		}
		if int(b[0]) < 4*len(alphanumeric) { // 248: a multiple of 62
			out = append(out, alphanumeric[int(b[0])%len(alphanumeric)])
		}
	}
	return string(out), nil
}

func orDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// EncryptedData is the m.secret_storage.v1.aes-hmac-sha2 encryption of one
// secret under one key: the value stored at "encrypted"/<key ID> in the
// secret's account data event. All fields are public, base64 (written
// unpadded; read padded or unpadded).
type EncryptedData struct {
	IV         string `json:"iv"`
	Ciphertext string `json:"ciphertext"`
	MAC        string `json:"mac"`
}

// UnmarshalJSON decodes d strictly (exact member names, no duplicate
// names even under case folding); errors wrap ErrMalformed.
func (d *EncryptedData) UnmarshalJSON(b []byte) error {
	type plain EncryptedData
	return unmarshalStrict(b, (*plain)(d))
}

// SecretContent is the content of a secret's account data event: the
// secret encrypted under one or more keys, by key ID.
type SecretContent struct {
	Encrypted map[string]EncryptedData `json:"encrypted"`
}

// UnmarshalJSON decodes c strictly (exact member names, no duplicate
// names even under case folding); errors wrap ErrMalformed.
func (c *SecretContent) UnmarshalJSON(b []byte) error {
	type plain SecretContent
	return unmarshalStrict(b, (*plain)(c))
}

// unmarshalStrict decodes network JSON with internal/jsonstrict into v,
// leaving v unchanged on error.
func unmarshalStrict[T any](b []byte, v *T) error {
	var tmp T
	if err := jsonstrict.Unmarshal(b, &tmp); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	*v = tmp
	return nil
}

// subkeys are the AES and MAC keys for one secret name.
type subkeys struct {
	aes, mac [32]byte
}

func (s *subkeys) wipe() { clear(s.aes[:]); clear(s.mac[:]) }

// derive computes HKDF-SHA-256(salt = 32 zero bytes, ikm = key, info =
// name) and splits its 64 bytes into the AES and MAC keys.
func (k *Key) derive(name string) *subkeys {
	var okm [64]byte
	var salt [32]byte
	hmacsha256.HKDF(okm[:], salt[:], k.key[:], name)
	s := new(subkeys)
	copy(s.aes[:], okm[:32])
	copy(s.mac[:], okm[32:])
	clear(okm[:])
	return s
}

// seal encrypts plaintext for name with the given IV and returns the
// ciphertext and its MAC.
func (k *Key) seal(name string, iv *[ivSize]byte, plaintext []byte) ([]byte, [macSize]byte) {
	s := k.derive(name)
	defer s.wipe()
	ct := make([]byte, len(plaintext))
	ctr64.XORKeyStream(s.aes[:], iv[:], ct, plaintext)
	return ct, hmacsha256.Sum(s.mac[:], ct)
}

// newIV reads 16 bytes from rand and clears bit 63 (iv[8] &= 0x7f) so the
// 64-bit counter cannot wrap.
func newIV(rand io.Reader) (iv [ivSize]byte, err error) {
	if _, err = io.ReadFull(orDefault(rand), iv[:]); err != nil {
		return iv, fmt.Errorf("secretstorage: reading randomness: %w", err)
	}
	iv[8] &= 0x7f
	return iv, nil
}

// Encrypt encrypts secret as the secret called name, with a fresh IV of
// 16 bytes read from crypto/rand. Matrix stores keys (cross-signing seeds,
// the backup key) as the unpadded base64 of their bytes. A key made by
// KeyFromDescription from a description without a key check refuses with
// ErrUnchecked unless Options.AllowStoreUnderUnchecked was set.
func (k *Key) Encrypt(name string, secret []byte) (*EncryptedData, error) {
	return k.encryptFrom(nil, name, secret)
}

func (k *Key) encryptFrom(rand io.Reader, name string, secret []byte) (*EncryptedData, error) {
	if k.unchecked {
		return nil, fmt.Errorf("%w: refusing to store %q under a key no description checks", ErrUnchecked, name)
	}
	iv, err := newIV(rand)
	if err != nil {
		return nil, err
	}
	ct, mac := k.seal(name, &iv, secret)
	return &EncryptedData{IV: b64.Encode(iv[:]), Ciphertext: b64.Encode(ct), MAC: b64.Encode(mac[:])}, nil
}

// Decrypt verifies the MAC of d for the secret called name and, only if
// it matches, returns the decrypted secret (secret material). Errors wrap
// ErrMalformed (a field missing, not base64, the IV not 16 bytes or the
// MAC not 32 bytes, the ciphertext over 1 MiB) or ErrAuthentication.
//
// The algorithm's MAC covers the ciphertext but not the IV (spec
// "m.secret_storage.v1.aes-hmac-sha2",
// https://spec.matrix.org/v1.19/client-server-api/#msecret_storagev1aes-hmac-sha2):
// an attacker who can write account data can change the IV undetected,
// which turns the plaintext into different bytes of the same length.
// Callers should validate the decrypted secret's format (a key secret is
// the base64 of 32 bytes) and compare the derived public key with the
// published one.
func (k *Key) Decrypt(name string, d *EncryptedData) ([]byte, error) {
	var iv [ivSize]byte
	var mac [macSize]byte
	if d == nil {
		return nil, fmt.Errorf("%w: no encrypted data", ErrMalformed)
	}
	if err := b64.DecodeInto(iv[:], d.IV); err != nil {
		return nil, fmt.Errorf("%w: iv is not 16 bytes of base64", ErrMalformed)
	}
	if err := b64.DecodeInto(mac[:], d.MAC); err != nil {
		return nil, fmt.Errorf("%w: mac is not 32 bytes of base64", ErrMalformed)
	}
	if len(d.Ciphertext) > b64.EncodedLen(maxSecretSize)+2 {
		return nil, fmt.Errorf("%w: ciphertext longer than %d bytes", ErrMalformed, maxSecretSize)
	}
	ct, err := b64.Decode(d.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrMalformed)
	}
	s := k.derive(name)
	defer s.wipe()
	want := hmacsha256.Sum(s.mac[:], ct)
	if subtle.ConstantTimeCompare(want[:], mac[:]) != 1 {
		return nil, ErrAuthentication
	}
	ctr64.XORKeyStream(s.aes[:], iv[:], ct, ct)
	return ct, nil
}
