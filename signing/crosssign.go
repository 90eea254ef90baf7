package signing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
)

// Cross-signing key usages (client-server API, "Cross-signing",
// https://spec.matrix.org/v1.19/client-server-api/#cross-signing).
const (
	UsageMaster      = "master"
	UsageSelfSigning = "self_signing"
	UsageUserSigning = "user_signing"
)

// ErrChain is returned (wrapped, with the failing link's error) when a
// cross-signing chain does not verify: wrong usage, wrong user, a missing
// or bad signature, or a device ID that collides with a cross-signing
// key. It wraps ErrAuthentication.
var ErrChain = fmt.Errorf("%w: cross-signing chain does not verify", ErrAuthentication)

// CrossSigningKey is a user's master, self-signing or user-signing key
// (CrossSigningKey in /keys/query and /keys/device_signing/upload). Like
// DeviceKeys it remembers the object it was parsed from. Nothing in it is
// secret. Safe for concurrent reads; AddSignature is a write.
type CrossSigningKey struct {
	UserID string
	Usage  []string
	Key    key.Ed25519

	obj *signedObject
}

// NewCrossSigningKey returns an unsigned cross-signing key object for
// userID with one usage and public key pub. Sign it with AddSignature
// (self-signing and user-signing keys must be signed by the master key).
func NewCrossSigningKey(userID, usage string, pub key.Ed25519) *CrossSigningKey {
	body, err := Marshal(map[string]any{
		"user_id": userID,
		"usage":   []string{usage},
		"keys":    map[string]string{keyID(pub.String()): pub.String()},
	})
	if err != nil {
		panic("signing: internal error: " + err.Error())
	}
	return &CrossSigningKey{UserID: userID, Usage: []string{usage}, Key: pub, obj: &signedObject{signed: body}}
}

// ParseCrossSigningKey parses a cross-signing key object and checks its
// shape: user_id and usage present, exactly one "ed25519:<key>": "<key>"
// entry in keys. Member names are matched exactly, and an object with two
// names equal under case folding ("usage" and "uſage") is refused,
// anywhere in it. Errors wrap ErrMalformed. It verifies no signature; see
// VerifyMaster and the Verify* functions.
func ParseCrossSigningKey(data []byte) (*CrossSigningKey, error) {
	o, err := parseSigned(data)
	if err != nil {
		return nil, err
	}
	var j struct {
		UserID *string           `json:"user_id"`
		Usage  []string          `json:"usage"`
		Keys   map[string]string `json:"keys"`
	}
	if err := jsonstrict.Unmarshal(o.signed, &j); err != nil {
		return nil, fmt.Errorf("%w: cross-signing key: %v", ErrMalformed, err)
	}
	if j.UserID == nil || len(j.Usage) == 0 {
		return nil, fmt.Errorf("%w: cross-signing key: user_id and usage are required", ErrMalformed)
	}
	if len(j.Keys) != 1 {
		return nil, fmt.Errorf("%w: cross-signing key: keys must hold exactly one key, not %d", ErrMalformed, len(j.Keys))
	}
	c := &CrossSigningKey{UserID: *j.UserID, Usage: j.Usage, obj: o}
	for id, v := range j.Keys {
		name, ok := strings.CutPrefix(id, AlgorithmEd25519+":")
		if !ok || name != v {
			return nil, fmt.Errorf("%w: cross-signing key entry must be \"ed25519:<key>\": \"<key>\"", ErrMalformed)
		}
		if c.Key, err = key.ParseEd25519(v); err != nil {
			return nil, fmt.Errorf("%w: cross-signing key: %w", ErrMalformed, err)
		}
		if c.Key.String() != v {
			return nil, fmt.Errorf("%w: cross-signing key is not in canonical unpadded base64", ErrMalformed)
		}
	}
	return c, nil
}

// KeyName returns the key's name in signature key IDs: its unpadded
// base64 public key.
func (c *CrossSigningKey) KeyName() string { return c.Key.String() }

// HasUsage reports whether the key lists usage u.
func (c *CrossSigningKey) HasUsage(u string) bool { return slices.Contains(c.Usage, u) }

