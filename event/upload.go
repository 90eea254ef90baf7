package event

import (
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// keyAlgorithmSignedCurve25519 is the algorithm of signed one-time and
// fallback keys.
const keyAlgorithmSignedCurve25519 = "signed_curve25519"

// Upload is the body of POST /keys/upload (spec "/keys/upload") built from
// an Olm account: its signed device keys, its unpublished one-time keys
// and its unpublished fallback key, each signed by the device. Nothing in
// it is secret.
// Its JSON form (encoding/json) is the request body.
type Upload struct {
	DeviceKeys *signing.DeviceKeys `json:"device_keys"`
	// OneTimeKeys and FallbackKeys are keyed by "signed_curve25519:<key id>".
	OneTimeKeys  map[string]*signing.SignedKey `json:"one_time_keys"`
	FallbackKeys map[string]*signing.SignedKey `json:"fallback_keys"`
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
		u.OneTimeKeys[keyAlgorithmSignedCurve25519+":"+k.ID.String()] = signing.NewSignedKey(k.Key, false, userID, deviceID, acct)
	}
	if k, ok := acct.UnpublishedFallbackKey(); ok {
		u.FallbackKeys[keyAlgorithmSignedCurve25519+":"+k.ID.String()] = signing.NewSignedKey(k.Key, true, userID, deviceID, acct)
	}
	return u, nil
}
