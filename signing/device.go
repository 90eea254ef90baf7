package signing

import (
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
)

// Algorithms a device announces in its device keys.
const (
	AlgorithmOlm    = "m.olm.v1.curve25519-aes-sha2"
	AlgorithmMegolm = "m.megolm.v1.aes-sha2"
)

// DeviceKeys is a device's published identity (client-server API,
// "Device keys", https://spec.matrix.org/v1.19/client-server-api/#device-keys;
// the device_keys of /keys/upload and /keys/query): its Curve25519 and
// Ed25519 identity keys, signed by the Ed25519 key and possibly by the
// user's self-signing key.
//
// A DeviceKeys remembers the exact object it was parsed from, so
// signatures are checked over what the device signed, unknown fields
// included. Nothing in it is secret. It is immutable after parsing (except
// through AddSignature) and safe for concurrent reads.
type DeviceKeys struct {
	UserID     string
	DeviceID   string
	Algorithms []string
	Curve25519 key.Curve25519
	Ed25519    key.Ed25519

	obj *signedObject
}

type deviceKeysJSON struct {
	UserID     *string           `json:"user_id"`
	DeviceID   *string           `json:"device_id"`
	Algorithms []string          `json:"algorithms"`
	Keys       map[string]string `json:"keys"`
}

// NewDeviceKeys returns the device keys of a device, signed by its
// Ed25519 key s (whose public key is ed). It is what a client uploads as
// device_keys; AlgorithmOlm and AlgorithmMegolm are announced when
// algorithms is nil.
func NewDeviceKeys(userID, deviceID string, algorithms []string, curve key.Curve25519, ed key.Ed25519, s Signer) (*DeviceKeys, error) {
	if algorithms == nil {
		algorithms = []string{AlgorithmOlm, AlgorithmMegolm}
	}
	body, err := Marshal(map[string]any{
		"user_id":    userID,
		"device_id":  deviceID,
		"algorithms": algorithms,
		"keys": map[string]string{
			"curve25519:" + deviceID: curve.String(),
			"ed25519:" + deviceID:    ed.String(),
		},
	})
	if err != nil {
		return nil, err
	}
	d, err := ParseDeviceKeys(body)
	if err != nil {
		return nil, err
	}
	d.obj.sign(userID, deviceID, s)
	if err := d.VerifySelfSignature(); err != nil {
		return nil, fmt.Errorf("signing: the signer does not hold the device's Ed25519 key: %w", err)
	}
	return d, nil
}

// Account is a device's identity as device keys need it: its Curve25519
// and Ed25519 identity keys and signing with the Ed25519 one. *olm.Account
// satisfies it.
type Account interface {
	Signer
	Curve25519() key.Curve25519
	Ed25519() key.Ed25519
}

// AccountDeviceKeys returns the signed device keys of the device
// (userID, deviceID) whose identity is acct (an *olm.Account). For the
// whole /keys/upload body, one-time and fallback keys included, see
// event.KeysForUpload.
func AccountDeviceKeys(acct Account, userID, deviceID string, algorithms []string) (*DeviceKeys, error) {
	return NewDeviceKeys(userID, deviceID, algorithms, acct.Curve25519(), acct.Ed25519(), acct)
}

// ParseDeviceKeys parses a device-keys object and checks its shape:
// user_id, device_id and algorithms present, keys["curve25519:<device
// ID>"] and keys["ed25519:<device ID>"] present and well formed. Member
// names are matched exactly, and an object with two names equal under case
// folding ("user_id" and "uſer_id") is refused, anywhere in it. It does
// not check any signature; see VerifyDeviceKeys. Errors wrap ErrMalformed.
func ParseDeviceKeys(data []byte) (*DeviceKeys, error) {
	o, err := parseSigned(data)
	if err != nil {
		return nil, err
	}
	var j deviceKeysJSON
	if err := jsonstrict.Unmarshal(o.signed, &j); err != nil {
		return nil, fmt.Errorf("%w: device keys: %v", ErrMalformed, err)
	}
	if j.UserID == nil || j.DeviceID == nil || j.Algorithms == nil || j.Keys == nil {
		return nil, fmt.Errorf("%w: device keys: user_id, device_id, algorithms and keys are required", ErrMalformed)
	}
	d := &DeviceKeys{UserID: *j.UserID, DeviceID: *j.DeviceID, Algorithms: j.Algorithms, obj: o}
	cs, ok1 := j.Keys["curve25519:"+d.DeviceID]
	es, ok2 := j.Keys["ed25519:"+d.DeviceID]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: device keys must hold curve25519:%s and ed25519:%s", ErrMalformed, d.DeviceID, d.DeviceID)
	}
	if d.Curve25519, err = key.ParseCurve25519(cs); err != nil {
		return nil, fmt.Errorf("%w: device keys: %w", ErrMalformed, err)
	}
	if d.Ed25519, err = key.ParseEd25519(es); err != nil {
		return nil, fmt.Errorf("%w: device keys: %w", ErrMalformed, err)
	}
	return d, nil
}

