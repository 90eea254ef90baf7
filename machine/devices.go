package machine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// UpdateTrackedUsers starts tracking the device lists of users (the members of encrypted
// rooms). Users not tracked yet are marked outdated, so the next OutgoingRequests queries them.
func (m *Machine) UpdateTrackedUsers(ctx context.Context, users []string) error {
	return m.update(ctx, func(tx store.Tx) error {
		for _, u := range users {
			_, err := tx.TrackedUser(ctx, u)
			if err == nil {
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.PutTrackedUser(ctx, &store.TrackedUser{UserID: u, Outdated: true}); err != nil {
				return err
			}
		}
		return nil
	})
}

// queryBatch is the largest number of users in one /keys/query request, as in
// matrix-sdk-crypto (IdentityManager::MAX_KEY_QUERY_USERS, 250, in
// crates/matrix-sdk-crypto/src/identities/manager.rs): the spec sets no limit
// (https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery); the bound
// keeps each request and its response a manageable size.
const queryBatch = 250

// queueQueries queues the keys queries of outdated users, queryBatch users each, and keeps
// each request's device-list counts (deviceListGen) for its response. No query is pending when
// it is called, so the counts of earlier requests are dropped.
func (m *Machine) queueQueries(ctx context.Context, tx store.Tx, users []string) error {
	if len(users) == 0 {
		return nil
	}
	pending := map[string]map[string]string{}
	for batch := range slices.Chunk(users, queryBatch) {
		q := keysQuery{DeviceKeys: map[string][]string{}}
		gens := map[string]string{}
		for _, u := range batch {
			q.DeviceKeys[u] = []string{}
			gens[u] = deviceListGen(ctx, tx, u)
		}
		id, err := m.queueID(ctx, tx, KindKeysQuery, requestParams{}, q)
		if err != nil {
			return err
		}
		pending[id] = gens
	}
	b, _ := json.Marshal(pending)
	return tx.PutValue(ctx, valueQueryGens, b)
}

// markOutdated marks tracked users outdated (device_lists.changed).
func markOutdated(ctx context.Context, tx store.Tx, users []string) error {
	for _, u := range users {
		tu, err := tx.TrackedUser(ctx, u)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		tu.Outdated = true
		if err := tx.PutTrackedUser(ctx, tu); err != nil {
			return err
		}
		var n int
		fmt.Sscan(deviceListGen(ctx, tx, u), &n)
		if err := tx.PutValue(ctx, valueDeviceListGen+u, fmt.Appendf(nil, "%d", n+1)); err != nil {
			return err
		}
	}
	return nil
}

// deviceListGen counts how often a user's device list was reported changed, so that a query
// answered after a newer change does not mark the user current.
func deviceListGen(ctx context.Context, tx store.Tx, user string) string {
	b, err := tx.Value(ctx, valueDeviceListGen+user)
	if err != nil {
		return "0"
	}
	return string(b)
}

// identity is the machine's record of a user's cross-signing keys, kept as
// store.TrackedUser.CrossSigningKeys.
type identity struct {
	Master      json.RawMessage `json:"master,omitempty"`
	SelfSigning json.RawMessage `json:"self_signing,omitempty"`
	UserSigning json.RawMessage `json:"user_signing,omitempty"`
	// Pinned is the master key first seen (or last acknowledged); Changed says the server now
	// serves another one that the application has not acknowledged (identity pinning).
	Pinned  string `json:"pinned,omitempty"`
	Changed bool   `json:"changed,omitempty"`
}

type queryResponse struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
	Failures        map[string]json.RawMessage            `json:"failures"`
}

// receiveQuery stores the devices of a /keys/query response. A device is kept only if its
// keys are self-signed and name its user and device id; a device whose Ed25519 key changed
// under the same device id is refused (the old keys stay). A master key that differs from the
// pinned one is recorded and reported by UserIdentity until AcknowledgeIdentity.
func (m *Machine) receiveQuery(ctx context.Context, tx store.Tx, id string, reqBody, response []byte) error {
	var req keysQuery
	if err := json.Unmarshal(reqBody, &req); err != nil {
		return err
	}
	var resp queryResponse
	if err := decodeStrict(response, &resp); err != nil {
		return err
	}
	pending := map[string]map[string]string{}
	if b, err := tx.Value(ctx, valueQueryGens); err == nil {
		_ = json.Unmarshal(b, &pending)
	}
	gens, ok := pending[id]
	if !ok {
		// A query queued before the counts were kept per request.
		if b, err := tx.Value(ctx, valueQueryGen); err == nil {
			_ = json.Unmarshal(b, &gens)
		}
	} else {
		delete(pending, id)
		b, _ := json.Marshal(pending)
		if err := tx.PutValue(ctx, valueQueryGens, b); err != nil {
			return err
		}
	}
	for _, user := range sortedKeys(req.DeviceKeys) {
		tu, err := tx.TrackedUser(ctx, user)
		if errors.Is(err, store.ErrNotFound) {
			continue // no longer tracked
		}
		if err != nil {
			return err
		}
		if _, failed := resp.Failures[serverName(user)]; failed {
			continue // stays outdated
		}
		id := identity{}
		if len(tu.CrossSigningKeys) > 0 {
			if err := json.Unmarshal(tu.CrossSigningKeys, &id); err != nil {
				return fmt.Errorf("machine: identity of %s: %w", user, store.ErrCorrupt)
			}
		}
		m.updateIdentity(&id, user, resp)
		tu.CrossSigningKeys, _ = json.Marshal(id)
		// A change reported after the query was made keeps the user outdated.
		tu.Outdated = gens[user] != deviceListGen(ctx, tx, user)
		if err := tx.PutTrackedUser(ctx, tu); err != nil {
			return err
		}
		if err := m.updateDevices(ctx, tx, user, resp.DeviceKeys[user]); err != nil {
			return err
		}
	}
	return nil
}

