package rustpeer

import (
	"encoding/base64"
	"encoding/json"
)

// Sharing keys for past messages (MSC4268, spec v1.19 "Sharing keys for past messages",
// https://spec.matrix.org/v1.19/client-server-api/#sharing-keys-for-past-messages) on the rust
// machine, through the commands of node/history.mjs.

// RoomKeyBundle is a room key bundle the rust machine built: the encrypted file and the
// EncryptedFile JSON without its url (secret: it holds the file's key).
type RoomKeyBundle struct {
	Ciphertext          []byte
	MediaEncryptionInfo json.RawMessage
}

// BuildRoomKeyBundle builds and encrypts the room key bundle of a room
// (OlmMachine.buildRoomKeyBundle); nil when there is nothing to share.
func (p *Peer) BuildRoomKeyBundle(roomID string) (*RoomKeyBundle, error) {
	var out *struct {
		Ciphertext string          `json:"ciphertext"`
		Info       json.RawMessage `json:"media_encryption_info"`
	}
	if err := p.call("build_room_key_bundle", map[string]any{"room_id": roomID}, &out); err != nil || out == nil {
		return nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(out.Ciphertext)
	if err != nil {
		return nil, err
	}
	return &RoomKeyBundle{Ciphertext: ct, MediaEncryptionInfo: out.Info}, nil
}

// ShareRoomKeyBundleData returns the to-device requests that send the bundle's location (url)
// and key to every device of user (OlmMachine.shareRoomKeyBundleData).
func (p *Peer) ShareRoomKeyBundleData(userID, roomID, url string, info json.RawMessage) ([]Request, error) {
	var out []Request
	err := p.call("share_room_key_bundle_data", map[string]any{"user_id": userID, "room_id": roomID, "url": url,
		"media_encryption_info": info}, &out)
	return out, err
}

// ReceiveRoomKeyBundle imports the bundle inviter sent for a room, given the downloaded
// ciphertext (OlmMachine.getReceivedRoomKeyBundleData, then receiveRoomKeyBundle). It returns
// the bundle's url, or "" when the machine holds no acceptable bundle from inviter.
func (p *Peer) ReceiveRoomKeyBundle(roomID, inviter string, ciphertext []byte) (string, error) {
	var out *struct {
		URL string `json:"url"`
	}
	err := p.call("receive_room_key_bundle", map[string]any{"room_id": roomID, "inviter": inviter,
		"ciphertext": base64.StdEncoding.EncodeToString(ciphertext)}, &out)
	if err != nil || out == nil {
		return "", err
	}
	return out.URL, nil
}
