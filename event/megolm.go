package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sicher-go/sicher/internal/b64"
	"sync"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/signing"
)

// Event types of the encrypted envelope and of the key-sharing events.
const (
	TypeEncrypted        = "m.room.encrypted"
	TypeRoomKey          = "m.room_key"
	TypeForwardedRoomKey = "m.forwarded_room_key"
	TypeRoomKeyRequest   = "m.room_key_request"
	TypeRoomKeyWithheld  = "m.room_key.withheld"
	TypeDummy            = "m.dummy"
)

// Algorithm names of the m.room.encrypted content.
const (
	AlgorithmOlm    = signing.AlgorithmOlm    // m.olm.v1.curve25519-aes-sha2
	AlgorithmMegolm = signing.AlgorithmMegolm // m.megolm.v1.aes-sha2
)

// olmOnlyTypes are the event types that carry keys or session control and
// are only ever valid inside an Olm-encrypted to-device event.
var olmOnlyTypes = map[string]bool{
	TypeRoomKey: true, TypeForwardedRoomKey: true, TypeDummy: true,
	TypeRoomKeyWithheld: true, TypeRoomKeyRequest: true,
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
func ParseMegolmContent(content []byte) (*MegolmContent, error) {
	// One pass with raw fields, so a content of another algorithm (whose
	// fields have other types) reports the algorithm, not a type error.
	var raw struct {
		Algorithm  *string          `json:"algorithm"`
		Ciphertext json.RawMessage  `json:"ciphertext"`
		SessionID  json.RawMessage  `json:"session_id"`
		SenderKey  json.RawMessage  `json:"sender_key"`
		DeviceID   json.RawMessage  `json:"device_id"`
		RelatesTo  *json.RawMessage `json:"m.relates_to"`
	}
	if err := json.Unmarshal(content, &raw); err != nil {
		return nil, malformed("content: %v", err)
	}
	if raw.Algorithm == nil {
		return nil, malformed("content has no algorithm")
	}
	if *raw.Algorithm != AlgorithmMegolm {
		return nil, fmt.Errorf("%w: %q is not %s", ErrAlgorithm, *raw.Algorithm, AlgorithmMegolm)
	}
	c := MegolmContent{Algorithm: *raw.Algorithm, RelatesTo: raw.RelatesTo}
	if raw.Ciphertext == nil || raw.SessionID == nil {
		return nil, malformed("Megolm content needs ciphertext and session_id")
	}
	if err := json.Unmarshal(raw.Ciphertext, &c.Ciphertext); err != nil {
		return nil, malformed("ciphertext: %v", err)
	}
	if err := json.Unmarshal(raw.SessionID, &c.SessionID); err != nil {
		return nil, malformed("session_id: %v", err)
	}
	if raw.SenderKey != nil && string(raw.SenderKey) != "null" {
		c.SenderKey = new(key.Curve25519)
		if err := json.Unmarshal(raw.SenderKey, c.SenderKey); err != nil {
			return nil, malformed("sender_key: %v", err)
		}
	}
	if raw.DeviceID != nil {
		if err := json.Unmarshal(raw.DeviceID, &c.DeviceID); err != nil {
			return nil, malformed("device_id: %v", err)
		}
	}
	return &c, nil
}

// checkAlgorithm checks that content is a JSON object whose algorithm is
// want.
func checkAlgorithm(content []byte, want string) error {
	var probe struct {
		Algorithm *string `json:"algorithm"`
	}
	if err := json.Unmarshal(content, &probe); err != nil {
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

// MegolmEncryptOptions are the optional, deprecated fields of an outgoing
// Megolm event. Matrix v1.3 deprecated them; older clients still read them.
type MegolmEncryptOptions struct {
	SenderKey *key.Curve25519 // our device's Curve25519 identity key
	DeviceID  string          // our device ID
}

// EncryptMegolm encrypts a room event {type, content, room_id} with the
// outbound session and returns the m.room.encrypted content to send and
// the message index used. Key-sharing event types are refused: they are
// to-device events and travel only Olm-encrypted.
func EncryptMegolm(s *megolm.OutboundSession, roomID, eventType string, content json.RawMessage, opts *MegolmEncryptOptions) ([]byte, uint32, error) {
	if roomID == "" || eventType == "" {
		return nil, 0, errors.New("event: room ID and event type are required")
	}
	if olmOnlyTypes[eventType] {
		return nil, 0, fmt.Errorf("%w: %s is not a room event", ErrNotOlmEncrypted, eventType)
	}
	payload, err := signing.Marshal(struct {
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
		RoomID  string          `json:"room_id"`
	}{eventType, content, roomID})
	if err != nil {
		return nil, 0, fmt.Errorf("event: content: %w", err)
	}
	if !isObject(content) {
		return nil, 0, errors.New("event: content must be a JSON object")
	}
	index := s.MessageIndex()
	c := MegolmContent{
		Algorithm:  AlgorithmMegolm,
		Ciphertext: b64.Encode(s.Encrypt(nil, payload)),
		SessionID:  s.SessionID(),
	}
	if opts != nil {
		c.SenderKey, c.DeviceID = opts.SenderKey, opts.DeviceID
	}
	out, err := signing.Marshal(c)
	if err != nil {
		// c holds only values this package built: marshalling cannot fail.
		panic("event: internal error: " + err.Error())
	}
	return out, index, nil
}

// MegolmDecryptParams describe where a Megolm event arrived.
type MegolmDecryptParams struct {
	// RoomID is the room the event arrived in. The payload must name the
	// same room. Required unless AnyRoom is set.
	RoomID string
	// AnyRoom skips the room check, for tools that inspect an event
	// outside its room. Clients must not set it.
	AnyRoom bool
	// EventID and OriginServerTS identify the event for the replay
	// guard.
	EventID        string
	OriginServerTS int64
	// Guard, if not nil, refuses a second, different event at a message
	// index already decrypted, and records this one.
	Guard *ReplayGuard
	// Sender is the event's sender and SessionSender the user who shared
	// the session with us (RoomKey.Sender, stored with the session). When
	// both are set they must be equal: a session binds its events to the
	// user whose Olm session delivered it (spec "Receiver rules").
	Sender, SessionSender string
}

// RoomEvent is a decrypted Megolm room event. Its Content is the event's
// plaintext content (private to the room, not key material). It can never
// carry a room key: key-sharing types are refused by DecryptMegolm, and
// RoomKey and ForwardedRoomKey are only built from an OlmEvent.
type RoomEvent struct {
	Type         string
	Content      json.RawMessage
	RoomID       string
	SessionID    key.Ed25519
	MessageIndex uint32
	// Verified is the session's provenance: true if it came from a signed
	// session key (an m.room_key received over Olm), false for a session
	// imported from a forward, a backup or an export.
	Verified bool
	// Payload is the whole decrypted JSON.
	Payload json.RawMessage
}

// Format prints where the event comes from, not its content.
func (ev RoomEvent) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "RoomEvent{%s in %s session %s index %d verified %v, content redacted}",
		ev.Type, ev.RoomID, ev.SessionID, ev.MessageIndex, ev.Verified)
}

// DecryptMegolm decrypts a Megolm m.room.encrypted content with the inbound
// session the caller found by (room ID, session_id), checks the payload's
// room_id, consults the replay guard, and refuses key-sharing event types
// (they must arrive Olm-encrypted). On any error the session and the
// guard are unchanged.
//
// Errors: ErrMalformed, ErrAlgorithm, ErrNoSession (the session is not the
// event's), ErrUnknownIndex, ErrAuthentication, ErrWrongRoom,
// ErrNotOlmEncrypted, *ReplayError; each wraps the megolm error if any.
func DecryptMegolm(s *megolm.InboundSession, content []byte, p MegolmDecryptParams) (*RoomEvent, error) {
	if p.RoomID == "" && !p.AnyRoom {
		return nil, errors.New("event: MegolmDecryptParams.RoomID is required")
	}
	c, err := ParseMegolmContent(content)
	if err != nil {
		return nil, err
	}
	if c.SessionID != s.SessionID() {
		return nil, fmt.Errorf("%w: event is for Megolm session %s, not %s", ErrNoSession, c.SessionID, s.SessionID())
	}
	if p.Sender != "" && p.SessionSender != "" && p.Sender != p.SessionSender {
		return nil, fmt.Errorf("%w: event from %s in a session %s shared", ErrWrongSender, p.Sender, p.SessionSender)
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
	var pl struct {
		Type    *string         `json:"type"`
		Content json.RawMessage `json:"content"`
		RoomID  *string         `json:"room_id"`
	}
	if err := json.Unmarshal(plain, &pl); err != nil {
		return nil, malformed("Megolm payload: %v", err)
	}
	if pl.Type == nil || pl.RoomID == nil || !isObject(pl.Content) {
		return nil, malformed("Megolm payload needs type, content (object) and room_id")
	}
	if !p.AnyRoom && *pl.RoomID != p.RoomID {
		return nil, fmt.Errorf("%w: payload says %q, event arrived in %q", ErrWrongRoom, *pl.RoomID, p.RoomID)
	}
	if olmOnlyTypes[*pl.Type] {
		return nil, fmt.Errorf("%w: %s inside a Megolm event", ErrNotOlmEncrypted, *pl.Type)
	}
	if p.Guard != nil {
		if err := p.Guard.Check(*pl.RoomID, c.SessionID, index, p.EventID, p.OriginServerTS); err != nil {
			return nil, err
		}
	}
	*s = *work
	return &RoomEvent{
		Type: *pl.Type, Content: pl.Content, RoomID: *pl.RoomID,
		SessionID: c.SessionID, MessageIndex: index, Verified: s.IsVerified(), Payload: plain,
	}, nil
}

func megolmError(err error) error {
	switch {
	case errors.Is(err, megolm.ErrUnknownIndex):
		return fmt.Errorf("%w: %w", ErrUnknownIndex, err)
	case errors.Is(err, megolm.ErrAuthentication):
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	default:
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
}

func isObject(raw json.RawMessage) bool {
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
// event ID or timestamp is a replay (spec "Receiver rules"; the practice
// of matrix-js-sdk and mautrix-go); decrypting the same event again is
// fine. The zero ReplayGuard is ready to use; it is safe for concurrent
// use. It grows by one entry per decrypted event: persist it
// (Entries/Restore) alongside the sessions and Forget a session when it is
// deleted.
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

// Check records that the event (eventID, ts) used index of the session,
// or returns a *ReplayError if another event used it before. An event
// without an ID is refused at an index already used, and not recorded.
func (g *ReplayGuard) Check(roomID string, sessionID key.Ed25519, index uint32, eventID string, ts int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := replayKey{roomID, sessionID, index}
	if prev, ok := g.seen[k]; ok {
		if prev.eventID == eventID && prev.ts == ts && eventID != "" {
			return nil
		}
		return &ReplayError{SessionID: sessionID.String(), Index: index,
			FirstEventID: prev.eventID, FirstTS: prev.ts, EventID: eventID, TS: ts}
	}
	if eventID == "" {
		return nil
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

// Len returns the number of indices remembered.
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// ReplayEntry is one remembered index, for persisting a ReplayGuard.
type ReplayEntry struct {
	RoomID         string      `json:"room_id"`
	SessionID      key.Ed25519 `json:"session_id"`
	Index          uint32      `json:"index"`
	EventID        string      `json:"event_id"`
	OriginServerTS int64       `json:"origin_server_ts"`
}

// Entries returns everything the guard remembers, in no particular order.
func (g *ReplayGuard) Entries() []ReplayEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]ReplayEntry, 0, len(g.seen))
	for k, v := range g.seen {
		out = append(out, ReplayEntry{k.roomID, k.sessionID, k.index, v.eventID, v.ts})
	}
	return out
}

// Restore adds entries (from Entries) to the guard. An entry conflicting
// with one already remembered keeps the first.
func (g *ReplayGuard) Restore(entries []ReplayEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = make(map[replayKey]replayEntry, len(entries))
	}
	for _, e := range entries {
		k := replayKey{e.RoomID, e.SessionID, e.Index}
		if _, ok := g.seen[k]; !ok && e.EventID != "" {
			g.seen[k] = replayEntry{e.EventID, e.OriginServerTS}
		}
	}
}

// maxMegolmMessage bounds the decoded Megolm message, as megolm.ParseMessage
// does (1 MiB, far above Matrix's 64 KiB event limit), so that hostile
// base64 is refused before it is decoded.
const maxMegolmMessage = 1 << 20
