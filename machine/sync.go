package machine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
)

// SyncChanges is what a /sync response says that concerns encryption (spec "Extensions to
// /sync", https://spec.matrix.org/v1.19/client-server-api/#extensions-to-sync).
type SyncChanges struct {
	// ToDevice are the to_device.events, each a JSON object {type, sender, content}.
	ToDevice []json.RawMessage
	// Changed and Left are device_lists.changed and device_lists.left.
	Changed, Left []string
	// OneTimeKeyCounts is device_one_time_keys_count.
	OneTimeKeyCounts map[string]int
	// UnusedFallbackKeyTypes is device_unused_fallback_key_types; nil means the server did
	// not send it (then the fallback key is not rotated).
	UnusedFallbackKeyTypes []string
	// AccountData are the account_data.events, each {type, content}: the machine keeps the
	// secret storage events Recover reads (recover.go).
	AccountData []json.RawMessage
}

// ToDeviceEvent is a to-device event after the machine processed it. Key-sharing events
// (m.room_key, m.room_key.withheld, m.dummy, m.forwarded_room_key) are handled inside; other
// decrypted events are returned for the application. Nothing secret is in it: the content of
// key-sharing events is not returned.
type ToDeviceEvent struct {
	Type   string
	Sender string
	// SenderDevice is the sending device if it is known (Olm-encrypted events only).
	SenderDevice string
	// Encrypted says the event arrived Olm-encrypted and SenderKey is authenticated.
	Encrypted bool
	SenderKey key.Curve25519
	// Content is the (decrypted) content of an event the machine does not consume.
	Content json.RawMessage
	// Err is why the event was dropped, if it was.
	Err error
}

type rawToDevice struct {
	Type    string          `json:"type"`
	Sender  string          `json:"sender"`
	Content json.RawMessage `json:"content"`
}