// VerifySignature verifies signatures[userID]["ed25519:"+keyName] under
// pub.
func (c *CrossSigningKey) VerifySignature(userID, keyName string, pub key.Ed25519) error {
	return c.obj.verify(userID, keyName, pub)
}

// AddSignature signs the key with s under
// signatures[userID]["ed25519:"+keyName]. Not safe for concurrent use.
func (c *CrossSigningKey) AddSignature(userID, keyName string, s Signer) {
	c.obj.sign(userID, keyName, s)
}

// MarshalJSON returns the canonical JSON of the key object.
func (c *CrossSigningKey) MarshalJSON() ([]byte, error) { return c.obj.marshal() }

func chainErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrChain}, args...)...)
}

// VerifyMaster checks that msk is userID's master key. A master key's own
// signatures are optional, so there is nothing to verify beyond that: the
// caller decides whether to trust it (pinned, verified, or TOFU).
func VerifyMaster(msk *CrossSigningKey, userID string) error {
	if msk.UserID != userID || !msk.HasUsage(UsageMaster) {
		return chainErr("master key is for %s with usage %v, expected %s master", msk.UserID, msk.Usage, userID)
	}
	return nil
}

// VerifySubkey checks that sub (a self-signing or user-signing key, by
// usage) belongs to the owner of the master key msk and is signed by it.
func VerifySubkey(sub, msk *CrossSigningKey, usage string) error {
	if err := VerifyMaster(msk, msk.UserID); err != nil {
		return err
	}
	if sub.UserID != msk.UserID || !sub.HasUsage(usage) {
		return chainErr("%s key is for %s with usage %v", usage, sub.UserID, sub.Usage)
	}
	if err := sub.obj.verify(msk.UserID, msk.KeyName(), msk.Key); err != nil {
		return chainErr("%s key not signed by the master key: %w", usage, err)
	}
	return nil
}

// VerifyDevice checks the chain master → self-signing → device: ssk is
// msk's self-signing key, the device keys are the same user's, carry a
// valid self-signature, and are signed by ssk. A device whose ID equals
// either cross-signing key's name is refused (the two share the "ed25519:"
// key ID namespace).
func VerifyDevice(dev *DeviceKeys, msk, ssk *CrossSigningKey) error {
	if err := VerifySubkey(ssk, msk, UsageSelfSigning); err != nil {
		return err
	}
	if dev.UserID != msk.UserID {
		return chainErr("device %s belongs to %s, not %s", dev.DeviceID, dev.UserID, msk.UserID)
	}
	if dev.DeviceID == msk.KeyName() || dev.DeviceID == ssk.KeyName() {
		return chainErr("device ID %s collides with a cross-signing key", dev.DeviceID)
	}
	if err := dev.VerifySelfSignature(); err != nil {
		return chainErr("device %s: %w", dev.DeviceID, err)
	}
	if err := dev.obj.verify(ssk.UserID, ssk.KeyName(), ssk.Key); err != nil {
		return chainErr("device %s not signed by the self-signing key: %w", dev.DeviceID, err)
	}
	return nil
}

// VerifyUser checks the chain from our own master key to another user's
// master key: ourUSK is ourMSK's user-signing key and signed theirMSK,
// which is a master key of a different user.
func VerifyUser(theirMSK, ourMSK, ourUSK *CrossSigningKey) error {
	if err := VerifySubkey(ourUSK, ourMSK, UsageUserSigning); err != nil {
		return err
	}
	if err := VerifyMaster(theirMSK, theirMSK.UserID); err != nil {
		return err
	}
	if err := theirMSK.obj.verify(ourUSK.UserID, ourUSK.KeyName(), ourUSK.Key); err != nil {
		return chainErr("%s's master key not signed by our user-signing key: %w", theirMSK.UserID, err)
	}
	return nil
}

// VerifyUserDevice checks the whole chain from our master key to another
// user's device: ourMSK → ourUSK → theirMSK → theirSSK → dev.
func VerifyUserDevice(dev *DeviceKeys, theirMSK, theirSSK, ourMSK, ourUSK *CrossSigningKey) error {
	if err := VerifyUser(theirMSK, ourMSK, ourUSK); err != nil {
		return err
	}
	return VerifyDevice(dev, theirMSK, theirSSK)
}
