package event_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// bobDevice is one of Bob's devices: an account and what it published.
type bobDevice struct {
	id      string
	acct    *olm.Account
	upload  []byte // the /keys/upload body
	session *olm.Session
}

// Alice shares a Megolm room key with both of Bob's devices over Olm, then
// sends a room message; each of Bob's devices accepts the key and decrypts
// the message.
func Example() {
	const room = "!praxis:example.org"
	alice, _ := olm.NewAccount()

	// Bob's two devices publish signed device keys and one-time keys.
	var bob []*bobDevice
	for _, id := range []string{"BOBPHONE", "BOBLAPTOP"} {
		acct, _ := olm.NewAccount()
		acct.GenerateOneTimeKeys(1)
		up, _ := event.KeysForUpload(acct, "@bob:example.org", id, nil)
		body, _ := json.Marshal(up)
		acct.MarkKeysAsPublished()
		bob = append(bob, &bobDevice{id: id, acct: acct, upload: body})
	}

	// Alice's room session, and its key as an m.room_key content.
	outbound, _ := megolm.NewOutboundSession()
	roomKey, _ := event.RoomKeyContent(room, outbound, false)

	toDevice := map[string][]byte{}
	for _, d := range bob {
		// What /keys/query and /keys/claim return, checked before use.
		var up struct {
			DeviceKeys  json.RawMessage            `json:"device_keys"`
			OneTimeKeys map[string]json.RawMessage `json:"one_time_keys"`
		}
		json.Unmarshal(d.upload, &up)
		dk, err := signing.VerifyDeviceKeys(up.DeviceKeys, "@bob:example.org", d.id)
		if err != nil {
			panic(err)
		}
		for _, raw := range up.OneTimeKeys {
			otk, err := signing.VerifySignedKey(raw, "@bob:example.org", d.id, dk.Ed25519)
			if err != nil {
				panic(err)
			}
			s, _ := alice.NewOutboundSession(dk.Curve25519, otk.Key)
			content, _, err := event.EncryptOlm(alice, s, event.OlmEncryptParams{
				Sender: "@alice:example.org", Recipient: "@bob:example.org",
				RecipientEd25519: dk.Ed25519, RecipientCurve25519: dk.Curve25519,
				Type: "m.room_key", Content: roomKey,
			})
			if err != nil {
				panic(err)
			}
			toDevice[d.id] = content
		}
	}

	// Alice sends a message to the room.
	msg, _, _ := event.EncryptMegolm(outbound, event.MegolmEncryptParams{RoomID: room, Type: "m.room.message",
		Content: json.RawMessage(`{"msgtype":"m.text","body":"Befund ist da"}`)})

	// Each of Bob's devices receives the to-device event, then the message.
	for _, d := range bob {
		ev, err := event.DecryptOlm(d.acct, toDevice[d.id], event.OlmDecryptParams{
			Sender: "@alice:example.org", OwnUserID: "@bob:example.org",
			SenderEd25519: ptr(alice.Ed25519()), // from Alice's verified device keys
		})
		if err != nil {
			panic(err)
		}
		d.session = ev.Session // new: store it
		rk, err := event.RoomKeyFromEvent(ev)
		if err != nil {
			panic(err)
		}
		// A store keeps rk.Info with the session, and every event of the
		// session is checked against it.
		inbound, _ := rk.InboundSession()
		var guard event.ReplayGuard
		re, err := event.DecryptMegolm(inbound, msg, event.MegolmDecryptParams{
			RoomID: room, Sender: "@alice:example.org", Session: rk.Info,
			EventID: "$msg1", OriginServerTS: 1700000000000, Guard: &guard,
		})
		if err != nil {
			panic(err)
		}
		var content struct{ Body string }
		json.Unmarshal(re.Content, &content)
		fmt.Printf("%s: new session %v, key from %s over Olm %v, sender checked %v, %s index %d: %q\n",
			d.id, ev.NewSession, rk.Info.Sender, re.Provenance == event.OverOlm, re.SenderChecked, re.Type, re.MessageIndex, content.Body)
	}
	// Output:
	// BOBPHONE: new session true, key from @alice:example.org over Olm true, sender checked true, m.room.message index 0: "Befund ist da"
	// BOBLAPTOP: new session true, key from @alice:example.org over Olm true, sender checked true, m.room.message index 0: "Befund ist da"
}

func ptr[T any](v T) *T { return &v }

// A homeserver replays a Megolm event under a new event ID: the second
// event reuses the first one's message index and is refused; decrypting
// the original again is fine.
func ExampleReplayGuard() {
	out, _ := megolm.NewOutboundSession()
	in, _ := megolm.NewInboundSession(out.SessionKey())
	content, _, _ := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: "!r:example.org", Type: "m.room.message",
		Content: json.RawMessage(`{"body":"Termin um 9"}`)})
	// What the store recorded when the m.room_key arrived (RoomKey.Info).
	info := event.SessionInfo{RoomID: "!r:example.org", SessionID: in.SessionID(), Sender: "@alice:example.org", Provenance: event.OverOlm}

	var guard event.ReplayGuard
	for _, id := range []string{"$original", "$original", "$replayed"} {
		_, err := event.DecryptMegolm(in, content, event.MegolmDecryptParams{
			RoomID: "!r:example.org", Sender: "@alice:example.org", Session: info,
			EventID: id, OriginServerTS: 1700000000000, Guard: &guard,
		})
		fmt.Println(id, errors.Is(err, event.ErrReplay))
	}
	// Output:
	// $original false
	// $original false
	// $replayed true
}
