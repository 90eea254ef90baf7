package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
)

// SharePolicy decides which devices of a room's members receive its room key (compare
// matrix-sdk-crypto's CollectStrategy, session_manager/group_sessions/share_strategy.rs).
type SharePolicy int

// The sharing policies. Devices left out get an m.room_key.withheld notice with the reason.
const (
	// AllDevices shares with every device not blacklisted.
	AllDevices SharePolicy = iota
	// OnlyVerified shares only with devices we verified (SetDeviceTrust) or, for our own
	// user, cross-signed by our identity. Others get m.unverified.
	OnlyVerified
	// IdentityBased (MSC4153, recommended by spec v1.18) shares only with devices
	// cross-signed by their owner, and not with users whose master key changed without the
	// application acknowledging it (AcknowledgeIdentity). Others get m.unverified.
	IdentityBased
)

// RoomSettings describe an encrypted room (its m.room.encryption state and history
// visibility).
type RoomSettings struct {
	// Policy chooses the devices that receive the room key.
	Policy SharePolicy
	// RotationPeriod and RotationMessages are rotation_period_ms and rotation_period_msgs;
	// zero means the spec's defaults (one week, 100 messages).
	RotationPeriod   time.Duration
	RotationMessages uint32
	// HistoryVisibility is the room's m.room.history_visibility; "shared" and
	// "world_readable" set shared_history on the keys (MSC3061).
	HistoryVisibility string
}

func (s RoomSettings) period() time.Duration {
	if s.RotationPeriod <= 0 {
		return 7 * 24 * time.Hour
	}
	return s.RotationPeriod
}

func (s RoomSettings) messages() uint32 {
	if s.RotationMessages == 0 {
		return 100
	}
	return s.RotationMessages
}

// withheldSent is the machine's record of the devices told why they did not get a session.
type withheldSent struct {
	SessionID string   `json:"session_id"`
	Devices   []string `json:"devices"`
}

