package keyexport

import (
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// NewSession returns an export entry for the session k, with the metadata
// of the room and sending device; the caller may add forwarding chain and
// shared-history flag. k is kept, not copied (it is immutable).
func NewSession(k *megolm.ExportedSessionKey, roomID string, senderKey key.Curve25519, senderEd25519 key.Ed25519) *Session {
	return &Session{
		Algorithm:         MegolmAlgorithm,
		RoomID:            roomID,
		SenderKey:         senderKey,
		SenderClaimedKeys: map[string]string{"ed25519": senderEd25519.String()},
		sessionKey:        k,
	}
}

// FromInboundSession returns an export entry for s at its first known
// index, so the importer can decrypt everything s can.
func FromInboundSession(s *megolm.InboundSession, roomID string, senderKey key.Curve25519, senderEd25519 key.Ed25519) *Session {
	return NewSession(s.ExportAtFirstKnownIndex(), roomID, senderKey, senderEd25519)
}

// InboundSession creates the megolm.InboundSession the entry describes.
// Like every session imported from an exported key it is unverified:
// nothing in a key export file proves who created the session, so the
// entry's SenderKey and SenderClaimedKeys are claims of whoever made the
// file.
func (s *Session) InboundSession() (*megolm.InboundSession, error) {
	if s.sessionKey == nil {
		return nil, fmt.Errorf("%w: no session key", ErrMalformedSession)
	}
	return megolm.ImportInboundSession(s.sessionKey)
}
