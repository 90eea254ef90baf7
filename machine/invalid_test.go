package machine_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

// TestInvalidInput: hostile or broken input gives an error, never a panic, and changes
// nothing.
func TestInvalidInput(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	good := w.say(alice, room, "ok", machine.RoomSettings{})

	for _, ev := range []string{
		``, `null`, `[]`, `{}`, `{"sender":"@alice:example.org","event_id":"$1"}`,
		`{"type":"m.room.encrypted","sender":"@alice:example.org","event_id":"$1","content":{}}`,
		`{"type":"m.room.encrypted","sender":"@alice:example.org","event_id":"$1","content":{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"!!","session_id":"x"}}`,
	} {
		_, err := bob.DecryptRoomEvent(w.ctx, room, json.RawMessage(ev))
		var de *machine.DecryptionError
		if !errors.As(err, &de) || de.Reason != machine.FailureMalformed {
			t.Errorf("DecryptRoomEvent(%s) = %v", ev, err)
		}
	}
	for _, ev := range []string{
		`null`, `{}`, `{"type":"m.room.encrypted","sender":"@alice:example.org","content":{}}`,
		`{"type":"m.room.encrypted","sender":"@alice:example.org","content":{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"x","ciphertext":{}}}`,
		`{"type":"m.room_key.withheld","sender":"@alice:example.org","content":{"code":1}}`,
		`{"type":"m.room_key_request","sender":"@alice:example.org","content":{"action":"request"}}`,
	} {
		out, err := bob.ReceiveSync(w.ctx, machine.SyncChanges{ToDevice: []json.RawMessage{json.RawMessage(ev)}})
		if err != nil || len(out) != 1 || out[0].Err == nil {
			t.Errorf("ReceiveSync(%s) = %+v, %v", ev, out, err)
		}
	}

	// A response that does not parse leaves the request queued.
	if err := alice.UpdateTrackedUsers(w.ctx, []string{"@carol:example.org"}); err != nil {
		t.Fatal(err)
	}
	reqs, err := alice.OutgoingRequests(w.ctx)
	if err != nil || len(reqs) != 1 || reqs[0].Kind != machine.KindKeysQuery {
		t.Fatalf("requests %v %v", reqs, err)
	}
	for _, resp := range []string{``, `[`, `{"device_keys":[]}`, `{"device_keys":{"@carol:example.org":{"C":1}}}`} {
		err := alice.MarkRequestSent(w.ctx, reqs[0].ID, []byte(resp))
		if resp == `{"device_keys":{"@carol:example.org":{"C":1}}}` {
			// A device whose keys do not verify is skipped, the response is otherwise fine.
			if err != nil {
				t.Fatalf("unverifiable device: %v", err)
			}
			continue
		}
		if !errors.Is(err, machine.ErrMalformedResponse) {
			t.Errorf("MarkRequestSent(%q) = %v", resp, err)
		}
		if again, _ := alice.OutgoingRequests(w.ctx); len(again) != 1 || again[0].ID != reqs[0].ID {
			t.Fatalf("request lost after a bad response: %v", again)
		}
	}
	if err := alice.MarkRequestSent(w.ctx, "nope", []byte(`{}`)); !errors.Is(err, machine.ErrUnknownRequest) {
		t.Fatalf("unknown id: %v", err)
	}
	// Nothing broke: the good event still decrypts.
	w.mustRead(bob, room, good, "ok")
}

// TestSenderDeviceKeysFromUnknownDevice: an Olm event from a device we have not queried names
// its device through sender_device_keys (MSC4147).
func TestSenderDeviceKeysFromUnknownDevice(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.say(alice, room, "x", machine.RoomSettings{})
	evs := w.sync(bob) // Bob tracks nobody
	if len(evs) != 1 || evs[0].Err != nil || evs[0].SenderDevice != "A" || !evs[0].Encrypted || evs[0].Type != "m.room_key" {
		t.Fatalf("%+v", evs)
	}
}

// TestDuplicateMembersRefused: a room event whose JSON names "sender" twice, in two cases, is
// refused: other clients read the exact "sender" (Mallory), and the machine must not read
// another one (encoding/json would take the last, case-insensitively: Alice).
func TestDuplicateMembersRefused(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	ev := w.say(alice, room, "ok", machine.RoomSettings{})
	w.mustRead(bob, room, ev, "ok")
	dup := json.RawMessage(strings.Replace(string(ev), `"sender":"@alice:example.org"`,
		`"sender":"@mallory:example.org","Sender":"@alice:example.org"`, 1))
	if string(dup) == string(ev) {
		t.Fatal("test event has no sender member")
	}
	if _, err := bob.DecryptRoomEvent(w.ctx, room, dup); err == nil {
		t.Fatal("an event with two sender members was accepted")
	}
}

type failingReader struct{}

var errRead = errors.New("no entropy")

func (failingReader) Read([]byte) (int, error) { return 0, errRead }

// TestRandomness: NewFrom reads the given reader (same seed, same identity) and a failing
// reader gives an error wrapping the reader's, not a panic.
func TestRandomness(t *testing.T) {
	ctx := newWorld(t).ctx
	cfg := machine.Config{UserID: "@a:example.org", DeviceID: "A"}
	var keys []string
	for range 2 {
		cfg.Store = newMemory()
		m, err := machine.NewFrom(ctx, rand.NewChaCha8([32]byte{1}), cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := m.IdentityKeys()
		keys = append(keys, c.String())
	}
	if keys[0] != keys[1] {
		t.Fatal("the same seed gave different identities")
	}
	cfg.Store = newMemory()
	if _, err := machine.NewFrom(ctx, failingReader{}, cfg); !errors.Is(err, errRead) {
		t.Fatalf("failing reader: %v", err)
	}
	if _, err := machine.New(ctx, machine.Config{UserID: "@a:example.org"}); !errors.Is(err, machine.ErrConfig) {
		t.Fatalf("incomplete config: %v", err)
	}
}
