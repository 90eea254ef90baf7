package signing

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
)

// The attack on member names equal under case folding: one signed object
// that Python, JavaScript and Rust clients read with the exact name
// ("user_id": "@mallory:x") and that encoding/json read with the last case
// variant ("uſer_id": "@bob:x", U+017F LATIN SMALL LETTER LONG S). Its
// signature is valid, so a co-signer that signs what it received and a
// server that serves it to Go clients turn Mallory's device into one of
// Bob's. The signing package must refuse such an object before any field
// is read.

// forge returns the object {members, "signatures": ...} with a valid
// signature by sk under each of users[i]["ed25519:"+keyName]. members must
// be written in canonical form and order, because they are the signed
// bytes as written: the library itself refuses to canonicalise them.
func forge(t *testing.T, members string, keyName string, sk *key.SigningKey, users ...string) []byte {
	t.Helper()
	sig := sk.Sign([]byte("{" + members + "}"))
	var sigs []string
	for _, u := range users {
		sigs = append(sigs, fmt.Sprintf(`"%s":{"ed25519:%s":"%s"}`, u, keyName, b64.Encode(sig[:])))
	}
	return []byte("{" + members + `,"signatures":{` + strings.Join(sigs, ",") + "}}")
}

// refused checks that every entry point refuses obj as malformed.
func refused(t *testing.T, name string, obj []byte, parse func([]byte) error) {
	t.Helper()
	if err := parse(obj); !errors.Is(err, ErrMalformed) {
		t.Errorf("%s: parsed (err %v): %s", name, err, obj)
	}
	if _, err := Canonical(obj); !errors.Is(err, ErrMalformed) {
		t.Errorf("%s: Canonical: %v", name, err)
	}
	if _, err := SigningBytes(obj); !errors.Is(err, ErrMalformed) {
		t.Errorf("%s: SigningBytes: %v", name, err)
	}
}

func deviceMembers(keys, user string) string {
	return `"algorithms":["m.olm.v1.curve25519-aes-sha2"],"device_id":"DEV",` + keys + "," + user
}

func devKeys(c, e string) string {
	return `"keys":{"curve25519:DEV":"` + c + `","ed25519:DEV":"` + e + `"}`
}

func TestCaseFoldedUserIDAttack(t *testing.T) {
	dev := testKey(t, 7)
	keys := devKeys(key.Curve25519{42}.String(), dev.Public().String())
	obj := forge(t, deviceMembers(keys, `"user_id":"@mallory:x","uſer_id":"@bob:x"`), "DEV", dev, "@bob:x", "@mallory:x")
	if d, err := VerifyDeviceKeys(obj, "@bob:x", "DEV"); err == nil {
		t.Fatalf("Mallory's device keys verified as %s's device", d.UserID)
	}
	if err := Verify(obj, "@mallory:x", "DEV", dev.Public()); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify: %v", err)
	}
	refused(t, "uſer_id", obj, func(b []byte) error { _, err := ParseDeviceKeys(b); return err })

	// The escaped spelling is the same name.
	esc := forge(t, deviceMembers(keys, `"user_id":"@mallory:x","u\u017fer_id":"@bob:x"`), "DEV", dev, "@bob:x")
	refused(t, `u\u017fer_id`, esc, func(b []byte) error { _, err := VerifyDeviceKeys(b, "@bob:x", "DEV"); return err })
}

// TestCaseFoldedKeysAttack: "\u212aeys" (U+212A KELVIN SIGN) carries the
// Curve25519 key of the attacker's choice beside the real "keys".
func TestCaseFoldedKeysAttack(t *testing.T) {
	dev := testKey(t, 7)
	real := devKeys(key.Curve25519{42}.String(), dev.Public().String())
	evil := strings.Replace(devKeys(key.Curve25519{66}.String(), dev.Public().String()), `"keys"`, `"`+"\u212a"+`eys"`, 1)
	members := `"algorithms":["m.olm.v1.curve25519-aes-sha2"],"device_id":"DEV",` + real + `,"user_id":"@bob:x",` + evil
	obj := forge(t, members, "DEV", dev, "@bob:x")
	if d, err := VerifyDeviceKeys(obj, "@bob:x", "DEV"); err == nil {
		t.Fatalf("verified, Curve25519 key %v", d.Curve25519)
	}
	refused(t, "Kelvin keys", obj, func(b []byte) error { _, err := ParseDeviceKeys(b); return err })
}

// TestASCIICaseUserIDAttack: "USER_ID" written last in the input (it sorts
// first in canonical JSON) is as ambiguous as a Unicode variant.
func TestASCIICaseUserIDAttack(t *testing.T) {
	dev := testKey(t, 7)
	keys := devKeys(key.Curve25519{42}.String(), dev.Public().String())
	obj := forge(t, `"USER_ID":"@bob:x",`+deviceMembers(keys, `"user_id":"@mallory:x"`), "DEV", dev, "@bob:x", "@mallory:x")
	// Move "USER_ID" to the end of the object as sent.
	sent := strings.Replace(string(obj), `"USER_ID":"@bob:x",`, "", 1)
	sent = sent[:len(sent)-1] + `,"USER_ID":"@bob:x"}`
	for _, in := range [][]byte{obj, []byte(sent)} {
		if _, err := VerifyDeviceKeys(in, "@mallory:x", "DEV"); !errors.Is(err, ErrMalformed) {
			t.Errorf("accepted as @mallory:x: %v", err)
		}
		refused(t, "USER_ID", in, func(b []byte) error { _, err := ParseDeviceKeys(b); return err })
	}
}

