package matrixhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// room is what the client knows of a room it is in, kept in the store with the sync token.
type room struct {
	// Members maps each member to its membership: "join" or "invite".
	Members map[string]string `json:"members"`
	// Encryption is the m.room.encryption content, nil in an unencrypted room.
	Encryption        *encryption `json:"encryption,omitempty"`
	HistoryVisibility string      `json:"history_visibility,omitempty"`
	// LastEvent is the id of the newest timeline event delivered, where a limited timeline's
	// gap ends when the client pages back (fillGap).
	LastEvent string `json:"last_event,omitempty"`
}

// encryption is the content of m.room.encryption (spec
// https://spec.matrix.org/v1.19/client-server-api/#mroomencryption).
type encryption struct {
	Algorithm          string `json:"algorithm"`
	RotationPeriodMS   int64  `json:"rotation_period_ms,omitempty"`
	RotationPeriodMsgs int64  `json:"rotation_period_msgs,omitempty"`
}

// settings returns the machine's RoomSettings for the room.
func (r *room) settings() machine.RoomSettings {
	rs := machine.RoomSettings{HistoryVisibility: r.HistoryVisibility}
	if e := r.Encryption; e != nil {
		if e.RotationPeriodMS > 0 {
			rs.RotationPeriod = time.Duration(min(e.RotationPeriodMS, int64(365*24*time.Hour/time.Millisecond))) * time.Millisecond
		}
		if e.RotationPeriodMsgs > 0 {
			rs.RotationMessages = uint32(min(e.RotationPeriodMsgs, 1<<31))
		}
	}
	return rs
}

// recipients returns the users who receive the room key: the joined members and, unless the
// history visibility is "joined", the invited ones (matrix-sdk-crypto does the same).
func (r *room) recipients() []string {
	var out []string
	for u, m := range r.Members {
		if m == "join" || m == "invite" && r.HistoryVisibility != "joined" {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// syncResponse is the part of a /sync response the client reads (spec
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync).
type syncResponse struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []json.RawMessage `json:"events"`
	} `json:"to_device"`
	DeviceLists struct {
		Changed []string `json:"changed"`
		Left    []string `json:"left"`
	} `json:"device_lists"`
	OneTimeKeyCounts       map[string]int `json:"device_one_time_keys_count"`
	UnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types"`
	AccountData            struct {
		Events []json.RawMessage `json:"events"`
	} `json:"account_data"`
	Rooms struct {
		Join map[string]struct {
			State    eventList `json:"state"`
			Timeline eventList `json:"timeline"`
		} `json:"join"`
		Invite map[string]struct {
			InviteState eventList `json:"invite_state"`
		} `json:"invite"`
		Leave map[string]json.RawMessage `json:"leave"`
	} `json:"rooms"`
}

type eventList struct {
	Events []json.RawMessage `json:"events"`
	// Limited and PrevBatch are set on a timeline that left out older events.
	Limited   bool   `json:"limited"`
	PrevBatch string `json:"prev_batch"`
}

// syncFilter asks for up to 100 timeline events per room and sync (servers send fewer without a
// filter: Dendrite 0.13 sends 10); a longer gap is filled from /messages (fillGap).
const syncFilter = `{"room":{"timeline":{"limit":100}}}`

// Bounds of filling a limited timeline's gap.
const (
	gapPage  = 100
	gapPages = 50
)

// roomEvent is the part of a room event the client reads.
type roomEvent struct {
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
	Sender   string          `json:"sender"`
	EventID  string          `json:"event_id"`
	Content  json.RawMessage `json:"content"`
}

// pendingEvent is an encrypted event whose room key had not arrived.
type pendingEvent struct {
	roomID string
	raw    json.RawMessage
	tries  int
}

// Limits of the events kept for a later decryption attempt.
const (
	maxPending      = 512
	maxPendingTries = 20
)

