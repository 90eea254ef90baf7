package peer

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPeerCanonicalAndSignedJSON(t *testing.T) {
	o := olmPeer{t, newPeer()}
	// Spec appendices examples, sent as raw JSON and as a string of JSON.
	res := o.ok(`{"cmd":"canonical_json","json":{"b":"2","a":"1","n":-0,"e":1e10,"u":"\u2028<&>"}}`)
	if want := "{\"a\":\"1\",\"b\":\"2\",\"e\":10000000000,\"n\":0,\"u\":\"\u2028<&>\"}"; res["canonical"] != want {
		t.Fatalf("canonical %q, want %q", res["canonical"], want)
	}
	res = o.ok(`{"cmd":"canonical_json","json":"{\"本\": 2, \"日\": 1}"}`)
	if res["canonical"] != `{"日":1,"本":2}` {
		t.Fatalf("canonical %q", res["canonical"])
	}
	o.fail("CanonicalJSONNumber", `{"cmd":"canonical_json","json":{"a":1.5}}`)
	o.fail("InvalidJSON", `{"cmd":"canonical_json","json":"{\"a\":1,\"a\":2}"}`)
	o.fail("PeerError", `{"cmd":"canonical_json"}`)

	acct := o.ok(`{"cmd":"create_account"}`)
	h := acct["handle"].(string)
	ed := acct["identity_keys"].(map[string]any)["ed25519"].(string)
	signed := o.ok(`{"cmd":"sign_json","account":%q,"json":{"a":1,"unsigned":{"x":1}},"user_id":"@a:b","device_id":"DEV"}`, h)
	obj, _ := json.Marshal(signed["json"])
	if !strings.Contains(string(obj), `"unsigned":{"x":1}`) || !strings.Contains(string(obj), `"ed25519:DEV":"`+signed["signature"].(string)) {
		t.Fatalf("signed %s", obj)
	}
	res = o.ok(`{"cmd":"verify_json","json":%s,"user_id":"@a:b","key_id":"ed25519:DEV","key":%q}`, obj, ed)
	if res["valid"] != true {
		t.Fatalf("verify %v", res)
	}
	tampered := strings.Replace(string(obj), `"a":1`, `"a":2`, 1)
	res = o.ok(`{"cmd":"verify_json","json":%s,"user_id":"@a:b","device_id":"DEV","key":%q}`, tampered, ed)
	if res["valid"] != false || res["error_type"] != "BadSignature" {
		t.Fatalf("tampered %v", res)
	}
	res = o.ok(`{"cmd":"verify_json","json":%s,"user_id":"@c:d","device_id":"DEV","key":%q}`, obj, ed)
	if res["valid"] != false || res["error_type"] != "NotSigned" {
		t.Fatalf("other user %v", res)
	}

	// Device keys verify with the default key from json.keys.
	keys := o.ok(`{"cmd":"account_device_keys","account":%q,"user_id":"@a:b","device_id":"DEV"}`, h)
	dk, _ := json.Marshal(keys["device_keys"])
	res = o.ok(`{"cmd":"verify_json","json":%s,"user_id":"@a:b","device_id":"DEV"}`, dk)
	if res["valid"] != true {
		t.Fatalf("device keys %v", res)
	}
}

func TestPeerAccountDeviceKeys(t *testing.T) {
	o := olmPeer{t, newPeer()}
	acct := o.ok(`{"cmd":"create_account","one_time_keys":2,"fallback_key":true}`)
	h := acct["handle"].(string)
	res := o.ok(`{"cmd":"account_device_keys","account":%q,"user_id":"@a:b","device_id":"DEV","algorithms":["m.olm.v1.curve25519-aes-sha2"],"mark_published":true}`, h)
	dk := res["device_keys"].(map[string]any)
	if dk["user_id"] != "@a:b" || dk["device_id"] != "DEV" || len(dk["algorithms"].([]any)) != 1 {
		t.Fatalf("device keys %v", dk)
	}
	otks := res["one_time_keys"].(map[string]any)
	fbs := res["fallback_keys"].(map[string]any)
	if len(otks) != 2 || len(fbs) != 1 {
		t.Fatalf("keys %v %v", otks, fbs)
	}
	for id, v := range fbs {
		if !strings.HasPrefix(id, "signed_curve25519:") || v.(map[string]any)["fallback"] != true {
			t.Fatalf("fallback %s %v", id, v)
		}
	}
	// Each signed key verifies against the device key.
	ed := acct["identity_keys"].(map[string]any)["ed25519"].(string)
	for _, v := range otks {
		b, _ := json.Marshal(v)
		if r := o.ok(`{"cmd":"verify_json","json":%s,"user_id":"@a:b","device_id":"DEV","key":%q}`, b, ed); r["valid"] != true {
			t.Fatalf("one-time key signature: %v", r)
		}
	}
	// Published: the next call lists none.
	res = o.ok(`{"cmd":"account_device_keys","account":%q,"user_id":"@a:b","device_id":"DEV"}`, h)
	if len(res["one_time_keys"].(map[string]any)) != 0 || len(res["fallback_keys"].(map[string]any)) != 0 {
		t.Fatalf("after publishing %v", res)
	}
}