func (m *Machine) updateIdentity(id *identity, user string, resp queryResponse) {
	mraw, ok := resp.MasterKeys[user]
	if !ok {
		return
	}
	msk, err := signing.ParseCrossSigningKey(mraw)
	if err != nil || msk.UserID != user || signing.VerifyMaster(msk, user) != nil {
		m.log.Warn("machine: ignoring an invalid master key", "user", user)
		return
	}
	id.Master = mraw
	id.SelfSigning, id.UserSigning = nil, nil
	if raw, ok := resp.SelfSigningKeys[user]; ok {
		if ssk, err := signing.ParseCrossSigningKey(raw); err == nil && signing.VerifySubkey(ssk, msk, signing.UsageSelfSigning) == nil {
			id.SelfSigning = raw
		}
	}
	if raw, ok := resp.UserSigningKeys[user]; ok {
		if usk, err := signing.ParseCrossSigningKey(raw); err == nil && signing.VerifySubkey(usk, msk, signing.UsageUserSigning) == nil {
			id.UserSigning = raw
		}
	}
	k := msk.Key.String()
	switch {
	case id.Pinned == "":
		id.Pinned = k
	case id.Pinned != k:
		if !id.Changed {
			m.log.Warn("machine: master key changed", "user", user)
		}
		id.Changed = true
	default:
		id.Changed = false
	}
}

func (m *Machine) updateDevices(ctx context.Context, tx store.Tx, user string, devices map[string]json.RawMessage) error {
	old, err := tx.Devices(ctx, user)
	if err != nil {
		return err
	}
	oldByID := map[string]*store.Device{}
	for _, d := range old {
		oldByID[d.DeviceID] = d
	}
	for _, id := range sortedKeys(devices) {
		raw := devices[id]
		prev, known := oldByID[id]
		delete(oldByID, id) // a device the server lists stays, whatever its keys
		dk, err := signing.VerifyDeviceKeys(raw, user, id)
		if err != nil {
			m.log.Warn("machine: ignoring device keys that do not verify", "user", user, "device", id, "err", err)
			continue
		}
		if known {
			pk, err := signing.ParseDeviceKeys(prev.Keys)
			if err == nil && (pk.Ed25519 != dk.Ed25519 || pk.Curve25519 != dk.Curve25519) {
				m.log.Warn("machine: refusing changed identity keys of a known device", "user", user, "device", id)
				continue
			}
			if bytes.Equal(prev.Keys, raw) {
				continue
			}
		}
		if err := tx.PutDevice(ctx, &store.Device{UserID: user, DeviceID: id, Keys: raw}); err != nil {
			return err
		}
	}
	for id := range oldByID {
		if err := tx.DeleteDevice(ctx, user, id); err != nil {
			return err
		}
	}
	return nil
}

func serverName(user string) string {
	for i := 0; i < len(user); i++ {
		if user[i] == ':' {
			return user[i+1:]
		}
	}
	return ""
}

// Device is a device of a tracked user, with what the machine knows about its trust. Nothing
// in it is secret.
type Device struct {
	Keys *signing.DeviceKeys
	// CrossSigned says the device is signed by its owner's self-signing key, which is signed by
	// the owner's master key (signing.VerifyDevice).
	CrossSigned bool
	// Verified says we verified the device ourselves (SetDeviceTrust) or, for our own user,
	// that it is cross-signed by our own identity.
	Verified bool
	// Blacklisted says we never share room keys with it.
	Blacklisted bool
	// IdentityChanged says its owner's master key changed and the change was not acknowledged.
	IdentityChanged bool
}

// Trust is a local trust decision about a device.
type Trust string

// Local trust decisions.
const (
	TrustUnset       Trust = ""
	TrustVerified    Trust = "verified"
	TrustBlacklisted Trust = "blacklisted"
)

