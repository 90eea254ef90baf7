package secretstorage

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/ctr64"
	"github.com/sicher-go/sicher/internal/hmacsha256"
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
	// SecretDehydratedDevice is the MSC3814 dehydrated-device pickle key
	// under its unstable name, used while the MSC is open.
	SecretDehydratedDevice = "org.matrix.msc3814"
	// SecretDehydratedDeviceStable is the name MSC3814 will use once
	// merged.
	SecretDehydratedDeviceStable = "m.dehydrated_device"
)

// Sizes.
const (
	KeySize = 32 // a secret storage key
	IVSize  = 16
	MACSize = 32
	// DefaultIterations is the m.pbkdf2 iteration count NewPassphraseKey
	// uses when given 0 (matrix-js-sdk's choice).
	DefaultIterations = 500_000
	// MaxIterations bounds the iteration count a KeyDescription may ask
	// for, so a hostile one cannot stall the client.
	MaxIterations = recoverykey.MaxIterations
	// MaxSecretSize bounds the ciphertext Decrypt accepts (secrets are
	// small keys; 1 MiB is generous).
	MaxSecretSize = 1 << 20
)

var (
	// ErrWrongKey: the key does not match a KeyDescription's check.
	ErrWrongKey = errors.New("secretstorage: wrong secret storage key")
	// ErrBadMAC: the MAC of encrypted data does not verify under the key
	// and secret name (a wrong key, a wrong name, or tampering).
	ErrBadMAC = errors.New("secretstorage: MAC mismatch")
	// ErrMalformed: a field is missing, not base64, or the wrong length.
	ErrMalformed = errors.New("secretstorage: malformed data")
	// ErrUnsupportedAlgorithm: a KeyDescription or passphrase description
	// names an algorithm other than the ones of this package.
	ErrUnsupportedAlgorithm = errors.New("secretstorage: unsupported algorithm")
	// ErrBadPassphraseParams: passphrase iterations or bits out of range.
	ErrBadPassphraseParams = errors.New("secretstorage: invalid passphrase parameters")
	// ErrBadRecoveryKey: the text is not a valid recovery key (it also
	// wraps the specific recoverykey error: character, length, prefix or
	// parity).
	ErrBadRecoveryKey = errors.New("secretstorage: invalid recovery key")
)

// Key is a secret storage key: 32 secret bytes. It is immutable after
// creation and safe for concurrent use. fmt prints it redacted. The zero
// Key is the all-zero key; make keys with NewKey or the Key* functions.
type Key struct {
	key [KeySize]byte
}

// NewKey returns a fresh random key, reading 32 bytes from rand
// (crypto/rand if nil).
func NewKey(rand io.Reader) (*Key, error) {
	rand = orDefault(rand)
	k := new(Key)
	if _, err := io.ReadFull(rand, k.key[:]); err != nil {
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
// Errors wrap ErrBadRecoveryKey and the specific recoverykey error.
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

// KeyFromPassphrase derives the key described by info from passphrase.
// Errors wrap ErrUnsupportedAlgorithm or ErrBadPassphraseParams
// (iterations outside 1..MaxIterations, bits other than 256).
func KeyFromPassphrase(passphrase string, info *PassphraseInfo) (*Key, error) {
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
		return nil, fmt.Errorf("%w: %d bits (want 256)", ErrBadPassphraseParams, info.Bits)
	}
	if info.Iterations < 1 || info.Iterations > MaxIterations {
		return nil, fmt.Errorf("%w: %d iterations (want 1..%d)", ErrBadPassphraseParams, info.Iterations, MaxIterations)
	}
	b, err := recoverykey.FromPassphrase(passphrase, info.Salt, info.Iterations, bits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPassphraseParams, err)
	}
	k := new(Key)
	copy(k.key[:], b)
	clear(b)
	return k, nil
}

// NewPassphraseKey derives a new key from passphrase with a fresh random
// salt of 32 alphanumeric characters (read from rand, crypto/rand if nil)
// and the given iteration count (DefaultIterations if 0). It returns the
// key and the PassphraseInfo to store in its KeyDescription.
func NewPassphraseKey(passphrase string, iterations int, rand io.Reader) (*Key, *PassphraseInfo, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	salt, err := randomString(orDefault(rand), 32)
	if err != nil {
		return nil, nil, err
	}
	info := &PassphraseInfo{Algorithm: PassphraseAlgorithm, Salt: salt, Iterations: iterations}
	k, err := KeyFromPassphrase(passphrase, info)
	if err != nil {
		return nil, nil, err
	}
	return k, info, nil
}

