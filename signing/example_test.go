package signing_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/signing"
)

func ExampleCanonical() {
	out, err := signing.Canonical([]byte(`{"b": "<&>", "a": [1e3, -0], "本": 2, "日": 1}`))
	fmt.Println(string(out), err)
	_, err = signing.Canonical([]byte(`{"price": 1.5}`))
	fmt.Println(err)
	// Output:
	// {"a":[1000,0],"b":"<&>","日":1,"本":2} <nil>
	// signing: number 1.5 is not an integer (canonical JSON has no floats)
}

// Alice signs her device keys; Bob, who fetched them from the server,
// checks them before he trusts the Curve25519 key in them. Then Alice's
// self-signing key cross-signs the device, and Bob checks that chain too.
func ExampleVerifyDevice() {
	seed := func(b byte) *key.SigningKey { k, _ := key.NewSigningKey(bytes.Repeat([]byte{b}, 32)); return k }
	aliceDevice, aliceMaster, aliceSelf := seed(1), seed(2), seed(3)

	dev, _ := signing.NewDeviceKeys("@alice:example.org", "ALICEPHONE", nil, key.Curve25519{42}, aliceDevice.Public(), aliceDevice)
	msk := signing.NewCrossSigningKey("@alice:example.org", signing.UsageMaster, aliceMaster.Public())
	ssk := signing.NewCrossSigningKey("@alice:example.org", signing.UsageSelfSigning, aliceSelf.Public())
	ssk.AddSignature("@alice:example.org", msk.KeyName(), aliceMaster)
	dev.AddSignature("@alice:example.org", ssk.KeyName(), aliceSelf)

	// What Bob receives from /keys/query:
	devJSON, _ := dev.MarshalJSON()
	mskJSON, _ := msk.MarshalJSON()
	sskJSON, _ := ssk.MarshalJSON()

	got, err := signing.VerifyDeviceKeys(devJSON, "@alice:example.org", "ALICEPHONE")
	fmt.Println("self-signed:", err == nil, got.Curve25519 == key.Curve25519{42})
	m, _ := signing.ParseCrossSigningKey(mskJSON)
	s, _ := signing.ParseCrossSigningKey(sskJSON)
	fmt.Println("cross-signed:", signing.VerifyDevice(got, m, s) == nil)

	// A server that swaps the Curve25519 key is caught.
	forged := bytes.Replace(devJSON, []byte(key.Curve25519{42}.String()), []byte(key.Curve25519{43}.String()), 1)
	_, err = signing.VerifyDeviceKeys(forged, "@alice:example.org", "ALICEPHONE")
	fmt.Println(err != nil)
	// Output:
	// self-signed: true true
	// cross-signed: true
	// true
}

// The spec's signing example (appendices, "Signing JSON").
func ExampleSign() {
	seed, _ := base64.RawStdEncoding.DecodeString("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	sk, _ := key.NewSigningKey(seed)
	signed, _ := signing.Sign([]byte(`{"one": 1, "two": "Two"}`), "domain", "1", sk)
	fmt.Println(string(signed))
	fmt.Println(signing.Verify(signed, "domain", "1", sk.Public()))
	// Output:
	// {"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}
	// <nil>
}

// Alice signs an object; Bob verifies it. A server that adds a member
// whose name differs from "user_id" only in case, hoping that some client
// reads one and some the other, gets the object refused as malformed.
func Example() {
	seed := bytes.Repeat([]byte{1}, 32)
	alice, _ := key.NewSigningKey(seed)

	signed, _ := signing.Sign([]byte(`{"user_id": "@alice:example.org", "n": 1}`), "@alice:example.org", "PHONE", alice)
	fmt.Println(signing.Verify(signed, "@alice:example.org", "PHONE", alice.Public()))

	tampered := bytes.Replace(signed, []byte(`"n":1`), []byte(`"n":2`), 1)
	err := signing.Verify(tampered, "@alice:example.org", "PHONE", alice.Public())
	fmt.Println(errors.Is(err, signing.ErrAuthentication))

	twoNames := bytes.Replace(signed, []byte(`{`), []byte(`{"uſer_id":"@bob:example.org",`), 1)
	err = signing.Verify(twoNames, "@alice:example.org", "PHONE", alice.Public())
	fmt.Println(errors.Is(err, signing.ErrMalformed))
	// Output:
	// <nil>
	// true
	// true
}
