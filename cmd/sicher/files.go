package main

// The file tools: encrypted attachments, key export files and recovery
// keys. Secrets (passphrases, recovery keys, pickle keys) never come from
// argv: they are read from a file, an environment variable named on the
// command line, or the terminal with echo off. Nothing secret is printed
// unless it is what the command was asked to produce.

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/secretstorage"
)

func init() {
	commands["attachment"] = command{"encrypt or decrypt a file as a Matrix encrypted attachment (EncryptedFile v2)", runAttachment}
	commands["keyexport"] = command{"decrypt or encrypt a MEGOLM SESSION DATA key export file", runKeyExport}
	commands["recovery-key"] = command{"generate, check or derive (from a passphrase) a recovery key", runRecoveryKey}
}

// Bounds on what the tools read into memory.
const (
	maxKeyExportFile = 1 << 30 // a million sessions is about 1 GiB of armored text
	maxJSONFile      = 16 << 20
)

// openInput opens the file named by arg, or stdin for "" and "-". size is
// the file's size if known, else 0.
func openInput(arg string, stdin io.Reader) (r io.ReadCloser, size int64, err error) {
	if arg == "" || arg == "-" {
		if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		return io.NopCloser(stdin), size, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, 0, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, nil
}

// readAllInput reads the whole input named by arg, at most limit bytes.
func readAllInput(arg string, stdin io.Reader, limit int64) ([]byte, error) {
	r, _, err := openInput(arg, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("input larger than %s", humanBytes(limit))
	}
	return b, nil
}

// atomicFile writes to a temporary file next to path and renames it into
// place on commit, so a failed or unverified result never appears at path.
type atomicFile struct {
	*os.File
	path string
	done bool
}

func createAtomic(path string, perm os.FileMode) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
}

func (a *atomicFile) commit() error {
	if err := a.File.Close(); err != nil {
		os.Remove(a.Name())
		return err
	}
	a.done = true
	return os.Rename(a.Name(), a.path)
}

// abort removes the temporary file unless commit succeeded.
func (a *atomicFile) abort() {
	if !a.done {
		a.File.Close()
		os.Remove(a.Name())
	}
}

// writeOutput writes b to path (0600 if secret, else 0644) or, for "" or
// "-", to stdout.
func writeOutput(path string, b []byte, secret bool, stdout io.Writer) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	perm := os.FileMode(0o644)
	if secret {
		perm = 0o600
	}
	f, err := createAtomic(path, perm)
	if err != nil {
		return err
	}
	defer f.abort()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.commit()
}

// ---- attachment ----

func runAttachment(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup("attachment", `Encrypt files for, and decrypt files from, Matrix encrypted attachments
(EncryptedFile "v2": AES-256-CTR, SHA-256 of the ciphertext). Both commands
stream: memory use does not grow with the file.`,
		map[string]subcommand{
			"encrypt": {"encrypt a file; write the ciphertext and its EncryptedFile JSON", runAttachmentEncrypt},
			"decrypt": {"decrypt a file with its EncryptedFile JSON, verifying the hash", runAttachmentDecrypt},
		}, []string{"encrypt", "decrypt"}, args, stdin, stdout, stderr)
}

var attachmentEncryptCmd = cliCommand{
	name: "attachment encrypt",
	args: "-j FILE.json [-o CIPHERTEXT] [--url MXC] [INPUT]",
	about: `Encrypt INPUT (or stdin) under a fresh random key. The ciphertext goes to
CIPHERTEXT (or stdout, which must not be a terminal); the EncryptedFile
JSON with the key, IV and hash goes to FILE.json, created with mode 0600:
it is secret, send it only inside an encrypted event.`,
}

func runAttachmentEncrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := attachmentEncryptCmd
	fs := newFlags(c)
	jsonPath := fs.String("j", "", "write the EncryptedFile JSON (secret) to this file (required)")
	outPath := fs.String("o", "", "write the ciphertext to this file instead of stdout")
	url := fs.String("url", "", "mxc:// URL to put in the EncryptedFile (after uploading)")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one INPUT")
	}
	if *jsonPath == "" {
		return usageError(stderr, c, "-j FILE.json is required: without it the key would be lost")
	}
	if *jsonPath == "-" && (*outPath == "" || *outPath == "-") {
		return usageError(stderr, c, "-j - writes the EncryptedFile to stdout, so the ciphertext needs -o FILE")
	}
	if (*outPath == "" || *outPath == "-") && isTerminalWriter(stdout) {
		return usageError(stderr, c, "refusing to write ciphertext to a terminal; use -o FILE or redirect stdout")
	}
	in, size, err := openInput(fs.Arg(0), stdin)
	if err != nil {
		return fail(stderr, c, err)
	}
	defer in.Close()
	p := newProgress(stderr, "encrypting", size, "")
	defer p.finish()
	enc, err := attachment.NewEncryptingReader(progressReader{in, p}, nil)
	if err != nil {
		return fail(stderr, c, err)
	}
	var out io.Writer = stdout
	var af *atomicFile
	if *outPath != "" && *outPath != "-" {
		if af, err = createAtomic(*outPath, 0o644); err != nil {
			return fail(stderr, c, err)
		}
		defer af.abort()
		out = af
	}
	if _, err := io.Copy(out, enc); err != nil {
		return fail(stderr, c, err)
	}
	f, err := enc.File()
	if err != nil {
		return fail(stderr, c, err)
	}
	f.URL = *url
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fail(stderr, c, err)
	}
	if af != nil {
		if err := af.commit(); err != nil {
			return fail(stderr, c, err)
		}
	}
	if err := writeOutput(*jsonPath, append(js, '\n'), true, stdout); err != nil {
		return fail(stderr, c, err)
	}
	return exitOK
}

var attachmentDecryptCmd = cliCommand{
	name: "attachment decrypt",
	args: "-j FILE.json [-o OUTPUT] [--allow-legacy] [CIPHERTEXT]",
	about: `Decrypt CIPHERTEXT (or stdin) with the EncryptedFile in FILE.json (an
EncryptedFile object, or an event or content with a "file" member). The
SHA-256 of the ciphertext is checked before any plaintext is kept: OUTPUT
is written to a temporary file and renamed into place only after the hash
matched; for stdout the ciphertext is first spooled to a temporary file and
checked. On a mismatch nothing is written and the exit code is 1.`,
}

func runAttachmentDecrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := attachmentDecryptCmd
	fs := newFlags(c)
	jsonPath := fs.String("j", "", "the EncryptedFile JSON (required)")
	outPath := fs.String("o", "", "write the plaintext to this file instead of stdout")
	legacy := fs.Bool("allow-legacy", false, `also decrypt the legacy versions "v1" and unversioned files of old clients`)
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one CIPHERTEXT")
	}
	if *jsonPath == "" {
		return usageError(stderr, c, "-j FILE.json is required")
	}
	raw, err := readAllInput(*jsonPath, nil, maxJSONFile)
	if err != nil {
		return fail(stderr, c, err)
	}
	f, err := findEncryptedFile(raw)
	if err != nil {
		return fail(stderr, c, fmt.Errorf("%s: %w", *jsonPath, err))
	}
	in, size, err := openInput(fs.Arg(0), stdin)
	if err != nil {
		return fail(stderr, c, err)
	}
	defer in.Close()
	opts := &attachment.Options{AllowLegacy: *legacy}
	p := newProgress(stderr, "decrypting", size, "")
	defer p.finish()
	src := progressReader{in, p}
	if *outPath == "" || *outPath == "-" {
		vr, err := attachment.NewVerifiedReader(src, f, nil, opts)
		if err != nil {
			return fail(stderr, c, explainAttachment(err))
		}
		defer vr.Close()
		if _, err := io.Copy(stdout, vr); err != nil {
			return fail(stderr, c, explainAttachment(err))
		}
		return exitOK
	}
	dr, err := attachment.NewDecryptingReader(src, f, opts)
	if err != nil {
		return fail(stderr, c, explainAttachment(err))
	}
	out, err := createAtomic(*outPath, 0o600)
	if err != nil {
		return fail(stderr, c, err)
	}
	defer out.abort()
	if _, err := io.Copy(out, dr); err != nil {
		return fail(stderr, c, explainAttachment(err))
	}
	if err := out.commit(); err != nil {
		return fail(stderr, c, err)
	}
	return exitOK
}

