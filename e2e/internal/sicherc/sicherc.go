// Package sicherc runs sicher clients (package matrixhttp on a
// store/sqlstore SQLite store) against the test homeserver: login, the
// sync loop in a goroutine, a restart from the store, and the room's
// history read back and decrypted by the device's machine, so a test can
// count what each device decrypted and why the rest failed.
package sicherc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/matrixhttp"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// Client is one sicher device of a test user: a matrixhttp.Client whose
// sync loop runs until Stop or the end of the test.
type Client struct {
	// User is the account; DeviceID the device this client logged in.
	User     *hs.User
	DeviceID string

	srv   *hs.Server
	t     testing.TB
	path  string
	base  string
	key   sqlstore.Key
	token string
	cfg   matrixhttp.Config

	mu       sync.Mutex
	c        *matrixhttp.Client
	st       *sqlstore.Store
	cancel   context.CancelFunc
	done     chan error
	events   int // events given to OnEvent
	failures int // events given to OnDecryptionFailure
	invites  []string
}

// Login logs u in as a new sicher device with its own SQLite store in a
// temporary directory and starts its sync loop. The client stops at the
// end of the test.
func Login(t testing.TB, s *hs.Server, u *hs.User) *Client {
	t.Helper()
	return LoginVia(t, s, u, s.URL)
}

// LoginVia is Login with the client talking to the homeserver through
// baseURL (a proxy in front of s); setup calls still go to s directly.
func LoginVia(t testing.TB, s *hs.Server, u *hs.User, baseURL string) *Client {
	t.Helper()
	ctx := context.Background()
	c := &Client{User: u, srv: s, t: t, path: filepath.Join(t.TempDir(), "crypto.db"), key: sqlstore.GenerateKey(), base: baseURL}
	c.cfg = c.config()
	sess, err := matrixhttp.LoginPassword(ctx, c.cfg, u.ID, u.Password, "")
	if err != nil {
		t.Fatalf("sicherc: login %s: %v", u.ID, err)
	}
	c.DeviceID, c.token = sess.DeviceID, sess.AccessToken()
	st, err := sqlstore.OpenSQLite(ctx, c.path, c.key)
	if err != nil {
		t.Fatalf("sicherc: store: %v", err)
	}
	mc, err := matrixhttp.New(ctx, c.cfg, sess, st)
	if err != nil {
		st.Close()
		t.Fatalf("sicherc: new client %s: %v", u.ID, err)
	}
	c.run(mc, st)
	t.Cleanup(c.Stop)
	return c
}

func (c *Client) config() matrixhttp.Config {
	var log *slog.Logger
	if os.Getenv("SICHER_E2E_VERBOSE") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("device", c.User.ID+"/"+c.DeviceID)
	}
	return matrixhttp.Config{
		HomeserverURL: c.base,
		Logger:        log,
		HTTPClient:    &http.Client{Timeout: time.Minute},
		SyncTimeout:   2 * time.Second,
		Backoff:       200 * time.Millisecond,
		Password:      func(context.Context) (string, error) { return c.User.Password, nil },
		OnEvent: func(context.Context, string, *machine.DecryptedEvent) {
			c.mu.Lock()
			c.events++
			c.mu.Unlock()
		},
		OnDecryptionFailure: func(context.Context, string, string, *machine.DecryptionError) {
			c.mu.Lock()
			c.failures++
			c.mu.Unlock()
		},
		OnInvite: func(_ context.Context, roomID, _ string) bool {
			c.mu.Lock()
			c.invites = append(c.invites, roomID)
			c.mu.Unlock()
			return false
		},
	}
}

func (c *Client) run(mc *matrixhttp.Client, st *sqlstore.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c.mu.Lock()
	c.c, c.st, c.cancel, c.done = mc, st, cancel, done
	c.mu.Unlock()
	go func() { done <- mc.Run(ctx) }()
}

// C returns the running matrixhttp client.
func (c *Client) C() *matrixhttp.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

// M returns the running client's machine.
func (c *Client) M() *machine.Machine { return c.C().Machine() }

// String names the device.
func (c *Client) String() string { return "sicher " + c.User.ID + "/" + c.DeviceID }

// Stop ends the sync loop, waits for it and closes the store. Stopping a
// stopped client does nothing.
func (c *Client) Stop() {
	c.mu.Lock()
	cancel, done, st := c.cancel, c.done, c.st
	c.cancel, c.done, c.st = nil, nil, nil
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		c.t.Errorf("%s: sync loop ended with %v", c, err)
	}
	if err := st.Close(); err != nil {
		c.t.Errorf("%s: close store: %v", c, err)
	}
}

// Restart stops the client, reopens its store and resumes the session
// from it (matrixhttp.Resume: the stored access and sync tokens), as a
// restarted program would.
func (c *Client) Restart() {
	c.t.Helper()
	c.Stop()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, c.path, c.key)
	if err != nil {
		c.t.Fatalf("%s: reopen store: %v", c, err)
	}
	mc, err := matrixhttp.Resume(ctx, c.cfg, st, c.User.ID, c.DeviceID)
	if err != nil {
		st.Close()
		c.t.Fatalf("%s: resume: %v", c, err)
	}
	c.run(mc, st)
}

