package sas

import (
	"encoding/json"
	"errors"
	"maps"
	"testing"
)

// TestKeyListCommaDropsMasterKey is the attack on the key-list MAC: the
// list is the sorted key IDs joined with commas, so a sender whose MAC
// event holds the IDs "ed25519:DEV,ed25519:MSK" (one ID) and a receiver
// who sees the two IDs "ed25519:DEV" and "ed25519:MSK" MAC the same text.
// A man in the middle who can make one side use a comma-holding ID can
// then add or drop keys (the master key) without a MAC failure. Both
// directions must refuse such IDs.
func TestKeyListCommaDropsMasterKey(t *testing.T) {
	ea, eb := pair(t)
	alice := Device{"@alice:example.org", "ALICEDEV"}
	bob := Device{"@bob:example.org", "BOBDEV"}
	const msk = "Ez9G4JfsmtAnm4+l35Xa6TTW4uyKZG3UbdH2ttQDl2s"
	const dev = "lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI"
	m := HKDFHMACSHA256V2

	// The sender refuses to MAC a comma-holding ID.
	if _, err := ea.MACKeys(m, alice, bob, "txn", map[string]string{"ed25519:ALICEDEV,ed25519:" + msk: dev}); err == nil {
		t.Fatal("MACKeys accepted a key ID with a comma")
	}

	// A forged event whose key list text equals that of the honest two
	// keys, built with the package's own MAC (as a MITM holding the SAS
	// secret of one leg would).
	forged := MACContent{MAC: map[string]string{}}
	id := "ed25519:ALICEDEV,ed25519:" + msk
	mac, err := ea.MAC(m, []byte(dev), macInfo(alice, bob, "txn", id))
	if err != nil {
		t.Fatal(err)
	}
	forged.MAC[id] = mac
	forged.Keys, err = ea.MAC(m, []byte("ed25519:ALICEDEV,ed25519:"+msk), macInfo(alice, bob, "txn", keyIDsMACSuffix))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{id: dev, "ed25519:ALICEDEV": dev, "ed25519:" + msk: msk}
	if ids, err := eb.VerifyKeys(m, alice, bob, "txn", forged, known); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("VerifyKeys accepted a key ID with a comma: %v, %v", ids, err)
	}
}

// TestMACEventKeyIDNamespace checks that only "ed25519:<device ID or
// base64 key>" IDs pass, in MACKeys and in VerifyKeys.
func TestMACEventKeyIDNamespace(t *testing.T) {
	ea, eb := pair(t)
	alice := Device{"@alice:example.org", "ALICEDEV"}
	bob := Device{"@bob:example.org", "BOBDEV"}
	good := map[string]string{"ed25519:ALICEDEV": "lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI"}
	for _, bad := range []string{
		"", "ed25519:", "curve25519:ALICEDEV", "ALICEDEV", "KEY_IDS", "ed25519:A B",
		"ed25519:A,B", ",", "ed25519:\x00", "ed25519:é", "Ed25519:ALICEDEV",
	} {
		keys := maps.Clone(good)
		keys[bad] = "x"
		if _, err := ea.MACKeys(HKDFHMACSHA256V2, alice, bob, "txn", keys); err == nil {
			t.Errorf("MACKeys accepted key ID %q", bad)
		}
		c, err := ea.MACKeys(HKDFHMACSHA256V2, alice, bob, "txn", good)
		if err != nil {
			t.Fatal(err)
		}
		c.MAC[bad] = c.MAC["ed25519:ALICEDEV"]
		if _, err := eb.VerifyKeys(HKDFHMACSHA256V2, alice, bob, "txn", c, good); !errors.Is(err, ErrAuthentication) {
			t.Errorf("VerifyKeys accepted key ID %q: %v", bad, err)
		}
	}
	if _, err := ea.MACKeys(HKDFHMACSHA256V2, alice, bob, "txn", nil); err == nil {
		t.Error("MACKeys accepted an empty key set")
	}
}

// TestMACContentStrictJSON checks that a MAC event with duplicate or
// case-variant member names is refused.
func TestMACContentStrictJSON(t *testing.T) {
	for _, in := range []string{
		`{"mac":{"ed25519:A":"x"},"keys":"a","keys":"b"}`,
		`{"mac":{"ed25519:A":"x"},"keys":"a","Keys":"b"}`,
		`{"mac":{"ed25519:A":"x","ed25519:A":"y"},"keys":"a"}`,
		`{"MAC":{"ed25519:A":"x"},"keys":"a"}`,
	} {
		var c MACContent
		err := json.Unmarshal([]byte(in), &c)
		if err == nil && in != `{"MAC":{"ed25519:A":"x"},"keys":"a"}` {
			t.Errorf("accepted %s", in)
		}
		if err == nil && c.MAC != nil {
			t.Errorf("%s: case-folded member decoded: %+v", in, c)
		}
	}
}

// FuzzVerifyKeys decodes arbitrary MAC event content and verifies it: no
// panic, and every failure is an authentication failure, no known key, or
// JSON the strict decoder refused.
func FuzzVerifyKeys(f *testing.F) {
	ea, eb := pair(f)
	alice := Device{"@alice:example.org", "ALICEDEV"}
	bob := Device{"@bob:example.org", "BOBDEV"}
	keys := map[string]string{"ed25519:ALICEDEV": "lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI"}
	c, err := ea.MACKeys(HKDFHMACSHA256V2, alice, bob, "txn", keys)
	if err != nil {
		f.Fatal(err)
	}
	js, _ := json.Marshal(c)
	f.Add(js)
	f.Add([]byte(`{"mac":{"ed25519:A,ed25519:B":"x"},"keys":"y"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got MACContent
		if err := json.Unmarshal(data, &got); err != nil {
			return
		}
		ids, err := eb.VerifyKeys(HKDFHMACSHA256V2, alice, bob, "txn", got, keys)
		if err != nil && !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrNoKnownKeys) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err == nil && (len(ids) != 1 || ids[0] != "ed25519:ALICEDEV") {
			t.Fatalf("verified %v", ids)
		}
	})
}
