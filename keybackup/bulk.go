package keybackup

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/internal/parallel"
	"github.com/sicher-go/sicher/megolm"
)

// Result is the outcome of decrypting one entry in DecryptAll: the
// session, or the first error that entry met.
type Result struct {
	Session *megolm.ExportedSession
	Err     error
}

// DecryptAll decrypts a whole backup's entries with runtime.GOMAXPROCS(0)
// workers and returns one Result per entry, in input order. A failing
// entry does not stop the others. If ctx is cancelled, entries not yet
// started get ctx.Err(). k is only read, so this is safe while k is used
// elsewhere.
func (k *DecryptionKey) DecryptAll(ctx context.Context, entries []EncryptedSessionData) []Result {
	return k.decryptAll(ctx, entries, runtime.GOMAXPROCS(0))
}

// decryptAll is DecryptAll with an explicit number of workers (values
// below 1 are raised to 1).
func (k *DecryptionKey) decryptAll(ctx context.Context, entries []EncryptedSessionData, workers int) []Result {
	results := make([]Result, len(entries))
	parallel.For(len(entries), workers, 16, func(i int) {
		if err := ctx.Err(); err != nil {
			results[i].Err = err
			return
		}
		results[i].Session, results[i].Err = k.DecryptSession(entries[i])
	})
	return results
}

// RoomKeys is the body of GET /room_keys/keys (and of the PUT that
// uploads them): every backed-up session by room ID and session ID.
type RoomKeys struct {
	Rooms map[string]RoomSessions `json:"rooms"`
}

// UnmarshalJSON decodes a /room_keys/keys body strictly (exact member
// names; duplicates, also under case folding, refused), whichever JSON
// package calls it.
func (k *RoomKeys) UnmarshalJSON(b []byte) error {
	type plain RoomKeys
	if err := jsonstrict.Unmarshal(b, (*plain)(k)); err != nil {
		return fmt.Errorf("%w: room keys: %w", ErrMalformed, err)
	}
	return nil
}

// RoomSessions is one room's entry in RoomKeys (and the body of GET
// /room_keys/keys/{roomId}).
type RoomSessions struct {
	Sessions map[string]KeyBackupData `json:"sessions"`
}

// RestoredSession is the outcome for one session of DecryptRoomKeys.
type RestoredSession struct {
	RoomID    string
	SessionID string
	// Backup is the entry as the server returned it (its metadata is
	// unauthenticated server data).
	Backup KeyBackupData
	// Session is the decrypted session, or nil if Err is set. Its RoomID
	// is set to the entry's room ID.
	Session *megolm.ExportedSession
	Err     error
}

// DecryptRoomKeys decrypts a whole backup as the server returns it, with
// DecryptAll's worker pool. Results are sorted by room ID, then session
// ID. The server chooses the room and session IDs: an entry whose
// decrypted session has another session ID than the one it is filed
// under is an error (ErrMalformed, Session nil), so a server cannot pass
// one session off as another. The room ID stays the server's claim: the
// event layer checks it against each event's room.
func (k *DecryptionKey) DecryptRoomKeys(ctx context.Context, keys RoomKeys) []RestoredSession {
	var out []RestoredSession
	for roomID, room := range keys.Rooms {
		for sessionID, entry := range room.Sessions {
			out = append(out, RestoredSession{RoomID: roomID, SessionID: sessionID, Backup: entry})
		}
	}
	slices.SortFunc(out, func(a, b RestoredSession) int {
		if c := strings.Compare(a.RoomID, b.RoomID); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	entries := make([]EncryptedSessionData, len(out))
	for i := range out {
		entries[i] = out[i].Backup.SessionData
	}
	for i, r := range k.DecryptAll(ctx, entries) {
		if r.Session != nil && r.Session.SessionID().String() != out[i].SessionID {
			r.Err = fmt.Errorf("%w: entry %s holds session %s", ErrMalformed, out[i].SessionID, r.Session.SessionID())
			r.Session = nil
		}
		out[i].Session, out[i].Err = r.Session, r.Err
		if r.Session != nil {
			r.Session.RoomID = out[i].RoomID
		}
	}
	return out
}
