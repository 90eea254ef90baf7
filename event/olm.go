package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// OlmContent is the content of an Olm m.room.encrypted to-device event
// (spec "m.olm.v1.curve25519-aes-sha2"): the sender's Curve25519 identity
// key and one Olm message per recipient device, keyed by the recipient's
// Curve25519 identity key. Nothing in it is secret.
type OlmContent struct {
	Algorithm  string                          `json:"algorithm"`
	SenderKey  key.Curve25519                  `json:"sender_key"`
	Ciphertext map[string]olm.EncryptedMessage `json:"ciphertext"`
}

// ParseOlmContent parses and checks an Olm m.room.encrypted content: the
// algorithm, a well-formed sender_key, and ciphertext entries whose
// types are 0 or 1 and whose bodies are base64. Its sender_key is how
// the caller finds the sessions to pass to DecryptOlm. Errors:
// ErrMalformed, ErrAlgorithm.
func ParseOlmContent(content []byte) (*OlmContent, error) {
	if err := checkAlgorithm(content, algorithmOlm); err != nil {
		return nil, err
	}
	var c struct {
		SenderKey  *key.Curve25519            `json:"sender_key"`
		Ciphertext map[string]*jsontext.Value `json:"ciphertext"`
	}
	if err := jsonstrict.Unmarshal(content, &c); err != nil {
		return nil, malformed("content: %v", err)
	}
	if c.SenderKey == nil || c.Ciphertext == nil {
		return nil, malformed("Olm content needs sender_key and ciphertext")
	}
	oc := &OlmContent{Algorithm: algorithmOlm, SenderKey: *c.SenderKey, Ciphertext: make(map[string]olm.EncryptedMessage, len(c.Ciphertext))}
	for k, v := range c.Ciphertext {
		m, err := parseEncryptedMessage(v)
		if err != nil {
			return nil, err
		}
		oc.Ciphertext[k] = m
	}
	return oc, nil
}

// parseEncryptedMessage reads one entry of an Olm ciphertext map,
// {"type": 0 or 1, "body": base64}, with exact member names.
func parseEncryptedMessage(v *jsontext.Value) (olm.EncryptedMessage, error) {
	var e struct {
		Type *int    `json:"type"`
		Body *string `json:"body"`
	}
	if v == nil {
		return olm.EncryptedMessage{}, malformed("ciphertext entry is null")
	}
	if err := jsonstrict.Unmarshal(*v, &e); err != nil || e.Type == nil || e.Body == nil {
		return olm.EncryptedMessage{}, malformed("ciphertext entry needs type and body")
	}
	var m olm.EncryptedMessage
	if err := m.UnmarshalJSON(*v); err != nil {
		return olm.EncryptedMessage{}, fmt.Errorf("%w: ciphertext entry: %w", ErrMalformed, err)
	}
	return m, nil
}

// OlmEncryptParams describe an Olm to-device event to encrypt.
type OlmEncryptParams struct {
	Sender    string // our user ID
	Recipient string // the recipient's user ID
	// The recipient device's identity keys, from its verified device keys.
	RecipientEd25519    key.Ed25519
	RecipientCurve25519 key.Curve25519
	// Type and Content are the event to send; Content must be a JSON object.
	Type    string
	Content json.RawMessage
	// SenderDeviceKeys, if set, is sent as sender_device_keys (MSC4147,
	// spec v1.15) so the recipient can check our device keys without a
	// /keys/query. They must be our account's.
	SenderDeviceKeys *signing.DeviceKeys
	// Extra adds further members to the payload; it may not replace the
	// members above.
	Extra map[string]json.RawMessage
}

// EncryptOlm encrypts an event for one recipient device with an Olm session
// to it, returning the m.room.encrypted content to send and the plaintext
// payload (spec "Olm plaintext": type, content, sender, recipient,
// recipient_keys.ed25519, keys.ed25519, and sender_device_keys when
// given). The payload is secret when the content is. On error the session
// is unchanged. A new ratchet step reads crypto/rand.
func EncryptOlm(acct *olm.Account, s *olm.Session, p OlmEncryptParams) (content, payload []byte, err error) {
	return EncryptOlmFrom(nil, acct, s, p)
}

