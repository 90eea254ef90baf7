package main

// sicher inspect: recognise and describe, without keys, the formats people
// paste when debugging "unable to decrypt": Olm and Megolm messages,
// m.room.encrypted contents, session keys, key export files, encrypted
// attachments, pickles and recovery keys. With a pickle key it also
// describes a pickled account or session, without printing secrets.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
)

func init() {
	commands["inspect"] = command{"recognise and describe a message, event, key, pickle or file (no keys needed)", runInspect}
}

var inspectCmd = cliCommand{
	name: "inspect",
	args: "[--json] [--pickle-key-file FILE | --pickle-key-prompt] [INPUT...]",
	about: `Inspect recognises its input and prints its fields: what people debugging
"unable to decrypt" need. INPUT is a file name, the data itself (several
arguments are joined with spaces), or "-" or nothing for stdin. It knows:

  Olm pre-key and normal messages (JSON {"type","body"} or base64)
  Megolm messages, session keys (m.room_key) and exported session keys
  m.room.encrypted contents and events (Olm and Megolm)
  EncryptedFile objects and m.file contents
  key export files (armored MEGOLM SESSION DATA) and decrypted session lists
  libolm and sicher pickles, recovery keys, device keys
  cross-signing keys, /keys/device_signing/upload bodies and /keys/query
    responses (users, devices, and which signatures verify)
  key backup versions and entries, /room_keys/keys bodies
  secret storage keys and secrets

No key is needed and no secret is printed. Given a pickle key, it opens a
pickle and describes the account or session inside (public keys, chains,
indices; never private keys or ratchet state).`,
}

func runInspect(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := inspectCmd
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "print JSON")
	keyFile := fs.String("pickle-key-file", "", "read the pickle key from this file (raw bytes; a 32-byte key for sicher pickles may also be base64 or hex)")
	keyPrompt := fs.Bool("pickle-key-prompt", false, "ask for the pickle key on the terminal")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if *keyFile != "" && *keyPrompt {
		return usageError(stderr, c, "give --pickle-key-file or --pickle-key-prompt, not both")
	}
	in, fromArgs, err := inspectInput(fs.Args(), stdin)
	if err != nil {
		return fail(stderr, c, err)
	}
	var pickleKey []byte
	switch {
	case *keyFile != "":
		k, err := readSecretFile(*keyFile)
		if err != nil {
			return fail(stderr, c, fmt.Errorf("reading the pickle key: %w", err))
		}
		pickleKey = []byte(k)
	case *keyPrompt:
		k, err := secretSource{what: "pickle key"}.read(false, stderr)
		if err != nil {
			return fail(stderr, c, err)
		}
		pickleKey = []byte(k)
	}
	res, err := inspect(in, pickleKey)
	if err != nil {
		return fail(stderr, c, err)
	}
	if fromArgs && res.Format == "recovery_key" {
		res.note("the recovery key was given on the command line: it may be in your shell history and visible to other users in the process list")
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		res.write(stdout, "")
	}
	if res.Invalid {
		return exitFail
	}
	return exitOK
}

// inspectInput returns the bytes to inspect, and whether they were the
// arguments themselves.
func inspectInput(args []string, stdin io.Reader) (in []byte, fromArgs bool, err error) {
	if len(args) == 0 || (len(args) == 1 && args[0] == "-") {
		in, err = readAllInput("-", stdin, maxKeyExportFile)
		return in, false, err
	}
	if len(args) == 1 {
		if fi, err := os.Stat(args[0]); err == nil && fi.Mode().IsRegular() {
			in, err = readAllInput(args[0], nil, maxKeyExportFile)
			return in, false, err
		}
	}
	return []byte(strings.Join(args, " ")), true, nil
}

// inspect recognises in.
func inspect(in []byte, pickleKey []byte) (*report, error) {
	text := strings.TrimSpace(string(in))
	switch {
	case text == "":
		return nil, errors.New("empty input")
	case strings.HasPrefix(text, keyexport.Header):
		return inspectKeyExport([]byte(text))
	case text[0] == '{' || text[0] == '[':
		return inspectJSON([]byte(text), pickleKey, 0)
	}
	if r := inspectRecoveryKey(text); r != nil {
		return r, nil
	}
	b, err := decodeLenient(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return nil, errors.New("not recognised: not JSON, not a key export file, not a recovery key and not base64")
	}
	return inspectBinary(text, b, pickleKey), nil
}

