// Package machine is sicher's client layer: one end-to-end encryption machine per device, on a
// store, without network code (the design of matrix-sdk-crypto's OlmMachine,
// crates/matrix-sdk-crypto/src/machine/mod.rs).
//
// The caller owns the network, the clock and the goroutines. It feeds the machine what a /sync
// response says (ReceiveSync), sends the requests the machine asks for (OutgoingRequests) with
// any HTTP client, and hands back the server's responses (MarkRequestSent). Rooms are encrypted
// with ShareRoomKey and EncryptRoomEvent, and decrypted with DecryptRoomEvent, which says who
// sent the event and how far that can be trusted. docs/client.md walks through a bot's loop.
//
// Everything the machine knows lives in its store.Store: the account, Olm and Megolm sessions,
// device lists, replay records and the requests not yet confirmed by the server, so a restart
// loses nothing. Each operation that advances a ratchet is one store transaction (read the
// session, decrypt or encrypt, write the session back, then release the result), so two
// goroutines using one machine, or two machines on one store, never fork a ratchet.
//
// Randomness comes from the io.Reader given to NewFrom (crypto/rand for New) and time from
// Config.Clock. The machine opens no socket and starts no goroutine. A Machine is safe for
// concurrent use.
//
// The spec sections implemented are under "End-to-End Encryption" of the client-server API,
// https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption.
package machine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sicher-go/sicher/internal/machinestate"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// Config describes the device a machine runs for.
type Config struct {
	// UserID and DeviceID name our device. Required.
	UserID, DeviceID string
	// Store keeps the machine's state. Required.
	Store store.Store
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives diagnostics (never secrets); nil discards them.
	Logger *slog.Logger
	// SessionCacheSize is how many decoded inbound Megolm sessions the machine keeps in
	// memory (they are secret, as the store's are): zero means DefaultSessionCacheSize, a
	// negative number turns the cache off. A cached session is used only while the store
	// holds the exact record it was decoded from, so machines sharing a store stay correct.
	SessionCacheSize int
}

// Machine is the end-to-end encryption state machine of one device. It is safe for concurrent
// use.
type Machine struct {
	owner     store.Owner
	st        store.Store
	clock     func() time.Time
	log       *slog.Logger
	rand      io.Reader
	randMu    *sync.Mutex
	pickleKey [olm.PickleKeySize]byte
	curve     key.Curve25519
	ed        key.Ed25519
	sessions  *sessionCache // nil when off
	checked   *deviceCache
}

// Errors a caller branches on.
var (
	// ErrConfig reports a Config without a required field.
	ErrConfig = errors.New("machine: incomplete config")
	// ErrUnknownRequest reports a MarkRequestSent for a request id the machine does not have
	// (sent twice, or never made).
	ErrUnknownRequest = errors.New("machine: unknown request id")
	// ErrMalformedResponse reports a server response that is not the spec's JSON.
	ErrMalformedResponse = errors.New("machine: malformed server response")
	// ErrRoomKeyNotShared reports an EncryptRoomEvent before ShareRoomKey, or after the
	// room's session must rotate.
	ErrRoomKeyNotShared = errors.New("machine: room key not shared, call ShareRoomKey first")
	// ErrDevicesOutdated reports a ShareRoomKey for a member whose device list is not tracked
	// or not current: send the keys query first.
	ErrDevicesOutdated = errors.New("machine: device list of a room member is not current")
)

const pickleKeySecret = machinestate.PickleKeySecret

// New creates or loads the machine of cfg's device, reading randomness from crypto/rand. A
// Config without UserID, DeviceID or Store gives ErrConfig.
func New(ctx context.Context, cfg Config) (*Machine, error) {
	return NewFrom(ctx, nil, cfg)
}

