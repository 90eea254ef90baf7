package machinetest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/machine/machinetest"
)

// call makes one request and decodes the JSON answer.
func call(t *testing.T, hs *httptest.Server, method, path, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type syncBody struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []json.RawMessage `json:"events"`
	} `json:"to_device"`
	Rooms struct {
		Join   map[string]json.RawMessage `json:"join"`
		Invite map[string]json.RawMessage `json:"invite"`
	} `json:"rooms"`
}

// The HTTP server keeps a to-device event until the client syncs with a token after it, so a
// response lost on the way is delivered again; rooms and invites show in the sync.
func TestHTTPSyncAcknowledgesToDevice(t *testing.T) {
	srv := machinetest.NewServer()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	srv.AddUser("@a:example.org", "pw")
	srv.AddUser("@b:example.org", "pw")
	var login struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if code := call(t, hs, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@a:example.org"},"password":"wrong"}`, nil); code != 403 {
		t.Fatalf("wrong password: %d", code)
	}
	call(t, hs, "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@a:example.org"},"password":"pw"}`, &login)
	tok := login.AccessToken
	if code := call(t, hs, "GET", "/_matrix/client/v3/sync", "bad", "", nil); code != 401 {
		t.Fatalf("unknown token: %d", code)
	}
	var s0 syncBody
	call(t, hs, "GET", "/_matrix/client/v3/sync", tok, "", &s0)

	srv.InjectToDevice("@a:example.org", login.DeviceID, json.RawMessage(`{"type":"m.x","sender":"@b:example.org","content":{}}`))
	var s1, again, s2 syncBody
	call(t, hs, "GET", "/_matrix/client/v3/sync?since="+s0.NextBatch, tok, "", &s1)
	call(t, hs, "GET", "/_matrix/client/v3/sync?since="+s0.NextBatch, tok, "", &again) // s1 was "lost"
	call(t, hs, "GET", "/_matrix/client/v3/sync?since="+again.NextBatch, tok, "", &s2)
	if len(s1.ToDevice.Events) != 1 || len(again.ToDevice.Events) != 1 || len(s2.ToDevice.Events) != 0 {
		t.Fatalf("to-device events delivered %d, %d, %d times; want 1, 1 (not acknowledged), 0",
			len(s1.ToDevice.Events), len(again.ToDevice.Events), len(s2.ToDevice.Events))
	}

	var created struct {
		RoomID string `json:"room_id"`
	}
	call(t, hs, "POST", "/_matrix/client/v3/createRoom", tok, `{"invite":["@b:example.org"]}`, &created)
	var s3 syncBody
	call(t, hs, "GET", "/_matrix/client/v3/sync?since="+s2.NextBatch, tok, "", &s3)
	if s3.Rooms.Join[created.RoomID] == nil || !strings.Contains(string(s3.Rooms.Join[created.RoomID]), `"membership":"invite"`) {
		t.Fatalf("the new room in the sync: %s", s3.Rooms.Join[created.RoomID])
	}
	if code := call(t, hs, "POST", "/_matrix/client/v3/rooms/"+created.RoomID+"/leave", tok, `{}`, nil); code != 200 {
		t.Fatalf("leave: %d", code)
	}
	if code := call(t, hs, "POST", "/_matrix/client/v3/join/"+created.RoomID, tok, `{}`, nil); code != 403 {
		t.Fatalf("join without an invite: %d", code)
	}
}
