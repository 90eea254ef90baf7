package matrixhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// Config describes the homeserver and what the client does with what it receives. Only
// HomeserverURL is required.
type Config struct {
	// HomeserverURL is the base URL of the client-server API, such as
	// "https://matrix.example.org".
	HomeserverURL string
	// HTTPClient sends the requests; nil means http.DefaultClient. A Timeout, if set, must
	// exceed SyncTimeout: /sync is a long poll.
	HTTPClient *http.Client
	// Logger receives diagnostics (never secrets); nil discards them.
	Logger *slog.Logger
	// MaxRetries is how often a request is retried after a 429, a 5xx response or a network
	// error; zero means 8, negative means never.
	MaxRetries int
	// Backoff is the first wait after a 5xx response or a network error, doubled on each
	// retry up to a minute; zero means one second. A 429 waits as long as the server asks.
	Backoff time.Duration
	// SyncTimeout is the long-poll timeout of /sync; zero means 30 s.
	SyncTimeout time.Duration

	// Password returns the account's password when the server asks for user-interactive
	// authentication (uploading cross-signing keys). Nil means only m.login.dummy is tried.
	Password func(ctx context.Context) (string, error)
	// OnEvent receives each decrypted room event. It runs on the sync goroutine.
	OnEvent func(ctx context.Context, roomID string, ev *machine.DecryptedEvent)
	// OnDecryptionFailure receives the room events that did not decrypt, with the machine's
	// reason. An event that failed for a missing session is tried again after later syncs
	// and, if its key arrives, goes to OnEvent.
	OnDecryptionFailure func(ctx context.Context, roomID, eventID string, err *machine.DecryptionError)
	// OnInvite is asked about each invite; returning true joins the room.
	OnInvite func(ctx context.Context, roomID, inviter string) bool
	// OnToDevice receives the to-device events the machine did not consume.
	OnToDevice func(ctx context.Context, ev machine.ToDeviceEvent)
}

// Errors a caller branches on; refusals by the server are *Error.
var (
	// ErrConfig reports a Config without an absolute HomeserverURL or a Session without ids.
	ErrConfig = errors.New("matrixhttp: incomplete config")
	// ErrNoSession reports a Resume on a store that holds no access token for the device.
	ErrNoSession = errors.New("matrixhttp: no stored session for the device")
	// ErrMalformed reports a server response that is not the spec's JSON.
	ErrMalformed = errors.New("matrixhttp: malformed server response")
)

// Session is a logged-in device: its user and device id and its access token. The access
// token is secret: fmt and log/slog print a placeholder and encoding/json sees only the ids.
type Session struct {
	UserID, DeviceID string
	accessToken      string
}

// NewSession returns the session of a device whose access token the caller kept.
func NewSession(userID, deviceID, accessToken string) *Session {
	return &Session{UserID: userID, DeviceID: deviceID, accessToken: accessToken}
}

// AccessToken returns the session's access token (secret).
func (s *Session) AccessToken() string { return s.accessToken }

// Format prints the session's ids, never its access token.
func (s Session) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "matrixhttp.Session{%s %s}", s.UserID, s.DeviceID)
}

// LogValue logs the session's ids, never its access token.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_id", s.UserID), slog.String("device_id", s.DeviceID))
}

// LoginPassword logs in with a user id (or localpart) and password (POST /login,
// m.login.password, spec "Login", https://spec.matrix.org/v1.19/client-server-api/#login).
// deviceID reuses a device id; empty lets the server choose one. A refusal is an *Error
// (M_FORBIDDEN for a wrong password). A redirect to another origin than HomeserverURL's is
// ErrRedirect, here and for every request of the package.
func LoginPassword(ctx context.Context, cfg Config, user, password, deviceID string) (*Session, error) {
	return login(ctx, cfg, map[string]any{"type": "m.login.password", "password": password,
		"identifier": map[string]string{"type": "m.id.user", "user": user}}, deviceID)
}

// LoginToken logs in with a login token (m.login.token, as single sign-on hands out). Errors
// as for LoginPassword.
func LoginToken(ctx context.Context, cfg Config, token, deviceID string) (*Session, error) {
	return login(ctx, cfg, map[string]any{"type": "m.login.token", "token": token}, deviceID)
}

// Whoami returns the session of an access token the caller already has (GET /account/whoami,
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3accountwhoami). Errors:
// *Error (M_UNKNOWN_TOKEN), ErrMalformed (also for a token without a device).
func Whoami(ctx context.Context, cfg Config, accessToken string) (*Session, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	t.token = accessToken
	resp, err := t.do(ctx, request{method: "GET", path: clientV3 + "/account/whoami"})
	if err != nil {
		return nil, err
	}
	var r struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
	}
	if err := jsonstrict.Unmarshal(resp, &r); err != nil || r.UserID == "" || r.DeviceID == "" {
		return nil, fmt.Errorf("%w: /account/whoami", ErrMalformed)
	}
	return NewSession(r.UserID, r.DeviceID, accessToken), nil
}

