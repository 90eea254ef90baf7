// Package mautriximport copies the end-to-end encryption state of a device out of the SQL
// crypto store of mautrix-go (maunium.net/go/mautrix, crypto/sql_store.go, schema versions 22
// and 23) into a store.Store, in the form package machine reads.
//
// The caller opens the mautrix database (SQLite or PostgreSQL) with the driver of its choice
// and passes the *sql.DB, so this package links no driver. Import only reads it: nothing in
// the mautrix database changes, and the bridge or client can keep using it.
//
// mautrix keeps its account, Olm and Megolm sessions in libolm's pickle format (written by
// libolm or by goolm), encrypted with the application's pickle key. Import opens each one
// with the olm and megolm packages, binds each Olm session to its peer, and re-seals it in
// sicher's own pickle format under the machine's pickle key (the store secret
// "sicher.machine.pickle_key", created if the destination has none), all in one store
// transaction.
//
// What is imported: the account; the Olm sessions with their peer key and times; the inbound
// Megolm sessions with room, sender key, claimed signing key, forwarding chain, shared-history
// flag, provenance, sender user and key-backup flag; withheld notices; the outbound Megolm
// sessions with the devices they were shared with; the replay records (message index to event
// id); the key backup version; the secrets of secret storage (cross-signing private keys, the
// backup key); whether the server has the device keys (so the machine does not upload them
// again); and the tracked users, marked outdated. mautrix keeps devices and
// cross-signing public keys without their signed JSON, which sicher stores and checks, so
// those are not copied: marking every tracked user outdated makes the machine fetch and
// verify them again. Local verification (trust) state and the Olm message-hash table are not
// imported either.
package mautriximport

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sicher-go/sicher/internal/machinestate"
	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
)

// Dialect is the SQL dialect of the mautrix database.
type Dialect uint8

// The dialects mautrix's SQL store runs on.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// Options tune Import.
type Options struct {
	// AccountID is mautrix's account_id of the device to import (the crypto store's
	// accountID argument). Empty means the database's only account.
	AccountID string
	// DryRun reads and opens everything and returns the report, but writes nothing.
	DryRun bool
}

// Report says what Import found and copied.
type Report struct {
	// SchemaVersion is the mautrix crypto store's schema version (table crypto_version).
	SchemaVersion int
	// Imported counts the records copied (or that would be, in a dry run) per kind:
	// "account", "olm_session", "inbound_group_session", "withheld", "outbound_group_session",
	// "replay", "secret", "tracked_user".
	Imported map[string]int
	// Skipped lists the rows that were not copied, with the reason.
	Skipped []Skipped
}

// Skipped is a row Import did not copy.
type Skipped struct {
	Kind   string
	ID     string
	Reason string
}

// Errors a caller branches on.
var (
	// ErrUnknownSchema reports a mautrix schema version this package was not written for.
	ErrUnknownSchema = errors.New("mautriximport: unknown mautrix crypto store schema version")
	// ErrAccount reports a missing or ambiguous account, one whose device id differs from the
	// owner's, or an account pickle that does not open (a wrong pickle key).
	ErrAccount = errors.New("mautriximport: account")
	// ErrDestinationNotEmpty reports a destination that already holds an account for the owner.
	ErrDestinationNotEmpty = errors.New("mautriximport: destination already holds an account for this device")
)

// knownSchemas are the mautrix crypto store schema versions whose tables this package reads:
// 22 (mautrix-go v0.32) and 23 (v0.33, which only changes the inbound-session primary key).
var knownSchemas = map[int]bool{22: true, 23: true}

// Names package machine keeps in the store: the secret holding its pickle key, and the value
// that says the server accepted the device keys (so they are not uploaded again).
const (
	pickleKeySecret = machinestate.PickleKeySecret
	keysUploadedVal = machinestate.DeviceKeysUploaded
)