// EncryptOlmFrom is EncryptOlm with the randomness of a new ratchet step
// read from rand (crypto/rand if nil), for transcripts that must replay.
func EncryptOlmFrom(rand io.Reader, acct *olm.Account, s *olm.Session, p OlmEncryptParams) (content, payload []byte, err error) {
	if p.Sender == "" || p.Recipient == "" || p.Type == "" {
		return nil, nil, errors.New("event: sender, recipient and type are required")
	}
	if !isObject(p.Content) {
		return nil, nil, errors.New("event: content must be a JSON object")
	}
	ids := struct {
		Curve25519 key.Curve25519
		Ed25519    key.Ed25519
	}{acct.Curve25519(), acct.Ed25519()}
	m := map[string]any{
		"type":           p.Type,
		"content":        p.Content,
		"sender":         p.Sender,
		"recipient":      p.Recipient,
		"recipient_keys": map[string]key.Ed25519{"ed25519": p.RecipientEd25519},
		"keys":           map[string]key.Ed25519{"ed25519": ids.Ed25519},
	}
	if d := p.SenderDeviceKeys; d != nil {
		if d.UserID != p.Sender || d.Ed25519 != ids.Ed25519 || d.Curve25519 != ids.Curve25519 {
			return nil, nil, errors.New("event: SenderDeviceKeys are not this account's")
		}
		m["sender_device_keys"] = d
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; taken {
			return nil, nil, fmt.Errorf("event: extra payload member %q would replace a required one", k)
		}
		m[k] = v
	}
	payload, err = signing.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("event: payload: %w", err)
	}
	msg, err := s.EncryptFrom(rand, nil, payload)
	if err != nil {
		return nil, nil, fmt.Errorf("event: %w", err)
	}
	content, err = signing.Marshal(OlmContent{
		Algorithm:  algorithmOlm,
		SenderKey:  ids.Curve25519,
		Ciphertext: map[string]olm.EncryptedMessage{p.RecipientCurve25519.String(): msg},
	})
	if err != nil {
		// The content holds only values this package built: marshalling
		// cannot fail.
		panic("event: internal error: " + err.Error())
	}
	return content, payload, nil
}

// maxOlmCandidates is the number of existing sessions DecryptOlm tries
// on a normal (type 1) Olm message. Each try costs a MAC computation and,
// for a message on a new chain, a Curve25519 exchange, and a forged
// message fails every one of them: without a bound, a sender could make
// us do work linear in the number of sessions stored with its key. A
// device normally uses one session per peer; a few more appear when both
// sides start a session at once or after a restore. The sessions are
// tried most recently used first, so the live ones are among the first
// five.
const maxOlmCandidates = 5

// decryptOlmSession decrypts m with s; tests count the calls.
var decryptOlmSession = func(s *olm.Session, m olm.EncryptedMessage) ([]byte, error) {
	return s.Decrypt(nil, m)
}

// OlmDecryptParams describe a received Olm to-device event.
type OlmDecryptParams struct {
	// Sender is the to-device event's sender (a user ID). Required.
	Sender string
	// OwnUserID is our user ID. Required.
	OwnUserID string
	// Sessions are all our Olm sessions with the device whose Curve25519
	// key is the content's sender_key, most recently used first. The one
	// that decrypts is updated in place; the others are untouched.
	//
	// A normal message is tried with the first five only (see DecryptOlm).
	// A pre-key message is matched against all of them (a comparison of
	// keys, no cryptography): the list must be complete, because a
	// replayed pre-key message to our fallback key (which use does not
	// remove) would otherwise start a second copy of a session we have
	// and deliver its payload twice. A session must know its peer: one
	// loaded from a libolm pickle needs olm.Session.BindPeer first, or
	// the envelope's sender_key cannot be checked and the event is
	// refused.
	Sessions []*olm.Session
	// SessionsComplete states that Sessions lists every session with the
	// sender key. It is required to accept a pre-key message that starts
	// a session from our fallback key: such a message can be replayed at
	// will (use does not remove a fallback key), and only the complete
	// list shows that its session exists already.
	SessionsComplete bool
	// SenderDevice, if known, are the sending device's keys (from a
	// /keys/query whose self-signature was verified). The payload's
	// keys.ed25519 must then be its Ed25519 key, and the envelope's
	// sender_key its Curve25519 key.
	SenderDevice *signing.DeviceKeys
	// SenderEd25519, used when SenderDevice is nil, is the sending
	// device's known Ed25519 key.
	SenderEd25519 *key.Ed25519
}

