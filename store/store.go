// Package store defines where a Matrix client keeps its end-to-end encryption state: the
// account, Olm and Megolm sessions, device lists, replay records, secrets, backup state and
// outgoing requests, for one or more devices, each named by an Owner (user id, device id).
//
// The store keeps secret state as opaque bytes (Secret): serialised sessions and accounts that
// the caller produced, such as olm.Session.Pickle output. It never decodes them, so it does not
// depend on the protocol packages. Next to the secret bytes it keeps public metadata in clear
// columns (ids, keys, times, flags) so a client can find rows without decrypting them.
//
// # Transactions
//
// Every read and write happens inside Store.View (read-only) or Store.Update (read-write). An
// operation that advances a ratchet (read a session, decrypt, write the session back, record
// the message index against replays) runs inside one Update, and the caller releases the
// plaintext only after Update returned nil: then the new state is durable, and a crash can never
// make the client decrypt the same message twice or reuse a message index. Update transactions
// on one store are serialised (across processes too, for the SQL store), so two goroutines that
// read-modify-write the same Olm session cannot fork it. A function passed to Update may run
// only once: Update does not retry.
//
// # Errors
//
// A getter of Tx returns ErrNotFound for a record that does not exist and ErrCorrupt for a
// row that does not decode or whose seal does not open (the error names the row; the others
// stay usable); a write inside View returns ErrReadOnly; RecordReplay returns ErrReplay for a
// message index another event used.
//
// NewMemory returns the in-memory implementation, for tests; package store/sqlstore stores in
// SQLite or PostgreSQL, sealed at rest. Both pass the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Store is a transactional store of end-to-end encryption state. Implementations are safe for
// concurrent use.
type Store interface {
	// View runs fn in a read-only transaction of owner's state. Writes inside fn fail.
	View(ctx context.Context, owner Owner, fn func(Tx) error) error
	// Update runs fn in a read-write transaction of owner's state. If fn returns an error or
	// ctx is cancelled, nothing fn wrote is kept; if Update returns nil, everything fn wrote
	// is durable. Updates of one store are serialised.
	Update(ctx context.Context, owner Owner, fn func(Tx) error) error
	// Close releases the store's resources. Transactions that started before Close may fail.
	Close() error
}

// Owner names the device whose state a transaction reads and writes. A store holds the state
// of any number of devices; their rows never mix.
type Owner struct {
	UserID   string
	DeviceID string
}

// Errors a caller branches on. Implementations wrap them with the row they concern: a Tx
// getter returns ErrNotFound for a record that does not exist, ErrCorrupt for a row that does
// not open, and a Put inside View returns ErrReadOnly.
var (
	// ErrNotFound reports that the record asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrReplay reports that a Megolm message index was already recorded for another event.
	ErrReplay = errors.New("store: message index already used by another event")
	// ErrReadOnly reports a write inside View.
	ErrReadOnly = errors.New("store: write in a read-only transaction")
	// ErrCorrupt reports a row that does not decode or whose seal does not open: it was
	// changed, or moved from another row. The error names the row; other rows stay usable.
	ErrCorrupt = errors.New("store: corrupt row")
)

