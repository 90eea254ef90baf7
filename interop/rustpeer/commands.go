package rustpeer

import (
	"encoding/json"
	"fmt"
	"time"
)

// IdentityKeys are the machine's user, device and identity keys (unpadded
// base64).
type IdentityKeys struct {
	UserID     string `json:"user_id"`
	DeviceID   string `json:"device_id"`
	Curve25519 string `json:"curve25519"`
	Ed25519    string `json:"ed25519"`
}

// Request types, as the wasm RequestType names them.
const (
	KeysUpload      = "KeysUpload"      // POST /_matrix/client/v3/keys/upload
	KeysQuery       = "KeysQuery"       // POST /_matrix/client/v3/keys/query
	KeysClaim       = "KeysClaim"       // POST /_matrix/client/v3/keys/claim
	ToDevice        = "ToDevice"        // PUT /_matrix/client/v3/sendToDevice/{EventType}/{TxnID}
	SignatureUpload = "SignatureUpload" // POST /_matrix/client/v3/keys/signatures/upload
	RoomMessage     = "RoomMessage"     // PUT /_matrix/client/v3/rooms/{RoomID}/send/{EventType}/{TxnID}
	KeysBackup      = "KeysBackup"      // PUT /_matrix/client/v3/room_keys/keys?version={Version}
)

// Request is an outgoing request of the machine. Body is the HTTP request
// body of the client-server API; EventType, TxnID, RoomID and Version are
// the path or query parameters of the types that have them.
type Request struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Body      json.RawMessage `json:"body"`
	EventType string          `json:"event_type,omitempty"`
	TxnID     string          `json:"txn_id,omitempty"`
	RoomID    string          `json:"room_id,omitempty"`
	Version   string          `json:"version,omitempty"`
}

// SyncChanges are the end-to-end encryption parts of a /sync response
// (spec "Extensions to /sync" of the end-to-end encryption module).
type SyncChanges struct {
	// ToDevice are the to-device events, each {type, sender, content}.
	ToDevice []json.RawMessage `json:"to_device"`
	// Changed and Left are device_lists.changed and device_lists.left.
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
	// OneTimeKeyCounts is device_one_time_keys_count.
	OneTimeKeyCounts map[string]int `json:"one_time_key_counts"`
	// UnusedFallbackKeyTypes is device_unused_fallback_key_types: nil
	// when the server did not send it, empty when no fallback key is
	// unused.
	UnusedFallbackKeyTypes []string `json:"unused_fallback_key_types"`
}

// ToDeviceEvent is a to-device event as the machine processed it.
type ToDeviceEvent struct {
	// Kind is the wasm ProcessedToDeviceEventType name: "Decrypted",
	// "UnableToDecrypt", "PlainText" or "Invalid".
	Kind string `json:"kind"`
	// Event is the decrypted event (for Decrypted; key material in it may
	// be zeroised by the library) or the event as received.
	Event json.RawMessage `json:"event"`
	// EncryptionInfo is set for Decrypted events.
	EncryptionInfo *ToDeviceEncryptionInfo `json:"encryption_info,omitempty"`
	// UTDReason is the wasm ToDeviceUnableToDecryptReason name, for
	// UnableToDecrypt events.
	UTDReason string `json:"utd_reason,omitempty"`
}

// ToDeviceEncryptionInfo says who sent a decrypted to-device event.
type ToDeviceEncryptionInfo struct {
	Sender              string `json:"sender"`
	SenderDevice        string `json:"sender_device"`
	SenderCurve25519Key string `json:"sender_curve25519_key"`
	SenderVerified      bool   `json:"sender_verified"`
}

// ShareSettings are the room's encryption settings for ShareRoomKey. The
// zero value is the library's default (all devices, default rotation).
type ShareSettings struct {
	OnlyAllowTrustedDevices bool   `json:"only_allow_trusted_devices,omitempty"`
	RotationPeriodMs        uint64 `json:"rotation_period_ms,omitempty"`
	RotationPeriodMsgs      uint64 `json:"rotation_period_msgs,omitempty"`
	// HistoryVisibility is "invited", "joined", "shared" or
	// "world_readable" (default: the library's, "shared").
	HistoryVisibility string `json:"history_visibility,omitempty"`
}

