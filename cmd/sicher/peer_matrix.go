package main

// Peer commands for the Matrix layer: canonical and signed JSON, device
// keys (package signing), and Olm to-device and Megolm room events with
// their validation rules (package event). Names, arguments and results
// follow issue 9's table; docs/peer.md describes the protocol.

import (
	"encoding/json"
	"strings"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// replayGuards holds one Megolm replay guard per peer session.
var replayGuards = map[*peer]*event.ReplayGuard{}

// jsonArg returns argument name as JSON text: the raw value as sent (so
// its bytes, number spellings and repeated keys survive), or, when the
// argument is a JSON string, the text inside it.
func jsonArg(r *request, name string) ([]byte, error) {
	v, ok := r.raw(name)
	if !ok {
		return nil, errPeer("missing argument %q", name)
	}
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, errPeer("argument %q must be JSON or a string of JSON", name)
		}
		return []byte(s), nil
	}
	return v, nil
}

// objectArg is jsonArg for an argument that must be a JSON object.
func objectArg(r *request, name string) (json.RawMessage, error) {
	b, err := jsonArg(r, name)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errPeer("argument %q must be a JSON object", name)
	}
	return b, nil
}

// keyNameArg reads "device_id", or "key_id" ("ed25519:<name>" or the bare
// name), and returns the key name that follows "ed25519:".
func keyNameArg(r *request) (string, error) {
	if r.has("device_id") {
		return r.string("device_id")
	}
	id, err := r.string("key_id")
	if err != nil {
		return "", errPeer("missing argument \"device_id\" or \"key_id\"")
	}
	if alg, name, ok := strings.Cut(id, ":"); ok {
		if alg != signing.AlgorithmEd25519 {
			return "", errPeer("key_id %q: only ed25519 keys sign JSON", id)
		}
		return name, nil
	}
	return id, nil
}

func ed25519Arg(r *request, name string) (key.Ed25519, error) {
	s, err := r.string(name)
	if err != nil {
		return key.Ed25519{}, err
	}
	return key.ParseEd25519(s)
}

func marshalled(v json.Marshaler) (json.RawMessage, error) {
	b, err := v.MarshalJSON()
	return json.RawMessage(b), err
}

