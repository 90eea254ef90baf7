package rustpeer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Dehydrated devices (MSC3814, https://github.com/matrix-org/matrix-spec-proposals/pull/3814)
// on the rust machine, through the commands of node/dehydration.mjs.

// CreateDehydratedDevice makes a new dehydrated device (DehydratedDevices.create, then
// keysForUpload) under key (32 bytes, secret; nil means a random one) and returns the key and
// the body of the PUT /dehydrated_device request that stores it.
func (p *Peer) CreateDehydratedDevice(key []byte) (*[32]byte, json.RawMessage, error) {
	args := map[string]any{}
	if key != nil {
		args["key"] = base64.StdEncoding.EncodeToString(key)
	}
	var out struct {
		Key  string          `json:"key"`
		Body json.RawMessage `json:"body"`
	}
	if err := p.call("create_dehydrated_device", args, &out); err != nil {
		return nil, nil, err
	}
	k, err := base64.RawStdEncoding.DecodeString(out.Key)
	if err != nil {
		k, err = base64.StdEncoding.DecodeString(out.Key)
	}
	if err != nil || len(k) != 32 {
		return nil, nil, fmt.Errorf("rustpeer: dehydration key %q: %v", out.Key, err)
	}
	return (*[32]byte)(k), out.Body, nil
}

// RehydrateDevice rehydrates a dehydrated device (DehydratedDevices.rehydrate) and feeds it
// the to-device events fetched from the server (RehydratedDevice.receiveEvents); it returns
// the number of room keys the device passed to the machine.
func (p *Peer) RehydrateDevice(key *[32]byte, deviceID string, deviceData json.RawMessage, events []json.RawMessage) (int, error) {
	var n int
	err := p.call("rehydrate_device", map[string]any{"key": base64.StdEncoding.EncodeToString(key[:]), "device_id": deviceID,
		"device_data": deviceData, "events": events}, &n)
	return n, err
}