// NewFrom is New with the machine's randomness (keys, session ratchets, transaction ids) read
// from rand; nil means crypto/rand. The first call for a device creates its Olm account and a
// random 32-byte pickle key, kept as a store secret; later calls load them. Our own user is
// tracked from the start.
func NewFrom(ctx context.Context, rnd io.Reader, cfg Config) (*Machine, error) {
	if cfg.UserID == "" || cfg.DeviceID == "" || cfg.Store == nil {
		return nil, ErrConfig
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	m := &Machine{
		owner: store.Owner{UserID: cfg.UserID, DeviceID: cfg.DeviceID},
		st:    cfg.Store, clock: cfg.Clock, log: cfg.Logger, rand: rnd, randMu: new(sync.Mutex),
		checked: new(deviceCache),
	}
	switch {
	case cfg.SessionCacheSize == 0:
		m.sessions = newSessionCache(DefaultSessionCacheSize)
	case cfg.SessionCacheSize > 0:
		m.sessions = newSessionCache(cfg.SessionCacheSize)
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	err := m.st.Update(ctx, m.owner, func(tx store.Tx) error {
		pk, err := tx.Secret(ctx, pickleKeySecret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			pk = make(store.Secret, olm.PickleKeySize)
			if _, err := io.ReadFull(m.randReader(), pk); err != nil {
				return fmt.Errorf("machine: reading randomness: %w", err)
			}
			if err := tx.PutSecret(ctx, pickleKeySecret, pk); err != nil {
				return err
			}
		case err != nil:
			return err
		case len(pk) != olm.PickleKeySize:
			return fmt.Errorf("machine: pickle key has %d bytes: %w", len(pk), store.ErrCorrupt)
		}
		copy(m.pickleKey[:], pk)
		acct, err := m.loadAccount(ctx, tx)
		if errors.Is(err, store.ErrNotFound) {
			acct, err = olm.NewAccountFrom(m.randReader())
			if err == nil {
				err = m.saveAccount(ctx, tx, acct)
			}
		}
		if err != nil {
			return err
		}
		m.curve, m.ed = acct.Curve25519(), acct.Ed25519()
		// Our own devices are always tracked: they receive our room keys.
		if _, err := tx.TrackedUser(ctx, m.owner.UserID); errors.Is(err, store.ErrNotFound) {
			return tx.PutTrackedUser(ctx, &store.TrackedUser{UserID: m.owner.UserID, Outdated: true})
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// UserID returns our user id.
func (m *Machine) UserID() string { return m.owner.UserID }

// DeviceID returns our device id.
func (m *Machine) DeviceID() string { return m.owner.DeviceID }

// IdentityKeys returns our device's Curve25519 and Ed25519 identity keys (public).
func (m *Machine) IdentityKeys() (key.Curve25519, key.Ed25519) { return m.curve, m.ed }

// randReader returns a reader that serialises reads of the machine's randomness, so that
// concurrent calls can share one io.Reader.
func (m *Machine) randReader() io.Reader { return lockedReader{m} }

type lockedReader struct{ m *Machine }

func (r lockedReader) Read(p []byte) (int, error) {
	r.m.randMu.Lock()
	defer r.m.randMu.Unlock()
	return r.m.rand.Read(p)
}

// newID returns a random request or transaction id.
func (m *Machine) newID() (string, error) {
	var b [12]byte
	if _, err := io.ReadFull(m.randReader(), b[:]); err != nil {
		return "", fmt.Errorf("machine: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (m *Machine) loadAccount(ctx context.Context, tx store.Tx) (*olm.Account, error) {
	p, err := tx.Account(ctx)
	if err != nil {
		return nil, err
	}
	return olm.UnpickleAccount(&m.pickleKey, string(p))
}

func (m *Machine) saveAccount(ctx context.Context, tx store.Tx, a *olm.Account) error {
	p, err := a.Pickle(&m.pickleKey)
	if err != nil {
		return err
	}
	return tx.PutAccount(ctx, store.Secret(p))
}

func (m *Machine) update(ctx context.Context, fn func(store.Tx) error) error {
	return m.st.Update(ctx, m.owner, fn)
}

// ownDeviceKeys returns our signed device keys.
func (m *Machine) ownDeviceKeys(acct *olm.Account) (*signing.DeviceKeys, error) {
	return signing.AccountDeviceKeys(acct, m.owner.UserID, m.owner.DeviceID, nil)
}

// Format prints the device the machine runs for, never its pickle key.
func (m Machine) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "machine.Machine{%s %s}", m.owner.UserID, m.owner.DeviceID)
}

// LogValue logs the device the machine runs for, never its pickle key.
func (m Machine) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_id", m.owner.UserID), slog.String("device_id", m.owner.DeviceID))
}
