package main

// sicher store import-mautrix: copy a device's end-to-end encryption state out of a mautrix-go
// crypto store into a sicher SQLite store (package store/mautriximport does the work).

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/mautriximport"
	"github.com/sicher-go/sicher/store/sqlstore"
)

func init() {
	commands["store"] = command{"import a mautrix-go crypto store into a sicher store", runStore}
}

func runStore(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup("store", `Work with sicher's SQL store (package store/sqlstore).`,
		map[string]subcommand{
			"import-mautrix": {"copy a device's state out of a mautrix-go crypto store (read-only)", runStoreImportMautrix},
		}, []string{"import-mautrix"}, args, stdin, stdout, stderr)
}

var storeImportMautrixCmd = cliCommand{
	name: "store import-mautrix",
	args: "(--sqlite PATH | --postgres DSN) --pickle-key-file FILE --user USER --device DEVICE (--dry-run | --to PATH --store-key-file FILE)",
	about: `Read the mautrix-go crypto store (schema 22 or 23: mautrix-go v0.32, v0.33) of
one device and write its account, Olm and Megolm sessions, withheld notices,
replay records, backup version, secrets and tracked users into the sicher
SQLite store at --to, in one transaction. The mautrix database is only read.
Stop the bridge or client first, and do not run it on the mautrix database
again once sicher has used the imported state (see docs/store.md).

The mautrix pickle key (the bridge's pickle_key, as text) is read from
--pickle-key-file ("-" for stdin), never from the command line. The store key
file holds the 32-byte sicher store key: raw, hex or base64. --dry-run opens
everything and prints the report without writing.`,
}

func runStoreImportMautrix(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := storeImportMautrixCmd
	fs := newFlags(c)
	sqlitePath := fs.String("sqlite", "", "the mautrix SQLite database `PATH` (opened read-only)")
	pgDSN := fs.String("postgres", "", "the mautrix PostgreSQL `DSN`")
	pickleKeyFile := fs.String("pickle-key-file", "", "read the mautrix pickle key from this `FILE` (\"-\": stdin)")
	user := fs.String("user", "", "the device's Matrix user id")
	device := fs.String("device", "", "the device id")
	account := fs.String("account-id", "", "mautrix's account_id of the device (default: the database's only account)")
	to := fs.String("to", "", "the sicher SQLite store to write (`PATH`, created if missing)")
	storeKeyFile := fs.String("store-key-file", "", "read the 32-byte sicher store key from this `FILE`")
	dryRun := fs.Bool("dry-run", false, "print what would be imported; write nothing")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() != 0:
		return usageError(stderr, c, "unexpected arguments %q", fs.Args())
	case (*sqlitePath == "") == (*pgDSN == ""):
		return usageError(stderr, c, "give exactly one of --sqlite and --postgres")
	case *pickleKeyFile == "":
		return usageError(stderr, c, "--pickle-key-file is required")
	case *user == "" || *device == "":
		return usageError(stderr, c, "--user and --device are required")
	case !*dryRun && (*to == "" || *storeKeyFile == ""):
		return usageError(stderr, c, "--to and --store-key-file are required unless --dry-run")
	}
	pickleKey, err := readPickleKey(*pickleKeyFile, stdin)
	if err != nil {
		return fail(stderr, c, err)
	}
	var skey sqlstore.Key
	if !*dryRun {
		if skey, err = readStoreKey(*storeKeyFile); err != nil {
			return fail(stderr, c, err)
		}
	}

	ctx := context.Background()
	var src *sql.DB
	dialect := mautriximport.SQLite
	if *sqlitePath != "" {
		if _, err := os.Stat(*sqlitePath); err != nil {
			return fail(stderr, c, err)
		}
		src, err = sql.Open("sqlite", "file:"+*sqlitePath+"?mode=ro&_pragma=busy_timeout(5000)")
	} else {
		dialect = mautriximport.Postgres
		src, err = sql.Open("pgx", *pgDSN)
	}
	if err != nil {
		return fail(stderr, c, err)
	}
	defer src.Close()

	var dst store.Store
	if !*dryRun {
		st, err := sqlstore.OpenSQLite(ctx, *to, skey)
		if err != nil {
			return fail(stderr, c, err)
		}
		defer st.Close()
		dst = st
	}
	owner := store.Owner{UserID: *user, DeviceID: *device}
	rep, err := mautriximport.Import(ctx, src, dialect, pickleKey, owner, dst,
		mautriximport.Options{AccountID: *account, DryRun: *dryRun})
	clear(pickleKey)
	if err != nil {
		return fail(stderr, c, err)
	}
	printImportReport(stdout, rep, *dryRun)
	return exitOK
}

// printImportReport writes the counts per kind and the skipped rows.
func printImportReport(w io.Writer, rep *mautriximport.Report, dryRun bool) {
	verb := "imported"
	if dryRun {
		verb = "would import (dry run, nothing written)"
	}
	fmt.Fprintf(w, "mautrix crypto store schema version %d\n%s:\n", rep.SchemaVersion, verb)
	kinds := make([]string, 0, len(rep.Imported))
	for k := range rep.Imported {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-24s %d\n", k, rep.Imported[k])
	}
	fmt.Fprintf(w, "skipped: %d\n", len(rep.Skipped))
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "  %s %s: %s\n", s.Kind, s.ID, s.Reason)
	}
}

// readPickleKey reads the mautrix pickle key (text, one trailing newline removed) from a file
// or, for "-", from stdin.
func readPickleKey(path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the pickle key: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return nil, errors.New("the pickle key is empty")
	}
	return []byte(s), nil
}

// readStoreKey reads a 32-byte store key kept raw, in hex or in base64.
func readStoreKey(path string) (sqlstore.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return sqlstore.Key{}, fmt.Errorf("reading the store key: %w", err)
	}
	if len(b) != sqlstore.KeySize {
		t := strings.TrimSpace(string(b))
		if d, err := hex.DecodeString(t); err == nil {
			b = d
		} else if d, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(t, "=")); err == nil {
			b = d
		}
	}
	k, err := sqlstore.NewKey(b)
	clear(b)
	if err != nil {
		return sqlstore.Key{}, fmt.Errorf("the store key file must hold %d bytes (raw, hex or base64): %w", sqlstore.KeySize, err)
	}
	return k, nil
}
