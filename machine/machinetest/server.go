// Package machinetest is a fake Matrix homeserver for testing package machine: it executes the
// machine's requests (/keys/upload, /keys/query, /keys/claim, /sendToDevice, cross-signing keys
// and signatures, account data, server-side key backups, room events) in memory,
// answers with the client-server API's response JSON, keeps rooms with members and messages,
// and builds each device's /sync (to-device events, device_lists, one-time key counts, unused
// fallback key types). It has hooks for an adversarial server: dropping, duplicating and
// reordering to-device messages, serving other device keys, injecting events.
//
// It speaks no HTTP: tests call Do with a machine.Request and get the response body. A Server is
// safe for concurrent use.
package machinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sicher-go/sicher/machine"
)

// Server is an in-memory homeserver.
type Server struct {
	mu      sync.Mutex
	devices map[string]map[string]*deviceState
	cross   map[string]map[string]json.RawMessage // user → master / self_signing / user_signing
	rooms   map[string]*room
	txns    map[string]bool
	nextID  int

	accountData   map[string]map[string]json.RawMessage // user → type → content
	backups       map[string]*backup                    // user → server-side key backup
	roomTxns      map[string]string                     // user|txn → event id
	timelineLimit int                                   // the HTTP /sync timeline limit (SetTimelineLimit)
	web           *web                                  // the HTTP front's state (http.go)
	legacyMedia   bool                                  // http.go: no authenticated media download

	dehydratedDevices map[string]*dehydratedDevice // user → dehydrated device (MSC3814)
	dehydratedPage    int                          // events per page of a dehydrated device

	// ToDeviceFilter, if set, may drop, duplicate, reorder or change the to-device events
	// a device is about to receive in a sync.
	ToDeviceFilter func(userID, deviceID string, events []json.RawMessage) []json.RawMessage
}

type deviceState struct {
	keys     json.RawMessage
	otks     map[string]json.RawMessage
	fallback map[string]json.RawMessage
	fbUsed   bool
	inbox    []json.RawMessage
	changed  map[string]bool
	left     map[string]bool
}

type room struct {
	members map[string]bool
	events  []json.RawMessage
}

// NewServer returns an empty server.
func NewServer() *Server {
	return &Server{devices: map[string]map[string]*deviceState{}, cross: map[string]map[string]json.RawMessage{},
		rooms: map[string]*room{}, txns: map[string]bool{},
		accountData: map[string]map[string]json.RawMessage{}, backups: map[string]*backup{}, roomTxns: map[string]string{}}
}

func (s *Server) device(user, dev string) *deviceState {
	if s.devices[user] == nil {
		s.devices[user] = map[string]*deviceState{}
	}
	d := s.devices[user][dev]
	if d == nil {
		d = &deviceState{otks: map[string]json.RawMessage{}, fallback: map[string]json.RawMessage{},
			changed: map[string]bool{}, left: map[string]bool{}}
		s.devices[user][dev] = d
	}
	return d
}

// sharesRoom reports whether two users share a room (or are the same user).
func (s *Server) sharesRoom(a, b string) bool {
	if a == b {
		return true
	}
	for _, r := range s.rooms {
		if r.members[a] && r.members[b] {
			return true
		}
	}
	return false
}

// notifyChanged puts user into device_lists.changed of every device that shares a room with
// the user.
func (s *Server) notifyChanged(user string) {
	for u, devs := range s.devices {
		if !s.sharesRoom(u, user) {
			continue
		}
		for _, d := range devs {
			d.changed[user] = true
			delete(d.left, user)
		}
	}
}

// Do executes a machine request as device (userID, deviceID) and returns the response body.
// Backup requests naming another version than the current one fail with ErrWrongBackupVersion,
// and a download of a session the backup lacks with ErrNotFound.
func (s *Server) Do(userID, deviceID string, r machine.Request) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Kind {
	case machine.KindKeysUpload:
		return s.upload(userID, deviceID, r.Body)
	case machine.KindKeysQuery:
		return s.query(r.Body)
	case machine.KindKeysClaim:
		return s.claim(r.Body)
	case machine.KindToDevice:
		return s.sendToDevice(userID, deviceID, r)
	}
	if out, ok, err := s.doBackupRead(userID, r); ok {
		return out, err
	}
	return s.doMore(userID, r)
}

