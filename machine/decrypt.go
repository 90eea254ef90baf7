package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
)

// Shield is the badge a client shows next to a decrypted message, as matrix-sdk-crypto's
// ShieldState does (crates/matrix-sdk-crypto/src/types/mod.rs and olm/group_sessions).
type Shield int

// The shields.
const (
	// ShieldNone: the sender's device is cross-signed by its owner (or verified by us) and the
	// key came from it directly. Show nothing.
	ShieldNone Shield = iota
	// ShieldGrey: the message is decrypted but its authenticity cannot be guaranteed on this
	// device (the key was forwarded, restored from backup or imported).
	ShieldGrey
	// ShieldRed: the sending device is unknown, not verified by its owner, or its owner's
	// identity changed without acknowledgement.
	ShieldRed
)

// EncryptionInfo says who sent a decrypted room event and how far that can be trusted. Nothing
// in it is secret.
type EncryptionInfo struct {
	// Sender is the event's sender, bound to the session (the user whose device shared it over
	// Olm) when Provenance is event.OverOlm.
	Sender string
	// SenderDevice is the device id of the sending device, if it is known.
	SenderDevice string
	// SenderKey is the Curve25519 key of the device that created the session.
	SenderKey key.Curve25519
	// Provenance is how the session reached us: over Olm from its creator, forwarded, from a
	// backup or from an export.
	Provenance event.Provenance
	// ForwardingChain lists the devices a forwarded key passed through.
	ForwardingChain []key.Curve25519
	// Verified says the sending device is verified (cross-signed by its owner and verified by
	// us, or verified locally); CrossSigned that its owner signed it.
	Verified, CrossSigned bool
	// Shield and ShieldReason are what to show.
	Shield       Shield
	ShieldReason string
	// HistorySharedBy is the user whose room key bundle (MSC4268) brought the session:
	// Provenance is then event.Forwarded, "forwarded from HistorySharedBy".
	HistorySharedBy string
	// ViaDehydratedDevice says the session reached us over Olm at our dehydrated device
	// (MSC3814) while no device of ours was logged in.
	ViaDehydratedDevice bool
}

// DecryptedEvent is a decrypted room event.
type DecryptedEvent struct {
	Type    string
	Content json.RawMessage
	Info    EncryptionInfo
}

// DecryptFailure is the reason a room event could not be decrypted, for the UI.
type DecryptFailure int

// The reasons.
const (
	// FailureMalformed: the event is not a Megolm m.room.encrypted event.
	FailureMalformed DecryptFailure = iota + 1
	// FailureMissingSession: we do not have the session (yet). Wait for the key or request it
	// (RequestRoomKey).
	FailureMissingSession
	// FailureWithheld: the sender told us it will not share the key; Code says why.
	FailureWithheld
	// FailureUnknownIndex: we have the session from a later message index.
	FailureUnknownIndex
	// FailureSenderMismatch: the event's sender is not the user who shared the session, or it
	// names another room: the server may be forging it.
	FailureSenderMismatch
	// FailureReplay: another event already used this message index.
	FailureReplay
	// FailureAuthentication: the message does not authenticate under the session.
	FailureAuthentication
	// FailureUnsupportedVariant: the sender's app encrypts with an unsupported
	// variant: vodozemac's experimental session config v2 (untruncated MACs;
	// megolm.ErrSessionConfigV2). The message is authentic; a UI can say "the
	// sender's app uses an unsupported encryption variant".
	FailureUnsupportedVariant
)

// DecryptionError is the error of DecryptRoomEvent. It matches its Err with errors.Is
// (event.ErrNoSession, event.ErrWithheld, event.ErrUnknownIndex, event.ErrValidation,
// store.ErrReplay...).
type DecryptionError struct {
	Reason DecryptFailure
	// Code and WithheldReason are the withheld notice's, for FailureWithheld.
	Code, WithheldReason string
	Err                  error
}