// ShareRoomKey makes sure every device of members that the policy admits holds the room's
// current outbound Megolm session, queueing the to-device requests that share it. It creates
// the session if there is none and rotates it when it is older than the rotation period, has
// encrypted the rotation count of messages, or was shared with a user who is no longer a
// member or a device that is gone, blacklisted or no longer admitted. Devices without an Olm
// session (see GetMissingSessions) get m.no_olm, devices the policy leaves out m.unverified
// and blacklisted ones m.blacklisted, each once per session. members is the room's joined
// (and, with shared history, invited) users; our own user is added.
//
// Every member must be tracked with a current device list: otherwise ShareRoomKey returns
// ErrDevicesOutdated and shares nothing, so that a device added since the last query is not
// left out silently. Call UpdateTrackedUsers and send the keys query of OutgoingRequests first.
func (m *Machine) ShareRoomKey(ctx context.Context, roomID string, members []string, rs RoomSettings) error {
	if !slices.Contains(members, m.owner.UserID) {
		members = append(slices.Clone(members), m.owner.UserID)
	}
	return m.update(ctx, func(tx store.Tx) error {
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return err
		}
		for _, u := range members {
			tu, err := tx.TrackedUser(ctx, u)
			if errors.Is(err, store.ErrNotFound) || err == nil && tu.Outdated {
				return fmt.Errorf("%w: %s", ErrDevicesOutdated, u)
			}
			if err != nil {
				return err
			}
		}
		var admitted []*Device
		withheld := map[string]string{} // user|device → code
		admittedSet := map[string]bool{}
		for _, u := range members {
			devs, err := m.devices(ctx, tx, u)
			if err != nil {
				return err
			}
			for i := range devs {
				d := &devs[i]
				if u == m.owner.UserID && d.Keys.DeviceID == m.owner.DeviceID {
					continue
				}
				id := u + "|" + d.Keys.DeviceID
				switch code := admit(d, rs.Policy); code {
				case "":
					admitted = append(admitted, d)
					admittedSet[id] = true
				default:
					withheld[id] = code
				}
			}
		}
		now := m.clock()
		out, err := tx.OutboundGroupSession(ctx, roomID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// EncryptRoomEvent holds the session to the same limits between shares.
		if err := tx.PutValue(ctx, valueRotation+roomID, fmt.Appendf(nil, "%d,%d", rs.period().Milliseconds(), rs.messages())); err != nil {
			return err
		}
		if out != nil && m.mustRotate(out, rs, now, members, admittedSet) {
			if err := tx.DeleteOutboundGroupSession(ctx, roomID); err != nil {
				return err
			}
			out = nil
		}
		var sess *megolm.OutboundSession
		if out == nil {
			sess, err = megolm.NewOutboundSessionFrom(m.randReader())
			if err != nil {
				return err
			}
			out = &store.OutboundGroupSession{RoomID: roomID, SessionID: sess.SessionID().String(), Created: now}
			// Our own copy, so we can read our own messages.
			in, err := megolm.NewInboundSession(sess.SessionKey())
			if err != nil {
				return err
			}
			info := event.SessionInfo{RoomID: roomID, SessionID: sess.SessionID(), Sender: m.owner.UserID,
				SenderKey: m.curve, ClaimedEd25519: m.ed, Ed25519Checked: true, Provenance: event.OverOlm,
				SharedHistory: sharedHistory(rs)}
			if err := m.storeInbound(ctx, tx, info, in); err != nil {
				return err
			}
		} else if sess, err = megolm.UnpickleOutboundSession(&m.pickleKey, string(out.State)); err != nil {
			return fmt.Errorf("machine: outbound session of %s: %w", roomID, err)
		}
		shared := map[string]bool{}
		for _, s := range out.SharedWith {
			shared[s.UserID+"|"+s.DeviceID] = true
		}
		var todo []*Device
		for _, d := range admitted {
			if shared[d.Keys.UserID+"|"+d.Keys.DeviceID] {
				continue
			}
			s, err := tx.OlmSessions(ctx, d.Keys.Curve25519.String())
			if err != nil {
				return err
			}
			if len(s) == 0 {
				withheld[d.Keys.UserID+"|"+d.Keys.DeviceID] = withheldNoOlm
				continue
			}
			todo = append(todo, d)
		}
		if len(todo) > 0 {
			content, err := event.RoomKeyContent(roomID, sess, sharedHistory(rs))
			if err != nil {
				return err
			}
			msgs, err := m.encryptForDevices(ctx, tx, acct, todo, typeRoomKey, content)
			if err != nil {
				return err
			}
			for _, d := range todo {
				out.SharedWith = append(out.SharedWith, store.SharedWith{UserID: d.Keys.UserID, DeviceID: d.Keys.DeviceID, Index: sess.MessageIndex()})
			}
			if err := m.queue(ctx, tx, KindToDevice, typeEncrypted, toDeviceBody{msgs}); err != nil {
				return err
			}
		}
		if err := m.sendWithheld(ctx, tx, roomID, sess.SessionID(), withheld); err != nil {
			return err
		}
		p, err := sess.Pickle(&m.pickleKey)
		if err != nil {
			return err
		}
		out.State = store.Secret(p)
		out.MessageCount = sess.MessageIndex()
		return tx.PutOutboundGroupSession(ctx, out)
	})
}

func sharedHistory(rs RoomSettings) bool {
	return rs.HistoryVisibility == "shared" || rs.HistoryVisibility == "world_readable"
}

// admit returns "" if the policy admits d, else the withheld code.
func admit(d *Device, p SharePolicy) string {
	if d.Blacklisted {
		return withheldBlacklisted
	}
	switch p {
	case OnlyVerified:
		if !d.Verified {
			return withheldUnverified
		}
	case IdentityBased:
		if !d.CrossSigned || d.IdentityChanged {
			return withheldUnverified
		}
	}
	return ""
}

// rotationSettings returns the rotation limits of the room's last ShareRoomKey (the spec's
// defaults if there was none in this store).
func (m *Machine) rotationSettings(ctx context.Context, tx store.Tx, roomID string) RoomSettings {
	var rs RoomSettings
	if b, err := tx.Value(ctx, valueRotation+roomID); err == nil {
		var ms int64
		var n uint32
		if _, err := fmt.Sscanf(string(b), "%d,%d", &ms, &n); err == nil {
			rs.RotationPeriod, rs.RotationMessages = time.Duration(ms)*time.Millisecond, n
		}
	}
	return rs
}