// VerifyDeviceKeys parses another device's keys (as /keys/query returns
// them under device_keys[userID][deviceID]), checks that they name that
// user and device, and verifies the device's self-signature. Errors wrap
// ErrMalformed (see ParseDeviceKeys) or ErrAuthentication (keys for
// another user or device, or no valid self-signature).
func VerifyDeviceKeys(data []byte, userID, deviceID string) (*DeviceKeys, error) {
	d, err := ParseDeviceKeys(data)
	if err != nil {
		return nil, err
	}
	if d.UserID != userID || d.DeviceID != deviceID {
		return nil, fmt.Errorf("%w: device keys are for %s/%s, expected %s/%s", ErrAuthentication, d.UserID, d.DeviceID, userID, deviceID)
	}
	if err := d.VerifySelfSignature(); err != nil {
		return nil, err
	}
	return d, nil
}

// VerifySelfSignature verifies signatures[user_id]["ed25519:<device ID>"]
// under the device's own Ed25519 key.
func (d *DeviceKeys) VerifySelfSignature() error {
	return d.obj.verify(d.UserID, d.DeviceID, d.Ed25519)
}

// VerifySignature verifies signatures[userID]["ed25519:"+keyName] under
// pub (for example the user's self-signing key, whose key name is its
// unpadded base64 public key).
func (d *DeviceKeys) VerifySignature(userID, keyName string, pub key.Ed25519) error {
	return d.obj.verify(userID, keyName, pub)
}

// AddSignature signs the device keys with s under
// signatures[userID]["ed25519:"+keyName] (a self-signing key signing a
// device). It is not safe to call concurrently with other methods.
func (d *DeviceKeys) AddSignature(userID, keyName string, s Signer) {
	d.obj.sign(userID, keyName, s)
}

// HasAlgorithm reports whether the device announces alg.
func (d *DeviceKeys) HasAlgorithm(alg string) bool { return slices.Contains(d.Algorithms, alg) }

// DisplayName returns unsigned.device_display_name, which /keys/query adds
// and nobody signs, or "".
func (d *DeviceKeys) DisplayName() string {
	var u struct {
		Name string `json:"device_display_name"`
	}
	if d.obj.unsigned != nil {
		_ = jsonstrict.Unmarshal(d.obj.unsigned, &u)
	}
	return u.Name
}

// MarshalJSON returns the canonical JSON of the device keys, signatures
// and unsigned data included.
func (d *DeviceKeys) MarshalJSON() ([]byte, error) { return d.obj.marshal() }

// SignedKey is a signed one-time or fallback key (algorithm
// signed_curve25519, client-server API "Key algorithms",
// https://spec.matrix.org/v1.19/client-server-api/#key-algorithms): {"key": ..., "fallback":
// true?, "signatures": ...}. Nothing in it is secret.
type SignedKey struct {
	Key      key.Curve25519
	Fallback bool

	obj *signedObject
}

// NewSignedKey returns k signed by the device (userID, deviceID) with s;
// fallback marks a fallback key ("fallback": true, inside the signed
// data).
func NewSignedKey(k key.Curve25519, fallback bool, userID, deviceID string, s Signer) *SignedKey {
	m := map[string]any{"key": k.String()}
	if fallback {
		m["fallback"] = true
	}
	body, err := Marshal(m)
	if err != nil {
		panic("signing: internal error: " + err.Error())
	}
	o := &signedObject{signed: body}
	o.sign(userID, deviceID, s)
	return &SignedKey{Key: k, Fallback: fallback, obj: o}
}

// VerifySignedKey parses a signed_curve25519 key object (as /keys/claim
// returns it) and verifies its signature by the device (userID, deviceID)
// whose Ed25519 key is ed. Create an Olm session with the key only after
// this succeeds. Errors wrap ErrMalformed or ErrAuthentication.
func VerifySignedKey(data []byte, userID, deviceID string, ed key.Ed25519) (*SignedKey, error) {
	o, err := parseSigned(data)
	if err != nil {
		return nil, err
	}
	var j struct {
		Key      *string `json:"key"`
		Fallback *bool   `json:"fallback"`
	}
	if err := jsonstrict.Unmarshal(o.signed, &j); err != nil || j.Key == nil {
		return nil, fmt.Errorf("%w: a signed key needs a \"key\" string", ErrMalformed)
	}
	k, err := key.ParseCurve25519(*j.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: signed key: %w", ErrMalformed, err)
	}
	if err := o.verify(userID, deviceID, ed); err != nil {
		return nil, err
	}
	return &SignedKey{Key: k, Fallback: j.Fallback != nil && *j.Fallback, obj: o}, nil
}

// MarshalJSON returns the canonical JSON of the signed key object.
func (k *SignedKey) MarshalJSON() ([]byte, error) { return k.obj.marshal() }
