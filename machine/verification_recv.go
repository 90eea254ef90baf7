package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// The event types of the verification framework.
const (
	typeVerificationPrefix  = "m.key.verification."
	typeVerificationRequest = "m.key.verification.request"
	typeVerificationReady   = "m.key.verification.ready"
	typeVerificationStart   = "m.key.verification.start"
	typeVerificationAccept  = "m.key.verification.accept"
	typeVerificationKey     = "m.key.verification.key"
	typeVerificationMAC     = "m.key.verification.mac"
	typeVerificationDone    = "m.key.verification.done"
	typeVerificationCancel  = "m.key.verification.cancel"
)

// maxFlowID bounds the transaction and event ids the machine keeps flows under (the spec's
// limit on an event id is 255 bytes).
const maxFlowID = 255

// isVerificationType reports whether a to-device event type belongs to the verification
// framework (sync.go routes these here).
func isVerificationType(t string) bool { return strings.HasPrefix(t, typeVerificationPrefix) }

type relatesTo struct {
	RelType string `json:"rel_type"`
	EventID string `json:"event_id"`
}

// vContent is the content of every verification event; each type uses its members.
type vContent struct {
	FromDevice    string     `json:"from_device"`
	TransactionID string     `json:"transaction_id"`
	RelatesTo     *relatesTo `json:"m.relates_to"`
	Methods       []string   `json:"methods"`
	Timestamp     int64      `json:"timestamp"`
	MsgType       string     `json:"msgtype"`
	To            string     `json:"to"`
	// start
	Method                     string   `json:"method"`
	KeyAgreementProtocols      []string `json:"key_agreement_protocols"`
	Hashes                     []string `json:"hashes"`
	MessageAuthenticationCodes []string `json:"message_authentication_codes"`
	ShortAuthenticationString  []string `json:"short_authentication_string"`
	Secret                     string   `json:"secret"`
	// accept
	Commitment                string `json:"commitment"`
	KeyAgreementProtocol      string `json:"key_agreement_protocol"`
	Hash                      string `json:"hash"`
	MessageAuthenticationCode string `json:"message_authentication_code"`
	// key, mac, cancel
	Key    string            `json:"key"`
	MAC    map[string]string `json:"mac"`
	Keys   string            `json:"keys"`
	Code   string            `json:"code"`
	Reason string            `json:"reason"`
}

// incoming is one verification event, to-device or in a room.
type incoming struct {
	Type, Sender string
	// AuthDevice is the sending device when Olm authenticated it.
	AuthDevice string
	RoomID     string
	EventID    string
	TS         time.Time
	FlowID     string
	C          vContent
	Raw        json.RawMessage
}

// receiveVerification handles a to-device verification event (plaintext, or decrypted by
// Olm with authDevice the authenticated sending device). The error is the event's Err.
func (m *Machine) receiveVerification(ctx context.Context, evType, sender, authDevice string, content json.RawMessage) error {
	in := &incoming{Type: evType, Sender: sender, AuthDevice: authDevice, Raw: content}
	if err := jsonstrict.Unmarshal(content, &in.C); err != nil {
		return fmt.Errorf("%w: %s: %v", event.ErrMalformed, evType, err)
	}
	if in.C.TransactionID == "" {
		return fmt.Errorf("%w: %s without transaction_id", event.ErrMalformed, evType)
	}
	in.FlowID = in.C.TransactionID
	if len(in.FlowID) > maxFlowID {
		return fmt.Errorf("%w: %s: transaction_id of %d bytes", event.ErrMalformed, evType, len(in.FlowID))
	}
	if in.C.Timestamp != 0 {
		in.TS = time.UnixMilli(in.C.Timestamp)
	}
	return m.handleVerification(ctx, in)
}

