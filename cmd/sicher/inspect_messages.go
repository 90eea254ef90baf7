package main

// sicher inspect, Olm and Megolm messages, session keys, m.room.encrypted contents and events.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

// messageCandidates lists what the bytes b parse as: Olm and Megolm
// messages, Megolm session keys.
func messageCandidates(b []byte) []*report {
	var out []*report
	if m, err := olm.ParsePreKeyMessage(b); err == nil {
		out = append(out, describePreKey(m, len(b)))
	}
	if m, err := megolm.ParseMessage(b); err == nil {
		out = append(out, describeMegolmMessage(m, len(b), nil))
	}
	if m, err := olm.ParseMessage(b); err == nil {
		out = append(out, describeOlmMessage(m, len(b)))
	}
	if k, err := megolm.ParseSessionKey(b); err == nil {
		out = append(out, describeSessionKey(k))
	} else if errors.Is(err, megolm.ErrAuthentication) {
		r := newReport("megolm.session_key", fmt.Sprintf("Megolm session key (%d bytes), INVALID", len(b)))
		r.add("error", err.Error())
		r.Invalid = true
		out = append(out, r)
	} else if k, err := megolm.ParseExportedSessionKey(b); err == nil {
		out = append(out, describeExportedKey(k))
	}
	return out
}

