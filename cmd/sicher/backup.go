package main

// sicher backup restore: decrypt a server-side key backup download into a key export file.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
)

func init() {
	commands["backup"] = command{"restore: decrypt a key backup download into a key export file", runBackup}
}

func runBackup(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup("backup", `Work with server-side key backups (m.megolm_backup.v1.curve25519-aes-sha2)
without a client: the rescue path when a client cannot restore.`,
		map[string]subcommand{
			"restore": {"decrypt a /room_keys/keys download into a key export file", runBackupRestore},
		}, []string{"restore"}, args, stdin, stdout, stderr)
}

var backupRestoreCmd = cliCommand{
	name: "backup restore",
	args: "[-o OUT] [--recovery-key-file FILE | --recovery-key-env VAR | --passphrase-file FILE --auth-data FILE | --passphrase-env VAR --auth-data FILE] [--export-passphrase-file FILE | --export-passphrase-env VAR] [--rounds N] [KEYS]",
	about: `Decrypt a backup download (KEYS or stdin: the JSON body of
GET /_matrix/client/v3/room_keys/keys?version=V) with the backup's recovery
key, or with its passphrase and the version's auth_data (the body of GET
/room_keys/version, whose auth_data has private_key_salt and
private_key_iterations), and write the sessions as a key export file
encrypted under a new passphrase (what "sicher keyexport decrypt" and
Element's "Import E2E room keys" read), to OUT or stdout. With --auth-data,
the key must match the version's public key. Progress goes to stderr.
Entries that do not decrypt are counted and skipped; restored sessions are
unauthenticated, as every v1 backup entry is.`,
}

func runBackupRestore(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := backupRestoreCmd
	fs := newFlags(c)
	rk := &secretSource{what: "recovery key"}
	fs.StringVar(&rk.file, "recovery-key-file", "", "read the recovery key from this file")
	fs.StringVar(&rk.env, "recovery-key-env", "", "read the recovery key from this environment variable")
	pass := passphraseFlags(fs, "backup passphrase")
	authPath := fs.String("auth-data", "", "the backup version (GET /room_keys/version body, or its auth_data)")
	exp := &secretSource{what: "export passphrase"}
	fs.StringVar(&exp.file, "export-passphrase-file", "", "read the new key export passphrase from this file")
	fs.StringVar(&exp.env, "export-passphrase-env", "", "read the new key export passphrase from this environment variable")
	outPath := fs.String("o", "", "write the key export file to this file instead of stdout")
	rounds := fs.Int("rounds", keyexport.DefaultRounds, "PBKDF2-SHA-512 rounds of the key export file")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one KEYS input")
	}
	usePass := pass.file != "" || pass.env != ""
	if usePass && (rk.file != "" || rk.env != "") {
		return usageError(stderr, c, "give a recovery key or a passphrase, not both")
	}
	if usePass && *authPath == "" {
		return usageError(stderr, c, "a passphrase needs --auth-data (its salt and iteration count)")
	}
	if *rounds < 1 || int64(*rounds) > 1<<32-1 {
		return usageError(stderr, c, "--rounds must be in 1..4294967295")
	}
	body, err := readAllInputProgress(fs.Arg(0), stdin, maxKeyExportFile, stderr, "reading")
	if err != nil {
		return fail(stderr, c, err)
	}
	var keys keybackup.RoomKeys
	if err := json.Unmarshal(body, &keys); err != nil {
		return fail(stderr, c, fmt.Errorf("input is not a /room_keys/keys body: %w", err))
	}
	var auth *restoreAuthData
	if *authPath != "" {
		if auth, err = readAuthData(*authPath); err != nil {
			return fail(stderr, c, err)
		}
	}
	bk, err := backupKey(rk, pass, usePass, auth, stderr)
	if err != nil {
		return fail(stderr, c, err)
	}
	if auth != nil && bk.PublicKey() != auth.PublicKey {
		return fail(stderr, c, errors.New("the key does not open this backup: its public key is not the version's"))
	}
	sessions, failed := restoreSessions(bk, keys, stderr)
	if len(sessions) == 0 && failed > 0 {
		return fail(stderr, c, fmt.Errorf("no entry decrypted (%d failed): wrong key?", failed))
	}
	plain, err := keyexport.MarshalSessions(sessions)
	if err != nil {
		return fail(stderr, c, err)
	}
	passphrase, err := exp.read(true, stderr)
	if err != nil {
		return fail(stderr, c, err)
	}
	if passphrase == "" {
		return fail(stderr, c, errors.New("empty export passphrase"))
	}
	var file []byte
	err = whileWorking(stderr, fmt.Sprintf("encrypting the key export (%d PBKDF2-SHA-512 rounds)", *rounds), func() error {
		var err error
		file, err = keyexport.Encrypt(plain, passphrase, &keyexport.Options{Rounds: *rounds, InsecureAllowLowRounds: true})
		return err
	})
	clear(plain)
	if err != nil {
		return fail(stderr, c, err)
	}
	if err := writeOutput(*outPath, file, false, stdout); err != nil {
		return fail(stderr, c, err)
	}
	fmt.Fprintf(stderr, "%d sessions restored, %d entries failed\n", len(sessions), failed)
	return exitOK
}

