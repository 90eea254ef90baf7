package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The tables of the in-memory store.
const (
	tAccount = iota
	tOlm
	tInbound
	tOutbound
	tWithheld
	tTracked
	tDevice
	tReplay
	tSecret
	tBackup
	tRequest
	tValue
	nTables
)

// memData is one immutable snapshot: a persistent tree per table. A transaction writes new
// trees that share every unchanged node, and Update publishes them when it succeeds.
type memData struct {
	tables [nTables]*node
}

// Memory is the in-memory Store, for tests and short-lived tools: a full implementation with
// the same semantics as the SQL store, but nothing survives the process and nothing is sealed.
// Readers see immutable snapshots (persistent trees, copied on write); writers are serialised
// by a mutex. It is safe for concurrent use.
//
// It holds every record in memory by design, so its memory grows with the number of sessions
// (about 800 bytes per inbound Megolm session with a 436-byte state); a client with many
// sessions uses store/sqlstore, whose memory is bounded by its cache size (sqlstore.Options).
type Memory struct {
	mu     sync.Mutex // serialises Update
	data   atomic.Pointer[memData]
	closed atomic.Bool
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := new(Memory)
	m.data.Store(new(memData))
	return m
}

var errClosed = fmt.Errorf("store: closed")

// View runs fn on a snapshot of owner's state.
func (m *Memory) View(ctx context.Context, owner Owner, fn func(Tx) error) error {
	if m.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(&memTx{owner: owner, data: *m.data.Load()})
}

