package signing

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
)

// AlgorithmEd25519 is the algorithm part of every signing key ID
// ("ed25519:<device ID>" or "ed25519:<unpadded base64 public key>").
const AlgorithmEd25519 = "ed25519"

var (
	// ErrAuthentication is returned (wrapped) when an object is not
	// signed by the expected key: the signature under the expected key ID
	// is missing (then ErrNotSigned matches too), malformed or does not
	// verify (then key's error matches too, for example
	// key.ErrBadSignature or key.ErrWeakKey), or device keys name another
	// user or device than the one asked for.
	ErrAuthentication = errors.New("signing: authentication failed")

	// ErrNotSigned is returned (wrapped) when an object carries no
	// signature under the user and key ID being checked. It wraps
	// ErrAuthentication: a caller that only asks "is it signed by this
	// key?" checks ErrAuthentication alone.
	ErrNotSigned = fmt.Errorf("%w: no signature by the expected key", ErrAuthentication)
)

// Signer signs with an Ed25519 key. *key.SigningKey satisfies it, and so
// does an Olm account (its device fingerprint key).
type Signer interface {
	Sign(msg []byte) key.Ed25519Signature
}

// SigningBytes returns the bytes an Ed25519 signature of the JSON object
// obj covers (spec appendices, "Signing JSON",
// https://spec.matrix.org/v1.19/appendices/#signing-json): the canonical
// JSON of obj without its top-level "signatures" and "unsigned" members.
func SigningBytes(obj []byte) ([]byte, error) {
	signed, _, _, err := splitJSON(obj)
	return signed, err
}

// Sign signs the JSON object obj with s and returns the canonical JSON of
// the signed object: the signature is added (replacing one under the same
// key ID, keeping all others) as signatures[userID]["ed25519:"+keyName],
// and "unsigned" is kept but not signed. keyName is a device ID for
// device keys and the unpadded base64 public key for cross-signing keys.
func Sign(obj []byte, userID, keyName string, s Signer) ([]byte, error) {
	o, err := parseSigned(obj)
	if err != nil {
		return nil, err
	}
	o.sign(userID, keyName, s)
	return o.marshal()
}

// Verify checks the signature signatures[userID]["ed25519:"+keyName] of
// the JSON object obj under pub, strictly (see key.Ed25519.Verify). It
// returns nil, or an error wrapping ErrAuthentication (ErrNotSigned when
// there is no such signature) or ErrMalformed.
func Verify(obj []byte, userID, keyName string, pub key.Ed25519) error {
	o, err := parseSigned(obj)
	if err != nil {
		return err
	}
	return o.verify(userID, keyName, pub)
}

// signedObject is a JSON object split for signing: the canonical bytes
// that signatures cover, the signatures and the unsigned member.
type signedObject struct {
	signed   []byte
	sigs     map[string]map[string]string
	unsigned []byte // canonical JSON, or nil
}

func parseSigned(obj []byte) (*signedObject, error) {
	signed, sigs, unsigned, err := splitJSON(obj)
	if err != nil {
		return nil, err
	}
	o := &signedObject{signed: signed, unsigned: unsigned}
	if sigs != nil {
		if err := jsonstrict.Unmarshal(sigs, &o.sigs); err != nil || (o.sigs == nil && string(sigs) != "null") {
			return nil, fmt.Errorf("%w: \"signatures\" must map user IDs to objects of key ID → signature strings", ErrMalformed)
		}
	}
	return o, nil
}

func keyID(keyName string) string { return AlgorithmEd25519 + ":" + keyName }

func (o *signedObject) verify(userID, keyName string, pub key.Ed25519) error {
	id := keyID(keyName)
	s, ok := o.sigs[userID][id]
	if !ok {
		return fmt.Errorf("%w: %s %s", ErrNotSigned, userID, id)
	}
	sig, err := key.ParseEd25519Signature(s)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAuthentication, userID, id, err)
	}
	if err := pub.Verify(o.signed, sig); err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAuthentication, userID, id, err)
	}
	return nil
}

func (o *signedObject) sign(userID, keyName string, s Signer) {
	sig := s.Sign(o.signed)
	if o.sigs == nil {
		o.sigs = map[string]map[string]string{}
	}
	if o.sigs[userID] == nil {
		o.sigs[userID] = map[string]string{}
	}
	o.sigs[userID][keyID(keyName)] = b64.Encode(sig[:])
}

// marshal returns the canonical JSON of the whole object: the signed
// members with "signatures" and "unsigned" put back, sorted again.
func (o *signedObject) marshal() ([]byte, error) {
	b := append([]byte(nil), o.signed[:len(o.signed)-1]...) // without the '}'
	add := func(name string, v []byte) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), name...), '"', ':')
		b = append(b, v...)
	}
	if o.sigs != nil {
		sigs, err := json.Marshal(o.sigs)
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		add("signatures", sigs)
	}
	if o.unsigned != nil {
		add("unsigned", o.unsigned)
	}
	return canonicalSigned(append(b, '}'))
}
