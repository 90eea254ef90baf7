package matrixhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

func testClient(t *testing.T, password func(context.Context) (string, error)) (*Client, *machinetest.Server) {
	t.Helper()
	srv := machinetest.NewServer()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	srv.AddUser("@alice:example.org", "secret password")
	cfg := Config{HomeserverURL: hs.URL, Password: password, Backoff: time.Millisecond}
	sess, err := LoginPassword(context.Background(), cfg, "@alice:example.org", "secret password", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), cfg, sess, store.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// The cross-signing key upload completes user-interactive authentication: with the password
// when Config.Password gives it, with m.login.dummy otherwise; a wrong password is the server's
// 401.
func TestSigningKeysUploadAuthenticates(t *testing.T) {
	ctx := context.Background()
	body := json.RawMessage(`{"master_key":{"user_id":"@alice:example.org","usage":["master"],"keys":{"ed25519:k":"k"}}}`)
	req := machine.Request{Kind: machine.KindSigningKeysUpload, Method: "POST", Path: clientV3 + "/keys/device_signing/upload", Body: body}
	for _, c := range []struct {
		name     string
		password func(context.Context) (string, error)
		ok       bool
	}{
		{"password", func(context.Context) (string, error) { return "secret password", nil }, true},
		{"dummy", nil, true},
		{"wrong password", func(context.Context) (string, error) { return "wrong", nil }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, srv := testClient(t, c.password)
			_, err := cl.execute(ctx, req)
			if c.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if !c.ok && !errors.Is(err, &Error{Status: http.StatusUnauthorized}) {
				t.Fatalf("err = %v, want the server's 401", err)
			}
			q, err := srv.Do(cl.UserID(), cl.DeviceID(), machine.Request{Kind: machine.KindKeysQuery,
				Body: json.RawMessage(`{"device_keys":{"@alice:example.org":[]}}`)})
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				MasterKeys map[string]json.RawMessage `json:"master_keys"`
			}
			_ = json.Unmarshal(q, &resp)
			if c.ok != (resp.MasterKeys["@alice:example.org"] != nil) {
				t.Fatalf("master key stored: %v", resp.MasterKeys)
			}
		})
	}
}

// The backup requests go through the generic executor: a POST, a PUT with a query string and a
// GET without a body.
func TestBackupRequests(t *testing.T) {
	ctx := context.Background()
	cl, _ := testClient(t, nil)
	resp, err := cl.execute(ctx, machine.Request{Kind: machine.KindBackupVersion, Method: "POST", Path: clientV3 + "/room_keys/version",
		Body: json.RawMessage(`{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","auth_data":{}}`)})
	if err != nil || string(resp) != `{"version":"1"}` {
		t.Fatalf("%s %v", resp, err)
	}
	data := `{"first_message_index":0,"forwarded_count":0,"is_verified":true,"session_data":{}}`
	if _, err := cl.execute(ctx, machine.Request{Kind: machine.KindBackupUpload, Method: "PUT", Path: clientV3 + "/room_keys/keys?version=1",
		Body: json.RawMessage(`{"rooms":{"!r:example.org":{"sessions":{"S":` + data + `}}}}`)}); err != nil {
		t.Fatal(err)
	}
	get := machine.Request{Kind: machine.KindBackupDownload, Method: "GET", Path: clientV3 + "/room_keys/keys/%21r:example.org/S?version=1"}
	if resp, err := cl.execute(ctx, get); err != nil || string(resp) != data {
		t.Fatalf("%s %v", resp, err)
	}
	get.Path = clientV3 + "/room_keys/keys/%21r:example.org/S?version=2"
	if _, err := cl.execute(ctx, get); !errors.Is(err, &Error{Status: http.StatusForbidden, ErrCode: "M_WRONG_ROOM_KEYS_VERSION"}) {
		t.Fatalf("wrong version: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "2": 2 * time.Second, "0": 0, "-3": 0, "junk": 0, "999999": time.Hour,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second, "Wed, 31 Dec 2025 23:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}
