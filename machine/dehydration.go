package machine

// Dehydrated devices (MSC3814 "Dehydrated devices with SSSS", as revised with algorithm
// m.dehydration.v2; https://github.com/matrix-org/matrix-spec-proposals/pull/3814): a device
// whose Olm account is stored encrypted on the server, so that room keys sent while no device
// of ours is logged in are kept for the next login. The pickle is package olm's
// (Account.Dehydrate, Rehydrate: vodozemac's format). The endpoints are the unstable ones that
// Synapse and matrix-sdk-crypto use; the events endpoint is POST with next_batch in the body
// (ruma's dehydrated_device/get_events, Synapse's DehydratedDeviceEventsServlet).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

const dehydratedBase = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device"

// Names in the store.
const (
	// secretDehydrationKey is the 32-byte dehydration key, named as the secret-storage
	// secret m.dehydrated_device. It is kept in the store's secrets: the machine has no
	// secret storage of its own; the application copies it into secret storage
	// (DehydrationKey) and, after a new login, back (SetDehydrationKey).
	secretDehydrationKey = "m.dehydrated_device"
	// secretRehydrated is the rehydration in progress: the account and its Olm sessions.
	secretRehydrated = "sicher.machine.rehydrated"
	// valueDehydratedID is the device id of our current dehydrated device.
	valueDehydratedID = "sicher.machine.dehydrated_device_id"
	// valueRehydration is the RehydrationResult of the last rehydration.
	valueRehydration = "sicher.machine.rehydration"
	// valueViaDehydrated + room|session marks a session received by the dehydrated device.
	valueViaDehydrated = "sicher.machine.via_dehydrated:"
)

// Errors of dehydrated devices.
var (
	// ErrNoDehydrationKey reports a dehydrated-device operation before the machine has a
	// dehydration key (SetDehydrationKey).
	ErrNoDehydrationKey = errors.New("machine: no dehydration key")
	// ErrDehydrationKey reports a dehydrated device that the dehydration key does not open
	// (a wrong key, or data changed on the server). Nothing is rehydrated.
	ErrDehydrationKey = errors.New("machine: the dehydration key does not open the dehydrated device")
)

func dehydratedPath(kind RequestKind, p requestParams) (method, path string) {
	switch kind {
	case KindDehydratedDevicePut:
		return "PUT", dehydratedBase
	case KindDehydratedDeviceGet:
		return "GET", dehydratedBase
	case KindDehydratedDeviceEvents:
		return "POST", dehydratedBase + "/" + url.PathEscape(p.DeviceID) + "/events"
	default:
		return "DELETE", dehydratedBase
	}
}

// SetDehydrationKey stores the dehydration key (secret; the m.dehydrated_device secret of
// secret storage) that CreateDehydratedDevice encrypts with and RehydrateDevice decrypts with.
func (m *Machine) SetDehydrationKey(ctx context.Context, k *[32]byte) error {
	return m.update(ctx, func(tx store.Tx) error {
		return tx.PutSecret(ctx, secretDehydrationKey, store.Secret(k[:]))
	})
}

// DehydrationKey returns the dehydration key (secret), for the application to keep in secret
// storage as m.dehydrated_device. Errors: ErrNoDehydrationKey.
func (m *Machine) DehydrationKey(ctx context.Context) (*[32]byte, error) {
	var k *[32]byte
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		var err error
		k, err = dehydrationKey(ctx, tx)
		return err
	})
	return k, err
}

func dehydrationKey(ctx context.Context, tx store.Tx) (*[32]byte, error) {
	b, err := tx.Secret(ctx, secretDehydrationKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoDehydrationKey
	}
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("machine: dehydration key has %d bytes: %w", len(b), store.ErrCorrupt)
	}
	return (*[32]byte)(b), nil
}

