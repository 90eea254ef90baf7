package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sicher-go/sicher/store"
)

// sqlTx is a store.Tx over one database transaction.
type sqlTx struct {
	s        *Store
	tx       *sql.Tx
	owner    store.Owner
	writable bool
	sc       *stmtCache           // SQLite: the statements prepared on the handle tx was begun on
	stmts    map[string]*sql.Stmt // SQLite: sc's statements bound to tx

	inbound   [][]any           // inbound Megolm session rows not yet written (batch.go)
	inboundAt map[[2]string]int // their index in inbound by room and session id
}

// args prepends the owner to a query's arguments: every query's first two placeholders are
// owner_user and owner_device.
func (t *sqlTx) args(a ...any) []any {
	return append([]any{t.owner.UserID, t.owner.DeviceID}, a...)
}

func (t *sqlTx) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := t.stmts[q]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if parent := t.sc.get(q); parent != nil {
		st = t.tx.StmtContext(ctx, parent)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[q] = st
	return st, nil
}

func (t *sqlTx) exec(ctx context.Context, what, q string, a ...any) (sql.Result, error) {
	if !t.writable {
		return nil, fmt.Errorf("%w: %s", store.ErrReadOnly, what)
	}
	if err := t.flushInbound(ctx); err != nil {
		return nil, err
	}
	var (
		res sql.Result
		err error
	)
	if t.s.d == sqliteDialect {
		var st *sql.Stmt
		if st, err = t.prepared(ctx, q); err == nil {
			res, err = st.ExecContext(ctx, t.args(a...)...)
		}
	} else {
		res, err = t.tx.ExecContext(ctx, t.s.d.q(q), t.args(a...)...)
	}
	if err != nil {
		return nil, t.s.wrap(what, err)
	}
	return res, nil
}

// run executes a statement whose arguments include the owner.
func (t *sqlTx) run(ctx context.Context, what, q string, args []any) error {
	var err error
	if t.s.d == sqliteDialect {
		var st *sql.Stmt
		if st, err = t.prepared(ctx, q); err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
	} else {
		_, err = t.tx.ExecContext(ctx, t.s.d.q(q), args...)
	}
	if err != nil {
		return t.s.wrap(what, err)
	}
	return nil
}

// query runs a SELECT; inside Update on PostgreSQL it locks the rows it reads.
func (t *sqlTx) query(ctx context.Context, what, q string, a ...any) (*sql.Rows, error) {
	if t.writable {
		q += t.s.d.forUpdate
		if err := t.flushInbound(ctx); err != nil {
			return nil, err
		}
	}
	var (
		rows *sql.Rows
		err  error
	)
	if t.s.d == sqliteDialect {
		var st *sql.Stmt
		if st, err = t.prepared(ctx, q); err == nil {
			rows, err = st.QueryContext(ctx, t.args(a...)...)
		}
	} else {
		rows, err = t.tx.QueryContext(ctx, t.s.d.q(q), t.args(a...)...)
	}
	if err != nil {
		return nil, t.s.wrap(what, err)
	}
	return rows, nil
}

// each runs scan on every row of a query.
func (t *sqlTx) each(ctx context.Context, what, q string, a []any, scan func(*sql.Rows) error) error {
	rows, err := t.query(ctx, what, q, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return t.s.wrap(what, err)
	}
	return nil
}

