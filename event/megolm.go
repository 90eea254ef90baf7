package event

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/signing"
)

// Event types of the encrypted envelope and of the key-sharing events.
const (
	typeRoomKey          = "m.room_key"
	typeForwardedRoomKey = "m.forwarded_room_key"
	typeRoomKeyRequest   = "m.room_key_request"
	typeRoomKeyWithheld  = "m.room_key.withheld"
	typeDummy            = "m.dummy"
)

// Algorithm names of the m.room.encrypted content.
const (
	algorithmOlm    = signing.AlgorithmOlm    // m.olm.v1.curve25519-aes-sha2
	algorithmMegolm = signing.AlgorithmMegolm // m.megolm.v1.aes-sha2
)

// olmOnlyTypes are the event types that carry keys or session control and
// are only ever valid inside an Olm-encrypted to-device event.
var olmOnlyTypes = map[string]bool{
	typeRoomKey: true, typeForwardedRoomKey: true, typeDummy: true,
	typeRoomKeyWithheld: true, typeRoomKeyRequest: true,
	"m.room_key_bundle": true, "m.secret.send": true, "m.secret.request": true,
}

// MegolmContent is the content of a Megolm m.room.encrypted room event
// (spec "m.megolm.v1.aes-sha2"). SenderKey and DeviceID are deprecated:
// they may be sent, but must never be used to find a session or to decide
// who sent the event. Nothing in it is secret.
type MegolmContent struct {
	Algorithm  string           `json:"algorithm"`
	Ciphertext string           `json:"ciphertext"`
	SessionID  key.Ed25519      `json:"session_id"`
	SenderKey  *key.Curve25519  `json:"sender_key,omitempty"`
	DeviceID   string           `json:"device_id,omitempty"`
	RelatesTo  *json.RawMessage `json:"m.relates_to,omitempty"`
}

// ParseMegolmContent parses and checks a Megolm m.room.encrypted content.
// Its session_id is how the caller finds the inbound session (with the
// room ID); sender_key and device_id must not be used for that. Errors:
// ErrMalformed, ErrAlgorithm.
func ParseMegolmContent(content []byte) (*MegolmContent, error) {
	// The algorithm first, so that Olm content (whose fields have other
	// types) reports ErrAlgorithm. Two strict passes cost fewer bytes on
	// a huge ciphertext than one pass that keeps it raw.
	if err := checkAlgorithm(content, algorithmMegolm); err != nil {
		return nil, err
	}
	var c struct {
		Ciphertext *string          `json:"ciphertext"`
		SessionID  *key.Ed25519     `json:"session_id"`
		SenderKey  *key.Curve25519  `json:"sender_key"`
		DeviceID   string           `json:"device_id"`
		RelatesTo  *json.RawMessage `json:"m.relates_to"`
	}
	if err := jsonstrict.Unmarshal(content, &c); err != nil {
		return nil, malformed("content: %v", err)
	}
	if c.Ciphertext == nil || c.SessionID == nil {
		return nil, malformed("Megolm content needs ciphertext and session_id")
	}
	return &MegolmContent{Algorithm: algorithmMegolm, Ciphertext: *c.Ciphertext, SessionID: *c.SessionID,
		SenderKey: c.SenderKey, DeviceID: c.DeviceID, RelatesTo: c.RelatesTo}, nil
}

// checkAlgorithm checks that content is a JSON object whose algorithm is
// want.
func checkAlgorithm(content []byte, want string) error {
	var probe struct {
		Algorithm *string `json:"algorithm"`
	}
	if err := jsonstrict.Unmarshal(content, &probe); err != nil {
		return malformed("content: %v", err)
	}
	if probe.Algorithm == nil {
		return malformed("content has no algorithm")
	}
	if *probe.Algorithm != want {
		return fmt.Errorf("%w: %q is not %s", ErrAlgorithm, *probe.Algorithm, want)
	}
	return nil
}