// CreateDehydratedDevice creates a new dehydrated device and queues the request that stores it
// on the server (replacing the previous one, which rotates it). The device gets a fresh Olm
// account with 50 one-time keys and a fallback key, signed device keys marked "dehydrated"
// (cross-signed too when the store holds our self-signing key), and its device id is the
// unpadded base64 of its Curve25519 key, as MSC3814 asks. Without a dehydration key one is
// generated and kept (DehydrationKey). It returns the new device id.
func (m *Machine) CreateDehydratedDevice(ctx context.Context) (string, error) {
	var id string
	err := m.update(ctx, func(tx store.Tx) error {
		if _, err := dehydrationKey(ctx, tx); errors.Is(err, ErrNoDehydrationKey) {
			k := make(store.Secret, 32)
			if _, err := io.ReadFull(m.randReader(), k); err != nil {
				return fmt.Errorf("machine: reading randomness: %w", err)
			}
			if err := tx.PutSecret(ctx, secretDehydrationKey, k); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		var err error
		id, err = m.queueDehydratedDevice(ctx, tx)
		return err
	})
	return id, err
}

func (m *Machine) queueDehydratedDevice(ctx context.Context, tx store.Tx) (string, error) {
	k, err := dehydrationKey(ctx, tx)
	if err != nil {
		return "", err
	}
	acct, err := olm.NewAccountFrom(m.randReader())
	if err != nil {
		return "", err
	}
	if _, _, err := acct.GenerateOneTimeKeysFrom(m.randReader(), oneTimeKeyTarget); err != nil {
		return "", err
	}
	if _, err := acct.GenerateFallbackKeyFrom(m.randReader()); err != nil {
		return "", err
	}
	dd, err := acct.Dehydrate(k)
	if err != nil {
		return "", err
	}
	id := acct.Curve25519().String()
	up, err := event.KeysForUpload(acct, m.owner.UserID, id, nil)
	if err != nil {
		return "", err
	}
	dk, err := m.dehydratedDeviceKeys(ctx, tx, acct, id)
	if err != nil {
		return "", err
	}
	body := map[string]any{"device_id": id, "device_data": dd, "initial_device_display_name": "Dehydrated device",
		"device_keys": json.RawMessage(dk), "one_time_keys": up.OneTimeKeys, "fallback_keys": up.FallbackKeys}
	return id, m.queueWith(ctx, tx, KindDehydratedDevicePut, requestParams{}, body)
}

// dehydratedDeviceKeys returns the device keys of a dehydrated device: "dehydrated": true,
// signed by the device and, if we hold it, by our self-signing key.
func (m *Machine) dehydratedDeviceKeys(ctx context.Context, tx store.Tx, acct *olm.Account, id string) ([]byte, error) {
	obj, err := signing.Marshal(map[string]any{
		"user_id": m.owner.UserID, "device_id": id, "dehydrated": true,
		"algorithms": []string{signing.AlgorithmOlm, signing.AlgorithmMegolm},
		"keys":       map[string]string{"curve25519:" + id: acct.Curve25519().String(), "ed25519:" + id: acct.Ed25519().String()},
	})
	if err != nil {
		return nil, err
	}
	if obj, err = signing.Sign(obj, m.owner.UserID, id, acct); err != nil {
		return nil, err
	}
	ident, _, err := m.loadIdentity(ctx, tx, m.owner.UserID)
	if err != nil {
		return nil, err
	}
	ssk, err := m.crossSigningKey(ctx, tx, crossSigningSelf, ident.SelfSigning)
	switch {
	case errors.Is(err, ErrNoCrossSigning):
		m.log.Info("machine: dehydrated device not cross-signed", "reason", err)
		return obj, nil
	case err != nil:
		return nil, err
	}
	return signing.Sign(obj, m.owner.UserID, ssk.Public().String(), ssk)
}

// RehydrateDevice starts the rehydration of a new login (spec of MSC3814): it queues the
// request for our dehydrated device. When the response comes back (MarkRequestSent), the
// machine decrypts the device with the dehydration key, fetches its to-device events page by
// page, stores the room keys they carry as our sessions (EncryptionInfo.ViaDehydratedDevice),
// then deletes the device and creates a fresh one. RehydrationResult says what happened.
// Errors: ErrNoDehydrationKey.
func (m *Machine) RehydrateDevice(ctx context.Context) error {
	return m.update(ctx, func(tx store.Tx) error {
		if _, err := dehydrationKey(ctx, tx); err != nil {
			return err
		}
		return m.queueWith(ctx, tx, KindDehydratedDeviceGet, requestParams{}, nil)
	})
}

// RehydrationResult says what the last rehydration did. Nothing in it is secret.
type RehydrationResult struct {
	DeviceID string `json:"device_id"`
	// Pages counts the event pages fetched, Events the to-device events in them, RoomKeys
	// the room keys stored, and Failed the events that did not decrypt or were refused.
	Pages    int  `json:"pages"`
	Events   int  `json:"events"`
	RoomKeys int  `json:"room_keys"`
	Failed   int  `json:"failed"`
	Done     bool `json:"done"`
}

// Rehydration returns the state of the last rehydration; nil if there was none.
func (m *Machine) Rehydration(ctx context.Context) (*RehydrationResult, error) {
	var res *RehydrationResult
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		b, err := tx.Value(ctx, valueRehydration)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		res = new(RehydrationResult)
		return json.Unmarshal(b, res)
	})
	return res, err
}

