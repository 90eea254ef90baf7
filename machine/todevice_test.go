package machine_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

// TestSendEncryptedToDevice: an event of any type reaches the chosen devices Olm-encrypted,
// after the one-time key claim it queues for devices without a session; unknown devices are
// reported, reserved types and non-objects refused.
func TestSendEncryptedToDevice(t *testing.T) {
	w := newWorld(t)
	a := w.device("@alice:example.org", "A1")
	b1 := w.device("@bob:example.org", "B1")
	b2 := w.device("@bob:example.org", "B2")
	if err := a.UpdateTrackedUsers(w.ctx, []string{"@bob:example.org"}); err != nil {
		t.Fatal(err)
	}
	w.send(a)
	content := json.RawMessage(`{"hello":"bob"}`)
	targets := []machine.DeviceTarget{
		{UserID: "@bob:example.org", DeviceID: "B1"}, {UserID: "@bob:example.org", DeviceID: "B1"},
		{UserID: "@bob:example.org", DeviceID: "B2"}, {UserID: "@bob:example.org", DeviceID: "NOPE"},
		{UserID: "@alice:example.org", DeviceID: "A1"}, {UserID: "@carol:example.org", DeviceID: "C1"},
	}
	rep, err := a.SendEncryptedToDevice(w.ctx, "org.example.test", content, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sent) != 0 || len(rep.NoSession) != 2 || len(rep.Unknown) != 3 {
		t.Fatalf("before the claim: %+v", rep)
	}
	reqs, err := a.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Kind != machine.KindKeysClaim {
		t.Fatalf("queued %+v, want one key claim", reqs)
	}
	w.send(a)
	rep, err = a.SendEncryptedToDevice(w.ctx, "org.example.test", content, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sent) != 2 || len(rep.NoSession) != 0 || len(rep.Unknown) != 3 {
		t.Fatalf("after the claim: %+v", rep)
	}
	w.send(a)
	for _, b := range []*machine.Machine{b1, b2} {
		evs := w.sync(b)
		var got []machine.ToDeviceEvent
		for _, ev := range evs {
			if ev.Type == "org.example.test" {
				got = append(got, ev)
			}
		}
		if len(got) != 1 || !got[0].Encrypted || got[0].Err != nil || got[0].Sender != "@alice:example.org" ||
			got[0].SenderDevice != "A1" || string(got[0].Content) != string(content) {
			t.Fatalf("%s received %+v", b.DeviceID(), got)
		}
		if ck, _ := a.IdentityKeys(); got[0].SenderKey != ck {
			t.Fatalf("%s: sender key %s", b.DeviceID(), got[0].SenderKey)
		}
	}

	for _, typ := range []string{"m.room_key", "m.forwarded_room_key", "m.room_key.withheld", "m.room_key_request", "m.dummy", "m.room.encrypted"} {
		if _, err := a.SendEncryptedToDevice(w.ctx, typ, content, targets); !errors.Is(err, machine.ErrReservedEventType) {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	for _, c := range []string{``, `[]`, `"x"`, `null`, `{`} {
		if _, err := a.SendEncryptedToDevice(w.ctx, "org.example.test", json.RawMessage(c), targets); err == nil {
			t.Fatalf("content %q accepted", c)
		}
	}
	if _, err := a.SendEncryptedToDevice(w.ctx, "", content, targets); err == nil {
		t.Fatal("empty event type accepted")
	}
	if reqs, _ := a.OutgoingRequests(w.ctx); len(reqs) != 0 {
		t.Fatalf("refused sends queued %d requests", len(reqs))
	}
}
