package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// homeserver makes the few plain client-server API calls the set-up needs that matrixhttp
// does not offer: registration and a device-key query.
type homeserver struct {
	url  string
	http *http.Client
}

func newHomeserver(url string) *homeserver {
	return &homeserver{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: time.Minute}}
}

// httpError is a response other than 2xx.
type httpError struct {
	status int
	body   []byte
}

func (e *httpError) Error() string { return fmt.Sprintf("load: HTTP %d: %.300s", e.status, e.body) }

// do sends one JSON request and decodes the JSON answer into out (if not nil).
func (h *homeserver) do(ctx context.Context, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.url+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &httpError{status: resp.StatusCode, body: b}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// register creates the user localpart with the m.login.dummy stage of user-interactive
// authentication (https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3register;
// scripts/dendrite.sh turns open registration on) and returns its user id and a token.
func (h *homeserver) register(ctx context.Context, localpart, password string) (userID, token string, err error) {
	req := map[string]any{"username": localpart, "password": password, "inhibit_login": false}
	var resp struct {
		UserID string `json:"user_id"`
		Token  string `json:"access_token"`
	}
	err = h.do(ctx, "", http.MethodPost, "/_matrix/client/v3/register", req, &resp)
	var e *httpError
	if errors.As(err, &e) && e.status == http.StatusUnauthorized {
		var uia struct {
			Session string `json:"session"`
		}
		json.Unmarshal(e.body, &uia)
		req["auth"] = map[string]any{"type": "m.login.dummy", "session": uia.Session}
		err = h.do(ctx, "", http.MethodPost, "/_matrix/client/v3/register", req, &resp)
	}
	if err != nil {
		return "", "", fmt.Errorf("load: register %s: %w", localpart, err)
	}
	return resp.UserID, resp.Token, nil
}

// hasDeviceKeys reports whether userID has uploaded the keys of at least one device
// (POST /keys/query, https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery).
func (h *homeserver) hasDeviceKeys(ctx context.Context, token, userID string) (bool, error) {
	var resp struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
	}
	req := map[string]any{"device_keys": map[string][]string{userID: {}}}
	if err := h.do(ctx, token, http.MethodPost, "/_matrix/client/v3/keys/query", req, &resp); err != nil {
		return false, err
	}
	return len(resp.DeviceKeys[userID]) > 0, nil
}