// rehydrated is the rehydration in progress, kept as a store secret: the account and the
// Olm sessions the device's events started (pickles under the machine's pickle key).
type rehydrated struct {
	Account  string              `json:"account"`
	Sessions map[string][]string `json:"sessions"`
	Result   RehydrationResult   `json:"result"`
}

// dehydratedDeviceSent handles the response to a dehydrated-device request. An error for the
// caller that must not roll back the transaction (the request is removed) is returned first.
func (m *Machine) dehydratedDeviceSent(ctx context.Context, tx store.Tx, r Request, response []byte) (error, error) {
	switch r.Kind {
	case KindDehydratedDevicePut:
		var resp struct {
			DeviceID string `json:"device_id"`
		}
		if err := decodeStrict(response, &resp); err != nil {
			return nil, err
		}
		return nil, tx.PutValue(ctx, valueDehydratedID, []byte(resp.DeviceID))
	case KindDehydratedDeviceGet:
		return m.receiveDehydratedDevice(ctx, tx, response)
	case KindDehydratedDeviceEvents:
		return nil, m.receiveDehydratedEvents(ctx, tx, r.DeviceID, response)
	default: // KindDehydratedDeviceDelete: the old device is gone; make the next one.
		if _, err := dehydrationKey(ctx, tx); errors.Is(err, ErrNoDehydrationKey) {
			return nil, nil
		}
		_, err := m.queueDehydratedDevice(ctx, tx)
		return nil, err
	}
}

func (m *Machine) receiveDehydratedDevice(ctx context.Context, tx store.Tx, response []byte) (error, error) {
	var resp struct {
		DeviceID   string                `json:"device_id"`
		DeviceData *olm.DehydratedDevice `json:"device_data"`
	}
	if err := decodeStrict(response, &resp); err != nil {
		return nil, err
	}
	if resp.DeviceID == "" || resp.DeviceData == nil {
		// No dehydrated device on the server: make one.
		_, err := m.queueDehydratedDevice(ctx, tx)
		return nil, err
	}
	k, err := dehydrationKey(ctx, tx)
	if err != nil {
		return nil, err
	}
	acct, err := olm.Rehydrate(k, resp.DeviceData)
	if err != nil {
		m.log.Warn("machine: dehydrated device does not open with our key", "device", resp.DeviceID)
		return fmt.Errorf("%w: %w", ErrDehydrationKey, err), nil
	}
	p, err := acct.Pickle(&m.pickleKey)
	if err != nil {
		return nil, err
	}
	st := &rehydrated{Account: p, Sessions: map[string][]string{}, Result: RehydrationResult{DeviceID: resp.DeviceID}}
	if err := m.saveRehydrated(ctx, tx, st); err != nil {
		return nil, err
	}
	return nil, m.queueWith(ctx, tx, KindDehydratedDeviceEvents, requestParams{DeviceID: resp.DeviceID}, struct{}{})
}

func (m *Machine) saveRehydrated(ctx context.Context, tx store.Tx, st *rehydrated) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	r, _ := json.Marshal(st.Result)
	if err := tx.PutValue(ctx, valueRehydration, r); err != nil {
		return err
	}
	return tx.PutSecret(ctx, secretRehydrated, b)
}

// maxDehydratedPage bounds the events of one page that are processed.
const maxDehydratedPage = 10000

