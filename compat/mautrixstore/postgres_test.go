package mautrixstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/mautriximport"
)

// TestImportPostgres is TestImportMautrixStore with mautrix's store on PostgreSQL, in a
// schema of its own. It needs SICHER_TEST_POSTGRES (eval "$(scripts/postgres.sh start)").
func TestImportPostgres(t *testing.T) {
	dsn := os.Getenv("SICHER_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("SICHER_TEST_POSTGRES is not set; eval \"$(scripts/postgres.sh start)\" to test PostgreSQL")
	}
	ctx := context.Background()
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "mautrix_import_" + hex.EncodeToString(rnd[:])
	admin := must(sql.Open("pgx", dsn))
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec("DROP SCHEMA " + schema + " CASCADE")
	u := must(url.Parse(dsn))
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := must(sql.Open("pgx", u.String()))
	defer db.Close()

	w := writeMautrixStoreDB(t, db, "postgres")
	owner := store.Owner{UserID: string(bob), DeviceID: string(bobDevice)}
	dst := store.NewMemory()
	rep := must(mautriximport.Import(ctx, db, mautriximport.Postgres, []byte(pickleKey), owner, dst, mautriximport.Options{}))
	want := "map[account:1 inbound_group_session:2 olm_session:1 outbound_group_session:1 replay:1 secret:1 tracked_user:1 withheld:1]"
	if rep.SchemaVersion != 23 || fmt.Sprint(rep.Imported) != want || len(rep.Skipped) != 1 {
		t.Fatalf("report %+v, want %s and one skipped row", rep, want)
	}
	m := must(machine.New(ctx, machine.Config{UserID: string(bob), DeviceID: string(bobDevice), Store: dst}))
	for _, ev := range w.events {
		must(m.DecryptRoomEvent(ctx, string(room), ev))
	}
	for _, ev := range w.own {
		must(m.DecryptRoomEvent(ctx, string(ownRoom), ev))
	}
	err := dst.View(ctx, owner, func(tx store.Tx) error {
		s, err := tx.OlmSessions(ctx, string(w.aliceKey))
		if err != nil || len(s) != 1 || time.Since(s[0].Created) > time.Hour {
			return fmt.Errorf("olm sessions %v: %v", s, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
