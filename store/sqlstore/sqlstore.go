// Package sqlstore is the store.Store of a Matrix client on SQL databases: SQLite
// (modernc.org/sqlite, pure Go, the embedded default) and PostgreSQL (github.com/jackc/pgx/v5
// through database/sql). One implementation serves both; what differs is the dialect.
//
// # Sealed at rest
//
// Every secret column (the account, sessions, secrets, request bodies) is sealed with
// XChaCha20-Poly1305 under a 32-byte Key the caller supplies, with a random nonce and the row's
// identity (table, column, owner, primary key) as associated data: a sealed value copied to
// another row, another session or another account does not open, and reading it gives an error
// matching store.ErrCorrupt that names the row. Ids, public keys, times and flags stay clear
// so rows can be found without the key. Opening a store with the wrong key fails with
// ErrWrongKey (a sealed check value in the sicher_meta table); Rekey re-seals every row in one
// transaction.
//
// # Transactions
//
// Update transactions are serialised. On SQLite they begin with BEGIN IMMEDIATE (the
// database's write lock, held until commit; other processes wait up to the busy timeout). On
// PostgreSQL every read inside Update locks the rows it reads (SELECT … FOR UPDATE), so two
// processes that read-modify-write the same session take turns. Commits are durable before
// Update returns (SQLite runs in WAL mode with synchronous=FULL).
//
// # Memory
//
// A Store's memory does not grow with the number of rows: it keeps the statements it prepared,
// SQLite's page cache, and a cache of unsealed inbound Megolm session states whose size the
// caller sets (Options.CacheSize, see OpenSQLiteOptions). The cache is checked against the row's
// sealed bytes on every read, so it never hides a write of another process.
//
// # Schema
//
// The schema is versioned (sicher_meta.schema_version); opening an older database upgrades it
// in the opening transaction, and a database written by a newer version of this package is
// refused with ErrNewerSchema. A file that is not a sicher store gives ErrNotStore, and a
// truncated or damaged SQLite file ErrDamaged.
package sqlstore

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/sicher-go/sicher/store"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Errors from opening a store.
var (
	// ErrWrongKey reports that the store key does not open the store.
	ErrWrongKey = errors.New("sqlstore: wrong store key")
	// ErrNewerSchema reports a database written by a newer version of sicher.
	ErrNewerSchema = errors.New("sqlstore: database written by a newer version of sicher")
	// ErrNotStore reports a database that is not a sicher store.
	ErrNotStore = errors.New("sqlstore: not a sicher store")
	// ErrDamaged reports a database file that is truncated or damaged.
	ErrDamaged = errors.New("sqlstore: database file is truncated or damaged")
)

const (
	storeFormat = "sicher-store"
	keyCheckPT  = "sicher store key check"
	// advisoryLock is the PostgreSQL advisory lock id of a sicher store (opening and Rekey take
	// it exclusively, Update shared).
	advisoryLock = 0x73696368 // "sich"
)

// Store is a store.Store on SQLite or PostgreSQL. It is safe for concurrent use, also by
// several processes on the same database.
type Store struct {
	d    *dialect
	w    *sql.DB // Update, Rekey
	r    *sql.DB // View
	name string  // for errors

	mu     sync.RWMutex // Rekey excludes transactions of this process
	sealer sealer
	check  []byte // the sealed key check this process knows

	cache        *openCache // unsealed inbound Megolm session states; nil: off
	wStmt, rStmt stmtCache  // SQLite: statements prepared once per handle
}

var _ store.Store = (*Store)(nil)

// OpenSQLite opens the SQLite store at path, creating it (and upgrading its schema) if needed.
// The database runs in WAL mode with foreign keys on and a busy timeout of 10 s. It returns
// ErrWrongKey, ErrNewerSchema, ErrNotStore or ErrDamaged when the file cannot be used.
func OpenSQLite(ctx context.Context, path string, key Key) (*Store, error) {
	return OpenSQLiteOptions(ctx, path, key, Options{})
}

