package event

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/signing"
)

// RoomKey is a received m.room_key event (spec "m.room_key"): a Megolm
// session shared with us directly by its creator. It exists only as the
// result of RoomKeyFromEvent on an Olm-decrypted event, and it records who
// delivered it: the session is bound to that sender, device key and
// claimed Ed25519 key.
//
// The session key is secret; fmt prints only public fields. A RoomKey is
// immutable and safe for concurrent use.
type RoomKey struct {
	RoomID        string
	SessionID     key.Ed25519
	SharedHistory bool // shared_history (spec v1.19)
	// Who shared it, from the Olm event.
	Sender               string
	SenderKey            key.Curve25519 // authenticated by Olm
	SenderClaimedEd25519 key.Ed25519

	sessionKey *megolm.SessionKey
}

// RoomKeyContent is the content of an m.room_key event to send over Olm. It
// holds the session key: the result is secret.
func RoomKeyContent(roomID string, s *megolm.OutboundSession, sharedHistory bool) (json.RawMessage, error) {
	if roomID == "" {
		return nil, errors.New("event: room ID is required")
	}
	m := map[string]any{
		"algorithm":   AlgorithmMegolm,
		"room_id":     roomID,
		"session_id":  s.SessionID(),
		"session_key": s.SessionKey().Base64(),
	}
	if sharedHistory {
		m["shared_history"] = true
	}
	return signing.Marshal(m)
}

// RoomKeyFromEvent validates an m.room_key event: it must be ev's type,
// ev must come from DecryptOlm, the algorithm must be Megolm, and the
// session key must be a correctly signed 229-byte key whose signing key is
// session_id.
func RoomKeyFromEvent(ev *OlmEvent) (*RoomKey, error) {
	if err := fromOlm(ev, TypeRoomKey); err != nil {
		return nil, err
	}
	var c struct {
		Algorithm     *string      `json:"algorithm"`
		RoomID        *string      `json:"room_id"`
		SessionID     *key.Ed25519 `json:"session_id"`
		SessionKey    *string      `json:"session_key"`
		SharedHistory bool         `json:"shared_history"`
	}
	if err := json.Unmarshal(ev.Content, &c); err != nil {
		return nil, malformed("m.room_key: %v", err)
	}
	if c.Algorithm == nil || c.RoomID == nil || c.SessionID == nil || c.SessionKey == nil {
		return nil, malformed("m.room_key needs algorithm, room_id, session_id and session_key")
	}
	if *c.Algorithm != AlgorithmMegolm {
		return nil, fmt.Errorf("%w: m.room_key for %q", ErrAlgorithm, *c.Algorithm)
	}
	sk := new(megolm.SessionKey)
	if err := sk.UnmarshalText([]byte(*c.SessionKey)); err != nil {
		return nil, fmt.Errorf("%w: m.room_key session_key: %w", ErrMalformed, err)
	}
	if sk.SessionID() != *c.SessionID {
		return nil, malformed("m.room_key session_key is for session %s, not %s", sk.SessionID(), *c.SessionID)
	}
	return &RoomKey{RoomID: *c.RoomID, SessionID: *c.SessionID, SharedHistory: c.SharedHistory,
		Sender: ev.Sender, SenderKey: ev.SenderKey, SenderClaimedEd25519: ev.SenderEd25519, sessionKey: sk}, nil
}

// SessionKey returns the Megolm session key. It is secret.
func (k *RoomKey) SessionKey() *megolm.SessionKey { return k.sessionKey }

// InboundSession returns a new verified inbound session for the key. Store
// it under (RoomID, SessionID) with the sender fields, and replace an
// existing copy only if this one starts at a lower index.
func (k *RoomKey) InboundSession() (*megolm.InboundSession, error) {
	return megolm.NewInboundSession(k.sessionKey)
}

// Format prints the public fields only.
func (k RoomKey) Format(f fmt.State, _ rune) {
	var index uint32
	if k.sessionKey != nil {
		index = k.sessionKey.Index()
	}
	fmt.Fprintf(f, "m.room_key{room %s session %s from %s %s index %d}", k.RoomID, k.SessionID, k.Sender, k.SenderKey, index)
}