// Import reads the mautrix crypto store in src (dialect d), opens its pickles with
// mautrixPickleKey, and writes the state of owner's device into dst in one Update, unless
// opts.DryRun. It refuses a schema version it does not know (ErrUnknownSchema), an account it
// cannot find or open (ErrAccount) and a destination that already has an account
// (ErrDestinationNotEmpty). A session whose pickle does not open is skipped and listed in the
// report; the rest is imported.
func Import(ctx context.Context, src *sql.DB, d Dialect, mautrixPickleKey []byte, owner store.Owner, dst store.Store, opts Options) (*Report, error) {
	if d != SQLite && d != Postgres {
		return nil, fmt.Errorf("mautriximport: unknown dialect %d", d)
	}
	if owner.UserID == "" || owner.DeviceID == "" {
		return nil, errors.New("mautriximport: owner needs a user id and a device id")
	}
	if src == nil || (dst == nil && !opts.DryRun) {
		return nil, errors.New("mautriximport: nil database or store")
	}
	r := &reader{ctx: ctx, db: src, d: d, key: mautrixPickleKey,
		rep: &Report{Imported: map[string]int{}}}
	var err error
	if r.rep.SchemaVersion, err = r.schemaVersion(); err != nil {
		return nil, err
	}
	if err := r.readAll(opts.AccountID, owner.DeviceID); err != nil {
		return nil, err
	}
	if opts.DryRun {
		return r.rep, nil
	}
	err = dst.Update(ctx, owner, func(tx store.Tx) error { return r.write(ctx, tx) })
	if err != nil {
		return nil, err
	}
	return r.rep, nil
}

type reader struct {
	ctx context.Context
	db  *sql.DB
	d   Dialect
	key []byte
	rep *Report

	accountID     string
	account       *olm.Account
	backupVersion string
	keysUploaded  bool // crypto_account.shared: the server has the device keys
	olm           []olmRow
	inbound       []*store.InboundGroupSession
	inboundSess   []*megolm.InboundSession
	withheld      []*store.Withheld
	outbound      []*store.OutboundGroupSession
	outboundSess  []*megolm.OutboundSession
	replays       []*store.Replay
	secrets       map[string][]byte
	tracked       []string
}

type olmRow struct {
	rec  *store.OlmSession
	sess *olm.Session
}

func (r *reader) skip(kind, id, reason string) {
	r.rep.Skipped = append(r.rep.Skipped, Skipped{Kind: kind, ID: id, Reason: reason})
}

// q rewrites $n placeholders for SQLite.
func (r *reader) q(query string) string {
	if r.d == Postgres {
		return query
	}
	for i := 9; i >= 1; i-- {
		query = strings.ReplaceAll(query, "$"+strconv.Itoa(i), "?")
	}
	return query
}

func (r *reader) schemaVersion() (int, error) {
	var v int
	if err := r.db.QueryRowContext(r.ctx, "SELECT version FROM crypto_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("mautriximport: reading crypto_version (is this a mautrix crypto store?): %w", err)
	}
	if !knownSchemas[v] {
		return v, fmt.Errorf("%w: %d (this version reads 22 and 23, mautrix-go v0.32 and v0.33; open the database with a mautrix-go of that range first, or use a newer sicher)", ErrUnknownSchema, v)
	}
	return v, nil
}

func (r *reader) readAll(accountID, deviceID string) error {
	if err := r.readAccount(accountID, deviceID); err != nil {
		return err
	}
	steps := []func() error{r.readOlm, r.readInbound, r.readOutbound, r.readReplays, r.readSecrets, r.readTracked}
	for _, f := range steps {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) readAccount(accountID, deviceID string) error {
	rows, err := r.db.QueryContext(r.ctx, "SELECT account_id, device_id, shared, account, key_backup_version FROM crypto_account")
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_account: %w", err)
	}
	defer rows.Close()
	var ids []string
	var found bool
	var dev string
	var pickled []byte
	for rows.Next() {
		var id, dv, bv string
		var p []byte
		var shared bool
		if err := rows.Scan(&id, &dv, &shared, &p, &bv); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_account: %w", err)
		}
		ids = append(ids, id)
		if accountID == "" || id == accountID {
			r.accountID, dev, pickled, r.backupVersion, r.keysUploaded = id, dv, p, bv, shared
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_account: %w", err)
	}
	switch {
	case !found:
		return fmt.Errorf("%w: no account %q in crypto_account (accounts: %q)", ErrAccount, accountID, ids)
	case accountID == "" && len(ids) > 1:
		return fmt.Errorf("%w: the database holds %d accounts %q; name one", ErrAccount, len(ids), ids)
	case dev != deviceID:
		return fmt.Errorf("%w: account %q belongs to device %q, not %q", ErrAccount, r.accountID, dev, deviceID)
	}
	r.account, err = olm.UnpickleLibolmAccount(r.key, string(pickled))
	if err != nil {
		return fmt.Errorf("%w: the account pickle does not open (wrong pickle key?): %w", ErrAccount, err)
	}
	r.rep.Imported["account"] = 1
	return nil
}

