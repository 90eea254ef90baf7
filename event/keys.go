package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/internal/jsonstrict"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/signing"
)

// RoomKey is a received m.room_key event (spec "m.room_key",
// https://spec.matrix.org/v1.19/client-server-api/#mroom_key): a Megolm
// session shared with us directly by its creator. It exists only as the
// result of RoomKeyFromEvent on an Olm-decrypted event, and Info records
// who delivered it (provenance OverOlm): store Info with the session and
// pass it to DecryptMegolm for every event of the session.
//
// The session key is secret and unexported; fmt, log/slog and
// encoding/json see Info only. A RoomKey is immutable and safe for
// concurrent use.
type RoomKey struct {
	Info SessionInfo

	sessionKey *megolm.SessionKey
}

// RoomKeyContent is the content of an m.room_key event to send over Olm. It
// holds the session key: the result is secret.
func RoomKeyContent(roomID string, s *megolm.OutboundSession, sharedHistory bool) (json.RawMessage, error) {
	if roomID == "" {
		return nil, errors.New("event: room ID is required")
	}
	m := map[string]any{
		"algorithm":   algorithmMegolm,
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
// session_id. Info.Ed25519Checked carries ev.SenderEd25519Known.
//
// Errors: ErrNotOlmEncrypted (ev is not from DecryptOlm), ErrAlgorithm,
// ErrMalformed.
func RoomKeyFromEvent(ev *OlmEvent) (*RoomKey, error) {
	if err := fromOlm(ev, typeRoomKey); err != nil {
		return nil, err
	}
	var c struct {
		Algorithm     *string      `json:"algorithm"`
		RoomID        *string      `json:"room_id"`
		SessionID     *key.Ed25519 `json:"session_id"`
		SessionKey    *string      `json:"session_key"`
		SharedHistory bool         `json:"shared_history"`
	}
	if err := jsonstrict.Unmarshal(ev.content, &c); err != nil {
		return nil, malformed("m.room_key: %v", err)
	}
	if c.Algorithm == nil || c.RoomID == nil || c.SessionID == nil || c.SessionKey == nil {
		return nil, malformed("m.room_key needs algorithm, room_id, session_id and session_key")
	}
	if *c.Algorithm != algorithmMegolm {
		return nil, fmt.Errorf("%w: m.room_key for %q", ErrAlgorithm, *c.Algorithm)
	}
	sk := new(megolm.SessionKey)
	if err := sk.UnmarshalText([]byte(*c.SessionKey)); err != nil {
		return nil, fmt.Errorf("%w: m.room_key session_key: %w", ErrMalformed, err)
	}
	if sk.SessionID() != *c.SessionID {
		return nil, malformed("m.room_key session_key is for session %s, not %s", sk.SessionID(), *c.SessionID)
	}
	return &RoomKey{Info: SessionInfo{RoomID: *c.RoomID, SessionID: *c.SessionID, SharedHistory: c.SharedHistory,
		Sender: ev.Sender, SenderKey: ev.SenderKey, ClaimedEd25519: ev.SenderEd25519,
		Ed25519Checked: ev.SenderEd25519Known, Provenance: OverOlm}, sessionKey: sk}, nil
}

// InboundSession returns a new verified inbound session for the key. Store
// it under (Info.RoomID, Info.SessionID) with Info; if a copy is stored
// already, CompareRoomKey says whether to merge or keep them apart.
func (k *RoomKey) InboundSession() (*megolm.InboundSession, error) {
	return megolm.NewInboundSession(k.sessionKey)
}

// Format prints the public fields only.
func (k RoomKey) Format(f fmt.State, _ rune) {
	var index uint32
	if k.sessionKey != nil {
		index = k.sessionKey.Index()
	}
	fmt.Fprintf(f, "m.room_key{room %s session %s from %s %s index %d}", k.Info.RoomID, k.Info.SessionID, k.Info.Sender, k.Info.SenderKey, index)
}

// ForwardedRoomKey is a received m.forwarded_room_key event: a Megolm
// session another device forwarded, in the unsigned export format. Its
// session is always unverified: whoever forwarded it could have made it
// up, so a client accepts it only from its own verified devices in answer
// to its own request, and shows events it decrypts as unverified (Info's
// provenance is Forwarded).
//
// Session holds the session key, which is secret; megolm.ExportedSession
// redacts it in fmt, log/slog and encoding/json. Immutable and safe for
// concurrent use.
type ForwardedRoomKey struct {
	// Session is the forwarded session with the forwarder's claims about
	// its creator (sender_key, sender_claimed_ed25519_key, forwarding
	// chain).
	Session *megolm.ExportedSession
	// Info is what to store with the session: provenance Forwarded, the
	// claimed creator's keys, and the forwarding chain ending with the
	// forwarder's key. Its Sender is empty: a forward does not say which
	// user created the session.
	Info SessionInfo
	// The device that forwarded it to us, from the Olm event.
	Forwarder    string
	ForwarderKey key.Curve25519
	// Withheld, if not nil, is the notice the key's sender gave for not
	// sharing it with the forwarder's user, as the forwarder reports it
	// (OverOlm false: the creator's device did not send it to us).
	Withheld *Withheld
}

// ForwardedRoomKeyFromEvent validates an m.forwarded_room_key event from
// DecryptOlm. The session key may be in export format (version 1, as real
// clients send it) or, as the spec's examples show, in the signed sharing
// format (version 2, whose signature is checked and then dropped).
//
// Errors: ErrNotOlmEncrypted, ErrAlgorithm, ErrMalformed.
func ForwardedRoomKeyFromEvent(ev *OlmEvent) (*ForwardedRoomKey, error) {
	if err := fromOlm(ev, typeForwardedRoomKey); err != nil {
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
		Shared     bool              `json:"shared_history"`
		Withheld   *struct {
			Code   string `json:"code"`
			Reason string `json:"reason"`
		} `json:"withheld"`
	}
	if err := jsonstrict.Unmarshal(ev.content, &c); err != nil {
		return nil, malformed("m.forwarded_room_key: %v", err)
	}
	if c.Algorithm == nil || c.RoomID == nil || c.SessionID == nil || c.SessionKey == nil ||
		c.SenderKey == nil || c.Claimed == nil || c.Chain == nil {
		return nil, malformed("m.forwarded_room_key needs algorithm, room_id, session_id, session_key, sender_key, sender_claimed_ed25519_key and forwarding_curve25519_key_chain")
	}
	if *c.Algorithm != algorithmMegolm {
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
	chain := append(slices.Clip(*c.Chain), ev.SenderKey)
	es := megolm.NewExportedSession(ek, *c.RoomID, *c.SenderKey, *c.Claimed)
	es.SharedHistory = c.Shared
	for _, k := range *c.Chain {
		es.ForwardingCurve25519KeyChain = append(es.ForwardingCurve25519KeyChain, k.String())
	}
	k := &ForwardedRoomKey{Session: es, Forwarder: ev.Sender, ForwarderKey: ev.SenderKey,
		Info: SessionInfo{RoomID: *c.RoomID, SessionID: *c.SessionID, SenderKey: *c.SenderKey,
			ClaimedEd25519: *c.Claimed, Provenance: Forwarded, ForwardingChain: chain, SharedHistory: c.Shared}}
	if c.Withheld != nil {
		k.Withheld = &Withheld{Algorithm: algorithmMegolm, SenderKey: *c.SenderKey, Code: c.Withheld.Code,
			RoomID: *c.RoomID, SessionID: c.SessionID, Reason: c.Withheld.Reason}
	}
	return k, nil
}

// Format prints the public fields only.
func (k ForwardedRoomKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "m.forwarded_room_key{room %s session %s claimed sender %s forwarded by %s %s, unverified}",
		k.Info.RoomID, k.Info.SessionID, k.Info.SenderKey, k.Forwarder, k.ForwarderKey)
}

// ForwardedRoomKeyContent is the content of an m.forwarded_room_key event
// to send over Olm, forwarding e (build it with megolm.NewExportedSession
// from InboundSession.ExportAtFirstKnownIndex and the metadata stored with
// the session; its ForwardingCurve25519KeyChain is the chain we received
// the key with). The result holds the session key and is secret.
func ForwardedRoomKeyContent(e *megolm.ExportedSession) (json.RawMessage, error) {
	claimed, ok := e.ClaimedEd25519()
	if e.SessionKey() == nil || !ok || e.RoomID == "" {
		return nil, errors.New("event: a forwarded session needs a session key, a room ID and a claimed Ed25519 key")
	}
	chain := e.ForwardingCurve25519KeyChain
	if chain == nil {
		chain = []string{}
	}
	m := map[string]any{
		"algorithm":                       algorithmMegolm,
		"room_id":                         e.RoomID,
		"session_id":                      e.SessionID(),
		"session_key":                     e.SessionKey().Base64(),
		"sender_key":                      e.SenderKey,
		"sender_claimed_ed25519_key":      claimed,
		"forwarding_curve25519_key_chain": chain,
	}
	if e.SharedHistory {
		m["shared_history"] = true
	}
	return signing.Marshal(m)
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

// RoomKeyRequest is an m.room_key_request to-device event (sent
// unencrypted; spec "m.room_key_request",
// https://spec.matrix.org/v1.19/client-server-api/#mroom_key_request).
// Answer only requests from the user's own verified devices. For a
// request (Action "request") it names the session wanted; a cancellation
// ("request_cancellation") leaves those fields zero. SenderKey is
// deprecated: it is kept only if the event had one, never rely on it.
// Nothing in it is secret.
type RoomKeyRequest struct {
	Action             string
	RequestingDeviceID string
	RequestID          string
	Algorithm          string
	RoomID             string
	SessionID          key.Ed25519
	SenderKey          *key.Curve25519
}

// ParseRoomKeyRequest parses and checks an m.room_key_request content:
// action is request (with a body naming algorithm, room and session) or
// request_cancellation; requesting_device_id and request_id are present.
// Errors: ErrMalformed.
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
	if err := jsonstrict.Unmarshal(content, &c); err != nil {
		return nil, malformed("m.room_key_request: %v", err)
	}
	if c.Action == nil || c.Device == nil || c.RequestID == nil || *c.Device == "" || *c.RequestID == "" {
		return nil, malformed("m.room_key_request needs action, requesting_device_id and request_id")
	}
	r := &RoomKeyRequest{Action: *c.Action, RequestingDeviceID: *c.Device, RequestID: *c.RequestID}
	switch *c.Action {
	case "request":
		b := c.Body
		if b == nil || b.Algorithm == nil || b.RoomID == nil || b.SessionID == nil {
			return nil, malformed("m.room_key_request body needs algorithm, room_id and session_id")
		}
		r.Algorithm, r.RoomID, r.SessionID, r.SenderKey = *b.Algorithm, *b.RoomID, *b.SessionID, b.SenderKey
	case "request_cancellation":
	default:
		return nil, malformed("m.room_key_request action %q", *c.Action)
	}
	return r, nil
}

// Withheld is an m.room_key.withheld notice (spec "m.room_key.withheld",
// https://spec.matrix.org/v1.19/client-server-api/#mroom_keywithheld): a
// sender telling us it did not (or cannot) share a session with us. It
// is also the error to show for the session's events: it matches
// ErrWithheld. RoomID and SessionID are empty only for m.no_olm. Codes
// the spec does not define are kept, so a newer sender's reason still
// shows. Nothing in it is secret.
type Withheld struct {
	Algorithm string
	SenderKey key.Curve25519
	Code      string
	RoomID    string
	SessionID *key.Ed25519
	Reason    string
	// OverOlm tells whether the notice arrived Olm-encrypted from the
	// device with SenderKey (WithheldFromEvent). A notice sent in the
	// clear (ParseWithheld) is unauthenticated: anyone, the server
	// included, can send it in anyone's name, so show it as a hint only.
	OverOlm bool
}

// ParseWithheld parses and checks an m.room_key.withheld content that
// arrived unencrypted: algorithm, sender_key and code are required, and
// room_id and session_id too unless the code is m.no_olm. The result's
// OverOlm is false. Errors: ErrMalformed.
func ParseWithheld(content []byte) (*Withheld, error) {
	var c struct {
		Algorithm *string         `json:"algorithm"`
		SenderKey *key.Curve25519 `json:"sender_key"`
		Code      *string         `json:"code"`
		RoomID    *string         `json:"room_id"`
		SessionID *key.Ed25519    `json:"session_id"`
		Reason    string          `json:"reason"`
	}
	if err := jsonstrict.Unmarshal(content, &c); err != nil {
		return nil, malformed("m.room_key.withheld: %v", err)
	}
	if c.Algorithm == nil || c.SenderKey == nil || c.Code == nil || *c.Code == "" {
		return nil, malformed("m.room_key.withheld needs algorithm, sender_key and code")
	}
	w := &Withheld{Algorithm: *c.Algorithm, SenderKey: *c.SenderKey, Code: *c.Code, SessionID: c.SessionID, Reason: c.Reason}
	if c.RoomID != nil {
		w.RoomID = *c.RoomID
	}
	if w.Code != "m.no_olm" && (c.RoomID == nil || c.SessionID == nil) {
		return nil, malformed("m.room_key.withheld with code %s needs room_id and session_id", w.Code)
	}
	return w, nil
}

// WithheldFromEvent parses an m.room_key.withheld notice that arrived
// Olm-encrypted (ev from DecryptOlm): as ParseWithheld, and its
// sender_key must be the Olm sender's key (else a *ValidationError). The
// result's OverOlm is true. Errors: ErrNotOlmEncrypted, ErrMalformed,
// ErrValidation.
func WithheldFromEvent(ev *OlmEvent) (*Withheld, error) {
	if err := fromOlm(ev, typeRoomKeyWithheld); err != nil {
		return nil, err
	}
	w, err := ParseWithheld(ev.content)
	if err != nil {
		return nil, err
	}
	if w.SenderKey != ev.SenderKey {
		return nil, invalid("sender_key", w.SenderKey, ev.SenderKey)
	}
	w.OverOlm = true
	return w, nil
}

// Error gives the code and the sender's reason.
func (w *Withheld) Error() string {
	if w.Reason != "" {
		return "event: room key withheld by the sender: " + w.Code + " (" + w.Reason + ")"
	}
	return "event: room key withheld by the sender: " + w.Code
}

// Unwrap returns ErrWithheld.
func (w *Withheld) Unwrap() error { return ErrWithheld }