// OlmEvent is a decrypted and validated Olm to-device event. It is built
// only by DecryptOlm: that is what lets RoomKeyFromEvent and
// ForwardedRoomKeyFromEvent trust that a key arrived Olm-encrypted.
//
// Its content is secret when the event carries keys (m.room_key and
// friends): it is held unexported, leaves only through SecretContent and
// SecretPayload, and fmt, log/slog and encoding/json show the public
// fields only.
type OlmEvent struct {
	Type   string
	Sender string
	// SenderKey is the authenticated Curve25519 identity key of the device
	// that sent the event: the Olm session's peer.
	SenderKey key.Curve25519
	// SenderEd25519 is the payload's keys.ed25519: the Ed25519 key the
	// sending device claims. SenderEd25519Known tells whether it was
	// checked against device keys the caller supplied.
	SenderEd25519      key.Ed25519
	SenderEd25519Known bool
	// SenderDeviceKeys are the payload's sender_device_keys, if any, after
	// the checks of spec validation item 5 (self-signed, consistent with
	// the session and the payload). Verify their cross-signing with
	// signing.VerifyDevice before trusting the device.
	SenderDeviceKeys *signing.DeviceKeys
	// Session is the session that decrypted the event: one of
	// OlmDecryptParams.Sessions, or a new inbound session (NewSession),
	// which the caller must store; its one-time key has been removed from
	// the account.
	Session    *olm.Session `json:"-"`
	NewSession bool

	content, payload []byte
	fromOlm          bool
}

// SecretContent returns the event's content (a JSON object). It is secret
// for key-sharing events. The caller must not modify it.
func (ev *OlmEvent) SecretContent() json.RawMessage { return ev.content }

// SecretPayload returns the whole decrypted JSON payload. It is secret for
// key-sharing events. The caller must not modify it.
func (ev *OlmEvent) SecretPayload() json.RawMessage { return ev.payload }

// Format prints the event's type, sender and keys, never its content or
// payload (which hold session keys for key-sharing events).
func (ev OlmEvent) Format(f fmt.State, _ rune) {
	id := ""
	if ev.Session != nil {
		id = ev.Session.ID()
	}
	fmt.Fprintf(f, "OlmEvent{%s from %s %s (ed25519 %s, known %v) session %s new %v, content redacted}",
		ev.Type, ev.Sender, ev.SenderKey, ev.SenderEd25519, ev.SenderEd25519Known, id, ev.NewSession)
}

// olmPayload is the plaintext of an Olm event, as parsed for validation.
type olmPayload struct {
	Type          *string        `json:"type"`
	Content       jsontext.Value `json:"content"`
	Sender        *string        `json:"sender"`
	Recipient     *string        `json:"recipient"`
	RecipientKeys *struct {
		Ed25519 *key.Ed25519 `json:"ed25519"`
	} `json:"recipient_keys"`
	Keys *struct {
		Ed25519 *key.Ed25519 `json:"ed25519"`
	} `json:"keys"`
	SenderDeviceKeys jsontext.Value `json:"sender_device_keys"`
	Unstable         jsontext.Value `json:"org.matrix.msc4147.device_keys"`
}