// findEncryptedFile parses an EncryptedFile, or finds one under "file" in
// a message content or under "content"."file" in an event.
func findEncryptedFile(raw []byte) (*attachment.EncryptedFile, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if c, ok := obj["content"]; ok {
		var content map[string]json.RawMessage
		if json.Unmarshal(c, &content) == nil && content["file"] != nil {
			obj = content
		}
	}
	if f, ok := obj["file"]; ok {
		raw = f
	}
	return attachment.ParseEncryptedFile(raw)
}

func explainAttachment(err error) error {
	switch {
	case errors.Is(err, attachment.ErrHashMismatch):
		return fmt.Errorf("%w: the download is corrupted or is not the file the event describes; no plaintext was kept", err)
	case errors.Is(err, attachment.ErrUnsupportedVersion):
		return fmt.Errorf("%w (try --allow-legacy for files of very old clients)", err)
	}
	return err
}

// ---- keyexport ----

func runKeyExport(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup("keyexport", `Read and write "-----BEGIN MEGOLM SESSION DATA-----" key export files
(Element's "Export E2E room keys"). The passphrase is read from the
terminal (echo off), from --passphrase-file or from the environment variable
named by --passphrase-env; never from the command line.`,
		map[string]subcommand{
			"decrypt": {"decrypt a key export file to its JSON session list (or --list it)", runKeyExportDecrypt},
			"encrypt": {"encrypt a JSON session list into a key export file", runKeyExportEncrypt},
		}, []string{"decrypt", "encrypt"}, args, stdin, stdout, stderr)
}

func passphraseFlags(fs interface {
	StringVar(p *string, name, value, usage string)
}, what string) *secretSource {
	s := &secretSource{what: what}
	fs.StringVar(&s.file, "passphrase-file", "", "read the "+what+" from this file (one trailing newline is removed)")
	fs.StringVar(&s.env, "passphrase-env", "", "read the "+what+" from this environment variable")
	return s
}

var keyExportDecryptCmd = cliCommand{
	name: "keyexport decrypt",
	args: "[--list] [-o OUT] [--passphrase-file FILE | --passphrase-env VAR] [FILE]",
	about: `Decrypt a key export file (FILE or stdin). By default the decrypted JSON
session list, which holds every session key, is written to OUT (mode 0600)
or to stdout when that is not a terminal. --list prints a table of the
sessions instead, without keys.`,
}

func runKeyExportDecrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := keyExportDecryptCmd
	fs := newFlags(c)
	pass := passphraseFlags(fs, "passphrase")
	outPath := fs.String("o", "", "write the decrypted JSON (secret) to this file")
	list := fs.Bool("list", false, "list the sessions (room, session id, first index, sender) instead of writing keys")
	maxRounds := fs.Int("max-rounds", keyexport.DefaultMaxRounds, "refuse files asking for more PBKDF2 rounds than this")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one FILE")
	}
	if *list && *outPath != "" {
		return usageError(stderr, c, "--list and -o exclude each other")
	}
	if !*list && (*outPath == "" || *outPath == "-") && isTerminalWriter(stdout) {
		return usageError(stderr, c, "refusing to print session keys on the terminal; use -o FILE, redirect stdout, or --list")
	}
	if *maxRounds < 1 {
		return usageError(stderr, c, "--max-rounds must be positive")
	}
	file, err := readAllInput(fs.Arg(0), stdin, maxKeyExportFile)
	if err != nil {
		return fail(stderr, c, err)
	}
	// Check the envelope before asking for a passphrase.
	h, err := keyExportHeader(file)
	if err != nil {
		return fail(stderr, c, err)
	}
	if int64(h.Rounds) > int64(*maxRounds) {
		return fail(stderr, c, fmt.Errorf("%w: the file asks for %d PBKDF2 rounds, more than --max-rounds %d", keyexport.ErrBadRounds, h.Rounds, *maxRounds))
	}
	passphrase, err := pass.read(false, stderr)
	if err != nil {
		return fail(stderr, c, err)
	}
	var plain []byte
	err = whileWorking(stderr, fmt.Sprintf("deriving keys (%d PBKDF2-SHA-512 rounds)", h.Rounds), func() error {
		var err error
		plain, err = keyexport.Decrypt(file, passphrase, &keyexport.Options{MaxRounds: *maxRounds})
		return err
	})
	if err != nil {
		if errors.Is(err, keyexport.ErrBadMAC) {
			err = fmt.Errorf("wrong passphrase, or the file is corrupted (%w)", err)
		}
		return fail(stderr, c, err)
	}
	sessions, skipped, err := keyexport.ParseSessions(plain)
	if err != nil {
		err = fmt.Errorf("the passphrase is right but the content is not a session list: %w", err)
		if *list {
			return fail(stderr, c, err)
		}
		fmt.Fprintf(stderr, "sicher %s: warning: %v\n", c.name, err)
	}
	for _, e := range skipped {
		fmt.Fprintf(stderr, "sicher %s: warning: %v\n", c.name, e)
	}
	if *list {
		listSessions(stdout, stderr, sessions)
		return exitOK
	}
	if err := writeOutput(*outPath, plain, true, stdout); err != nil {
		return fail(stderr, c, err)
	}
	if isTerminalWriter(stderr) {
		fmt.Fprintf(stderr, "%d sessions decrypted\n", len(sessions))
	}
	return exitOK
}

// listSessions prints a table of exported sessions without their keys.
func listSessions(stdout, stderr io.Writer, sessions []*keyexport.Session) {
	p := newProgress(stderr, "reading sessions", int64(len(sessions)), "sessions")
	type row struct{ room, sid, line string }
	rows := make([]row, 0, len(sessions))
	for _, s := range sessions {
		k := s.SessionKey()
		rows = append(rows, row{s.RoomID, s.SessionID().String(), fmt.Sprintf("%s\t%s\t%d\t%s\t%d\t%v",
			s.RoomID, s.SessionID(), k.Index(), s.SenderKey, len(s.ForwardingCurve25519KeyChain), s.SharedHistory)})
		p.add(1)
	}
	p.finish()
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].room != rows[j].room {
			return rows[i].room < rows[j].room
		}
		return rows[i].sid < rows[j].sid
	})
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROOM\tSESSION ID\tFIRST INDEX\tSENDER KEY\tFORWARDS\tSHARED HISTORY")
	for _, r := range rows {
		fmt.Fprintln(tw, r.line)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d sessions\n", len(sessions))
}

var keyExportEncryptCmd = cliCommand{
	name: "keyexport encrypt",
	args: "[-o OUT] [--rounds N] [--passphrase-file FILE | --passphrase-env VAR] [JSON]",
	about: `Encrypt a JSON session list (JSON or stdin; the format of "keyexport
decrypt") into an armored key export file that Element and other clients
import. Entries that are not valid Megolm sessions are reported; the list
is encrypted as given. A passphrase typed at the terminal is asked twice.`,
}

func runKeyExportEncrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := keyExportEncryptCmd
	fs := newFlags(c)
	pass := passphraseFlags(fs, "passphrase")
	outPath := fs.String("o", "", "write the key export file to this file instead of stdout")
	rounds := fs.Int("rounds", keyexport.DefaultRounds, "PBKDF2-SHA-512 rounds (the spec recommends at least 100000)")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one JSON input")
	}
	if *rounds < 1 || int64(*rounds) > 1<<32-1 {
		return usageError(stderr, c, "--rounds must be in 1..4294967295")
	}
	plain, err := readAllInput(fs.Arg(0), stdin, maxKeyExportFile)
	if err != nil {
		return fail(stderr, c, err)
	}
	sessions, skipped, err := keyexport.ParseSessions(plain)
	if err != nil {
		return fail(stderr, c, fmt.Errorf("input is not a session list: %w", err))
	}
	for _, e := range skipped {
		fmt.Fprintf(stderr, "sicher %s: warning: %v\n", c.name, e)
	}
	passphrase, err := pass.read(true, stderr)
	if err != nil {
		return fail(stderr, c, err)
	}
	if passphrase == "" {
		return fail(stderr, c, errors.New("empty passphrase"))
	}
	var file []byte
	err = whileWorking(stderr, fmt.Sprintf("deriving keys (%d PBKDF2-SHA-512 rounds)", *rounds), func() error {
		var err error
		file, err = keyexport.Encrypt(plain, passphrase, &keyexport.Options{Rounds: *rounds})
		return err
	})
	if err != nil {
		return fail(stderr, c, err)
	}
	if err := writeOutput(*outPath, file, false, stdout); err != nil {
		return fail(stderr, c, err)
	}
	if isTerminalWriter(stderr) {
		fmt.Fprintf(stderr, "%d sessions exported\n", len(sessions))
	}
	return exitOK
}

// ---- recovery-key ----

func runRecoveryKey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup("recovery-key", `Recovery keys are the 48-character base58 form of a 32-byte key that
users write down: the key of a server-side key backup
(m.megolm_backup.v1.curve25519-aes-sha2) or of secret storage.`,
		map[string]subcommand{
			"generate":        {"make a new random recovery key and print it with its backup public key", runRecoveryKeyGenerate},
			"check":           {"check a recovery key's spelling, and that it opens a backup or secret storage", runRecoveryKeyCheck},
			"from-passphrase": {"derive the key from a passphrase (m.pbkdf2) and print its recovery key", runRecoveryKeyFromPassphrase},
		}, []string{"generate", "check", "from-passphrase"}, args, stdin, stdout, stderr)
}

// recoveryOutput is what generate and from-passphrase print.
type recoveryOutput struct {
	RecoveryKey string `json:"recovery_key"`
	PublicKey   string `json:"backup_public_key"`
	Salt        string `json:"salt,omitempty"`
	Iterations  int    `json:"iterations,omitempty"`
}

func printRecovery(w io.Writer, o recoveryOutput, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(o)
		return
	}
	fmt.Fprintf(w, "recovery key:      %s\n", o.RecoveryKey)
	fmt.Fprintf(w, "backup public key: %s\n", o.PublicKey)
	if o.Salt != "" {
		fmt.Fprintf(w, "salt:              %s\n", o.Salt)
		fmt.Fprintf(w, "iterations:        %d\n", o.Iterations)
	}
}

var recoveryGenerateCmd = cliCommand{
	name: "recovery-key generate",
	args: "[--json]",
	about: `Generate a new random 32-byte key and print its recovery key (secret: this
is the one time it is shown) and the Curve25519 public key to put in a
backup version's auth_data.`,
}

func runRecoveryKeyGenerate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := recoveryGenerateCmd
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(stderr, c, "unexpected argument %q (generate takes no arguments)", fs.Arg(0))
	}
	k, err := keybackup.GenerateDecryptionKey(rand.Reader)
	if err != nil {
		return fail(stderr, c, err)
	}
	printRecovery(stdout, recoveryOutput{RecoveryKey: k.RecoveryKey().Encode(), PublicKey: k.PublicKey().String()}, *asJSON)
	return exitOK
}

// targetFlags are the things a key can be checked against.
type targetFlags struct {
	publicKey, authData, keyDescription string
}

func (t *targetFlags) add(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&t.publicKey, "public-key", "", "the backup's Curve25519 public key (auth_data.public_key)")
	fs.StringVar(&t.authData, "auth-data", "", "a file with the backup version JSON (GET /room_keys/version) or its auth_data")
	fs.StringVar(&t.keyDescription, "key-description", "", "a file with a secret storage key description (m.secret_storage.key.* content)")
}

func (t *targetFlags) count() int {
	n := 0
	for _, s := range []string{t.publicKey, t.authData, t.keyDescription} {
		if s != "" {
			n++
		}
	}
	return n
}