func (m *Machine) receiveDehydratedEvents(ctx context.Context, tx store.Tx, deviceID string, response []byte) error {
	var resp struct {
		Events    []json.RawMessage `json:"events"`
		NextBatch string            `json:"next_batch"`
	}
	if err := decodeStrict(response, &resp); err != nil {
		return err
	}
	if len(resp.Events) > maxDehydratedPage {
		return fmt.Errorf("%w: %d events in one page", ErrMalformedResponse, len(resp.Events))
	}
	b, err := tx.Secret(ctx, secretRehydrated)
	if errors.Is(err, store.ErrNotFound) {
		return nil // an answer to an old request: the rehydration finished already
	}
	if err != nil {
		return err
	}
	var st rehydrated
	if err := json.Unmarshal(b, &st); err != nil || st.Result.DeviceID != deviceID {
		return nil
	}
	acct, err := olm.UnpickleAccount(&m.pickleKey, st.Account)
	if err != nil {
		return fmt.Errorf("machine: rehydrated account: %w", err)
	}
	st.Result.Pages++
	for _, raw := range resp.Events {
		st.Result.Events++
		ok, err := m.rehydratedEvent(ctx, tx, acct, &st, raw)
		if err != nil {
			return err
		}
		if !ok {
			st.Result.Failed++
		}
	}
	if len(resp.Events) == 0 {
		// The device has no more events: delete it; a fresh one follows.
		st.Result.Done = true
		r, _ := json.Marshal(st.Result)
		if err := tx.PutValue(ctx, valueRehydration, r); err != nil {
			return err
		}
		if err := tx.DeleteSecret(ctx, secretRehydrated); err != nil {
			return err
		}
		m.log.Info("machine: rehydrated the dehydrated device", "device", deviceID, "events", st.Result.Events,
			"room_keys", st.Result.RoomKeys, "failed", st.Result.Failed)
		return m.queueWith(ctx, tx, KindDehydratedDeviceDelete, requestParams{}, nil)
	}
	p, err := acct.Pickle(&m.pickleKey)
	if err != nil {
		return err
	}
	st.Account = p
	if err := m.saveRehydrated(ctx, tx, &st); err != nil {
		return err
	}
	return m.queueWith(ctx, tx, KindDehydratedDeviceEvents, requestParams{DeviceID: deviceID},
		map[string]string{"next_batch": resp.NextBatch})
}

// rehydratedEvent decrypts one event of the dehydrated device with its account and stores what
// it carries; false means it was skipped (not Olm, did not decrypt, refused).
func (m *Machine) rehydratedEvent(ctx context.Context, tx store.Tx, acct *olm.Account, st *rehydrated, raw json.RawMessage) (bool, error) {
	var r rawToDevice
	if err := jsonstrict.Unmarshal(raw, &r); err != nil || r.Type != typeEncrypted || r.Sender == "" {
		return false, nil
	}
	oc, err := event.ParseOlmContent(r.Content)
	if err != nil {
		return false, nil
	}
	peer := oc.SenderKey.String()
	var sessions []*olm.Session
	for _, p := range st.Sessions[peer] {
		s, err := olm.UnpickleSession(&m.pickleKey, p)
		if err != nil {
			return false, fmt.Errorf("machine: rehydrated Olm session: %w", err)
		}
		sessions = append(sessions, s)
	}
	dev, err := m.deviceByCurve(ctx, tx, r.Sender, peer)
	if err != nil {
		return false, err
	}
	p := event.OlmDecryptParams{Sender: r.Sender, OwnUserID: m.owner.UserID, Sessions: sessions, SessionsComplete: true}
	if dev != nil {
		p.SenderDevice = dev.Keys
	}
	ev, err := event.DecryptOlm(acct, r.Content, p)
	if err != nil {
		m.log.Info("machine: event of the dehydrated device does not decrypt", "sender", r.Sender, "err", err)
		return false, nil
	}
	if ev.NewSession {
		sessions = append([]*olm.Session{ev.Session}, sessions...)
	}
	pickles := make([]string, 0, len(sessions))
	for _, s := range sessions {
		p, err := s.Pickle(&m.pickleKey)
		if err != nil {
			return false, err
		}
		pickles = append(pickles, p)
	}
	st.Sessions[peer] = pickles
	switch ev.Type {
	case typeRoomKey:
		rk, err := event.RoomKeyFromEvent(ev)
		if err != nil {
			return false, nil
		}
		s, err := rk.InboundSession()
		if err != nil {
			return false, nil
		}
		err = m.storeInbound(ctx, tx, rk.Info, s)
		var d *dropped
		if errors.As(err, &d) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		st.Result.RoomKeys++
		return true, tx.PutValue(ctx, valueViaDehydrated+rk.Info.RoomID+"|"+rk.Info.SessionID.String(), []byte("1"))
	case typeRoomKeyWithheld:
		w, err := event.WithheldFromEvent(ev)
		if err != nil {
			return false, nil
		}
		return true, m.storeWithheld(ctx, tx, w, true)
	}
	// Other events sent to the dehydrated device (forwarded keys, verification) are not for
	// a device that was offline: they are dropped.
	return false, nil
}
