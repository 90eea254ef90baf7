package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/storetest"
)

// withMigrations runs fn with the package's migration list replaced.
func withMigrations(t *testing.T, m []func(context.Context, *sql.Tx, *dialect) error, fn func()) {
	saved := migrations
	migrations = m
	defer func() { migrations = saved }()
	fn()
}

func schemaVersion(t *testing.T, b *backend) string {
	var v []byte
	if err := b.raw.QueryRow("SELECT value FROM sicher_meta WHERE name = 'schema_version'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// synthV2 is a stand-in for a real version-2 step: it adds a column with a default and fills
// it from existing rows, so the test sees both the schema change and the data carried over.
func synthV2(ctx context.Context, tx *sql.Tx, d *dialect) error {
	if _, err := tx.ExecContext(ctx, d.ddl("ALTER TABLE sicher_values ADD COLUMN note TEXT NOT NULL DEFAULT ''")); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "UPDATE sicher_values SET note = 'migrated'")
	return err
}

// TestMigrations upgrades a database of every earlier version to the newest (the real list plus
// a synthetic step), checks that the data survives and that the older code then refuses the
// database as newer.
func TestMigrations(t *testing.T) {
	all := append(append([]func(context.Context, *sql.Tx, *dialect) error{}, migrations...), synthV2)
	for _, db := range []struct {
		name string
		new  func(t *testing.T) *backend
	}{{"SQLite", sqliteBackend}, {"PostgreSQL", func(t *testing.T) *backend { return postgresBackend(t) }}} {
		for from := 0; from < len(all); from++ {
			t.Run(fmt.Sprintf("%s/from_v%d", db.name, from), func(t *testing.T) {
				b := db.new(t)
				key := GenerateKey()
				o := storetest.NewOwner()
				if from > 0 {
					withMigrations(t, all[:from], func() {
						s := mustOpen(t, b, key)
						put(t, s, o, func(tx store.Tx) error { return tx.PutValue(ctx, "sync_token", []byte("s72")) })
						s.Close()
					})
				}
				withMigrations(t, all, func() {
					s := mustOpen(t, b, key)
					if got := schemaVersion(t, b); got != "2" {
						t.Errorf("schema version after upgrade from %d = %s, want 2", from, got)
					}
					if from > 0 {
						var note string
						if err := b.raw.QueryRow("SELECT note FROM sicher_values WHERE name = 'sync_token'").Scan(&note); err != nil || note != "migrated" {
							t.Errorf("the v2 step did not run on old rows: %q, %v", note, err)
						}
						s.View(ctx, o, func(tx store.Tx) error {
							if v, err := tx.Value(ctx, "sync_token"); err != nil || string(v) != "s72" {
								t.Errorf("value after upgrade = %q, %v", v, err)
							}
							return nil
						})
					}
					s.Close()
				})
				withMigrations(t, all[:1], func() {
					_, err := b.open(ctx, key)
					if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade sicher") {
						t.Errorf("v1 code opening a v2 database: %v, want ErrNewerSchema", err)
					}
				})
			})
		}
	}
}

// TestMigrationFailureRollsBack: a failing upgrade step leaves the database at the version
// before it, usable by the code that wrote it.
func TestMigrationFailureRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		key := GenerateKey()
		o := storetest.NewOwner()
		s := mustOpen(t, b, key)
		put(t, s, o, func(tx store.Tx) error { return tx.PutValue(ctx, "k", []byte("v")) })
		s.Close()
		boom := errors.New("boom")
		bad := append(append([]func(context.Context, *sql.Tx, *dialect) error{}, migrations...),
			func(ctx context.Context, tx *sql.Tx, d *dialect) error {
				if err := synthV2(ctx, tx, d); err != nil {
					return err
				}
				return boom
			})
		withMigrations(t, bad, func() {
			if _, err := b.open(ctx, key); !errors.Is(err, boom) {
				t.Fatalf("open with a failing step = %v", err)
			}
		})
		if got := schemaVersion(t, b); got != "1" {
			t.Errorf("schema version after a failed upgrade = %s", got)
		}
		s = mustOpen(t, b, key)
		s.View(ctx, o, func(tx store.Tx) error {
			if v, err := tx.Value(ctx, "k"); err != nil || string(v) != "v" {
				t.Errorf("after a failed upgrade: %q, %v", v, err)
			}
			return nil
		})
	})
}

// TestProtocolPackagesHaveNoDriver: the protocol packages must not pull in database code.
func TestProtocolPackagesHaveNoDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sicher-go/sicher/olm", "github.com/sicher-go/sicher/megolm", "github.com/sicher-go/sicher/event").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "database/sql" || strings.HasPrefix(dep, "modernc.org/sqlite") || strings.HasPrefix(dep, "github.com/jackc/pgx") ||
			strings.HasPrefix(dep, "github.com/sicher-go/sicher/store") {
			t.Errorf("a protocol package depends on %s", dep)
		}
	}
}
