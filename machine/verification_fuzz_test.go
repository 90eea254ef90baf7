package machine_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

// FuzzVerificationEvent feeds arbitrary verification event contents, to-device and in a room,
// to a machine with a flow in progress: nothing may panic, and every failure is an event error.
func FuzzVerificationEvent(f *testing.F) {
	for _, seed := range []string{
		`{"transaction_id":"T","from_device":"ALICE1","methods":["m.sas.v1"],"timestamp":1765000000000}`,
		`{"transaction_id":"T","from_device":"ALICE1","method":"m.sas.v1","key_agreement_protocols":["curve25519-hkdf-sha256"],"hashes":["sha256"],"message_authentication_codes":["hkdf-hmac-sha256.v2"],"short_authentication_string":["emoji"]}`,
		`{"transaction_id":"T","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"transaction_id":"T","mac":{"ed25519:ALICE1":"AAAA"},"keys":"AAAA"}`,
		`{"transaction_id":"T","method":"m.reciprocate.v1","from_device":"ALICE1","secret":"AAAAAAAAAAA"}`,
		`{"m.relates_to":{"rel_type":"m.reference","event_id":"T"},"code":"m.user","reason":"r"}`,
	} {
		for _, typ := range []uint8{0, 1, 2, 3, 4, 5, 6, 7} {
			f.Add(typ, []byte(seed))
		}
	}
	w := newWorld(nil) // each run sets w.t
	types := []string{"request", "ready", "start", "accept", "key", "mac", "done", "cancel"}
	var b *machine.Machine
	var flowID string
	f.Fuzz(func(t *testing.T, typ uint8, content []byte) {
		w.t = t
		if b == nil {
			var a *machine.Machine
			a, b, _, _, _ = w.pair()
			va, _ := w.readyPair(a, b)
			flowID = va.ID
		}
		evType := "m.key.verification." + types[int(typ)%len(types)]
		// "T" stands for the flow's id, which is random.
		c := json.RawMessage(bytes.ReplaceAll(content, []byte(`"T"`), []byte(`"`+flowID+`"`)))
		if !json.Valid(c) {
			c, _ = json.Marshal(string(content))
		}
		ev, _ := json.Marshal(map[string]any{"type": evType, "sender": "@alice:x.org", "content": c})
		w.hs.InjectToDevice(b.UserID(), b.DeviceID(), ev)
		w.sync(b)
		room := map[string]any{"type": evType, "sender": "@alice:x.org", "event_id": "$e", "origin_server_ts": 1, "content": c}
		raw, _ := json.Marshal(room)
		_, _ = b.ReceiveRoomEvent(w.ctx, "!r:x.org", raw)
		if _, err := b.Verifications(w.ctx); err != nil {
			t.Fatal(err)
		}
	})
}
