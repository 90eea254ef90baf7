package matrixrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/machine"
)

// The to-device event types of media keys.
const (
	// EventTypeKey is MSC4143's m.rtc.encryption_key.
	EventTypeKey = "m.rtc.encryption_key"
	// EventTypeKeyUnstable is its unstable name, org.matrix.msc4143.rtc.encryption_key.
	EventTypeKeyUnstable = "org.matrix.msc4143.rtc.encryption_key"
	// EventTypeLegacyKeys is io.element.call.encryption_keys, the format Element Call and
	// matrix-js-sdk (src/matrixrtc/ToDeviceKeyTransport.ts) send.
	EventTypeLegacyKeys = "io.element.call.encryption_keys"
)

// Why a received key is refused. Each is returned by Manager.Receive, wrapped with detail.
var (
	// ErrCleartext: the key arrived without Olm encryption (MSC4143: discard).
	ErrCleartext = errors.New("matrixrtc: media key not Olm-encrypted")
	// ErrMalformed: the content is not a valid key event (missing or wrong members, an
	// index outside 0–255, a key of the wrong size, an unknown format).
	ErrMalformed = errors.New("matrixrtc: malformed media key event")
	// ErrUnknownMember: the member_id names no joined member. If the member event is still
	// on its way, hand the event to Receive again after SetMembers.
	ErrUnknownMember = errors.New("matrixrtc: media key for a member that is not joined")
	// ErrSenderMismatch: the to-device event's sender or sending device is not the one of the
	// member event, or the device's Curve25519 key is not the one that encrypted the event
	// (MSC4143: MUST discard).
	ErrSenderMismatch = errors.New("matrixrtc: media key not sent by the member's device")
	// ErrUnknownDevice: the sending device is not in its owner's device list as the machine
	// knows it; query the device list and hand the event again.
	ErrUnknownDevice = errors.New("matrixrtc: media key from a device not in the device list")
	// ErrNotCrossSigned: the sending device is not cross-signed by its owner, or its owner's
	// identity changed unacknowledged (MSC4143 after MSC4153: SHOULD discard; see
	// Config.InsecureAcceptNotCrossSigned).
	ErrNotCrossSigned = errors.New("matrixrtc: media key from a device its owner did not cross-sign")
	// ErrBlacklisted: the sending device is blacklisted (machine.SetDeviceTrust).
	ErrBlacklisted = errors.New("matrixrtc: media key from a blacklisted device")
)

// keyEvent is m.rtc.encryption_key (MSC4143, "Sharing keys").
type keyEvent struct {
	RoomID   string `json:"room_id"`
	MemberID string `json:"member_id"`
	MediaKey *struct {
		Index *int64 `json:"index"`
		Key   string `json:"key"`
	} `json:"media_key"`
	Format *int64 `json:"format"`
}

// legacyEvent is io.element.call.encryption_keys as matrix-js-sdk sends it
// (src/matrixrtc/types.ts EncryptionKeysToDeviceEventContent); older senders named the room
// roomId.
type legacyEvent struct {
	Keys *struct {
		Index *int64 `json:"index"`
		Key   string `json:"key"`
	} `json:"keys"`
	RoomID    string `json:"room_id"`
	OldRoomID string `json:"roomId"`
	Member    *struct {
		ID              string `json:"id"`
		ClaimedDeviceID string `json:"claimed_device_id"`
	} `json:"member"`
	Session *struct {
		CallID      string `json:"call_id"`
		Application string `json:"application"`
		Scope       string `json:"scope"`
	} `json:"session"`
	SentTS *int64 `json:"sent_ts"`
}

func keyContent(roomID string, own Member, k *ownKey, _ time.Time) (json.RawMessage, error) {
	type mediaKey struct {
		Index int    `json:"index"`
		Key   string `json:"key"`
	}
	return json.Marshal(struct {
		RoomID   string   `json:"room_id"`
		MemberID string   `json:"member_id"`
		MediaKey mediaKey `json:"media_key"`
		Format   int      `json:"format"`
	}{roomID, own.MemberID, mediaKey{int(k.index), encodeKey(k.material[:])}, 0})
}

func legacyContent(roomID string, own Member, k *ownKey, now time.Time) (json.RawMessage, error) {
	type keys struct {
		Index int    `json:"index"`
		Key   string `json:"key"`
	}
	type member struct {
		ID              string `json:"id"`
		ClaimedDeviceID string `json:"claimed_device_id"`
	}
	type session struct {
		CallID      string `json:"call_id"`
		Application string `json:"application"`
		Scope       string `json:"scope"`
	}
	return json.Marshal(struct {
		Keys    keys    `json:"keys"`
		RoomID  string  `json:"room_id"`
		Member  member  `json:"member"`
		Session session `json:"session"`
		SentTS  int64   `json:"sent_ts"`
	}{keys{int(k.index), encodeKey(k.material[:])}, roomID, member{own.MemberID, own.DeviceID},
		session{"", "m.call", "m.room"}, now.UnixMilli()})
}

// parsed is what a key event says, before its sender is checked.
type parsed struct {
	roomID, memberID string
	claimedDevice    string // the legacy format's claimed_device_id
	index            uint8
	material         [MaterialSize]byte
	size             int
}

