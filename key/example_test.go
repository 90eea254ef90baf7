package key_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/sicher-go/sicher/key"
)

// Alice signs a message with her device's Ed25519 key; Bob parses her
// public key from its Matrix base64 form and verifies strictly.
func Example() {
	alice, err := key.GenerateSigningKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	published := alice.Public().String() // what goes into her device keys

	msg := []byte(`{"algorithms":["m.olm.v1.curve25519-aes-sha2"]}`)
	sig := alice.Sign(msg)

	pub, err := key.ParseEd25519(published)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid:", pub.Verify(msg, sig) == nil)
	fmt.Println("tampered:", pub.Verify(append(msg, ' '), sig))
	// Output:
	// valid: true
	// tampered: key: Ed25519 signature does not verify
}

// A peer that sends a low-order Curve25519 key gets an error, not an
// all-zero shared secret.
func ExampleX25519() {
	ours, err := key.GenerateCurve25519(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	var lowOrder key.Curve25519 // the all-zero point has order 4
	_, err = key.X25519(ours, lowOrder)
	fmt.Println(errors.Is(err, key.ErrNonContributory))
	// Output: true
}

func ExampleKeyID() {
	fmt.Println(key.KeyID(1), key.KeyID(42))
	// Output: AAAAAQ AAAAKg
}
