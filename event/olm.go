package event

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// unstableSenderDeviceKeys is MSC4147's unstable name for
// sender_device_keys, still sent by some clients.
const unstableSenderDeviceKeys = "org.matrix.msc4147.device_keys"

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
// types are 0 or 1 and whose bodies are base64.
func ParseOlmContent(content []byte) (*OlmContent, error) {
	if err := checkAlgorithm(content, AlgorithmOlm); err != nil {
		return nil, err
	}
	var probe struct {
		SenderKey  *string                     `json:"sender_key"`
		Ciphertext map[string]*json.RawMessage `json:"ciphertext"`
	}
	if err := json.Unmarshal(content, &probe); err != nil {
		return nil, malformed("content: %v", err)
	}
	if probe.SenderKey == nil || probe.Ciphertext == nil {
		return nil, malformed("Olm content needs sender_key and ciphertext")
	}
	var c OlmContent
	if err := json.Unmarshal(content, &c); err != nil {
		return nil, malformed("content: %v", err)
	}
	return &c, nil
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
	// Rand is the randomness for a new ratchet step (crypto/rand if nil).
	Rand io.Reader
}

// EncryptOlm encrypts an event for one recipient device with an Olm session
// to it, returning the m.room.encrypted content to send and the plaintext
// payload (spec "Olm plaintext": type, content, sender, recipient,
// recipient_keys.ed25519, keys.ed25519, and sender_device_keys when
// given). The payload is secret when the content is. On error the session
// is unchanged.
func EncryptOlm(acct *olm.Account, s *olm.Session, p OlmEncryptParams) (content, payload []byte, err error) {
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
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	msg, err := s.EncryptFrom(rnd, nil, payload)
	if err != nil {
		return nil, nil, fmt.Errorf("event: %w", err)
	}
	content, err = signing.Marshal(OlmContent{
		Algorithm:  AlgorithmOlm,
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

// OlmDecryptParams describe a received Olm to-device event.
type OlmDecryptParams struct {
	// Sender is the to-device event's sender (a user ID).
	Sender string
	// OwnUserID is our user ID.
	OwnUserID string
	// Sessions are our existing Olm sessions with the device whose
	// Curve25519 key is the content's sender_key. The one that decrypts is
	// updated in place; the others are untouched.
	Sessions []*olm.Session
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
// only by DecryptOlm: that is what lets RoomKey and ForwardedRoomKey
// trust that a key arrived Olm-encrypted. Content and Payload are secret
// when the event carries keys (m.room_key and friends).
type OlmEvent struct {
	Type    string
	Content json.RawMessage
	Sender  string
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
	Session    *olm.Session
	NewSession bool
	// Payload is the whole decrypted JSON.
	Payload json.RawMessage

	fromOlm bool
}

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
	Type          *string         `json:"type"`
	Content       json.RawMessage `json:"content"`
	Sender        *string         `json:"sender"`
	Recipient     *string         `json:"recipient"`
	RecipientKeys *struct {
		Ed25519 *key.Ed25519 `json:"ed25519"`
	} `json:"recipient_keys"`
	Keys *struct {
		Ed25519 *key.Ed25519 `json:"ed25519"`
	} `json:"keys"`
	SenderDeviceKeys json.RawMessage `json:"sender_device_keys"`
	Unstable         json.RawMessage `json:"org.matrix.msc4147.device_keys"`
}

// DecryptOlm decrypts an Olm m.room.encrypted to-device content addressed
// to acct, and applies every validation rule of the spec (v1.19, "Olm
// plaintext"): the payload's sender is the event's sender, its recipient
// is us, recipient_keys.ed25519 is our Ed25519 key, keys.ed25519 is the
// sending device's key when that is known, and sender_device_keys, when
// present, name the sender, hold the session's Curve25519 key and the
// payload's Ed25519 key, and carry a valid self-signature. The envelope's
// sender_key must be the identity key of the session that decrypts.
//
// A normal message is tried with each of p.Sessions. A pre-key message
// goes to the session it belongs to, or else creates an inbound session
// from the account's one-time or fallback key. Nothing changes unless the
// event decrypts and validates: the sessions are decrypted on copies, and
// the one-time key is removed only at the end.
func DecryptOlm(acct *olm.Account, content []byte, p OlmDecryptParams) (*OlmEvent, error) {
	if p.Sender == "" || p.OwnUserID == "" {
		return nil, errors.New("event: OlmDecryptParams.Sender and OwnUserID are required")
	}
	// Only our entry of the ciphertext map is decoded: the others are
	// other devices' business, and decoding them is work a sender could
	// inflate.
	if err := checkAlgorithm(content, AlgorithmOlm); err != nil {
		return nil, err
	}
	var c struct {
		SenderKey  *key.Curve25519             `json:"sender_key"`
		Ciphertext map[string]*json.RawMessage `json:"ciphertext"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
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
	var msg olm.EncryptedMessage
	if err := json.Unmarshal(*entry, &msg); err != nil {
		return nil, malformed("ciphertext entry: %v", err)
	}
	senderKey := *c.SenderKey
	if d := p.SenderDevice; d != nil && d.Curve25519 != senderKey {
		return nil, fmt.Errorf("%w: the known device has Curve25519 key %s, the event was sent with %s", ErrSenderKey, d.Curve25519, senderKey)
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
			if plain, err = work.Decrypt(nil, msg); err != nil {
				return nil, olmError(err)
			}
		} else {
			work, plain, err = acct.NewInboundSession(pk, &olm.InboundOptions{TheirIdentityKey: &senderKey, KeepOneTimeKey: true})
			if err != nil {
				return nil, olmError(err)
			}
			session, newSession = work, true
		}
	case olm.TypeMessage:
		if _, err := olm.ParseMessage(msg.Body); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		var last error
		for _, s := range p.Sessions {
			w := s.Clone()
			if pt, err := w.Decrypt(nil, msg); err == nil {
				session, work, plain = s, w, pt
				break
			} else {
				last = err
			}
		}
		if session == nil {
			if last != nil {
				return nil, fmt.Errorf("%w: none of %d sessions decrypts the message: %w", ErrNoSession, len(p.Sessions), olmError(last))
			}
			return nil, fmt.Errorf("%w: a normal Olm message and no session with %s", ErrNoSession, senderKey)
		}
	default:
		return nil, malformed("Olm message type %d", msg.Type)
	}
	// The envelope's sender_key must be the session's peer.
	if peer, _ := work.PeerIdentityKey(); peer != senderKey {
		return nil, fmt.Errorf("%w: session peer is %s, envelope says %s", ErrSenderKey, peer, senderKey)
	}

	ev, err := validateOlmPayload(plain, senderKey, ours, p)
	if err != nil {
		return nil, err
	}
	// Commit.
	if newSession {
		if err := acct.RemoveOneTimeKeys(work); err != nil && !errors.Is(err, olm.ErrUnknownOneTimeKey) {
			return nil, fmt.Errorf("event: %w", err)
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

func validateOlmPayload(plain []byte, senderKey key.Curve25519, ours ownKeys, p OlmDecryptParams) (*OlmEvent, error) {
	var pl olmPayload
	if err := json.Unmarshal(plain, &pl); err != nil {
		return nil, malformed("Olm payload: %v", err)
	}
	if pl.Type == nil || !isObject(pl.Content) || pl.Sender == nil || pl.Recipient == nil ||
		pl.RecipientKeys == nil || pl.RecipientKeys.Ed25519 == nil || pl.Keys == nil || pl.Keys.Ed25519 == nil {
		return nil, malformed("Olm payload needs type, content, sender, recipient, recipient_keys.ed25519 and keys.ed25519")
	}
	claimed := *pl.Keys.Ed25519
	// 1. sender
	if *pl.Sender != p.Sender {
		return nil, fmt.Errorf("%w: payload sender %q, event sender %q", ErrWrongSender, *pl.Sender, p.Sender)
	}
	// 3. recipient
	if *pl.Recipient != p.OwnUserID {
		return nil, fmt.Errorf("%w: payload recipient %q, we are %q", ErrWrongRecipient, *pl.Recipient, p.OwnUserID)
	}
	// 4. recipient key
	if *pl.RecipientKeys.Ed25519 != ours.Ed25519 {
		return nil, fmt.Errorf("%w: payload recipient key %s, ours %s", ErrWrongRecipientKey, *pl.RecipientKeys.Ed25519, ours.Ed25519)
	}
	ev := &OlmEvent{Type: *pl.Type, Content: pl.Content, Sender: *pl.Sender, SenderKey: senderKey,
		SenderEd25519: claimed, Payload: plain, fromOlm: true}
	// 2. the sending device's Ed25519 key, when we know the device
	switch {
	case p.SenderDevice != nil:
		d := p.SenderDevice
		if d.UserID != p.Sender {
			return nil, fmt.Errorf("%w: the known device belongs to %s", ErrWrongSender, d.UserID)
		}
		if d.Ed25519 != claimed {
			return nil, fmt.Errorf("%w: payload keys.ed25519 %s, the device's key is %s", ErrWrongSender, claimed, d.Ed25519)
		}
		ev.SenderEd25519Known = true
	case p.SenderEd25519 != nil:
		if *p.SenderEd25519 != claimed {
			return nil, fmt.Errorf("%w: payload keys.ed25519 %s, the device's key is %s", ErrWrongSender, claimed, *p.SenderEd25519)
		}
		ev.SenderEd25519Known = true
	}
	// 5. sender_device_keys
	raw := pl.SenderDeviceKeys
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		raw = pl.Unstable
	}
	if raw != nil && !bytes.Equal(raw, []byte("null")) {
		d, err := signing.ParseDeviceKeys(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSenderDeviceKeys, err)
		}
		switch {
		case d.UserID != p.Sender:
			return nil, fmt.Errorf("%w: they are %s's", ErrSenderDeviceKeys, d.UserID)
		case d.Curve25519 != senderKey:
			return nil, fmt.Errorf("%w: Curve25519 key %s, the session's is %s", ErrSenderDeviceKeys, d.Curve25519, senderKey)
		case d.Ed25519 != claimed:
			return nil, fmt.Errorf("%w: Ed25519 key %s, payload keys.ed25519 is %s", ErrSenderDeviceKeys, d.Ed25519, claimed)
		}
		if err := d.VerifySelfSignature(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSenderDeviceKeys, err)
		}
		ev.SenderDeviceKeys = d
	}
	return ev, nil
}

func olmError(err error) error {
	switch {
	case errors.Is(err, olm.ErrAuthentication):
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	case errors.Is(err, olm.ErrUnknownMessageIndex):
		return fmt.Errorf("%w: %w", ErrUnknownIndex, err)
	case errors.Is(err, olm.ErrUnknownOneTimeKey):
		return fmt.Errorf("%w: %w", ErrNoSession, err)
	case errors.Is(err, olm.ErrIdentityKeyMismatch):
		return fmt.Errorf("%w: %w", ErrSenderKey, err)
	case errors.Is(err, olm.ErrMalformed), errors.Is(err, olm.ErrUnsupportedVersion):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	default:
		return fmt.Errorf("event: %w", err)
	}
}