func (r *reader) readOlm() error {
	rows, err := r.db.QueryContext(r.ctx, r.q(`SELECT session_id, sender_key, session, created_at, last_decrypted, last_encrypted
		FROM crypto_olm_session WHERE account_id=$1 ORDER BY session_id`), r.accountID)
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_olm_session: %w", err)
	}
	defer rows.Close()
	ours := r.account.Curve25519()
	for rows.Next() {
		var id, sender string
		var p []byte
		var created, dec, enc any
		if err := rows.Scan(&id, &sender, &p, &created, &dec, &enc); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_olm_session: %w", err)
		}
		peer, err := key.ParseCurve25519(sender)
		if err != nil {
			r.skip("olm_session", id, "sender key is not a Curve25519 key")
			continue
		}
		s, err := olm.UnpickleLibolmSession(r.key, string(p))
		if err != nil {
			r.skip("olm_session", id, "pickle does not open: "+err.Error())
			continue
		}
		if err := s.BindPeer(ours, peer); err != nil {
			r.skip("olm_session", id, "session does not belong to this account and peer: "+err.Error())
			continue
		}
		if s.ID() != id {
			r.skip("olm_session", id, "stored session id differs from the pickle's "+s.ID())
			continue
		}
		rec := &store.OlmSession{PeerKey: peer.String(), SessionID: id,
			Created: timeOf(created), LastReceived: timeOf(dec)}
		rec.LastUsed = rec.LastReceived
		if e := timeOf(enc); e.After(rec.LastUsed) {
			rec.LastUsed = e
		}
		r.olm = append(r.olm, olmRow{rec, s})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_olm_session: %w", err)
	}
	r.rep.Imported["olm_session"] = len(r.olm)
	return nil
}

func (r *reader) readInbound() error {
	rows, err := r.db.QueryContext(r.ctx, r.q(`SELECT room_id, session_id, sender_key, signing_key, session,
		forwarding_chains, shared_history, withheld_code, withheld_reason, key_backup_version, key_source, source_user
		FROM crypto_megolm_inbound_session WHERE account_id=$1 ORDER BY room_id, session_id`), r.accountID)
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_megolm_inbound_session: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var room, id, sender, backup, source, user string
		var signing, chains, code, reason sql.NullString
		var shared sql.NullBool
		var p []byte
		if err := rows.Scan(&room, &id, &sender, &signing, &p, &chains, &shared, &code, &reason, &backup, &source, &user); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_megolm_inbound_session: %w", err)
		}
		name := room + " " + id
		if p == nil {
			if code.Valid {
				r.withheld = append(r.withheld, &store.Withheld{RoomID: room, SessionID: id, SenderKey: sender,
					Code: code.String, Reason: reason.String})
			} else {
				r.skip("inbound_group_session", name, "no session and no withheld code")
			}
			continue
		}
		s, err := megolm.UnpickleLibolmInboundSession(r.key, string(p))
		if err != nil {
			r.skip("inbound_group_session", name, "pickle does not open: "+err.Error())
			continue
		}
		if s.SessionID().String() != id {
			r.skip("inbound_group_session", name, "stored session id differs from the pickle's")
			continue
		}
		if _, err := key.ParseCurve25519(sender); err != nil {
			r.skip("inbound_group_session", name, "sender key is not a Curve25519 key")
			continue
		}
		if _, err := key.ParseEd25519(signing.String); err != nil {
			r.skip("inbound_group_session", name, "no claimed Ed25519 signing key")
			continue
		}
		var chain []string
		if chains.String != "" {
			chain = strings.Split(chains.String, ",")
		}
		if !allCurve25519(chain) {
			r.skip("inbound_group_session", name, "forwarding chain holds a value that is not a Curve25519 key")
			continue
		}
		prov := store.FromOlm
		switch source {
		case "backup":
			prov = store.FromBackup
		case "import":
			prov = store.FromExport
		case "forward":
			prov = store.Forwarded
		case "direct":
		case "":
			if len(chain) > 0 {
				prov = store.Forwarded
			}
		default:
			r.skip("inbound_group_session", name, "unknown key_source "+strconv.Quote(source))
			continue
		}
		r.inbound = append(r.inbound, &store.InboundGroupSession{RoomID: room, SessionID: id, SenderUser: user,
			SenderKey: sender, SigningKey: signing.String, Provenance: prov, ForwardingChain: chain,
			SharedHistory: shared.Bool, FirstKnownIndex: s.FirstKnownIndex(),
			BackedUp: r.backupVersion != "" && backup == r.backupVersion})
		r.inboundSess = append(r.inboundSess, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_megolm_inbound_session: %w", err)
	}
	r.rep.Imported["inbound_group_session"] = len(r.inbound)
	r.rep.Imported["withheld"] = len(r.withheld)
	return nil
}

