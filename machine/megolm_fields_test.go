package machine_test

import (
	"encoding/json"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

// TestEncryptedEventNamesSenderDevice checks that m.room.encrypted content carries the
// sender_key and device_id that MSC3700 deprecated: matrix-nio 0.20 drops Megolm events
// without them (found against a real homeserver in the e2e module). Receivers still take the
// sender from the session, not from these fields.
func TestEncryptedEventNamesSenderDevice(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "ALICE")
	bob := w.device("@bob:example.org", "BOB")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)

	ev := w.say(alice, room, "hello nio", machine.RoomSettings{})
	var got struct {
		Content struct {
			Algorithm string `json:"algorithm"`
			SenderKey string `json:"sender_key"`
			DeviceID  string `json:"device_id"`
			SessionID string `json:"session_id"`
		} `json:"content"`
	}
	if err := json.Unmarshal(ev, &got); err != nil {
		t.Fatal(err)
	}
	curve, _ := alice.IdentityKeys()
	if got.Content.SenderKey != curve.String() || got.Content.DeviceID != "ALICE" || got.Content.SessionID == "" {
		t.Fatalf("content = %+v, want sender_key %s and device_id ALICE", got.Content, curve)
	}
	if d := w.mustRead(bob, room, ev, "hello nio"); d.Info.SenderDevice != "ALICE" {
		t.Fatalf("sender device = %q", d.Info.SenderDevice)
	}
}