// Run syncs until ctx ends or the server refuses the session: it sends the machine's requests
// (the first keys upload), then long-polls /sync and processes each response (SyncOnce).
// Network errors and 5xx responses are retried after a backoff; it returns ctx's error, or an
// *Error the loop cannot recover from (M_UNKNOWN_TOKEN: the device was logged out).
func (c *Client) Run(ctx context.Context) error {
	if err := c.SendRequests(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("matrixhttp: sending the machine's requests", "err", err)
	}
	wait := c.t.backoff
	for {
		err := c.SyncOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var e *Error
		switch {
		case err == nil:
			wait = c.t.backoff
			continue
		case errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests:
			return err
		case errors.Is(err, store.ErrCorrupt):
			return err
		}
		c.log.Warn("matrixhttp: sync failed, trying again", "err", err, "wait", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// SyncOnce makes one /sync request (a long poll of Config.SyncTimeout, none for the first
// sync) and processes the response: room state (members, encryption), then the encryption
// changes into the machine, the machine's requests, invites (Config.OnInvite) and the room
// events (Config.OnEvent, OnDecryptionFailure). The sync token and the rooms are stored
// after the handlers ran, so an event whose handling a crash interrupted is delivered again
// after a restart (at least once).
func (c *Client) SyncOnce(ctx context.Context) error {
	c.mu.Lock()
	since := c.since
	c.mu.Unlock()
	q := url.Values{}
	q.Set("filter", syncFilter)
	q.Set("timeout", "0")
	if since != "" {
		q.Set("since", since)
		q.Set("timeout", strconv.FormatInt(c.cfg.SyncTimeout.Milliseconds(), 10))
	}
	body, err := c.t.do(ctx, request{method: "GET", path: clientV3 + "/sync?" + q.Encode()})
	if err != nil {
		return err
	}
	// The envelope comes from our homeserver; the events inside come from other servers and
	// are decoded one by one (strictly, by the machine and roomEvent below), so one malformed
	// event is skipped instead of stopping the sync.
	var resp syncResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.NextBatch == "" {
		return fmt.Errorf("%w: /sync", ErrMalformed)
	}
	return c.process(ctx, &resp)
}

func (c *Client) process(ctx context.Context, resp *syncResponse) error {
	// 0. A limited timeline of a room we were in: fetch the events it left out, so that no
	// message is skipped (they are delivered, and their state applied, before the timeline's).
	for id, jr := range resp.Rooms.Join {
		if !jr.Timeline.Limited || jr.Timeline.PrevBatch == "" {
			continue
		}
		c.mu.Lock()
		last := ""
		if r := c.rooms[id]; r != nil {
			last = r.LastEvent
		}
		c.mu.Unlock()
		if last == "" {
			continue // a room new to us: its history is not ours to deliver
		}
		gap, err := c.fillGap(ctx, id, jr.Timeline.PrevBatch, last)
		if err != nil {
			return err
		}
		jr.Timeline.Events = append(gap, jr.Timeline.Events...)
		resp.Rooms.Join[id] = jr
	}
	// 1. Room state first: members of encrypted rooms are tracked before keys are queried.
	newUsers, timelines := c.applyRooms(resp)

	// 2. The encryption changes; room keys arrive before the events they decrypt.
	changes := machine.SyncChanges{
		ToDevice: resp.ToDevice.Events, Changed: resp.DeviceLists.Changed, Left: resp.DeviceLists.Left,
		OneTimeKeyCounts: resp.OneTimeKeyCounts, UnusedFallbackKeyTypes: resp.UnusedFallbackKeyTypes,
	}
	feedAccountData(&changes, resp.AccountData.Events)
	evs, err := c.m.ReceiveSync(ctx, changes)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		switch {
		case ev.Err != nil:
			c.log.Debug("matrixhttp: to-device event dropped", "type", ev.Type, "sender", ev.Sender, "err", ev.Err)
		case ev.Content != nil && c.cfg.OnToDevice != nil:
			c.cfg.OnToDevice(ctx, ev)
		}
	}
	if len(newUsers) > 0 {
		if err := c.m.UpdateTrackedUsers(ctx, newUsers); err != nil {
			return err
		}
	}
	// 3. Keys upload and query, Olm sessions the to-device events asked for.
	if err := c.SendRequests(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("matrixhttp: sending the machine's requests", "err", err)
	}
	// 4. Invites, then the room events: first those waiting for a key, then the new ones.
	for id, inv := range resp.Rooms.Invite {
		c.invited(ctx, id, inv.InviteState.Events)
	}
	c.retryPending(ctx)
	for _, tl := range timelines {
		for _, raw := range tl.events {
			c.deliver(ctx, tl.roomID, raw, 0)
		}
	}
	// 5. Only now is the sync token stored: a crash before this point repeats the response.
	c.mu.Lock()
	c.since = resp.NextBatch
	rooms, _ := json.Marshal(c.rooms)
	c.mu.Unlock()
	return c.st.Update(ctx, c.owner, func(tx store.Tx) error {
		if err := tx.PutValue(ctx, valueSince, []byte(resp.NextBatch)); err != nil {
			return err
		}
		return tx.PutValue(ctx, valueRooms, rooms)
	})
}

// feedAccountData passes the account data events of a sync to the machine (secret storage,
// the encrypted cross-signing and backup keys, which Recover reads).
func feedAccountData(c *machine.SyncChanges, events []json.RawMessage) {
	c.AccountData = events
}

type timeline struct {
	roomID string
	events []json.RawMessage
}

// applyRooms updates the rooms from a sync's state and timeline events and returns the users
// who became members of an encrypted room, and the timelines to deliver.
func (c *Client) applyRooms(resp *syncResponse) (newUsers []string, out []timeline) {
	c.mu.Lock()
	defer c.mu.Unlock()
	added := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(resp.Rooms.Join)) {
		jr := resp.Rooms.Join[id]
		r := c.rooms[id]
		if r == nil {
			r = &room{Members: map[string]string{}}
			c.rooms[id] = r
		}
		wasEncrypted := r.Encryption != nil
		before := maps.Clone(r.Members)
		for _, raw := range append(slices.Clip(jr.State.Events), jr.Timeline.Events...) {
			var ev roomEvent
			if jsonstrict.Unmarshal(raw, &ev) != nil || ev.StateKey == nil {
				continue
			}
			r.applyState(ev)
		}
		if r.Encryption != nil {
			for u, m := range r.Members { // new members, or all when encryption began
				if !wasEncrypted || before[u] != m {
					added[u] = true
				}
			}
		}
		out = append(out, timeline{id, jr.Timeline.Events})
		for _, raw := range slices.Backward(jr.Timeline.Events) {
			var ev roomEvent
			if jsonstrict.Unmarshal(raw, &ev) == nil && ev.EventID != "" {
				r.LastEvent = ev.EventID
				break
			}
		}
	}
	for id := range resp.Rooms.Leave {
		delete(c.rooms, id)
	}
	return slices.Sorted(maps.Keys(added)), out
}

// applyState applies one state event to the room.
func (r *room) applyState(ev roomEvent) {
	switch ev.Type {
	case "m.room.member":
		var m struct {
			Membership string `json:"membership"`
		}
		if jsonstrict.Unmarshal(ev.Content, &m) != nil {
			return
		}
		if m.Membership == "join" || m.Membership == "invite" {
			r.Members[*ev.StateKey] = m.Membership
		} else {
			delete(r.Members, *ev.StateKey)
		}
	case "m.room.encryption":
		// Once a room is encrypted it stays encrypted: a later event cannot turn it off
		// (spec: "Clients SHOULD NOT ... disable encryption").
		var e encryption
		if jsonstrict.Unmarshal(ev.Content, &e) == nil && e.Algorithm != "" {
			r.Encryption = &e
		}
	case "m.room.history_visibility":
		var h struct {
			HistoryVisibility string `json:"history_visibility"`
		}
		if jsonstrict.Unmarshal(ev.Content, &h) == nil {
			r.HistoryVisibility = h.HistoryVisibility
		}
	}
}

// invited asks Config.OnInvite about an invite and joins when it says so.
func (c *Client) invited(ctx context.Context, roomID string, state []json.RawMessage) {
	if c.cfg.OnInvite == nil {
		return
	}
	inviter := ""
	for _, raw := range state {
		var ev roomEvent
		if jsonstrict.Unmarshal(raw, &ev) == nil && ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == c.sess.UserID {
			inviter = ev.Sender
		}
	}
	if !c.cfg.OnInvite(ctx, roomID, inviter) {
		return
	}
	if _, err := c.JoinRoom(ctx, roomID); err != nil {
		c.log.Warn("matrixhttp: joining a room we were invited to", "room", roomID, "err", err)
	}
}

// deliver decrypts an m.room.encrypted event and hands it to the handlers; an event whose
// session is missing waits for a later sync.
func (c *Client) deliver(ctx context.Context, roomID string, raw json.RawMessage, tries int) {
	var ev roomEvent
	if jsonstrict.Unmarshal(raw, &ev) != nil || ev.Type != "m.room.encrypted" || ev.StateKey != nil {
		return
	}
	dec, err := c.m.DecryptRoomEvent(ctx, roomID, raw)
	if err == nil {
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(ctx, roomID, dec)
		}
		return
	}
	var de *machine.DecryptionError
	if !errors.As(err, &de) {
		return // ctx ended
	}
	if de.Reason == machine.FailureMissingSession && tries < maxPendingTries {
		c.mu.Lock()
		if len(c.pending) < maxPending {
			c.pending = append(c.pending, pendingEvent{roomID, raw, tries + 1})
		}
		c.mu.Unlock()
	}
	if tries == 0 && c.cfg.OnDecryptionFailure != nil {
		c.cfg.OnDecryptionFailure(ctx, roomID, ev.EventID, de)
	}
}

