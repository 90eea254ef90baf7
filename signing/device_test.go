package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/key"
)

func testKey(t testing.TB, b byte) *key.SigningKey {
	t.Helper()
	seed := bytes.Repeat([]byte{b}, 32)
	k, err := key.NewSigningKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testDevice(t testing.TB, user, device string, ed *key.SigningKey) *DeviceKeys {
	t.Helper()
	d, err := NewDeviceKeys(user, device, nil, key.Curve25519{9, 9}, ed.Public(), ed)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustJSON(t testing.TB, v json.Marshaler) []byte {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeviceKeysRoundTrip(t *testing.T) {
	ed := testKey(t, 1)
	d := testDevice(t, "@alice:example.org", "JLAFKJWSCS", ed)
	b := mustJSON(t, d)
	want := `{"algorithms":["m.olm.v1.curve25519-aes-sha2","m.megolm.v1.aes-sha2"],"device_id":"JLAFKJWSCS","keys":{"curve25519:JLAFKJWSCS":"` +
		(key.Curve25519{9, 9}).String() + `","ed25519:JLAFKJWSCS":"` + ed.Public().String() + `"},"signatures":{"@alice:example.org":{"ed25519:JLAFKJWSCS":"`
	if !strings.HasPrefix(string(b), want) {
		t.Fatalf("got %s", b)
	}
	// /keys/query adds unsigned data; it does not disturb the signature.
	withName := bytes.Replace(b, []byte(`"user_id"`), []byte(`"unsigned":{"device_display_name":"Alice's phone"},"user_id"`), 1)
	got, err := VerifyDeviceKeys(withName, "@alice:example.org", "JLAFKJWSCS")
	if err != nil {
		t.Fatal(err)
	}
	if got.Ed25519 != ed.Public() || got.Curve25519 != (key.Curve25519{9, 9}) || got.DisplayName() != "Alice's phone" ||
		!got.HasAlgorithm(AlgorithmMegolm) || got.HasAlgorithm("m.other") {
		t.Fatalf("parsed %+v", got)
	}
	// A device announcing an extra, unknown field still verifies: the
	// signature covers what it signed, not what we model.
	extra, err := Sign(append([]byte(`{"x-extra":{"n":1},`), b[1:]...), "@alice:example.org", "JLAFKJWSCS", ed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDeviceKeys(extra, "@alice:example.org", "JLAFKJWSCS"); err != nil {
		t.Fatalf("extra field: %v", err)
	}
	if _, err := NewDeviceKeys("@a:b", "D", nil, key.Curve25519{}, ed.Public(), testKey(t, 2)); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("signer mismatch not caught: %v", err)
	}
}

// testAccount is an Account made of a signing key and a Curve25519 key.
type testAccount struct {
	*key.SigningKey
	curve key.Curve25519
}

func (a testAccount) Curve25519() key.Curve25519 { return a.curve }
func (a testAccount) Ed25519() key.Ed25519       { return a.Public() }

func TestAccountDeviceKeys(t *testing.T) {
	acct := testAccount{testKey(t, 4), key.Curve25519{4}}
	d, err := AccountDeviceKeys(acct, "@a:b", "DEV", []string{AlgorithmOlm})
	if err != nil {
		t.Fatal(err)
	}
	if d.Curve25519 != acct.curve || d.Ed25519 != acct.Public() || d.HasAlgorithm(AlgorithmMegolm) {
		t.Fatalf("%+v", d)
	}
	if _, err := VerifyDeviceKeys(mustJSON(t, d), "@a:b", "DEV"); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDeviceKeysFailures(t *testing.T) {
	ed := testKey(t, 1)
	good := string(mustJSON(t, testDevice(t, "@alice:example.org", "DEV", ed)))
	resign := func(s string) string {
		b, err := Sign([]byte(s), "@alice:example.org", "DEV", ed)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, in, user, device string
		want                   error
	}{
		{"wrong user", good, "@mallory:example.org", "DEV", ErrAuthentication},
		{"wrong device", good, "@alice:example.org", "OTHER", ErrAuthentication},
		{"ed25519 key swapped", strings.Replace(good, ed.Public().String(), testKey(t, 3).Public().String(), 1), "@alice:example.org", "DEV", ErrAuthentication},
		{"curve key changed", strings.Replace(good, (key.Curve25519{9, 9}).String(), (key.Curve25519{9, 8}).String(), 1), "@alice:example.org", "DEV", ErrAuthentication},
		{"no signature", strings.Replace(good, `"@alice:example.org":{`, `"@bob:example.org":{`, 1), "@alice:example.org", "DEV", ErrNotSigned},
		{"missing curve key", resign(strings.Replace(good, `"curve25519:DEV"`, `"curve25519:XXX"`, 1)), "@alice:example.org", "DEV", ErrMalformed},
		{"missing algorithms", resign(strings.Replace(good, `"algorithms"`, `"algos"`, 1)), "@alice:example.org", "DEV", ErrMalformed},
		{"bad key", resign(strings.Replace(good, `"curve25519:DEV":"`, `"curve25519:DEV":"!`, 1)), "@alice:example.org", "DEV", key.ErrMalformed},
		{"user_id not a string", resign(strings.Replace(good, `"user_id":"@alice:example.org"`, `"user_id":5`, 1)), "@alice:example.org", "DEV", ErrMalformed},
		{"not JSON", good[:len(good)-1], "@alice:example.org", "DEV", ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := VerifyDeviceKeys([]byte(tt.in), tt.user, tt.device); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSignedKey(t *testing.T) {
	ed := testKey(t, 1)
	otk := key.Curve25519{7}
	for _, fallback := range []bool{false, true} {
		sk := NewSignedKey(otk, fallback, "@alice:example.org", "DEV", ed)
		b := mustJSON(t, sk)
		if strings.Contains(string(b), `"fallback":true`) != fallback {
			t.Fatalf("fallback=%v: %s", fallback, b)
		}
		got, err := VerifySignedKey(b, "@alice:example.org", "DEV", ed.Public())
		if err != nil || got.Key != otk || got.Fallback != fallback {
			t.Fatalf("fallback=%v: %+v %v", fallback, got, err)
		}
		if _, err := VerifySignedKey(b, "@alice:example.org", "DEV", testKey(t, 2).Public()); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("wrong device key accepted: %v", err)
		}
	}
	// fallback is inside the signed data: adding or removing it breaks the signature.
	b := mustJSON(t, NewSignedKey(otk, false, "@alice:example.org", "DEV", ed))
	forged := bytes.Replace(b, []byte(`{"key"`), []byte(`{"fallback":true,"key"`), 1)
	if _, err := VerifySignedKey(forged, "@alice:example.org", "DEV", ed.Public()); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("fallback flag not signed: %v", err)
	}
	if _, err := VerifySignedKey([]byte(`{"signatures":{}}`), "@a:b", "D", ed.Public()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("missing key: %v", err)
	}
}

// crossSigning builds a user's master, self-signing and user-signing keys.
type crossSigning struct {
	user          string
	mskS, sskS    *key.SigningKey
	uskS          *key.SigningKey
	msk, ssk, usk *CrossSigningKey
}

func newCrossSigning(t testing.TB, user string, seed byte) *crossSigning {
	c := &crossSigning{user: user, mskS: testKey(t, seed), sskS: testKey(t, seed+1), uskS: testKey(t, seed+2)}
	c.msk = NewCrossSigningKey(user, UsageMaster, c.mskS.Public())
	c.ssk = NewCrossSigningKey(user, UsageSelfSigning, c.sskS.Public())
	c.usk = NewCrossSigningKey(user, UsageUserSigning, c.uskS.Public())
	c.ssk.AddSignature(user, c.msk.KeyName(), c.mskS)
	c.usk.AddSignature(user, c.msk.KeyName(), c.mskS)
	return c
}

// reparse round-trips a key through JSON, as it would come from /keys/query.
func reparse(t testing.TB, c *CrossSigningKey) *CrossSigningKey {
	t.Helper()
	p, err := ParseCrossSigningKey(mustJSON(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCrossSigningChains(t *testing.T) {
	alice := newCrossSigning(t, "@alice:example.org", 10)
	bob := newCrossSigning(t, "@bob:example.org", 20)
	bobDev := testDevice(t, bob.user, "BOBPHONE", testKey(t, 30))
	bobDev.AddSignature(bob.user, bob.ssk.KeyName(), bob.sskS)
	bob.msk.AddSignature(alice.user, alice.usk.KeyName(), alice.uskS)

	dev, err := VerifyDeviceKeys(mustJSON(t, bobDev), bob.user, "BOBPHONE")
	if err != nil {
		t.Fatal(err)
	}
	amsk, ausk := reparse(t, alice.msk), reparse(t, alice.usk)
	bmsk, bssk := reparse(t, bob.msk), reparse(t, bob.ssk)
	if err := VerifyDevice(dev, bmsk, bssk); err != nil {
		t.Fatalf("own-user chain: %v", err)
	}
	if err := VerifyUser(bmsk, amsk, ausk); err != nil {
		t.Fatalf("user chain: %v", err)
	}
	if err := VerifyUserDevice(dev, bmsk, bssk, amsk, ausk); err != nil {
		t.Fatalf("full chain: %v", err)
	}

	mallory := newCrossSigning(t, "@mallory:example.org", 40)
	unsignedDev, _ := VerifyDeviceKeys(mustJSON(t, testDevice(t, bob.user, "NEWDEV", testKey(t, 31))), bob.user, "NEWDEV")
	malloryDev := testDevice(t, bob.user, "EVIL", testKey(t, 32))
	malloryDev.AddSignature(bob.user, mallory.ssk.KeyName(), mallory.sskS)
	collide := testDevice(t, bob.user, bob.ssk.KeyName(), bob.sskS)
	collide.AddSignature(bob.user, bob.ssk.KeyName(), bob.sskS)
	sskAsUSK := NewCrossSigningKey(bob.user, UsageUserSigning, bob.sskS.Public())
	sskAsUSK.AddSignature(bob.user, bob.msk.KeyName(), bob.mskS)
	aliceDev := testDevice(t, alice.user, "ALICEDEV", testKey(t, 33))
	aliceDev.AddSignature(alice.user, alice.ssk.KeyName(), alice.sskS)

	tests := []struct {
		name string
		err  error
	}{
		{"device not cross-signed", VerifyDevice(unsignedDev, bmsk, bssk)},
		{"device signed by another SSK", VerifyDevice(malloryDev, bmsk, bssk)},
		{"device of another user", VerifyDevice(aliceDev, bmsk, bssk)},
		{"SSK of another user", VerifyDevice(dev, bmsk, reparse(t, mallory.ssk))},
		{"SSK not signed by this MSK", VerifyDevice(dev, reparse(t, mallory.msk), bssk)},
		{"USK used as SSK", VerifyDevice(dev, bmsk, reparse(t, bob.usk))},
		{"SSK used as USK", VerifyUser(amsk, bmsk, reparse(t, sskAsUSK))},
		{"device ID equals SSK", VerifyDevice(collide, bmsk, bssk)},
		{"master not signed by our USK", VerifyUser(reparse(t, mallory.msk), amsk, ausk)},
		{"their SSK as master", VerifyUser(bssk, amsk, ausk)},
		{"USK of another user", VerifyUser(bmsk, amsk, reparse(t, mallory.usk))},
		{"chain to unsigned device", VerifyUserDevice(unsignedDev, bmsk, bssk, amsk, ausk)},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrChain) {
			t.Errorf("%s: got %v, want ErrChain", tt.name, tt.err)
		}
	}
}

func TestParseCrossSigningKeyInvalid(t *testing.T) {
	pub := testKey(t, 5).Public().String()
	tests := []string{
		`{"usage":["master"],"keys":{"ed25519:` + pub + `":"` + pub + `"}}`,
		`{"user_id":"@a:b","usage":[],"keys":{"ed25519:` + pub + `":"` + pub + `"}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:` + pub + `":"` + pub + `","ed25519:x":"x"}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:DEVICE":"` + pub + `"}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{"curve25519:` + pub + `":"` + pub + `"}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:abc":"abc"}}`,
		`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:` + pub + `=":"` + pub + `="}}`,
		`{"user_id":"@a:b","usage":"master","keys":{"ed25519:` + pub + `":"` + pub + `"}}`,
	}
	for _, in := range tests {
		if _, err := ParseCrossSigningKey([]byte(in)); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
	c, err := ParseCrossSigningKey([]byte(`{"user_id":"@a:b","usage":["master"],"keys":{"ed25519:` + pub + `":"` + pub + `"}}`))
	if err != nil || VerifyMaster(c, "@a:b") != nil || VerifyMaster(c, "@c:d") == nil {
		t.Fatalf("valid master: %v", err)
	}
}

func BenchmarkVerifyDeviceKeys(b *testing.B) {
	ed := testKey(b, 1)
	dev := mustJSON(b, testDevice(b, "@alice:example.org", "JLAFKJWSCS", ed))
	b.SetBytes(int64(len(dev)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyDeviceKeys(dev, "@alice:example.org", "JLAFKJWSCS"); err != nil {
			b.Fatal(err)
		}
	}
}