// TestCaseFoldedNestedNames: the rule holds inside keys and signatures
// too, where the names are key IDs and user IDs.
func TestCaseFoldedNestedNames(t *testing.T) {
	dev := testKey(t, 7)
	c, e := key.Curve25519{42}.String(), dev.Public().String()
	inKeys := `"keys":{"curve25519:DEV":"` + c + `","ed25519:DEV":"` + e + `","ed25519:dev":"` + e + `"}`
	obj := forge(t, deviceMembers(inKeys, `"user_id":"@bob:x"`), "DEV", dev, "@bob:x")
	refused(t, "keys", obj, func(b []byte) error { _, err := VerifyDeviceKeys(b, "@bob:x", "DEV"); return err })

	obj = forge(t, deviceMembers(devKeys(c, e), `"user_id":"@bob:x"`), "DEV", dev, "@bob:x", "@BOB:x")
	refused(t, "signatures user", obj, func(b []byte) error { _, err := VerifyDeviceKeys(b, "@bob:x", "DEV"); return err })

	sig := dev.Sign([]byte("{" + deviceMembers(devKeys(c, e), `"user_id":"@bob:x"`) + "}"))
	s := b64.Encode(sig[:])
	obj = []byte("{" + deviceMembers(devKeys(c, e), `"user_id":"@bob:x"`) +
		`,"signatures":{"@bob:x":{"ed25519:DEV":"` + s + `","ed25519:\u212a":"` + s + `","ed25519:k":"` + s + `"}}}`)
	refused(t, "signatures key ID", obj, func(b []byte) error { _, err := VerifyDeviceKeys(b, "@bob:x", "DEV"); return err })

	// Siblings may repeat a name; only one object's own names must differ.
	ok := forge(t, deviceMembers(devKeys(c, e), `"user_id":"@bob:x"`), "DEV", dev, "@bob:x")
	if _, err := VerifyDeviceKeys(ok, "@bob:x", "DEV"); err != nil {
		t.Fatalf("the honest object: %v", err)
	}
}

func TestCaseFoldedCrossSigningKeyAttack(t *testing.T) {
	msk := testKey(t, 8)
	pub := msk.Public().String()
	keys := `"keys":{"ed25519:` + pub + `":"` + pub + `"}`
	parse := func(b []byte) error { _, err := ParseCrossSigningKey(b); return err }
	for name, members := range map[string]string{
		"uſer_id":     keys + `,"usage":["master"],"user_id":"@mallory:x","uſer_id":"@bob:x"`,
		"uſage":       keys + `,"usage":["user_signing"],"user_id":"@mallory:x","uſage":["master"]`,
		"USAGE":       `"USAGE":["master"],` + keys + `,"usage":["user_signing"],"user_id":"@mallory:x"`,
		"Kelvin keys": keys + `,"usage":["master"],"user_id":"@mallory:x","` + "\u212a" + `eys":{"ed25519:A":"A"}`,
		"in keys":     `"keys":{"ED25519:` + pub + `":"` + pub + `","ed25519:` + pub + `":"` + pub + `"},"usage":["master"],"user_id":"@mallory:x"`,
	} {
		obj := forge(t, members, pub, msk, "@mallory:x", "@bob:x")
		refused(t, name, obj, parse)
		if err := Verify(obj, "@bob:x", pub, msk.Public()); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify: %v", name, err)
		}
	}
	obj := forge(t, keys+`,"usage":["master"],"user_id":"@bob:x"`, pub, msk, "@bob:x", "@BOB:x")
	refused(t, "in signatures", obj, parse)

	// A master key that signs a self-signing key read as another user's:
	// the chain check never sees it.
	ssk := testKey(t, 9)
	spub := ssk.Public().String()
	sub := forge(t, `"keys":{"ed25519:`+spub+`":"`+spub+`"},"usage":["self_signing"],"user_id":"@mallory:x","uſer_id":"@bob:x"`, pub, msk, "@bob:x", "@mallory:x")
	if c, err := ParseCrossSigningKey(sub); err == nil {
		t.Fatalf("self-signing key parsed as %s's", c.UserID)
	}
}

// TestCanonicalFoldedKeys: the canonical encoder refuses keys equal under
// simple case folding in any object, small or large, and nothing else.
func TestCanonicalFoldedKeys(t *testing.T) {
	for _, in := range []string{
		`{"a":1,"A":2}`,
		`{"user_id":1,"uſer_id":2}`,
		`{"keys":1,"\u212aeys":2}`,
		`{"ǅ":1,"ǆ":2}`,
		`{"ß":1,"ẞ":2}`,
		`[{"x":[{"θ":1,"ϑ":2}]}]`,
		`{"unsigned":{"a":1,"A":2}}`,
		largeObject(40, `"\u212a":0`),
		largeObject(40, `"K":0`),
	} {
		if _, err := Canonical([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.60s: %v", in, err)
		}
	}
	for _, in := range []string{
		`{"a":{"b":1},"c":{"b":2}}`,
		`{"ss":1,"ß":2}`, // equal only under full folding, which no decoder uses
		`{"a":1,"b":2}`,
		largeObject(40, `"q":0`),
	} {
		if _, err := Canonical([]byte(in)); err != nil {
			t.Errorf("%.60s: %v", in, err)
		}
	}
}

func largeObject(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(extra + `,"k":1}`)
	return b.String()
}
