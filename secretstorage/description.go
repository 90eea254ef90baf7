package secretstorage

import (
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/b64"
)

// KeyDescription is the content of the m.secret_storage.key.<key ID>
// account data event for an m.secret_storage.v1.aes-hmac-sha2 key (spec
// "Key storage",
// https://spec.matrix.org/v1.19/client-server-api/#key-storage). It is
// public, and the server can rewrite it: IV and MAC let a client check a
// candidate key, and Passphrase says how to derive the key from a
// passphrase.
type KeyDescription struct {
	Name       string          `json:"name,omitempty"`
	Algorithm  string          `json:"algorithm"`
	Passphrase *PassphraseInfo `json:"passphrase,omitempty"`
	// IV and MAC are the key check: the IV, and the MAC of the encryption
	// of 32 zero bytes under the secret name "". The spec makes them
	// optional; a description without them checks nothing, and this
	// package accepts it only with Options.AllowUnchecked.
	IV  string `json:"iv,omitempty"`
	MAC string `json:"mac,omitempty"`
}

// UnmarshalJSON decodes d strictly (exact member names, no duplicate
// names even under case folding); errors wrap ErrMalformed.
func (d *KeyDescription) UnmarshalJSON(b []byte) error {
	type plain KeyDescription
	return unmarshalStrict(b, (*plain)(d))
}

// zeroCheckName defines the key check: 32 zero bytes encrypted as the
// secret with the empty name.
const zeroCheckName = ""

// Description returns a KeyDescription for k with a fresh key check (an IV
// of 16 bytes read from crypto/rand). name is the optional human-readable
// name; passphrase, if not nil, is recorded so clients can derive the key
// from the passphrase.
func (k *Key) Description(name string, passphrase *PassphraseInfo) (*KeyDescription, error) {
	return k.descriptionFrom(nil, name, passphrase)
}

func (k *Key) descriptionFrom(rand io.Reader, name string, passphrase *PassphraseInfo) (*KeyDescription, error) {
	iv, err := newIV(rand)
	if err != nil {
		return nil, err
	}
	mac := k.checkMAC(&iv)
	d := &KeyDescription{
		Name:       name,
		Algorithm:  Algorithm,
		Passphrase: passphrase,
		IV:         b64.Encode(iv[:]),
		MAC:        b64.Encode(mac[:]),
	}
	return d, nil
}

func (k *Key) checkMAC(iv *[ivSize]byte) [macSize]byte {
	var zeros [32]byte
	_, mac := k.seal(zeroCheckName, iv, zeros[:])
	return mac
}

// Check reports whether k is the key d describes. It returns nil if the
// key check matches, ErrAuthentication if it does not, ErrUnchecked if d
// has neither iv nor mac (nothing to check against), and an error
// wrapping ErrUnsupportedAlgorithm or ErrMalformed (only one of iv and
// mac, wrong lengths) otherwise. The comparison is constant time.
func (k *Key) Check(d *KeyDescription) error {
	if err := checkDescription(d); err != nil {
		return err
	}
	if d.IV == "" && d.MAC == "" {
		return ErrUnchecked
	}
	var iv [ivSize]byte
	var mac [macSize]byte
	if err := b64.DecodeInto(iv[:], d.IV); err != nil {
		return fmt.Errorf("%w: key check iv is not 16 bytes of base64", ErrMalformed)
	}
	if err := b64.DecodeInto(mac[:], d.MAC); err != nil {
		return fmt.Errorf("%w: key check mac is not 32 bytes of base64", ErrMalformed)
	}
	want := k.checkMAC(&iv)
	if subtle.ConstantTimeCompare(want[:], mac[:]) != 1 {
		return fmt.Errorf("%w: the key does not match the key description", ErrAuthentication)
	}
	return nil
}

func checkDescription(d *KeyDescription) error {
	if d == nil {
		return fmt.Errorf("%w: no key description", ErrMalformed)
	}
	if d.Algorithm != Algorithm {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, d.Algorithm)
	}
	return nil
}

// KeyFromDescription turns what the user typed into the key d describes:
// a recovery key if the input parses as one, otherwise a passphrase (if d
// has passphrase information), derived with m.pbkdf2 (spec "Deriving keys
// from passphrases",
// https://spec.matrix.org/v1.19/client-server-api/#deriving-keys-from-passphrases).
// The result is checked against d. opts may be nil.
//
// Errors wrap ErrAuthentication (the key check fails: a wrong recovery
// key or passphrase), ErrUnchecked (d has no key check and opts do not
// allow that; returned before any key derivation), ErrBadRecoveryKey
// (input that is not a recovery key when d has no passphrase),
// ErrBadPassphraseParams (an iteration count below 100 000 without
// opts.AllowFewIterations, or above 10 000 000), ErrUnsupportedAlgorithm
// or ErrMalformed.
func KeyFromDescription(input string, d *KeyDescription, opts *Options) (*Key, error) {
	if opts == nil {
		opts = new(Options)
	}
	if err := checkDescription(d); err != nil {
		return nil, err
	}
	unchecked := d.IV == "" && d.MAC == ""
	if unchecked && !opts.AllowUnchecked {
		return nil, fmt.Errorf("%w: any input would be accepted as its key", ErrUnchecked)
	}
	k, err := KeyFromRecoveryKey(input)
	if err != nil {
		if d.Passphrase == nil {
			return nil, err
		}
		if k, err = keyFromPassphrase(input, d.Passphrase, opts.AllowFewIterations); err != nil {
			return nil, err
		}
	}
	if unchecked {
		k.unchecked = !opts.AllowStoreUnderUnchecked
		return k, nil
	}
	if err := k.Check(d); err != nil {
		return nil, err
	}
	return k, nil
}
