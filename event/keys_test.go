package event

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

// olmEvent sends content of type typ from a fresh Alice device to a fresh
// Bob device and returns what Bob's DecryptOlm made of it.
func olmEvent(t testing.TB, typ string, content []byte) (*OlmEvent, error) {
	t.Helper()
	alice := newDevice(t, "@alice:example.org", "A")
	bob := newDevice(t, "@bob:example.org", "B")
	return DecryptOlm(bob.acct, alice.encrypt(t, alice.outbound(t, bob), bob, typ, string(content)), params(alice, bob))
}

func TestRoomKey(t *testing.T) {
	out, _ := megolm.NewOutboundSession()
	out.Encrypt(nil, []byte("advance to index 1"))
	content, err := RoomKeyContent(room, out, true)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := olmEvent(t, typeRoomKey, content)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := RoomKeyFromEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if i := rk.Info; i.RoomID != room || i.SessionID != out.SessionID() || !i.SharedHistory || i.Sender != "@alice:example.org" ||
		i.SenderKey != ev.SenderKey || i.ClaimedEd25519 != ev.SenderEd25519 || i.Provenance != OverOlm || i.Ed25519Checked ||
		rk.sessionKey.Index() != 1 {
		t.Fatalf("room key %v", rk)
	}
	in, err := rk.InboundSession()
	if err != nil || !in.IsVerified() || in.FirstKnownIndex() != 1 {
		t.Fatalf("inbound: %v", err)
	}

	var c map[string]any
	json.Unmarshal(content, &c)
	other, _ := megolm.NewOutboundSession()
	bad := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range c {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	sk := c["session_key"].(string)
	tests := []struct {
		name    string
		content []byte
		want    error
	}{
		{"no algorithm", bad("algorithm", nil), ErrMalformed},
		{"other algorithm", bad("algorithm", "m.megolm.v2.aes-sha2"), ErrAlgorithm},
		{"no room_id", bad("room_id", nil), ErrMalformed},
		{"no session_id", bad("session_id", nil), ErrMalformed},
		{"no session_key", bad("session_key", nil), ErrMalformed},
		{"session_id of another session", bad("session_id", other.SessionID().String()), ErrMalformed},
		{"session_key of another session", bad("session_key", other.SessionKey().Base64()), ErrMalformed},
		{"session_key signature broken", bad("session_key", flipSignatureBit(t, sk)), megolm.ErrAuthentication},
		{"export format", bad("session_key", mustExport(t, out)), megolm.ErrMalformed},
		{"session_key truncated", bad("session_key", sk[:100]), ErrMalformed},
		{"session_id not a key", bad("session_id", 5), ErrMalformed},
	}
	for _, tt := range tests {
		ev, err := olmEvent(t, typeRoomKey, tt.content)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := RoomKeyFromEvent(ev); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

// flipSignatureBit flips one bit inside the signature of a base64 session
// key (replacing base64 characters instead could leave the bytes unchanged:
// the top byte of S is zero one time in sixteen).
func flipSignatureBit(t testing.TB, sk string) string {
	b, err := base64.RawStdEncoding.DecodeString(sk)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 1
	return base64.RawStdEncoding.EncodeToString(b)
}

func mustExport(t testing.TB, out *megolm.OutboundSession) string {
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	return in.ExportAtFirstKnownIndex().Base64()
}

func TestForwardedRoomKey(t *testing.T) {
	out, _ := megolm.NewOutboundSession()
	in, _ := megolm.NewInboundSession(out.SessionKey())
	creator, hop := key.Curve25519{1}, key.Curve25519{2}
	claimed := key.Ed25519{3}
	es := megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), room, creator, claimed)
	es.ForwardingCurve25519KeyChain = []string{hop.String()}
	content, err := ForwardedRoomKeyContent(es)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := olmEvent(t, typeForwardedRoomKey, content)
	if err != nil {
		t.Fatal(err)
	}
	fk, err := ForwardedRoomKeyFromEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if i := fk.Info; i.Provenance != Forwarded || i.RoomID != room || i.SessionID != out.SessionID() || i.SenderKey != creator ||
		i.ClaimedEd25519 != claimed || len(i.ForwardingChain) != 2 || i.ForwardingChain[0] != hop || i.Sender != "" ||
		i.ForwardingChain[1] != ev.SenderKey || fk.ForwarderKey != ev.SenderKey || fk.Withheld != nil ||
		fk.Session.RoomID != room || fk.Session.SenderKey != creator {
		t.Fatalf("forwarded %v %+v", fk, fk.Info)
	}
	s, err := fk.Session.InboundSession()
	if err != nil || s.IsVerified() {
		t.Fatalf("forwarded session must be unverified: %v", err)
	}
	// Events it decrypts are marked unverified.
	msg, _, _ := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: json.RawMessage(`{}`)})
	if re, err := DecryptMegolm(s, msg, MegolmDecryptParams{RoomID: room, Sender: "@carol:example.org", Session: fk.Info}); err != nil ||
		re.Provenance != Forwarded || re.Sender != "@carol:example.org" || !re.SenderChecked {
		t.Fatalf("decrypt with forwarded key: %v", err)
	}

	var c map[string]any
	json.Unmarshal(content, &c)
	set := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range c {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	// The spec's examples use the signed sharing format: accepted, unverified.
	ev, _ = olmEvent(t, typeForwardedRoomKey, set("session_key", out.SessionKey().Base64()))
	if fk, err := ForwardedRoomKeyFromEvent(ev); err != nil || fk.Info.Provenance != Forwarded {
		t.Fatalf("sharing format: %v", err)
	}
	ev, _ = olmEvent(t, typeForwardedRoomKey, set("withheld", map[string]string{"code": "m.unverified", "reason": "not verified"}))
	if fk, err := ForwardedRoomKeyFromEvent(ev); err != nil || fk.Withheld == nil || fk.Withheld.Code != "m.unverified" {
		t.Fatalf("withheld: %v", err)
	}
	other, _ := megolm.NewOutboundSession()
	for _, tt := range []struct {
		name    string
		content []byte
		want    error
	}{
		{"no sender_key", set("sender_key", nil), ErrMalformed},
		{"no claimed key", set("sender_claimed_ed25519_key", nil), ErrMalformed},
		{"no chain", set("forwarding_curve25519_key_chain", nil), ErrMalformed},
		{"chain not keys", set("forwarding_curve25519_key_chain", []string{"x"}), ErrMalformed},
		{"other algorithm", set("algorithm", "x"), ErrAlgorithm},
		{"other session", set("session_id", other.SessionID().String()), ErrMalformed},
		{"garbage key", set("session_key", "AQAA"), ErrMalformed},
	} {
		ev, err := olmEvent(t, typeForwardedRoomKey, tt.content)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ForwardedRoomKeyFromEvent(ev); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

// Secret session keys never show through fmt, log/slog or encoding/json,
// and a room event's plaintext not through fmt.
func TestRedaction(t *testing.T) {
	out, _ := megolm.NewOutboundSession()
	content, _ := RoomKeyContent(room, out, false)
	ev, err := olmEvent(t, typeRoomKey, content)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := RoomKeyFromEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := rk.InboundSession()
	fc, _ := ForwardedRoomKeyContent(megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), room, key.Curve25519{1}, key.Ed25519{2}))
	fev, err := olmEvent(t, typeForwardedRoomKey, fc)
	if err != nil {
		t.Fatal(err)
	}
	fk, err := ForwardedRoomKeyFromEvent(fev)
	if err != nil {
		t.Fatal(err)
	}
	sessionKey := out.SessionKey().Bytes()
	// The session key, its export, and the ratchet alone (bytes 5 to 133
	// of both formats, megolm.md "Session-sharing format").
	secrets := [][]byte{sessionKey, in.ExportAtFirstKnownIndex().Bytes(), sessionKey[5:133]}
	for _, v := range []any{ev, *ev, fev, *fev, rk, *rk, fk, *fk} {
		cryptotest.Redacted(t, v, secrets...)
	}
	msg, _, _ := EncryptMegolm(out, MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: json.RawMessage(`{"body":"private words"}`)})
	re, err := DecryptMegolm(in, msg, MegolmDecryptParams{RoomID: room, Sender: "@alice:example.org", Session: rk.Info})
	if err != nil {
		t.Fatal(err)
	}
	// A room event's plaintext is not key material: its JSON (and so
	// log/slog's JSON handler) shows the exported Content, but fmt does not.
	for _, v := range []any{re, *re} {
		for _, verb := range cryptotest.Verbs {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, "private words") {
				t.Errorf("%s of %T shows the content: %s", verb, v, s)
			}
		}
	}
	for _, v := range []any{RoomKey{}, ForwardedRoomKey{}, OlmEvent{}, RoomEvent{}} {
		_ = fmt.Sprint(v) // zero values print without panicking
	}
}

