package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/storetest"
)

// backend opens stores of one dialect for the tests. open returns a new handle on the same
// database each time it is called on one backend value.
type backend struct {
	name string
	open func(ctx context.Context, key Key) (*Store, error)
	raw  *sql.DB // direct access, to damage rows
	dsn  string  // PostgreSQL: the DSN of the test's schema
	path string  // SQLite: the file
}

func sqliteBackend(t *testing.T) *backend {
	path := filepath.Join(t.TempDir(), "store.db")
	b := &backend{name: "SQLite", path: path, open: func(ctx context.Context, key Key) (*Store, error) { return OpenSQLite(ctx, path, key) }}
	t.Cleanup(func() {
		if b.raw != nil {
			b.raw.Close()
		}
	})
	b.raw = openRawSQLite(t, path)
	return b
}

func openRawSQLite(t *testing.T, path string) *sql.DB {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// postgresDSN returns the DSN in SICHER_TEST_POSTGRES, skipping the test when it is unset
// (failing when CI=true: CI must test PostgreSQL; scripts/postgres.sh starts one).
func postgresDSN(t testing.TB) string {
	dsn := os.Getenv("SICHER_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SICHER_TEST_POSTGRES is not set; in CI it must be (eval \"$(scripts/postgres.sh start)\")")
		}
		t.Skip("SICHER_TEST_POSTGRES is not set; eval \"$(scripts/postgres.sh start)\" to test PostgreSQL")
	}
	return dsn
}

// postgresBackend gives each test its own schema, dropped at the end.
func postgresBackend(t testing.TB) *backend {
	dsn := postgresDSN(t)
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "sicher_test_" + hex.EncodeToString(rnd[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	sdsn := withSearchPath(t, dsn, schema)
	raw, err := sql.Open("pgx", sdsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return &backend{name: "PostgreSQL", raw: raw, dsn: sdsn, open: func(ctx context.Context, key Key) (*Store, error) { return OpenPostgres(ctx, sdsn, key) }}
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func mustOpen(t testing.TB, b *backend, key Key) *Store {
	t.Helper()
	s, err := b.open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteConformance(t *testing.T) {
	b := sqliteBackend(t)
	key := GenerateKey()
	storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t, b, key) })
}

func TestPostgresConformance(t *testing.T) {
	b := postgresBackend(t)
	key := GenerateKey()
	storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t, b, key) })
}

// forEachBackend runs a test on SQLite and on PostgreSQL (when configured).
func forEachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Run("SQLite", func(t *testing.T) { fn(t, sqliteBackend(t)) })
	t.Run("PostgreSQL", func(t *testing.T) { fn(t, postgresBackend(t)) })
}
