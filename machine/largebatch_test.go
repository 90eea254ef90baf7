package machine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

// TestLargeKeysQuery: 600 tracked users are queried in requests of at most 250 users, each
// user once; after the responses all device lists are current.
func TestLargeKeysQuery(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	var users []string
	for i := range 600 {
		users = append(users, fmt.Sprintf("@user%d:example.org", i))
	}
	if err := alice.UpdateTrackedUsers(w.ctx, users); err != nil {
		t.Fatal(err)
	}
	reqs, err := alice.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	queried := map[string]int{}
	n := 0
	for _, r := range reqs {
		if r.Kind != machine.KindKeysQuery {
			continue
		}
		n++
		var q struct {
			DeviceKeys map[string][]string `json:"device_keys"`
		}
		if err := json.Unmarshal(r.Body, &q); err != nil {
			t.Fatal(err)
		}
		if len(q.DeviceKeys) > 250 {
			t.Fatalf("a query for %d users", len(q.DeviceKeys))
		}
		for u := range q.DeviceKeys {
			queried[u]++
		}
	}
	if n != 3 || len(queried) != 600 {
		t.Fatalf("%d queries for %d users, want 3 for 600", n, len(queried))
	}
	for u, c := range queried {
		if c != 1 {
			t.Fatalf("%s queried %d times", u, c)
		}
	}
	if err := alice.ShareRoomKey(w.ctx, "!big:example.org", users, machine.RoomSettings{}); !errors.Is(err, machine.ErrDevicesOutdated) {
		t.Fatalf("share before the responses: %v", err)
	}
	w.send(alice)
	if err := alice.ShareRoomKey(w.ctx, "!big:example.org", users, machine.RoomSettings{}); err != nil {
		t.Fatalf("share after the responses: %v", err)
	}
}

// TestLargeKeysClaim: one-time keys for 135 devices are claimed in requests of at most 100
// devices, and every device gets an Olm session.
func TestLargeKeysClaim(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	var users []string
	for i := range 3 {
		u := fmt.Sprintf("@user%d:example.org", i)
		users = append(users, u)
		for j := range 45 {
			w.device(u, fmt.Sprintf("D%d", j))
		}
	}
	if err := alice.UpdateTrackedUsers(w.ctx, users); err != nil {
		t.Fatal(err)
	}
	w.send(alice)
	if _, err := alice.GetMissingSessions(w.ctx, users); err != nil {
		t.Fatal(err)
	}
	reqs, err := alice.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	claims, devices := 0, 0
	for _, r := range reqs {
		if r.Kind != machine.KindKeysClaim {
			continue
		}
		claims++
		var c struct {
			OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
		}
		if err := json.Unmarshal(r.Body, &c); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, devs := range c.OneTimeKeys {
			n += len(devs)
		}
		if n > 100 {
			t.Fatalf("a claim for %d devices", n)
		}
		devices += n
	}
	if claims != 2 || devices != 135 {
		t.Fatalf("%d claims for %d devices, want 2 for 135", claims, devices)
	}
	w.send(alice)
	room := w.hs.CreateRoom(append([]string{alice.UserID()}, users...)...)
	w.sync(alice)
	w.send(alice)
	if err := alice.ShareRoomKey(w.ctx, room, w.hs.Members(room), machine.RoomSettings{}); err != nil {
		t.Fatal(err)
	}
	reqs, err = alice.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, r := range reqs {
		if r.Kind == machine.KindToDevice && r.EventType == "m.room.encrypted" {
			var b struct {
				Messages map[string]map[string]json.RawMessage `json:"messages"`
			}
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			for _, devs := range b.Messages {
				shared += len(devs)
			}
		}
	}
	if shared != 135 {
		t.Fatalf("the room key went to %d devices, want 135", shared)
	}
}