func (m *Machine) mustRotate(out *store.OutboundGroupSession, rs RoomSettings, now time.Time, members []string, admitted map[string]bool) bool {
	if now.Sub(out.Created) >= rs.period() || out.MessageCount >= rs.messages() {
		return true
	}
	for _, s := range out.SharedWith {
		if !slices.Contains(members, s.UserID) || !admitted[s.UserID+"|"+s.DeviceID] {
			m.log.Info("machine: rotating the room key", "room", out.RoomID, "user", s.UserID, "device", s.DeviceID)
			return true
		}
	}
	return false
}

// sendWithheld queues m.room_key.withheld notices (sent unencrypted, as the spec's example
// shows) for devices not told yet about this session.
func (m *Machine) sendWithheld(ctx context.Context, tx store.Tx, roomID string, sessionID key.Ed25519, codes map[string]string) error {
	if len(codes) == 0 {
		return nil
	}
	var sent withheldSent
	now := m.clock()
	if e, ok, err := withheldLedger.get(ctx, tx, roomID, now); err != nil {
		return err
	} else if ok {
		_ = json.Unmarshal(e.V, &sent)
	}
	if sent.SessionID != sessionID.String() {
		sent = withheldSent{SessionID: sessionID.String()}
	}
	msgs := map[string]map[string]json.RawMessage{}
	for _, id := range sortedKeys(codes) {
		if slices.Contains(sent.Devices, id) {
			continue
		}
		user, dev, _ := cut(id)
		c := withheldContent{Algorithm: megolm.Algorithm, SenderKey: m.curve.String(), Code: codes[id], Reason: withheldReason[codes[id]]}
		if codes[id] != withheldNoOlm {
			c.RoomID, c.SessionID = roomID, sessionID.String()
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if msgs[user] == nil {
			msgs[user] = map[string]json.RawMessage{}
		}
		msgs[user][dev] = b
		sent.Devices = append(sent.Devices, id)
	}
	if len(msgs) == 0 {
		return nil
	}
	b, _ := json.Marshal(sent)
	if err := withheldLedger.put(ctx, tx, roomID, b, now); err != nil {
		return err
	}
	return m.queue(ctx, tx, KindToDevice, typeRoomKeyWithheld, toDeviceBody{msgs})
}

func cut(id string) (string, string, bool) {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '|' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

type withheldContent struct {
	Algorithm string `json:"algorithm"`
	SenderKey string `json:"sender_key"`
	Code      string `json:"code"`
	Reason    string `json:"reason,omitempty"`
	RoomID    string `json:"room_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

var withheldReason = map[string]string{
	withheldBlacklisted: "You have been blocked by this device",
	withheldUnverified:  "This device does not share keys with unverified devices",
	withheldNoOlm:       "Unable to establish a secure channel",
}

// EncryptRoomEvent encrypts a room event with the room's outbound Megolm session and returns
// the m.room.encrypted content to send. The session's new state is stored before the content
// is returned. Call ShareRoomKey first (ErrRoomKeyNotShared otherwise, also when the session
// has reached its rotation count).
func (m *Machine) EncryptRoomEvent(ctx context.Context, roomID, eventType string, content json.RawMessage) (json.RawMessage, error) {
	var res json.RawMessage
	err := m.update(ctx, func(tx store.Tx) error {
		out, err := tx.OutboundGroupSession(ctx, roomID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrRoomKeyNotShared
		}
		if err != nil {
			return err
		}
		if rs := m.rotationSettings(ctx, tx, roomID); m.clock().Sub(out.Created) >= rs.period() || out.MessageCount >= rs.messages() {
			return fmt.Errorf("%w: the session reached its rotation period or message count", ErrRoomKeyNotShared)
		}
		sess, err := megolm.UnpickleOutboundSession(&m.pickleKey, string(out.State))
		if err != nil {
			return fmt.Errorf("machine: outbound session of %s: %w", roomID, err)
		}
		c, _, err := event.EncryptMegolm(sess, event.MegolmEncryptParams{RoomID: roomID, Type: eventType, Content: content})
		if err != nil {
			return err
		}
		p, err := sess.Pickle(&m.pickleKey)
		if err != nil {
			return err
		}
		out.State = store.Secret(p)
		out.MessageCount = sess.MessageIndex()
		res = c
		return tx.PutOutboundGroupSession(ctx, out)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Withheld codes (spec "m.room_key.withheld",
// https://spec.matrix.org/v1.19/client-server-api/#mroom_keywithheld).
const (
	withheldBlacklisted = "m.blacklisted"
	withheldUnverified  = "m.unverified"
	withheldNoOlm       = "m.no_olm"
)