// Shield is the wasm ShieldState: Color is "Red", "Grey" or "None"; Code
// is a ShieldStateCode name or empty.
type Shield struct {
	Color   string `json:"color"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DecryptedEvent is a room event the machine decrypted. Sender and
// SenderDevice are trustworthy only as far as Shield says.
type DecryptedEvent struct {
	Type                    string          `json:"type"`
	Content                 json.RawMessage `json:"content"`
	Event                   json.RawMessage `json:"event"`
	Sender                  string          `json:"sender"`
	SenderDevice            string          `json:"sender_device"`
	SenderCurve25519Key     string          `json:"sender_curve25519_key"`
	SenderClaimedEd25519Key string          `json:"sender_claimed_ed25519_key"`
	// Shield is the non-strict shield, ShieldStrict the strict one.
	Shield       Shield `json:"shield"`
	ShieldStrict Shield `json:"shield_strict"`
}

// Device is what the machine knows about a device.
type Device struct {
	UserID             string `json:"user_id"`
	DeviceID           string `json:"device_id"`
	Curve25519         string `json:"curve25519"`
	Ed25519            string `json:"ed25519"`
	Verified           bool   `json:"verified"`
	LocallyTrusted     bool   `json:"locally_trusted"`
	CrossSignedByOwner bool   `json:"cross_signed_by_owner"`
}

// Versions are the versions of the wasm bindings and what they wrap.
type Versions struct {
	MatrixSDKCrypto string `json:"matrix_sdk_crypto"`
	Vodozemac       string `json:"vodozemac"`
	GitSHA          string `json:"git_sha"`
	GitDescription  string `json:"git_description"`
}

// IdentityKeys returns the keys init reported.
func (p *Peer) IdentityKeys() IdentityKeys { return p.keys }

// ReceiveSync pushes a sync response's to-device events and device-list
// and key-count changes into the machine (receiveSyncChanges) and returns
// the processed to-device events.
func (p *Peer) ReceiveSync(c SyncChanges) ([]ToDeviceEvent, error) {
	if c.ToDevice == nil {
		c.ToDevice = []json.RawMessage{}
	}
	var out []ToDeviceEvent
	return out, p.call("receive_sync", c, &out)
}

// OutgoingRequests returns the requests the machine wants sent.
func (p *Peer) OutgoingRequests() ([]Request, error) {
	var out []Request
	return out, p.call("outgoing_requests", nil, &out)
}

// MarkRequestSent reports the response body of a request (by its ID and
// type).
func (p *Peer) MarkRequestSent(id, typ string, response json.RawMessage) error {
	if response == nil {
		response = json.RawMessage(`{}`)
	}
	return p.call("mark_request_sent", map[string]any{"id": id, "type": typ, "response": response}, nil)
}

// UpdateTrackedUsers adds users whose devices the machine tracks.
func (p *Peer) UpdateTrackedUsers(users ...string) error {
	return p.call("update_tracked_users", map[string]any{"users": users}, nil)
}

// TrackedUsers returns the tracked users, sorted.
func (p *Peer) TrackedUsers() ([]string, error) {
	var out []string
	return out, p.call("tracked_users", nil, &out)
}

// GetMissingSessions returns the /keys/claim request for the devices of
// users the machine has no Olm session with, or nil.
func (p *Peer) GetMissingSessions(users ...string) (*Request, error) {
	var out *Request
	return out, p.call("get_missing_sessions", map[string]any{"users": users}, &out)
}

// ShareRoomKey returns the to-device requests that share the room's
// current outbound session with the users' devices (creating or rotating
// it as the settings say).
func (p *Peer) ShareRoomKey(roomID string, users []string, s ShareSettings) ([]Request, error) {
	var out []Request
	return out, p.call("share_room_key", map[string]any{"room_id": roomID, "users": users, "settings": s}, &out)
}

// EncryptRoomEvent encrypts a room event with the room's outbound session
// and returns the m.room.encrypted content.
func (p *Peer) EncryptRoomEvent(roomID, eventType string, content json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	return out, p.call("encrypt_room_event", map[string]any{"room_id": roomID, "type": eventType, "content": content}, &out)
}

// DecryptRoomEvent decrypts an m.room.encrypted room event (the whole
// event: type, sender, event_id, origin_server_ts, content). A failure is
// an *Error whose Type is the DecryptionErrorCode name.
func (p *Peer) DecryptRoomEvent(roomID string, event json.RawMessage) (*DecryptedEvent, error) {
	var out DecryptedEvent
	if err := p.call("decrypt_room_event", map[string]any{"room_id": roomID, "event": event}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Device returns what the machine knows of a device, or nil.
func (p *Peer) Device(userID, deviceID string) (*Device, error) {
	var out *Device
	return out, p.call("get_device", map[string]any{"user_id": userID, "device_id": deviceID}, &out)
}

// Versions returns the versions of the wasm package.
func (p *Peer) Versions() (*Versions, error) {
	var out Versions
	return &out, p.call("versions", nil, &out)
}

// AdvanceClock moves the driver process's wall clock (Date.now, which the
// library reads) forward by d, for time-based rules such as
// matrix-sdk-crypto's one-hour minimum age of an Olm session before it is
// unwedged. The clock never goes back.
func (p *Peer) AdvanceClock(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("rustpeer: AdvanceClock(%v): negative duration", d)
	}
	return p.call("advance_clock", map[string]any{"ms": d.Milliseconds()}, nil)
}

// SetLocalTrust records a local trust decision about a device the machine
// knows (Device.setLocalTrust): trust is a wasm LocalTrust name,
// "Verified", "BlackListed", "Ignored" or "Unset".
func (p *Peer) SetLocalTrust(userID, deviceID, trust string) error {
	return p.call("set_local_trust", map[string]any{"user_id": userID, "device_id": deviceID, "trust": trust}, nil)
}

// KeyRequests says whether the machine sends room key requests by itself
// (roomKeyRequestsEnabled) and answers those of our own verified devices
// (roomKeyForwardingEnabled).
type KeyRequests struct {
	Requests   bool `json:"requests"`
	Forwarding bool `json:"forwarding"`
}

// KeyRequests returns the machine's room key request settings.
func (p *Peer) KeyRequests() (KeyRequests, error) {
	var out KeyRequests
	return out, p.call("key_requests", nil, &out)
}

// SetKeyRequests changes the machine's room key request settings.
func (p *Peer) SetKeyRequests(k KeyRequests) error {
	return p.call("key_requests", k, nil)
}