// OpenSQLiteOptions is OpenSQLite with options (the size of the session cache). It returns
// the errors OpenSQLite returns.
func OpenSQLiteOptions(ctx context.Context, path string, key Key, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlstore: SQLite path %q: give a file name without ? or # (store.NewMemory is the in-memory store)", path)
	}
	if !sqliteAvailable {
		return nil, fmt.Errorf("sqlstore: SQLite is not available on %s/%s (modernc.org/sqlite does not build there); use OpenPostgres", runtime.GOOS, runtime.GOARCH)
	}
	if err := checkSQLiteFile(path); err != nil {
		return nil, err
	}
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", path, err)
	}
	w.SetMaxOpenConns(1) // one writer; other processes wait on the lock
	s, err := open(ctx, sqliteDialect, w, path, key, opts)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)&_txlock=deferred")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s.r = r
	return s, nil
}

// OpenPostgres opens the store in the PostgreSQL database named by dsn (a URL or key=value
// string, as pgx reads it), creating its tables (and upgrading them) if needed. The tables are
// named sicher_* in the connection's current schema. It returns ErrWrongKey, ErrNewerSchema or
// ErrNotStore when the database cannot be used.
func OpenPostgres(ctx context.Context, dsn string, key Key) (*Store, error) {
	return OpenPostgresOptions(ctx, dsn, key, Options{})
}

// OpenPostgresOptions is OpenPostgres with options (the size of the session cache). It returns
// the errors OpenPostgres returns.
func OpenPostgresOptions(ctx context.Context, dsn string, key Key, opts Options) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: PostgreSQL: %w", err)
	}
	s, err := open(ctx, postgresDialect, db, "PostgreSQL", key, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.r = db
	return s, nil
}

// checkSQLiteFile refuses a file that is not SQLite, or whose header promises more pages
// than the file holds (a truncated copy), before SQLite opens it.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if fi.Size() == 0 {
		return nil
	}
	var h [100]byte
	n, _ := io.ReadFull(f, h[:])
	magic := []byte("SQLite format 3\x00")
	if !bytes.HasPrefix(h[:n], magic[:min(n, len(magic))]) {
		return fmt.Errorf("%w: %s is not a SQLite database", ErrNotStore, path)
	}
	if n < len(h) {
		return fmt.Errorf("%w: %s: %d bytes, shorter than a SQLite header", ErrDamaged, path, fi.Size())
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	// The page count in the header is valid when the change counter equals the
	// version-valid-for number (SQLite file format, "In-header database size").
	valid := binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96])
	if valid && pages*pageSize > fi.Size() {
		return fmt.Errorf("%w: %s: the header counts %d pages of %d bytes, the file has %d bytes",
			ErrDamaged, path, pages, pageSize, fi.Size())
	}
	return nil
}

// wrap adds the store's name to a database error and maps SQLite's corruption codes to
// ErrDamaged.
func (s *Store) wrap(what string, err error) error {
	var c interface{ Code() int }
	if errors.As(err, &c) {
		switch c.Code() & 0xff {
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return fmt.Errorf("%w: %s: %s: %w", ErrDamaged, s.name, what, err)
		}
	}
	return fmt.Errorf("sqlstore: %s: %s: %w", s.name, what, err)
}