// restoreAuthData is what restore reads of a backup version: the public key and the legacy
// passphrase parameters.
type restoreAuthData struct {
	keybackup.AuthData
	Salt       string
	Iterations int
}

func readAuthData(path string) (*restoreAuthData, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var version struct {
		AuthData json.RawMessage `json:"auth_data"`
	}
	if jsonstrict.Unmarshal(b, &version) == nil && len(version.AuthData) > 0 {
		b = version.AuthData
	}
	var a restoreAuthData
	if err := json.Unmarshal(b, &a.AuthData); err != nil {
		return nil, fmt.Errorf("--auth-data: %w", err)
	}
	var legacy struct {
		Salt       string `json:"private_key_salt"`
		Iterations int    `json:"private_key_iterations"`
	}
	if err := jsonstrict.Unmarshal(b, &legacy); err != nil {
		return nil, fmt.Errorf("--auth-data: %w", err)
	}
	a.Salt, a.Iterations = legacy.Salt, legacy.Iterations
	return &a, nil
}

// backupKey reads the recovery key, or derives the key from the passphrase and auth_data.
func backupKey(rk, pass *secretSource, usePass bool, auth *restoreAuthData, stderr io.Writer) (*keybackup.DecryptionKey, error) {
	if usePass {
		if auth.Salt == "" || auth.Iterations == 0 {
			return nil, errors.New("the auth_data has no private_key_salt and private_key_iterations: use the recovery key")
		}
		p, err := pass.read(false, stderr)
		if err != nil {
			return nil, err
		}
		var k *keybackup.DecryptionKey
		err = whileWorking(stderr, fmt.Sprintf("deriving the key (%d PBKDF2-SHA-512 rounds)", auth.Iterations), func() error {
			var err error
			k, err = keybackup.DecryptionKeyFromPassphrase(p, auth.Salt, auth.Iterations)
			return err
		})
		return k, err
	}
	s, err := rk.read(false, stderr)
	if err != nil {
		return nil, err
	}
	r, err := keybackup.ParseRecoveryKey(s)
	if err != nil {
		return nil, err
	}
	return r.DecryptionKey(), nil
}

// restoreSessions decrypts every entry, in room and session order, with progress on stderr.
func restoreSessions(bk *keybackup.DecryptionKey, keys keybackup.RoomKeys, stderr io.Writer) ([]*megolm.ExportedSession, int) {
	total := 0
	for _, rs := range keys.Rooms {
		total += len(rs.Sessions)
	}
	p := newProgress(stderr, "decrypting", int64(total), "sessions")
	defer p.finish()
	rooms := make([]string, 0, len(keys.Rooms))
	for r := range keys.Rooms {
		rooms = append(rooms, r)
	}
	sort.Strings(rooms)
	var out []*megolm.ExportedSession
	failed := 0
	for _, room := range rooms {
		ss := keys.Rooms[room].Sessions
		ids := make([]string, 0, len(ss))
		for id := range ss {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			p.add(1)
			e, err := bk.DecryptSession(ss[id].SessionData)
			if err != nil || e.SessionID().String() != id {
				failed++
				continue
			}
			e.RoomID = room
			out = append(out, e)
		}
	}
	return out, failed
}
