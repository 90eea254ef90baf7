package peer

import (
	"encoding/base64"
	"testing"
)

func TestPeerPk(t *testing.T) {
	s := sasPeer{t, newPeer()}
	c := s.ok(`{"cmd":"pk_decryption_create","handle":"pk","private_key_b64":%q}`, hexB64(t, peerAlicePriv))
	if c["public_key"] != peerAlicePub || c["private_key_b64"] != hexB64(t, peerAlicePriv) || c["handle"] != "pk" {
		t.Fatalf("pk_decryption_create: %v", c)
	}
	pk := s.ok(`{"cmd":"pk_decryption_private_key","pk":"pk"}`)
	if pk["private_key_b64"] != hexB64(t, peerAlicePriv) || pk["private_key_unpadded"] != "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo" {
		t.Fatalf("pk_decryption_private_key: %v", pk)
	}
	// V8 (libolm tests/test_pk.cpp).
	d := s.ok(`{"cmd":"pk_decrypt","pk":"pk","ephemeral":%q,"ciphertext":"ntk49j/KozVFtSqJXhCejg","mac":"zpzU6BkZcNI"}`, peerBobPub)
	if d["plaintext"] != "This is a test" || d["plaintext_b64"] != base64.StdEncoding.EncodeToString([]byte("This is a test")) {
		t.Fatalf("pk_decrypt V8: %v", d)
	}
	s.fail("BadMessageMAC", `{"cmd":"pk_decrypt","pk":"pk","ephemeral":%q,"ciphertext":"ntk49j/KozVFtSqJXhCejg","mac":"0YKKo6yL6p8"}`, peerBobPub)
	s.fail("BadMessageFormat", `{"cmd":"pk_decrypt","pk":"pk","ephemeral":%q,"ciphertext":"ntk49j/KozVFtSqJXhCejg","mac":"zpzU6BkZc"}`, peerBobPub)
	s.fail("BadMessageFormat", `{"cmd":"pk_decrypt","pk":"pk","ephemeral":%q,"ciphertext":"ntk49j/KozVFtSqJXhCe","mac":"zpzU6BkZcNI"}`, peerBobPub)
	s.fail("NonContributoryKey", `{"cmd":"pk_decrypt","pk":"pk","ephemeral":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":"ntk49j/KozVFtSqJXhCejg","mac":"zpzU6BkZcNI"}`)
	s.fail("PeerError", `{"cmd":"pk_decrypt","pk":"pk","ephemeral":%q,"ciphertext":"ntk49j/KozVFtSqJXhCejg"}`, peerBobPub)

	// Encrypt to the key and decrypt, text and binary.
	for _, arg := range []string{`"plaintext":"grüße"`, `"plaintext_b64":"/wD+"`, `"plaintext":{"a":1}`} {
		e := s.ok(`{"cmd":"pk_encrypt","public_key":%q,%s}`, peerAlicePub, arg)
		if len(e["ephemeral"].(string)) != 43 || len(e["mac"].(string)) != 11 {
			t.Fatalf("pk_encrypt: %v", e)
		}
		d := s.ok(`{"cmd":"pk_decrypt","pk":"pk","ephemeral":%q,"ciphertext":%q,"mac":%q}`, e["ephemeral"], e["ciphertext"], e["mac"])
		switch arg {
		case `"plaintext":"grüße"`:
			if d["plaintext"] != "grüße" {
				t.Errorf("text: %v", d)
			}
		case `"plaintext_b64":"/wD+"`:
			if d["plaintext"] != nil || d["plaintext_b64"] != "/wD+" {
				t.Errorf("binary: %v", d)
			}
		default:
			if d["plaintext"] != `{"a":1}` {
				t.Errorf("object: %v", d)
			}
		}
	}
	s.fail("NonContributoryKey", `{"cmd":"pk_encrypt","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","plaintext":"x"}`)
	s.fail("InvalidKey", `{"cmd":"pk_encrypt","public_key":"xyz","plaintext":"x"}`)

	// Pickles: V9 (libolm tests/test_pk.cpp).
	const v9 = "qx37WTQrjZLz5tId/uBX9B3/okqAbV1ofl9UnHKno1eipByCpXleAAlAZoJgYnCDOQZDQWzo3luTSfkF9pU1mOILCbbouubs6TVeDyPfgGD9i86J8irHjA"
	if p := s.ok(`{"cmd":"pk_pickle","pk":"pk","passphrase":"secret_key"}`); p["pickle"] != v9 {
		t.Fatalf("pk_pickle: %v", p)
	}
	u := s.ok(`{"cmd":"pk_unpickle","pickle":%q,"passphrase":"secret_key","handle":"pk2"}`, v9)
	if u["public_key"] != peerAlicePub || u["handle"] != "pk2" {
		t.Fatalf("pk_unpickle: %v", u)
	}
	if d := s.ok(`{"cmd":"pk_decrypt","pk":"pk2","ephemeral":%q,"ciphertext":"ntk49j/KozVFtSqJXhCejg","mac":"zpzU6BkZcNI"}`, peerBobPub); d["plaintext"] != "This is a test" {
		t.Fatalf("decrypt with unpickled key: %v", d)
	}
	s.fail("BadPickle", `{"cmd":"pk_unpickle","pickle":%q,"passphrase":"wrong"}`, v9)
	s.fail("BadPickle", `{"cmd":"pk_unpickle","pickle":"!!!","passphrase":"secret_key"}`)
	p := s.ok(`{"cmd":"pk_pickle","pk":"pk"}`)
	if u := s.ok(`{"cmd":"pk_unpickle","pickle":%q}`, p["pickle"]); u["public_key"] != peerAlicePub {
		t.Fatalf("empty passphrase: %v", u)
	}

	// A random key.
	r := s.ok(`{"cmd":"pk_decryption_create"}`)
	if r["public_key"] == peerAlicePub || len(r["public_key"].(string)) != 43 {
		t.Fatalf("random pk_decryption_create: %v", r)
	}
	s.fail("BadMessageFormat", `{"cmd":"pk_decryption_create","private_key_b64":"AAAA"}`)
	s.fail("PeerError", `{"cmd":"pk_decrypt","pk":"nope","ephemeral":"x","ciphertext":"x","mac":"x"}`)

	// PkSigning: seed = Alice's key, signature from libolm 3.2.13's
	// olm_pk_sign (keybackup/testdata/libolm_pk.py).
	sg := s.ok(`{"cmd":"pk_signing_create","seed_b64":%q,"handle":"sig"}`, hexB64(t, peerAlicePriv))
	if sg["public_key"] != "0KTOwPi1C6HpNuxWFUVKqX37J4ZPXxdgivLLsQVI8bM" || sg["seed_b64"] != hexB64(t, peerAlicePriv) {
		t.Fatalf("pk_signing_create: %v", sg)
	}
	sig := s.ok(`{"cmd":"pk_sign","signer":"sig","message_b64":"AP8="}`)
	if sig["signature"] != "emhRetjE7IAuujs0r6iAWYoXMVVigomnOqwxjLhunufqKXcg3UV7/59LkPfDHas79Gug5uRMypCqqb22eX90CQ" {
		t.Fatalf("pk_sign: %v", sig)
	}
	rs := s.ok(`{"cmd":"pk_signing_create"}`)
	sig = s.ok(`{"cmd":"pk_sign","signer":%q,"message":"hello"}`, rs["handle"])
	if v := s.ok(`{"cmd":"ed25519_verify","key":%q,"message":"hello","signature":%q}`, rs["public_key"], sig["signature"]); v["valid"] != true {
		t.Fatalf("random signature does not verify: %v", v)
	}
	s.fail("BadMessageFormat", `{"cmd":"pk_signing_create","seed_b64":"AAAA"}`)
	s.fail("PeerError", `{"cmd":"pk_sign","signer":"pk","message":"x"}`)
}
