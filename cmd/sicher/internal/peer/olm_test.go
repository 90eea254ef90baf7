package peer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
)

// olmPeer drives the Olm peer commands through newPeer().handle.
type olmPeer struct {
	t *testing.T
	p *peer
}

func (o olmPeer) call(req string, args ...any) map[string]any {
	o.t.Helper()
	line := fmt.Sprintf(req, args...)
	var res map[string]any
	if err := json.Unmarshal(o.p.handle([]byte(line)), &res); err != nil {
		o.t.Fatalf("%s: bad response: %v", line, err)
	}
	return res
}

func (o olmPeer) ok(req string, args ...any) map[string]any {
	o.t.Helper()
	res := o.call(req, args...)
	if res["ok"] != true {
		o.t.Fatalf("%s: %v", fmt.Sprintf(req, args...), res)
	}
	return res
}

func (o olmPeer) fail(class, req string, args ...any) map[string]any {
	o.t.Helper()
	res := o.call(req, args...)
	if res["ok"] != false || res["error_type"] != class {
		o.t.Fatalf("%s: got %v, want error_type %s", fmt.Sprintf(req, args...), res, class)
	}
	return res
}

func firstKey(t *testing.T, keys any) (id, k string) {
	t.Helper()
	m := keys.(map[string]any)["curve25519"].(map[string]any)
	for id, k := range m {
		return id, k.(string)
	}
	t.Fatal("no keys")
	return "", ""
}

func TestPeerOlmConversation(t *testing.T) {
	o := olmPeer{t, newPeer()}
	alice := o.ok(`{"cmd":"create_account","handle":"alice"}`)
	bob := o.ok(`{"cmd":"account_create","handle":"bob","one_time_keys":3,"fallback_key":true}`)
	if n := len(bob["one_time_keys"].(map[string]any)["curve25519"].(map[string]any)); n != 3 {
		t.Fatalf("bob has %d one-time keys", n)
	}
	if _, ok := bob["fallback_key"]; !ok {
		t.Fatal("no fallback_key")
	}
	aCurve := alice["identity_keys"].(map[string]any)["curve25519"].(string)
	bCurve := bob["identity_keys"].(map[string]any)["curve25519"].(string)
	_, otk := firstKey(t, bob["one_time_keys"])

	out := o.ok(`{"cmd":"create_outbound_session","account":"alice","identity_key":%q,"one_time_key":%q,"handle":"as"}`, bCurve, otk)
	m1 := o.ok(`{"cmd":"encrypt","session":"as","plaintext":"hello bob"}`)
	if m1["type"].(float64) != 0 {
		t.Fatalf("first message type %v", m1["type"])
	}
	body1 := m1["body"].(string)

	// A tampered pre-key message neither creates a session nor burns the key.
	// (Flip a bit of the decoded MAC: flipping a base64 character could
	// make it invalid base64 instead.)
	raw, err := b64.Decode(body1)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	o.fail("BadMessageMAC", `{"cmd":"create_inbound_session","account":"bob","body":%q}`, b64.Encode(raw))
	o.fail("MismatchedIdentityKey", `{"cmd":"create_inbound_session","account":"bob","body":%q,"identity_key":%q}`, body1, bCurve)

	in := o.ok(`{"cmd":"create_inbound_session","account":"bob","body":%q,"type":0,"identity_key":%q,"handle":"bs"}`, body1, aCurve)
	if in["session_id"] != out["session_id"] {
		t.Fatalf("session ids differ: %v %v", in["session_id"], out["session_id"])
	}
	// Without decrypt:true, a following decrypt returns the first message once.
	d := o.ok(`{"cmd":"decrypt","session":"bs","type":0,"body":%q}`, body1)
	if d["plaintext"] != "hello bob" || d["plaintext_b64"] != "aGVsbG8gYm9i" {
		t.Fatalf("decrypt: %v", d)
	}
	o.fail("UnknownMessageIndex", `{"cmd":"decrypt","session":"bs","type":0,"body":%q}`, body1)
	if n := len(o.ok(`{"cmd":"account_one_time_keys","account":"bob"}`)["one_time_keys"].(map[string]any)["curve25519"].(map[string]any)); n != 2 {
		t.Fatalf("bob has %d one-time keys after the session, want 2", n)
	}
	o.fail("BadMessageKeyID", `{"cmd":"account_remove_one_time_keys","account":"bob","session":"bs"}`)

	m := o.ok(`{"cmd":"session_matches","session":"bs","body":%q,"identity_key":%q}`, body1, aCurve)
	if m["matches"] != true {
		t.Fatal("session does not match its own pre-key message")
	}
	m = o.ok(`{"cmd":"session_matches","session":"bs","body":%q,"identity_key":%q}`, body1, bCurve)
	if m["matches"] != false {
		t.Fatal("session matches with the wrong identity key")
	}

	m2 := o.ok(`{"cmd":"encrypt","session":"bs","plaintext_b64":"/w=="}`)
	if m2["type"].(float64) != 1 {
		t.Fatalf("reply type %v", m2["type"])
	}
	d = o.ok(`{"cmd":"decrypt","session":"as","type":1,"body":%q}`, m2["body"])
	if d["plaintext"] != nil || d["plaintext_b64"] != "/w==" {
		t.Fatalf("non-UTF-8 decrypt: %v", d)
	}
	info := o.ok(`{"cmd":"session_info","session":"as"}`)
	if info["has_received_message"] != true || info["session_id"] != out["session_id"] || !strings.Contains(info["describe"].(string), "receiver chains") {
		t.Fatalf("session_info: %v", info)
	}

	// Pickles (libolm format, the passphrase as pickle key).
	pa := o.ok(`{"cmd":"account_pickle","account":"bob","passphrase":"pw"}`)["pickle"].(string)
	ua := o.ok(`{"cmd":"account_unpickle","pickle":%q,"passphrase":"pw"}`, pa)
	if ua["identity_keys"].(map[string]any)["curve25519"] != bCurve {
		t.Fatalf("account_unpickle: %v", ua)
	}
	o.fail("BadPickle", `{"cmd":"account_unpickle","pickle":%q,"passphrase":"wrong"}`, pa)
	ps := o.ok(`{"cmd":"session_pickle","session":"bs"}`)["pickle"].(string)
	us := o.ok(`{"cmd":"session_unpickle","pickle":%q,"handle":"bs2"}`, ps)
	if us["session_id"] != in["session_id"] {
		t.Fatalf("session_unpickle: %v", us)
	}
	m3 := o.ok(`{"cmd":"encrypt","session":"as","plaintext":"again"}`)
	if d := o.ok(`{"cmd":"decrypt","session":"bs2","type":%v,"body":%q}`, m3["type"], m3["body"]); d["plaintext"] != "again" {
		t.Fatalf("unpickled session decrypt: %v", d)
	}
	// libolm's pickle does not store the peer: with both identity keys the
	// session is bound to them, and keys that are not its own are refused.
	o.fail("MismatchedIdentityKey", `{"cmd":"session_unpickle","pickle":%q,"our_identity_key":%q,"their_identity_key":%q}`, ps, bCurve, bCurve)
	o.fail("PeerError", `{"cmd":"session_unpickle","pickle":%q,"their_identity_key":%q}`, ps, aCurve)
	o.ok(`{"cmd":"session_unpickle","pickle":%q,"our_identity_key":%q,"their_identity_key":%q,"handle":"bs3"}`, ps, bCurve, aCurve)
	if d := o.ok(`{"cmd":"decrypt","session":"bs3","type":%v,"body":%q}`, m3["type"], m3["body"]); d["plaintext"] != "again" {
		t.Fatalf("bound session decrypt: %v", d)
	}
}