// retryPending tries again the events that waited for their room key.
func (c *Client) retryPending(ctx context.Context) {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range pending {
		c.deliver(ctx, p.roomID, p.raw, p.tries)
	}
}

// fillGap pages back from a limited timeline's prev_batch with GET /rooms/{roomId}/messages
// until it reaches the last event delivered before, and returns the events in between, oldest
// first (spec "Syncing", https://spec.matrix.org/v1.19/client-server-api/#syncing: a limited
// timeline's older events are fetched with /messages from prev_batch). It stops after gapPages
// pages and says so in the log: the events beyond are not delivered.
func (c *Client) fillGap(ctx context.Context, roomID, from, last string) ([]json.RawMessage, error) {
	var gap []json.RawMessage
	for range gapPages {
		q := url.Values{"dir": {"b"}, "from": {from}, "limit": {strconv.Itoa(gapPage)}}
		body, err := c.t.do(ctx, request{method: "GET", path: clientV3 + "/rooms/" + url.PathEscape(roomID) + "/messages?" + q.Encode()})
		if err != nil {
			return nil, err
		}
		var page struct {
			Chunk []json.RawMessage `json:"chunk"`
			End   string            `json:"end"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("%w: /messages", ErrMalformed)
		}
		for _, raw := range page.Chunk { // newest first
			var ev roomEvent
			if jsonstrict.Unmarshal(raw, &ev) == nil && ev.EventID == last {
				slices.Reverse(gap)
				return gap, nil
			}
			gap = append(gap, raw)
		}
		if page.End == "" || len(page.Chunk) == 0 {
			break // the start of the room: the last event was not found
		}
		from = page.End
	}
	c.log.Warn("matrixhttp: a gap in a room's timeline was not filled to the last event delivered; older events are not delivered",
		"room", roomID, "events", len(gap))
	slices.Reverse(gap)
	return gap, nil
}
