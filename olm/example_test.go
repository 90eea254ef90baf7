package olm_test

import (
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/olm"
)

// Alice and Bob set up an Olm session and talk. Bob publishes his identity
// keys and a one-time key (normally via /keys/upload, signed); Alice
// claims the one-time key and starts a session; Bob creates his side from
// her first message, which he decrypts in the same step.
func Example() {
	alice, err := olm.NewAccount()
	if err != nil {
		panic(err)
	}
	bob, err := olm.NewAccount()
	if err != nil {
		panic(err)
	}

	// Bob publishes one-time keys.
	keys, _, err := bob.GenerateOneTimeKeys(1)
	if err != nil {
		panic(err)
	}
	bob.MarkKeysAsPublished()

	// Alice starts a session with Bob's identity key and one-time key.
	aliceSession, err := alice.NewOutboundSession(bob.Curve25519(), keys[0].Key)
	if err != nil {
		panic(err)
	}
	msg, err := aliceSession.Encrypt(nil, []byte("Hello, Bob"))
	if err != nil {
		panic(err)
	}
	wire, _ := json.Marshal(msg) // {"type":0,"body":"..."} in the to-device event

	// Bob receives the pre-key message: one call creates the session,
	// decrypts the message and only then removes the one-time key.
	var received olm.EncryptedMessage
	if err := json.Unmarshal(wire, &received); err != nil {
		panic(err)
	}
	preKey, err := olm.ParsePreKeyMessage(received.Body)
	if err != nil {
		panic(err)
	}
	sender := alice.Curve25519() // the event's sender_key
	bobSession, plaintext, err := bob.NewInboundSession(preKey, &olm.InboundOptions{TheirIdentityKey: &sender})
	if err != nil {
		panic(err)
	}
	fmt.Printf("Bob reads %q (message type %d)\n", plaintext, received.Type)
	fmt.Println("same session:", bobSession.ID() == aliceSession.ID())
	fmt.Println("Bob's unused one-time keys:", bob.StoredOneTimeKeys())

	// Bob replies; from now on both send normal messages.
	reply, err := bobSession.Encrypt(nil, []byte("Hello, Alice"))
	if err != nil {
		panic(err)
	}
	plaintext, err = aliceSession.Decrypt(nil, reply)
	if err != nil {
		panic(err)
	}
	fmt.Printf("Alice reads %q (message type %d)\n", plaintext, reply.Type)

	// A replayed message is rejected.
	_, err = aliceSession.Decrypt(nil, reply)
	fmt.Println("replay:", err != nil)
	// Output:
	// Bob reads "Hello, Bob" (message type 0)
	// same session: true
	// Bob's unused one-time keys: 0
	// Alice reads "Hello, Alice" (message type 1)
	// replay: true
}

// Sessions and accounts are stored as pickles under a 32-byte key.
func ExampleSession_Pickle() {
	alice, _ := olm.NewAccount()
	bob, _ := olm.NewAccount()
	keys, _, _ := bob.GenerateOneTimeKeys(1)
	session, _ := alice.NewOutboundSession(bob.Curve25519(), keys[0].Key)

	var pickleKey [olm.PickleKeySize]byte // from the platform's key store
	p, err := session.Pickle(&pickleKey)
	if err != nil {
		panic(err)
	}
	restored, err := olm.UnpickleSession(&pickleKey, p)
	if err != nil {
		panic(err)
	}
	fmt.Println(restored.ID() == session.ID())
	// Output: true
}