func (s *Server) upload(user, dev string, body []byte) ([]byte, error) {
	var req struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /keys/upload: %w", err)
	}
	d := s.device(user, dev)
	if len(req.DeviceKeys) > 0 && string(req.DeviceKeys) != "null" {
		d.keys = req.DeviceKeys
		s.notifyChanged(user)
	}
	for id, k := range req.OneTimeKeys {
		d.otks[id] = k
	}
	if len(req.FallbackKeys) > 0 {
		d.fallback = req.FallbackKeys
		d.fbUsed = false
	}
	return s.counts(d), nil
}

func (s *Server) counts(d *deviceState) []byte {
	b, _ := json.Marshal(map[string]any{"one_time_key_counts": map[string]int{"signed_curve25519": len(d.otks)}})
	return b
}

func (s *Server) query(body []byte) ([]byte, error) {
	var req struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /keys/query: %w", err)
	}
	resp := map[string]any{}
	dk := map[string]map[string]json.RawMessage{}
	master, ssk, usk := map[string]json.RawMessage{}, map[string]json.RawMessage{}, map[string]json.RawMessage{}
	for user := range req.DeviceKeys {
		dk[user] = map[string]json.RawMessage{}
		for id, d := range s.devices[user] {
			if d.keys != nil {
				dk[user][id] = d.keys
			}
		}
		if c := s.cross[user]; c != nil {
			if c["master"] != nil {
				master[user] = c["master"]
			}
			if c["self_signing"] != nil {
				ssk[user] = c["self_signing"]
			}
			if c["user_signing"] != nil {
				usk[user] = c["user_signing"]
			}
		}
	}
	resp["device_keys"], resp["failures"] = dk, map[string]any{}
	resp["master_keys"], resp["self_signing_keys"], resp["user_signing_keys"] = master, ssk, usk
	return json.Marshal(resp)
}

func (s *Server) claim(body []byte) ([]byte, error) {
	var req struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /keys/claim: %w", err)
	}
	out := map[string]map[string]map[string]json.RawMessage{}
	for user, devs := range req.OneTimeKeys {
		for id, alg := range devs {
			d := s.devices[user][id]
			if d == nil {
				continue
			}
			k, v, ok := take(d.otks, alg)
			if !ok {
				k, v, ok = first(d.fallback, alg)
				if ok {
					d.fbUsed = true
				}
			}
			if !ok {
				continue
			}
			if out[user] == nil {
				out[user] = map[string]map[string]json.RawMessage{}
			}
			out[user][id] = map[string]json.RawMessage{k: v}
		}
	}
	return json.Marshal(map[string]any{"one_time_keys": out, "failures": map[string]any{}})
}

// take removes and returns the lowest-id key of an algorithm: a one-time key is handed out once.
func take(keys map[string]json.RawMessage, alg string) (string, json.RawMessage, bool) {
	k, v, ok := first(keys, alg)
	if ok {
		delete(keys, k)
	}
	return k, v, ok
}

func first(keys map[string]json.RawMessage, alg string) (string, json.RawMessage, bool) {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		if strings.HasPrefix(id, alg+":") {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", nil, false
	}
	sort.Strings(ids)
	return ids[0], keys[ids[0]], true
}

func (s *Server) sendToDevice(user, dev string, r machine.Request) ([]byte, error) {
	txn := user + "|" + dev + "|" + r.ID
	if s.txns[txn] {
		return []byte(`{}`), nil // idempotent: the same transaction id is delivered once
	}
	s.txns[txn] = true
	var req struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /sendToDevice: %w", err)
	}
	for to, devs := range req.Messages {
		for id, content := range devs {
			ev, _ := json.Marshal(map[string]any{"type": r.EventType, "sender": user, "content": content})
			if id == "*" {
				for _, d := range s.devices[to] {
					d.inbox = append(d.inbox, ev)
				}
				continue
			}
			if d := s.devices[to][id]; d != nil {
				d.inbox = append(d.inbox, ev)
			}
		}
	}
	return []byte(`{}`), nil
}

// InjectToDevice queues a to-device event for a device, as a malicious server could.
func (s *Server) InjectToDevice(userID, deviceID string, ev json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.device(userID, deviceID)
	d.inbox = append(d.inbox, ev)
}

// SetDeviceKeys replaces the device keys the server serves for a device, as a malicious server
// could, and announces the change in device_lists.
func (s *Server) SetDeviceKeys(userID, deviceID string, keys json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device(userID, deviceID).keys = keys
	s.notifyChanged(userID)
}

// DeleteDevice removes a device (logout) and announces it in device_lists.
func (s *Server) DeleteDevice(userID, deviceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.devices[userID], deviceID)
	s.notifyChanged(userID)
}

