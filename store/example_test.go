package store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/store"
)

// Bob's client decrypts a room message: it reads the Megolm session, decrypts, records the
// message index against replays and writes the advanced session back in one Update, and shows
// the plaintext only after Update returned nil. A second event claiming the same index is a
// replay.
func Example() {
	ctx := context.Background()
	s := store.NewMemory() // sqlstore.OpenSQLite for a real client
	bob := store.Owner{UserID: "@bob:example.org", DeviceID: "BOBDEVICE"}

	// The session arrived in an m.room_key event over Olm.
	err := s.Update(ctx, bob, func(tx store.Tx) error {
		return tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{
			RoomID: "!room:example.org", SessionID: "SESSION", SenderKey: "aliceCurve25519",
			SigningKey: "aliceEd25519", Provenance: store.FromOlm, State: store.Secret("pickle"),
		})
	})
	if err != nil {
		panic(err)
	}

	decrypt := func(eventID string, index uint32) error {
		return s.Update(ctx, bob, func(tx store.Tx) error {
			rec, err := tx.InboundGroupSession(ctx, "!room:example.org", "SESSION")
			if err != nil {
				return err
			}
			// ... megolm.UnpickleInboundSession(rec.State), Decrypt, Pickle ...
			if err := tx.RecordReplay(ctx, &store.Replay{RoomID: rec.RoomID, SessionID: rec.SessionID,
				Index: index, EventID: eventID, OriginServerTS: 1700000000000}); err != nil {
				return err
			}
			return tx.PutInboundGroupSession(ctx, rec)
		})
	}
	fmt.Println(decrypt("$first", 0))
	fmt.Println(decrypt("$first", 0)) // the same event again: allowed
	fmt.Println(errors.Is(decrypt("$forged", 0), store.ErrReplay))
	// Output:
	// <nil>
	// <nil>
	// true
}
