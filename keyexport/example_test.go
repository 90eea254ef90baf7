package keyexport_test

import (
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
)

// Alice moves her room keys from her old laptop to a new one with a key
// export file, and reads an old message there.
func Example() {
	// Old laptop: a Megolm session of the practice's room, and a message.
	outbound, _ := megolm.NewOutboundSession()
	inbound, _ := megolm.NewInboundSession(outbound.SessionKey()) // Alice's own copy
	message := outbound.Encrypt(nil, []byte(`{"body":"Befund liegt vor"}`))

	var aliceCurve key.Curve25519 // Alice's device keys (placeholders here)
	var aliceEd key.Ed25519
	entry := megolm.NewExportedSession(inbound.ExportAtFirstKnownIndex(), "!praxis:example.org", aliceCurve, aliceEd)
	file, err := keyexport.Export([]*megolm.ExportedSession{entry}, "correct horse battery staple",
		&keyexport.Options{Rounds: keyexport.MinRounds}) // nil (500 000 rounds) for real files
	if err != nil {
		panic(err)
	}

	// New laptop: import the file; bad entries would be reported in skipped.
	sessions, skipped, err := keyexport.Import(file, "correct horse battery staple", nil)
	if err != nil {
		panic(err) // keyexport.ErrAuthentication for a wrong passphrase
	}
	restored, _ := sessions[0].InboundSession()
	plaintext, index, err := restored.Decrypt(nil, message)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(skipped), sessions[0].RoomID, index, string(plaintext))
	// Output: 0 !praxis:example.org 0 {"body":"Befund liegt vor"}
}
