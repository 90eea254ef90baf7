package megolm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sicher-go/sicher/megolm"
)

// Alice sends to a room; Bob, in the room, and Carol, who joins later,
// read along.
func Example() {
	// Alice starts a session and shares its key with Bob's devices over
	// Olm (as the session_key of an m.room_key event, where the event
	// layer writes it in base64).
	alice, err := megolm.NewOutboundSession()
	if err != nil {
		log.Fatal(err)
	}
	roomKey := alice.SessionKey().Bytes()

	// Bob creates the inbound session from it.
	key, err := megolm.ParseSessionKey(roomKey)
	if err != nil {
		log.Fatal(err)
	}
	bob, err := megolm.NewInboundSession(key)
	if err != nil {
		log.Fatal(err)
	}

	// Alice encrypts two room events (their base64 is the "ciphertext").
	first := alice.Encrypt(nil, []byte(`{"type":"m.room.message","content":{"body":"Hallo"}}`))
	carolKey := alice.SessionKey() // Carol joins: she gets the key from index 1 on
	second := alice.Encrypt(nil, []byte(`{"type":"m.room.message","content":{"body":"Willkommen, Carol"}}`))

	for _, ct := range [][]byte{first, second} {
		plaintext, index, err := bob.Decrypt(nil, ct)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("Bob, index %d: %s\n", index, plaintext)
	}

	carol, err := megolm.NewInboundSession(carolKey)
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := carol.Decrypt(nil, first); err != nil {
		fmt.Println("Carol:", err)
	}
	plaintext, index, err := carol.Decrypt(nil, second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Carol, index %d: %s\n", index, plaintext)
	fmt.Println("same session:", bob.SessionID() == carol.SessionID(), "verified:", carol.IsVerified())
	// Output:
	// Bob, index 0: {"type":"m.room.message","content":{"body":"Hallo"}}
	// Bob, index 1: {"type":"m.room.message","content":{"body":"Willkommen, Carol"}}
	// Carol: megolm: message index 0 precedes the first known index 1
	// Carol, index 1: {"type":"m.room.message","content":{"body":"Willkommen, Carol"}}
	// same session: true verified: true
}

// A key from backup (unverified, but from index 0) and the room key the
// sender shared later (verified, from index 5) combine into one session
// that is both.
func ExampleInboundSession_Merge() {
	alice, err := megolm.NewOutboundSession()
	if err != nil {
		log.Fatal(err)
	}
	first := alice.SessionKey()
	for range 5 {
		alice.Encrypt(nil, []byte("..."))
	}
	fromRoomKey, err := megolm.NewInboundSession(alice.SessionKey())
	if err != nil {
		log.Fatal(err)
	}

	// What a key backup or a key export file holds: the unsigned export.
	original, err := megolm.NewInboundSession(first)
	if err != nil {
		log.Fatal(err)
	}
	backedUp := original.ExportAtFirstKnownIndex().Bytes()
	exported, err := megolm.ParseExportedSessionKey(backedUp)
	if err != nil {
		log.Fatal(err)
	}
	fromBackup, err := megolm.ImportInboundSession(exported)
	if err != nil {
		log.Fatal(err)
	}

	merged, err := fromBackup.Merge(fromRoomKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first known index:", merged.FirstKnownIndex(), "verified:", merged.IsVerified())
	// Output:
	// first known index: 0 verified: true
}

// After a sync, decrypt the new events of every room at once; results come
// back in the order of the input.
func ExampleDecryptAll() {
	var msgs []megolm.BulkMessage
	for _, room := range []string{"Station 3", "Radiologie"} {
		sender, err := megolm.NewOutboundSession()
		if err != nil {
			log.Fatal(err)
		}
		in, err := megolm.NewInboundSession(sender.SessionKey())
		if err != nil {
			log.Fatal(err)
		}
		for i := range 2 {
			ct := sender.Encrypt(nil, fmt.Appendf(nil, "%s: event %d", room, i))
			msgs = append(msgs, megolm.BulkMessage{Session: in, Message: ct})
		}
	}
	for _, r := range megolm.DecryptAll(context.Background(), msgs) {
		if r.Err != nil {
			log.Fatal(r.Err)
		}
		fmt.Printf("index %d: %s\n", r.Index, r.Plaintext)
	}
	// Output:
	// index 0: Station 3: event 0
	// index 1: Station 3: event 1
	// index 0: Radiologie: event 0
	// index 1: Radiologie: event 1
}