// versionOf returns the version byte of a parsed message or key.
func versionOf(raw []byte) byte {
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func describePreKey(m *olm.PreKeyMessage, n int) *report {
	r := newReport("olm.prekey_message", fmt.Sprintf("Olm pre-key message (type 0), %d bytes", n))
	r.add("version", m.Version())
	r.add("one-time key", m.OneTimeKey.String())
	r.add("base key", m.BaseKey.String())
	if m.IdentityKey != (key.Curve25519{}) {
		r.add("identity key", m.IdentityKey.String())
		// The session id: SHA-256(I_A ‖ E_A ‖ E_B), as olm.Session.ID
		// (libolm session.cpp, olm_session_id).
		h := sha256.New()
		h.Write(m.IdentityKey[:])
		h.Write(m.BaseKey[:])
		h.Write(m.OneTimeKey[:])
		r.add("session id", unpadded(h.Sum(nil)))
	} else {
		r.add("identity key", "(absent)")
	}
	r.part(describeOlmMessage(m.Message, 0))
	r.note("the recipient must still hold the one-time (or fallback) key above, or have a session with this id")
	return r
}

// olmMACSize is the length of an Olm message's truncated HMAC-SHA-256
// (libolm message.cpp, MAC_LENGTH).
const olmMACSize = 8

// describeOlmMessage describes a normal Olm message of n bytes (0: the one
// inside a pre-key message, whose length the parsed form does not keep).
func describeOlmMessage(m *olm.Message, n int) *report {
	title := "Olm message (type 1)"
	if n > 0 {
		title = fmt.Sprintf("Olm message (type 1), %d bytes", n)
	}
	r := newReport("olm.message", title)
	r.add("version", m.Version())
	r.add("ratchet key", m.RatchetKey.String())
	r.add("chain index", m.Index)
	r.add("ciphertext", fmt.Sprintf("%d bytes (%s)", len(m.Ciphertext), aesBlocks(len(m.Ciphertext))))
	r.add("mac", fmt.Sprintf("%d bytes (truncated HMAC-SHA-256; only the session can check it)", olmMACSize))
	if len(m.Ciphertext)%16 != 0 {
		r.note("the ciphertext is not a whole number of AES blocks: this message cannot decrypt")
		r.Invalid = true
	}
	return r
}

// describeMegolmMessage describes a Megolm message; with sessionID (the
// session's Ed25519 signing key) it also checks the signature.
func describeMegolmMessage(m *megolm.Message, n int, sessionID *key.Ed25519) *report {
	r := newReport("megolm.message", fmt.Sprintf("Megolm message, %d bytes", n))
	r.add("version", m.Version())
	r.add("message index", m.Index())
	ct := megolmCiphertextLen(m)
	r.add("ciphertext", fmt.Sprintf("%d bytes (%s)", ct, aesBlocks(ct)))
	r.add("mac", fmt.Sprintf("%d bytes, truncated HMAC-SHA-256 (needs the session at this index)", len(m.MAC())))
	r.add("signature", fmt.Sprintf("%d bytes (Ed25519 by the session's signing key, which is its session id)", key.Ed25519SignatureSize))
	if sessionID != nil {
		raw := m.Bytes()
		body := raw[:len(raw)-key.Ed25519SignatureSize]
		if err := sessionID.Verify(body, key.Ed25519Signature(raw[len(body):])); err != nil {
			r.add("signature check", "FAILS under session_id "+sessionID.String())
			r.note("the ciphertext was not made by this session: a wrong session_id or a tampered ciphertext")
			r.Invalid = true
		} else {
			r.add("signature check", "valid under session_id")
		}
	} else {
		r.note("the session id (the signing key) is not part of the message; inspect the m.room.encrypted content to check the signature")
	}
	return r
}

func describeSessionKey(k *megolm.SessionKey) *report {
	b := k.Bytes()
	defer clear(b)
	r := newReport("megolm.session_key", fmt.Sprintf("Megolm session key (m.room_key session_key), %d bytes", len(b)))
	r.add("version", versionOf(b))
	r.add("first message index", k.Index())
	r.add("session id", k.SessionID().String())
	r.add("signature", "valid (by the session's signing key)")
	r.note("it holds the ratchet: whoever has it reads the room from index %d on (not printed)", k.Index())
	return r
}

func describeExportedKey(k *megolm.ExportedSessionKey) *report {
	b := k.Bytes()
	defer clear(b)
	r := newReport("megolm.exported_session_key", fmt.Sprintf("Megolm exported session key (forwarded/backup/export form), %d bytes", len(b)))
	r.add("version", versionOf(b))
	r.add("first message index", k.Index())
	r.add("session id", k.SessionID().String())
	r.add("signature", "none (exported keys are unsigned: sessions imported from them are unverified)")
	r.note("it holds the ratchet: whoever has it reads the room from index %d on (not printed)", k.Index())
	return r
}

func inspectEvent(obj map[string]json.RawMessage, pickleKey []byte) (*report, error) {
	var typ, sender, id string
	json.Unmarshal(obj["type"], &typ)
	json.Unmarshal(obj["sender"], &sender)
	json.Unmarshal(obj["event_id"], &id)
	inner, err := inspectJSON(obj["content"], pickleKey, 1)
	if err != nil {
		return nil, fmt.Errorf("event of type %q: content: %w", typ, err)
	}
	r := newReport("event", fmt.Sprintf("event %s", typ))
	if sender != "" {
		r.add("sender", sender)
	}
	if id != "" {
		r.add("event id", id)
	}
	var room string
	if json.Unmarshal(obj["room_id"], &room) == nil && room != "" {
		r.add("room id", room)
	}
	r.part(inner)
	return r, nil
}

func inspectOlmJSON(in []byte) *report {
	var m olm.EncryptedMessage
	if err := json.Unmarshal(in, &m); err != nil {
		r := newReport("olm.message", "Olm message JSON {type, body}, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	return describeOlmEncrypted(m)
}

func describeOlmEncrypted(m olm.EncryptedMessage) *report {
	switch m.Type {
	case olm.TypePreKey:
		pm, err := olm.ParsePreKeyMessage(m.Body)
		if err != nil {
			r := newReport("olm.prekey_message", "Olm pre-key message (type 0), INVALID")
			r.add("error", err.Error())
			r.Invalid = true
			return r
		}
		return describePreKey(pm, len(m.Body))
	default:
		om, err := olm.ParseMessage(m.Body)
		if err != nil {
			r := newReport("olm.message", "Olm message (type 1), INVALID")
			r.add("error", err.Error())
			if _, perr := olm.ParsePreKeyMessage(m.Body); perr == nil {
				r.note("the body is a pre-key message: the type should be 0")
			}
			r.Invalid = true
			return r
		}
		return describeOlmMessage(om, len(m.Body))
	}
}

func inspectOlmContent(in []byte) *report {
	c, err := event.ParseOlmContent(in)
	if err != nil {
		r := newReport("m.room.encrypted.olm", "m.room.encrypted content (Olm), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("m.room.encrypted.olm", "m.room.encrypted content, m.olm.v1.curve25519-aes-sha2 (to-device)")
	r.add("sender key", c.SenderKey.String())
	r.add("recipients", len(c.Ciphertext))
	keys := make([]string, 0, len(c.Ciphertext))
	for k := range c.Ciphertext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := describeOlmEncrypted(c.Ciphertext[k])
		p.Title = "for recipient key " + k + ": " + p.Title
		r.part(p)
	}
	r.note("a device decrypts only the entry under its own Curve25519 identity key")
	return r
}

func inspectMegolmContent(in []byte) *report {
	c, err := event.ParseMegolmContent(in)
	if err != nil {
		r := newReport("m.room.encrypted.megolm", "m.room.encrypted content (Megolm), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("m.room.encrypted.megolm", "m.room.encrypted content, m.megolm.v1.aes-sha2 (room event)")
	r.add("session id", c.SessionID.String())
	if c.SenderKey != nil {
		r.add("sender key", c.SenderKey.String()+" (deprecated field)")
	}
	if c.DeviceID != "" {
		r.add("device id", c.DeviceID+" (deprecated field)")
	}
	if c.RelatesTo != nil {
		r.add("m.relates_to", string(*c.RelatesTo))
	}
	m := new(megolm.Message)
	if err := m.UnmarshalText([]byte(c.Ciphertext)); err != nil {
		p := newReport("megolm.message", "Megolm message, INVALID")
		p.add("error", err.Error())
		p.Invalid = true
		r.part(p)
		return r
	}
	sid := c.SessionID
	r.part(describeMegolmMessage(m, len(m.Bytes()), &sid))
	r.note("to decrypt, a device needs session %s at index %d or earlier", short(c.SessionID.String()), m.Index())
	return r
}

func inspectRoomKey(in []byte) *report {
	var c struct {
		Algorithm  string `json:"algorithm"`
		RoomID     string `json:"room_id"`
		SessionID  string `json:"session_id"`
		SessionKey string `json:"session_key"`
		SenderKey  string `json:"sender_key"`
	}
	if err := json.Unmarshal(in, &c); err != nil {
		r := newReport("room_key", "room key, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("room_key", "room key content (m.room_key, m.forwarded_room_key or exported session)")
	r.add("algorithm", c.Algorithm).add("room id", c.RoomID).add("session id", c.SessionID)
	if c.SenderKey != "" {
		r.add("sender key", c.SenderKey)
	}
	var p *report
	if k, err := parseSessionKeyText(c.SessionKey); err == nil {
		p = describeSessionKey(k)
		if k.SessionID().String() != c.SessionID {
			r.note("the session key's id %s is not the session_id field", k.SessionID())
			r.Invalid = true
		}
	} else if k, err2 := parseExportedKeyText(c.SessionKey); err2 == nil {
		p = describeExportedKey(k)
		if k.SessionID().String() != c.SessionID {
			r.note("the session key's id %s is not the session_id field", k.SessionID())
			r.Invalid = true
		}
	} else {
		p = newReport("megolm.session_key", "session_key, INVALID")
		p.add("error", err.Error())
		p.Invalid = true
	}
	r.part(p)
	return r
}

func parseSessionKeyText(s string) (*megolm.SessionKey, error) {
	k := new(megolm.SessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

func parseExportedKeyText(s string) (*megolm.ExportedSessionKey, error) {
	k := new(megolm.ExportedSessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

// megolmCiphertextLen returns the length of the ciphertext field of a parsed
// Megolm message: the version byte, the fields (index 0x08, ciphertext 0x12),
// then the MAC and the signature (megolm.md "Message format").
func megolmCiphertextLen(m *megolm.Message) int {
	raw := m.Bytes()
	r := wire.Reader(raw[1 : len(raw)-len(m.MAC())-key.Ed25519SignatureSize])
	var f wire.Field
	n := 0
	for !r.Empty() && r.ReadField(&f) {
		if f.IsBytes(2) {
			n = len(f.Bytes)
		}
	}
	return n
}
