package event

import (
	"encoding/json"

	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// KeyAlgorithmSignedCurve25519 is the algorithm of signed one-time and
// fallback keys.
const KeyAlgorithmSignedCurve25519 = "signed_curve25519"

// Upload is the body of POST /keys/upload (spec "/keys/upload") built from
// an Olm account: its signed device keys, its unpublished one-time keys
// and its unpublished fallback key, each signed by the device. Nothing in
// it is secret.
type Upload struct {
	DeviceKeys *signing.DeviceKeys
	// OneTimeKeys and FallbackKeys are keyed by "signed_curve25519:<key id>".
	OneTimeKeys  map[string]*signing.SignedKey
	FallbackKeys map[string]*signing.SignedKey
}

// KeysForUpload builds the /keys/upload body for acct as device
// (userID, deviceID). algorithms defaults to Olm and Megolm. It does not
// mark the keys as published: call acct.MarkKeysAsPublished once the
// server has accepted them.
func KeysForUpload(acct *olm.Account, userID, deviceID string, algorithms []string) (*Upload, error) {
	dk, err := signing.AccountDeviceKeys(acct, userID, deviceID, algorithms)
	if err != nil {
		return nil, err
	}
	u := &Upload{DeviceKeys: dk, OneTimeKeys: map[string]*signing.SignedKey{}, FallbackKeys: map[string]*signing.SignedKey{}}
	for _, k := range acct.OneTimeKeys() {
		u.OneTimeKeys[KeyAlgorithmSignedCurve25519+":"+k.ID.String()] = signing.NewSignedKey(k.Key, false, userID, deviceID, acct)
	}
	if k, ok := acct.UnpublishedFallbackKey(); ok {
		u.FallbackKeys[KeyAlgorithmSignedCurve25519+":"+k.ID.String()] = signing.NewSignedKey(k.Key, true, userID, deviceID, acct)
	}
	return u, nil
}

// MarshalJSON returns {"device_keys": ..., "one_time_keys": ...,
// "fallback_keys": ...} in canonical JSON.
func (u *Upload) MarshalJSON() ([]byte, error) {
	return signing.Marshal(map[string]any{
		"device_keys":   u.DeviceKeys,
		"one_time_keys": u.OneTimeKeys,
		"fallback_keys": u.FallbackKeys,
	})
}

var _ json.Marshaler = (*Upload)(nil)
