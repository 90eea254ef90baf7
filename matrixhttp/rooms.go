package matrixhttp

import (
	"context"
	"net/url"
	"slices"
)

// megolmAlgorithm is the room encryption algorithm (spec "m.megolm.v1.aes-sha2",
// https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2).
const megolmAlgorithm = "m.megolm.v1.aes-sha2"

// JoinRoom joins a room by id or alias (POST /join/{roomIdOrAlias}) and returns its id. Errors:
// *Error.
func (c *Client) JoinRoom(ctx context.Context, roomIDOrAlias string) (string, error) {
	var resp struct {
		RoomID string `json:"room_id"`
	}
	if err := c.call(ctx, "POST", clientV3+"/join/"+url.PathEscape(roomIDOrAlias), struct{}{}, &resp); err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.rooms[resp.RoomID] == nil {
		c.rooms[resp.RoomID] = &room{Members: map[string]string{}}
	}
	c.rooms[resp.RoomID].Members[c.sess.UserID] = "join"
	c.mu.Unlock()
	return resp.RoomID, nil
}

// CreateRoom creates a private room (preset private_chat, history visibility "shared"),
// encrypted with Megolm unless unencrypted is true, invites users, and returns its id. The
// client knows the room at once, so SendMessage works before the next sync. Errors: *Error.
func (c *Client) CreateRoom(ctx context.Context, name string, invite []string, unencrypted bool) (string, error) {
	req := map[string]any{"preset": "private_chat"}
	if name != "" {
		req["name"] = name
	}
	if len(invite) > 0 {
		req["invite"] = invite
	}
	r := &room{Members: map[string]string{c.sess.UserID: "join"}, HistoryVisibility: "shared"}
	if !unencrypted {
		req["initial_state"] = []any{map[string]any{"type": "m.room.encryption", "state_key": "",
			"content": map[string]string{"algorithm": megolmAlgorithm}}}
		r.Encryption = &encryption{Algorithm: megolmAlgorithm}
	}
	for _, u := range invite {
		r.Members[u] = "invite"
	}
	var resp struct {
		RoomID string `json:"room_id"`
	}
	if err := c.call(ctx, "POST", clientV3+"/createRoom", req, &resp); err != nil {
		return "", err
	}
	c.mu.Lock()
	c.rooms[resp.RoomID] = r
	c.mu.Unlock()
	return resp.RoomID, nil
}

// Invite invites a user into a room (POST /rooms/{roomId}/invite). Errors: *Error.
func (c *Client) Invite(ctx context.Context, roomID, userID string) error {
	err := c.call(ctx, "POST", clientV3+"/rooms/"+url.PathEscape(roomID)+"/invite", map[string]string{"user_id": userID}, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if r := c.rooms[roomID]; r != nil && r.Members[userID] == "" {
		r.Members[userID] = "invite"
	}
	c.mu.Unlock()
	return nil
}

// LeaveRoom leaves a room (POST /rooms/{roomId}/leave). Errors: *Error.
func (c *Client) LeaveRoom(ctx context.Context, roomID string) error {
	if err := c.call(ctx, "POST", clientV3+"/rooms/"+url.PathEscape(roomID)+"/leave", struct{}{}, nil); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.rooms, roomID)
	c.mu.Unlock()
	return nil
}

// Rooms returns the ids of the rooms the client is in.
func (c *Client) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.rooms))
	for id := range c.rooms {
		out = append(out, id)
	}
	return out
}

// Encrypted reports whether the client knows a room as encrypted.
func (c *Client) Encrypted(roomID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[roomID]
	return r != nil && r.Encryption != nil
}

// Members returns the joined members of a room the client is in, sorted, as the last
// processed /sync (or the client's own room calls) left them.
func (c *Client) Members(roomID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	if r := c.rooms[roomID]; r != nil {
		for u, m := range r.Members {
			if m == "join" {
				out = append(out, u)
			}
		}
	}
	slices.Sort(out)
	return out
}