func TestPeerOlmAccount(t *testing.T) {
	o := olmPeer{t, newPeer()}
	a := o.ok(`{"cmd":"create_account","handle":"a"}`)
	ed := a["identity_keys"].(map[string]any)["ed25519"].(string)
	if ik := o.ok(`{"cmd":"account_identity_keys","account":"a"}`); ik["identity_keys"].(map[string]any)["ed25519"] != ed {
		t.Fatal("account_identity_keys differs")
	}
	sig := o.ok(`{"cmd":"account_sign","account":"a","message":"signed"}`)["signature"].(string)
	if v := o.ok(`{"cmd":"ed25519_verify","key":%q,"message":"signed","signature":%q}`, ed, sig); v["valid"] != true {
		t.Fatalf("signature does not verify: %v", v)
	}
	if v := o.ok(`{"cmd":"ed25519_verify","key":%q,"message":"other","signature":%q}`, ed, sig); v["valid"] != false {
		t.Fatal("signature verifies another message")
	}
	g := o.ok(`{"cmd":"account_generate_one_time_keys","account":"a","count":5}`)
	if n := len(g["one_time_keys"].(map[string]any)["curve25519"].(map[string]any)); n != 5 {
		t.Fatalf("%d keys", n)
	}
	if _, ok := g["one_time_keys"].(map[string]any)["curve25519"].(map[string]any)["AAAAAQ"]; !ok {
		t.Fatal("first key id is not AAAAAQ")
	}
	p := o.ok(`{"cmd":"account_mark_keys_as_published","account":"a"}`)
	if n := len(p["one_time_keys"].(map[string]any)["curve25519"].(map[string]any)); n != 0 {
		t.Fatalf("%d unpublished keys after publishing", n)
	}
	if mx := o.ok(`{"cmd":"account_max_one_time_keys","account":"a"}`); mx["max_one_time_keys"].(float64) != 50 {
		t.Fatalf("max_one_time_keys %v", mx)
	}
	f := o.ok(`{"cmd":"account_generate_fallback_key","account":"a"}`)
	id, _ := firstKey(t, f["fallback_key"])
	if id != "AAAABg" {
		t.Fatalf("fallback key id %s, want AAAABg (counter shared with one-time keys)", id)
	}
	if f2 := o.ok(`{"cmd":"account_fallback_key","account":"a"}`); fmt.Sprint(f2["fallback_key"]) != fmt.Sprint(f["fallback_key"]) {
		t.Fatal("account_fallback_key differs")
	}
	o.ok(`{"cmd":"account_mark_keys_as_published","account":"a"}`)
	if f3 := o.ok(`{"cmd":"account_fallback_key","account":"a"}`); len(f3["fallback_key"].(map[string]any)["curve25519"].(map[string]any)) != 0 {
		t.Fatal("published fallback key still listed")
	}
	o.ok(`{"cmd":"account_forget_old_fallback_key","account":"a"}`)
	o.fail("PeerError", `{"cmd":"account_generate_one_time_keys","account":"a","count":-1}`)
	o.fail("PeerError", `{"cmd":"encrypt","session":"a","plaintext":"x"}`)
	o.fail("InvalidBase64", `{"cmd":"create_inbound_session","account":"a","body":"!!"}`)
	o.fail("BadMessageFormat", `{"cmd":"create_inbound_session","account":"a","body":"AwAA"}`)
	o.fail("BadMessageVersion", `{"cmd":"create_inbound_session","account":"a","body":"BAoA"}`)
	o.fail("NonContributoryKey", `{"cmd":"create_outbound_session","account":"a","identity_key":%q,"one_time_key":%q}`,
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
}