// MegolmEncryptParams describe a room event to encrypt with Megolm.
type MegolmEncryptParams struct {
	// RoomID, Type and Content are the event: the room it is sent to
	// (written into the payload, and checked by receivers), its type and
	// its content, a JSON object. Required.
	RoomID  string
	Type    string
	Content json.RawMessage
	// SenderKey and DeviceID, if set, are sent as the deprecated
	// sender_key and device_id (Matrix v1.3 deprecated them; older clients
	// still read them).
	SenderKey *key.Curve25519
	DeviceID  string
}

// EncryptMegolm encrypts a room event {type, content, room_id} with the
// outbound session and returns the m.room.encrypted content to send and
// the message index used. Key-sharing event types are refused: they are
// to-device events and travel only Olm-encrypted (ErrNotOlmEncrypted).
func EncryptMegolm(s *megolm.OutboundSession, p MegolmEncryptParams) ([]byte, uint32, error) {
	if p.RoomID == "" || p.Type == "" {
		return nil, 0, errors.New("event: room ID and event type are required")
	}
	if olmOnlyTypes[p.Type] {
		return nil, 0, fmt.Errorf("%w: %s is not a room event", ErrNotOlmEncrypted, p.Type)
	}
	if !isObject(p.Content) {
		return nil, 0, errors.New("event: content must be a JSON object")
	}
	payload, err := signing.Marshal(struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
		RoomID  string          `json:"room_id"`
	}{p.Type, p.Content, p.RoomID})
	if err != nil {
		return nil, 0, fmt.Errorf("event: content: %w", err)
	}
	index := s.MessageIndex()
	c := MegolmContent{
		Algorithm:  algorithmMegolm,
		Ciphertext: b64.Encode(s.Encrypt(nil, payload)),
		SessionID:  s.SessionID(),
		SenderKey:  p.SenderKey,
		DeviceID:   p.DeviceID,
	}
	out, err := signing.Marshal(c)
	if err != nil {
		// c holds only values this package built: marshalling cannot fail.
		panic("event: internal error: " + err.Error())
	}
	return out, index, nil
}

// MegolmDecryptParams describe where a Megolm event arrived and what we
// know about the session that decrypts it.
type MegolmDecryptParams struct {
	// RoomID is the room the event arrived in. The payload must name the
	// same room. Required unless InsecureSkipRoomCheck is set.
	RoomID string
	// Sender is the event's sender (a user ID), and Session what the
	// store recorded about the inbound session when it was received
	// (RoomKey.Info, ForwardedRoomKey.Info, or the provenance of a backup
	// or export). Both are required unless InsecureSkipSenderCheck is set:
	// a session binds its events to the user whose device shared it (spec
	// "m.room_key": https://spec.matrix.org/v1.19/client-server-api/#mroom_key).
	Sender  string
	Session SessionInfo
	// SenderDevice, if known, are the keys of the sending device (from a
	// verified /keys/query). When they belong to Sender, have the
	// session's SenderKey and its claimed Ed25519 key, the result says
	// SenderDeviceKnown; keys that contradict the session are an error.
	SenderDevice *signing.DeviceKeys
	// EventID and OriginServerTS identify the event for the replay
	// guard: both are required when Guard is set.
	EventID        string
	OriginServerTS int64
	// Guard, if not nil, refuses a second, different event at a message
	// index already decrypted, and records this one.
	Guard *ReplayGuard
	// InsecureSkipRoomCheck skips the room_id check, and
	// InsecureSkipSenderCheck the sender binding, for tools that inspect
	// an event outside its room or without a store. Clients must not set
	// them: an event decrypted so proves nothing about who sent it or
	// where.
	InsecureSkipRoomCheck   bool
	InsecureSkipSenderCheck bool
}

