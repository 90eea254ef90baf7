package main

// sicher recovery-key: generate, check and derive recovery keys.

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/secretstorage"
)

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
	k, err := keybackup.GenerateDecryptionKey()
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
			if errors.Is(err, secretstorage.ErrAuthentication) {
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
	case errors.Is(err, recoverykey.ErrBadCharacter):
		hint = "a character is not base58 (0, O, I and l do not occur in recovery keys)"
	case errors.Is(err, recoverykey.ErrBadLength):
		hint = "it is too short or too long (a recovery key has 48 characters)"
	case errors.Is(err, recoverykey.ErrBadPrefix):
		hint = "it is not a recovery key (wrong prefix)"
	case errors.Is(err, recoverykey.ErrBadParity):
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
				if errors.Is(err, secretstorage.ErrAuthentication) {
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
