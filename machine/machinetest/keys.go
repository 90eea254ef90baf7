package machinetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/sicher-go/sicher/machine"
)

// The endpoints beyond the device keys: cross-signing keys and signatures
// (https://spec.matrix.org/v1.19/client-server-api/#cross-signing), account data
// (https://spec.matrix.org/v1.19/client-server-api/#client-config), server-side key backups
// (https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups) and room events.

// ErrWrongBackupVersion is returned for a backup upload or download that names a version other
// than the current one (the server's 403 M_WRONG_ROOM_KEYS_VERSION).
var ErrWrongBackupVersion = errors.New("machinetest: M_WRONG_ROOM_KEYS_VERSION")

// ErrNotFound is returned for a backup download of a session the backup does not hold (the
// server's 404 M_NOT_FOUND).
var ErrNotFound = errors.New("machinetest: M_NOT_FOUND")

// backup is a user's server-side key backup.
type backup struct {
	version  int
	info     json.RawMessage                       // algorithm and auth_data of the current version
	sessions map[string]map[string]json.RawMessage // room → session → KeyBackupData
}

// doMore executes the requests of the endpoints in this file; s.mu is held.
func (s *Server) doMore(user string, r machine.Request) ([]byte, error) {
	switch r.Kind {
	case machine.KindSigningKeysUpload:
		return s.uploadSigningKeys(user, r.Body)
	case machine.KindSignatureUpload:
		return s.uploadSignatures(r.Body)
	case machine.KindAccountData:
		if s.accountData[user] == nil {
			s.accountData[user] = map[string]json.RawMessage{}
		}
		s.accountData[user][r.EventType] = append(json.RawMessage(nil), r.Body...)
		return []byte(`{}`), nil
	case machine.KindBackupVersion:
		b := s.backups[user]
		if b == nil {
			b = &backup{}
			s.backups[user] = b
		}
		b.version++
		b.info = append(json.RawMessage(nil), r.Body...)
		b.sessions = map[string]map[string]json.RawMessage{}
		return json.Marshal(map[string]string{"version": strconv.Itoa(b.version)})
	case machine.KindBackupUpload:
		return s.backupUpload(user, r)
	case machine.KindBackupDownload:
		b := s.backups[user]
		if b == nil || strconv.Itoa(b.version) != r.Version {
			return nil, ErrWrongBackupVersion
		}
		if data, ok := b.sessions[r.RoomID][r.SessionID]; ok {
			return data, nil
		}
		return nil, ErrNotFound
	case machine.KindRoomEvent:
		if s.rooms[r.RoomID] == nil || !s.rooms[r.RoomID].members[user] {
			return nil, fmt.Errorf("machinetest: %s is not in %s", user, r.RoomID)
		}
		txn := user + "|" + r.ID
		if id, ok := s.roomTxns[txn]; ok {
			return json.Marshal(map[string]string{"event_id": id})
		}
		id := s.appendEvent(r.RoomID, user, r.EventType, r.Body)
		s.roomTxns[txn] = id
		return json.Marshal(map[string]string{"event_id": id})
	case machine.KindDehydratedDevicePut, machine.KindDehydratedDeviceGet, machine.KindDehydratedDeviceEvents,
		machine.KindDehydratedDeviceDelete:
		return s.dehydrated(user, r)
	}
	return nil, fmt.Errorf("machinetest: unknown request kind %q", r.Kind)
}

