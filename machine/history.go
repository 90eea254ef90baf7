package machine

// Sharing keys for past messages (MSC4268 "Sharing room keys for past messages", spec v1.19
// "Sharing keys for past messages",
// https://spec.matrix.org/v1.19/client-server-api/#sharing-keys-for-past-messages): when
// inviting a user, a member sends the invitee a room key bundle, an encrypted attachment with
// the room's keys that are marked shared_history and withheld notices for the others. The
// shape of the bundle follows matrix-sdk-crypto's types/room_history.rs (room_keys, withheld).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
)

// Event types and the withheld code of history sharing.
const (
	// TypeRoomKeyBundle is the to-device event that points to a room key bundle.
	TypeRoomKeyBundle = "m.room_key_bundle"
	// TypeRoomKeyBundleUnstable is its name while MSC4268 was open (matrix-sdk-crypto);
	// ImportRoomKeyBundle accepts both.
	TypeRoomKeyBundleUnstable = "io.element.msc4268.room_key_bundle"
	withheldHistoryNotShared  = "m.history_not_shared"
)

// Errors of history sharing.
var (
	// ErrHistoryNotShared reports a ShareRoomHistory in a room whose history visibility is
	// neither "shared" nor "world_readable": nothing is shared.
	ErrHistoryNotShared = errors.New("machine: the room's history visibility does not allow sharing history")
	// ErrBundleSender reports a room key bundle that did not arrive Olm-encrypted from the
	// user who invited us, or that names another room than the one we were invited to: it is
	// not imported.
	ErrBundleSender = errors.New("machine: room key bundle not from the inviter")
	// ErrBundleUntrusted reports a room key bundle from a device of the inviter that is not
	// cross-signed by the inviter's identity, or an inviter whose identity we did not verify
	// (or whose identity changed since): it is not imported.
	ErrBundleUntrusted = errors.New("machine: room key bundle from a device not cross-signed by the inviter's verified identity")
	// ErrBundleMalformed reports a room key bundle event or file that is not MSC4268's JSON,
	// that fails to decrypt, or whose keys name another room: nothing is imported.
	ErrBundleMalformed = errors.New("machine: malformed room key bundle")
)

// valueHistoryFrom + room|session records the user whose bundle brought a session.
const valueHistoryFrom = "sicher.machine.history_from:"

// valueRoomSessions + room id lists the ids of the room's inbound sessions, for bundles.
const valueRoomSessions = "sicher.machine.room_sessions:"

// indexRoomSession records that the room has the inbound session (storeInbound calls it).
func indexRoomSession(ctx context.Context, tx store.Tx, roomID, sessionID string) error {
	var ids []string
	if b, err := tx.Value(ctx, valueRoomSessions+roomID); err == nil {
		_ = json.Unmarshal(b, &ids)
	}
	if slices.Contains(ids, sessionID) {
		return nil
	}
	b, _ := json.Marshal(append(ids, sessionID))
	return tx.PutValue(ctx, valueRoomSessions+roomID, b)
}

// RoomHistory is a room key bundle ready for upload. Ciphertext is public (upload it as
// application/octet-stream); the key that opens it stays inside and is sent Olm-encrypted by
// SendRoomHistory. A RoomHistory is a plain value; fmt prints no key.
type RoomHistory struct {
	RoomID, Invitee string
	// Ciphertext is the encrypted bundle to upload to the media repository.
	Ciphertext []byte
	// Keys and Withheld count the sessions shared and the sessions withheld
	// (m.history_not_shared).
	Keys, Withheld int
	// EventType is the to-device event type SendRoomHistory sends: empty means
	// TypeRoomKeyBundle (spec v1.19); TypeRoomKeyBundleUnstable reaches clients that know only
	// MSC4268's unstable name (matrix-sdk-crypto).
	EventType string

	file *attachment.EncryptedFile
}

type bundleJSON struct {
	RoomKeys []json.RawMessage `json:"room_keys"`
	Withheld []json.RawMessage `json:"withheld"`
}