// inspectBinary recognises the base64-decoded bytes b of text. Every
// parser is tried: each checks its own version byte.
func inspectBinary(text string, b []byte, pickleKey []byte) *report {
	candidates := messageCandidates(b)
	if pickleKey != nil {
		if r := openPickle(text, b, pickleKey); r != nil {
			return r
		}
		if len(candidates) == 0 {
			r := newReport("pickle", "pickle that does not open with this key")
			r.add("length", fmt.Sprintf("%d bytes", len(b)))
			r.note("wrong pickle key, a corrupted pickle, or not an account, session or backup key pickle")
			r.Invalid = true
			return r
		}
	}
	if len(candidates) == 0 {
		candidates = pickleCandidates(text, b, pickleKey)
	}
	if len(candidates) == 0 {
		r := newReport("unknown", fmt.Sprintf("unrecognised binary data (%d bytes of base64)", len(b)))
		if len(b) > 0 {
			r.add("first byte", fmt.Sprintf("0x%02x", b[0]))
		}
		if len(b) == 32 {
			r.note("32 bytes: could be a Curve25519 or Ed25519 public key, a hash, or a secret key")
		}
		r.Invalid = true
		return r
	}
	first := candidates[0]
	for _, c := range candidates[1:] {
		first.note("also parses as: %s", c.Title)
	}
	return first
}

func aesBlocks(n int) string {
	if n/16 == 1 {
		return "1 AES block"
	}
	return fmt.Sprintf("%d AES blocks", n/16)
}

func unpadded(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// inspectJSON recognises a JSON value; depth counts the events it is
// nested in (an event's content is inspected once, not recursively
// without end).
func inspectJSON(in []byte, pickleKey []byte, depth int) (*report, error) {
	if in[0] == '[' {
		return inspectSessionList(in)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(in, &obj); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	str := func(name string) string {
		var s string
		json.Unmarshal(obj[name], &s)
		return s
	}
	switch {
	case obj["content"] != nil && obj["type"] != nil && depth == 0:
		return inspectEvent(obj, pickleKey)
	case str("algorithm") == signing.AlgorithmOlm:
		return inspectOlmContent(in), nil
	case str("algorithm") == signing.AlgorithmMegolm && obj["ciphertext"] != nil:
		return inspectMegolmContent(in), nil
	case obj["body"] != nil && obj["type"] != nil && obj["ciphertext"] == nil:
		return inspectOlmJSON(in), nil
	case obj["file"] != nil:
		return inspectEncryptedFile(obj["file"]), nil
	case obj["hashes"] != nil && obj["iv"] != nil:
		return inspectEncryptedFile(in), nil
	case obj["session_data"] != nil:
		return inspectBackupEntry(in), nil
	case obj["master_keys"] != nil || obj["self_signing_keys"] != nil || obj["user_signing_keys"] != nil ||
		(obj["device_keys"] != nil && !isDeviceKeys(obj["device_keys"])):
		return inspectKeysQuery(in), nil
	case obj["device_keys"] != nil:
		return inspectDeviceKeys(obj["device_keys"]), nil
	case obj["master_key"] != nil || obj["self_signing_key"] != nil || obj["user_signing_key"] != nil:
		return inspectDeviceSigningUpload(obj), nil
	case obj["usage"] != nil && obj["keys"] != nil && obj["user_id"] != nil:
		return inspectCrossSigningKey(in), nil
	case obj["rooms"] != nil:
		return inspectRoomKeys(in, true), nil
	case obj["sessions"] != nil:
		return inspectRoomKeys(in, false), nil
	case obj["keys"] != nil && obj["device_id"] != nil:
		return inspectDeviceKeys(in), nil
	case obj["session_key"] != nil && obj["session_id"] != nil:
		return inspectRoomKey(in), nil
	case obj["auth_data"] != nil:
		return inspectBackupVersion(obj), nil
	case obj["encrypted"] != nil:
		return inspectSecret(obj["encrypted"]), nil
	case str("algorithm") == secretstorage.Algorithm:
		return inspectKeyDescription(in), nil
	}
	return nil, errors.New("not recognised: a JSON object, but not a message, event content, EncryptedFile, device or cross-signing keys, room key, backup or secret storage object")
}

// decodeLenient decodes base64 in any of its spellings: padded or not,
// standard or URL-safe alphabet.
func decodeLenient(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	return base64.RawStdEncoding.DecodeString(s)
}
