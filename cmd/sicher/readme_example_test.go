package main

import (
	"fmt"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

// The example of the README: Alice sends Bob her Megolm room key over an
// Olm session, then a room message. (Real clients wrap both in Matrix
// events with package event, which also checks senders, recipients and
// rooms.)
func Example_readme() {
	alice, _ := olm.NewAccount()
	bob, _ := olm.NewAccount()
	bob.GenerateOneTimeKeys(1)
	otk := bob.OneTimeKeys()[0].Key // from /keys/claim, signature checked

	// Alice opens an Olm session to Bob and sends him her room key.
	toBob, _ := alice.NewOutboundSession(bob.Curve25519(), otk)
	room, _ := megolm.NewOutboundSession(nil)
	msg, _ := toBob.Encrypt(room.SessionKey().Bytes())

	// Bob's end of the session is made from the pre-key message.
	pre, _ := olm.ParsePreKeyMessage(msg.Body)
	_, roomKey, err := bob.NewInboundSession(pre, nil)
	if err != nil {
		panic(err)
	}
	sk, _ := megolm.SessionKeyFromBytes(roomKey)
	inbound, _ := megolm.NewInboundSession(sk)

	// Alice writes to the room; Bob reads.
	ct := room.Encrypt(nil, []byte("Befund ist da"))
	pt, index, err := inbound.Decrypt(nil, ct)
	fmt.Println(string(pt), index, err)
	// Output: Befund ist da 0 <nil>
}