func open(ctx context.Context, d *dialect, db *sql.DB, name string, key Key, opts Options) (*Store, error) {
	s := &Store{d: d, w: db, name: name, sealer: sealer{key: key}, cache: newOpenCache(opts.CacheSize)}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.wrap("open", err)
	}
	defer tx.Rollback()
	if d == postgresDialect {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryLock); err != nil {
			return nil, s.wrap("lock", err)
		}
	}
	var tablesQuery string
	if d == sqliteDialect {
		tablesQuery = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	} else {
		tablesQuery = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	rows, err := tx.QueryContext(ctx, tablesQuery)
	if err != nil {
		return nil, s.wrap("list tables", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, s.wrap("list tables", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list tables", err)
	}

	version := 0
	meta := func(n string) ([]byte, error) {
		var v []byte
		err := tx.QueryRowContext(ctx, d.q("SELECT value FROM sicher_meta WHERE name = ?"), n).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: %s: sicher_meta has no %s", ErrNotStore, name, n)
		}
		if err != nil {
			return nil, s.wrap("read sicher_meta", err)
		}
		return v, nil
	}
	switch {
	case containsString(tables, "sicher_meta"):
		format, err := meta("format")
		if err != nil {
			return nil, err
		}
		if string(format) != storeFormat {
			return nil, fmt.Errorf("%w: %s: format %q", ErrNotStore, name, format)
		}
		v, err := meta("schema_version")
		if err != nil {
			return nil, err
		}
		version, err = strconv.Atoi(string(v))
		if err != nil || version < 1 {
			return nil, fmt.Errorf("%w: %s: schema version %q", ErrNotStore, name, v)
		}
		if version > len(migrations) {
			return nil, fmt.Errorf("%w: %s has schema version %d, this version of sicher reads up to %d; upgrade sicher",
				ErrNewerSchema, name, version, len(migrations))
		}
		if s.check, err = meta("key_check"); err != nil {
			return nil, err
		}
		pt, err := s.sealer.open("sicher_meta", "value", []string{"key_check"}, s.check)
		if err != nil || string(pt) != keyCheckPT {
			return nil, fmt.Errorf("%w: %s", ErrWrongKey, name)
		}
	case d == sqliteDialect && len(tables) > 0:
		return nil, fmt.Errorf("%w: %s holds other tables (%s)", ErrNotStore, name, strings.Join(tables, ", "))
	}

	for v := version; v < len(migrations); v++ {
		if err := migrations[v](ctx, tx, d); err != nil {
			return nil, s.wrap(fmt.Sprintf("upgrade schema from version %d", v), err)
		}
	}
	upsert := d.q("INSERT INTO sicher_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
	if version == 0 {
		if _, err := tx.ExecContext(ctx, upsert, "format", []byte(storeFormat)); err != nil {
			return nil, s.wrap("create", err)
		}
		if s.check, err = s.sealer.seal("sicher_meta", "value", []string{"key_check"}, []byte(keyCheckPT)); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, upsert, "key_check", s.check); err != nil {
			return nil, s.wrap("create", err)
		}
	}
	if version != len(migrations) {
		if _, err := tx.ExecContext(ctx, upsert, "schema_version", []byte(strconv.Itoa(len(migrations)))); err != nil {
			return nil, s.wrap("create", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, s.wrap("open", err)
	}
	return s, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, owner store.Owner, fn func(store.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var opts *sql.TxOptions
	if s.d == postgresDialect {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return s.wrap("begin", err)
	}
	if s.d == sqliteDialect {
		defer s.rStmt.flush(ctx, s.r) // after the rollback below
	}
	defer tx.Rollback()
	t := &sqlTx{s: s, tx: tx, owner: owner, sc: &s.rStmt}
	if err := s.checkKey(ctx, t, false); err != nil {
		return err
	}
	return fn(t)
}

// checkKey fails with ErrWrongKey if the store was re-keyed (by another process) since this
// handle opened it: rows sealed under the new key would not open, and rows this handle wrote
// would not open for the others.
//
// On PostgreSQL with lock set, the same round trip takes the shared advisory lock that orders
// Update against opening and Rekey.
func (s *Store) checkKey(ctx context.Context, t *sqlTx, lock bool) error {
	var (
		check []byte
		err   error
	)
	switch {
	case s.d == postgresDialect && lock:
		var locked any
		err = t.tx.QueryRowContext(ctx, "SELECT pg_advisory_xact_lock_shared($1), (SELECT value FROM sicher_meta WHERE name = $2)",
			advisoryLock, "key_check").Scan(&locked, &check)
	case s.d == postgresDialect:
		err = t.tx.QueryRowContext(ctx, "SELECT value FROM sicher_meta WHERE name = $1", "key_check").Scan(&check)
	default:
		var st *sql.Stmt
		if st, err = t.prepared(ctx, "SELECT value FROM sicher_meta WHERE name = ?"); err == nil {
			err = st.QueryRowContext(ctx, "key_check").Scan(&check)
		}
	}
	if err != nil {
		return s.wrap("read key check", err)
	}
	if !bytes.Equal(check, s.check) {
		return fmt.Errorf("%w: %s was re-keyed since it was opened", ErrWrongKey, s.name)
	}
	return nil
}

// Update runs fn in a read-write transaction and commits it if fn returns nil. If another
// process re-keyed the store since it was opened, Update (like View) fails with ErrWrongKey.
func (s *Store) Update(ctx context.Context, owner store.Owner, fn func(store.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("begin", err)
	}
	if s.d == sqliteDialect {
		defer s.wStmt.flush(ctx, s.w) // after the rollback below
	}
	defer tx.Rollback() // a no-op after Commit; releases the lock if fn panics
	t := &sqlTx{s: s, tx: tx, owner: owner, writable: true, sc: &s.wStmt}
	if err := s.checkKey(ctx, t, true); err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flushInbound(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("commit", err)
	}
	return nil
}

// Rekey re-seals every sealed row, and the key check, from oldKey to newKey in one
// transaction, then uses newKey. It returns ErrWrongKey if oldKey is not the store's key.
// Other processes that have the store open fail their next Update with ErrWrongKey and must
// open it again with the new key.
func (s *Store) Rekey(ctx context.Context, oldKey, newKey Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if subtle.ConstantTimeCompare(oldKey.b[:], s.sealer.key.b[:]) != 1 {
		return fmt.Errorf("%w: %s: the old key given to Rekey is not the store's key", ErrWrongKey, s.name)
	}
	old, next := &sealer{key: oldKey}, &sealer{key: newKey}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("begin", err)
	}
	defer tx.Rollback()
	if s.d == postgresDialect {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryLock); err != nil {
			return s.wrap("lock", err)
		}
	}
	var check []byte
	if err := tx.QueryRowContext(ctx, s.d.q("SELECT value FROM sicher_meta WHERE name = ?"), "key_check").Scan(&check); err != nil {
		return s.wrap("read key check", err)
	}
	if pt, err := old.open("sicher_meta", "value", []string{"key_check"}, check); err != nil || string(pt) != keyCheckPT {
		return fmt.Errorf("%w: %s: the old key given to Rekey does not open the store", ErrWrongKey, s.name)
	}
	for _, t := range sealedTables {
		if err := rekeyTable(ctx, tx, s, t, old, next); err != nil {
			return err
		}
	}
	newCheck, err := next.seal("sicher_meta", "value", []string{"key_check"}, []byte(keyCheckPT))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.d.q("UPDATE sicher_meta SET value = ? WHERE name = ?"), newCheck, "key_check"); err != nil {
		return s.wrap("rekey", err)
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("commit", err)
	}
	s.sealer, s.check = *next, newCheck
	s.cache.reset()
	return nil
}

func rekeyTable(ctx context.Context, tx *sql.Tx, s *Store, t sealedTable, old, next *sealer) error {
	cols := append(append([]string{}, t.pk...), t.cols...)
	rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+t.name)
	if err != nil {
		return s.wrap("rekey "+t.name, err)
	}
	type update struct {
		pk     []string
		sealed [][]byte
	}
	var updates []update
	for rows.Next() {
		pk := make([]string, len(t.pk))
		sealed := make([][]byte, len(t.cols))
		dst := make([]any, 0, len(cols))
		for i := range pk {
			dst = append(dst, &pk[i])
		}
		for i := range sealed {
			dst = append(dst, &sealed[i])
		}
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return s.wrap("rekey "+t.name, err)
		}
		for i, c := range t.cols {
			pt, err := old.open(t.name, c, pk, sealed[i])
			if err != nil {
				rows.Close()
				return fmt.Errorf("%w: %s row %s, column %s: %v", store.ErrCorrupt, t.name, strings.Join(pk, " / "), c, err)
			}
			if sealed[i], err = next.seal(t.name, c, pk, pt); err != nil {
				rows.Close()
				return err
			}
		}
		updates = append(updates, update{pk, sealed})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap("rekey "+t.name, err)
	}
	set := make([]string, len(t.cols))
	for i, c := range t.cols {
		set[i] = c + " = ?"
	}
	where := make([]string, len(t.pk))
	for i, c := range t.pk {
		where[i] = c + " = ?"
	}
	q := s.d.q("UPDATE " + t.name + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND "))
	for _, u := range updates {
		args := make([]any, 0, len(cols))
		for _, v := range u.sealed {
			args = append(args, v)
		}
		for _, v := range u.pk {
			args = append(args, v)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return s.wrap("rekey "+t.name, err)
		}
	}
	return nil
}

// Close closes the database connections.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache.reset()
	err := errors.Join(s.wStmt.close(), s.rStmt.close(), s.w.Close())
	if s.r != s.w && s.r != nil {
		err = errors.Join(err, s.r.Close())
	}
	return err
}