// ReceiveSync processes a /sync response's encryption changes: device-list changes, one-time
// key counts, unused fallback key types and to-device events, the last each in its own store
// transaction, except that consecutive Olm-encrypted events share one. It returns the
// to-device events in order with what happened to each; an error
// is returned only when the store fails or ctx ends. An event's Err is the event layer's
// validation error, ErrDuplicate (a message delivered again), ErrUntrustedForwarder (a forwarded key not from our own verified device),
// ErrUntrustedRequester (a key request not from one) or event.ErrNotOlmEncrypted (a key
// that arrived in the clear).
func (m *Machine) ReceiveSync(ctx context.Context, c SyncChanges) ([]ToDeviceEvent, error) {
	err := m.update(ctx, func(tx store.Tx) error {
		if err := markOutdated(ctx, tx, c.Changed); err != nil {
			return err
		}
		if err := m.receiveAccountData(ctx, tx, c.AccountData); err != nil {
			return err
		}
		for _, u := range c.Left {
			if err := tx.DeleteTrackedUser(ctx, u); err != nil {
				return err
			}
		}
		if n, ok := c.OneTimeKeyCounts[signedCurve25519]; ok || c.OneTimeKeyCounts != nil {
			if err := tx.PutValue(ctx, valueOTKCount, fmt.Appendf(nil, "%d", n)); err != nil {
				return err
			}
		}
		if c.UnusedFallbackKeyTypes != nil && !slices.Contains(c.UnusedFallbackKeyTypes, signedCurve25519) &&
			valueIs(ctx, tx, valueDeviceUpload, "1") {
			return tx.PutValue(ctx, valueFallbackUsed, []byte("1"))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]ToDeviceEvent, 0, len(c.ToDevice))
	for i := 0; i < len(c.ToDevice); {
		// Runs of Olm-encrypted events share a transaction (olmRun).
		evs, n, err := m.receiveOlmRun(ctx, c.ToDevice[i:])
		out = append(out, evs...)
		if err != nil {
			return out, err
		}
		if n > 0 {
			i += n
			continue
		}
		ev, err := m.receiveToDevice(ctx, c.ToDevice[i])
		if err != nil && ctx.Err() != nil {
			return out, err
		}
		out = append(out, ev)
		i++
	}
	return out, nil
}

func (m *Machine) receiveToDevice(ctx context.Context, raw json.RawMessage) (ToDeviceEvent, error) {
	var r rawToDevice
	if err := jsonstrict.Unmarshal(raw, &r); err != nil || r.Type == "" || r.Sender == "" {
		return ToDeviceEvent{Err: fmt.Errorf("%w: to-device event", event.ErrMalformed)}, nil
	}
	out := ToDeviceEvent{Type: r.Type, Sender: r.Sender}
	switch r.Type {
	case typeEncrypted:
		return m.receiveOlm(ctx, r)
	case typeRoomKeyWithheld:
		// Unencrypted notices are hints; keep them only if no notice arrived over Olm.
		w, err := event.ParseWithheld(r.Content)
		if err != nil {
			out.Err = err
			return out, nil
		}
		out.Err = m.update(ctx, func(tx store.Tx) error { return m.storeWithheld(ctx, tx, w, false) })
		return out, nil
	case typeRoomKeyRequest:
		out.Err = m.receiveKeyRequest(ctx, r)
		return out, nil
	case typeSecretRequest: // secrets.go
		out.Err = m.receiveSecretRequest(ctx, r.Sender, r.Content)
		return out, nil
	case typeRoomKey, typeForwardedKey, typeDummy, typeSecretSend:
		out.Err = event.ErrNotOlmEncrypted
		return out, nil
	}
	if isVerificationType(r.Type) {
		out.Err = m.receiveVerification(ctx, r.Type, r.Sender, "", r.Content)
		return out, nil
	}
	out.Content = r.Content
	return out, nil
}

func (m *Machine) storeWithheld(ctx context.Context, tx store.Tx, w *event.Withheld, overOlm bool) error {
	if w.SessionID == nil || w.RoomID == "" {
		return nil // m.no_olm: nothing to attach it to
	}
	if !overOlm {
		if _, err := tx.Withheld(ctx, w.RoomID, w.SessionID.String()); err == nil {
			return nil
		}
	}
	return tx.PutWithheld(ctx, &store.Withheld{RoomID: w.RoomID, SessionID: w.SessionID.String(),
		SenderKey: w.SenderKey.String(), Code: w.Code, Reason: w.Reason})
}

// receiveOlm decrypts an Olm to-device event in one transaction: read the account and the
// sessions with the sender key, decrypt, store the session and account and whatever the event
// carries, commit; only then is the content returned.
func (m *Machine) receiveOlm(ctx context.Context, r rawToDevice) (ToDeviceEvent, error) {
	oc, err := event.ParseOlmContent(r.Content)
	if err != nil {
		return ToDeviceEvent{Type: r.Type, Sender: r.Sender, Err: err}, nil
	}
	var res olmResult
	err = m.update(ctx, func(tx store.Tx) error {
		res = m.receiveOlmIn(ctx, tx, r, oc)
		return res.err
	})
	res.err = err
	return m.afterOlm(ctx, r, oc, res)
}

// olmResult is what receiveOlmIn did with an event.
type olmResult struct {
	out         ToDeviceEvent
	knownDevice bool
	// err is why the transaction must not commit; wrote says whether the event wrote to it
	// before (a failure to decrypt writes nothing).
	err   error
	wrote bool
	// decryptFailed says err is event.DecryptOlm's: the message, not the store, failed.
	decryptFailed bool
}

// receiveOlmIn decrypts an Olm to-device event in tx and stores what it changes.
func (m *Machine) receiveOlmIn(ctx context.Context, tx store.Tx, r rawToDevice, oc *event.OlmContent) (res olmResult) {
	res.out = ToDeviceEvent{Type: r.Type, Sender: r.Sender}
	fail := func(err error) olmResult { res.err = err; return res }
	acct, err := m.loadAccount(ctx, tx)
	if err != nil {
		return fail(err)
	}
	recs, err := tx.OlmSessions(ctx, oc.SenderKey.String())
	if err != nil {
		return fail(err)
	}
	sessions := make([]*olm.Session, 0, len(recs))
	for _, rec := range recs {
		s, err := olm.UnpickleSession(&m.pickleKey, string(rec.State))
		if err != nil {
			return fail(fmt.Errorf("machine: Olm session %s: %w", rec.SessionID, err))
		}
		if _, ok := s.PeerIdentityKey(); !ok {
			if err := s.BindPeer(m.curve, oc.SenderKey); err != nil {
				return fail(err)
			}
		}
		sessions = append(sessions, s)
	}
	dev, err := m.deviceByCurve(ctx, tx, r.Sender, oc.SenderKey.String())
	if err != nil {
		return fail(err)
	}
	res.knownDevice = dev != nil
	p := event.OlmDecryptParams{Sender: r.Sender, OwnUserID: m.owner.UserID, Sessions: sessions, SessionsComplete: true}
	if dev != nil {
		p.SenderDevice = dev.Keys
	}
	ev, err := event.DecryptOlm(acct, r.Content, p)
	if err != nil {
		res.decryptFailed = true
		return fail(err)
	}
	res.wrote = true
	now := m.clock()
	if err := m.putSession(ctx, tx, ev.SenderKey, ev.Session, now, true); err != nil {
		return fail(err)
	}
	if err := m.rememberOlm(ctx, tx, oc); err != nil {
		return fail(err)
	}
	if ev.NewSession {
		if err := m.saveAccount(ctx, tx, acct); err != nil {
			return fail(err)
		}
	}
	out := &res.out
	out.Type, out.Encrypted, out.SenderKey = ev.Type, true, ev.SenderKey
	if dev != nil {
		out.SenderDevice = dev.Keys.DeviceID
	} else if ev.SenderDeviceKeys != nil {
		out.SenderDevice = ev.SenderDeviceKeys.DeviceID
	}
	// What the event carries may be refused (a room key that contradicts a stored
	// one, a forwarded key from an untrusted device); the Olm session still advanced
	// and is committed, so the peer's next messages decrypt.
	consumed, err := m.handleOlmEvent(ctx, tx, ev, dev)
	var d *dropped
	if errors.As(err, &d) {
		out.Err = d.err
	} else if err != nil {
		return fail(err)
	}
	if !consumed {
		out.Content = append(json.RawMessage(nil), ev.SecretContent()...)
	}
	return res
}

// afterOlm completes an Olm event after its transaction ended with res.err: a message
// delivered again is reported as ErrDuplicate, one that no session decrypts from a known
// device starts wedged-session recovery.
func (m *Machine) afterOlm(ctx context.Context, r rawToDevice, oc *event.OlmContent, res olmResult) (ToDeviceEvent, error) {
	out, err := res.out, res.err
	if err != nil {
		if ctx.Err() != nil {
			return out, err
		}
		out.Err = err
		if m.seenOlm(ctx, oc) {
			// The server delivered a message again: not a wedged session.
			out.Err = fmt.Errorf("%w: %w", ErrDuplicate, err)
			return out, nil
		}
		if res.knownDevice && (errors.Is(err, event.ErrNoSession) || errors.Is(err, event.ErrAuthentication)) {
			if werr := m.markWedged(ctx, r.Sender, oc.SenderKey); werr != nil {
				return out, werr
			}
		}
		return out, nil
	}
	// Verification events are handled after their Olm session was committed.
	if isVerificationType(out.Type) && out.Content != nil {
		out.Err, out.Content = m.receiveVerification(ctx, out.Type, r.Sender, out.SenderDevice, out.Content), nil
	}
	return out, nil
}

// ErrDuplicate reports a to-device Olm message that was decrypted before (the server delivered
// it again). It is dropped, and does not count as a wedged session.
var ErrDuplicate = errors.New("machine: Olm message received before")

// seenOlmLimit is how many hashes of decrypted Olm messages each of seenLedger's 64 buckets
// remembers to recognise a second delivery (mautrix-go de-duplicates Olm messages by hash too):
// the last 4,096 messages in all.
const seenOlmLimit = 64

func olmHash(m *Machine, oc *event.OlmContent) (string, bool) {
	msg, ok := oc.Ciphertext[m.curve.String()]
	if !ok {
		return "", false
	}
	h := sha256.Sum256(msg.Body)
	return base64.RawStdEncoding.EncodeToString(h[:16]), true
}

// rememberOlm records the hash of a decrypted Olm message.
func (m *Machine) rememberOlm(ctx context.Context, tx store.Tx, oc *event.OlmContent) error {
	h, ok := olmHash(m, oc)
	if !ok {
		return nil
	}
	return seenLedger.put(ctx, tx, h, nil, m.clock())
}

// seenOlm reports whether an Olm message was decrypted before.
func (m *Machine) seenOlm(ctx context.Context, oc *event.OlmContent) bool {
	h, ok := olmHash(m, oc)
	if !ok {
		return false
	}
	seen := false
	_ = m.st.View(ctx, m.owner, func(tx store.Tx) error {
		_, seen, _ = seenLedger.get(ctx, tx, h, m.clock())
		return nil
	})
	return seen
}

// wedgeInterval is how often at most a new session is started with a device whose session
// fails to decrypt (matrix-sdk-crypto and mautrix-go rate-limit this too).
const wedgeInterval = time.Hour

// markWedged starts wedged-session recovery with a device: a fresh one-time key is claimed, a
// new session created, and an m.dummy sent over it, so the peer starts using the new session.
func (m *Machine) markWedged(ctx context.Context, user string, curve key.Curve25519) error {
	return m.update(ctx, func(tx store.Tx) error {
		now := m.clock()
		if _, recent, err := wedgedLedger.get(ctx, tx, curve.String(), now); err != nil || recent {
			return err
		}
		dev, err := m.deviceByCurve(ctx, tx, user, curve.String())
		if err != nil || dev == nil {
			return err
		}
		if err := wedgedLedger.put(ctx, tx, curve.String(), nil, now); err != nil {
			return err
		}
		if err := dummyLedger.put(ctx, tx, curve.String(), nil, now); err != nil {
			return err
		}
		m.log.Info("machine: Olm session wedged, claiming a new one", "user", user, "device", dev.Keys.DeviceID)
		return m.queue(ctx, tx, KindKeysClaim, "", keysClaim{OneTimeKeys: map[string]map[string]string{
			user: {dev.Keys.DeviceID: signedCurve25519}}})
	})
}

// handleOlmEvent stores what a key-sharing event carries, inside the decrypting transaction.
func (m *Machine) handleOlmEvent(ctx context.Context, tx store.Tx, ev *event.OlmEvent, dev *Device) (bool, error) {
	switch ev.Type {
	case typeDummy:
		return true, nil
	case typeRoomKey:
		rk, err := event.RoomKeyFromEvent(ev)
		if err != nil {
			return true, drop(err)
		}
		s, err := rk.InboundSession()
		if err != nil {
			return true, drop(err)
		}
		return true, m.storeInbound(ctx, tx, rk.Info, s)
	case typeRoomKeyWithheld:
		w, err := event.WithheldFromEvent(ev)
		if err != nil {
			return true, drop(err)
		}
		return true, m.storeWithheld(ctx, tx, w, true)
	case typeForwardedKey:
		// Accepted only from our own devices that we verified (spec "Key requests":
		// https://spec.matrix.org/v1.19/client-server-api/#key-requests).
		// Cross-signed counts only under a master key we trust (ownDeviceTrusted).
		trusted := false
		if ev.Sender == m.owner.UserID {
			ok, err := m.ownDeviceTrusted(ctx, tx, dev)
			if err != nil {
				return true, err
			}
			trusted = ok
		}
		if !trusted {
			return true, drop(fmt.Errorf("machine: forwarded room key from %s: %w", ev.Sender, ErrUntrustedForwarder))
		}
		fk, err := event.ForwardedRoomKeyFromEvent(ev)
		if err != nil {
			return true, drop(err)
		}
		s, err := fk.Session.InboundSession()
		if err != nil {
			return true, drop(err)
		}
		return true, m.storeInbound(ctx, tx, fk.Info, s)
	case typeSecretSend: // secrets.go
		return true, m.receiveSecretSend(ctx, tx, ev, dev)
	}
	return false, nil
}

// dropped wraps the reason an event's payload is refused while its Olm message is accepted.
type dropped struct{ err error }

func (d *dropped) Error() string { return d.err.Error() }

func drop(err error) error { return &dropped{err} }

// ErrUntrustedForwarder reports an m.forwarded_room_key from a device other than our own
// verified ones: it is dropped.
var ErrUntrustedForwarder = errors.New("machine: forwarded room key not from our own verified device")

// storeInbound stores an inbound Megolm session, merging it with a stored copy when
// event.CompareRoomKey allows it.
func (m *Machine) storeInbound(ctx context.Context, tx store.Tx, info event.SessionInfo, s *megolm.InboundSession) error {
	old, err := tx.InboundGroupSession(ctx, info.RoomID, info.SessionID.String())
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		oldInfo, err := sessionInfo(old)
		if err != nil {
			return err
		}
		oldSess, err := megolm.UnpickleInboundSession(&m.pickleKey, string(old.State))
		if err != nil {
			return err
		}
		merge, err := event.CompareRoomKey(oldInfo, oldSess, info, s)
		if err != nil {
			return drop(err)
		}
		if !merge {
			return nil
		}
		merged, err := oldSess.Merge(s)
		if err != nil {
			return drop(err)
		}
		// The merged session says where it came from by its weakest part: a copy
		// received over Olm vouches only for the indices from its own first one on, so
		// when the other copy extends the session to earlier indices, the merged
		// session takes that copy's provenance (forwarded, backup, export).
		better, betterSess, worse := oldInfo, oldSess, info
		if info.Provenance < oldInfo.Provenance {
			better, betterSess, worse = info, s, oldInfo
		}
		info = better
		if merged.FirstKnownIndex() < betterSess.FirstKnownIndex() {
			info = worse
		}
		s = merged
	}
	p, err := s.Pickle(&m.pickleKey)
	if err != nil {
		return err
	}
	chain := make([]string, len(info.ForwardingChain))
	for i, k := range info.ForwardingChain {
		chain[i] = k.String()
	}
	if err := indexRoomSession(ctx, tx, info.RoomID, info.SessionID.String()); err != nil {
		return err
	}
	return tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{
		RoomID: info.RoomID, SessionID: info.SessionID.String(), SenderUser: info.Sender,
		SenderKey: info.SenderKey.String(), SigningKey: info.ClaimedEd25519.String(),
		Provenance: store.Provenance(info.Provenance), ForwardingChain: chain,
		SharedHistory: info.SharedHistory, FirstKnownIndex: s.FirstKnownIndex(), State: store.Secret(p),
	})
}

// sessionInfo rebuilds the event layer's SessionInfo from a stored session.
func sessionInfo(r *store.InboundGroupSession) (event.SessionInfo, error) {
	info := event.SessionInfo{RoomID: r.RoomID, Sender: r.SenderUser, Provenance: event.Provenance(r.Provenance),
		SharedHistory: r.SharedHistory}
	var err error
	if info.SessionID, err = key.ParseEd25519(r.SessionID); err != nil {
		return info, fmt.Errorf("machine: stored session id: %w", store.ErrCorrupt)
	}
	if info.SenderKey, err = key.ParseCurve25519(r.SenderKey); err != nil {
		return info, fmt.Errorf("machine: stored sender key: %w", store.ErrCorrupt)
	}
	if info.ClaimedEd25519, err = key.ParseEd25519(r.SigningKey); err != nil {
		return info, fmt.Errorf("machine: stored signing key: %w", store.ErrCorrupt)
	}
	for _, c := range r.ForwardingChain {
		k, err := key.ParseCurve25519(c)
		if err != nil {
			return info, fmt.Errorf("machine: stored forwarding chain: %w", store.ErrCorrupt)
		}
		info.ForwardingChain = append(info.ForwardingChain, k)
	}
	return info, nil
}