// RoomEvent is a decrypted Megolm room event. Its content is the event's
// plaintext (private to the room, not key material). It can never carry a
// room key: key-sharing types are refused by DecryptMegolm, and RoomKey
// and ForwardedRoomKey are only built from an OlmEvent.
type RoomEvent struct {
	Type         string
	Content      json.RawMessage
	RoomID       string
	SessionID    key.Ed25519
	MessageIndex uint32
	// What was checked about the sender. SenderChecked is false only with
	// InsecureSkipSenderCheck; then the fields below are the caller's
	// unchecked SessionInfo.
	SenderChecked bool
	// Sender is the event's sender, bound to the session: for OverOlm it
	// is the user whose device sent us the session over Olm.
	Sender string
	// Provenance is how the session reached us: only OverOlm means the
	// device with SenderKey shared it with us itself; Forwarded, Backup
	// and Export sessions are someone's claim.
	Provenance Provenance
	SenderKey  key.Curve25519
	// SenderDeviceKnown reports that MegolmDecryptParams.SenderDevice was
	// given and is the device of Sender with the session's SenderKey and
	// claimed Ed25519 key.
	SenderDeviceKnown bool
	// Payload is the whole decrypted JSON.
	Payload json.RawMessage
}

// Format prints where the event comes from, not its content.
func (ev RoomEvent) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "RoomEvent{%s in %s from %s session %s index %d provenance %d sender checked %v, content redacted}",
		ev.Type, ev.RoomID, ev.Sender, ev.SessionID, ev.MessageIndex, ev.Provenance, ev.SenderChecked)
}

// DecryptMegolm decrypts a Megolm m.room.encrypted content with the inbound
// session the caller found by (room ID, session_id), checks the event's
// sender against the session's (p.Session), the payload's room_id against
// the room, consults the replay guard, and refuses key-sharing event types
// (they must arrive Olm-encrypted). On any error the session and the
// guard are unchanged.
//
// The sender rule: p.Session must describe s (same session id and room; a
// session marked OverOlm must be a signed one), and when p.Session.Sender
// is known the event's sender must be it. A session with no known sender
// (Forwarded, Backup, Export) decrypts, and RoomEvent.Provenance says so.
//
// Errors: ErrMalformed, ErrAlgorithm, ErrNoSession (the session is not the
// event's), ErrUnknownIndex and ErrAuthentication (wrapping the megolm
// error), ErrNotOlmEncrypted, *ReplayError (ErrReplay), and
// *ValidationError (ErrValidation) for the sender, room and session rules.
func DecryptMegolm(s *megolm.InboundSession, content []byte, p MegolmDecryptParams) (*RoomEvent, error) {
	if p.RoomID == "" && !p.InsecureSkipRoomCheck {
		return nil, errors.New("event: MegolmDecryptParams.RoomID is required")
	}
	if p.Guard != nil && (p.EventID == "" || p.OriginServerTS == 0) {
		return nil, errors.New("event: MegolmDecryptParams.EventID and OriginServerTS are required with a Guard")
	}
	c, err := ParseMegolmContent(content)
	if err != nil {
		return nil, err
	}
	if c.SessionID != s.SessionID() {
		return nil, fmt.Errorf("%w: event is for Megolm session %s, not %s", ErrNoSession, c.SessionID, s.SessionID())
	}
	ev := &RoomEvent{SessionID: c.SessionID, Sender: p.Sender, Provenance: p.Session.Provenance, SenderKey: p.Session.SenderKey}
	if !p.InsecureSkipSenderCheck {
		if err := checkSender(s, &p, ev); err != nil {
			return nil, err
		}
	}
	if len(c.Ciphertext) > b64.EncodedLen(maxMegolmMessage)+2 {
		return nil, malformed("Megolm ciphertext of %d characters", len(c.Ciphertext))
	}
	msg, err := b64.Decode(c.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrMalformed, megolm.ErrMalformed, err)
	}
	// Decrypt on a copy: the room check and the replay guard come after
	// decryption, and a refused event must not move the session.
	work := s.Clone()
	plain, index, err := work.Decrypt(nil, msg)
	if err != nil {
		return nil, megolmError(err)
	}
	pl, err := parseMegolmPayload(plain)
	if err != nil {
		return nil, err
	}
	if !p.InsecureSkipRoomCheck && *pl.RoomID != p.RoomID {
		return nil, invalid("room_id", *pl.RoomID, p.RoomID)
	}
	if olmOnlyTypes[*pl.Type] {
		return nil, fmt.Errorf("%w: %s inside a Megolm event", ErrNotOlmEncrypted, *pl.Type)
	}
	if p.Guard != nil {
		if err := p.Guard.check(*pl.RoomID, c.SessionID, index, p.EventID, p.OriginServerTS); err != nil {
			return nil, err
		}
	}
	*s = *work
	ev.Type, ev.Content, ev.RoomID, ev.MessageIndex, ev.Payload = *pl.Type, json.RawMessage(pl.Content), *pl.RoomID, index, plain
	return ev, nil
}