// The Example flow through the peer: Alice shares a room key with Bob's two
// devices and sends a room message; both decrypt. Then the negative cases.
func TestPeerMatrixEvents(t *testing.T) {
	o := olmPeer{t, newPeer()}
	alice := o.ok(`{"cmd":"create_account"}`)
	aliceKeys := alice["identity_keys"].(map[string]any)
	group := o.ok(`{"cmd":"create_outbound_group_session"}`)
	roomKey, _ := json.Marshal(map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!r:x",
		"session_id": group["session_id"], "session_key": group["session_key"]})

	type bobDev struct{ handle, curve, ed, content string }
	var bobs []bobDev
	for range 2 {
		bob := o.ok(`{"cmd":"create_account","one_time_keys":1}`)
		ik := bob["identity_keys"].(map[string]any)
		var otk string
		for _, k := range bob["one_time_keys"].(map[string]any)["curve25519"].(map[string]any) {
			otk = k.(string)
		}
		s := o.ok(`{"cmd":"create_outbound_session","account":%q,"identity_key":%q,"one_time_key":%q}`, alice["handle"], ik["curve25519"], otk)
		enc := o.ok(`{"cmd":"olm_encrypt_event","session":%q,"account":%q,"sender":"@alice:x","sender_device":"ALICE","recipient":"@bob:x","recipient_ed25519":%q,"recipient_curve25519":%q,"type":"m.room_key","content":%s,"extra_payload":{"org.example":1}}`,
			s["handle"], alice["handle"], ik["ed25519"], ik["curve25519"], roomKey)
		payload := enc["payload"].(map[string]any)
		if payload["sender"] != "@alice:x" || payload["sender_device_keys"] == nil || payload["org.example"] != float64(1) {
			t.Fatalf("payload %v", payload)
		}
		c, _ := json.Marshal(enc["content"])
		bobs = append(bobs, bobDev{bob["handle"].(string), ik["curve25519"].(string), ik["ed25519"].(string), string(c)})
	}
	msg := o.ok(`{"cmd":"megolm_encrypt_event","session":%q,"room_id":"!r:x","type":"m.room.message","content":{"body":"hallo"}}`, group["handle"])
	msgContent, _ := json.Marshal(msg["content"])
	if msg["message_index"] != float64(0) {
		t.Fatalf("index %v", msg)
	}
	for _, b := range bobs {
		// Negative rules first: nothing may change.
		o.fail("WrongRecipient", `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@carol:x"}`, b.handle, b.content)
		o.fail("WrongSender", `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@mallory:x","user_id":"@bob:x"}`, b.handle, b.content)
		o.fail("WrongSender", `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@bob:x","sender_ed25519":%q}`, b.handle, b.content, b.ed)
		o.fail("NotForThisDevice", `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@bob:x"}`, bobs[0].handle, strings.Replace(b.content, b.curve, aliceKeys["curve25519"].(string), 1))
		ev := o.ok(`{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@bob:x","sender_ed25519":%q}`, b.handle, b.content, aliceKeys["ed25519"])
		if ev["new_session"] != true || ev["sender_key"] != aliceKeys["curve25519"] || ev["sender_ed25519_known"] != true ||
			ev["sender_device_keys_valid"] != true || ev["type"] != "m.room_key" || ev["room_key_error"] != nil {
			t.Fatalf("olm event %v", ev)
		}
		in := ev["inbound_group_session"].(string)
		o.fail("WrongRoom", `{"cmd":"megolm_decrypt_event","session":%q,"content":%s,"room_id":"!other:x"}`, in, msgContent)
		dec := o.ok(`{"cmd":"megolm_decrypt_event","session":%q,"content":%s,"room_id":"!r:x","event_id":"$1","origin_server_ts":7}`, in, msgContent)
		pl := dec["payload"].(map[string]any)
		if pl["type"] != "m.room.message" || pl["content"].(map[string]any)["body"] != "hallo" || dec["message_index"] != float64(0) || dec["verified"] != true {
			t.Fatalf("room event %v", dec)
		}
		o.ok(`{"cmd":"megolm_decrypt_event","session":%q,"content":%s,"room_id":"!r:x","event_id":"$1","origin_server_ts":7}`, in, msgContent)
		o.fail("ReplayedMessageIndex", `{"cmd":"megolm_decrypt_event","session":%q,"content":%s,"room_id":"!r:x","event_id":"$2","origin_server_ts":7}`, in, msgContent)
		// Without room_id the room check is skipped.
		o.ok(`{"cmd":"megolm_decrypt_event","session":%q,"content":%s}`, in, msgContent)
		// Replaying the to-device event: the one-time key is gone.
		o.fail("NoSession", `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@bob:x"}`, b.handle, b.content)
		// With the stored session it decrypts again (a pre-key message of a
		// known session).
		o.fail("UnknownMessageIndex", `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@bob:x","session":%q}`, b.handle, b.content, ev["session"])
	}
	// Megolm where Olm is required.
	o.fail("NotOlmEncrypted", `{"cmd":"megolm_encrypt_event","session":%q,"room_id":"!r:x","type":"m.room_key","content":%s}`, group["handle"], roomKey)
}