// Eventually polls cond every 200 ms until it returns nil or timeout
// passes, then fails the test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitMembers waits until the client's view of roomID has exactly the
// given joined members (as its /sync reported them).
func (c *Client) WaitMembers(roomID string, users ...string) {
	c.t.Helper()
	want := slices.Clone(users)
	slices.Sort(want)
	want = slices.Compact(want)
	Eventually(c.t, 60*time.Second, c.String()+" sees the members", func() error {
		if got := c.C().Members(roomID); !slices.Equal(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		return nil
	})
}

// WaitDevices waits until the machine knows the given devices of userID
// (its device list was queried after they uploaded their keys), except
// the client's own device.
func (c *Client) WaitDevices(userID string, deviceIDs ...string) {
	c.t.Helper()
	Eventually(c.t, 60*time.Second, c.String()+" knows the devices of "+userID, func() error {
		ctx := context.Background()
		m := c.M()
		if err := m.UpdateTrackedUsers(ctx, []string{userID}); err != nil {
			return err
		}
		devs, err := m.Devices(ctx, userID)
		if err != nil {
			return err
		}
		for _, id := range deviceIDs {
			if userID == c.User.ID && id == c.DeviceID {
				// The machine's own device list may lack the device itself: its first
				// query can be answered before its upload (e2e/README.md, findings).
				continue
			}
			if !slices.ContainsFunc(devs, func(d machine.Device) bool { return d.Keys.DeviceID == id }) {
				var known []string
				for _, d := range devs {
					known = append(known, d.Keys.DeviceID)
				}
				return fmt.Errorf("device %s not known yet (known: %v)", id, known)
			}
		}
		return nil
	})
}

// Join joins roomID and waits until the client's sync shows the room.
func (c *Client) Join(roomID string) {
	c.t.Helper()
	if _, err := c.C().JoinRoom(context.Background(), roomID); err != nil {
		c.t.Fatalf("%s: join: %v", c, err)
	}
}

// SendText sends an m.text message and returns its event id.
func (c *Client) SendText(roomID, body string) string {
	c.t.Helper()
	id, err := c.C().SendMessage(context.Background(), roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": body})
	if err != nil {
		c.t.Fatalf("%s: send %q: %v", c, body, err)
	}
	return id
}

// Message is one room event as this device sees it after decrypting it.
type Message struct {
	EventID, Sender, Type string
	// Raw is the event as the server serves it.
	Raw json.RawMessage
	// Encrypted is whether it came as m.room.encrypted; Dec is the
	// decryption when it succeeded, Err the failure otherwise.
	Encrypted bool
	Dec       *machine.DecryptedEvent
	Err       error
	// Body is the decrypted content's body.
	Body string
}

// Messages reads the last 200 events of roomID (GET /rooms/{roomId}/messages
// backwards, the device's own access token) and decrypts each encrypted one
// with the device's machine.
func (c *Client) Messages(roomID string) []Message {
	c.t.Helper()
	ctx := context.Background()
	var resp struct {
		Chunk []json.RawMessage `json:"chunk"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=200"
	if err := c.srv.Do(ctx, c.token, http.MethodGet, path, nil, &resp); err != nil {
		c.t.Fatalf("%s: messages: %v", c, err)
	}
	var out []Message
	for _, raw := range resp.Chunk {
		var ev struct {
			EventID  string  `json:"event_id"`
			Sender   string  `json:"sender"`
			Type     string  `json:"type"`
			StateKey *string `json:"state_key"`
		}
		if json.Unmarshal(raw, &ev) != nil || ev.StateKey != nil {
			continue
		}
		msg := Message{EventID: ev.EventID, Sender: ev.Sender, Type: ev.Type, Raw: raw, Encrypted: ev.Type == "m.room.encrypted"}
		if msg.Encrypted {
			msg.Dec, msg.Err = c.Decrypt(roomID, raw)
			if msg.Dec != nil {
				var body struct {
					Body string `json:"body"`
				}
				json.Unmarshal(msg.Dec.Content, &body)
				msg.Body = body.Body
			}
		}
		out = append(out, msg)
	}
	slices.Reverse(out)
	return out
}

// Decrypt decrypts one room event with the device's machine.
func (c *Client) Decrypt(roomID string, raw json.RawMessage) (*machine.DecryptedEvent, error) {
	return c.M().DecryptRoomEvent(context.Background(), roomID, raw)
}

// Token returns the device's access token (for test setup calls).
func (c *Client) Token() string { return c.token }

// WaitUploaded waits until the server serves this device's keys
// (POST /keys/query), so that other clients can find the device.
func (c *Client) WaitUploaded() {
	c.t.Helper()
	Eventually(c.t, 30*time.Second, c.String()+" keys on the server", func() error {
		var q struct {
			DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
		}
		body := map[string]any{"device_keys": map[string][]string{c.User.ID: {c.DeviceID}}}
		if err := c.srv.Do(context.Background(), c.token, http.MethodPost, "/_matrix/client/v3/keys/query", body, &q); err != nil {
			return err
		}
		if q.DeviceKeys[c.User.ID][c.DeviceID] == nil {
			return errors.New("not uploaded yet")
		}
		return nil
	})
}

// Counts returns how many room events the sync loop decrypted (OnEvent)
// and how many it reported undecryptable when they arrived
// (OnDecryptionFailure; such an event is tried again when its key comes).
func (c *Client) Counts() (decrypted, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events, c.failures
}

// Bootstrap runs machine.Bootstrap once our own keys query is answered
// (it refuses with ErrDevicesOutdated before) and sends its requests; the
// cross-signing key upload completes user-interactive authentication with
// the password. It returns the result with the recovery key.
func (c *Client) Bootstrap() *machine.BootstrapResult {
	c.t.Helper()
	ctx := context.Background()
	var res *machine.BootstrapResult
	Eventually(c.t, 30*time.Second, c.String()+" bootstraps", func() error {
		var err error
		res, err = c.M().Bootstrap(ctx, machine.BootstrapOptions{})
		if errors.Is(err, machine.ErrDevicesOutdated) {
			c.C().SendRequests(ctx)
		}
		return err
	})
	if err := c.C().SendRequests(ctx); err != nil {
		c.t.Fatalf("%s: bootstrap requests: %v", c, err)
	}
	return res
}