// Update runs fn on a private copy of the store and publishes it if fn and ctx succeed.
func (m *Memory) Update(ctx context.Context, owner Owner, fn func(Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tx := &memTx{owner: owner, data: *m.data.Load(), writable: true}
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tx.writable = false
	m.data.Store(&tx.data)
	return nil
}

// Close makes later transactions fail.
func (m *Memory) Close() error {
	m.closed.Store(true)
	return nil
}

type memTx struct {
	owner    Owner
	data     memData
	writable bool
}

func (tx *memTx) key(parts ...string) string {
	return tx.prefix() + strings.Join(parts, "\x00")
}

func (tx *memTx) prefix() string {
	return tx.owner.UserID + "\x00" + tx.owner.DeviceID + "\x00"
}

func (tx *memTx) get(t int, k string) (any, bool) {
	return tx.data.tables[t].get(k)
}

func (tx *memTx) put(t int, k string, v any) error {
	if !tx.writable {
		return ErrReadOnly
	}
	if v == nil {
		tx.data.tables[t] = tx.data.tables[t].remove(k)
	} else {
		tx.data.tables[t] = tx.data.tables[t].insert(k, v, priority(k))
	}
	return nil
}

// scan returns the values of table t under prefix p, in key order.
func scan[V any](tx *memTx, t int, p string) []V {
	var out []V
	tx.data.tables[t].each(tx.prefix()+p, func(v any) { out = append(out, v.(V)) })
	return out
}

func millis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

func (tx *memTx) Account(context.Context) (Secret, error) {
	v, ok := tx.get(tAccount, tx.key())
	if !ok {
		return nil, fmt.Errorf("%w: account", ErrNotFound)
	}
	return v.(Secret).clone(), nil
}

func (tx *memTx) PutAccount(_ context.Context, a Secret) error {
	return tx.put(tAccount, tx.key(), a.clone())
}

func cloneOlm(s *OlmSession) *OlmSession {
	c := *s
	c.Created, c.LastUsed, c.LastReceived = millis(s.Created), millis(s.LastUsed), millis(s.LastReceived)
	c.State = s.State.clone()
	return &c
}

func (tx *memTx) OlmSession(_ context.Context, peerKey, sessionID string) (*OlmSession, error) {
	v, ok := tx.get(tOlm, tx.key(peerKey, sessionID))
	if !ok {
		return nil, fmt.Errorf("%w: Olm session %s with %s", ErrNotFound, sessionID, peerKey)
	}
	return cloneOlm(v.(*OlmSession)), nil
}

func (tx *memTx) OlmSessions(_ context.Context, peerKey string) ([]*OlmSession, error) {
	ss := scan[*OlmSession](tx, tOlm, peerKey+"\x00")
	for i, s := range ss {
		ss[i] = cloneOlm(s)
	}
	slices.SortStableFunc(ss, func(a, b *OlmSession) int {
		return cmp.Or(b.LastUsed.Compare(a.LastUsed), b.Created.Compare(a.Created), strings.Compare(a.SessionID, b.SessionID))
	})
	return ss, nil
}

func (tx *memTx) PutOlmSession(_ context.Context, s *OlmSession) error {
	return tx.put(tOlm, tx.key(s.PeerKey, s.SessionID), cloneOlm(s))
}

func cloneInbound(s *InboundGroupSession) *InboundGroupSession {
	c := *s
	c.ForwardingChain = slices.Clone(s.ForwardingChain)
	c.State = s.State.clone()
	return &c
}

func (tx *memTx) InboundGroupSession(_ context.Context, roomID, sessionID string) (*InboundGroupSession, error) {
	v, ok := tx.get(tInbound, tx.key(roomID, sessionID))
	if !ok {
		return nil, fmt.Errorf("%w: inbound Megolm session %s in %s", ErrNotFound, sessionID, roomID)
	}
	return cloneInbound(v.(*InboundGroupSession)), nil
}

func (tx *memTx) PutInboundGroupSession(_ context.Context, s *InboundGroupSession) error {
	return tx.put(tInbound, tx.key(s.RoomID, s.SessionID), cloneInbound(s))
}

func (tx *memTx) SessionsToBackUp(_ context.Context, limit int) ([]*InboundGroupSession, error) {
	var out []*InboundGroupSession
	for _, s := range scan[*InboundGroupSession](tx, tInbound, "") {
		if len(out) >= limit {
			break
		}
		if !s.BackedUp {
			out = append(out, cloneInbound(s))
		}
	}
	return out, nil
}

func (tx *memTx) MarkBackedUp(ctx context.Context, roomID, sessionID string) error {
	s, err := tx.InboundGroupSession(ctx, roomID, sessionID)
	if err != nil {
		return err
	}
	s.BackedUp = true
	return tx.PutInboundGroupSession(ctx, s)
}

func (tx *memTx) BackupVersion(context.Context) (string, error) {
	v, ok := tx.get(tBackup, tx.key())
	if !ok {
		return "", fmt.Errorf("%w: backup version", ErrNotFound)
	}
	return v.(string), nil
}

func (tx *memTx) SetBackupVersion(ctx context.Context, version string) error {
	if old, ok := tx.get(tBackup, tx.key()); ok && old.(string) == version {
		return nil
	}
	if err := tx.put(tBackup, tx.key(), version); err != nil {
		return err
	}
	for _, s := range scan[*InboundGroupSession](tx, tInbound, "") {
		if s.BackedUp {
			c := cloneInbound(s)
			c.BackedUp = false
			if err := tx.PutInboundGroupSession(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func cloneOutbound(s *OutboundGroupSession) *OutboundGroupSession {
	c := *s
	c.Created = millis(s.Created)
	c.SharedWith = slices.Clone(s.SharedWith)
	c.State = s.State.clone()
	return &c
}

func (tx *memTx) OutboundGroupSession(_ context.Context, roomID string) (*OutboundGroupSession, error) {
	v, ok := tx.get(tOutbound, tx.key(roomID))
	if !ok {
		return nil, fmt.Errorf("%w: outbound Megolm session in %s", ErrNotFound, roomID)
	}
	return cloneOutbound(v.(*OutboundGroupSession)), nil
}

func (tx *memTx) PutOutboundGroupSession(_ context.Context, s *OutboundGroupSession) error {
	return tx.put(tOutbound, tx.key(s.RoomID), cloneOutbound(s))
}

func (tx *memTx) DeleteOutboundGroupSession(_ context.Context, roomID string) error {
	return tx.put(tOutbound, tx.key(roomID), nil)
}

func (tx *memTx) Withheld(_ context.Context, roomID, sessionID string) (*Withheld, error) {
	v, ok := tx.get(tWithheld, tx.key(roomID, sessionID))
	if !ok {
		return nil, fmt.Errorf("%w: withheld notice for %s in %s", ErrNotFound, sessionID, roomID)
	}
	w := *v.(*Withheld)
	return &w, nil
}

func (tx *memTx) PutWithheld(_ context.Context, w *Withheld) error {
	c := *w
	return tx.put(tWithheld, tx.key(w.RoomID, w.SessionID), &c)
}

func cloneTracked(u *TrackedUser) *TrackedUser {
	c := *u
	c.CrossSigningKeys = slices.Clone(u.CrossSigningKeys)
	return &c
}

func (tx *memTx) TrackedUser(_ context.Context, userID string) (*TrackedUser, error) {
	v, ok := tx.get(tTracked, tx.key(userID))
	if !ok {
		return nil, fmt.Errorf("%w: tracked user %s", ErrNotFound, userID)
	}
	return cloneTracked(v.(*TrackedUser)), nil
}

func (tx *memTx) OutdatedUsers(context.Context) ([]string, error) {
	var out []string
	for _, u := range scan[*TrackedUser](tx, tTracked, "") {
		if u.Outdated {
			out = append(out, u.UserID)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (tx *memTx) PutTrackedUser(_ context.Context, u *TrackedUser) error {
	return tx.put(tTracked, tx.key(u.UserID), cloneTracked(u))
}

func (tx *memTx) DeleteTrackedUser(_ context.Context, userID string) error {
	for _, d := range scan[*Device](tx, tDevice, userID+"\x00") {
		if err := tx.put(tDevice, tx.key(userID, d.DeviceID), nil); err != nil {
			return err
		}
	}
	return tx.put(tTracked, tx.key(userID), nil)
}

func cloneDevice(d *Device) *Device {
	c := *d
	c.Keys = slices.Clone(d.Keys)
	return &c
}

func (tx *memTx) Devices(_ context.Context, userID string) ([]*Device, error) {
	ds := scan[*Device](tx, tDevice, userID+"\x00")
	for i, d := range ds {
		ds[i] = cloneDevice(d)
	}
	slices.SortFunc(ds, func(a, b *Device) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return ds, nil
}

func (tx *memTx) PutDevice(_ context.Context, d *Device) error {
	if !tx.writable {
		return ErrReadOnly
	}
	if _, ok := tx.get(tTracked, tx.key(d.UserID)); !ok {
		return fmt.Errorf("%w: tracked user %s", ErrNotFound, d.UserID)
	}
	return tx.put(tDevice, tx.key(d.UserID, d.DeviceID), cloneDevice(d))
}

func (tx *memTx) DeleteDevice(_ context.Context, userID, deviceID string) error {
	return tx.put(tDevice, tx.key(userID, deviceID), nil)
}

func (tx *memTx) RecordReplay(_ context.Context, r *Replay) error {
	if !tx.writable {
		return ErrReadOnly
	}
	k := tx.key(r.RoomID, r.SessionID, strconv.FormatUint(uint64(r.Index), 10))
	if v, ok := tx.get(tReplay, k); ok {
		return CheckReplay(v.(*Replay), r)
	}
	c := *r
	return tx.put(tReplay, k, &c)
}

// CheckReplay returns nil if have and want record the same event, and an error matching
// ErrReplay otherwise. Implementations of Tx.RecordReplay call it with the stored record.
func CheckReplay(have, want *Replay) error {
	if have.EventID == want.EventID && have.OriginServerTS == want.OriginServerTS {
		return nil
	}
	return fmt.Errorf("%w: index %d of session %s in %s decrypted event %s (ts %d), now %s (ts %d)",
		ErrReplay, want.Index, want.SessionID, want.RoomID, have.EventID, have.OriginServerTS, want.EventID, want.OriginServerTS)
}

func (tx *memTx) Secret(_ context.Context, name string) (Secret, error) {
	v, ok := tx.get(tSecret, tx.key(name))
	if !ok {
		return nil, fmt.Errorf("%w: secret %s", ErrNotFound, name)
	}
	return v.(Secret).clone(), nil
}

func (tx *memTx) PutSecret(_ context.Context, name string, value Secret) error {
	return tx.put(tSecret, tx.key(name), value.clone())
}

func (tx *memTx) DeleteSecret(_ context.Context, name string) error {
	return tx.put(tSecret, tx.key(name), nil)
}

func cloneRequest(r *OutgoingRequest) *OutgoingRequest {
	c := *r
	c.Created = millis(r.Created)
	c.Body = slices.Clone(r.Body)
	return &c
}

func (tx *memTx) PutOutgoingRequest(_ context.Context, r *OutgoingRequest) error {
	return tx.put(tRequest, tx.key(r.ID), cloneRequest(r))
}

func (tx *memTx) OutgoingRequests(context.Context) ([]*OutgoingRequest, error) {
	rs := scan[*OutgoingRequest](tx, tRequest, "")
	for i, r := range rs {
		rs[i] = cloneRequest(r)
	}
	slices.SortStableFunc(rs, func(a, b *OutgoingRequest) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return rs, nil
}

func (tx *memTx) DeleteOutgoingRequest(_ context.Context, id string) error {
	return tx.put(tRequest, tx.key(id), nil)
}

func (tx *memTx) Value(_ context.Context, name string) ([]byte, error) {
	v, ok := tx.get(tValue, tx.key(name))
	if !ok {
		return nil, fmt.Errorf("%w: value %s", ErrNotFound, name)
	}
	return slices.Clone(v.([]byte)), nil
}

func (tx *memTx) PutValue(_ context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return tx.put(tValue, tx.key(name), slices.Clone(value))
}