func init() {
	register("canonical_json", func(_ *peer, r *request) (result, error) {
		in, err := jsonArg(r, "json")
		if err != nil {
			return nil, err
		}
		out, err := signing.Canonical(in)
		if err != nil {
			return nil, err
		}
		return result{"canonical": string(out)}, nil
	})

	register("sign_json", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		obj, err := objectArg(r, "json")
		if err != nil {
			return nil, err
		}
		user, err := r.string("user_id")
		if err != nil {
			return nil, err
		}
		name, err := keyNameArg(r)
		if err != nil {
			return nil, err
		}
		signed, err := signing.Sign(obj, user, name, a)
		if err != nil {
			return nil, err
		}
		msg, _ := signing.SigningBytes(obj)
		sig := a.Sign(msg)
		return result{"json": json.RawMessage(signed), "signature": sig.String(), "canonical": string(msg)}, nil
	})

	register("verify_json", func(_ *peer, r *request) (result, error) {
		obj, err := objectArg(r, "json")
		if err != nil {
			return nil, err
		}
		user, err := r.string("user_id")
		if err != nil {
			return nil, err
		}
		name, err := keyNameArg(r)
		if err != nil {
			return nil, err
		}
		res := result{"valid": false, "error": nil}
		var pub key.Ed25519
		if r.has("key") {
			if pub, err = ed25519Arg(r, "key"); err != nil {
				return nil, err
			}
		} else {
			var j struct {
				Keys map[string]string `json:"keys"`
			}
			s, ok := "", false
			if json.Unmarshal(obj, &j) == nil {
				s, ok = j.Keys[signing.AlgorithmEd25519+":"+name]
			}
			if !ok {
				return nil, errPeer("no argument \"key\" and no keys[\"ed25519:%s\"] in json", name)
			}
			if pub, err = key.ParseEd25519(s); err != nil {
				res["error"] = err.Error()
				return res, nil
			}
		}
		if err := signing.Verify(obj, user, name, pub); err != nil {
			res["error"] = err.Error()
			res["error_type"] = errorType(err)
			return res, nil
		}
		res["valid"] = true
		return res, nil
	})

	register("account_device_keys", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		user, err := r.string("user_id")
		if err != nil {
			return nil, err
		}
		device, err := r.string("device_id")
		if err != nil {
			return nil, err
		}
		var algs []string
		if v, ok := r.raw("algorithms"); ok {
			if err := json.Unmarshal(v, &algs); err != nil {
				return nil, errPeer("argument \"algorithms\" must be an array of strings")
			}
		}
		publish, err := r.optBool("mark_published", false)
		if err != nil {
			return nil, err
		}
		u, err := event.KeysForUpload(a, user, device, algs)
		if err != nil {
			return nil, err
		}
		dk, err := marshalled(u.DeviceKeys)
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
		if publish {
			a.MarkKeysAsPublished()
		}
		return result{"device_keys": dk, "one_time_keys": json.RawMessage(otks), "fallback_keys": json.RawMessage(fbs)}, nil
	})

	register("olm_encrypt_event", func(p *peer, r *request) (result, error) {
		ps, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		var params event.OlmEncryptParams
		if params.Sender, err = r.string("sender"); err != nil {
			return nil, err
		}
		if params.Recipient, err = r.string("recipient"); err != nil {
			return nil, err
		}
		if params.RecipientEd25519, err = ed25519Arg(r, "recipient_ed25519"); err != nil {
			return nil, err
		}
		if params.RecipientCurve25519, err = curveArg(r, "recipient_curve25519"); err != nil {
			return nil, err
		}
		if params.Type, err = r.string("type"); err != nil {
			return nil, err
		}
		if params.Content, err = objectArg(r, "content"); err != nil {
			return nil, err
		}
		if r.has("sender_device") {
			dev, err := r.string("sender_device")
			if err != nil {
				return nil, err
			}
			if params.SenderDeviceKeys, err = signing.NewDeviceKeys(params.Sender, dev, nil, a.Curve25519(), a.Ed25519(), a); err != nil {
				return nil, err
			}
		}
		if r.has("extra_payload") {
			extra, err := objectArg(r, "extra_payload")
			if err != nil {
				return nil, err
			}
			json.Unmarshal(extra, &params.Extra)
		}
		content, payload, err := event.EncryptOlm(a, ps.s, params)
		if err != nil {
			return nil, err
		}
		return result{"content": json.RawMessage(content), "payload": json.RawMessage(payload)}, nil
	})

	register("olm_decrypt_event", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		content, err := objectArg(r, "content")
		if err != nil {
			return nil, err
		}
		var params event.OlmDecryptParams
		if params.Sender, err = r.string("sender"); err != nil {
			return nil, err
		}
		if params.OwnUserID, err = r.string("user_id"); err != nil {
			return nil, err
		}
		if r.has("sender_ed25519") {
			k, err := ed25519Arg(r, "sender_ed25519")
			if err != nil {
				return nil, err
			}
			params.SenderEd25519 = &k
		}
		var sessionHandle string
		var byPointer map[*olm.Session]*peerSession
		if r.has("session") {
			ps, err := object[*peerSession](p, r, "session")
			if err != nil {
				return nil, err
			}
			sessionHandle, _ = r.string("session")
			params.Sessions = []*olm.Session{ps.s}
			byPointer = map[*olm.Session]*peerSession{ps.s: ps}
		}
		ev, err := event.DecryptOlm(a, content, params)
		if err != nil {
			return nil, err
		}
		if ev.NewSession || byPointer[ev.Session] == nil {
			if sessionHandle, err = p.put(r, "session", &peerSession{s: ev.Session}); err != nil {
				return nil, err
			}
		}
		res := result{
			"session": sessionHandle, "session_id": ev.Session.ID(), "new_session": ev.NewSession,
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
				h, err := p.putNamed("inbound_group_session", in)
				if err != nil {
					return nil, err
				}
				res["inbound_group_session"] = h
				res["room_key"] = result{"room_id": rk.Info.RoomID, "session_id": rk.Info.SessionID.String(), "first_known_index": in.FirstKnownIndex()}
			}
		}
		return res, nil
	})

	register("megolm_encrypt_event", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.OutboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		room, err := r.string("room_id")
		if err != nil {
			return nil, err
		}
		typ, err := r.string("type")
		if err != nil {
			return nil, err
		}
		content, err := objectArg(r, "content")
		if err != nil {
			return nil, err
		}
		opts := event.MegolmEncryptParams{RoomID: room, Type: typ, Content: content}
		if r.has("sender_key") {
			k, err := curveArg(r, "sender_key")
			if err != nil {
				return nil, err
			}
			opts.SenderKey = &k
		}
		if opts.DeviceID, err = r.optString("device_id", ""); err != nil {
			return nil, err
		}
		out, index, err := event.EncryptMegolm(s, opts)
		if err != nil {
			return nil, err
		}
		return result{"content": json.RawMessage(out), "message_index": index}, nil
	})

	register("megolm_decrypt_event", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.InboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		content, err := objectArg(r, "content")
		if err != nil {
			return nil, err
		}
		var params event.MegolmDecryptParams
		if params.RoomID, err = r.optString("room_id", ""); err != nil {
			return nil, err
		}
		params.InsecureSkipRoomCheck = params.RoomID == ""
		// The peer driver keeps no record of who shared a session.
		params.InsecureSkipSenderCheck = true
		if params.EventID, err = r.optString("event_id", ""); err != nil {
			return nil, err
		}
		if params.OriginServerTS, err = r.optInt("origin_server_ts", 0); err != nil {
			return nil, err
		}
		if params.EventID != "" {
			g := replayGuards[p]
			if g == nil {
				g = &event.ReplayGuard{}
				replayGuards[p] = g
			}
			params.Guard = g
		}
		ev, err := event.DecryptMegolm(s, content, params)
		if err != nil {
			return nil, err
		}
		return result{
			"payload":       result{"type": ev.Type, "content": ev.Content, "room_id": ev.RoomID},
			"message_index": ev.MessageIndex,
			"verified":      s.IsVerified(),
		}, nil
	})

	// Event-layer reasons first: they wrap the olm and megolm errors.
	for _, c := range []struct {
		err   error
		class string
	}{
		{&event.ValidationError{Rule: "sender"}, "WrongSender"},
		{&event.ValidationError{Rule: "keys.ed25519"}, "WrongSender"},
		{&event.ValidationError{Rule: "recipient"}, "WrongRecipient"},
		{&event.ValidationError{Rule: "recipient_keys.ed25519"}, "WrongRecipientKey"},
		{&event.ValidationError{Rule: "sender_device_keys"}, "BadSenderDeviceKeys"},
		{&event.ValidationError{Rule: "sender_key"}, "SenderKeyMismatch"},
		{&event.ValidationError{Rule: "room_id"}, "WrongRoom"},
		{event.ErrReplay, "ReplayedMessageIndex"},
		{event.ErrNotOlmEncrypted, "NotOlmEncrypted"},
		{event.ErrNotForThisDevice, "NotForThisDevice"},
		{event.ErrWithheld, "Withheld"},
		{event.ErrAlgorithm, "UnsupportedAlgorithm"},
		{event.ErrUnknownIndex, "UnknownMessageIndex"},
		{event.ErrNoSession, "NoSession"},
		{event.ErrAuthentication, "BadMessageMAC"},
		{event.ErrMalformed, "BadEventFormat"},
		// *signing.NumberError ("CanonicalJSONNumber") is matched in
		// errorType; ErrNotSigned and ErrChain wrap ErrAuthentication.
		{signing.ErrNotSigned, "NotSigned"},
		{signing.ErrChain, "CrossSigningChain"},
		{signing.ErrAuthentication, "BadSignature"},
		{signing.ErrMalformed, "InvalidJSON"},
	} {
		registerErrorClass(c.err, c.class)
	}
}

// putNamed stores obj under a fresh handle of the given kind (ignoring the
// request's "handle", which names the primary result).
func (p *peer) putNamed(kind string, obj any) (string, error) {
	r := &request{args: map[string]json.RawMessage{}}
	return p.put(r, kind, obj)
}