// Tx reads and writes one owner's state inside a transaction. A Tx is valid only inside the
// function it was passed to and is not safe for concurrent use. Records returned are copies:
// changing them changes nothing until they are written back with a Put method.
type Tx interface {
	// Account returns the serialised account, or ErrNotFound.
	Account(ctx context.Context) (Secret, error)
	// PutAccount stores the serialised account.
	PutAccount(ctx context.Context, account Secret) error

	// OlmSession returns the Olm session with the peer's Curve25519 identity key and session
	// id, or ErrNotFound.
	OlmSession(ctx context.Context, peerKey, sessionID string) (*OlmSession, error)
	// OlmSessions returns the Olm sessions with a peer's identity key, the most recently used
	// first (then the most recently created).
	OlmSessions(ctx context.Context, peerKey string) ([]*OlmSession, error)
	// PutOlmSession inserts or replaces an Olm session.
	PutOlmSession(ctx context.Context, s *OlmSession) error

	// InboundGroupSession returns the inbound Megolm session, or ErrNotFound.
	InboundGroupSession(ctx context.Context, roomID, sessionID string) (*InboundGroupSession, error)
	// PutInboundGroupSession inserts or replaces an inbound Megolm session.
	PutInboundGroupSession(ctx context.Context, s *InboundGroupSession) error
	// SessionsToBackUp returns at most limit inbound Megolm sessions whose BackedUp flag is
	// false, in a stable order.
	SessionsToBackUp(ctx context.Context, limit int) ([]*InboundGroupSession, error)
	// MarkBackedUp sets the BackedUp flag of an inbound Megolm session, or returns
	// ErrNotFound.
	MarkBackedUp(ctx context.Context, roomID, sessionID string) error
	// BackupVersion returns the server-side key backup version sessions are uploaded to, or
	// ErrNotFound.
	BackupVersion(ctx context.Context) (string, error)
	// SetBackupVersion records the key backup version. When it differs from the recorded one,
	// every session's BackedUp flag is cleared: the new backup holds none of them yet.
	SetBackupVersion(ctx context.Context, version string) error

	// OutboundGroupSession returns the outbound Megolm session of a room, or ErrNotFound.
	OutboundGroupSession(ctx context.Context, roomID string) (*OutboundGroupSession, error)
	// PutOutboundGroupSession inserts or replaces the outbound Megolm session of a room.
	PutOutboundGroupSession(ctx context.Context, s *OutboundGroupSession) error
	// DeleteOutboundGroupSession removes the outbound Megolm session of a room (rotation).
	// Removing a session that does not exist is not an error.
	DeleteOutboundGroupSession(ctx context.Context, roomID string) error

	// Withheld returns the withheld notice (m.room_key.withheld) for a Megolm session, or
	// ErrNotFound.
	Withheld(ctx context.Context, roomID, sessionID string) (*Withheld, error)
	// PutWithheld inserts or replaces a withheld notice.
	PutWithheld(ctx context.Context, w *Withheld) error

	// TrackedUser returns a user whose device list is tracked, or ErrNotFound.
	TrackedUser(ctx context.Context, userID string) (*TrackedUser, error)
	// OutdatedUsers returns the ids of tracked users whose device list is outdated, sorted.
	OutdatedUsers(ctx context.Context) ([]string, error)
	// PutTrackedUser inserts or replaces a tracked user (not its devices).
	PutTrackedUser(ctx context.Context, u *TrackedUser) error
	// DeleteTrackedUser stops tracking a user and removes its devices.
	DeleteTrackedUser(ctx context.Context, userID string) error
	// Devices returns a tracked user's devices, sorted by device id.
	Devices(ctx context.Context, userID string) ([]*Device, error)
	// PutDevice inserts or replaces a device of a tracked user; the user must be tracked
	// (ErrNotFound otherwise).
	PutDevice(ctx context.Context, d *Device) error
	// DeleteDevice removes a device of a tracked user.
	DeleteDevice(ctx context.Context, userID, deviceID string) error

	// RecordReplay records that a Megolm message index was decrypted for an event. Recording
	// the same event again is allowed (a client may decrypt an event twice); another event at
	// the same index gives an error matching ErrReplay and records nothing.
	RecordReplay(ctx context.Context, r *Replay) error

	// Secret returns a named secret (m.cross_signing.master, m.megolm_backup.v1, ...), or
	// ErrNotFound.
	Secret(ctx context.Context, name string) (Secret, error)
	// PutSecret stores a named secret.
	PutSecret(ctx context.Context, name string, value Secret) error
	// DeleteSecret removes a named secret; removing one that does not exist is not an error.
	DeleteSecret(ctx context.Context, name string) error

	// PutOutgoingRequest stores a request that the server has not confirmed yet.
	PutOutgoingRequest(ctx context.Context, r *OutgoingRequest) error
	// OutgoingRequests returns the unconfirmed requests, oldest first.
	OutgoingRequests(ctx context.Context) ([]*OutgoingRequest, error)
	// DeleteOutgoingRequest removes a confirmed request; removing one that does not exist is
	// not an error.
	DeleteOutgoingRequest(ctx context.Context, id string) error

	// Value returns a small named value (the sync token, the device-list sync token), or
	// ErrNotFound. Values are not secret and not sealed.
	Value(ctx context.Context, name string) ([]byte, error)
	// PutValue stores a small named value.
	PutValue(ctx context.Context, name string, value []byte) error
}

