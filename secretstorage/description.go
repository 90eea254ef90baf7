package secretstorage

import (
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/b64"
)

// KeyDescription is the content of the m.secret_storage.key.<key ID>
// account data event for an m.secret_storage.v1.aes-hmac-sha2 key. It is
// public: IV and MAC let a client check a candidate key, and Passphrase
// says how to derive the key from a passphrase.
type KeyDescription struct {
	Name       string          `json:"name,omitempty"`
	Algorithm  string          `json:"algorithm"`
	Passphrase *PassphraseInfo `json:"passphrase,omitempty"`
	// IV and MAC are the key check: the IV, and the MAC of the encryption
	// of 32 zero bytes under the secret name "". Both are optional; a
	// description without them accepts any key.
	IV  string `json:"iv,omitempty"`
	MAC string `json:"mac,omitempty"`
}

// zeroCheckName and zeroCheckSize define the key check: 32 zero bytes
// encrypted as the secret with the empty name.
const zeroCheckName = ""

// Description returns a KeyDescription for k with a fresh key check (an IV
// of 16 bytes read from rand, crypto/rand if nil). name is the optional
// human-readable name; passphrase, if not nil, is recorded so clients can
// derive the key from the passphrase.
func (k *Key) Description(name string, passphrase *PassphraseInfo, rand io.Reader) (*KeyDescription, error) {
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

func (k *Key) checkMAC(iv *[IVSize]byte) [MACSize]byte {
	var zeros [32]byte
	_, mac := k.seal(zeroCheckName, iv, zeros[:])
	return mac
}

// Check reports whether k is the key d describes. It returns nil if the
// check matches or d has neither iv nor mac (the spec says to assume the
// key is correct then), ErrWrongKey if it does not match, and an error
// wrapping ErrUnsupportedAlgorithm or ErrMalformed (only one of iv and
// mac, wrong lengths) otherwise. The comparison is constant time.
func (k *Key) Check(d *KeyDescription) error {
	if d == nil {
		return fmt.Errorf("%w: no key description", ErrMalformed)
	}
	if d.Algorithm != Algorithm {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, d.Algorithm)
	}
	if d.IV == "" && d.MAC == "" {
		return nil
	}
	var iv [IVSize]byte
	var mac [MACSize]byte
	if err := b64.DecodeInto(iv[:], d.IV); err != nil {
		return fmt.Errorf("%w: key check iv is not 16 bytes of base64", ErrMalformed)
	}
	if err := b64.DecodeInto(mac[:], d.MAC); err != nil {
		return fmt.Errorf("%w: key check mac is not 32 bytes of base64", ErrMalformed)
	}
	want := k.checkMAC(&iv)
	if subtle.ConstantTimeCompare(want[:], mac[:]) != 1 {
		return ErrWrongKey
	}
	return nil
}

// KeyFromDescription turns what the user typed into the key d describes:
// a recovery key if the input parses as one, otherwise a passphrase (if d
// has passphrase information). The result is checked against d. Errors
// wrap ErrWrongKey, ErrBadRecoveryKey (input that is not a recovery key
// when d has no passphrase), or those of KeyFromPassphrase.
func KeyFromDescription(input string, d *KeyDescription) (*Key, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: no key description", ErrMalformed)
	}
	if d.Algorithm != Algorithm {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, d.Algorithm)
	}
	k, err := KeyFromRecoveryKey(input)
	if err != nil {
		if d.Passphrase == nil {
			return nil, err
		}
		if k, err = KeyFromPassphrase(input, d.Passphrase); err != nil {
			return nil, err
		}
	}
	if err := k.Check(d); err != nil {
		return nil, err
	}
	return k, nil
}