// SetCrossSigningKeys sets the cross-signing keys the server serves for a user (JSON objects,
// any of them may be nil) and announces the change.
func (s *Server) SetCrossSigningKeys(userID string, master, selfSigning, userSigning json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cross[userID] = map[string]json.RawMessage{"master": master, "self_signing": selfSigning, "user_signing": userSigning}
	s.notifyChanged(userID)
}

// DeviceKeys returns the device keys the server holds for a device.
func (s *Server) DeviceKeys(userID, deviceID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.devices[userID][deviceID]; d != nil {
		return d.keys
	}
	return nil
}

// Sync returns the encryption part of a /sync response for a device and clears what it
// delivered.
func (s *Server) Sync(userID, deviceID string) machine.SyncChanges {
	s.mu.Lock()
	d := s.device(userID, deviceID)
	evs := d.inbox
	d.inbox = nil
	c := machine.SyncChanges{
		Changed: keys(d.changed), Left: keys(d.left),
		OneTimeKeyCounts:       map[string]int{"signed_curve25519": len(d.otks)},
		UnusedFallbackKeyTypes: []string{},
		AccountData:            s.accountDataEvents(userID),
	}
	if len(d.fallback) > 0 && !d.fbUsed {
		c.UnusedFallbackKeyTypes = []string{"signed_curve25519"}
	}
	d.changed, d.left = map[string]bool{}, map[string]bool{}
	filter := s.ToDeviceFilter
	s.mu.Unlock()
	if filter != nil {
		evs = filter(userID, deviceID, evs)
	}
	c.ToDevice = evs
	return c
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CreateRoom creates a room with members and returns its id.
func (s *Server) CreateRoom(members ...string) string {
	s.mu.Lock()
	s.nextID++
	id := fmt.Sprintf("!room%d:example.org", s.nextID)
	s.rooms[id] = &room{members: map[string]bool{}}
	s.mu.Unlock()
	for _, u := range members {
		s.Join(id, u)
	}
	return id
}

// Join adds a user to a room; the members' devices see the user in device_lists.changed.
func (s *Server) Join(roomID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rooms[roomID].members[userID] = true
	s.notifyChanged(userID)
	for u := range s.rooms[roomID].members {
		for _, d := range s.devices[userID] {
			d.changed[u] = true
		}
	}
}

// Leave removes a user from a room; users who share no room with it any more see it in
// device_lists.left.
func (s *Server) Leave(roomID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms[roomID].members, userID)
	for u, devs := range s.devices {
		if s.sharesRoom(u, userID) {
			continue
		}
		for _, d := range devs {
			d.left[userID] = true
			delete(d.changed, userID)
		}
	}
}

// Members returns a room's members, sorted.
func (s *Server) Members(roomID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return keys(s.rooms[roomID].members)
}

// Send stores an m.room.encrypted event from sender in a room and returns the whole event.
func (s *Server) Send(roomID, sender string, content json.RawMessage) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendEvent(roomID, sender, "m.room.encrypted", content)
	r := s.rooms[roomID]
	return r.events[len(r.events)-1]
}

// appendEvent stores an event in a room and returns its id; s.mu is held.
func (s *Server) appendEvent(roomID, sender, eventType string, content json.RawMessage) string {
	s.nextID++
	id := fmt.Sprintf("$ev%d", s.nextID)
	ev, _ := json.Marshal(map[string]any{"type": eventType, "sender": sender, "room_id": roomID,
		"event_id": id, "origin_server_ts": 1700000000000 + int64(s.nextID), "content": content})
	r := s.rooms[roomID]
	r.events = append(r.events, ev)
	return id
}

// Messages returns a room's events, oldest first.
func (s *Server) Messages(roomID string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rooms[roomID].events)
}

// SendAll sends every outgoing request of a machine (device userID, deviceID) to the server
// and hands back the responses, until the machine has none left.
func (s *Server) SendAll(ctx context.Context, m *machine.Machine) error {
	for range 10 {
		reqs, err := m.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		if len(reqs) == 0 {
			return nil
		}
		for _, r := range reqs {
			resp, err := s.Do(m.UserID(), m.DeviceID(), r)
			if err != nil {
				return err
			}
			if err := m.MarkRequestSent(ctx, r.ID, resp); err != nil {
				return err
			}
		}
	}
	return nil
}

// SyncMachine feeds a machine its device's /sync.
func (s *Server) SyncMachine(ctx context.Context, m *machine.Machine) ([]machine.ToDeviceEvent, error) {
	return m.ReceiveSync(ctx, s.Sync(m.UserID(), m.DeviceID()))
}