// OlmSession is an Olm session with another device, found by the peer's identity key.
type OlmSession struct {
	// PeerKey is the peer's Curve25519 identity key (unpadded base64).
	PeerKey string
	// SessionID is the session's id (unpadded base64).
	SessionID string
	// Created, LastUsed and LastReceived are the times the session was created, last
	// encrypted or decrypted with, and last received a message; the store keeps millisecond
	// precision.
	Created, LastUsed, LastReceived time.Time
	// State is the serialised session. It is secret.
	State Secret
}

// Provenance says how an inbound Megolm session reached the device, which decides how far its
// sender can be trusted.
type Provenance uint8

// The provenances of an inbound Megolm session.
const (
	// FromOlm is an m.room_key event received over Olm from the session's creator.
	FromOlm Provenance = iota + 1
	// Forwarded is an m.forwarded_room_key; ForwardingChain lists the Curve25519 keys of
	// the devices it went through.
	Forwarded
	// FromBackup is a session downloaded from server-side key backup.
	FromBackup
	// FromExport is a session imported from a key export file.
	FromExport
)

// InboundGroupSession is an inbound Megolm session, found by room id and session id.
type InboundGroupSession struct {
	RoomID    string
	SessionID string
	// SenderUser is the user the session key came from, if known.
	SenderUser string
	// SenderKey is the Curve25519 identity key of the Olm session that delivered the key.
	SenderKey string
	// SigningKey is the Ed25519 key the sending device claimed.
	SigningKey string
	// Provenance says how the session arrived; ForwardingChain is its forwarding chain.
	Provenance      Provenance
	ForwardingChain []string
	// SharedHistory is the shared_history flag (MSC3061).
	SharedHistory bool
	// FirstKnownIndex is the first message index the session can decrypt.
	FirstKnownIndex uint32
	// BackedUp says whether the session was uploaded to the current key backup version.
	BackedUp bool
	// State is the serialised session. It is secret.
	State Secret
}

// OutboundGroupSession is the outbound Megolm session of a room.
type OutboundGroupSession struct {
	RoomID    string
	SessionID string
	// MessageCount is the number of messages encrypted with the session.
	MessageCount uint32
	// Created is when the session was created (for rotation by age).
	Created time.Time
	// SharedWith lists the devices the session key was sent to, with the index it was at.
	SharedWith []SharedWith
	// State is the serialised session. It is secret.
	State Secret
}

// SharedWith records that a device received an outbound Megolm session at a message index.
type SharedWith struct {
	UserID   string
	DeviceID string
	Index    uint32
}

// Withheld is an m.room_key.withheld notice for a Megolm session.
type Withheld struct {
	RoomID    string
	SessionID string
	SenderKey string
	Code      string
	Reason    string
}

// TrackedUser is a user whose device list the client tracks.
type TrackedUser struct {
	UserID string
	// Outdated says whether the device list must be fetched again.
	Outdated bool
	// CrossSigningKeys is the user's cross-signing keys as the server returned them (JSON).
	CrossSigningKeys []byte
}

// Device is a device of a tracked user.
type Device struct {
	UserID   string
	DeviceID string
	// Keys is the device keys object as the server returned it (JSON, signed).
	Keys []byte
}

// Replay records which event a Megolm message index was decrypted for.
type Replay struct {
	RoomID         string
	SessionID      string
	Index          uint32
	EventID        string
	OriginServerTS int64
}

// OutgoingRequest is a request the client sent, or must send, and the server has not
// confirmed, kept so that a restart loses none.
type OutgoingRequest struct {
	ID   string
	Type string
	// Body is the request body (JSON). It may carry encrypted key material and is sealed by
	// stores that seal.
	Body []byte
	// Created orders the requests.
	Created time.Time
}
