package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// claimBatch is the largest number of devices in one /keys/claim request.
const claimBatch = 100

// claimRetry is how long a device that had no one-time key to claim is left out of claims.
const claimRetry = time.Hour

// GetMissingSessions queues /keys/claim requests (in batches) for the devices of users that
// have no Olm session with us, and reports whether it queued any. Query the users' devices
// first (UpdateTrackedUsers, then the keys query of OutgoingRequests). Devices already in a
// queued claim are left out, and devices that had no key to claim are not claimed again for an
// hour.
func (m *Machine) GetMissingSessions(ctx context.Context, users []string) (bool, error) {
	queued := false
	err := m.update(ctx, func(tx store.Tx) error {
		now := m.clock()
		claim := keysClaim{OneTimeKeys: map[string]map[string]string{}}
		n := 0
		flush := func() error {
			if n == 0 {
				return nil
			}
			queued = true
			err := m.queue(ctx, tx, KindKeysClaim, "", claim)
			claim, n = keysClaim{OneTimeKeys: map[string]map[string]string{}}, 0
			return err
		}
		pending, err := pendingClaims(ctx, tx)
		if err != nil {
			return err
		}
		for _, u := range users {
			devs, err := m.devices(ctx, tx, u)
			if err != nil {
				return err
			}
			for _, d := range devs {
				if u == m.owner.UserID && d.Keys.DeviceID == m.owner.DeviceID {
					continue
				}
				ss, err := tx.OlmSessions(ctx, d.Keys.Curve25519.String())
				if err != nil {
					return err
				}
				if len(ss) > 0 || pending[u+"|"+d.Keys.DeviceID] {
					continue
				}
				if _, recent, err := claimLedger.get(ctx, tx, u+"|"+d.Keys.DeviceID, now); err != nil {
					return err
				} else if recent {
					continue
				}
				if claim.OneTimeKeys[u] == nil {
					claim.OneTimeKeys[u] = map[string]string{}
				}
				claim.OneTimeKeys[u][d.Keys.DeviceID] = signedCurve25519
				if n++; n == claimBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		return flush()
	})
	return queued, err
}

// pendingClaims returns the devices that a queued /keys/claim asks for.
func pendingClaims(ctx context.Context, tx store.Tx) (map[string]bool, error) {
	reqs, err := tx.OutgoingRequests(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range reqs {
		if r.Type != string(KindKeysClaim) {
			continue
		}
		var c keysClaim
		if err := json.Unmarshal(r.Body, &c); err != nil {
			return nil, fmt.Errorf("machine: stored request %s: %w", r.ID, store.ErrCorrupt)
		}
		for u, devs := range c.OneTimeKeys {
			for d := range devs {
				out[u+"|"+d] = true
			}
		}
	}
	return out, nil
}

func timeValue(ctx context.Context, tx store.Tx, name string) (time.Time, bool) {
	b, err := tx.Value(ctx, name)
	if err != nil {
		return time.Time{}, false
	}
	var ms int64
	if _, err := fmt.Sscan(string(b), &ms); err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

func putTime(ctx context.Context, tx store.Tx, name string, t time.Time) error {
	return tx.PutValue(ctx, name, fmt.Appendf(nil, "%d", t.UnixMilli()))
}

type claimResponse struct {
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
	Failures    map[string]json.RawMessage                       `json:"failures"`
}

// receiveClaim creates outbound Olm sessions from a /keys/claim response. Each key must be
// signed by the device we asked for (its Ed25519 key from a verified /keys/query). A device
// marked wedged gets an m.dummy over its new session.
func (m *Machine) receiveClaim(ctx context.Context, tx store.Tx, reqBody, response []byte) ([]string, error) {
	var req keysClaim
	if err := json.Unmarshal(reqBody, &req); err != nil {
		return nil, err
	}
	var resp claimResponse
	if err := decodeStrict(response, &resp); err != nil {
		return nil, err
	}
	acct, err := m.loadAccount(ctx, tx)
	if err != nil {
		return nil, err
	}
	now := m.clock()
	var dummies []*Device
	var wedged []string
	for _, user := range sortedKeys(req.OneTimeKeys) {
		devs, err := m.devices(ctx, tx, user)
		if err != nil {
			return nil, err
		}
		for _, devID := range sortedKeys(req.OneTimeKeys[user]) {
			var dev *Device
			for i := range devs {
				if devs[i].Keys.DeviceID == devID {
					dev = &devs[i]
				}
			}
			if dev == nil {
				continue
			}
			keys := resp.OneTimeKeys[user][devID]
			var sk *signing.SignedKey
			for _, kid := range sortedKeys(keys) {
				sk, err = signing.VerifySignedKey(keys[kid], user, devID, dev.Keys.Ed25519)
				if err == nil {
					break
				}
				m.log.Warn("machine: claimed key does not verify", "user", user, "device", devID, "err", err)
			}
			if sk == nil {
				if err := claimLedger.put(ctx, tx, user+"|"+devID, nil, now); err != nil {
					return nil, err
				}
				continue
			}
			s, err := acct.NewOutboundSessionFrom(m.randReader(), dev.Keys.Curve25519, sk.Key)
			if err != nil {
				m.log.Warn("machine: cannot start an Olm session", "user", user, "device", devID, "err", err)
				continue
			}
			if err := m.putSession(ctx, tx, dev.Keys.Curve25519, s, now, false); err != nil {
				return nil, err
			}
			if _, pending, err := dummyLedger.get(ctx, tx, dev.Keys.Curve25519.String(), now); err != nil {
				return nil, err
			} else if pending {
				dummies = append(dummies, dev)
				wedged = append(wedged, user+"|"+devID)
			}
		}
	}
	for _, d := range dummies {
		if err := dummyLedger.remove(ctx, tx, d.Keys.Curve25519.String(), now); err != nil {
			return nil, err
		}
		msgs, err := m.encryptForDevices(ctx, tx, acct, []*Device{d}, typeDummy, json.RawMessage(`{}`))
		if err != nil {
			return nil, err
		}
		if err := m.queue(ctx, tx, KindToDevice, typeEncrypted, toDeviceBody{msgs}); err != nil {
			return nil, err
		}
	}
	return wedged, nil
}

// putSession stores an Olm session. received says it just decrypted a message.
func (m *Machine) putSession(ctx context.Context, tx store.Tx, peer key.Curve25519, s *olm.Session, now time.Time, received bool) error {
	p, err := s.Pickle(&m.pickleKey)
	if err != nil {
		return err
	}
	rec, err := tx.OlmSession(ctx, peer.String(), s.ID())
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = &store.OlmSession{PeerKey: peer.String(), SessionID: s.ID(), Created: now}
	case err != nil:
		return err
	}
	rec.LastUsed = now
	if received {
		rec.LastReceived = now
	}
	rec.State = store.Secret(p)
	return tx.PutOlmSession(ctx, rec)
}

// sendingSession picks the Olm session to encrypt to a device with: the one that most recently
// received a message (the peer certainly has it), else the most recently created. It returns
// nil if there is none.
func (m *Machine) sendingSession(ctx context.Context, tx store.Tx, peer key.Curve25519) (*olm.Session, error) {
	recs, err := tx.OlmSessions(ctx, peer.String())
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].LastReceived.Equal(recs[j].LastReceived) {
			return recs[i].LastReceived.After(recs[j].LastReceived)
		}
		return recs[i].Created.After(recs[j].Created)
	})
	s, err := olm.UnpickleSession(&m.pickleKey, string(recs[0].State))
	if err != nil {
		return nil, fmt.Errorf("machine: Olm session with %s: %w", peer, err)
	}
	if _, ok := s.PeerIdentityKey(); !ok {
		if err := s.BindPeer(m.curve, peer); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// toDeviceBody is the body of PUT /sendToDevice.
type toDeviceBody struct {
	Messages map[string]map[string]json.RawMessage `json:"messages"`
}

// encryptForDevices Olm-encrypts one event for each device that has a session, writing the
// sessions back, and returns the messages map of a to-device request. Our device keys travel
// along as sender_device_keys (MSC4147).
func (m *Machine) encryptForDevices(ctx context.Context, tx store.Tx, acct *olm.Account, devs []*Device, evType string, content json.RawMessage) (map[string]map[string]json.RawMessage, error) {
	own, err := m.ownDeviceKeys(acct)
	if err != nil {
		return nil, err
	}
	now := m.clock()
	msgs := map[string]map[string]json.RawMessage{}
	for _, d := range devs {
		s, err := m.sendingSession(ctx, tx, d.Keys.Curve25519)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		c, _, err := event.EncryptOlmFrom(m.randReader(), acct, s, event.OlmEncryptParams{
			Sender: m.owner.UserID, Recipient: d.Keys.UserID,
			RecipientEd25519: d.Keys.Ed25519, RecipientCurve25519: d.Keys.Curve25519,
			Type: evType, Content: content, SenderDeviceKeys: own,
		})
		if err != nil {
			return nil, err
		}
		if err := m.putSession(ctx, tx, d.Keys.Curve25519, s, now, false); err != nil {
			return nil, err
		}
		if msgs[d.Keys.UserID] == nil {
			msgs[d.Keys.UserID] = map[string]json.RawMessage{}
		}
		msgs[d.Keys.UserID][d.Keys.DeviceID] = c
	}
	return msgs, nil
}

// Event types the machine sends and handles.
const (
	typeDummy           = "m.dummy"
	typeRoomKey         = "m.room_key"
	typeForwardedKey    = "m.forwarded_room_key"
	typeRoomKeyRequest  = "m.room_key_request"
	typeRoomKeyWithheld = "m.room_key.withheld"
)

const typeEncrypted = "m.room.encrypted"