// TestPeerExtraPayloadOverrides checks docs/peer.md's promise for
// olm_encrypt_event: extra_payload is merged over the payload's defaults,
// so a harness can build an event with a wrong recipient or wrong keys,
// and the receiver (event.DecryptOlm, behind olm_decrypt_event) must
// refuse it. A payload built without overrides still decrypts.
func TestPeerExtraPayloadOverrides(t *testing.T) {
	for _, c := range []struct {
		name, extra, class string
	}{
		{"wrong recipient", `{"recipient":"@mallory:x"}`, "WrongRecipient"},
		{"wrong recipient_keys", `{"recipient_keys":{"ed25519":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`, "WrongRecipientKey"},
		{"wrong sender", `{"sender":"@mallory:x"}`, "WrongSender"},
		{"wrong keys", `{"keys":{"ed25519":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`, "WrongSender"},
		{"added member only", `{"org.example":true}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := olmPeer{t, newPeer()}
			alice := o.ok(`{"cmd":"create_account"}`)
			aliceKeys := alice["identity_keys"].(map[string]any)
			bob := o.ok(`{"cmd":"create_account","one_time_keys":1}`)
			ik := bob["identity_keys"].(map[string]any)
			_, otk := firstKey(t, bob["one_time_keys"])
			s := o.ok(`{"cmd":"create_outbound_session","account":%q,"identity_key":%q,"one_time_key":%q}`, alice["handle"], ik["curve25519"], otk)
			enc := o.ok(`{"cmd":"olm_encrypt_event","session":%q,"account":%q,"sender":"@alice:x","recipient":"@bob:x","recipient_ed25519":%q,"recipient_curve25519":%q,"type":"m.dummy","content":{},"extra_payload":%s}`,
				s["handle"], alice["handle"], ik["ed25519"], ik["curve25519"], c.extra)
			var over map[string]any
			json.Unmarshal([]byte(c.extra), &over)
			payload := enc["payload"].(map[string]any)
			for k, v := range over {
				got, _ := json.Marshal(payload[k])
				want, _ := json.Marshal(v)
				if string(got) != string(want) {
					t.Fatalf("payload[%q] = %s, want %s (extra_payload must override)", k, got, want)
				}
			}
			content, _ := json.Marshal(enc["content"])
			req := `{"cmd":"olm_decrypt_event","account":%q,"content":%s,"sender":"@alice:x","user_id":"@bob:x","sender_ed25519":%q}`
			if c.class == "" {
				o.ok(req, bob["handle"], content, aliceKeys["ed25519"])
				return
			}
			o.fail(c.class, req, bob["handle"], content, aliceKeys["ed25519"])
		})
	}
}