// one runs a query that returns at most one row; no row gives store.ErrNotFound.
func (t *sqlTx) one(ctx context.Context, what, q string, a []any, scan func(*sql.Rows) error) error {
	found := false
	err := t.each(ctx, what, q, a, func(r *sql.Rows) error {
		found = true
		return scan(r)
	})
	if err == nil && !found {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return err
}

func (t *sqlTx) scanErr(what string, err error) error {
	return t.s.wrap(what, err)
}

func (t *sqlTx) pk(parts ...string) []string {
	return append([]string{t.owner.UserID, t.owner.DeviceID}, parts...)
}

func (t *sqlTx) seal(table, column string, pk []string, pt []byte) ([]byte, error) {
	return t.s.sealer.seal(table, column, pk, pt)
}

func (t *sqlTx) open(what, table, column string, pk []string, sealed []byte) ([]byte, error) {
	pt, err := t.s.sealer.open(table, column, pk, sealed)
	if err != nil {
		return nil, corrupt(what, err)
	}
	return pt, nil
}

func corrupt(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", store.ErrCorrupt, what, err)
}

func unixMilli(t time.Time) int64  { return t.UnixMilli() }
func fromMilli(ms int64) time.Time { return time.UnixMilli(ms) }
func flag(b bool) int64            { return map[bool]int64{false: 0, true: 1}[b] }
func u32(what string, v int64) (uint32, error) {
	if v < 0 || v > math.MaxUint32 {
		return 0, corrupt(what, fmt.Errorf("%d out of range", v))
	}
	return uint32(v), nil
}

func (t *sqlTx) Account(ctx context.Context) (store.Secret, error) {
	const what = "account"
	var out store.Secret
	err := t.one(ctx, what, "SELECT state FROM sicher_account WHERE owner_user = ? AND owner_device = ?", nil, func(r *sql.Rows) error {
		var sealed []byte
		if err := r.Scan(&sealed); err != nil {
			return t.scanErr(what, err)
		}
		pt, err := t.open(what, "sicher_account", "state", t.pk(), sealed)
		out = pt
		return err
	})
	return out, err
}

func (t *sqlTx) PutAccount(ctx context.Context, account store.Secret) error {
	sealed, err := t.seal("sicher_account", "state", t.pk(), account)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "account", `INSERT INTO sicher_account (owner_user, owner_device, state) VALUES (?, ?, ?)
		ON CONFLICT (owner_user, owner_device) DO UPDATE SET state = excluded.state`, sealed)
	return err
}

const olmColumns = "peer_key, session_id, created, last_used, last_received, state"

func (t *sqlTx) scanOlm(r *sql.Rows) (*store.OlmSession, error) {
	var (
		s         store.OlmSession
		c, u, rcv int64
		sealed    []byte
	)
	if err := r.Scan(&s.PeerKey, &s.SessionID, &c, &u, &rcv, &sealed); err != nil {
		return nil, t.scanErr("Olm session", err)
	}
	s.Created, s.LastUsed, s.LastReceived = fromMilli(c), fromMilli(u), fromMilli(rcv)
	what := fmt.Sprintf("Olm session %s with %s", s.SessionID, s.PeerKey)
	pt, err := t.open(what, "sicher_olm_sessions", "state", t.pk(s.PeerKey, s.SessionID), sealed)
	if err != nil {
		return nil, err
	}
	s.State = pt
	return &s, nil
}

func (t *sqlTx) OlmSession(ctx context.Context, peerKey, sessionID string) (*store.OlmSession, error) {
	var out *store.OlmSession
	err := t.one(ctx, fmt.Sprintf("Olm session %s with %s", sessionID, peerKey),
		"SELECT "+olmColumns+" FROM sicher_olm_sessions WHERE owner_user = ? AND owner_device = ? AND peer_key = ? AND session_id = ?",
		[]any{peerKey, sessionID}, func(r *sql.Rows) (err error) {
			out, err = t.scanOlm(r)
			return err
		})
	return out, err
}