// backupAuthData reads the backup version or auth_data JSON in path.
func backupAuthData(path string) (*keybackup.AuthData, map[string]json.RawMessage, error) {
	raw, err := readAllInput(path, nil, maxJSONFile)
	if err != nil {
		return nil, nil, err
	}
	var version struct {
		Algorithm string          `json:"algorithm"`
		AuthData  json.RawMessage `json:"auth_data"`
	}
	if err := json.Unmarshal(raw, &version); err != nil {
		return nil, nil, fmt.Errorf("%s: not JSON: %w", path, err)
	}
	if version.AuthData != nil {
		if version.Algorithm != "" && version.Algorithm != keybackup.Algorithm {
			return nil, nil, fmt.Errorf("%s: backup algorithm %q is not %s", path, version.Algorithm, keybackup.Algorithm)
		}
		raw = version.AuthData
	}
	var ad keybackup.AuthData
	if err := json.Unmarshal(raw, &ad); err != nil {
		return nil, nil, fmt.Errorf("%s: auth_data: %w", path, err)
	}
	var all map[string]json.RawMessage
	json.Unmarshal(raw, &all)
	if ad.PublicKey == (key.Curve25519{}) {
		return nil, nil, fmt.Errorf("%s: auth_data has no public_key", path)
	}
	return &ad, all, nil
}

func keyDescription(path string) (*secretstorage.KeyDescription, error) {
	raw, err := readAllInput(path, nil, maxJSONFile)
	if err != nil {
		return nil, err
	}
	var d secretstorage.KeyDescription
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%s: not a key description: %w", path, err)
	}
	if d.Algorithm != secretstorage.Algorithm {
		return nil, fmt.Errorf("%s: %w: %q", path, secretstorage.ErrUnsupportedAlgorithm, d.Algorithm)
	}
	return &d, nil
}

// checkKey checks the 32-byte key k (as a backup key) against the target,
// and returns a description of what matched.
func checkKey(dk *keybackup.DecryptionKey, t *targetFlags) (string, error) {
	switch {
	case t.publicKey != "":
		pub, err := key.ParseCurve25519(t.publicKey)
		if err != nil {
			return "", fmt.Errorf("--public-key: %w", err)
		}
		if dk.PublicKey() != pub {
			return "", fmt.Errorf("wrong recovery key: its backup public key is %s, not %s", dk.PublicKey(), pub)
		}
		return "matches the backup public key " + pub.String(), nil
	case t.authData != "":
		ad, _, err := backupAuthData(t.authData)
		if err != nil {
			return "", err
		}
		if !dk.Matches(*ad) {
			return "", fmt.Errorf("wrong recovery key: its backup public key is %s, the backup's is %s", dk.PublicKey(), ad.PublicKey)
		}
		return "opens the backup with public key " + ad.PublicKey.String(), nil
	case t.keyDescription != "":
		d, err := keyDescription(t.keyDescription)
		if err != nil {
			return "", err
		}
		b := dk.Bytes()
		sk, err := secretstorage.NewKeyFromBytes(b[:])
		if err != nil {
			return "", err
		}
		if d.IV == "" && d.MAC == "" {
			return "", errors.New("the key description has no iv and mac, so it cannot check a key")
		}
		if err := sk.Check(d); err != nil {
			if errors.Is(err, secretstorage.ErrWrongKey) {
				return "", fmt.Errorf("wrong recovery key for this secret storage key (%w)", err)
			}
			return "", err
		}
		return "opens the secret storage key" + quoteName(d.Name), nil
	}
	return "", nil
}

func quoteName(n string) string {
	if n == "" {
		return ""
	}
	return fmt.Sprintf(" %q", n)
}

var recoveryCheckCmd = cliCommand{
	name: "recovery-key check",
	args: "[--key-file FILE] [--public-key KEY | --auth-data FILE | --key-description FILE]",
	about: `Check a recovery key: its characters, length, prefix and parity byte, and,
if given a target, that it is the key of that backup or secret storage key.
The recovery key is read from --key-file, from stdin when stdin is not a
terminal, or else asked for on the terminal. Exit code 0 means the key is
valid (and matches), 1 that it is not.`,
}

func runRecoveryKeyCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := recoveryCheckCmd
	fs := newFlags(c)
	keyFile := fs.String("key-file", "", "read the recovery key from this file")
	var t targetFlags
	t.add(fs)
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(stderr, c, "the recovery key is not taken from the command line (it is secret); use --key-file, stdin or the prompt")
	}
	if t.count() > 1 {
		return usageError(stderr, c, "give at most one of --public-key, --auth-data, --key-description")
	}
	text, err := readRecoveryKey(*keyFile, stdin, stderr)
	if err != nil {
		return fail(stderr, c, err)
	}
	rk, err := keybackup.ParseRecoveryKey(text)
	if err != nil {
		return fail(stderr, c, explainRecoveryKey(err))
	}
	dk := rk.DecryptionKey()
	what, err := checkKey(dk, &t)
	if err != nil {
		return fail(stderr, c, err)
	}
	fmt.Fprintln(stdout, "valid recovery key")
	fmt.Fprintf(stdout, "backup public key: %s\n", dk.PublicKey())
	if what != "" {
		fmt.Fprintln(stdout, what)
	}
	return exitOK
}

// readRecoveryKey reads a recovery key from a file, from stdin when it is
// not a terminal, or from the terminal.
func readRecoveryKey(file string, stdin io.Reader, stderr io.Writer) (string, error) {
	if file != "" {
		return readSecretFile(file)
	}
	if f, ok := stdin.(*os.File); !ok || !isTerminal(f) {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", errors.New("no recovery key on stdin")
		}
		return string(b), nil
	}
	return secretSource{what: "recovery key"}.read(false, stderr)
}

func explainRecoveryKey(err error) error {
	var hint string
	switch {
	case errors.Is(err, keybackup.ErrRecoveryKeyCharacter):
		hint = "a character is not base58 (0, O, I and l do not occur in recovery keys)"
	case errors.Is(err, keybackup.ErrRecoveryKeyLength):
		hint = "it is too short or too long (a recovery key has 48 characters)"
	case errors.Is(err, keybackup.ErrRecoveryKeyPrefix):
		hint = "it is not a recovery key (wrong prefix)"
	case errors.Is(err, keybackup.ErrRecoveryKeyParity):
		hint = "the parity check failed: a character is mistyped"
	default:
		return err
	}
	return fmt.Errorf("not a valid recovery key: %s (%w)", hint, err)
}

var recoveryFromPassphraseCmd = cliCommand{
	name: "recovery-key from-passphrase",
	args: "[--salt S --iterations N | --auth-data FILE | --key-description FILE] [--passphrase-file FILE | --passphrase-env VAR] [--json]",
	about: `Derive a 32-byte key from a passphrase with m.pbkdf2 (PBKDF2-HMAC-SHA-512)
and print its recovery key (secret) and backup public key. The salt and
iteration count come from --salt and --iterations, from a backup's auth_data
(private_key_salt, private_key_iterations; the result is checked against its
public key) or from a secret storage key description (checked against its
iv and mac). Without any, a new random salt is made with --iterations
(default 500000) and printed: keep it with the passphrase.`,
}