// NewKeyID returns a random key ID of 32 alphanumeric characters, read
// from rand (crypto/rand if nil), as matrix-js-sdk and matrix-rust-sdk
// generate them.
func NewKeyID(rand io.Reader) (string, error) { return randomString(orDefault(rand), 32) }

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

// SecretContent is the content of a secret's account data event.
type SecretContent struct {
	Encrypted map[string]EncryptedData `json:"encrypted"`
}

// DefaultKeyContent is the content of the m.secret_storage.default_key
// account data event.
type DefaultKeyContent struct {
	Key string `json:"key"`
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
func (k *Key) seal(name string, iv *[IVSize]byte, plaintext []byte) ([]byte, [MACSize]byte) {
	s := k.derive(name)
	defer s.wipe()
	ct := make([]byte, len(plaintext))
	ctr64.XORKeyStream(s.aes[:], iv[:], ct, plaintext)
	return ct, hmacsha256.Sum(s.mac[:], ct)
}

// newIV reads 16 bytes from rand and clears bit 63 (iv[8] &= 0x7f) so the
// 64-bit counter cannot wrap.
func newIV(rand io.Reader) (iv [IVSize]byte, err error) {
	if _, err = io.ReadFull(orDefault(rand), iv[:]); err != nil {
		return iv, fmt.Errorf("secretstorage: reading randomness: %w", err)
	}
	iv[8] &= 0x7f
	return iv, nil
}

// Encrypt encrypts secret (for keys: the base64 of the key bytes, see
// EncryptKey) as the secret called name, with a fresh IV of 16 bytes read
// from rand (crypto/rand if nil).
func (k *Key) Encrypt(name string, secret []byte, rand io.Reader) (*EncryptedData, error) {
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
// MAC not 32 bytes, the ciphertext over MaxSecretSize) or ErrBadMAC.
//
// The algorithm's MAC covers the ciphertext but not the IV (spec §9.2): an
// attacker who can write account data can change the IV undetected, which
// turns the plaintext into different bytes of the same length. Callers
// should validate the decrypted secret's format (DecryptKey checks it is
// base64 of 32 bytes; the derived public key should then be compared with
// the published one).
func (k *Key) Decrypt(name string, d *EncryptedData) ([]byte, error) {
	var iv [IVSize]byte
	var mac [MACSize]byte
	if d == nil {
		return nil, fmt.Errorf("%w: no encrypted data", ErrMalformed)
	}
	if err := b64.DecodeInto(iv[:], d.IV); err != nil {
		return nil, fmt.Errorf("%w: iv is not 16 bytes of base64", ErrMalformed)
	}
	if err := b64.DecodeInto(mac[:], d.MAC); err != nil {
		return nil, fmt.Errorf("%w: mac is not 32 bytes of base64", ErrMalformed)
	}
	if len(d.Ciphertext) > b64.EncodedLen(MaxSecretSize)+2 {
		return nil, fmt.Errorf("%w: ciphertext longer than %d bytes", ErrMalformed, MaxSecretSize)
	}
	ct, err := b64.Decode(d.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrMalformed)
	}
	s := k.derive(name)
	defer s.wipe()
	want := hmacsha256.Sum(s.mac[:], ct)
	if subtle.ConstantTimeCompare(want[:], mac[:]) != 1 {
		return nil, ErrBadMAC
	}
	ctr64.XORKeyStream(s.aes[:], iv[:], ct, ct)
	return ct, nil
}

// EncryptKey encrypts a 32-byte private key (a cross-signing key seed,
// the backup decryption key, the dehydrated-device key) the way Matrix
// stores such secrets: as the unpadded base64 of the key bytes.
func (k *Key) EncryptKey(name string, key *[32]byte, rand io.Reader) (*EncryptedData, error) {
	secret := b64.AppendEncodeSecret(nil, key[:])
	defer clear(secret)
	return k.Encrypt(name, secret, rand)
}

// DecryptKey decrypts a secret stored by EncryptKey (or another client)
// and decodes it, in constant time, to the 32 key bytes. Errors wrap those
// of Decrypt, or ErrMalformed if the secret is not base64 of 32 bytes.
func (k *Key) DecryptKey(name string, d *EncryptedData) ([32]byte, error) {
	var out [32]byte
	secret, err := k.Decrypt(name, d)
	if err != nil {
		return out, err
	}
	defer clear(secret)
	raw, err := b64.DecodeSecret(string(secret))
	if err != nil || len(raw) != len(out) {
		clear(raw)
		return out, fmt.Errorf("%w: secret %q is not the base64 of a 32-byte key", ErrMalformed, name)
	}
	copy(out[:], raw)
	clear(raw)
	return out, nil
}