// Error describes the failure.
func (e *DecryptionError) Error() string { return "machine: cannot decrypt: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *DecryptionError) Unwrap() error { return e.Err }

type rawRoomEvent struct {
	Type           string          `json:"type"`
	Sender         string          `json:"sender"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	Content        json.RawMessage `json:"content"`
}

// DecryptRoomEvent decrypts an m.room.encrypted room event (the whole event JSON, as /sync or
// /messages return it) that arrived in roomID. It finds the session by room and session id,
// checks the event through event.DecryptMegolm against what was stored with the session (the
// sender binding, the room) and records the message index against replays, in one
// transaction; the plaintext is returned only after it committed. The decoded session is kept
// in the machine's session cache (Config.SessionCacheSize); with the cache off, the session's
// advanced ratchet is written back instead. Errors are *DecryptionError.
func (m *Machine) DecryptRoomEvent(ctx context.Context, roomID string, raw json.RawMessage) (*DecryptedEvent, error) {
	var ev rawRoomEvent
	if err := jsonstrict.Unmarshal(raw, &ev); err != nil || ev.Sender == "" || ev.EventID == "" {
		return nil, &DecryptionError{Reason: FailureMalformed, Err: fmt.Errorf("%w: room event", event.ErrMalformed)}
	}
	mc, err := event.ParseMegolmContent(ev.Content)
	if err != nil {
		return nil, &DecryptionError{Reason: FailureMalformed, Err: err}
	}
	var out *DecryptedEvent
	keep := func() {}
	err = m.update(ctx, func(tx store.Tx) error {
		var err error
		out, keep, err = m.decryptIn(ctx, tx, roomID, &ev, mc, nil)
		return err
	})
	if err != nil {
		return nil, decryptionError(ctx, err)
	}
	keep()
	return out, nil
}

// decryptionError makes every failure of a decryption a *DecryptionError, except the
// context's.
func decryptionError(ctx context.Context, err error) error {
	var de *DecryptionError
	if !errors.As(err, &de) && ctx.Err() == nil {
		err = &DecryptionError{Reason: FailureAuthentication, Err: err}
	}
	return err
}

// DecryptRoomEvents decrypts events that arrived in roomID (a page of its timeline) as
// DecryptRoomEvent does, with the checks and replay records of all of them in one store
// transaction, which costs one commit instead of one per event. results[i] and errs[i] are
// events[i]'s: exactly one of them is nil, and errs[i] is what DecryptRoomEvent would return.
// Nothing is returned before the transaction committed. If the store fails, the events are
// decrypted one transaction each.
func (m *Machine) DecryptRoomEvents(ctx context.Context, roomID string, events []json.RawMessage) (results []*DecryptedEvent, errs []error) {
	results, errs = make([]*DecryptedEvent, len(events)), make([]error, len(events))
	type parsed struct {
		ev rawRoomEvent
		mc *event.MegolmContent
	}
	in := make([]parsed, len(events))
	for i, raw := range events {
		if err := jsonstrict.Unmarshal(raw, &in[i].ev); err != nil || in[i].ev.Sender == "" || in[i].ev.EventID == "" {
			errs[i] = &DecryptionError{Reason: FailureMalformed, Err: fmt.Errorf("%w: room event", event.ErrMalformed)}
			continue
		}
		mc, err := event.ParseMegolmContent(in[i].ev.Content)
		if err != nil {
			errs[i] = &DecryptionError{Reason: FailureMalformed, Err: err}
			continue
		}
		in[i].mc = mc
	}
	keeps := make([]func(), 0, len(events))
	err := m.update(ctx, func(tx store.Tx) error {
		keeps = keeps[:0]
		page := map[string]*cachedSession{}
		for i := range in {
			if in[i].mc == nil {
				continue
			}
			out, keep, err := m.decryptIn(ctx, tx, roomID, &in[i].ev, in[i].mc, page)
			var de *DecryptionError
			switch {
			case err == nil:
				results[i] = out
				keeps = append(keeps, keep)
			case errors.As(err, &de):
				// Refused before anything was written (decryptIn): the others go on.
				errs[i] = err
			default:
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, keep := range keeps {
			keep()
		}
		return results, errs
	}
	for i := range in {
		results[i] = nil
		if in[i].mc == nil {
			continue
		}
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		results[i], errs[i] = m.DecryptRoomEvent(ctx, roomID, events[i])
	}
	return results, errs
}

// decryptIn decrypts one room event in tx. It writes only after the event decrypted and
// passed every check: a *DecryptionError means tx is as it was (store.Tx.RecordReplay records
// nothing when it refuses). keep, run after the commit, updates the session cache. page, if not
// nil, keeps the sessions that decrypted earlier events of the same transaction, so that the
// events of a page move one session forward instead of each starting from the cached one.
func (m *Machine) decryptIn(ctx context.Context, tx store.Tx, roomID string, ev *rawRoomEvent, mc *event.MegolmContent, page map[string]*cachedSession) (*DecryptedEvent, func(), error) {
	rec, err := tx.InboundGroupSession(ctx, roomID, mc.SessionID.String())
	if errors.Is(err, store.ErrNotFound) {
		if w, err := tx.Withheld(ctx, roomID, mc.SessionID.String()); err == nil {
			return nil, nil, &DecryptionError{Reason: FailureWithheld, Code: w.Code, WithheldReason: w.Reason,
				Err: fmt.Errorf("%w: %s", event.ErrWithheld, w.Code)}
		}
		return nil, nil, &DecryptionError{Reason: FailureMissingSession, Err: event.ErrNoSession}
	}
	if err != nil {
		return nil, nil, err
	}
	st := inboundStamp(rec)
	var sess *megolm.InboundSession
	var info event.SessionInfo
	cached := false
	if p := page[cacheID(roomID, rec.SessionID)]; p != nil && p.stamp == st {
		sess, info, cached = p.sess, p.info, true
	} else {
		sess, info, cached = m.sessions.get(roomID, rec.SessionID, st)
	}
	if !cached {
		if info, err = sessionInfo(rec); err != nil {
			return nil, nil, err
		}
		if sess, err = megolm.UnpickleInboundSession(&m.pickleKey, string(rec.State)); err != nil {
			return nil, nil, err
		}
	}
	var dev *Device
	if info.Sender != "" {
		if dev, err = m.deviceByCurve(ctx, tx, info.Sender, info.SenderKey.String()); err != nil {
			return nil, nil, err
		}
	}
	p := event.MegolmDecryptParams{RoomID: roomID, Sender: ev.Sender, Session: info}
	if dev != nil && dev.Keys.Ed25519 == info.ClaimedEd25519 {
		p.SenderDevice = dev.Keys
	}
	re, err := event.DecryptMegolm(sess, ev.Content, p)
	if err != nil {
		return nil, nil, classify(err)
	}
	if err := tx.RecordReplay(ctx, &store.Replay{RoomID: roomID, SessionID: rec.SessionID, Index: re.MessageIndex,
		EventID: ev.EventID, OriginServerTS: ev.OriginServerTS}); err != nil {
		if errors.Is(err, store.ErrReplay) {
			return nil, nil, &DecryptionError{Reason: FailureReplay, Err: err}
		}
		return nil, nil, err
	}
	if page != nil {
		page[cacheID(roomID, rec.SessionID)] = &cachedSession{stamp: st, info: info, sess: sess}
	}
	keep := func() {}
	if m.sessions != nil {
		// Only the latest ratchet moved: the cache keeps it, the store keeps the record as
		// it was (see sessionCache).
		keep = func() { m.sessions.put(roomID, rec.SessionID, st, info, sess) }
	} else {
		p2, err := sess.Pickle(&m.pickleKey)
		if err != nil {
			return nil, nil, err
		}
		rec.State = store.Secret(p2)
		if err := tx.PutInboundGroupSession(ctx, rec); err != nil {
			return nil, nil, err
		}
	}
	out := &DecryptedEvent{Type: re.Type, Content: re.Content, Info: m.encryptionInfo(info, re, dev)}
	out.Info.HistorySharedBy, out.Info.ViaDehydratedDevice = provenanceNotes(ctx, tx, rec)
	return out, keep, nil
}

func classify(err error) error {
	switch {
	case errors.Is(err, megolm.ErrSessionConfigV2):
		return &DecryptionError{Reason: FailureUnsupportedVariant, Err: err}
	case errors.Is(err, event.ErrUnknownIndex):
		return &DecryptionError{Reason: FailureUnknownIndex, Err: err}
	case errors.Is(err, event.ErrValidation):
		return &DecryptionError{Reason: FailureSenderMismatch, Err: err}
	case errors.Is(err, event.ErrReplay):
		return &DecryptionError{Reason: FailureReplay, Err: err}
	case errors.Is(err, event.ErrNoSession):
		return &DecryptionError{Reason: FailureMissingSession, Err: err}
	case errors.Is(err, event.ErrMalformed), errors.Is(err, event.ErrAlgorithm), errors.Is(err, event.ErrNotOlmEncrypted):
		return &DecryptionError{Reason: FailureMalformed, Err: err}
	}
	return &DecryptionError{Reason: FailureAuthentication, Err: err}
}

func (m *Machine) encryptionInfo(info event.SessionInfo, re *event.RoomEvent, dev *Device) EncryptionInfo {
	ei := EncryptionInfo{Sender: re.Sender, SenderKey: info.SenderKey, Provenance: info.Provenance,
		ForwardingChain: slices.Clone(info.ForwardingChain)}
	ownDevice := info.Sender == m.owner.UserID && info.SenderKey == m.curve
	switch {
	case ownDevice:
		ei.SenderDevice, ei.Verified, ei.CrossSigned = m.owner.DeviceID, true, true
	case dev != nil && re.SenderDeviceKnown:
		ei.SenderDevice, ei.Verified, ei.CrossSigned = dev.Keys.DeviceID, dev.Verified, dev.CrossSigned
	}
	switch {
	case info.Provenance != event.OverOlm:
		ei.Shield, ei.ShieldReason = ShieldGrey, "The authenticity of this encrypted message can't be guaranteed on this device."
	case ownDevice:
	case dev == nil || !re.SenderDeviceKnown:
		ei.Shield, ei.ShieldReason = ShieldRed, "Encrypted by an unknown or deleted device."
	case dev.IdentityChanged:
		ei.Shield, ei.ShieldReason = ShieldRed, "The sender's identity changed."
	case !dev.CrossSigned && !dev.Verified:
		ei.Shield, ei.ShieldReason = ShieldRed, "Encrypted by a device not verified by its owner."
	}
	return ei
}