// The spec's m.room_key_request example
// (https://spec.matrix.org/v1.19/client-server-api/#mroom_key_request).
func TestRoomKeyRequest(t *testing.T) {
	spec := `{
    "action": "request",
    "body": {
      "algorithm": "m.megolm.v1.aes-sha2",
      "room_id": "!Cuyf34gef24t:localhost",
      "sender_key": "RF3s+E7RkTQTGF2d8Deol0FkQvgII2aJDf3/Jp5mxVU",
      "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ"
    },
    "request_id": "1495474790150.19",
    "requesting_device_id": "RJYKSTBOIE"
  }`
	r, err := ParseRoomKeyRequest([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != "request" || r.RequestID != "1495474790150.19" || r.RequestingDeviceID != "RJYKSTBOIE" || r.Algorithm != "m.megolm.v1.aes-sha2" ||
		r.RoomID != "!Cuyf34gef24t:localhost" || r.SessionID.String() != "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ" || r.SenderKey == nil {
		t.Fatalf("%+v", r)
	}
	cancel, err := ParseRoomKeyRequest([]byte(`{"action":"request_cancellation","request_id":"1","requesting_device_id":"D"}`))
	if err != nil || cancel.RoomID != "" {
		t.Fatal(err)
	}
	for _, in := range []string{
		`{"action":"request","request_id":"1","requesting_device_id":"D"}`,
		`{"action":"request","request_id":"1","requesting_device_id":"D","body":{"room_id":"!r","session_id":"X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ"}}`,
		`{"action":"request","request_id":"1","requesting_device_id":"D","body":{"algorithm":"a","room_id":"!r","session_id":"bad"}}`,
		`{"action":"take","request_id":"1","requesting_device_id":"D"}`,
		`{"action":"request_cancellation","requesting_device_id":"D"}`,
		`{"action":"request_cancellation","request_id":"1"}`,
		`{"action":"request_cancellation","request_id":"","requesting_device_id":"D"}`,
		`[]`, `{`,
		// Exact names only, no duplicates (strict JSON).
		`{"Action":"request_cancellation","request_id":"1","requesting_device_id":"D"}`,
		`{"action":"request_cancellation","request_id":"1","request_id":"2","requesting_device_id":"D"}`,
	} {
		if _, err := ParseRoomKeyRequest([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("accepted %s: %v", in, err)
		}
	}
}

func TestWithheld(t *testing.T) {
	sk := key.Curve25519{7}.String()
	sid := key.Ed25519{8}
	for _, code := range []string{"m.blacklisted", "m.unverified", "m.unauthorised", "m.unavailable", "m.no_olm", "m.history_not_shared"} {
		in := `{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"` + sk + `","code":"` + code + `","room_id":"` + room + `","session_id":"` + sid.String() + `","reason":"because"}`
		w, err := ParseWithheld([]byte(in))
		if err != nil || w.Code != code || w.RoomID != room || *w.SessionID != sid || w.OverOlm {
			t.Fatalf("%s: %v %+v", code, err, w)
		}
		var we *Withheld
		if err := error(w); !errors.Is(err, ErrWithheld) || !errors.As(err, &we) || we.Code != code || !strings.Contains(err.Error(), "because") {
			t.Fatalf("%s: %v", code, err)
		}
	}
	noOlm, err := ParseWithheld([]byte(`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"` + sk + `","code":"m.no_olm"}`))
	if err != nil || noOlm.SessionID != nil {
		t.Fatalf("m.no_olm without session: %v", err)
	}
	if _, err := ParseWithheld([]byte(`{"algorithm":"a","sender_key":"` + sk + `","code":"org.example.new","room_id":"!r","session_id":"` + sid.String() + `"}`)); err != nil {
		t.Fatalf("unknown code: %v", err)
	}
	for _, in := range []string{
		`{"algorithm":"a","sender_key":"` + sk + `","code":"m.unverified"}`,
		`{"algorithm":"a","sender_key":"` + sk + `","code":"m.unverified","room_id":"!r"}`,
		`{"algorithm":"a","sender_key":"` + sk + `","code":"m.unverified","session_id":"` + sid.String() + `"}`,
		`{"algorithm":"a","code":"m.no_olm"}`,
		`{"sender_key":"` + sk + `","code":"m.no_olm"}`,
		`{"algorithm":"a","sender_key":"` + sk + `"}`,
		`{"algorithm":"a","sender_key":"` + sk + `","code":""}`,
		`{"algorithm":"a","sender_key":"short","code":"m.no_olm"}`,
		`{"algorithm":"a","sender_key":"` + sk + `","code":"m.no_olm","CODE":"m.unverified"}`,
	} {
		if _, err := ParseWithheld([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("accepted %s: %v", in, err)
		}
	}
}

func TestKeysForUpload(t *testing.T) {
	acct, _ := olm.NewAccount()
	acct.GenerateOneTimeKeys(3)
	acct.GenerateFallbackKey()
	u, err := KeysForUpload(acct, "@a:example.org", "DEV", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.OneTimeKeys) != 3 || len(u.FallbackKeys) != 1 {
		t.Fatalf("%d one-time, %d fallback", len(u.OneTimeKeys), len(u.FallbackKeys))
	}
	for id, k := range u.FallbackKeys {
		if !strings.HasPrefix(id, "signed_curve25519:") || !k.Fallback {
			t.Fatalf("fallback %s", id)
		}
	}
	b, err := json.Marshal(u)
	if err != nil || !strings.Contains(string(b), `"fallback":true`) {
		t.Fatalf("%s %v", b, err)
	}
	acct.MarkKeysAsPublished()
	u2, _ := KeysForUpload(acct, "@a:example.org", "DEV", nil)
	if len(u2.OneTimeKeys) != 0 || len(u2.FallbackKeys) != 0 {
		t.Fatal("published keys listed again")
	}
}

func FuzzParseKeyEvents(f *testing.F) {
	for _, s := range []string{
		`{"action":"request","body":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r","session_id":"X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ"},"request_id":"1","requesting_device_id":"D"}`,
		`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"RF3s+E7RkTQTGF2d8Deol0FkQvgII2aJDf3/Jp5mxVU","code":"m.no_olm"}`,
		`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"RF3s+E7RkTQTGF2d8Deol0FkQvgII2aJDf3/Jp5mxVU","code":"m.no_olm","CODE":"m.unverified"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseRoomKeyRequest(b); err == nil {
			if r.RequestID == "" || (r.Action != "request" && r.RoomID != "") {
				t.Fatalf("accepted %+v", r)
			}
			// Strict decoding agrees with an exact-name reading.
			if r.Action != exactString(t, b, "action") || r.RequestID != exactString(t, b, "request_id") ||
				r.RequestingDeviceID != exactString(t, b, "requesting_device_id") ||
				(r.Action == "request" && r.RoomID != exactString(t, b, "body", "room_id")) {
				t.Fatalf("strict and exact readings differ: %+v for %q", r, b)
			}
		}
		if w, err := ParseWithheld(b); err == nil {
			if w.Code != "m.no_olm" && w.SessionID == nil {
				t.Fatalf("accepted %+v", w)
			}
			if w.Code != exactString(t, b, "code") || w.SenderKey.String() != exactString(t, b, "sender_key") ||
				w.Algorithm != exactString(t, b, "algorithm") {
				t.Fatalf("strict and exact readings differ: %+v for %q", w, b)
			}
		}
		ParseOlmContent(b)
		ParseMegolmContent(b)
	})
}
