package sas_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
)

// A full m.sas.v1 exchange between Alice (who sends the start event) and
// Bob. Real clients pass nil (crypto/rand) to New; the fixed keys here
// (RFC 7748's) make the output reproducible.
func Example() {
	alicePriv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	bobPriv, _ := hex.DecodeString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	aliceDev := sas.Device{UserID: "@alice:example.org", DeviceID: "AAAAAAAAAA"}
	bobDev := sas.Device{UserID: "@bob:example.org", DeviceID: "BBBBBBBBBB"}
	const txn = "txn1"

	// Alice sends m.key.verification.start offering what she supports.
	startContent := `{
		"from_device": "AAAAAAAAAA", "method": "m.sas.v1", "transaction_id": "txn1",
		"key_agreement_protocols": ["curve25519-hkdf-sha256"], "hashes": ["sha256"],
		"message_authentication_codes": ["hkdf-hmac-sha256.v2"],
		"short_authentication_string": ["decimal", "emoji"]
	}`
	// Both sides hash the canonical JSON of the content as Bob received it.
	start, err := signing.Canonical([]byte(startContent))
	if err != nil {
		panic(err)
	}
	var offered sas.Methods
	if err := json.Unmarshal(start, &offered); err != nil {
		panic(err)
	}

	// Bob picks the methods, makes his key and commits to it in accept.
	agreed, err := sas.Negotiate(sas.Supported(), offered)
	if err != nil {
		panic(err)
	}
	bob, _ := sas.NewFrom(bytes.NewReader(bobPriv))
	commitment := sas.Commitment(bob.PublicKey(), start)

	// Alice sends her key; Bob answers with his; Alice checks the commitment.
	alice, _ := sas.NewFrom(bytes.NewReader(alicePriv))
	bobSide, err := bob.SetTheirKey(alice.PublicKey())
	if err != nil {
		panic(err)
	}
	if err := sas.VerifyCommitment(commitment, bob.PublicKey(), start); err != nil {
		panic(err) // cancel with m.mismatched_commitment
	}
	aliceSide, err := alice.SetTheirKey(bob.PublicKey())
	if err != nil {
		panic(err)
	}

	// Both show the same emoji; the users compare them.
	info := sas.SASInfo(aliceDev, alice.PublicKey(), bobDev, bob.PublicKey(), txn)
	for _, e := range aliceSide.Emoji(info) {
		fmt.Printf("%s %s (%s)\n", e.Emoji, e.Description, e.German)
	}
	fmt.Println(aliceSide.Decimals(info) == bobSide.Decimals(info))

	// After the users confirm, Alice MACs her device key for Bob.
	method, _ := sas.ParseMACMethod(agreed.MessageAuthenticationCode)
	macEvent, _ := aliceSide.MACKeys(method, aliceDev, bobDev, txn, map[string]string{
		"ed25519:AAAAAAAAAA": "lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI",
	})
	// Bob checks it against the key he has for Alice's device.
	verified, err := bobSide.VerifyKeys(method, aliceDev, bobDev, txn, macEvent, map[string]string{
		"ed25519:AAAAAAAAAA": "lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI",
	})
	fmt.Println(commitment)
	fmt.Println(agreed.MessageAuthenticationCode, verified, err)
	// Output:
	// 🎁 Gift (Geschenk)
	// 🚲 Bicycle (Fahrrad)
	// 🍕 Pizza (Pizza)
	// 🐙 Octopus (Oktopus)
	// 🎅 Santa (Weihnachtsmann)
	// 😀 Smiley (Lächeln)
	// ✏️ Pencil (Bleistift)
	// true
	// jdkOvDC03j56pAOpggvibNjqYkeFO5ZxR4iDE7wEQwU
	// hkdf-hmac-sha256.v2 [ed25519:AAAAAAAAAA] <nil>
}