// megolmPayload is the plaintext of a Megolm event.
type megolmPayload struct {
	Type    *string        `json:"type"`
	Content jsontext.Value `json:"content"`
	RoomID  *string        `json:"room_id"`
}

// parseMegolmPayload reads a Megolm plaintext strictly and checks that it
// has a type, an object content and a room_id.
func parseMegolmPayload(plain []byte) (*megolmPayload, error) {
	var pl megolmPayload
	if err := jsonstrict.Unmarshal(plain, &pl); err != nil {
		return nil, malformed("Megolm payload: %v", err)
	}
	if pl.Type == nil || pl.RoomID == nil || !isObject(pl.Content) {
		return nil, malformed("Megolm payload needs type, content (object) and room_id")
	}
	return &pl, nil
}

// checkSender applies the sender rule of DecryptMegolm and fills in what
// it established.
func checkSender(s *megolm.InboundSession, p *MegolmDecryptParams, ev *RoomEvent) error {
	info := &p.Session
	if p.Sender == "" {
		return errors.New("event: MegolmDecryptParams.Sender is required")
	}
	if info.Provenance == 0 {
		return errors.New("event: MegolmDecryptParams.Session is required (the SessionInfo stored with the session)")
	}
	if err := checkInfo(info, s); err != nil {
		return err
	}
	if !p.InsecureSkipRoomCheck && info.RoomID != p.RoomID {
		return invalid("session", info.RoomID, p.RoomID)
	}
	if info.Sender != "" && info.Sender != p.Sender {
		return invalid("sender", p.Sender, info.Sender)
	}
	if d := p.SenderDevice; d != nil {
		switch {
		case d.UserID != p.Sender:
			return invalid("sender_device", d.UserID, p.Sender)
		case d.Curve25519 != info.SenderKey:
			return invalid("sender_device", d.Curve25519, info.SenderKey)
		case d.Ed25519 != info.ClaimedEd25519:
			return invalid("sender_device", d.Ed25519, info.ClaimedEd25519)
		}
		ev.SenderDeviceKnown = true
	}
	ev.SenderChecked = true
	return nil
}