type roomEvent struct {
	Type           string          `json:"type"`
	Sender         string          `json:"sender"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	Content        json.RawMessage `json:"content"`
}

// ReceiveRoomEvent feeds an in-room verification event to the machine: an m.room.message with
// msgtype m.key.verification.request addressed to us, or an m.key.verification.* event
// (decrypted first if it arrived as m.room.encrypted: pass DecryptedEvent's type and content
// in the same {type, sender, event_id, origin_server_ts, content} form). It reports whether the
// event belonged to the verification framework; other events are left alone. A step the
// machine cancelled returns a *CancelError (matching ErrVerificationCancelled); an expired
// request ErrRequestExpired; a request beyond the bound on listed flows ErrTooManyVerifications;
// malformed events event.ErrMalformed.
func (m *Machine) ReceiveRoomEvent(ctx context.Context, roomID string, ev json.RawMessage) (bool, error) {
	var r roomEvent
	if err := jsonstrict.Unmarshal(ev, &r); err != nil || r.Type == "" || r.Sender == "" {
		return false, fmt.Errorf("%w: room event", event.ErrMalformed)
	}
	in := &incoming{Type: r.Type, Sender: r.Sender, RoomID: roomID, EventID: r.EventID,
		TS: time.UnixMilli(r.OriginServerTS), Raw: r.Content}
	if r.Type != "m.room.message" && !isVerificationType(r.Type) {
		return false, nil
	}
	if err := jsonstrict.Unmarshal(r.Content, &in.C); err != nil {
		if r.Type == "m.room.message" {
			return false, nil
		}
		return true, fmt.Errorf("%w: %s: %v", event.ErrMalformed, r.Type, err)
	}
	if r.Type == "m.room.message" {
		if in.C.MsgType != typeVerificationRequest {
			return false, nil
		}
		if r.EventID == "" || len(r.EventID) > maxFlowID {
			return true, fmt.Errorf("%w: request without event_id", event.ErrMalformed)
		}
		in.Type, in.FlowID = typeVerificationRequest, r.EventID
		return true, m.handleVerification(ctx, in)
	}
	if in.C.RelatesTo == nil || in.C.RelatesTo.RelType != "m.reference" || in.C.RelatesTo.EventID == "" {
		return true, fmt.Errorf("%w: %s without an m.reference relation", event.ErrMalformed, r.Type)
	}
	in.FlowID = in.C.RelatesTo.EventID
	if len(in.FlowID) > maxFlowID {
		return true, fmt.Errorf("%w: %s: event id of %d bytes", event.ErrMalformed, r.Type, len(in.FlowID))
	}
	return true, m.handleVerification(ctx, in)
}

// handleVerification applies one incoming event in one transaction. The returned error is the
// event's outcome (a *CancelError when the machine cancelled the flow); store failures are
// returned as they are.
func (m *Machine) handleVerification(ctx context.Context, in *incoming) error {
	var outcome error
	err := m.update(ctx, func(tx store.Tx) error {
		outcome = nil
		if in.Type == typeVerificationRequest {
			var err error
			outcome, err = m.receiveRequest(ctx, tx, in)
			return err
		}
		f, err := loadFlow(ctx, tx, in.FlowID)
		if err == nil && f.RoomID != in.RoomID {
			err = ErrUnknownVerification // an id of the other transport
		}
		if errors.Is(err, ErrUnknownVerification) {
			outcome, err = m.unknownTransaction(ctx, tx, in)
			return err
		}
		if err != nil {
			return err
		}
		if in.Sender == m.owner.UserID && f.OtherUser != m.owner.UserID {
			if f.State.terminal() {
				return nil
			}
			// In a room we see our own events, and those of our other devices: one of them
			// answering a request to us means it took the verification over.
			if in.RoomID != "" && in.C.FromDevice != "" && in.C.FromDevice != m.owner.DeviceID &&
				(in.Type == typeVerificationReady || in.Type == typeVerificationStart) {
				f.State, f.CancelCode, f.CancelReason = VerificationCancelled, CancelAccepted, "accepted by "+in.C.FromDevice
				return m.saveFlow(ctx, tx, f)
			}
			return nil
		}
		if err := m.expire(ctx, tx, f); err != nil {
			return err
		}
		if f.State.terminal() {
			outcome = fmt.Errorf("%w: %s for a flow that is %s", ErrVerificationState, in.Type, f.State)
			return nil
		}
		if in.Sender != f.OtherUser && in.RoomID != "" {
			// Any member can reference our request in a room: only the other user's events count.
			outcome = fmt.Errorf("%w: %s from %s in a flow with %s", ErrVerificationState, in.Type, in.Sender, f.OtherUser)
			return nil
		} else if in.Sender != f.OtherUser {
			outcome = cancelf(CancelUserMismatch, "%s from %s in a flow with %s", in.Type, in.Sender, f.OtherUser)
		} else if in.RoomID != "" && in.Sender == m.owner.UserID && in.C.FromDevice == m.owner.DeviceID {
			return nil // our own event echoed
		} else {
			outcome = m.apply(ctx, tx, f, in)
		}
		var ce *CancelError
		if errors.As(outcome, &ce) {
			return m.cancelFlow(ctx, tx, f, ce.Code, ce.Reason)
		}
		if outcome != nil {
			var soft *softError
			if errors.As(outcome, &soft) {
				outcome = soft.err
				return nil
			}
			return outcome
		}
		return m.saveFlow(ctx, tx, f)
	})
	if err != nil {
		return err
	}
	return outcome
}

// softError is the outcome of an event that is ignored without changing the flow.
type softError struct{ err error }

func (s *softError) Error() string { return s.err.Error() }

func ignore(err error) error { return &softError{err} }

// unknownTransaction answers an event for a flow we do not know with m.unknown_transaction
// (a cancel or done for one is dropped silently: answering would loop).
func (m *Machine) unknownTransaction(ctx context.Context, tx store.Tx, in *incoming) (error, error) {
	outcome := fmt.Errorf("%w: %s for %q", ErrUnknownVerification, in.Type, in.FlowID)
	// In a room, flows between other members reference requests we never took: only
	// to-device events, which are addressed to us, are answered.
	if in.Type == typeVerificationCancel || in.Type == typeVerificationDone || in.RoomID != "" {
		return outcome, nil
	}
	device := in.C.FromDevice
	if in.AuthDevice != "" {
		device = in.AuthDevice
	}
	if in.RoomID == "" && device == "" {
		return outcome, nil // nobody to tell
	}
	f := &flow{ID: in.FlowID, RoomID: in.RoomID, OtherUser: in.Sender, OtherDevice: device}
	reason := "unknown verification flow"
	if err := m.sendFlow(ctx, tx, f, typeVerificationCancel, map[string]any{
		"code": string(CancelUnknownTransaction), "reason": reason}); err != nil {
		return nil, err
	}
	return &CancelError{Code: CancelUnknownTransaction, Reason: reason}, nil
}

// receiveRequest starts an incoming flow, unless the request is stale, ours, a duplicate, or
// one with a device we are already verifying with (then both are cancelled with
// m.unexpected_message, as the spec asks).
func (m *Machine) receiveRequest(ctx context.Context, tx store.Tx, in *incoming) (error, error) {
	c := &in.C
	if c.FromDevice == "" || c.Methods == nil || in.TS.IsZero() {
		return fmt.Errorf("%w: request needs from_device, methods and a timestamp", event.ErrMalformed), nil
	}
	if in.AuthDevice != "" && c.FromDevice != in.AuthDevice {
		return fmt.Errorf("%w: request from_device %s, but Olm authenticated %s", event.ErrMalformed, c.FromDevice, in.AuthDevice), nil
	}
	if in.RoomID != "" && c.To != m.owner.UserID {
		return nil, nil // a request for someone else in the room
	}
	if in.Sender == m.owner.UserID && (in.RoomID != "" || c.FromDevice == m.owner.DeviceID) {
		return nil, nil
	}
	now := m.clock()
	if in.TS.Before(now.Add(-requestMaxAge)) || in.TS.After(now.Add(requestMaxFuture)) {
		return fmt.Errorf("%w: sent %s, now %s", ErrRequestExpired, in.TS.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)), nil
	}
	if _, err := loadFlow(ctx, tx, in.FlowID); err == nil {
		return fmt.Errorf("%w: request %q received before", ErrVerificationState, in.FlowID), nil
	} else if !errors.Is(err, ErrUnknownVerification) {
		return nil, err
	}
	methods, err := m.ourMethods(ctx, tx)
	if err != nil {
		return nil, err
	}
	f := &flow{ID: in.FlowID, RoomID: in.RoomID, OtherUser: in.Sender, OtherDevice: c.FromDevice,
		State: VerificationRequested, Created: now, OurMethods: methods, TheirMethods: c.Methods}
	fs, err := m.allFlows(ctx, tx)
	if err != nil {
		return nil, err
	}
	if len(fs) >= maxFlows || countFlowsWith(fs, in.Sender) >= maxFlowsPerUser {
		return fmt.Errorf("%w: request %q from %s ignored", ErrTooManyVerifications, in.FlowID, in.Sender), nil
	}
	if in.RoomID == "" {
		var clash bool
		for _, o := range fs {
			if !o.State.terminal() && o.RoomID == "" && o.OtherUser == in.Sender &&
				(o.OtherDevice == c.FromDevice || o.OtherDevice == "" && containsStr(o.Targets, c.FromDevice)) {
				clash = true
				if err := m.cancelFlow(ctx, tx, o, CancelUnexpectedMessage, "a second verification with the same device"); err != nil {
					return nil, err
				}
			}
		}
		if clash {
			reason := "a second verification with the same device"
			if err := m.cancelFlow(ctx, tx, f, CancelUnexpectedMessage, reason); err != nil {
				return nil, err
			}
			return &CancelError{Code: CancelUnexpectedMessage, Reason: reason}, nil
		}
	}
	m.log.Info("machine: verification requested", "flow", f.ID, "user", f.OtherUser, "device", f.OtherDevice)
	return nil, m.saveFlow(ctx, tx, f)
}

// countFlowsWith counts the flows with user.
func countFlowsWith(fs []*flow, user string) int {
	n := 0
	for _, f := range fs {
		if f.OtherUser == user {
			n++
		}
	}
	return n
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// apply runs one event of a known flow from its other user. It returns a *CancelError to
// cancel the flow, ignore(err) to drop the event, nil to save the flow.
func (m *Machine) apply(ctx context.Context, tx store.Tx, f *flow, in *incoming) error {
	c := &in.C
	if in.AuthDevice != "" && f.OtherDevice != "" && in.AuthDevice != f.OtherDevice && in.Type != typeVerificationReady {
		return cancelf(CancelUnexpectedMessage, "%s from device %s, the flow is with %s", in.Type, in.AuthDevice, f.OtherDevice)
	}
	switch in.Type {
	case typeVerificationReady:
		if c.FromDevice == "" || c.Methods == nil {
			return cancelf(CancelInvalidMessage, "ready without from_device or methods")
		}
		if !f.WeRequested || f.State != VerificationRequested {
			if f.RoomID == "" && f.OtherDevice != "" && c.FromDevice != f.OtherDevice {
				return ignore(m.acceptedElsewhere(ctx, tx, f, c.FromDevice))
			}
			return cancelf(CancelUnexpectedMessage, "ready in state %s", f.State)
		}
		if f.RoomID == "" && !containsStr(f.Targets, c.FromDevice) {
			return cancelf(CancelUnexpectedMessage, "ready from %s, which was not asked", c.FromDevice)
		}
		f.OtherDevice, f.TheirMethods, f.State = c.FromDevice, c.Methods, VerificationReady
		if len(f.common()) == 0 {
			return cancelf(CancelUnknownMethod, "no verification method in common")
		}
		for _, d := range f.Targets {
			if d != f.OtherDevice {
				if err := m.acceptedElsewhere(ctx, tx, f, d); err != nil {
					return err
				}
			}
		}
		return nil
	case typeVerificationStart:
		if c.FromDevice == "" || c.Method == "" {
			return cancelf(CancelInvalidMessage, "start without from_device or method")
		}
		if f.OtherDevice != "" && c.FromDevice != f.OtherDevice {
			return cancelf(CancelUnexpectedMessage, "start from device %s, the flow is with %s", c.FromDevice, f.OtherDevice)
		}
		return m.onStart(ctx, tx, f, in)
	case typeVerificationAccept:
		return m.onAccept(ctx, tx, f, c)
	case typeVerificationKey:
		return m.onKey(ctx, tx, f, c)
	case typeVerificationMAC:
		return m.onMAC(ctx, tx, f, c)
	case typeVerificationDone:
		return m.onDone(ctx, tx, f)
	case typeVerificationCancel:
		f.State, f.CancelCode, f.CancelReason, f.CancelledByUs = VerificationCancelled, CancelCode(c.Code), c.Reason, false
		m.log.Info("machine: verification cancelled by the other side", "flow", f.ID, "code", c.Code)
		if err := tx.DeleteSecret(ctx, secretSASKey+f.ID); err != nil {
			return err
		}
		return tx.DeleteSecret(ctx, secretQR+f.ID)
	}
	return ignore(fmt.Errorf("%w: unknown verification event %s", event.ErrMalformed, in.Type))
}

// acceptedElsewhere tells a device we asked that another one accepted (m.accepted).
func (m *Machine) acceptedElsewhere(ctx context.Context, tx store.Tx, f *flow, device string) error {
	other := &flow{ID: f.ID, OtherUser: f.OtherUser, OtherDevice: device}
	return m.sendFlow(ctx, tx, other, typeVerificationCancel, map[string]any{
		"code": string(CancelAccepted), "reason": "another device accepted the request"})
}

// onDone handles m.key.verification.done: it completes a flow whose checks passed, and, for a
// QR code we scanned, is the other side's confirmation that it saw our reciprocation.
func (m *Machine) onDone(ctx context.Context, tx store.Tx, f *flow) error {
	switch f.State {
	case VerificationWaitingDone:
		f.State, f.DoneReceived = VerificationDone, true
		return nil
	case VerificationQRReciprocated:
		f.DoneReceived = true
		return m.succeedQRScanner(ctx, tx, f)
	case VerificationConfirmed, VerificationKeysExchanged, VerificationQRScanned:
		f.DoneReceived = true // their side finished first; ours completes the flow
		return nil
	}
	return cancelf(CancelUnexpectedMessage, "done in state %s", f.State)
}

// sendFlow queues a verification event of the flow to the other side: to-device to the other
// device (or every device asked, before one accepted), or in the room with an m.reference to
// the request. It returns the content as sent, in canonical JSON.
func (m *Machine) sendFlow(ctx context.Context, tx store.Tx, f *flow, evType string, content map[string]any) error {
	_, err := m.sendFlowContent(ctx, tx, f, evType, content)
	return err
}

func (m *Machine) sendFlowContent(ctx context.Context, tx store.Tx, f *flow, evType string, content map[string]any) ([]byte, error) {
	if f.RoomID != "" {
		if strings.HasPrefix(f.ID, pendingPrefix) {
			return nil, nil // the request itself is not sent yet: nothing to refer to
		}
		content["m.relates_to"] = relatesTo{RelType: "m.reference", EventID: f.ID}
	} else {
		content["transaction_id"] = f.ID
	}
	raw, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("machine: encoding %s: %w", evType, err)
	}
	canon, err := signing.Canonical(raw)
	if err != nil {
		return nil, fmt.Errorf("machine: encoding %s: %w", evType, err)
	}
	if f.RoomID != "" {
		return canon, m.queueWith(ctx, tx, KindRoomEvent, requestParams{EventType: evType, RoomID: f.RoomID}, json.RawMessage(canon))
	}
	devices := f.Targets
	if f.OtherDevice != "" {
		devices = []string{f.OtherDevice}
	}
	msgs := map[string]json.RawMessage{}
	for _, d := range devices {
		msgs[d] = canon
	}
	return canon, m.queue(ctx, tx, KindToDevice, evType, map[string]any{"messages": map[string]any{f.OtherUser: msgs}})
}
