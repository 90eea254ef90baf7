package mautrixstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/mautriximport"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// TestCLI runs "sicher store import-mautrix" on a store mautrix wrote: a dry run, the import,
// and the machine decrypting from the store the command wrote.
func TestCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "mautrix.db")
	w := writeMautrixStore(t, src)

	bin := filepath.Join(dir, "sicher")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sicher-go/sicher/cmd/sicher").CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	pk := filepath.Join(dir, "pickle.key")
	sk := filepath.Join(dir, "store.key")
	raw := make([]byte, sqlstore.KeySize)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key := must(sqlstore.NewKey(raw))
	if err := os.WriteFile(pk, []byte(pickleKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sk, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(dir, "sicher.db")
	base := []string{"store", "import-mautrix", "--sqlite", src, "--pickle-key-file", pk, "--user", string(bob), "--device", string(bobDevice)}

	out, err := exec.Command(bin, append(base, "--dry-run")...).CombinedOutput()
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"schema version 23", "dry run, nothing written", "inbound_group_session    2", "olm_session              1",
		"skipped: 1", "pickle does not open"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dry run created %s: %v", to, err)
	}

	out, err = exec.Command(bin, append(base, "--to", to, "--store-key-file", sk)...).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	dst := must(sqlstore.OpenSQLite(ctx, to, key))
	m := must(machine.New(ctx, machine.Config{UserID: string(bob), DeviceID: string(bobDevice), Store: dst}))
	for _, ev := range w.events {
		must(m.DecryptRoomEvent(ctx, string(room), ev))
	}
	dst.Close()

	// The pickle key never comes from the command line, and a wrong one is refused.
	if err := os.WriteFile(pk, []byte("wrong key"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, append(base, "--dry-run")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "wrong pickle key") {
		t.Fatalf("wrong pickle key: %v\n%s", err, out)
	}
}

// TestUnknownSchema checks that a schema version the importer was not written for is refused
// with a message that names it.
func TestUnknownSchema(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "mautrix.db")
	writeMautrixStore(t, src)
	db := must(sql.Open("sqlite", "file:"+src))
	defer db.Close()
	if _, err := db.Exec("UPDATE crypto_version SET version = 99"); err != nil {
		t.Fatal(err)
	}
	owner := store.Owner{UserID: string(bob), DeviceID: string(bobDevice)}
	_, err := mautriximport.Import(ctx, db, mautriximport.SQLite, []byte(pickleKey), owner, nil, mautriximport.Options{DryRun: true})
	if !errors.Is(err, mautriximport.ErrUnknownSchema) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("schema 99: %v", err)
	}
}
