package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/store"
)

// DeviceTarget names one device of one user, the recipient of a to-device event.
type DeviceTarget struct {
	UserID, DeviceID string
}

// ToDeviceReport says what SendEncryptedToDevice did for each device it was given.
type ToDeviceReport struct {
	// Sent are the devices an Olm-encrypted copy was queued for.
	Sent []DeviceTarget
	// NoSession are known devices we have no Olm session with: /keys/claim requests were
	// queued for them (as GetMissingSessions does); send the event again once they are
	// answered.
	NoSession []DeviceTarget
	// Unknown are devices that are not in the tracked device lists (the user is not tracked,
	// its list is not queried yet, or it has no such device), and our own device.
	Unknown []DeviceTarget
}

// ErrReservedEventType reports a SendEncryptedToDevice of an event type the machine sends
// itself under its own rules (room keys, forwarded keys, withheld notices, key requests,
// m.dummy), or of m.room.encrypted.
var ErrReservedEventType = errors.New("machine: event type is sent by the machine itself")

// SendEncryptedToDevice Olm-encrypts one event of eventType with content (a JSON object) for
// each of devices, over the session the machine sends with (see docs/client.md, "Olm"), and
// queues one KindToDevice request of m.room.encrypted that carries them all (spec
// "Send-to-Device messaging",
// https://spec.matrix.org/v1.19/client-server-api/#send-to-device-messaging). The devices
// must be known: tracked users with a current device list. It is how a MatrixRTC member sends
// its media key (MSC4143, m.rtc.encryption_key). Our device keys travel along as
// sender_device_keys (MSC4147).
//
// A device the machine has no Olm session with is not sent to: it is reported in NoSession,
// and one-time keys are claimed for it, so a later call reaches it. Duplicate targets are
// sent to once. The machine applies no sharing policy: choose the devices yourself. Errors:
// ErrReservedEventType, a content that is not a JSON object, and the store's; nothing is
// queued then, except when queueing the claims fails after the event was queued: the report
// is returned with that error.
func (m *Machine) SendEncryptedToDevice(ctx context.Context, eventType string, content json.RawMessage, devices []DeviceTarget) (*ToDeviceReport, error) {
	switch eventType {
	case typeDummy, typeRoomKey, typeForwardedKey, typeRoomKeyRequest, typeRoomKeyWithheld, typeEncrypted:
		return nil, fmt.Errorf("%w: %s", ErrReservedEventType, eventType)
	}
	if eventType == "" {
		return nil, errors.New("machine: empty to-device event type")
	}
	if !isJSONObject(content) {
		return nil, errors.New("machine: to-device content must be a JSON object")
	}
	rep := &ToDeviceReport{}
	var claim []string
	err := m.update(ctx, func(tx store.Tx) error {
		*rep = ToDeviceReport{}
		claim = claim[:0]
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return err
		}
		known := map[string][]Device{}
		seen := map[DeviceTarget]bool{}
		var send []*Device
		for _, t := range devices {
			if seen[t] {
				continue
			}
			seen[t] = true
			devs, ok := known[t.UserID]
			if !ok {
				if devs, err = m.devices(ctx, tx, t.UserID); err != nil {
					return err
				}
				known[t.UserID] = devs
			}
			i := slices.IndexFunc(devs, func(d Device) bool { return d.Keys.DeviceID == t.DeviceID })
			if i < 0 || (t.UserID == m.owner.UserID && t.DeviceID == m.owner.DeviceID) {
				rep.Unknown = append(rep.Unknown, t)
				continue
			}
			ss, err := tx.OlmSessions(ctx, devs[i].Keys.Curve25519.String())
			if err != nil {
				return err
			}
			if len(ss) == 0 {
				rep.NoSession = append(rep.NoSession, t)
				if !slices.Contains(claim, t.UserID) {
					claim = append(claim, t.UserID)
				}
				continue
			}
			send = append(send, &devs[i])
			rep.Sent = append(rep.Sent, t)
		}
		if len(send) == 0 {
			return nil
		}
		msgs, err := m.encryptForDevices(ctx, tx, acct, send, eventType, content)
		if err != nil {
			return err
		}
		return m.queue(ctx, tx, KindToDevice, typeEncrypted, toDeviceBody{msgs})
	})
	if err != nil {
		return nil, err
	}
	if len(claim) > 0 {
		// Claims all devices of these users that lack a session: a superset of NoSession,
		// and what ShareRoomKey's callers do too.
		if _, err := m.GetMissingSessions(ctx, claim); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// isJSONObject reports whether b is one valid JSON object.
func isJSONObject(b json.RawMessage) bool {
	var v map[string]json.RawMessage
	return json.Valid(b) && json.Unmarshal(b, &v) == nil && v != nil
}
