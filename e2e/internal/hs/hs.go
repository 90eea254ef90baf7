// Package hs sets up users and rooms on a real homeserver for the
// end-to-end tests: registration, login, encrypted rooms, invites and
// joins, in plain client-server API calls
// (https://spec.matrix.org/v1.19/client-server-api/). It does test setup
// only; encryption is the peers' business.
//
// The homeserver's base URL comes from SICHER_TEST_HOMESERVER (printed by
// scripts/dendrite.sh start). ForTest skips the test when it is not set,
// except under CI=true, where that fails the test.
package hs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// EnvHomeserver names the environment variable with the homeserver's base URL.
const EnvHomeserver = "SICHER_TEST_HOMESERVER"

// ErrUnavailable means no homeserver is configured or it does not answer.
var ErrUnavailable = errors.New("hs: homeserver unavailable")

// Server is a homeserver the tests use. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:8008.
	URL string
	// HTTP is the client for every request.
	HTTP *http.Client

	run string // random per-process prefix of user names
	seq atomic.Int64
}

// New returns the server at baseURL after checking that
// /_matrix/client/versions answers.
func New(ctx context.Context, baseURL string) (*Server, error) {
	var b [4]byte
	rand.Read(b[:])
	s := &Server{URL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}, run: hex.EncodeToString(b[:])}
	var v struct {
		Versions []string `json:"versions"`
	}
	if err := s.Do(ctx, "", http.MethodGet, "/_matrix/client/versions", nil, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(v.Versions) == 0 {
		return nil, fmt.Errorf("%w: %s/_matrix/client/versions lists no versions", ErrUnavailable, s.URL)
	}
	return s, nil
}

// ForTest returns the server named by SICHER_TEST_HOMESERVER. Without it
// (or if it does not answer) the test is skipped, or fails under CI=true.
func ForTest(tb testing.TB) *Server {
	tb.Helper()
	u := os.Getenv(EnvHomeserver)
	var err error
	var s *Server
	if u == "" {
		err = fmt.Errorf("%w: %s is not set", ErrUnavailable, EnvHomeserver)
	} else {
		s, err = New(context.Background(), u)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v (CI=true: the homeserver is required; eval \"$(scripts/dendrite.sh start)\")", err)
		}
		tb.Skipf("%v; skipping (eval \"$(scripts/dendrite.sh start)\")", err)
	}
	return s
}

// Error is an error response of the homeserver
// (https://spec.matrix.org/v1.19/client-server-api/#standard-error-response).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"errcode"`
	Message string `json:"error"`
	// Body is the whole response body (for user-interactive
	// authentication, the flows and the session).
	Body json.RawMessage `json:"-"`
}

// Error returns "hs: <status> <errcode>: <error>".
func (e *Error) Error() string {
	return fmt.Sprintf("hs: %d %s: %s", e.Status, e.Code, e.Message)
}

// Do sends one request with the access token (if not empty) and decodes
// the JSON answer into out (if not nil). A status other than 2xx gives an
// *Error.
func (s *Server) Do(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode, Body: b}
		json.Unmarshal(b, e)
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("hs: %s %s: answer %.200q: %w", method, path, b, err)
	}
	return nil
}

// User is an account on the server with one logged-in device (the one
// registration created).
type User struct {
	ID       string
	Password string
	// Token and DeviceID are the session registration created; peers log
	// in themselves and get devices of their own.
	Token    string
	DeviceID string
}

// Register creates a user whose name starts with name and is unique for
// this run, with the m.login.dummy stage of user-interactive
// authentication (https://spec.matrix.org/v1.19/client-server-api/#dummy-auth).
func (s *Server) Register(ctx context.Context, name string) (*User, error) {
	local := fmt.Sprintf("%s-%s-%d", strings.ToLower(name), s.run, s.seq.Add(1))
	password := "pw-" + local
	req := map[string]any{"username": local, "password": password, "initial_device_display_name": "hs setup"}
	var resp struct {
		UserID   string `json:"user_id"`
		Token    string `json:"access_token"`
		DeviceID string `json:"device_id"`
	}
	err := s.Do(ctx, "", http.MethodPost, "/_matrix/client/v3/register", req, &resp)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		var uia struct {
			Session string `json:"session"`
		}
		json.Unmarshal(e.Body, &uia)
		req["auth"] = map[string]any{"type": "m.login.dummy", "session": uia.Session}
		err = s.Do(ctx, "", http.MethodPost, "/_matrix/client/v3/register", req, &resp)
	}
	if err != nil {
		return nil, fmt.Errorf("hs: register %s: %w", local, err)
	}
	return &User{ID: resp.UserID, Password: password, Token: resp.Token, DeviceID: resp.DeviceID}, nil
}

// MustRegister is Register that fails the test on error.
func (s *Server) MustRegister(tb testing.TB, name string) *User {
	tb.Helper()
	u, err := s.Register(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// CreateEncryptedRoom creates a private room owned by u with
// m.room.encryption (m.megolm.v1.aes-sha2) in its initial state and
// "shared" history visibility, inviting the given users.
func (s *Server) CreateEncryptedRoom(ctx context.Context, u *User, name string, invite ...string) (string, error) {
	req := map[string]any{
		"name":   name,
		"preset": "private_chat",
		"invite": append([]string{}, invite...),
		"initial_state": []any{
			map[string]any{"type": "m.room.encryption", "state_key": "", "content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}},
			map[string]any{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "shared"}},
		},
	}
	var resp struct {
		RoomID string `json:"room_id"`
	}
	if err := s.Do(ctx, u.Token, http.MethodPost, "/_matrix/client/v3/createRoom", req, &resp); err != nil {
		return "", fmt.Errorf("hs: createRoom: %w", err)
	}
	return resp.RoomID, nil
}

// Invite invites userID into roomID as u.
func (s *Server) Invite(ctx context.Context, u *User, roomID, userID string) error {
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/invite"
	if err := s.Do(ctx, u.Token, http.MethodPost, path, map[string]string{"user_id": userID}, nil); err != nil {
		return fmt.Errorf("hs: invite %s: %w", userID, err)
	}
	return nil
}

// Join joins u to roomID.
func (s *Server) Join(ctx context.Context, u *User, roomID string) error {
	path := "/_matrix/client/v3/join/" + url.PathEscape(roomID)
	if err := s.Do(ctx, u.Token, http.MethodPost, path, map[string]any{}, nil); err != nil {
		return fmt.Errorf("hs: join %s: %w", roomID, err)
	}
	return nil
}

// EncryptedRoom creates an encrypted room owned by owner, invites and
// joins every other user, and fails the test on error.
func (s *Server) EncryptedRoom(tb testing.TB, owner *User, others ...*User) string {
	tb.Helper()
	ctx := context.Background()
	var ids []string
	for _, o := range others {
		ids = append(ids, o.ID)
	}
	room, err := s.CreateEncryptedRoom(ctx, owner, tb.Name(), ids...)
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range others {
		if err := s.Join(ctx, o, room); err != nil {
			tb.Fatal(err)
		}
	}
	return room
}