// ShareRoomHistory builds the room key bundle for invitee (MSC4268): every inbound session of
// the room whose shared_history flag is set, exported at its first known index, and an
// m.room_key.withheld entry with code m.history_not_shared for each other session. It returns
// the bundle encrypted as an attachment (package attachment); the machine does no I/O, so the
// application uploads Ciphertext and passes the mxc:// URI to SendRoomHistory. rs is the room's
// current state: a history visibility other than "shared" or "world_readable" gives
// ErrHistoryNotShared and nothing is built. The machine finds a room's sessions through an
// index it keeps as it stores them; sessions stored by an earlier version of sicher are not in
// it and not shared.
func (m *Machine) ShareRoomHistory(ctx context.Context, roomID, invitee string, rs RoomSettings) (*RoomHistory, error) {
	if !sharedHistory(rs) {
		return nil, ErrHistoryNotShared
	}
	b := bundleJSON{RoomKeys: []json.RawMessage{}, Withheld: []json.RawMessage{}}
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		var ids []string
		if v, err := tx.Value(ctx, valueRoomSessions+roomID); err == nil {
			_ = json.Unmarshal(v, &ids)
		}
		for _, id := range ids {
			rec, err := tx.InboundGroupSession(ctx, roomID, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			entry, err := m.bundleEntry(rec)
			if err != nil {
				return err
			}
			if rec.SharedHistory {
				b.RoomKeys = append(b.RoomKeys, entry)
			} else {
				b.Withheld = append(b.Withheld, entry)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("machine: encoding room key bundle: %w", err)
	}
	defer clear(plain)
	ct, file, err := attachment.EncryptFrom(m.randReader(), plain)
	if err != nil {
		return nil, err
	}
	return &RoomHistory{RoomID: roomID, Invitee: invitee, Ciphertext: ct, Keys: len(b.RoomKeys),
		Withheld: len(b.Withheld), file: file}, nil
}

// bundleEntry returns a session's bundle entry: the exported session if it has shared
// history, else its withheld notice.
func (m *Machine) bundleEntry(rec *store.InboundGroupSession) (json.RawMessage, error) {
	if !rec.SharedHistory {
		return json.Marshal(withheldContent{Algorithm: megolm.Algorithm, SenderKey: rec.SenderKey,
			Code: withheldHistoryNotShared, Reason: "The sender disabled sharing encrypted history.",
			RoomID: rec.RoomID, SessionID: rec.SessionID})
	}
	info, err := sessionInfo(rec)
	if err != nil {
		return nil, err
	}
	s, err := megolm.UnpickleInboundSession(&m.pickleKey, string(rec.State))
	if err != nil {
		return nil, err
	}
	es := megolm.NewExportedSession(s.ExportAtFirstKnownIndex(), rec.RoomID, info.SenderKey, info.ClaimedEd25519)
	es.SharedHistory = true
	return es.MarshalSecretJSON()
}

// SendRoomHistory queues the m.room_key_bundle to-device event, Olm-encrypted, to every device
// of the invitee that is not blacklisted and has an Olm session with us (claim the missing
// ones first with GetMissingSessions); uri is the mxc:// URI the application uploaded
// h.Ciphertext to. It returns the number of devices it queued the event for. The invitee's
// device list must be current (ErrDevicesOutdated otherwise).
func (m *Machine) SendRoomHistory(ctx context.Context, h *RoomHistory, uri string) (int, error) {
	if h == nil || h.file == nil || uri == "" {
		return 0, fmt.Errorf("%w: SendRoomHistory needs a RoomHistory from ShareRoomHistory and a URI", ErrConfig)
	}
	file := *h.file
	file.URL = uri
	content, err := json.Marshal(map[string]any{"room_id": h.RoomID, "file": &file})
	if err != nil {
		return 0, err
	}
	defer clear(content)
	n := 0
	err = m.update(ctx, func(tx store.Tx) error {
		tu, err := tx.TrackedUser(ctx, h.Invitee)
		if errors.Is(err, store.ErrNotFound) || err == nil && tu.Outdated {
			return fmt.Errorf("%w: %s", ErrDevicesOutdated, h.Invitee)
		}
		if err != nil {
			return err
		}
		acct, err := m.loadAccount(ctx, tx)
		if err != nil {
			return err
		}
		devs, err := m.devices(ctx, tx, h.Invitee)
		if err != nil {
			return err
		}
		var to []*Device
		for i := range devs {
			d := &devs[i]
			if d.Blacklisted || (h.Invitee == m.owner.UserID && d.Keys.DeviceID == m.owner.DeviceID) {
				continue
			}
			if s, err := tx.OlmSessions(ctx, d.Keys.Curve25519.String()); err != nil {
				return err
			} else if len(s) > 0 {
				to = append(to, d)
			}
		}
		if len(to) == 0 {
			return nil
		}
		evType := TypeRoomKeyBundle
		if h.EventType != "" {
			evType = h.EventType
		}
		msgs, err := m.encryptForDevices(ctx, tx, acct, to, evType, content)
		if err != nil {
			return err
		}
		n = len(to)
		return m.queue(ctx, tx, KindToDevice, typeEncrypted, toDeviceBody{msgs})
	})
	return n, err
}

// RoomKeyBundle is what an m.room_key_bundle to-device event says: the room, and where the
// encrypted bundle is (URL, the mxc:// URI to download). The file's key is secret and kept
// inside.
type RoomKeyBundle struct {
	RoomID string
	URL    string
	file   *attachment.EncryptedFile
}

// ParseRoomKeyBundle reads an m.room_key_bundle (or io.element.msc4268.room_key_bundle)
// to-device event as ReceiveSync returned it, so that the application can download the
// file. Errors: ErrBundleMalformed.
func ParseRoomKeyBundle(ev ToDeviceEvent) (*RoomKeyBundle, error) {
	if ev.Type != TypeRoomKeyBundle && ev.Type != TypeRoomKeyBundleUnstable {
		return nil, fmt.Errorf("%w: event type %q", ErrBundleMalformed, ev.Type)
	}
	var c struct {
		RoomID string          `json:"room_id"`
		File   json.RawMessage `json:"file"`
	}
	if err := jsonstrict.Unmarshal(ev.Content, &c); err != nil || c.RoomID == "" || c.File == nil {
		return nil, fmt.Errorf("%w: content needs room_id and file", ErrBundleMalformed)
	}
	f, err := attachment.ParseEncryptedFile(c.File)
	if err != nil {
		return nil, fmt.Errorf("%w: file: %w", ErrBundleMalformed, err)
	}
	return &RoomKeyBundle{RoomID: c.RoomID, URL: f.URL, file: f}, nil
}

// BundleImport says what ImportRoomKeyBundle did.
type BundleImport struct {
	RoomID string
	// Imported counts the sessions stored, Withheld the withheld notices stored, and Skipped
	// the sessions refused because we hold a copy they contradict.
	Imported, Withheld, Skipped int
}

// ImportRoomKeyBundle imports the room key bundle an m.room_key_bundle event (ev, as
// ReceiveSync returned it) points to, given the downloaded ciphertext, when we accept the
// invitation of inviter into roomID. It is fail-closed: the event must name roomID and have
// arrived Olm-encrypted from a device of inviter (ErrBundleSender), which the inviter's identity cross-signed, and we must
// have verified that identity, unchanged since (ErrBundleUntrusted). The file must decrypt and
// every key must be a Megolm session of the bundle's room (ErrBundleMalformed); then all
// sessions are stored in one transaction as forwarded by the inviter's device (EncryptionInfo
// shows HistorySharedBy and a grey shield), and the m.history_not_shared and other withheld
// entries are stored for sessions we do not have. On error nothing is stored.
func (m *Machine) ImportRoomKeyBundle(ctx context.Context, roomID, inviter string, ev ToDeviceEvent, ciphertext []byte) (*BundleImport, error) {
	if !ev.Encrypted || ev.Sender != inviter || ev.SenderDevice == "" {
		return nil, fmt.Errorf("%w: sender %s", ErrBundleSender, ev.Sender)
	}
	rb, err := ParseRoomKeyBundle(ev)
	if err != nil {
		return nil, err
	}
	if rb.RoomID != roomID {
		return nil, fmt.Errorf("%w: the bundle is for %s, not %s", ErrBundleSender, rb.RoomID, roomID)
	}
	plain, err := attachment.Decrypt(ciphertext, rb.file, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundleMalformed, err)
	}
	defer clear(plain)
	var b bundleJSON
	if err := jsonstrict.Unmarshal(plain, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundleMalformed, err)
	}
	type imported struct {
		info event.SessionInfo
		s    *megolm.InboundSession
	}
	keys := make([]imported, 0, len(b.RoomKeys))
	for _, raw := range b.RoomKeys {
		es, err := megolm.ParseExportedSession(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: room key: %w", ErrBundleMalformed, err)
		}
		claimed, ok := es.ClaimedEd25519()
		if es.RoomID != rb.RoomID || !ok || es.SenderKey == (key.Curve25519{}) {
			return nil, fmt.Errorf("%w: room key for %q without valid sender keys", ErrBundleMalformed, es.RoomID)
		}
		s, err := es.InboundSession()
		if err != nil {
			return nil, fmt.Errorf("%w: room key: %w", ErrBundleMalformed, err)
		}
		keys = append(keys, imported{event.SessionInfo{RoomID: rb.RoomID, SessionID: es.SessionID(), SenderKey: es.SenderKey,
			ClaimedEd25519: claimed, Provenance: event.Forwarded, ForwardingChain: []key.Curve25519{ev.SenderKey},
			SharedHistory: true}, s})
	}
	var withheld []*event.Withheld
	for _, raw := range b.Withheld {
		w, err := event.ParseWithheld(raw)
		if err != nil || w.RoomID != rb.RoomID {
			return nil, fmt.Errorf("%w: withheld entry", ErrBundleMalformed)
		}
		withheld = append(withheld, w)
	}
	res := &BundleImport{RoomID: rb.RoomID}
	err = m.update(ctx, func(tx store.Tx) error {
		*res = BundleImport{RoomID: rb.RoomID}
		dev, err := m.device(ctx, tx, inviter, ev.SenderDevice)
		if err != nil {
			return err
		}
		if dev == nil || dev.Keys.Curve25519 != ev.SenderKey {
			return fmt.Errorf("%w: device %s of %s is not known with this key", ErrBundleUntrusted, ev.SenderDevice, inviter)
		}
		verified, err := m.userVerified(ctx, tx, inviter)
		if err != nil {
			return err
		}
		if !dev.CrossSigned || dev.IdentityChanged || !verified {
			return fmt.Errorf("%w: device %s of %s", ErrBundleUntrusted, ev.SenderDevice, inviter)
		}
		for _, k := range keys {
			err := m.storeInbound(ctx, tx, k.info, k.s)
			var d *dropped
			if errors.As(err, &d) {
				res.Skipped++
				continue
			}
			if err != nil {
				return err
			}
			name := valueHistoryFrom + rb.RoomID + "|" + k.info.SessionID.String()
			if err := tx.PutValue(ctx, name, []byte(inviter)); err != nil {
				return err
			}
			res.Imported++
		}
		for _, w := range withheld {
			if w.SessionID == nil {
				continue
			}
			if _, err := tx.InboundGroupSession(ctx, w.RoomID, w.SessionID.String()); err == nil {
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := m.storeWithheld(ctx, tx, w, true); err != nil {
				return err
			}
			res.Withheld++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.log.Info("machine: imported a room key bundle", "room", rb.RoomID, "inviter", inviter,
		"imported", res.Imported, "withheld", res.Withheld, "skipped", res.Skipped)
	return res, nil
}

// provenanceNotes returns the user whose bundle brought a session (if it is still the
// forwarded copy) and whether the session arrived at our dehydrated device.
func provenanceNotes(ctx context.Context, tx store.Tx, rec *store.InboundGroupSession) (historyFrom string, viaDehydrated bool) {
	id := rec.RoomID + "|" + rec.SessionID
	if event.Provenance(rec.Provenance) == event.Forwarded {
		if b, err := tx.Value(ctx, valueHistoryFrom+id); err == nil {
			historyFrom = string(b)
		}
	}
	if event.Provenance(rec.Provenance) == event.OverOlm {
		viaDehydrated = valueIs(ctx, tx, valueViaDehydrated+id, "1")
	}
	return historyFrom, viaDehydrated
}

// Format prints the public fields of a RoomHistory, never the file's key.
func (h RoomHistory) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "machine.RoomHistory{RoomID: %q, Invitee: %q, Ciphertext: %d bytes, Keys: %d, Withheld: %d, EventType: %q}",
		h.RoomID, h.Invitee, len(h.Ciphertext), h.Keys, h.Withheld, h.EventType)
}

// LogValue logs the public fields of a RoomHistory, never the file's key.
func (h RoomHistory) LogValue() slog.Value {
	return slog.GroupValue(slog.String("room_id", h.RoomID), slog.String("invitee", h.Invitee),
		slog.Int("ciphertext_bytes", len(h.Ciphertext)), slog.Int("keys", h.Keys), slog.Int("withheld", h.Withheld))
}

// Format prints the public fields of a RoomKeyBundle, never the file's key.
func (b RoomKeyBundle) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "machine.RoomKeyBundle{RoomID: %q, URL: %q}", b.RoomID, b.URL)
}

// LogValue logs the public fields of a RoomKeyBundle, never the file's key.
func (b RoomKeyBundle) LogValue() slog.Value {
	return slog.GroupValue(slog.String("room_id", b.RoomID), slog.String("url", b.URL))
}
