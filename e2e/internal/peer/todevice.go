package peer

import "encoding/json"

// ToDeviceEvent is a to-device message a peer received, as the application sees it, with
// how it arrived: Encrypted and the sending device and Curve25519 key from the Olm decryption
// (empty for a message sent in the clear).
type ToDeviceEvent struct {
	Type             string          `json:"type"`
	Sender           string          `json:"sender"`
	Content          json.RawMessage `json:"content"`
	Encrypted        bool            `json:"encrypted"`
	SenderDevice     string          `json:"sender_device"`
	SenderCurve25519 string          `json:"sender_curve25519"`
}

// SendToDevice Olm-encrypts one event of evType for each of devices (UserID and DeviceID
// set) and sends it. Only the js-sdk peer has it.
func (p *Peer) SendToDevice(evType string, content any, devices ...Device) error {
	type target struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
	}
	ts := make([]target, len(devices))
	for i, d := range devices {
		ts[i] = target{d.UserID, d.DeviceID}
	}
	return p.call("send_to_device", map[string]any{"type": evType, "content": content, "devices": ts}, nil)
}

// ToDevice returns the to-device messages the peer received since the last call. Only the
// js-sdk peer has it.
func (p *Peer) ToDevice() ([]ToDeviceEvent, error) {
	var out struct {
		Events []ToDeviceEvent `json:"events"`
	}
	err := p.call("to_device", nil, &out)
	return out.Events, err
}
