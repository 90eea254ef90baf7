package mautrixhttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// device is a mautrix-go client with a sicher machine.
type device struct {
	cli   *mautrix.Client
	m     *machine.Machine
	since string
}

func login(t *testing.T, hs, user, password string) *device {
	t.Helper()
	ctx := context.Background()
	cli, err := mautrix.NewClient(hs, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypePassword, Password: password, StoreCredentials: true,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := machine.New(ctx, machine.Config{UserID: cli.UserID.String(), DeviceID: cli.DeviceID.String(), Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	return &device{cli: cli, m: m}
}

// send executes the machine's requests with mautrix-go's HTTP client until none are left.
func (d *device) send(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for range 8 {
		reqs, err := d.m.OutgoingRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) == 0 {
			return
		}
		for _, r := range reqs {
			p := mautrix.FullRequest{Method: r.Method, URL: strings.TrimSuffix(d.cli.HomeserverURL.String(), "/") + r.Path}
			if r.Method != http.MethodGet {
				p.RequestBytes = r.Body
			}
			resp, err := d.cli.MakeFullRequest(ctx, p)
			if err != nil {
				t.Fatalf("%s %s: %v", r.Method, r.Path, err)
			}
			if err := d.m.MarkRequestSent(ctx, r.ID, resp); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sync fetches /sync with mautrix-go's HTTP client, feeds the machine its encryption part and
// returns the timeline events of the joined rooms.
func (d *device) sync(t *testing.T) map[string][]json.RawMessage {
	t.Helper()
	ctx := context.Background()
	var resp struct {
		NextBatch string `json:"next_batch"`
		ToDevice  struct {
			Events []json.RawMessage `json:"events"`
		} `json:"to_device"`
		DeviceLists struct {
			Changed []string `json:"changed"`
			Left    []string `json:"left"`
		} `json:"device_lists"`
		OTKCounts map[string]int `json:"device_one_time_keys_count"`
		Fallback  []string       `json:"device_unused_fallback_key_types"`
		Rooms     struct {
			Join map[string]struct {
				Timeline struct {
					Events []json.RawMessage `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	url := d.cli.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "sync"}, map[string]string{"since": d.since, "timeout": "0"})
	if _, err := d.cli.MakeFullRequest(ctx, mautrix.FullRequest{Method: http.MethodGet, URL: url, ResponseJSON: &resp}); err != nil {
		t.Fatal(err)
	}
	d.since = resp.NextBatch
	evs, err := d.m.ReceiveSync(ctx, machine.SyncChanges{ToDevice: resp.ToDevice.Events, Changed: resp.DeviceLists.Changed,
		Left: resp.DeviceLists.Left, OneTimeKeyCounts: resp.OTKCounts, UnusedFallbackKeyTypes: resp.Fallback})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Err != nil {
			t.Fatalf("to-device %s: %v", ev.Type, ev.Err)
		}
	}
	out := map[string][]json.RawMessage{}
	for id, r := range resp.Rooms.Join {
		out[id] = r.Timeline.Events
	}
	return out
}

// Alice's machine shares a room key and encrypts, Bob's decrypts; every request travels
// through mautrix-go's MakeFullRequest.
func TestMachineOverMautrixHTTP(t *testing.T) {
	ctx := context.Background()
	srv := machinetest.NewServer()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	srv.AddUser("@alice:example.org", "a")
	srv.AddUser("@bob:example.org", "b")
	alice, bob := login(t, hs.URL, "@alice:example.org", "a"), login(t, hs.URL, "@bob:example.org", "b")
	alice.send(t)
	bob.send(t)

	created, err := alice.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.cli.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.cli.JoinRoomByID(ctx, created.RoomID); err != nil {
		t.Fatal(err)
	}
	room, members := created.RoomID.String(), []string{alice.cli.UserID.String(), bob.cli.UserID.String()}
	alice.sync(t)
	if err := alice.m.UpdateTrackedUsers(ctx, members); err != nil {
		t.Fatal(err)
	}
	alice.send(t) // keys query
	if _, err := alice.m.GetMissingSessions(ctx, members); err != nil {
		t.Fatal(err)
	}
	alice.send(t) // keys claim
	if err := alice.m.ShareRoomKey(ctx, room, members, machine.RoomSettings{}); err != nil {
		t.Fatal(err)
	}
	alice.send(t) // the room key over Olm
	content, err := alice.m.EncryptRoomEvent(ctx, room, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"hello over mautrix"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.cli.SendMessageEvent(ctx, created.RoomID, event.EventEncrypted, content); err != nil {
		t.Fatal(err)
	}

	var decrypted []string
	for _, raw := range bob.sync(t)[room] {
		var ev struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &ev) != nil || ev.Type != "m.room.encrypted" {
			continue
		}
		dec, err := bob.m.DecryptRoomEvent(ctx, room, raw)
		if err != nil {
			t.Fatal(err)
		}
		decrypted = append(decrypted, string(dec.Content))
	}
	if len(decrypted) != 1 || !strings.Contains(decrypted[0], "hello over mautrix") {
		t.Fatalf("bob decrypted %q", decrypted)
	}
}
