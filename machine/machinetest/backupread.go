package machinetest

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/sicher-go/sicher/machine"
)

// The reading side of server-side key backups (GET /room_keys/version and GET
// /room_keys/keys[/{roomId}], https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups)
// and account data in /sync (https://spec.matrix.org/v1.19/client-server-api/#client-config).

// doBackupRead executes the backup reads; ok is false for other kinds. s.mu is held.
func (s *Server) doBackupRead(user string, r machine.Request) (out []byte, ok bool, err error) {
	switch r.Kind {
	case machine.KindBackupVersionGet:
		b := s.backups[user]
		if b == nil || b.info == nil {
			return nil, true, ErrNotFound
		}
		var info map[string]json.RawMessage
		if err := json.Unmarshal(b.info, &info); err != nil {
			return nil, true, err
		}
		info["version"], _ = json.Marshal(strconv.Itoa(b.version))
		info["count"], _ = json.Marshal(s.backupCount(b))
		info["etag"], _ = json.Marshal(strconv.Itoa(s.backupCount(b)))
		out, err := json.Marshal(info)
		return out, true, err
	case machine.KindBackupDownloadKeys:
		b := s.backups[user]
		if b == nil || strconv.Itoa(b.version) != r.Version {
			return nil, true, ErrWrongBackupVersion
		}
		if r.RoomID != "" {
			ss := b.sessions[r.RoomID]
			if ss == nil {
				ss = map[string]json.RawMessage{}
			}
			out, err := json.Marshal(map[string]any{"sessions": ss})
			return out, true, err
		}
		rooms := map[string]any{}
		for room, ss := range b.sessions {
			rooms[room] = map[string]any{"sessions": ss}
		}
		out, err := json.Marshal(map[string]any{"rooms": rooms})
		return out, true, err
	}
	return nil, false, nil
}

func (s *Server) backupCount(b *backup) int {
	n := 0
	for _, ss := range b.sessions {
		n += len(ss)
	}
	return n
}

// accountDataEvents returns a user's account data as /sync's account_data.events, sorted by
// type. Every sync delivers all of it (a real server sends what changed since the last sync;
// the machine keeps the latest either way). s.mu is held.
func (s *Server) accountDataEvents(user string) []json.RawMessage {
	types := make([]string, 0, len(s.accountData[user]))
	for t := range s.accountData[user] {
		types = append(types, t)
	}
	sort.Strings(types)
	out := make([]json.RawMessage, 0, len(types))
	for _, t := range types {
		ev, _ := json.Marshal(map[string]any{"type": t, "content": s.accountData[user][t]})
		out = append(out, ev)
	}
	return out
}

// ReplaceBackupAuthData replaces the auth_data of a user's current backup version, as a
// malicious server could.
func (s *Server) ReplaceBackupAuthData(userID string, authData json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.backups[userID]
	if b == nil {
		return
	}
	var info map[string]json.RawMessage
	_ = json.Unmarshal(b.info, &info)
	info["auth_data"] = authData
	b.info, _ = json.Marshal(info)
}

// PutBackupEntry stores a KeyBackupData entry in a user's current backup without the better-copy
// rule, as a malicious server (or anyone with the backup's public key) could.
func (s *Server) PutBackupEntry(userID, roomID, sessionID string, entry json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.backups[userID]
	if b == nil {
		return
	}
	if b.sessions[roomID] == nil {
		b.sessions[roomID] = map[string]json.RawMessage{}
	}
	b.sessions[roomID][sessionID] = entry
}