// SetDeviceTrust records a local trust decision about a device (after an out-of-band
// verification, or to exclude it from room keys). Blacklisting a device rotates the room keys
// it received at the next ShareRoomKey.
func (m *Machine) SetDeviceTrust(ctx context.Context, userID, deviceID string, t Trust) error {
	return m.update(ctx, func(tx store.Tx) error {
		return tx.PutValue(ctx, valueTrust+userID+"|"+deviceID, []byte(t))
	})
}

// AcknowledgeIdentity accepts the current master key of a user whose identity changed: it
// becomes the pinned one.
func (m *Machine) AcknowledgeIdentity(ctx context.Context, userID string) error {
	return m.update(ctx, func(tx store.Tx) error {
		tu, err := tx.TrackedUser(ctx, userID)
		if err != nil {
			return err
		}
		var id identity
		if err := json.Unmarshal(tu.CrossSigningKeys, &id); err != nil {
			return fmt.Errorf("machine: identity of %s: %w", userID, store.ErrCorrupt)
		}
		if msk, err := signing.ParseCrossSigningKey(id.Master); err == nil {
			id.Pinned, id.Changed = msk.Key.String(), false
		}
		tu.CrossSigningKeys, _ = json.Marshal(id)
		return tx.PutTrackedUser(ctx, tu)
	})
}

// Devices returns the known devices of a tracked user with their trust, sorted by device id.
func (m *Machine) Devices(ctx context.Context, userID string) ([]Device, error) {
	var out []Device
	err := m.st.View(ctx, m.owner, func(tx store.Tx) error {
		var err error
		out, err = m.devices(ctx, tx, userID)
		return err
	})
	return out, err
}

func (m *Machine) loadIdentity(ctx context.Context, tx store.Tx, userID string) (identity, bool, error) {
	var id identity
	tu, err := tx.TrackedUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return id, false, nil
	}
	if err != nil {
		return id, false, err
	}
	if len(tu.CrossSigningKeys) > 0 {
		if err := json.Unmarshal(tu.CrossSigningKeys, &id); err != nil {
			return id, false, fmt.Errorf("machine: identity of %s: %w", userID, store.ErrCorrupt)
		}
	}
	return id, true, nil
}

func (m *Machine) devices(ctx context.Context, tx store.Tx, userID string) ([]Device, error) {
	return m.devicesWhere(ctx, tx, userID, nil)
}

// devicesWhere returns the devices of a tracked user that keep accepts (all if keep is nil).
// The signature checks of device keys that did not change since the last call are not
// repeated (deviceCache).
func (m *Machine) devicesWhere(ctx context.Context, tx store.Tx, userID string, keep func(*signing.DeviceKeys) bool) ([]Device, error) {
	id, tracked, err := m.loadIdentity(ctx, tx, userID)
	if err != nil || !tracked {
		return nil, err
	}
	var msk, ssk *signing.CrossSigningKey
	parsedCS := false
	recs, err := tx.Devices(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(recs))
	for _, r := range recs {
		st := newStamper().bytes(r.Keys).bytes(id.Master).bytes(id.SelfSigning).sum()
		c, ok := m.checked.get(st)
		if !ok {
			dk, err := signing.ParseDeviceKeys(r.Keys)
			if err != nil {
				continue
			}
			if !parsedCS && id.Master != nil && id.SelfSigning != nil {
				msk, _ = signing.ParseCrossSigningKey(id.Master)
				ssk, _ = signing.ParseCrossSigningKey(id.SelfSigning)
				parsedCS = true
			}
			c = checkedDevice{keys: dk, crossSigned: msk != nil && ssk != nil && signing.VerifyDevice(dk, msk, ssk) == nil}
			m.checked.put(st, c)
		}
		if keep != nil && !keep(c.keys) {
			continue
		}
		dk := *c.keys // the cached copy stays as checked
		dk.Algorithms = slices.Clone(dk.Algorithms)
		d := Device{Keys: &dk, IdentityChanged: id.Changed, CrossSigned: c.crossSigned}
		if t, err := tx.Value(ctx, valueTrust+userID+"|"+r.DeviceID); err == nil {
			d.Verified = Trust(t) == TrustVerified
			d.Blacklisted = Trust(t) == TrustBlacklisted
		}
		if userID == m.owner.UserID && d.CrossSigned && !id.Changed {
			d.Verified = true
		}
		out = append(out, d)
	}
	return out, nil
}

// deviceByCurve finds the device of user with a Curve25519 key.
func (m *Machine) deviceByCurve(ctx context.Context, tx store.Tx, user, curve string) (*Device, error) {
	devs, err := m.devicesWhere(ctx, tx, user, func(k *signing.DeviceKeys) bool { return k.Curve25519.String() == curve })
	if err != nil || len(devs) == 0 {
		return nil, err
	}
	return &devs[0], nil
}
