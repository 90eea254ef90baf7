package peer

// The Matrix layer: canonical and signed JSON, device keys (package
// signing), and Olm to-device and Megolm room events with their
// validation rules (package event).

import (
	"encoding/json"
	"strings"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// keyName is the signing key of sign_json and verify_json: "device_id",
// or "key_id" ("ed25519:<name>" or the bare name).
type keyName struct {
	DeviceID string `arg:"device_id,optional"`
	KeyID    string `arg:"key_id,optional"`
}

// name returns the key name that follows "ed25519:".
func (k keyName) name(r *request) (string, error) {
	if r.has("device_id") {
		return k.DeviceID, nil
	}
	if !r.has("key_id") {
		return "", errPeer("missing argument \"device_id\" or \"key_id\"")
	}
	if alg, name, ok := strings.Cut(k.KeyID, ":"); ok {
		if alg != signing.AlgorithmEd25519 {
			return "", errPeer("key_id %q: only ed25519 keys sign JSON", k.KeyID)
		}
		return name, nil
	}
	return k.KeyID, nil
}

func canonicalJSON(p *peer, r *request) (result, error) {
	var a struct {
		JSON jsonText `arg:"json"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	out, err := signing.Canonical(a.JSON)
	if err != nil {
		return nil, err
	}
	return result{"canonical": string(out)}, nil
}

func signJSON(p *peer, r *request) (result, error) {
	var a struct {
		Account ref[*olm.Account] `arg:"account"`
		JSON    jsonObject        `arg:"json"`
		UserID  string            `arg:"user_id"`
		keyName
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if err := decode(p, r, &a.keyName); err != nil {
		return nil, err
	}
	name, err := a.keyName.name(r)
	if err != nil {
		return nil, err
	}
	signed, err := signing.Sign(a.JSON, a.UserID, name, a.Account.v)
	if err != nil {
		return nil, err
	}
	msg, _ := signing.SigningBytes(a.JSON)
	sig := a.Account.v.Sign(msg)
	return result{"json": json.RawMessage(signed), "signature": sig.String(), "canonical": string(msg)}, nil
}

// verifyJSON never fails the request on a bad signature: it reports valid
// false, the reason and its error_type.
func verifyJSON(p *peer, r *request) (result, error) {
	var a struct {
		JSON   jsonObject `arg:"json"`
		UserID string     `arg:"user_id"`
		Key    string     `arg:"key,optional"`
	}
	var k keyName
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if err := decode(p, r, &k); err != nil {
		return nil, err
	}
	name, err := k.name(r)
	if err != nil {
		return nil, err
	}
	s := a.Key
	if !r.has("key") {
		var j struct {
			Keys map[string]string `json:"keys"`
		}
		ok := false
		if json.Unmarshal(a.JSON, &j) == nil {
			s, ok = j.Keys[signing.AlgorithmEd25519+":"+name]
		}
		if !ok {
			return nil, errPeer("no argument \"key\" and no keys[\"ed25519:%s\"] in json", name)
		}
	}
	pub, err := key.ParseEd25519(s)
	if err != nil {
		if r.has("key") {
			return nil, err
		}
		return result{"valid": false, "error": err.Error()}, nil
	}
	if err := signing.Verify(a.JSON, a.UserID, name, pub); err != nil {
		return result{"valid": false, "error": err.Error(), "error_type": errorType(err)}, nil
	}
	return result{"valid": true, "error": nil}, nil
}

func accountDeviceKeys(p *peer, r *request) (result, error) {
	var a struct {
		Account       ref[*olm.Account] `arg:"account"`
		UserID        string            `arg:"user_id"`
		DeviceID      string            `arg:"device_id"`
		Algorithms    []string          `arg:"algorithms,optional"`
		MarkPublished bool              `arg:"mark_published,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	u, err := event.KeysForUpload(a.Account.v, a.UserID, a.DeviceID, a.Algorithms)
	if err != nil {
		return nil, err
	}
	dk, err := u.DeviceKeys.MarshalJSON()
	if err != nil {
		return nil, err
	}
	otks, err := json.Marshal(u.OneTimeKeys)
	if err != nil {
		return nil, err
	}
	fbs, err := json.Marshal(u.FallbackKeys)
	if err != nil {
		return nil, err
	}
	if a.MarkPublished {
		a.Account.v.MarkKeysAsPublished()
	}
	return result{"device_keys": json.RawMessage(dk), "one_time_keys": json.RawMessage(otks), "fallback_keys": json.RawMessage(fbs)}, nil
}

// olmEncryptEvent builds an Olm-encrypted to-device event. Without
// extra_payload it is event.EncryptOlm's work. With it, the peer builds
// the payload itself and merges extra_payload over the defaults, so a
// harness can send a payload with a wrong "recipient" or "keys" and check
// that the receiver refuses it; event.EncryptOlm stays strict.
func olmEncryptEvent(p *peer, r *request) (result, error) {
	var a struct {
		Session             ref[*session]     `arg:"session"`
		Account             ref[*olm.Account] `arg:"account"`
		Sender              string            `arg:"sender"`
		SenderDevice        *string           `arg:"sender_device,optional"`
		Recipient           string            `arg:"recipient"`
		RecipientEd25519    key.Ed25519       `arg:"recipient_ed25519"`
		RecipientCurve25519 key.Curve25519    `arg:"recipient_curve25519"`
		Type                string            `arg:"type"`
		Content             jsonObject        `arg:"content"`
		ExtraPayload        jsonObject        `arg:"extra_payload,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	acct, s := a.Account.v, a.Session.v.s
	params := event.OlmEncryptParams{
		Sender: a.Sender, Recipient: a.Recipient,
		RecipientEd25519: a.RecipientEd25519, RecipientCurve25519: a.RecipientCurve25519,
		Type: a.Type, Content: json.RawMessage(a.Content),
	}
	if a.SenderDevice != nil {
		dk, err := signing.NewDeviceKeys(a.Sender, *a.SenderDevice, nil, acct.Curve25519(), acct.Ed25519(), acct)
		if err != nil {
			return nil, err
		}
		params.SenderDeviceKeys = dk
	}
	if a.ExtraPayload == nil {
		content, payload, err := event.EncryptOlm(acct, s, params)
		if err != nil {
			return nil, err
		}
		return result{"content": json.RawMessage(content), "payload": json.RawMessage(payload)}, nil
	}
	return encryptOlmPayload(acct, s, params, a.ExtraPayload)
}

// encryptOlmPayload builds the Olm plaintext of the spec ("Olm plaintext",
// https://spec.matrix.org/v1.19/client-server-api/#molmv1curve25519-aes-sha2)
// from params, replaces or adds the members of extra, and encrypts it
// with s.
func encryptOlmPayload(acct *olm.Account, s *olm.Session, params event.OlmEncryptParams, extra []byte) (result, error) {
	m := map[string]any{
		"type":           params.Type,
		"content":        params.Content,
		"sender":         params.Sender,
		"recipient":      params.Recipient,
		"recipient_keys": map[string]key.Ed25519{"ed25519": params.RecipientEd25519},
		"keys":           map[string]key.Ed25519{"ed25519": acct.Ed25519()},
	}
	if params.SenderDeviceKeys != nil {
		m["sender_device_keys"] = params.SenderDeviceKeys
	}
	var over map[string]json.RawMessage
	if err := json.Unmarshal(extra, &over); err != nil {
		return nil, errPeer("argument %q must be a JSON object", "extra_payload")
	}
	for k, v := range over {
		m[k] = v
	}
	payload, err := signing.Marshal(m)
	if err != nil {
		return nil, err
	}
	msg, err := s.Encrypt(nil, payload)
	if err != nil {
		return nil, err
	}
	content, err := signing.Marshal(event.OlmContent{
		Algorithm:  signing.AlgorithmOlm,
		SenderKey:  acct.Curve25519(),
		Ciphertext: map[string]olm.EncryptedMessage{params.RecipientCurve25519.String(): msg},
	})
	if err != nil {
		return nil, err
	}
	return result{"content": json.RawMessage(content), "payload": json.RawMessage(payload)}, nil
}

func olmDecryptEvent(p *peer, r *request) (result, error) {
	var a struct {
		Account       ref[*olm.Account] `arg:"account"`
		Content       jsonObject        `arg:"content"`
		Sender        string            `arg:"sender"`
		UserID        string            `arg:"user_id"`
		SenderEd25519 *key.Ed25519      `arg:"sender_ed25519,optional"`
		Session       *ref[*session]    `arg:"session,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	// The harness holds the sessions and passes the one it has with the
	// sender, if any: that is every session, so the list is complete.
	params := event.OlmDecryptParams{Sender: a.Sender, OwnUserID: a.UserID, SenderEd25519: a.SenderEd25519, SessionsComplete: true}
	var known *session
	if a.Session != nil {
		known = a.Session.v
		params.Sessions = []*olm.Session{known.s}
	}
	ev, err := event.DecryptOlm(a.Account.v, a.Content, params)
	if err != nil {
		return nil, err
	}
	var h string
	if ev.NewSession || known == nil || known.s != ev.Session {
		if h, err = p.put(r, "session", &session{s: ev.Session}); err != nil {
			return nil, err
		}
	} else {
		h = a.Session.h
	}
	res := result{
		"session": h, "session_id": ev.Session.ID(), "new_session": ev.NewSession,
		"payload": ev.SecretPayload(), "type": ev.Type, "content": ev.SecretContent(),
		"sender_key": ev.SenderKey.String(), "sender_ed25519": ev.SenderEd25519.String(),
		"sender_ed25519_known": ev.SenderEd25519Known, "sender_device_keys_valid": ev.SenderDeviceKeys != nil,
	}
	if ev.Type == "m.room_key" {
		// Import the room key, as a client would, into an inbound group
		// session handle.
		rk, err := event.RoomKeyFromEvent(ev)
		if err != nil {
			res["room_key_error"] = err.Error()
		} else if in, err := rk.InboundSession(); err != nil {
			res["room_key_error"] = err.Error()
		} else {
			gh, err := p.put(nil, "inbound_group_session", in)
			if err != nil {
				return nil, err
			}
			res["inbound_group_session"] = gh
			res["room_key"] = result{"room_id": rk.Info.RoomID, "session_id": rk.Info.SessionID.String(), "first_known_index": in.FirstKnownIndex()}
		}
	}
	return res, nil
}

func megolmEncryptEvent(p *peer, r *request) (result, error) {
	var a struct {
		Session   ref[*megolm.OutboundSession] `arg:"session"`
		RoomID    string                       `arg:"room_id"`
		Type      string                       `arg:"type"`
		Content   jsonObject                   `arg:"content"`
		SenderKey *key.Curve25519              `arg:"sender_key,optional"`
		DeviceID  string                       `arg:"device_id,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	out, index, err := event.EncryptMegolm(a.Session.v, event.MegolmEncryptParams{
		RoomID: a.RoomID, Type: a.Type, Content: json.RawMessage(a.Content), SenderKey: a.SenderKey, DeviceID: a.DeviceID,
	})
	if err != nil {
		return nil, err
	}
	return result{"content": json.RawMessage(out), "message_index": index}, nil
}

// megolmDecryptEvent keeps one replay guard per peer, used when the
// request names an event_id.
func megolmDecryptEvent(p *peer, r *request) (result, error) {
	var a struct {
		Session        ref[*megolm.InboundSession] `arg:"session"`
		Content        jsonObject                  `arg:"content"`
		RoomID         string                      `arg:"room_id,optional"`
		EventID        string                      `arg:"event_id,optional"`
		OriginServerTS int64                       `arg:"origin_server_ts,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	// The peer keeps no record of who shared a session, so it cannot bind
	// events to a sender.
	params := event.MegolmDecryptParams{
		RoomID: a.RoomID, InsecureSkipRoomCheck: a.RoomID == "", InsecureSkipSenderCheck: true,
		EventID: a.EventID, OriginServerTS: a.OriginServerTS,
	}
	if a.EventID != "" {
		if p.replay == nil {
			p.replay = &event.ReplayGuard{}
		}
		params.Guard = p.replay
	}
	ev, err := event.DecryptMegolm(a.Session.v, a.Content, params)
	if err != nil {
		return nil, err
	}
	return result{
		"payload":       result{"type": ev.Type, "content": ev.Content, "room_id": ev.RoomID},
		"message_index": ev.MessageIndex,
		"verified":      a.Session.v.IsVerified(),
	}, nil
}
