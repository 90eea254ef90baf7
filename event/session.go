package event

import (
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// Provenance says how we obtained an inbound Megolm session, which decides
// what its events prove about their sender.
type Provenance uint8

// The provenances of an inbound Megolm session. The zero Provenance is
// not one of them: a SessionInfo without one is refused.
const (
	// OverOlm: an m.room_key received Olm-encrypted from the device that
	// created the session. The session key is signed by the session's
	// Ed25519 key, and SenderKey is authenticated by the Olm session.
	OverOlm Provenance = iota + 1
	// Forwarded: an m.forwarded_room_key. Everything but the session
	// itself is the forwarder's claim.
	Forwarded
	// Backup: restored from server-side key backup; the metadata is the
	// claim of whoever wrote the backup entry.
	Backup
	// Export: imported from a key export file; the metadata is the claim
	// of whoever made the file.
	Export
)

// SessionInfo is what we know about an inbound Megolm session: who shared
// it, with which keys, and how it reached us. RoomKeyFromEvent and
// ForwardedRoomKeyFromEvent produce it, a store keeps it next to the
// session (keyed by RoomID and SessionID), DecryptMegolm checks every
// event against it, and CompareRoomKey decides with it whether a second
// copy of a session may replace the first. Nothing in it is secret.
type SessionInfo struct {
	RoomID    string
	SessionID key.Ed25519
	// Sender is the user whose device shared the session: authenticated
	// by Olm for OverOlm, empty when the provenance does not tell
	// (Forwarded, Backup and Export carry no user ID).
	Sender string
	// SenderKey is the Curve25519 identity key of the device that
	// created the session: the Olm session's peer for OverOlm, a claim
	// otherwise.
	SenderKey key.Curve25519
	// ClaimedEd25519 is the Ed25519 key the sending device claims;
	// Ed25519Checked tells whether it was checked against the device keys
	// the caller gave DecryptOlm (OlmEvent.SenderEd25519Known).
	ClaimedEd25519 key.Ed25519
	Ed25519Checked bool
	Provenance     Provenance
	// ForwardingChain lists the Curve25519 keys of the devices a
	// forwarded session passed through, oldest first, ending with the
	// device that forwarded it to us.
	ForwardingChain []key.Curve25519
	// SharedHistory is shared_history (spec v1.19, "m.room_key").
	SharedHistory bool
}

// checkInfo reports whether info can describe s.
func checkInfo(info *SessionInfo, s *megolm.InboundSession) error {
	switch info.Provenance {
	case OverOlm:
		if info.Sender == "" {
			return errors.New("event: a session shared over Olm needs SessionInfo.Sender")
		}
		if !s.IsVerified() {
			return invalid("session", "unverified session", "session from a signed m.room_key")
		}
	case Forwarded, Backup, Export:
	default:
		return fmt.Errorf("event: SessionInfo.Provenance %d is not a provenance", info.Provenance)
	}
	if info.SessionID != s.SessionID() {
		return invalid("session", s.SessionID(), info.SessionID)
	}
	return nil
}

// CompareRoomKey decides what to do when a room key arrives for a
// (room, session id) that is already stored (spec "m.room_key",
// https://spec.matrix.org/v1.19/client-server-api/#mroom_key: a session
// stays bound to the device that sent it).
//
// The spec's rule "replace the stored session if the new one has a lower
// first index" would let a room member who received a session re-share
// its session key (it is a signed, valid key) as her own m.room_key, and
// so move the session's sender binding to herself. CompareRoomKey
// therefore merges only copies whose room, sender, sender key and claimed
// Ed25519 key agree with what is stored, and whose ratchets connect:
//
//   - merge true: the incoming copy knows an earlier index or is better
//     authenticated (OverOlm over Forwarded, Backup and Export). Store
//     storedSession.Merge(incomingSession) (which keeps the earlier index
//     and the verified flag) with the SessionInfo of the
//     better-authenticated copy.
//   - merge false, err nil: the incoming copy adds nothing; drop it.
//   - a *ValidationError (Rule "session"): the copies disagree about who
//     created the session, or their ratchets do not connect. Keep the
//     stored session and its binding, do not store the incoming copy
//     under the same (room, session id), and report the error: someone
//     is sharing a session as if it were theirs.
//
// matrix-sdk-crypto decides in crates/matrix-sdk-crypto/src/store/mod.rs
// (merge_received_group_session): a copy whose ratchet does not connect
// to the stored one is discarded; otherwise it compares ratchets and the
// trust level of the sender data separately, and when the new copy has
// the better ratchet but the worse sender data it keeps the old sender
// data with the new ratchet, so a re-share cannot move the binding there
// either. sicher is stricter: copies that disagree about the sender are
// not combined at all, and the disagreement is reported.
//
// Other errors mean an info does not describe its session (another
// session id, or OverOlm for an unsigned session).
func CompareRoomKey(stored SessionInfo, storedSession *megolm.InboundSession, incoming SessionInfo, incomingSession *megolm.InboundSession) (merge bool, err error) {
	if storedSession == nil || incomingSession == nil {
		return false, errors.New("event: CompareRoomKey needs both sessions")
	}
	if err := checkInfo(&stored, storedSession); err != nil {
		return false, err
	}
	if err := checkInfo(&incoming, incomingSession); err != nil {
		return false, err
	}
	switch {
	case stored.RoomID != incoming.RoomID:
		return false, invalid("session", "room "+incoming.RoomID, "room "+stored.RoomID)
	case stored.SenderKey != incoming.SenderKey:
		return false, invalid("session", "sender key "+incoming.SenderKey.String(), "sender key "+stored.SenderKey.String())
	case stored.ClaimedEd25519 != incoming.ClaimedEd25519:
		return false, invalid("session", "claimed key "+incoming.ClaimedEd25519.String(), "claimed key "+stored.ClaimedEd25519.String())
	case stored.Sender != "" && incoming.Sender != "" && stored.Sender != incoming.Sender:
		return false, invalid("session", "sender "+incoming.Sender, "sender "+stored.Sender)
	}
	if _, err := storedSession.Merge(incomingSession); err != nil {
		if errors.Is(err, megolm.ErrUnconnected) {
			return false, fmt.Errorf("%w: %w", invalid("session", "a ratchet unconnected to the stored one", "the stored session"), err)
		}
		return false, fmt.Errorf("event: %w", err)
	}
	better := incoming.Provenance == OverOlm && stored.Provenance != OverOlm
	return better || incomingSession.FirstKnownIndex() < storedSession.FirstKnownIndex(), nil
}