// ForwardedRoomKey is a received m.forwarded_room_key event: a Megolm
// session another device forwarded, in the unsigned export format. It is
// always unverified: whoever forwarded it could have made it up, so a
// client accepts it only from its own verified devices in answer to its
// own request, and shows events it decrypts as unverified.
//
// The session key is secret; fmt prints only public fields. Immutable and
// safe for concurrent use.
type ForwardedRoomKey struct {
	RoomID    string
	SessionID key.Ed25519
	// What the forwarder claims about the session's creator.
	SenderKey            key.Curve25519 // sender_key
	SenderClaimedEd25519 key.Ed25519    // sender_claimed_ed25519_key
	// ForwardingChain is forwarding_curve25519_key_chain followed by the
	// forwarder's own Curve25519 key: every device the key passed through.
	ForwardingChain []key.Curve25519
	// The device that forwarded it to us, from the Olm event.
	Forwarder    string
	ForwarderKey key.Curve25519
	// Withheld, if not nil, is the code the key's sender gave for not
	// sharing it with the forwarder's user.
	Withheld *WithheldError

	sessionKey *megolm.ExportedSessionKey
}

// ForwardedRoomKeyFromEvent validates an m.forwarded_room_key event from
// DecryptOlm. The session key may be in export format (version 1, as real
// clients send it) or, as the spec's examples show, in the signed sharing
// format (version 2, whose signature is checked and then dropped).
func ForwardedRoomKeyFromEvent(ev *OlmEvent) (*ForwardedRoomKey, error) {
	if err := fromOlm(ev, TypeForwardedRoomKey); err != nil {
		return nil, err
	}
	var c struct {
		Algorithm  *string           `json:"algorithm"`
		RoomID     *string           `json:"room_id"`
		SessionID  *key.Ed25519      `json:"session_id"`
		SessionKey *string           `json:"session_key"`
		SenderKey  *key.Curve25519   `json:"sender_key"`
		Claimed    *key.Ed25519      `json:"sender_claimed_ed25519_key"`
		Chain      *[]key.Curve25519 `json:"forwarding_curve25519_key_chain"`
		Withheld   *struct {
			Code   string `json:"code"`
			Reason string `json:"reason"`
		} `json:"withheld"`
	}
	if err := json.Unmarshal(ev.Content, &c); err != nil {
		return nil, malformed("m.forwarded_room_key: %v", err)
	}
	if c.Algorithm == nil || c.RoomID == nil || c.SessionID == nil || c.SessionKey == nil ||
		c.SenderKey == nil || c.Claimed == nil || c.Chain == nil {
		return nil, malformed("m.forwarded_room_key needs algorithm, room_id, session_id, session_key, sender_key, sender_claimed_ed25519_key and forwarding_curve25519_key_chain")
	}
	if *c.Algorithm != AlgorithmMegolm {
		return nil, fmt.Errorf("%w: m.forwarded_room_key for %q", ErrAlgorithm, *c.Algorithm)
	}
	// UnmarshalText also accepts the signed form (verified, then dropped).
	ek := new(megolm.ExportedSessionKey)
	if err := ek.UnmarshalText([]byte(*c.SessionKey)); err != nil {
		return nil, fmt.Errorf("%w: m.forwarded_room_key session_key: %w", ErrMalformed, err)
	}
	if ek.SessionID() != *c.SessionID {
		return nil, malformed("m.forwarded_room_key session_key is for session %s, not %s", ek.SessionID(), *c.SessionID)
	}
	k := &ForwardedRoomKey{RoomID: *c.RoomID, SessionID: *c.SessionID, SenderKey: *c.SenderKey,
		SenderClaimedEd25519: *c.Claimed, ForwardingChain: append(*c.Chain, ev.SenderKey),
		Forwarder: ev.Sender, ForwarderKey: ev.SenderKey, sessionKey: ek}
	if c.Withheld != nil {
		k.Withheld = &WithheldError{Code: c.Withheld.Code, Reason: c.Withheld.Reason}
	}
	return k, nil
}

// SessionKey returns the exported session key. It is secret.
func (k *ForwardedRoomKey) SessionKey() *megolm.ExportedSessionKey { return k.sessionKey }