// DecryptOlm decrypts an Olm m.room.encrypted to-device content addressed
// to acct, and applies every validation rule of the spec ("Validation of
// incoming decrypted events" under "m.olm.v1.curve25519-aes-sha2",
// https://spec.matrix.org/v1.19/client-server-api/#molmv1curve25519-aes-sha2):
// the payload's sender is the event's sender, its recipient is us,
// recipient_keys.ed25519 is our Ed25519 key, keys.ed25519 is the sending
// device's key when that is known, and sender_device_keys, when present,
// name the sender, hold the session's Curve25519 key and the payload's
// Ed25519 key, and carry a valid self-signature. The envelope's sender_key
// must be the peer identity key of the session that decrypts, for sessions
// we started as much as for inbound ones.
//
// A normal message is tried with the first five of p.Sessions (most
// recently used first): a forged message must not cost work linear in the
// number of stored sessions. A pre-key message goes to the session it
// belongs to, or else creates an inbound session from the account's
// one-time or fallback key; a new session equal to one of p.Sessions
// (same session id) is refused as a replay, and a new session from the
// fallback key is an error unless p.SessionsComplete says that p.Sessions
// lists every session with the sender (fail closed: a replayed pre-key
// message to the fallback key must not start a second copy of a session). Nothing changes unless the
// event decrypts and validates: the sessions are decrypted on copies, and
// the one-time key is removed only at the end.
//
// Errors: ErrMalformed, ErrAlgorithm, ErrNotForThisDevice (ignore the
// event), ErrNoSession, ErrUnknownIndex, ErrAuthentication (each wrapping
// the olm error), ErrReplay (a pre-key message of a session we have),
// and *ValidationError (ErrValidation) for a rule that fails.
func DecryptOlm(acct *olm.Account, content []byte, p OlmDecryptParams) (*OlmEvent, error) {
	if p.Sender == "" || p.OwnUserID == "" {
		return nil, errors.New("event: OlmDecryptParams.Sender and OwnUserID are required")
	}
	// Only our entry of the ciphertext map is decoded: the others are
	// other devices' business, and decoding them is work a sender could
	// inflate.
	if err := checkAlgorithm(content, algorithmOlm); err != nil {
		return nil, err
	}
	var c struct {
		SenderKey  *key.Curve25519            `json:"sender_key"`
		Ciphertext map[string]*jsontext.Value `json:"ciphertext"`
	}
	if err := jsonstrict.Unmarshal(content, &c); err != nil {
		return nil, malformed("content: %v", err)
	}
	if c.SenderKey == nil || c.Ciphertext == nil {
		return nil, malformed("Olm content needs sender_key and ciphertext")
	}
	ours := ownKeys{acct.Curve25519(), acct.Ed25519()}
	entry, ok := c.Ciphertext[ours.Curve25519.String()]
	if !ok || entry == nil {
		return nil, fmt.Errorf("%w: no entry for %s", ErrNotForThisDevice, ours.Curve25519)
	}
	msg, err := parseEncryptedMessage(entry)
	if err != nil {
		return nil, err
	}
	senderKey := *c.SenderKey
	if d := p.SenderDevice; d != nil && d.Curve25519 != senderKey {
		return nil, invalid("sender_key", senderKey, d.Curve25519)
	}

	var (
		session    *olm.Session // the caller's session, or the new one
		work       *olm.Session // what decrypted (a copy of session if it is the caller's)
		plain      []byte
		newSession bool
	)
	switch msg.Type {
	case olm.TypePreKey:
		pk, err := olm.ParsePreKeyMessage(msg.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		for _, s := range p.Sessions {
			if s.Matches(pk, &senderKey) {
				session = s
				break
			}
		}
		if session != nil {
			work = session.Clone()
			if plain, err = decryptOlmSession(work, msg); err != nil {
				return nil, olmError(err)
			}
		} else {
			work, plain, err = acct.NewInboundSession(pk, &olm.InboundOptions{TheirIdentityKey: &senderKey, KeepOneTimeKey: true})
			if err != nil {
				return nil, olmError(err)
			}
			for _, s := range p.Sessions {
				if s.ID() == work.ID() {
					return nil, fmt.Errorf("%w: pre-key message would start session %s again", ErrReplay, s.ID())
				}
			}
			session, newSession = work, true
		}
	case olm.TypeMessage:
		if _, err := olm.ParseMessage(msg.Body); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		var last error
		for _, s := range p.Sessions[:min(len(p.Sessions), maxOlmCandidates)] {
			w := s.Clone()
			if pt, err := decryptOlmSession(w, msg); err == nil {
				session, work, plain = s, w, pt
				break
			} else if !errors.Is(last, olm.ErrSessionConfigV2) {
				last = err // the authenticated session-config reason wins
			}
		}
		if session == nil {
			if errors.Is(last, olm.ErrSessionConfigV2) {
				return nil, olmError(last)
			}
			if last != nil {
				return nil, fmt.Errorf("%w: none of the %d most recent sessions decrypts the message: %w",
					ErrNoSession, min(len(p.Sessions), maxOlmCandidates), olmError(last))
			}
			return nil, fmt.Errorf("%w: a normal Olm message and no session with %s", ErrNoSession, senderKey)
		}
	default:
		return nil, malformed("Olm message type %d", msg.Type)
	}
	// The envelope's sender_key must be the session's peer, whoever
	// started the session.
	if peer, ok := work.PeerIdentityKey(); !ok || peer != senderKey {
		return nil, invalid("sender_key", senderKey, peer)
	}

	ev, err := validateOlmPayload(plain, senderKey, ours, p)
	if err != nil {
		return nil, err
	}
	// Commit.
	if newSession {
		// A session whose key stays in the account came from the
		// fallback key (RemoveOneTimeKeys leaves it), which a replayed
		// pre-key message reaches again and again.
		stored := acct.StoredOneTimeKeys()
		err := acct.RemoveOneTimeKeys(work)
		if err != nil && !errors.Is(err, olm.ErrUnknownOneTimeKey) {
			return nil, fmt.Errorf("event: %w", err)
		}
		if err == nil && acct.StoredOneTimeKeys() == stored && !p.SessionsComplete {
			return nil, errors.New("event: a pre-key message to the fallback key needs OlmDecryptParams.SessionsComplete")
		}
	} else {
		*session = *work
	}
	ev.Session, ev.NewSession = session, newSession
	return ev, nil
}

// ownKeys are the receiving account's identity keys.
type ownKeys struct {
	Curve25519 key.Curve25519
	Ed25519    key.Ed25519
}

func present(v jsontext.Value) bool { return len(v) != 0 && string(v) != "null" }

// parseOlmPayload reads an Olm plaintext strictly and checks that the
// members every payload needs are there.
func parseOlmPayload(plain []byte) (*olmPayload, error) {
	var pl olmPayload
	if err := jsonstrict.Unmarshal(plain, &pl); err != nil {
		return nil, malformed("Olm payload: %v", err)
	}
	if pl.Type == nil || !isObject(pl.Content) || pl.Sender == nil || pl.Recipient == nil ||
		pl.RecipientKeys == nil || pl.RecipientKeys.Ed25519 == nil || pl.Keys == nil || pl.Keys.Ed25519 == nil {
		return nil, malformed("Olm payload needs type, content, sender, recipient, recipient_keys.ed25519 and keys.ed25519")
	}
	return &pl, nil
}

func validateOlmPayload(plain []byte, senderKey key.Curve25519, ours ownKeys, p OlmDecryptParams) (*OlmEvent, error) {
	pl, err := parseOlmPayload(plain)
	if err != nil {
		return nil, err
	}
	claimed := *pl.Keys.Ed25519
	// 1. sender
	if *pl.Sender != p.Sender {
		return nil, invalid("sender", *pl.Sender, p.Sender)
	}
	// 3. recipient
	if *pl.Recipient != p.OwnUserID {
		return nil, invalid("recipient", *pl.Recipient, p.OwnUserID)
	}
	// 4. recipient key
	if *pl.RecipientKeys.Ed25519 != ours.Ed25519 {
		return nil, invalid("recipient_keys.ed25519", *pl.RecipientKeys.Ed25519, ours.Ed25519)
	}
	ev := &OlmEvent{Type: *pl.Type, content: bytes.Clone(pl.Content), Sender: *pl.Sender, SenderKey: senderKey,
		SenderEd25519: claimed, payload: plain, fromOlm: true}
	// 2. the sending device's Ed25519 key, when we know the device
	switch {
	case p.SenderDevice != nil:
		d := p.SenderDevice
		if d.UserID != p.Sender {
			return nil, invalid("sender", p.Sender, d.UserID)
		}
		if d.Ed25519 != claimed {
			return nil, invalid("keys.ed25519", claimed, d.Ed25519)
		}
		ev.SenderEd25519Known = true
	case p.SenderEd25519 != nil:
		if *p.SenderEd25519 != claimed {
			return nil, invalid("keys.ed25519", claimed, *p.SenderEd25519)
		}
		ev.SenderEd25519Known = true
	}
	// 5. sender_device_keys
	raw := pl.SenderDeviceKeys
	if !present(raw) {
		raw = pl.Unstable
	}
	if present(raw) {
		d, err := signing.ParseDeviceKeys(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", &ValidationError{Rule: "sender_device_keys", Got: "malformed", Want: "valid device keys"}, err)
		}
		switch {
		case d.UserID != p.Sender:
			return nil, invalid("sender_device_keys", d.UserID, p.Sender)
		case d.Curve25519 != senderKey:
			return nil, invalid("sender_device_keys", d.Curve25519, senderKey)
		case d.Ed25519 != claimed:
			return nil, invalid("sender_device_keys", d.Ed25519, claimed)
		}
		if err := d.VerifySelfSignature(); err != nil {
			return nil, fmt.Errorf("%w: %w", &ValidationError{Rule: "sender_device_keys", Got: "a bad self-signature", Want: "a valid one"}, err)
		}
		ev.SenderDeviceKeys = d
	}
	return ev, nil
}

func olmError(err error) error {
	switch {
	case errors.Is(err, olm.ErrSessionConfigV2):
		// The sender's app uses vodozemac's session config v2 (see
		// megolmError).
		return fmt.Errorf("%w: %w", ErrAlgorithm, err)
	case errors.Is(err, olm.ErrAuthentication):
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	case errors.Is(err, olm.ErrUnknownMessageIndex):
		return fmt.Errorf("%w: %w", ErrUnknownIndex, err)
	case errors.Is(err, olm.ErrUnknownOneTimeKey):
		return fmt.Errorf("%w: %w", ErrNoSession, err)
	case errors.Is(err, olm.ErrIdentityKeyMismatch):
		return fmt.Errorf("%w: %w", &ValidationError{Rule: "sender_key", Got: "the pre-key message's identity key", Want: "the envelope's sender_key"}, err)
	case errors.Is(err, olm.ErrMalformed), errors.Is(err, olm.ErrUnsupportedVersion):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	default:
		return fmt.Errorf("event: %w", err)
	}
}