func (r *reader) readOutbound() error {
	rows, err := r.db.QueryContext(r.ctx, r.q(`SELECT room_id, session_id, session, created_at
		FROM crypto_megolm_outbound_session WHERE account_id=$1 ORDER BY room_id`), r.accountID)
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_megolm_outbound_session: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var room, id string
		var p []byte
		var created any
		if err := rows.Scan(&room, &id, &p, &created); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_megolm_outbound_session: %w", err)
		}
		s, err := megolm.UnpickleLibolmOutboundSession(r.key, string(p))
		if err != nil {
			r.skip("outbound_group_session", room, "pickle does not open: "+err.Error())
			continue
		}
		if s.SessionID().String() != id {
			r.skip("outbound_group_session", room, "stored session id differs from the pickle's")
			continue
		}
		r.outbound = append(r.outbound, &store.OutboundGroupSession{RoomID: room, SessionID: id,
			MessageCount: s.MessageIndex(), Created: timeOf(created)})
		r.outboundSess = append(r.outboundSess, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_megolm_outbound_session: %w", err)
	}
	rows.Close()
	// mautrix records the devices by user and identity key, without the message index they
	// received the key at. The current index is recorded: a device is never assumed to
	// hold earlier messages than it may have.
	for i, o := range r.outbound {
		sh, err := r.db.QueryContext(r.ctx, r.q(`SELECT s.user_id, d.device_id FROM crypto_megolm_outbound_session_shared s
			JOIN crypto_device d ON d.user_id = s.user_id AND d.identity_key = s.identity_key
			WHERE s.session_id=$1 ORDER BY s.user_id, d.device_id`), o.SessionID)
		if err != nil {
			return fmt.Errorf("mautriximport: reading crypto_megolm_outbound_session_shared: %w", err)
		}
		for sh.Next() {
			var w store.SharedWith
			if err := sh.Scan(&w.UserID, &w.DeviceID); err != nil {
				sh.Close()
				return fmt.Errorf("mautriximport: reading crypto_megolm_outbound_session_shared: %w", err)
			}
			w.Index = r.outboundSess[i].MessageIndex()
			o.SharedWith = append(o.SharedWith, w)
		}
		err = sh.Err()
		sh.Close()
		if err != nil {
			return fmt.Errorf("mautriximport: reading crypto_megolm_outbound_session_shared: %w", err)
		}
	}
	r.rep.Imported["outbound_group_session"] = len(r.outbound)
	return nil
}

// readReplays reads crypto_message_index, which mautrix keys by session id alone; a record
// is kept when the session id names exactly one imported inbound session (whose room it
// takes).
func (r *reader) readReplays() error {
	rooms := map[string][]string{}
	for _, s := range r.inbound {
		rooms[s.SessionID] = append(rooms[s.SessionID], s.RoomID)
	}
	rows, err := r.db.QueryContext(r.ctx, `SELECT session_id, "index", event_id, timestamp FROM crypto_message_index ORDER BY session_id, "index"`)
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_message_index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rp store.Replay
		var idx int64
		if err := rows.Scan(&rp.SessionID, &idx, &rp.EventID, &rp.OriginServerTS); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_message_index: %w", err)
		}
		if rm := rooms[rp.SessionID]; len(rm) == 1 && idx >= 0 && idx <= 1<<32-1 {
			rp.RoomID, rp.Index = rm[0], uint32(idx)
			r.replays = append(r.replays, &rp)
		}
		// Records of other accounts' sessions share the table; they are not ours to copy.
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_message_index: %w", err)
	}
	r.rep.Imported["replay"] = len(r.replays)
	return nil
}