func login(ctx context.Context, cfg Config, body map[string]any, deviceID string) (*Session, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	if deviceID != "" {
		body["device_id"] = deviceID
	}
	body["initial_device_display_name"] = "sicher"
	b, _ := json.Marshal(body)
	resp, err := t.do(ctx, request{method: "POST", path: clientV3 + "/login", body: b, noAuth: true})
	if err != nil {
		return nil, err
	}
	var r struct {
		UserID      string `json:"user_id"`
		DeviceID    string `json:"device_id"`
		AccessToken string `json:"access_token"`
	}
	if err := jsonstrict.Unmarshal(resp, &r); err != nil || r.UserID == "" || r.DeviceID == "" || r.AccessToken == "" {
		return nil, fmt.Errorf("%w: /login", ErrMalformed)
	}
	return NewSession(r.UserID, r.DeviceID, r.AccessToken), nil
}

const clientV3 = "/_matrix/client/v3"

// Names of what the client keeps in the store, beside the machine's state.
const (
	secretAccessToken = "sicher.matrixhttp.access_token" // the session's access token (sealed)
	valueSince        = "sicher.matrixhttp.since"        // next_batch of the last processed /sync
	valueRooms        = "sicher.matrixhttp.rooms"        // the rooms' members and encryption
)

// Client connects a machine to a homeserver: it runs the /sync loop, executes the machine's
// requests, and sends and receives encrypted room events and attachments. It is safe for
// concurrent use; Run is meant for one goroutine.
type Client struct {
	cfg   Config
	t     *transport
	sess  Session
	m     *machine.Machine
	st    store.Store
	owner store.Owner
	log   *slog.Logger

	sendMu sync.Mutex // one executor of the machine's requests at a time

	mu      sync.Mutex
	rooms   map[string]*room
	since   string
	pending []pendingEvent // events waiting for their room key
}

// New returns the client of a logged-in device with its machine on st, and keeps the access
// token in st (sealed by store/sqlstore) so Resume finds it after a restart. Errors:
// ErrConfig, the machine's and the store's.
func New(ctx context.Context, cfg Config, sess *Session, st store.Store) (*Client, error) {
	if sess == nil || sess.UserID == "" || sess.DeviceID == "" || sess.accessToken == "" {
		return nil, ErrConfig
	}
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	t.token = sess.accessToken
	m, err := machine.New(ctx, machine.Config{UserID: sess.UserID, DeviceID: sess.DeviceID, Store: st, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, t: t, sess: *sess, m: m, st: st, log: t.log, rooms: map[string]*room{},
		owner: store.Owner{UserID: sess.UserID, DeviceID: sess.DeviceID}}
	if c.cfg.SyncTimeout <= 0 {
		c.cfg.SyncTimeout = 30 * time.Second
	}
	err = st.Update(ctx, c.owner, func(tx store.Tx) error {
		if err := tx.PutSecret(ctx, secretAccessToken, store.Secret(sess.accessToken)); err != nil {
			return err
		}
		if b, err := tx.Value(ctx, valueSince); err == nil {
			c.since = string(b)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if b, err := tx.Value(ctx, valueRooms); err == nil {
			if err := json.Unmarshal(b, &c.rooms); err != nil {
				return fmt.Errorf("matrixhttp: stored rooms: %w", store.ErrCorrupt)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Resume returns the client of a device whose session New stored in st: after a restart, it
// continues from the stored sync token. It returns ErrNoSession when st holds no access token
// for the device.
func Resume(ctx context.Context, cfg Config, st store.Store, userID, deviceID string) (*Client, error) {
	var tok store.Secret
	err := st.View(ctx, store.Owner{UserID: userID, DeviceID: deviceID}, func(tx store.Tx) error {
		var err error
		tok, err = tx.Secret(ctx, secretAccessToken)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, NewSession(userID, deviceID, string(tok)), st)
}

// Machine returns the client's machine, for what the binding does not wrap (trust, key
// requests, backups).
func (c *Client) Machine() *machine.Machine { return c.m }

// UserID returns the logged-in user.
func (c *Client) UserID() string { return c.sess.UserID }

// DeviceID returns the logged-in device.
func (c *Client) DeviceID() string { return c.sess.DeviceID }

// Format prints the client's device, never its access token.
func (c *Client) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "matrixhttp.Client{%s %s}", c.sess.UserID, c.sess.DeviceID)
}

// LogValue logs the client's device, never its access token.
func (c *Client) LogValue() slog.Value { return c.sess.LogValue() }

// call sends a JSON request and decodes a JSON response into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("matrixhttp: encoding %s: %w", pathOnly(path), err)
		}
	}
	resp, err := c.t.do(ctx, request{method: method, path: path, body: body})
	if err != nil {
		return err
	}
	if out != nil {
		if err := jsonstrict.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, pathOnly(path), err)
		}
	}
	return nil
}
