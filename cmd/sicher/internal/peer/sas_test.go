package peer

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
)

// sasPeer drives a peer in tests of this file.
type sasPeer struct {
	t *testing.T
	p *peer
}

func (s sasPeer) call(req string, args ...any) map[string]any {
	s.t.Helper()
	line := fmt.Sprintf(req, args...)
	var res map[string]any
	if err := json.Unmarshal(s.p.handle([]byte(line)), &res); err != nil {
		s.t.Fatalf("%s: bad response: %v", line, err)
	}
	return res
}

func (s sasPeer) ok(req string, args ...any) map[string]any {
	s.t.Helper()
	res := s.call(req, args...)
	if res["ok"] != true {
		s.t.Fatalf("%s: %v", fmt.Sprintf(req, args...), res)
	}
	return res
}

func (s sasPeer) fail(class, req string, args ...any) {
	s.t.Helper()
	res := s.call(req, args...)
	if res["ok"] != false || res["error_type"] != class {
		s.t.Fatalf("%s: got %v, want error_type %s", fmt.Sprintf(req, args...), res, class)
	}
}

func hexB64(t *testing.T, h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// RFC 7748 §6.1 keys; expected values from libolm (test_sas.cpp keys,
// python sas_test.py V14).
const (
	peerAlicePriv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
	peerBobPriv   = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
	peerAlicePub  = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo"
	peerBobPub    = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08"
)

func TestPeerSAS(t *testing.T) {
	s := sasPeer{t, newPeer()}
	a := s.ok(`{"cmd":"sas_create","handle":"a","private_key_b64":%q}`, hexB64(t, peerAlicePriv))
	if a["pubkey"] != peerAlicePub || a["other_key_set"] != false {
		t.Fatalf("sas_create: %v", a)
	}
	b := s.ok(`{"cmd":"sas_create","random_b64":%q,"their_pubkey":%q}`, hexB64(t, peerBobPriv), peerAlicePub)
	if b["pubkey"] != peerBobPub || b["other_key_set"] != true {
		t.Fatalf("sas_create with their key: %v", b)
	}
	bh := b["handle"].(string)
	s.fail("PeerError", `{"cmd":"sas_generate_bytes","sas":"a","info":"SAS","length":6}`)
	s.fail("PeerError", `{"cmd":"sas_calculate_mac","sas":"a","input":"x","info":"MAC"}`)
	if r := s.ok(`{"cmd":"sas_set_their_pubkey","sas":"a","their_pubkey":%q}`, peerBobPub); r["other_key_set"] != true {
		t.Fatal(r)
	}
	for _, h := range []string{"a", bh} {
		g := s.ok(`{"cmd":"sas_generate_bytes","sas":%q,"info":"SAS","length":6}`, h)
		if g["bytes_b64"] != hexB64(t, "3987a872e7b9") || fmt.Sprint(g["bytes"]) != "[57 135 168 114 231 185]" {
			t.Errorf("sas_generate_bytes: %v", g)
		}
		sh := s.ok(`{"cmd":"sas_short_auth_string","sas":%q,"info":"SAS"}`, h)
		if fmt.Sprint(sh["emoji_indices"]) != "[14 24 30 40 28 46 30]" || fmt.Sprint(sh["decimals"]) != "[2840 8841 7515]" || sh["bytes_b64"] != hexB64(t, "3987a872e7b9") {
			t.Errorf("sas_short_auth_string: %v", sh)
		}
		for cmd, want := range map[string]string{
			"sas_calculate_mac":              "2nSMTXM+TStTU3RUVTNSVVZUTlNWVlpVVGxOV1ZscFY",
			"sas_calculate_mac_fixed_base64": "2nSMU3M+FMBTCWQg5IoIUoEErFZOjniAZTdqNhf+Dmo",
			"sas_calculate_mac_long_kdf":     "aYtxeF31MzG4ekc0ZWtjMFpXdGpNRnBYZEdwTlJuQlk",
		} {
			m := s.ok(`{"cmd":%q,"sas":%q,"input":"Hello world!","info":"MAC"}`, cmd, h)
			if m["mac"] != want {
				t.Errorf("%s: %v", cmd, m)
			}
			m = s.ok(`{"cmd":%q,"sas":%q,"input_b64":%q,"info":"MAC"}`, cmd, h, base64.StdEncoding.EncodeToString([]byte("Hello world!")))
			if m["mac"] != want {
				t.Errorf("%s with input_b64: %v", cmd, m)
			}
		}
	}
	s.fail("PeerError", `{"cmd":"sas_generate_bytes","sas":"a","info":"SAS","length":0}`)
	s.fail("PeerError", `{"cmd":"sas_generate_bytes","sas":"a","info":"SAS","length":8161}`)
	s.fail("PeerError", `{"cmd":"sas_generate_bytes","sas":"a","length":6}`)
	s.fail("PeerError", `{"cmd":"sas_create","private_key_b64":"AAAA"}`)
	s.fail("NonContributoryKey", `{"cmd":"sas_set_their_pubkey","sas":"a","their_pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
	s.fail("InvalidKey", `{"cmd":"sas_set_their_pubkey","sas":"a","their_pubkey":"short"}`)
	s.fail("NonContributoryKey", `{"cmd":"sas_create","their_pubkey":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
	// A failed set leaves the earlier key in place.
	if g := s.ok(`{"cmd":"sas_generate_bytes","sas":"a","info":"SAS","length":6}`); g["bytes_b64"] != hexB64(t, "3987a872e7b9") {
		t.Errorf("state changed by a failed set: %v", g)
	}
	// Fresh random SAS objects agree with each other.
	x := s.ok(`{"cmd":"sas_create"}`)
	y := s.ok(`{"cmd":"sas_create","their_pubkey":%q}`, x["pubkey"])
	s.ok(`{"cmd":"sas_set_their_pubkey","sas":%q,"their_pubkey":%q}`, x["handle"], y["pubkey"])
	mx := s.ok(`{"cmd":"sas_calculate_mac_fixed_base64","sas":%q,"input":"k","info":"i"}`, x["handle"])
	my := s.ok(`{"cmd":"sas_calculate_mac_fixed_base64","sas":%q,"input":"k","info":"i"}`, y["handle"])
	if mx["mac"] != my["mac"] {
		t.Error("random SAS pair disagrees")
	}
}

func TestPeerRecoveryKey(t *testing.T) {
	s := sasPeer{t, newPeer()}
	const rk = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d" // reference §14.3
	e := s.ok(`{"cmd":"recovery_key_encode","private_key_b64":%q}`, hexB64(t, peerAlicePriv))
	if e["recovery_key"] != rk || e["public_key"] != peerAlicePub {
		t.Fatalf("recovery_key_encode: %v", e)
	}
	d := s.ok(`{"cmd":"recovery_key_decode","recovery_key":"EsTcLW2KPGiFwKEA3As5g5c4BXwkqeeJZJV8Q9fugUMNUE4d"}`)
	if d["private_key_b64"] != hexB64(t, peerAlicePriv) {
		t.Fatalf("recovery_key_decode: %v", d)
	}
	s.fail("BadRecoveryKeyParity", `{"cmd":"recovery_key_decode","recovery_key":"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4e"}`)
	s.fail("BadRecoveryKeyPrefix", `{"cmd":"recovery_key_decode","recovery_key":"AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk"}`)
	s.fail("BadRecoveryKeyLength", `{"cmd":"recovery_key_decode","recovery_key":"AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9"}`)
	s.fail("BadRecoveryKeyCharacter", `{"cmd":"recovery_key_decode","recovery_key":"AATpRvZTnjck8YrhRAtwXLS84Nr0OIl"}`)
	s.fail("BadMessageFormat", `{"cmd":"recovery_key_encode","private_key_b64":"AAAA"}`)
	s.fail("PeerError", `{"cmd":"recovery_key_decode"}`)
}