func parseKeyEvent(evType string, content json.RawMessage, sender string) (*parsed, error) {
	malformed := func(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }
	var p parsed
	var index *int64
	var key string
	switch evType {
	case EventTypeKey, EventTypeKeyUnstable:
		var e keyEvent
		if err := jsonstrict.Unmarshal(content, &e); err != nil {
			return nil, malformed(err.Error())
		}
		if e.Format == nil || *e.Format != 0 {
			return nil, malformed("format is not 0")
		}
		if e.MediaKey == nil {
			return nil, malformed("no media_key")
		}
		if e.MemberID == "" {
			return nil, malformed("no member_id")
		}
		p.roomID, p.memberID, index, key = e.RoomID, e.MemberID, e.MediaKey.Index, e.MediaKey.Key
	case EventTypeLegacyKeys:
		var e legacyEvent
		if err := jsonstrict.Unmarshal(content, &e); err != nil {
			return nil, malformed(err.Error())
		}
		if e.Keys == nil {
			return nil, malformed("no keys")
		}
		if e.Member == nil || e.Member.ClaimedDeviceID == "" {
			return nil, malformed("no member.claimed_device_id")
		}
		p.roomID = e.RoomID
		if p.roomID == "" {
			p.roomID = e.OldRoomID
		}
		p.claimedDevice, p.memberID = e.Member.ClaimedDeviceID, e.Member.ID
		if p.memberID == "" {
			// matrix-js-sdk's stand-in for senders that name no member id.
			p.memberID = sender + ":" + e.Member.ClaimedDeviceID
		}
		index, key = e.Keys.Index, e.Keys.Key
	default:
		return nil, nil
	}
	if p.roomID == "" {
		return nil, malformed("no room_id")
	}
	if index == nil || *index < 0 || *index > 255 {
		return nil, malformed("index missing or outside 0-255")
	}
	p.index = uint8(*index)
	raw, err := b64.DecodeSecret(key)
	if err != nil {
		return nil, malformed("key is not base64")
	}
	defer clear(raw)
	// MSC4143 keys are 32 bytes; matrix-js-sdk's RTCEncryptionManager makes 16-byte ones,
	// which it sends in the legacy format.
	if len(raw) != MaterialSize && (evType != EventTypeLegacyKeys || len(raw) != 16) {
		return nil, malformed(fmt.Sprintf("key of %d bytes", len(raw)))
	}
	p.size = copy(p.material[:], raw)
	return &p, nil
}

// Receive takes a to-device event as machine.ReceiveSync returned it. A media key of this
// call (m.rtc.encryption_key, its unstable name, or io.element.call.encryption_keys) is checked
// and kept, and returned; other events, and keys for another room, give nil and no error.
// The checks (MSC4143 "Sharing keys"): the event arrived Olm-encrypted (else ErrCleartext);
// it parses (ErrMalformed); member_id names a joined member (ErrUnknownMember); the sender
// and sending device are the member's, and for the legacy format claimed_device_id too
// (ErrSenderMismatch); the device is in the machine's device list with the Curve25519 key
// that encrypted the event (ErrUnknownDevice, ErrSenderMismatch); it is not blacklisted
// (ErrBlacklisted) and is cross-signed (ErrNotCrossSigned, unless
// Config.InsecureAcceptNotCrossSigned). A refused key changes nothing.
func (k *Manager) Receive(ctx context.Context, now time.Time, ev machine.ToDeviceEvent) (*MediaKey, error) {
	switch ev.Type {
	case EventTypeKey, EventTypeKeyUnstable, EventTypeLegacyKeys:
	default:
		return nil, nil
	}
	if ev.Err != nil {
		return nil, nil
	}
	if !ev.Encrypted {
		return nil, fmt.Errorf("%w: %s from %s", ErrCleartext, ev.Type, ev.Sender)
	}
	p, err := parseKeyEvent(ev.Type, ev.Content, ev.Sender)
	if err != nil {
		return nil, err
	}
	if p.roomID != k.cfg.RoomID {
		return nil, nil
	}
	k.mu.Lock()
	var mb Member
	found := false
	for m := range k.members {
		if m.MemberID == p.memberID {
			mb, found = m, true
			break
		}
	}
	k.mu.Unlock()
	if !found {
		return nil, fmt.Errorf("%w: %q from %s", ErrUnknownMember, p.memberID, ev.Sender)
	}
	if ev.Sender != mb.UserID || ev.SenderDevice != mb.DeviceID {
		return nil, fmt.Errorf("%w: member %q is %s/%s, the key came from %s/%s", ErrSenderMismatch,
			p.memberID, mb.UserID, mb.DeviceID, ev.Sender, ev.SenderDevice)
	}
	if p.claimedDevice != "" && p.claimedDevice != mb.DeviceID {
		return nil, fmt.Errorf("%w: member %q is on device %s, the key claims device %q", ErrSenderMismatch,
			p.memberID, mb.DeviceID, p.claimedDevice)
	}
	dev, err := k.device(ctx, mb.UserID, mb.DeviceID)
	if err != nil {
		return nil, err
	}
	if dev == nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrUnknownDevice, mb.UserID, mb.DeviceID)
	}
	if dev.Keys.Curve25519 != ev.SenderKey {
		return nil, fmt.Errorf("%w: %s/%s has another Curve25519 key", ErrSenderMismatch, mb.UserID, mb.DeviceID)
	}
	if err := k.trustError(dev); err != nil {
		return nil, fmt.Errorf("%w: %s/%s", err, mb.UserID, mb.DeviceID)
	}
	key := MediaKey{Member: mb, Index: p.index, Received: now, material: p.material, size: p.size}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.members[mb] {
		// The member left while the device was looked up.
		return nil, fmt.Errorf("%w: %q from %s", ErrUnknownMember, p.memberID, ev.Sender)
	}
	pk := k.peers[mb]
	if pk == nil {
		pk = &peerKeys{byIndex: map[uint8]MediaKey{}}
		k.peers[mb] = pk
	}
	pk.byIndex[p.index] = key
	pk.latest = p.index
	return &key, nil
}
