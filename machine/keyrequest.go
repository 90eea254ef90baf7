package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
)

type keyRequestBody struct {
	Algorithm string `json:"algorithm"`
	RoomID    string `json:"room_id"`
	SessionID string `json:"session_id"`
}

type keyRequestContent struct {
	Action             string          `json:"action"`
	Body               *keyRequestBody `json:"body,omitempty"`
	RequestID          string          `json:"request_id"`
	RequestingDeviceID string          `json:"requesting_device_id"`
}

// RequestRoomKey asks our own other devices for a Megolm session we are missing
// (m.room_key_request, spec "Key requests",
// https://spec.matrix.org/v1.19/client-server-api/#key-requests). The answer arrives as an
// m.forwarded_room_key, accepted only from our own verified devices.
func (m *Machine) RequestRoomKey(ctx context.Context, roomID, sessionID string) error {
	return m.update(ctx, func(tx store.Tx) error {
		id, err := m.newID()
		if err != nil {
			return err
		}
		c, err := json.Marshal(keyRequestContent{Action: "request", RequestID: id, RequestingDeviceID: m.owner.DeviceID,
			Body: &keyRequestBody{Algorithm: megolm.Algorithm, RoomID: roomID, SessionID: sessionID}})
		if err != nil {
			return err
		}
		return m.queue(ctx, tx, KindToDevice, typeRoomKeyRequest, toDeviceBody{map[string]map[string]json.RawMessage{
			m.owner.UserID: {"*": c}}})
	})
}

// ErrUntrustedRequester reports a room key request from a device that is not one of our own
// verified devices: it is not answered.
var ErrUntrustedRequester = errors.New("machine: key request not from our own verified device")

// receiveKeyRequest answers an m.room_key_request from one of our own verified devices with
// the session from its first known index.
func (m *Machine) receiveKeyRequest(ctx context.Context, r rawToDevice) error {
	req, err := event.ParseRoomKeyRequest(r.Content)
	if err != nil {
		return err
	}
	if req.Action != "request" || req.RequestingDeviceID == m.owner.DeviceID {
		return nil
	}
	if r.Sender != m.owner.UserID {
		return ErrUntrustedRequester
	}
	return m.update(ctx, func(tx store.Tx) error {
		// Our own device, verified by us or cross-signed under a master key we trust: a
		// master key the server served and nobody verified proves nothing (ownDeviceTrusted).
		dev, err := m.trustedRequester(ctx, tx, req.RequestingDeviceID)
		if err != nil {
			return err
		}
		rec, err := tx.InboundGroupSession(ctx, req.RoomID, req.SessionID.String())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		info, err := sessionInfo(rec)
		if err != nil {
			return err
		}
		sess, err := megolm.UnpickleInboundSession(&m.pickleKey, string(rec.State))
		if err != nil {
			return err
		}
		e := megolm.NewExportedSession(sess.ExportAtFirstKnownIndex(), info.RoomID, info.SenderKey, info.ClaimedEd25519)
		for _, k := range info.ForwardingChain {
			e.ForwardingCurve25519KeyChain = append(e.ForwardingCurve25519KeyChain, k.String())
		}
		e.SharedHistory = info.SharedHistory
		content, err := event.ForwardedRoomKeyContent(e)
		if err != nil {
			return err
		}
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return err
		}
		msgs, err := m.encryptForDevices(ctx, tx, acct, []*Device{dev}, typeForwardedKey, content)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return fmt.Errorf("machine: no Olm session with %s to forward a key", req.RequestingDeviceID)
		}
		return m.queue(ctx, tx, KindToDevice, typeEncrypted, toDeviceBody{msgs})
	})
}