// InboundSession returns a new unverified inbound session for the key.
func (k *ForwardedRoomKey) InboundSession() (*megolm.InboundSession, error) {
	return megolm.ImportInboundSession(k.sessionKey)
}

// Verified is always false: a forwarded key is never trusted as if its
// creator had sent it.
func (k *ForwardedRoomKey) Verified() bool { return false }

// Format prints the public fields only.
func (k ForwardedRoomKey) Format(f fmt.State, _ rune) {
	var index uint32
	if k.sessionKey != nil {
		index = k.sessionKey.Index()
	}
	fmt.Fprintf(f, "m.forwarded_room_key{room %s session %s claimed sender %s forwarded by %s %s index %d, unverified}",
		k.RoomID, k.SessionID, k.SenderKey, k.Forwarder, k.ForwarderKey, index)
}

// ForwardedRoomKeyContent is the content of an m.forwarded_room_key event
// to send over Olm, forwarding s from its first known index. chain is the
// forwarding chain we received the key with (empty if we got it directly).
// The result holds the session key and is secret.
func ForwardedRoomKeyContent(roomID string, s *megolm.InboundSession, senderKey key.Curve25519, claimed key.Ed25519, chain []key.Curve25519) (json.RawMessage, error) {
	if chain == nil {
		chain = []key.Curve25519{}
	}
	return signing.Marshal(map[string]any{
		"algorithm":                       AlgorithmMegolm,
		"room_id":                         roomID,
		"session_id":                      s.SessionID(),
		"session_key":                     s.ExportAtFirstKnownIndex().Base64(),
		"sender_key":                      senderKey,
		"sender_claimed_ed25519_key":      claimed,
		"forwarding_curve25519_key_chain": chain,
	})
}

func fromOlm(ev *OlmEvent, typ string) error {
	if ev == nil || !ev.fromOlm {
		return fmt.Errorf("%w: %s not from DecryptOlm", ErrNotOlmEncrypted, typ)
	}
	if ev.Type != typ {
		return fmt.Errorf("%w: event type %q, expected %s", ErrMalformed, ev.Type, typ)
	}
	return nil
}

// Key request actions.
const (
	ActionRequest      = "request"
	ActionCancellation = "request_cancellation"
)

// RoomKeyRequest is an m.room_key_request to-device event (sent
// unencrypted). Answer only requests from the user's own verified devices.
// Nothing in it is secret.
type RoomKeyRequest struct {
	Action             string            `json:"action"`
	RequestingDeviceID string            `json:"requesting_device_id"`
	RequestID          string            `json:"request_id"`
	Body               *RequestedKeyInfo `json:"body,omitempty"`
}

// RequestedKeyInfo names the session a key request is for. SenderKey is
// deprecated: include it only if the event had one, never rely on it.
type RequestedKeyInfo struct {
	Algorithm string          `json:"algorithm"`
	RoomID    string          `json:"room_id"`
	SessionID key.Ed25519     `json:"session_id"`
	SenderKey *key.Curve25519 `json:"sender_key,omitempty"`
}

