package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/sicher-go/sicher/key"
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
	room, _ := megolm.NewOutboundSession()
	msg, _ := toBob.Encrypt(nil, room.SessionKey().Bytes())

	// Bob's end of the session is made from the pre-key message.
	pre, _ := olm.ParsePreKeyMessage(msg.Body)
	_, roomKey, err := bob.NewInboundSession(pre, nil)
	if err != nil {
		panic(err)
	}
	sk, _ := megolm.ParseSessionKey(roomKey)
	inbound, _ := megolm.NewInboundSession(sk)

	// Alice writes to the room; Bob reads.
	ct := room.Encrypt(nil, []byte("Befund ist da"))
	pt, index, err := inbound.Decrypt(nil, ct)
	fmt.Println(string(pt), index, err)
	// Output: Befund ist da 0 <nil>
}

// The migration of docs/migrating.md, on an account pickle libolm 3.2.13
// wrote (testvectors/pickle/account.json, pickle key "secret_key").
func Example_migrateLibolmAccount() {
	var vectors struct {
		Vectors []struct {
			Key, Expect, Pickle string
			IdentityKeys        struct{ Curve25519 key.Curve25519 } `json:"identity_keys"`
		}
	}
	b, _ := os.ReadFile("../../testvectors/pickle/account.json")
	json.Unmarshal(b, &vectors)
	v := vectors.Vectors[0]
	for _, w := range vectors.Vectors {
		if w.Key == hex.EncodeToString([]byte("secret_key")) && w.Expect == "ok" {
			v = w
			break
		}
	}
	oldKey := []byte("secret_key")
	var newKey [olm.PickleKeySize]byte // in real code: 32 random bytes from your key store
	copy(newKey[:], "a new 32-byte pickle key, random")

	acct, err := olm.UnpickleLibolmAccount(oldKey, v.Pickle)
	if err != nil {
		panic(err) // wraps olm.ErrBadPickle
	}
	newPickle, err := acct.Pickle(&newKey)
	if err != nil {
		panic(err)
	}
	again, err := olm.UnpickleAccount(&newKey, newPickle)
	fmt.Println(err, again.Curve25519() == v.IdentityKeys.Curve25519)
	_, err = olm.UnpickleLibolmAccount([]byte("wrong key"), v.Pickle)
	fmt.Println(errors.Is(err, olm.ErrBadPickle))
	// Output:
	// <nil> true
	// true
}