// uploadSigningKeys stores a user's cross-signing public keys; keys left out keep their
// value, and the change is announced in device_lists.
func (s *Server) uploadSigningKeys(user string, body []byte) ([]byte, error) {
	var req struct {
		Master      json.RawMessage `json:"master_key"`
		SelfSigning json.RawMessage `json:"self_signing_key"`
		UserSigning json.RawMessage `json:"user_signing_key"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /keys/device_signing/upload: %w", err)
	}
	c := s.cross[user]
	if c == nil {
		c = map[string]json.RawMessage{}
		s.cross[user] = c
	}
	for name, k := range map[string]json.RawMessage{"master": req.Master, "self_signing": req.SelfSigning, "user_signing": req.UserSigning} {
		if len(k) > 0 && string(k) != "null" {
			c[name] = k
		}
	}
	s.notifyChanged(user)
	return []byte(`{}`), nil
}

// uploadSignatures merges the signatures of each uploaded object into the object the server
// holds: a device's keys (by device id) or a cross-signing key (by its unpadded base64 public
// key). Unknown objects are reported under failures, as the spec's response does.
func (s *Server) uploadSignatures(body []byte) ([]byte, error) {
	var req map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /keys/signatures/upload: %w", err)
	}
	failures := map[string]map[string]any{}
	for user, objs := range req {
		for id, obj := range objs {
			have, set := s.signable(user, id)
			if set == nil {
				if failures[user] == nil {
					failures[user] = map[string]any{}
				}
				failures[user][id] = map[string]string{"errcode": "M_NOT_FOUND", "error": "unknown key"}
				continue
			}
			merged, err := mergeSignatures(have, obj)
			if err != nil {
				return nil, fmt.Errorf("machinetest: /keys/signatures/upload: %w", err)
			}
			set(merged)
		}
		s.notifyChanged(user)
	}
	return json.Marshal(map[string]any{"failures": failures})
}

// signable finds the stored JSON object a signature upload names, and a function that
// replaces it; set is nil when there is none.
func (s *Server) signable(user, id string) (have json.RawMessage, set func(json.RawMessage)) {
	if d := s.devices[user][id]; d != nil && d.keys != nil {
		return d.keys, func(v json.RawMessage) { d.keys = v }
	}
	c := s.cross[user]
	for _, name := range []string{"master", "self_signing", "user_signing"} {
		var obj struct {
			Keys map[string]string `json:"keys"`
		}
		if c[name] != nil && json.Unmarshal(c[name], &obj) == nil && obj.Keys["ed25519:"+id] == id {
			return c[name], func(v json.RawMessage) { c[name] = v }
		}
	}
	return nil, nil
}

// mergeSignatures returns have with the signatures of upload added. The rest of upload must
// equal have: a signature is over the object the server holds.
func mergeSignatures(have, upload json.RawMessage) (json.RawMessage, error) {
	var h, u map[string]json.RawMessage
	if err := json.Unmarshal(have, &h); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(upload, &u); err != nil {
		return nil, err
	}
	var hs, us map[string]map[string]string
	if h["signatures"] != nil {
		if err := json.Unmarshal(h["signatures"], &hs); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(u["signatures"], &us); err != nil {
		return nil, err
	}
	delete(h, "signatures")
	delete(u, "signatures")
	delete(h, "unsigned")
	delete(u, "unsigned")
	if !sameJSON(h, u) {
		return nil, errors.New("the signed object differs from the one the server holds")
	}
	if hs == nil {
		hs = map[string]map[string]string{}
	}
	for signer, sigs := range us {
		if hs[signer] == nil {
			hs[signer] = map[string]string{}
		}
		maps.Copy(hs[signer], sigs)
	}
	var out map[string]json.RawMessage
	_ = json.Unmarshal(have, &out)
	out["signatures"], _ = json.Marshal(hs)
	return json.Marshal(out)
}

// sameJSON compares two decoded JSON objects by their canonical re-encoding.
func sameJSON(a, b map[string]json.RawMessage) bool {
	norm := func(m map[string]json.RawMessage) string {
		var v any
		raw, _ := json.Marshal(m)
		_ = json.Unmarshal(raw, &v)
		out, _ := json.Marshal(v) // encoding/json sorts object keys
		return string(out)
	}
	return norm(a) == norm(b)
}

// backupUpload stores room keys in the current backup version. A session already stored is
// replaced only by a better copy (the spec's rule: verified over unverified, then the lower
// first_message_index, then the lower forwarded_count).
func (s *Server) backupUpload(user string, r machine.Request) ([]byte, error) {
	b := s.backups[user]
	if b == nil || strconv.Itoa(b.version) != r.Version {
		return nil, ErrWrongBackupVersion
	}
	var req struct {
		Rooms map[string]struct {
			Sessions map[string]json.RawMessage `json:"sessions"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, fmt.Errorf("machinetest: /room_keys/keys: %w", err)
	}
	for room, rs := range req.Rooms {
		if b.sessions[room] == nil {
			b.sessions[room] = map[string]json.RawMessage{}
		}
		for sid, data := range rs.Sessions {
			if old, ok := b.sessions[room][sid]; !ok || betterBackup(data, old) {
				b.sessions[room][sid] = append(json.RawMessage(nil), data...)
			}
		}
	}
	n := 0
	for _, rs := range b.sessions {
		n += len(rs)
	}
	return json.Marshal(map[string]any{"etag": strconv.Itoa(n), "count": n})
}

// betterBackup reports whether KeyBackupData a should replace b.
func betterBackup(a, b json.RawMessage) bool {
	type data struct {
		FirstMessageIndex int  `json:"first_message_index"`
		ForwardedCount    int  `json:"forwarded_count"`
		IsVerified        bool `json:"is_verified"`
	}
	var x, y data
	if json.Unmarshal(a, &x) != nil {
		return false
	}
	if json.Unmarshal(b, &y) != nil {
		return true
	}
	if x.IsVerified != y.IsVerified {
		return x.IsVerified
	}
	if x.FirstMessageIndex != y.FirstMessageIndex {
		return x.FirstMessageIndex < y.FirstMessageIndex
	}
	return x.ForwardedCount < y.ForwardedCount
}

// AccountData returns a user's account data event content of a type, or nil.
func (s *Server) AccountData(userID, eventType string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountData[userID][eventType]
}

// BackupVersion returns a user's current backup version ("" if none) and its algorithm and
// auth_data (the body of GET /room_keys/version without the count and etag).
func (s *Server) BackupVersion(userID string) (version string, info json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.backups[userID]
	if b == nil {
		return "", nil
	}
	return strconv.Itoa(b.version), b.info
}

// BackupKeys returns the body of GET /room_keys/keys?version=V for a user's current backup.
func (s *Server) BackupKeys(userID string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := map[string]any{}
	if b := s.backups[userID]; b != nil {
		for room, ss := range b.sessions {
			rooms[room] = map[string]any{"sessions": ss}
		}
	}
	out, _ := json.Marshal(map[string]any{"rooms": rooms})
	return out
}