// ParseRoomKeyRequest parses and checks an m.room_key_request content:
// action is request (with a body naming algorithm, room and session) or
// request_cancellation; requesting_device_id and request_id are present.
func ParseRoomKeyRequest(content []byte) (*RoomKeyRequest, error) {
	var c struct {
		Action    *string `json:"action"`
		Device    *string `json:"requesting_device_id"`
		RequestID *string `json:"request_id"`
		Body      *struct {
			Algorithm *string         `json:"algorithm"`
			RoomID    *string         `json:"room_id"`
			SessionID *key.Ed25519    `json:"session_id"`
			SenderKey *key.Curve25519 `json:"sender_key"`
		} `json:"body"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
		return nil, malformed("m.room_key_request: %v", err)
	}
	if c.Action == nil || c.Device == nil || c.RequestID == nil || *c.Device == "" || *c.RequestID == "" {
		return nil, malformed("m.room_key_request needs action, requesting_device_id and request_id")
	}
	r := &RoomKeyRequest{Action: *c.Action, RequestingDeviceID: *c.Device, RequestID: *c.RequestID}
	switch *c.Action {
	case ActionRequest:
		b := c.Body
		if b == nil || b.Algorithm == nil || b.RoomID == nil || b.SessionID == nil {
			return nil, malformed("m.room_key_request body needs algorithm, room_id and session_id")
		}
		r.Body = &RequestedKeyInfo{Algorithm: *b.Algorithm, RoomID: *b.RoomID, SessionID: *b.SessionID, SenderKey: b.SenderKey}
	case ActionCancellation:
	default:
		return nil, malformed("m.room_key_request action %q", *c.Action)
	}
	return r, nil
}

// Withheld codes (spec "m.room_key.withheld").
const (
	WithheldBlacklisted      = "m.blacklisted"
	WithheldUnverified       = "m.unverified"
	WithheldUnauthorised     = "m.unauthorised"
	WithheldUnavailable      = "m.unavailable"
	WithheldNoOlm            = "m.no_olm"
	WithheldHistoryNotShared = "m.history_not_shared"
)

var withheldCodes = map[string]bool{WithheldBlacklisted: true, WithheldUnverified: true,
	WithheldUnauthorised: true, WithheldUnavailable: true, WithheldNoOlm: true, WithheldHistoryNotShared: true}

// Withheld is an m.room_key.withheld event: a sender telling us it did
// not (or cannot) share a session with us. RoomID and SessionID are empty
// only for m.no_olm. Nothing in it is secret.
type Withheld struct {
	Algorithm string         `json:"algorithm"`
	SenderKey key.Curve25519 `json:"sender_key"`
	Code      string         `json:"code"`
	RoomID    string         `json:"room_id,omitempty"`
	SessionID *key.Ed25519   `json:"session_id,omitempty"`
	Reason    string         `json:"reason,omitempty"`
}

// ParseWithheld parses and checks an m.room_key.withheld content:
// algorithm, sender_key and code are required, and room_id and session_id
// too unless the code is m.no_olm. Codes the spec does not define are
// kept (KnownCode reports them) so a newer sender's reason still shows.
func ParseWithheld(content []byte) (*Withheld, error) {
	var c struct {
		Algorithm *string         `json:"algorithm"`
		SenderKey *key.Curve25519 `json:"sender_key"`
		Code      *string         `json:"code"`
		RoomID    *string         `json:"room_id"`
		SessionID *key.Ed25519    `json:"session_id"`
		Reason    string          `json:"reason"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
		return nil, malformed("m.room_key.withheld: %v", err)
	}
	if c.Algorithm == nil || c.SenderKey == nil || c.Code == nil || *c.Code == "" {
		return nil, malformed("m.room_key.withheld needs algorithm, sender_key and code")
	}
	w := &Withheld{Algorithm: *c.Algorithm, SenderKey: *c.SenderKey, Code: *c.Code, SessionID: c.SessionID, Reason: c.Reason}
	if c.RoomID != nil {
		w.RoomID = *c.RoomID
	}
	if w.Code != WithheldNoOlm && (c.RoomID == nil || c.SessionID == nil) {
		return nil, malformed("m.room_key.withheld with code %s needs room_id and session_id", w.Code)
	}
	return w, nil
}

// KnownCode reports whether the code is one the spec defines.
func (w *Withheld) KnownCode() bool { return withheldCodes[w.Code] }

// Err returns the error to show for events of the withheld session.
func (w *Withheld) Err() error { return &WithheldError{Code: w.Code, Reason: w.Reason} }

// Matches reports whether the notice is about the Megolm session
// (roomID, sessionID).
func (w *Withheld) Matches(roomID string, sessionID key.Ed25519) bool {
	return w.SessionID != nil && w.RoomID == roomID && *w.SessionID == sessionID
}

// IsDummy reports whether ev is an m.dummy event (sent to unwedge an Olm
// session; its content is {} and it carries nothing else). A dummy that
// decrypted already did its work: the session it came through is fresh.
func IsDummy(ev *OlmEvent) bool { return ev != nil && ev.fromOlm && ev.Type == TypeDummy }

// DummyContent returns the content of an m.dummy event: {}.
func DummyContent() json.RawMessage { return json.RawMessage(`{}`) }
