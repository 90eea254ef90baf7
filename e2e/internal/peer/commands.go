package peer

import (
	"fmt"
	"testing"
)

// Device is one device a peer knows, with its identity keys
// (https://spec.matrix.org/v1.19/client-server-api/#device-keys).
type Device struct {
	UserID     string `json:"user_id,omitempty"`
	DeviceID   string `json:"device_id"`
	Ed25519    string `json:"ed25519"`
	Curve25519 string `json:"curve25519"`
	Verified   bool   `json:"verified"`
	Own        bool   `json:"own,omitempty"`
}

// Message is one room event a peer received, after its decryption
// attempt.
type Message struct {
	EventID string `json:"event_id"`
	Sender  string `json:"sender"`
	Type    string `json:"type"`
	Body    string `json:"body"`
	// Encrypted is whether the event arrived as m.room.encrypted.
	Encrypted bool `json:"encrypted"`
	// Decrypted is false for an encrypted event the peer could not
	// decrypt; Reason says why.
	Decrypted bool   `json:"decrypted"`
	Reason    string `json:"reason,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	// DeviceID is the sending device, found from the Curve25519 key the
	// event was encrypted with; Verified is whether the peer trusts it.
	DeviceID string `json:"device_id,omitempty"`
	Verified bool   `json:"verified"`
}

// Login logs in as userID with a password, creating a new device, and
// returns it with its identity keys.
func (p *Peer) Login(homeserver, userID, password string) (Device, error) {
	var d Device
	err := p.call("login", map[string]string{"homeserver": homeserver, "user_id": userID, "password": password, "store_dir": p.storeDir}, &d)
	d.UserID = userID
	return d, err
}

// Sync runs one sync (long-polling up to timeoutMS) and the key uploads,
// queries, claims and to-device sends that follow it.
func (p *Peer) Sync(timeoutMS int) error {
	return p.call("sync", map[string]int{"timeout_ms": timeoutMS}, nil)
}

// Join joins roomID.
func (p *Peer) Join(roomID string) error {
	return p.call("join", map[string]string{"room_id": roomID}, nil)
}

// CreateRoom creates an encrypted room and invites the given users.
func (p *Peer) CreateRoom(name string, invite ...string) (string, error) {
	var r struct {
		RoomID string `json:"room_id"`
	}
	err := p.call("create_room", map[string]any{"name": name, "invite": append([]string{}, invite...), "encrypted": true}, &r)
	return r.RoomID, err
}

// SendText sends an m.text message (encrypted in an encrypted room) and
// returns its event ID.
func (p *Peer) SendText(roomID, body string) (string, error) {
	var r struct {
		EventID string `json:"event_id"`
	}
	err := p.call("send_text", map[string]string{"room_id": roomID, "body": body}, &r)
	return r.EventID, err
}

// Messages returns the room's events the peer received, each after a
// fresh decryption attempt.
func (p *Peer) Messages(roomID string) ([]Message, error) {
	var r struct {
		Messages []Message `json:"messages"`
	}
	err := p.call("messages", map[string]string{"room_id": roomID}, &r)
	return r.Messages, err
}

// TrustAllDevices marks every device the peer knows as locally verified
// and returns how many it changed.
func (p *Peer) TrustAllDevices() (int, error) {
	var r struct {
		Verified int `json:"verified"`
	}
	err := p.call("trust_all_devices", nil, &r)
	return r.Verified, err
}

// DeviceKeys returns the devices the peer knows for userID (its own
// account if empty).
func (p *Peer) DeviceKeys(userID string) ([]Device, error) {
	var r struct {
		Devices []Device `json:"devices"`
	}
	err := p.call("device_keys", map[string]string{"user_id": userID}, &r)
	for i := range r.Devices {
		if r.Devices[i].UserID == "" {
			r.Devices[i].UserID = userID
		}
	}
	return r.Devices, err
}

// Must fails the test if err is not nil, naming the peer and what it did.
func (p *Peer) Must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s peer: %s: %v", p.Kind, what, err)
	}
}

// String returns the peer's kind.
func (p *Peer) String() string { return fmt.Sprintf("%s peer", p.Kind) }
