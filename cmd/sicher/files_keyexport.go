package main

// sicher keyexport: decrypt and encrypt key export files (MEGOLM SESSION DATA).

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
)

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
	file, err := readAllInputProgress(fs.Arg(0), stdin, maxKeyExportFile, stderr, "reading")
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
		if errors.Is(err, keyexport.ErrAuthentication) {
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
func listSessions(stdout, stderr io.Writer, sessions []*megolm.ExportedSession) {
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
	plain, err := readAllInputProgress(fs.Arg(0), stdin, maxKeyExportFile, stderr, "reading")
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
		// The user chose the round count: below keyexport.MinRounds is
		// their call (tests use few rounds).
		file, err = keyexport.Encrypt(plain, passphrase, &keyexport.Options{Rounds: *rounds, InsecureAllowLowRounds: true})
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
