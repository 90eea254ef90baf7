package ratchet_test

import (
	"crypto/rand"
	"fmt"

	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/key"
)

// Alice and Bob drive the Double Ratchet directly, with a shared secret
// standing in for the 3DH that package olm performs. The open function is
// where olm verifies the MAC and decrypts; here it only reports the index.
func Example() {
	shared := make([]byte, 96) // the 3DH secret
	rand.Read(shared)
	t0, err := key.GenerateCurve25519(rand.Reader) // Alice's first ratchet key
	if err != nil {
		panic(err)
	}
	alice := ratchet.NewAlice(shared, t0)
	bob := ratchet.NewBob(shared, key.Curve25519Public(t0))

	deliver := func(from, to *ratchet.Ratchet, name string) {
		ratchetKey, sent, err := from.NextMessageKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		err = to.Receive(ratchetKey, sent.Index(), func(got ratchet.MessageKey) error {
			if got.Bytes() != sent.Bytes() {
				return fmt.Errorf("keys differ")
			}
			return nil
		})
		fmt.Printf("%s: message %d, %v\n", name, sent.Index(), err)
	}
	deliver(alice, bob, "Alice to Bob")
	deliver(alice, bob, "Alice to Bob")
	deliver(bob, alice, "Bob to Alice") // Bob's first chain: a ratchet step on each side
	deliver(alice, bob, "Alice to Bob") // a new chain again
	// Output:
	// Alice to Bob: message 0, <nil>
	// Alice to Bob: message 1, <nil>
	// Bob to Alice: message 0, <nil>
	// Alice to Bob: message 0, <nil>
}