func megolmError(err error) error {
	switch {
	case errors.Is(err, megolm.ErrSessionConfigV2):
		// The sender's app uses vodozemac's session config v2: an
		// unsupported variant, not a malformed or forged message.
		return fmt.Errorf("%w: %w", ErrAlgorithm, err)
	case errors.Is(err, megolm.ErrUnknownIndex):
		return fmt.Errorf("%w: %w", ErrUnknownIndex, err)
	case errors.Is(err, megolm.ErrAuthentication):
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	default:
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
}

func isObject(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// ReplayGuard remembers, for each Megolm message index decrypted, the
// event that used it: (room ID, session ID, index) → (event ID, origin
// server timestamp). A second event at the same index with a different
// event ID or timestamp is a replay (spec "m.megolm.v1.aes-sha2",
// https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2: a
// client must guard against replays; matrix-js-sdk and mautrix-go do it
// this way); decrypting the same event again is fine. DecryptMegolm needs
// the event's ID and origin_server_ts to use a guard. The zero
// ReplayGuard is ready to use; it is safe for concurrent use. It grows by
// one entry per decrypted event: persist it (MarshalJSON, UnmarshalJSON)
// alongside the sessions, and Forget a session when it is deleted.
type ReplayGuard struct {
	mu   sync.Mutex
	seen map[replayKey]replayEntry
}

type replayKey struct {
	roomID    string
	sessionID key.Ed25519
	index     uint32
}

type replayEntry struct {
	eventID string
	ts      int64
}

// check records that the event (eventID, ts) used index of the session,
// or returns a *ReplayError if another event used it before. DecryptMegolm
// makes sure eventID is not empty.
func (g *ReplayGuard) check(roomID string, sessionID key.Ed25519, index uint32, eventID string, ts int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := replayKey{roomID, sessionID, index}
	if prev, ok := g.seen[k]; ok {
		if prev.eventID == eventID && prev.ts == ts {
			return nil
		}
		return fmt.Errorf("%w: Megolm session %s index %d was used by event %s (ts %d), now by %s (ts %d)",
			ErrReplay, sessionID, index, prev.eventID, prev.ts, eventID, ts)
	}
	if g.seen == nil {
		g.seen = map[replayKey]replayEntry{}
	}
	g.seen[k] = replayEntry{eventID, ts}
	return nil
}

// Forget drops what the guard remembers of a session (when the session is
// deleted).
func (g *ReplayGuard) Forget(roomID string, sessionID key.Ed25519) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.seen {
		if k.roomID == roomID && k.sessionID == sessionID {
			delete(g.seen, k)
		}
	}
}

// replayEntryJSON is one remembered index in the guard's JSON form.
type replayEntryJSON struct {
	RoomID         string      `json:"room_id"`
	SessionID      key.Ed25519 `json:"session_id"`
	Index          uint32      `json:"index"`
	EventID        string      `json:"event_id"`
	OriginServerTS int64       `json:"origin_server_ts"`
}

// MarshalJSON writes everything the guard remembers, as a JSON array of
// {room_id, session_id, index, event_id, origin_server_ts}, for a store
// to persist next to the sessions.
func (g *ReplayGuard) MarshalJSON() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]replayEntryJSON, 0, len(g.seen))
	for k, v := range g.seen {
		out = append(out, replayEntryJSON{k.roomID, k.sessionID, k.index, v.eventID, v.ts})
	}
	slices.SortFunc(out, func(a, b replayEntryJSON) int {
		return cmp.Or(cmp.Compare(a.RoomID, b.RoomID), cmp.Compare(a.SessionID.String(), b.SessionID.String()), cmp.Compare(a.Index, b.Index))
	})
	return json.Marshal(out)
}

// UnmarshalJSON adds the entries of a MarshalJSON form to the guard. An
// entry conflicting with one already remembered keeps the first; an entry
// without an event ID is refused.
func (g *ReplayGuard) UnmarshalJSON(b []byte) error {
	var entries []replayEntryJSON
	if err := jsonstrict.Unmarshal(b, &entries); err != nil {
		return malformed("replay guard: %v", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range entries {
		if e.EventID == "" {
			return malformed("replay guard entry without event_id")
		}
	}
	if g.seen == nil {
		g.seen = make(map[replayKey]replayEntry, len(entries))
	}
	for _, e := range entries {
		k := replayKey{e.RoomID, e.SessionID, e.Index}
		if _, ok := g.seen[k]; !ok {
			g.seen[k] = replayEntry{e.EventID, e.OriginServerTS}
		}
	}
	return nil
}

// maxMegolmMessage bounds the decoded Megolm message, as megolm.ParseMessage
// does (1 MiB, far above Matrix's 64 KiB event limit), so that hostile
// base64 is refused before it is decoded.
const maxMegolmMessage = 1 << 20