func (r *reader) readSecrets() error {
	rows, err := r.db.QueryContext(r.ctx, r.q(`SELECT name, secret FROM crypto_secrets WHERE account_id=$1 ORDER BY name`), r.accountID)
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_secrets: %w", err)
	}
	defer rows.Close()
	r.secrets = map[string][]byte{}
	for rows.Next() {
		var name string
		var p []byte
		if err := rows.Scan(&name, &p); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_secrets: %w", err)
		}
		if name == pickleKeySecret {
			r.skip("secret", name, "reserved name")
			continue
		}
		v, err := pickle.OpenLibolm(r.key, string(p))
		if err != nil {
			r.skip("secret", name, "does not open under the pickle key")
			continue
		}
		r.secrets[name] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_secrets: %w", err)
	}
	r.rep.Imported["secret"] = len(r.secrets)
	return nil
}

func (r *reader) readTracked() error {
	rows, err := r.db.QueryContext(r.ctx, "SELECT user_id FROM crypto_tracked_user ORDER BY user_id")
	if err != nil {
		return fmt.Errorf("mautriximport: reading crypto_tracked_user: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return fmt.Errorf("mautriximport: reading crypto_tracked_user: %w", err)
		}
		r.tracked = append(r.tracked, u)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mautriximport: reading crypto_tracked_user: %w", err)
	}
	r.rep.Imported["tracked_user"] = len(r.tracked)
	return nil
}

func (r *reader) write(ctx context.Context, tx store.Tx) error {
	if _, err := tx.Account(ctx); err == nil {
		return ErrDestinationNotEmpty
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var pk [olm.PickleKeySize]byte
	old, err := tx.Secret(ctx, pickleKeySecret)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := io.ReadFull(rand.Reader, pk[:]); err != nil {
			return fmt.Errorf("mautriximport: reading randomness: %w", err)
		}
		if err := tx.PutSecret(ctx, pickleKeySecret, pk[:]); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(old) != len(pk):
		return fmt.Errorf("mautriximport: destination pickle key has %d bytes: %w", len(old), store.ErrCorrupt)
	default:
		copy(pk[:], old)
	}
	defer clear(pk[:])

	p, err := r.account.Pickle(&pk)
	if err != nil {
		return err
	}
	if err := tx.PutAccount(ctx, store.Secret(p)); err != nil {
		return err
	}
	if r.keysUploaded {
		if err := tx.PutValue(ctx, keysUploadedVal, []byte("1")); err != nil {
			return err
		}
	}
	for _, o := range r.olm {
		if p, err = o.sess.Pickle(&pk); err != nil {
			return err
		}
		o.rec.State = store.Secret(p)
		if err := tx.PutOlmSession(ctx, o.rec); err != nil {
			return err
		}
	}
	if r.backupVersion != "" {
		if err := tx.SetBackupVersion(ctx, r.backupVersion); err != nil {
			return err
		}
	}
	for i, rec := range r.inbound {
		if p, err = r.inboundSess[i].Pickle(&pk); err != nil {
			return err
		}
		rec.State = store.Secret(p)
		if err := tx.PutInboundGroupSession(ctx, rec); err != nil {
			return err
		}
	}
	for _, w := range r.withheld {
		if err := tx.PutWithheld(ctx, w); err != nil {
			return err
		}
	}
	for i, rec := range r.outbound {
		if p, err = r.outboundSess[i].Pickle(&pk); err != nil {
			return err
		}
		rec.State = store.Secret(p)
		if err := tx.PutOutboundGroupSession(ctx, rec); err != nil {
			return err
		}
	}
	for _, rp := range r.replays {
		if err := tx.RecordReplay(ctx, rp); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(r.secrets))
	for n := range r.secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tx.PutSecret(ctx, n, r.secrets[n]); err != nil {
			return err
		}
	}
	for _, u := range r.tracked {
		if err := tx.PutTrackedUser(ctx, &store.TrackedUser{UserID: u, Outdated: true}); err != nil {
			return err
		}
	}
	return nil
}

func allCurve25519(keys []string) bool {
	for _, k := range keys {
		if _, err := key.ParseCurve25519(k); err != nil {
			return false
		}
	}
	return true
}

// timeOf converts a timestamp column as the database driver returns it: a time.Time, or text
// in one of the layouts SQLite drivers write.
func timeOf(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case []byte:
		return parseTime(string(t))
	case string:
		return parseTime(t)
	case int64:
		return time.UnixMilli(t)
	}
	return time.Time{}
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
}

func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " m=+"); i > 0 { // time.Time.String's monotonic suffix
		s = s[:i]
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
