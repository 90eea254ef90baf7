package matrixhttp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/machine"
)

// ErrUnknownRoom reports a SendMessage or SendFile to a room the client has not seen: not
// created or joined through it, and not in a processed /sync.
var ErrUnknownRoom = errors.New("matrixhttp: room not known to the client")

// maxSendRounds bounds the rounds of SendRequests: answers may queue new requests (a keys
// query after an upload), but not forever.
const maxSendRounds = 8

// SendRequests executes the machine's outgoing requests (keys upload, query and claim,
// to-device messages, signatures, cross-signing keys, account data, backups, room events) and
// hands each response to the machine, until it has none left. A request that fails stays
// queued in the store for the next call; the failures are returned joined (each an *Error or
// a network error), after the other requests were sent. The user-interactive authentication
// that uploading cross-signing keys needs is completed with Config.Password (m.login.password)
// or m.login.dummy.
func (c *Client) SendRequests(ctx context.Context) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	var errs []error
	failed := map[string]bool{}
	for range maxSendRounds {
		reqs, err := c.m.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		sent := 0
		for _, r := range reqs {
			if failed[r.ID] {
				continue
			}
			sent++
			resp, err := c.execute(ctx, r)
			if err == nil {
				err = c.m.MarkRequestSent(ctx, r.ID, resp)
				if errors.Is(err, machine.ErrUnknownRequest) {
					err = nil // another process on the same store confirmed it first
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				failed[r.ID] = true
				errs = append(errs, fmt.Errorf("matrixhttp: %s request: %w", r.Kind, err))
			}
		}
		if sent == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// execute sends one request of the machine.
func (c *Client) execute(ctx context.Context, r machine.Request) ([]byte, error) {
	req := request{method: r.Method, path: r.Path, body: r.Body}
	if r.Method == http.MethodGet {
		req.body = nil
	}
	resp, err := c.t.do(ctx, req)
	var e *Error
	if r.Kind == machine.KindSigningKeysUpload && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		return c.authenticate(ctx, req, e)
	}
	return resp, err
}

// authenticate completes user-interactive authentication (spec "User-Interactive
// Authentication API", https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api)
// with one stage, m.login.password when Config.Password is set and the server offers it, else
// m.login.dummy, and sends the request again with its "auth" member.
func (c *Client) authenticate(ctx context.Context, req request, challenge *Error) ([]byte, error) {
	var uia struct {
		Flows []struct {
			Stages []string `json:"stages"`
		} `json:"flows"`
		Session string `json:"session"`
	}
	if jsonstrict.Unmarshal(challenge.body, &uia) != nil || len(uia.Flows) == 0 {
		return nil, challenge
	}
	offers := func(stage string) bool {
		for _, f := range uia.Flows {
			if len(f.Stages) == 1 && f.Stages[0] == stage {
				return true
			}
		}
		return false
	}
	var auth map[string]any
	switch {
	case c.cfg.Password != nil && offers("m.login.password"):
		pw, err := c.cfg.Password(ctx)
		if err != nil {
			return nil, fmt.Errorf("matrixhttp: password for user-interactive authentication: %w", err)
		}
		auth = map[string]any{"type": "m.login.password", "session": uia.Session, "password": pw,
			"identifier": map[string]string{"type": "m.id.user", "user": c.sess.UserID}}
	case offers("m.login.dummy"):
		auth = map[string]any{"type": "m.login.dummy", "session": uia.Session}
	default:
		return nil, fmt.Errorf("%w (no single-stage flow this client completes)", challenge)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(req.body, &body); err != nil {
		return nil, fmt.Errorf("matrixhttp: request body: %w", err)
	}
	body["auth"], _ = json.Marshal(auth)
	req.body, _ = json.Marshal(body)
	return c.t.do(ctx, req)
}

// SendMessage sends a room event and returns its event id. In an encrypted room it first
// makes sure every member's device holds the room key (device lists queried, Olm sessions
// claimed, ShareRoomKey with the room's m.room.encryption settings, the to-device messages
// sent), then encrypts the event (EncryptRoomEvent) and sends it as m.room.encrypted
// (PUT /rooms/{roomId}/send/{eventType}/{txnId}); in an unencrypted room it is sent as is.
// Retries reuse the transaction id, so the server stores the event once. Errors:
// ErrUnknownRoom, *Error, and the machine's.
func (c *Client) SendMessage(ctx context.Context, roomID, eventType string, content any) (string, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("matrixhttp: encoding the content: %w", err)
	}
	c.mu.Lock()
	r := c.rooms[roomID]
	var members []string
	var rs machine.RoomSettings
	encrypted := false
	if r != nil {
		members, rs, encrypted = r.recipients(), r.settings(), r.Encryption != nil
	}
	c.mu.Unlock()
	if r == nil {
		return "", fmt.Errorf("%w: %s", ErrUnknownRoom, roomID)
	}
	if encrypted {
		if raw, err = c.encrypt(ctx, roomID, eventType, raw, members, rs); err != nil {
			return "", err
		}
		eventType = "m.room.encrypted"
	}
	txn, err := newTxnID()
	if err != nil {
		return "", err
	}
	var resp struct {
		EventID string `json:"event_id"`
	}
	path := clientV3 + "/rooms/" + url.PathEscape(roomID) + "/send/" + url.PathEscape(eventType) + "/" + url.PathEscape(txn)
	if err := c.call(ctx, "PUT", path, json.RawMessage(raw), &resp); err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// encrypt shares the room key with the members' devices and encrypts one event.
func (c *Client) encrypt(ctx context.Context, roomID, eventType string, content json.RawMessage, members []string, rs machine.RoomSettings) (json.RawMessage, error) {
	if err := c.m.UpdateTrackedUsers(ctx, members); err != nil {
		return nil, err
	}
	var err error
	for range 2 {
		// Query outdated device lists, then claim one-time keys for devices without an
		// Olm session; a device list that changes meanwhile makes ShareRoomKey refuse.
		if err := c.sendLogged(ctx); err != nil {
			return nil, err
		}
		if _, err := c.m.GetMissingSessions(ctx, members); err != nil {
			return nil, err
		}
		if err := c.sendLogged(ctx); err != nil {
			return nil, err
		}
		if err = c.m.ShareRoomKey(ctx, roomID, members, rs); !errors.Is(err, machine.ErrDevicesOutdated) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := c.sendLogged(ctx); err != nil {
		return nil, err
	}
	return c.m.EncryptRoomEvent(ctx, roomID, eventType, content)
}

// sendLogged runs SendRequests and logs its failures: a request that failed stays queued and
// is sent again later, so it does not stop a message. Only a cancelled ctx is returned.
func (c *Client) sendLogged(ctx context.Context) error {
	err := c.SendRequests(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		c.log.Warn("matrixhttp: sending the machine's requests", "err", err)
	}
	return nil
}

// newTxnID returns a random transaction id.
func newTxnID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("matrixhttp: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
