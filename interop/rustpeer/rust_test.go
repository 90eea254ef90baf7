package rustpeer_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/interop/rustpeer"
)

const room = "!interop:example.org"

// roomEvent wraps an m.room.encrypted content in the room event a client
// gets from /sync.
func roomEvent(t *testing.T, sender, eventID string, content json.RawMessage) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"type": "m.room.encrypted", "sender": sender, "event_id": eventID,
		"origin_server_ts": 1765150000000, "room_id": room, "content": content,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDriverErrors checks that bad input comes back as a typed error and
// leaves the driver running.
func TestDriverErrors(t *testing.T) {
	p := rustpeer.ForTest(t, "@carol:example.org", "CAROL")
	v, err := p.Versions()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("matrix-sdk-crypto %s, vodozemac %s (%s)", v.MatrixSDKCrypto, v.Vodozemac, v.GitDescription)

	_, err = p.DecryptRoomEvent(room, roomEvent(t, "@dave:example.org", "$1", json.RawMessage(
		`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"x","device_id":"D","session_id":"nosuchsession","ciphertext":"AwgAEhAAAAAA"}`)))
	var e *rustpeer.Error
	if !errors.As(err, &e) {
		t.Fatalf("decrypting garbage: %v, want a *rustpeer.Error", err)
	}
	t.Logf("garbage: %v", err)
	if _, err := p.ShareRoomKey(room, []string{"not a user id"}, rustpeer.ShareSettings{}); err == nil {
		t.Error("ShareRoomKey with a bad user ID succeeded")
	}
	if err := p.MarkRequestSent("x", "NoSuchType", nil); !rustpeer.IsType(err, "BadArgument") {
		t.Errorf("unknown request type: %v, want BadArgument", err)
	}
	// Still alive.
	if k, err := p.Versions(); err != nil || k.Vodozemac == "" {
		t.Fatalf("after errors: %v %v", k, err)
	}
}

// TestRustToRust has two matrix-sdk-crypto machines exchange an encrypted
// room message through the relay: upload keys, query, claim, share the
// room key over Olm, encrypt, decrypt. It proves the driver and the
// request/response plumbing.
func TestRustToRust(t *testing.T) {
	r := newRelay()
	alice := rustpeer.ForTest(t, "@alice:example.org", "ALICEDEV")
	bob := rustpeer.ForTest(t, "@bob:example.org", "BOBDEV")
	aliceID, bobID := alice.IdentityKeys().UserID, bob.IdentityKeys().UserID

	// Both upload their device keys and one-time keys.
	r.flush(t, alice)
	r.flush(t, bob)
	r.syncRust(t, alice)
	r.syncRust(t, bob)

	// Alice tracks Bob, queries his keys, claims a one-time key.
	if err := alice.UpdateTrackedUsers(bobID); err != nil {
		t.Fatal(err)
	}
	r.flush(t, alice)
	if d, err := alice.Device(bobID, "BOBDEV"); err != nil || d == nil {
		t.Fatalf("Alice does not know Bob's device after the query: %v %v", d, err)
	} else if d.Curve25519 != bob.IdentityKeys().Curve25519 {
		t.Fatalf("Alice has Bob's Curve25519 key as %s, want %s", d.Curve25519, bob.IdentityKeys().Curve25519)
	}
	claim, err := alice.GetMissingSessions(bobID)
	if err != nil {
		t.Fatal(err)
	}
	if claim == nil || claim.Type != rustpeer.KeysClaim {
		t.Fatalf("GetMissingSessions = %+v, want a KeysClaim request", claim)
	}
	r.send(t, alice, *claim)

	// Bob tracks Alice too, so he knows her device when her key arrives.
	if err := bob.UpdateTrackedUsers(aliceID); err != nil {
		t.Fatal(err)
	}
	r.flush(t, bob)

	toDevice, err := alice.ShareRoomKey(room, []string{bobID}, rustpeer.ShareSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if len(toDevice) == 0 {
		t.Fatal("ShareRoomKey returned no to-device requests")
	}
	for _, req := range toDevice {
		if req.Type != rustpeer.ToDevice || req.EventType != "m.room.encrypted" {
			t.Fatalf("room key request %s %s, want ToDevice m.room.encrypted", req.Type, req.EventType)
		}
		r.send(t, alice, req)
	}
	content, err := alice.EncryptRoomEvent(room, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"Befund ist da"}`))
	if err != nil {
		t.Fatal(err)
	}

	evs := r.syncRust(t, bob)
	if len(evs) != 1 || evs[0].Kind != "Decrypted" {
		t.Fatalf("Bob's to-device events: %+v", evs)
	}
	if info := evs[0].EncryptionInfo; info.Sender != aliceID || info.SenderCurve25519Key != alice.IdentityKeys().Curve25519 {
		t.Errorf("room key from %+v", info)
	}
	got, err := bob.DecryptRoomEvent(room, roomEvent(t, aliceID, "$msg1", content))
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "m.room.message" || got.Sender != aliceID || got.SenderDevice != "ALICEDEV" {
		t.Errorf("decrypted %+v", got)
	}
	var body struct{ Body string }
	if err := json.Unmarshal(got.Content, &body); err != nil || body.Body != "Befund ist da" {
		t.Errorf("content %s (%v)", got.Content, err)
	}
	t.Logf("shield %+v, strict %+v", got.Shield, got.ShieldStrict)

	// A room Bob has no key for is a typed error.
	_, err = bob.DecryptRoomEvent("!other:example.org", roomEvent(t, aliceID, "$msg2", content))
	t.Logf("wrong room: %v", err)
	if err == nil {
		t.Error("an event decrypted in a room it was not sent to")
	}
}

// TestDriverRawProtocol speaks to driver.mjs directly: a line that is not
// JSON, an unknown command and a command before init each get an error
// answer, and the driver keeps answering.
func TestDriverRawProtocol(t *testing.T) {
	if err := rustpeer.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	cmd := exec.Command("node", "driver.mjs")
	cmd.Dir = rustpeer.NodeDir()
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		`not json`,
		`{"id":1,"cmd":"no_such_command"}`,
		`{"id":2,"cmd":"outgoing_requests"}`,
		`{"id":3,"cmd":"init","args":{"user_id":"","device_id":"X"}}`,
		`{"id":4,"cmd":"init","args":{"user_id":"@erin:example.org","device_id":"ERIN"}}`,
		`{"id":5,"cmd":"init","args":{"user_id":"@erin:example.org","device_id":"ERIN"}}`,
		`{"id":6,"cmd":"identity_keys"}`,
	}, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SyntaxError", "UnknownCommand", "NotInitialised", "BadArgument", "", "AlreadyInitialised", ""}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d answers, want %d:\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		var a struct {
			ID     *int64
			Result json.RawMessage
			Error  *rustpeer.Error
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("answer %d: %v: %s", i, err, line)
		}
		got := ""
		if a.Error != nil {
			got = a.Error.Type
		}
		if got != want[i] || (want[i] == "" && len(a.Result) == 0) {
			t.Errorf("answer %d: %s, want error type %q", i, line, want[i])
		}
	}
}