func runRecoveryKeyFromPassphrase(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := recoveryFromPassphraseCmd
	fs := newFlags(c)
	pass := passphraseFlags(fs, "passphrase")
	salt := fs.String("salt", "", "the m.pbkdf2 salt (text, used as is)")
	iterations := fs.Int("iterations", 0, "the m.pbkdf2 iteration count (default 500000 for a new salt)")
	authData := fs.String("auth-data", "", "a file with the backup version JSON or auth_data holding private_key_salt and private_key_iterations")
	keyDesc := fs.String("key-description", "", "a file with a secret storage key description holding passphrase parameters")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(stderr, c, "the passphrase is not taken from the command line; use --passphrase-file, --passphrase-env or the prompt")
	}
	sources := 0
	for _, s := range []string{*authData, *keyDesc} {
		if s != "" {
			sources++
		}
	}
	if *salt != "" {
		sources++
	}
	if sources > 1 {
		return usageError(stderr, c, "give only one of --salt, --auth-data, --key-description")
	}
	if *iterations < 0 || *iterations > 10_000_000 {
		return usageError(stderr, c, "--iterations must be in 1..10000000")
	}
	out := recoveryOutput{}
	var check func(*keybackup.DecryptionKey) error
	newSalt := false
	switch {
	case *authData != "":
		ad, all, err := backupAuthData(*authData)
		if err != nil {
			return fail(stderr, c, err)
		}
		if json.Unmarshal(all["private_key_salt"], salt) != nil || *salt == "" ||
			json.Unmarshal(all["private_key_iterations"], iterations) != nil || *iterations == 0 {
			return fail(stderr, c, fmt.Errorf("%s: auth_data has no private_key_salt and private_key_iterations: this backup's key was not made from a passphrase", *authData))
		}
		check = func(dk *keybackup.DecryptionKey) error {
			if !dk.Matches(*ad) {
				return fmt.Errorf("wrong passphrase: the derived key's public key is %s, the backup's is %s", dk.PublicKey(), ad.PublicKey)
			}
			return nil
		}
	case *keyDesc != "":
		d, err := keyDescription(*keyDesc)
		if err != nil {
			return fail(stderr, c, err)
		}
		if d.Passphrase == nil {
			return fail(stderr, c, fmt.Errorf("%s: the key description has no passphrase parameters: the key was not made from a passphrase", *keyDesc))
		}
		if d.Passphrase.Algorithm != secretstorage.PassphraseAlgorithm {
			return fail(stderr, c, fmt.Errorf("%s: %w: passphrase algorithm %q", *keyDesc, secretstorage.ErrUnsupportedAlgorithm, d.Passphrase.Algorithm))
		}
		*salt, *iterations = d.Passphrase.Salt, d.Passphrase.Iterations
		check = func(dk *keybackup.DecryptionKey) error {
			if d.IV == "" && d.MAC == "" {
				return nil
			}
			b := dk.Bytes()
			sk, err := secretstorage.NewKeyFromBytes(b[:])
			if err != nil {
				return err
			}
			if err := sk.Check(d); err != nil {
				if errors.Is(err, secretstorage.ErrWrongKey) {
					return fmt.Errorf("wrong passphrase for this secret storage key (%w)", err)
				}
				return err
			}
			return nil
		}
	case *salt != "":
		if *iterations == 0 {
			return usageError(stderr, c, "--salt needs --iterations")
		}
	default:
		s, err := randomSalt()
		if err != nil {
			return fail(stderr, c, err)
		}
		*salt, newSalt = s, true
		if *iterations == 0 {
			*iterations = secretstorage.DefaultIterations
		}
		out.Salt, out.Iterations = *salt, *iterations
	}
	passphrase, err := pass.read(newSalt, stderr)
	if err != nil {
		return fail(stderr, c, err)
	}
	if passphrase == "" {
		return fail(stderr, c, errors.New("empty passphrase"))
	}
	var dk *keybackup.DecryptionKey
	err = whileWorking(stderr, fmt.Sprintf("deriving the key (%d PBKDF2-SHA-512 rounds)", *iterations), func() error {
		var err error
		dk, err = keybackup.DecryptionKeyFromPassphrase(passphrase, *salt, *iterations)
		return err
	})
	if err != nil {
		return fail(stderr, c, err)
	}
	if check != nil {
		if err := check(dk); err != nil {
			return fail(stderr, c, err)
		}
	}
	out.RecoveryKey, out.PublicKey = dk.RecoveryKey().Encode(), dk.PublicKey().String()
	printRecovery(stdout, out, *asJSON)
	return exitOK
}

// randomSalt returns 32 random alphanumeric characters, as matrix-js-sdk
// makes m.pbkdf2 salts.
func randomSalt() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	for i := range b {
		// Rejection sampling keeps the characters uniform.
		for {
			var r [1]byte
			if _, err := rand.Read(r[:]); err != nil {
				return "", err
			}
			if int(r[0]) < 256-256%len(alphabet) {
				b[i] = alphabet[int(r[0])%len(alphabet)]
				break
			}
		}
	}
	return string(b), nil
}