func (t *sqlTx) OlmSessions(ctx context.Context, peerKey string) ([]*store.OlmSession, error) {
	var out []*store.OlmSession
	err := t.each(ctx, "Olm sessions with "+peerKey,
		"SELECT "+olmColumns+" FROM sicher_olm_sessions WHERE owner_user = ? AND owner_device = ? AND peer_key = ? ORDER BY last_used DESC, created DESC, session_id",
		[]any{peerKey}, func(r *sql.Rows) error {
			s, err := t.scanOlm(r)
			out = append(out, s)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *sqlTx) PutOlmSession(ctx context.Context, s *store.OlmSession) error {
	sealed, err := t.seal("sicher_olm_sessions", "state", t.pk(s.PeerKey, s.SessionID), s.State)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "Olm session "+s.SessionID, `INSERT INTO sicher_olm_sessions (owner_user, owner_device, `+olmColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, peer_key, session_id) DO UPDATE SET
		created = excluded.created, last_used = excluded.last_used, last_received = excluded.last_received, state = excluded.state`,
		s.PeerKey, s.SessionID, unixMilli(s.Created), unixMilli(s.LastUsed), unixMilli(s.LastReceived), sealed)
	return err
}

const inboundColumns = "room_id, session_id, sender_user, sender_key, signing_key, provenance, forwarding_chain, shared_history, first_known_index, backed_up, state"

// scanInbound reads an inbound Megolm session row; with cached, the state's plaintext comes
// from (and goes to) the store's cache when the row's sealed bytes match.
func (t *sqlTx) scanInbound(r *sql.Rows, cached bool) (*store.InboundGroupSession, error) {
	var (
		s                       store.InboundGroupSession
		prov, shared, first, bu int64
		chain                   string
		sealed                  []byte
	)
	if err := r.Scan(&s.RoomID, &s.SessionID, &s.SenderUser, &s.SenderKey, &s.SigningKey, &prov, &chain, &shared, &first, &bu, &sealed); err != nil {
		return nil, t.scanErr("inbound Megolm session", err)
	}
	what := fmt.Sprintf("inbound Megolm session %s in %s", s.SessionID, s.RoomID)
	if prov < 0 || prov > math.MaxUint8 {
		return nil, corrupt(what, fmt.Errorf("provenance %d", prov))
	}
	s.Provenance = store.Provenance(prov)
	if err := json.Unmarshal([]byte(chain), &s.ForwardingChain); err != nil {
		return nil, corrupt(what, err)
	}
	if len(s.ForwardingChain) == 0 {
		s.ForwardingChain = nil
	}
	s.SharedHistory, s.BackedUp = shared != 0, bu != 0
	var err error
	if s.FirstKnownIndex, err = u32(what, first); err != nil {
		return nil, err
	}
	pk := t.pk(s.RoomID, s.SessionID)
	if !cached {
		if s.State, err = t.open(what, "sicher_inbound_group_sessions", "state", pk, sealed); err != nil {
			return nil, err
		}
		return &s, nil
	}
	row := rowKey("sicher_inbound_group_sessions", "state", pk)
	if pt, ok := t.s.cache.get(row, sealed); ok {
		s.State = pt
		return &s, nil
	}
	if s.State, err = t.open(what, "sicher_inbound_group_sessions", "state", pk, sealed); err != nil {
		return nil, err
	}
	t.s.cache.put(row, sealed, s.State)
	return &s, nil
}

func (t *sqlTx) InboundGroupSession(ctx context.Context, roomID, sessionID string) (*store.InboundGroupSession, error) {
	var out *store.InboundGroupSession
	err := t.one(ctx, fmt.Sprintf("inbound Megolm session %s in %s", sessionID, roomID),
		"SELECT "+inboundColumns+" FROM sicher_inbound_group_sessions WHERE owner_user = ? AND owner_device = ? AND room_id = ? AND session_id = ?",
		[]any{roomID, sessionID}, func(r *sql.Rows) (err error) {
			out, err = t.scanInbound(r, true)
			return err
		})
	return out, err
}

func (t *sqlTx) PutInboundGroupSession(ctx context.Context, s *store.InboundGroupSession) error {
	if !t.writable {
		return fmt.Errorf("%w: inbound Megolm session %s", store.ErrReadOnly, s.SessionID)
	}
	chain, err := json.Marshal(s.ForwardingChain)
	if err != nil {
		return fmt.Errorf("sqlstore: forwarding chain: %w", err)
	}
	if s.ForwardingChain == nil {
		chain = []byte("[]")
	}
	pk := t.pk(s.RoomID, s.SessionID)
	sealed, err := t.seal("sicher_inbound_group_sessions", "state", pk, s.State)
	if err != nil {
		return err
	}
	// A row read through the cache gets its new state, so that the next read of it needs no
	// open; rows never read are not added, so an import does not flush the cache. Should the
	// transaction fail, the entry names sealed bytes the row does not hold and is not used.
	t.s.cache.replace(rowKey("sicher_inbound_group_sessions", "state", pk), sealed, s.State)
	return t.keepInbound(ctx, s.RoomID, s.SessionID, []any{s.RoomID, s.SessionID, s.SenderUser, s.SenderKey, s.SigningKey,
		int64(s.Provenance), string(chain), flag(s.SharedHistory), int64(s.FirstKnownIndex), flag(s.BackedUp), sealed})
}

func (t *sqlTx) SessionsToBackUp(ctx context.Context, limit int) ([]*store.InboundGroupSession, error) {
	var out []*store.InboundGroupSession
	if limit <= 0 {
		return nil, nil
	}
	err := t.each(ctx, "sessions to back up",
		"SELECT "+inboundColumns+" FROM sicher_inbound_group_sessions WHERE owner_user = ? AND owner_device = ? AND backed_up = 0 ORDER BY room_id, session_id LIMIT ?",
		[]any{limit}, func(r *sql.Rows) error {
			s, err := t.scanInbound(r, false)
			out = append(out, s)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *sqlTx) MarkBackedUp(ctx context.Context, roomID, sessionID string) error {
	what := fmt.Sprintf("inbound Megolm session %s in %s", sessionID, roomID)
	res, err := t.exec(ctx, what, "UPDATE sicher_inbound_group_sessions SET backed_up = 1 WHERE owner_user = ? AND owner_device = ? AND room_id = ? AND session_id = ?", roomID, sessionID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.s.wrap(what, err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return nil
}

func (t *sqlTx) BackupVersion(ctx context.Context) (string, error) {
	var v string
	err := t.one(ctx, "backup version", "SELECT version FROM sicher_backup WHERE owner_user = ? AND owner_device = ?", nil,
		func(r *sql.Rows) error { return r.Scan(&v) })
	return v, err
}

func (t *sqlTx) SetBackupVersion(ctx context.Context, version string) error {
	if !t.writable {
		return fmt.Errorf("%w: backup version", store.ErrReadOnly)
	}
	old, err := t.BackupVersion(ctx)
	if err == nil && old == version {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := t.exec(ctx, "backup version", `INSERT INTO sicher_backup (owner_user, owner_device, version) VALUES (?, ?, ?)
		ON CONFLICT (owner_user, owner_device) DO UPDATE SET version = excluded.version`, version); err != nil {
		return err
	}
	_, err = t.exec(ctx, "backup flags", "UPDATE sicher_inbound_group_sessions SET backed_up = 0 WHERE owner_user = ? AND owner_device = ? AND backed_up <> 0")
	return err
}

const outboundColumns = "room_id, session_id, message_count, created, shared_with, state"

func (t *sqlTx) OutboundGroupSession(ctx context.Context, roomID string) (*store.OutboundGroupSession, error) {
	what := "outbound Megolm session in " + roomID
	var out *store.OutboundGroupSession
	err := t.one(ctx, what, "SELECT "+outboundColumns+" FROM sicher_outbound_group_sessions WHERE owner_user = ? AND owner_device = ? AND room_id = ?",
		[]any{roomID}, func(r *sql.Rows) error {
			var (
				s             store.OutboundGroupSession
				count, create int64
				shared        string
				sealed        []byte
			)
			if err := r.Scan(&s.RoomID, &s.SessionID, &count, &create, &shared, &sealed); err != nil {
				return t.scanErr(what, err)
			}
			var err error
			if s.MessageCount, err = u32(what, count); err != nil {
				return err
			}
			s.Created = fromMilli(create)
			if err := json.Unmarshal([]byte(shared), &s.SharedWith); err != nil {
				return corrupt(what, err)
			}
			if len(s.SharedWith) == 0 {
				s.SharedWith = nil
			}
			if s.State, err = t.open(what, "sicher_outbound_group_sessions", "state", t.pk(s.RoomID), sealed); err != nil {
				return err
			}
			out = &s
			return nil
		})
	return out, err
}

func (t *sqlTx) PutOutboundGroupSession(ctx context.Context, s *store.OutboundGroupSession) error {
	shared, err := json.Marshal(s.SharedWith)
	if err != nil {
		return fmt.Errorf("sqlstore: shared with: %w", err)
	}
	if s.SharedWith == nil {
		shared = []byte("[]")
	}
	sealed, err := t.seal("sicher_outbound_group_sessions", "state", t.pk(s.RoomID), s.State)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "outbound Megolm session in "+s.RoomID, `INSERT INTO sicher_outbound_group_sessions (owner_user, owner_device, `+outboundColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, room_id) DO UPDATE SET
		session_id = excluded.session_id, message_count = excluded.message_count, created = excluded.created,
		shared_with = excluded.shared_with, state = excluded.state`,
		s.RoomID, s.SessionID, int64(s.MessageCount), unixMilli(s.Created), string(shared), sealed)
	return err
}

func (t *sqlTx) DeleteOutboundGroupSession(ctx context.Context, roomID string) error {
	_, err := t.exec(ctx, "outbound Megolm session in "+roomID, "DELETE FROM sicher_outbound_group_sessions WHERE owner_user = ? AND owner_device = ? AND room_id = ?", roomID)
	return err
}

func (t *sqlTx) Withheld(ctx context.Context, roomID, sessionID string) (*store.Withheld, error) {
	var w store.Withheld
	err := t.one(ctx, fmt.Sprintf("withheld notice for %s in %s", sessionID, roomID),
		"SELECT room_id, session_id, sender_key, code, reason FROM sicher_withheld WHERE owner_user = ? AND owner_device = ? AND room_id = ? AND session_id = ?",
		[]any{roomID, sessionID}, func(r *sql.Rows) error {
			return r.Scan(&w.RoomID, &w.SessionID, &w.SenderKey, &w.Code, &w.Reason)
		})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

func (t *sqlTx) PutWithheld(ctx context.Context, w *store.Withheld) error {
	_, err := t.exec(ctx, "withheld notice for "+w.SessionID, `INSERT INTO sicher_withheld (owner_user, owner_device, room_id, session_id, sender_key, code, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, room_id, session_id) DO UPDATE SET
		sender_key = excluded.sender_key, code = excluded.code, reason = excluded.reason`,
		w.RoomID, w.SessionID, w.SenderKey, w.Code, w.Reason)
	return err
}

func (t *sqlTx) TrackedUser(ctx context.Context, userID string) (*store.TrackedUser, error) {
	var (
		u        store.TrackedUser
		outdated int64
	)
	err := t.one(ctx, "tracked user "+userID,
		"SELECT user_id, outdated, cross_signing_keys FROM sicher_tracked_users WHERE owner_user = ? AND owner_device = ? AND user_id = ?",
		[]any{userID}, func(r *sql.Rows) error { return r.Scan(&u.UserID, &outdated, &u.CrossSigningKeys) })
	if err != nil {
		return nil, err
	}
	u.Outdated = outdated != 0
	if len(u.CrossSigningKeys) == 0 {
		u.CrossSigningKeys = nil
	}
	return &u, nil
}

func (t *sqlTx) OutdatedUsers(ctx context.Context) ([]string, error) {
	var out []string
	err := t.each(ctx, "outdated users",
		"SELECT user_id FROM sicher_tracked_users WHERE owner_user = ? AND owner_device = ? AND outdated <> 0 ORDER BY user_id",
		nil, func(r *sql.Rows) error {
			var u string
			out = append(out, u)
			return r.Scan(&out[len(out)-1])
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *sqlTx) PutTrackedUser(ctx context.Context, u *store.TrackedUser) error {
	keys := u.CrossSigningKeys
	if keys == nil {
		keys = []byte{}
	}
	_, err := t.exec(ctx, "tracked user "+u.UserID, `INSERT INTO sicher_tracked_users (owner_user, owner_device, user_id, outdated, cross_signing_keys)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, user_id) DO UPDATE SET
		outdated = excluded.outdated, cross_signing_keys = excluded.cross_signing_keys`,
		u.UserID, flag(u.Outdated), keys)
	return err
}

func (t *sqlTx) DeleteTrackedUser(ctx context.Context, userID string) error {
	// The devices go with the user (ON DELETE CASCADE); deleting them first keeps the result
	// independent of the foreign_keys setting of whoever opened the file.
	if _, err := t.exec(ctx, "devices of "+userID, "DELETE FROM sicher_devices WHERE owner_user = ? AND owner_device = ? AND user_id = ?", userID); err != nil {
		return err
	}
	_, err := t.exec(ctx, "tracked user "+userID, "DELETE FROM sicher_tracked_users WHERE owner_user = ? AND owner_device = ? AND user_id = ?", userID)
	return err
}

func (t *sqlTx) Devices(ctx context.Context, userID string) ([]*store.Device, error) {
	var out []*store.Device
	err := t.each(ctx, "devices of "+userID,
		"SELECT user_id, device_id, device_keys FROM sicher_devices WHERE owner_user = ? AND owner_device = ? AND user_id = ? ORDER BY device_id",
		[]any{userID}, func(r *sql.Rows) error {
			var d store.Device
			if err := r.Scan(&d.UserID, &d.DeviceID, &d.Keys); err != nil {
				return t.scanErr("devices of "+userID, err)
			}
			if len(d.Keys) == 0 {
				d.Keys = nil
			}
			out = append(out, &d)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *sqlTx) PutDevice(ctx context.Context, d *store.Device) error {
	if !t.writable {
		return fmt.Errorf("%w: device %s", store.ErrReadOnly, d.DeviceID)
	}
	if _, err := t.TrackedUser(ctx, d.UserID); err != nil {
		return err
	}
	keys := d.Keys
	if keys == nil {
		keys = []byte{}
	}
	_, err := t.exec(ctx, "device "+d.DeviceID+" of "+d.UserID, `INSERT INTO sicher_devices (owner_user, owner_device, user_id, device_id, device_keys)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, user_id, device_id) DO UPDATE SET device_keys = excluded.device_keys`,
		d.UserID, d.DeviceID, keys)
	return err
}

func (t *sqlTx) DeleteDevice(ctx context.Context, userID, deviceID string) error {
	_, err := t.exec(ctx, "device "+deviceID+" of "+userID, "DELETE FROM sicher_devices WHERE owner_user = ? AND owner_device = ? AND user_id = ? AND device_id = ?", userID, deviceID)
	return err
}

func (t *sqlTx) RecordReplay(ctx context.Context, r *store.Replay) error {
	what := fmt.Sprintf("replay record %d of %s in %s", r.Index, r.SessionID, r.RoomID)
	res, err := t.exec(ctx, what, `INSERT INTO sicher_replay (owner_user, owner_device, room_id, session_id, message_index, event_id, origin_server_ts)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.RoomID, r.SessionID, int64(r.Index), r.EventID, r.OriginServerTS)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.s.wrap(what, err)
	} else if n == 1 {
		return nil
	}
	have := store.Replay{RoomID: r.RoomID, SessionID: r.SessionID, Index: r.Index}
	err = t.one(ctx, what, "SELECT event_id, origin_server_ts FROM sicher_replay WHERE owner_user = ? AND owner_device = ? AND room_id = ? AND session_id = ? AND message_index = ?",
		[]any{r.RoomID, r.SessionID, int64(r.Index)}, func(rows *sql.Rows) error { return rows.Scan(&have.EventID, &have.OriginServerTS) })
	if err != nil {
		return err
	}
	return store.CheckReplay(&have, r)
}

func (t *sqlTx) Secret(ctx context.Context, name string) (store.Secret, error) {
	what := "secret " + name
	var out store.Secret
	err := t.one(ctx, what, "SELECT value FROM sicher_secrets WHERE owner_user = ? AND owner_device = ? AND name = ?", []any{name}, func(r *sql.Rows) error {
		var sealed []byte
		if err := r.Scan(&sealed); err != nil {
			return t.scanErr(what, err)
		}
		pt, err := t.open(what, "sicher_secrets", "value", t.pk(name), sealed)
		out = pt
		return err
	})
	return out, err
}

func (t *sqlTx) PutSecret(ctx context.Context, name string, value store.Secret) error {
	sealed, err := t.seal("sicher_secrets", "value", t.pk(name), value)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "secret "+name, `INSERT INTO sicher_secrets (owner_user, owner_device, name, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, name) DO UPDATE SET value = excluded.value`, name, sealed)
	return err
}

func (t *sqlTx) DeleteSecret(ctx context.Context, name string) error {
	_, err := t.exec(ctx, "secret "+name, "DELETE FROM sicher_secrets WHERE owner_user = ? AND owner_device = ? AND name = ?", name)
	return err
}

func (t *sqlTx) PutOutgoingRequest(ctx context.Context, r *store.OutgoingRequest) error {
	sealed, err := t.seal("sicher_outgoing_requests", "body", t.pk(r.ID), r.Body)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "outgoing request "+r.ID, `INSERT INTO sicher_outgoing_requests (owner_user, owner_device, request_id, request_type, created, body)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, request_id) DO UPDATE SET
		request_type = excluded.request_type, created = excluded.created, body = excluded.body`,
		r.ID, r.Type, unixMilli(r.Created), sealed)
	return err
}

func (t *sqlTx) OutgoingRequests(ctx context.Context) ([]*store.OutgoingRequest, error) {
	var out []*store.OutgoingRequest
	err := t.each(ctx, "outgoing requests",
		"SELECT request_id, request_type, created, body FROM sicher_outgoing_requests WHERE owner_user = ? AND owner_device = ? ORDER BY created, request_id",
		nil, func(r *sql.Rows) error {
			var (
				req     store.OutgoingRequest
				created int64
				sealed  []byte
			)
			if err := r.Scan(&req.ID, &req.Type, &created, &sealed); err != nil {
				return t.scanErr("outgoing requests", err)
			}
			req.Created = fromMilli(created)
			body, err := t.open("outgoing request "+req.ID, "sicher_outgoing_requests", "body", t.pk(req.ID), sealed)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				body = nil
			}
			req.Body = body
			out = append(out, &req)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *sqlTx) DeleteOutgoingRequest(ctx context.Context, id string) error {
	_, err := t.exec(ctx, "outgoing request "+id, "DELETE FROM sicher_outgoing_requests WHERE owner_user = ? AND owner_device = ? AND request_id = ?", id)
	return err
}

func (t *sqlTx) Value(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := t.one(ctx, "value "+name, "SELECT value FROM sicher_values WHERE owner_user = ? AND owner_device = ? AND name = ?", []any{name},
		func(r *sql.Rows) error { return r.Scan(&v) })
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *sqlTx) PutValue(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := t.exec(ctx, "value "+name, `INSERT INTO sicher_values (owner_user, owner_device, name, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (owner_user, owner_device, name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}
