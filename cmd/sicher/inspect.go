package main

// sicher inspect: recognise and describe, without keys, the formats people
// paste when debugging "unable to decrypt": Olm and Megolm messages,
// m.room.encrypted contents, session keys, key export files, encrypted
// attachments, pickles and recovery keys. With a pickle key it also
// describes a pickled account or session, without printing secrets.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
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
  key backup versions and entries, secret storage keys and secrets

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

// report is the description of one recognised object.
type report struct {
	Format  string    `json:"format"` // a stable identifier, e.g. "olm.prekey_message"
	Title   string    `json:"title"`
	Fields  fields    `json:"fields"`
	Parts   []*report `json:"parts,omitempty"`
	Notes   []string  `json:"notes,omitempty"`
	Invalid bool      `json:"invalid,omitempty"` // recognised, but fails a check
}

type field struct {
	name  string
	value any
}

// fields keep their order in JSON.
type fields []field

func (fs fields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func newReport(format, title string) *report {
	return &report{Format: format, Title: title, Fields: fields{}}
}

func (r *report) add(name string, value any) *report {
	r.Fields = append(r.Fields, field{name, value})
	return r
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *report) part(p *report) {
	r.Parts = append(r.Parts, p)
	if p.Invalid {
		r.Invalid = true
	}
}

func (r *report) write(w io.Writer, indent string) {
	fmt.Fprintf(w, "%s%s\n", indent, r.Title)
	width := 0
	for _, f := range r.Fields {
		width = max(width, len(f.name))
	}
	for _, f := range r.Fields {
		v := f.value
		if s, ok := v.([]string); ok {
			v = strings.Join(s, ", ")
		}
		fmt.Fprintf(w, "%s  %-*s  %v\n", indent, width+1, f.name+":", v)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s  note: %s\n", indent, n)
	}
	for _, p := range r.Parts {
		p.write(w, indent+"  ")
	}
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

// ---- binary formats ----

// inspectBinary recognises the base64-decoded bytes b of text.
func inspectBinary(text string, b []byte, pickleKey []byte) *report {
	var candidates []*report
	if len(b) > 0 {
		switch b[0] {
		case olmVersion:
			if m, err := olm.ParsePreKeyMessage(b); err == nil {
				candidates = append(candidates, describePreKey(m, len(b)))
			}
			if m, err := megolm.ParseMessage(b); err == nil {
				candidates = append(candidates, describeMegolmMessage(m, len(b), nil))
			}
			if m, err := olm.ParseMessage(b); err == nil {
				candidates = append(candidates, describeOlmMessage(m, len(b)))
			}
		case 2:
			if k, err := megolm.ParseSessionKey(b); err == nil {
				candidates = append(candidates, describeSessionKey(k))
			} else if len(b) == 229 {
				r := newReport("megolm.session_key", "Megolm session key (229 bytes), INVALID")
				r.add("error", err.Error())
				r.Invalid = true
				candidates = append(candidates, r)
			}
		case 1:
			if k, err := megolm.ParseExportedSessionKey(b); err == nil {
				candidates = append(candidates, describeExportedKey(k))
			}
		}
	}
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
	messages := len(candidates)
	if len(b) > 0 && b[0] == 1 && len(b) >= 1+12+16 && messages == 0 {
		r := newReport("sicher.pickle", "sicher pickle (AES-256-GCM envelope)")
		r.add("version", 1).add("nonce", fmt.Sprintf("%d bytes", 12)).
			add("ciphertext", fmt.Sprintf("%d bytes (state %d bytes + 16-byte GCM tag)", len(b)-13, len(b)-29))
		r.note("the object kind (account, session, ...) is authenticated data: give --pickle-key-file to open and describe it")
		candidates = append(candidates, r)
	}
	if len(b) >= 24 && (len(b)-8)%16 == 0 && messages == 0 {
		r := newReport("libolm.pickle", "libolm pickle envelope (AES-256-CBC + truncated HMAC-SHA-256), probably")
		r.add("ciphertext", fmt.Sprintf("%d bytes (%s)", len(b)-8, aesBlocks(len(b)-8))).add("mac", "8 bytes")
		r.note("libolm pickles carry no header: any base64 of 16n+8 bytes looks like this")
		if pickleKey == nil {
			r.note("give --pickle-key-file or --pickle-key-prompt to open and describe it")
		}
		candidates = append(candidates, r)
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

func describePreKey(m *olm.PreKeyMessage, n int) *report {
	r := newReport("olm.prekey_message", fmt.Sprintf("Olm pre-key message (type 0), %d bytes", n))
	r.add("version", m.Version())
	r.add("one-time key", m.OneTimeKey.String())
	r.add("base key", m.BaseKey.String())
	if m.IdentityKey != (key.Curve25519{}) {
		r.add("identity key", m.IdentityKey.String())
		// The session id: SHA-256(I_A ‖ E_A ‖ E_B), as olm.Session.ID.
		h := sha256.New()
		h.Write(m.IdentityKey[:])
		h.Write(m.BaseKey[:])
		h.Write(m.OneTimeKey[:])
		r.add("session id", unpadded(h.Sum(nil)))
	} else {
		r.add("identity key", "(absent)")
	}
	r.part(describeOlmMessage(m.Message, 0))
	r.note("the recipient must still hold the one-time (or fallback) key above, or have a session with this id")
	return r
}

// olmVersion is the version byte of Olm v1 messages.
const olmVersion = 3

// describeOlmMessage describes a normal Olm message of n bytes (0: inside a
// pre-key message).
func describeOlmMessage(m *olm.Message, n int) *report {
	title := "Olm message (type 1)"
	if n > 0 {
		title = fmt.Sprintf("Olm message (type 1), %d bytes", n)
	}
	r := newReport("olm.message", title)
	r.add("version", m.Version())
	r.add("ratchet key", m.RatchetKey.String())
	r.add("chain index", m.Index)
	r.add("ciphertext", fmt.Sprintf("%d bytes (%s)", len(m.Ciphertext), aesBlocks(len(m.Ciphertext))))
	r.add("mac", "8 bytes (truncated HMAC-SHA-256; only the session can check it)")
	if len(m.Ciphertext)%16 != 0 {
		r.note("the ciphertext is not a whole number of AES blocks: this message cannot decrypt")
		r.Invalid = true
	}
	return r
}

// describeMegolmMessage describes a Megolm message; with sessionID (the
// session's Ed25519 signing key) it also checks the signature.
func describeMegolmMessage(m *megolm.Message, n int, sessionID *key.Ed25519) *report {
	r := newReport("megolm.message", fmt.Sprintf("Megolm message, %d bytes", n))
	r.add("version", 3)
	r.add("message index", m.Index())
	ct := megolmCiphertextLen(m.Bytes())
	r.add("ciphertext", fmt.Sprintf("%d bytes (%s)", ct, aesBlocks(ct)))
	r.add("mac", "8 bytes (truncated HMAC-SHA-256; needs the session at this index)")
	r.add("signature", "64 bytes (Ed25519 by the session's signing key, which is its session id)")
	if sessionID != nil {
		raw := m.Bytes()
		sig := key.Ed25519Signature(raw[len(raw)-key.Ed25519SignatureSize:])
		if err := sessionID.Verify(raw[:len(raw)-len(sig)], sig); err != nil {
			r.add("signature check", "FAILS under session_id "+sessionID.String())
			r.note("the ciphertext was not made by this session: a wrong session_id or a tampered ciphertext")
			r.Invalid = true
		} else {
			r.add("signature check", "valid under session_id")
		}
	} else {
		r.note("the session id (the signing key) is not part of the message; inspect the m.room.encrypted content to check the signature")
	}
	return r
}

func describeSessionKey(k *megolm.SessionKey) *report {
	r := newReport("megolm.session_key", "Megolm session key (m.room_key session_key), 229 bytes")
	r.add("version", 2)
	r.add("first message index", k.Index())
	r.add("session id", k.SessionID().String())
	r.add("signature", "valid (by the session's signing key)")
	r.note("it holds the ratchet: whoever has it reads the room from index %d on (not printed)", k.Index())
	return r
}

func describeExportedKey(k *megolm.ExportedSessionKey) *report {
	r := newReport("megolm.exported_session_key", "Megolm exported session key (forwarded/backup/export form), 165 bytes")
	r.add("version", 1)
	r.add("first message index", k.Index())
	r.add("session id", k.SessionID().String())
	r.add("signature", "none (exported keys are unsigned: sessions imported from them are unverified)")
	r.note("it holds the ratchet: whoever has it reads the room from index %d on (not printed)", k.Index())
	return r
}

// ---- recovery keys ----

// inspectRecoveryKey recognises a recovery key; nil if text is not one.
func inspectRecoveryKey(text string) *report {
	compact := strings.Join(strings.Fields(text), "")
	looks := len(compact) == 48 && strings.HasPrefix(compact, "Es")
	groups := strings.Fields(text)
	if len(groups) >= 10 && len(groups) <= 14 {
		looks = true
		for _, g := range groups {
			if len(g) > 4 {
				looks = false
			}
		}
	}
	if !looks {
		return nil
	}
	rk, err := keybackup.ParseRecoveryKey(text)
	if err != nil {
		if errors.Is(err, recoverykey.ErrBadPrefix) && !strings.HasPrefix(compact, "Es") {
			return nil // base58 of something else; let base64 have a go
		}
		r := newReport("recovery_key", "recovery key, INVALID")
		r.add("error", explainRecoveryKey(err).Error())
		r.Invalid = true
		return r
	}
	dk := rk.DecryptionKey()
	r := newReport("recovery_key", "recovery key (base58, 0x8B01 prefix, parity byte)")
	r.add("characters", len(compact)).add("prefix", "valid").add("parity", "valid")
	r.add("backup public key", dk.PublicKey().String())
	r.note("compare the backup public key with auth_data.public_key of the backup version; the key itself is not printed")
	return r
}

// ---- key export files ----

// keyExportHeader is the public part of a key export file.
type keyExportHeader struct {
	Version    uint8
	Salt, IV   []byte
	Rounds     uint32
	Ciphertext int
}

// parseKeyExport decodes the armor and the fixed fields of a key export
// file: version ‖ salt(16) ‖ IV(16) ‖ rounds(4, big-endian) ‖ ciphertext ‖
// HMAC-SHA-256(32).
func parseKeyExport(file []byte) (*keyExportHeader, error) {
	text := strings.TrimSpace(string(file))
	body, ok := strings.CutPrefix(text, keyexport.Header)
	if !ok {
		return nil, fmt.Errorf("%w: no %q line", keyexport.ErrMalformed, keyexport.Header)
	}
	body, ok = strings.CutSuffix(strings.TrimSpace(body), keyexport.Footer)
	if !ok {
		return nil, fmt.Errorf("%w: no %q line (truncated?)", keyexport.ErrMalformed, keyexport.Footer)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		if raw, err = decodeLenient(strings.Join(strings.Fields(body), "")); err != nil {
			return nil, fmt.Errorf("%w: bad base64", keyexport.ErrMalformed)
		}
	}
	if len(raw) < keyExportMinSize {
		return nil, fmt.Errorf("%w: %d bytes, at least %d needed", keyexport.ErrMalformed, len(raw), keyExportMinSize)
	}
	h := &keyExportHeader{Salt: make([]byte, 16), IV: make([]byte, 16)}
	r := wire.Reader(raw)
	if !r.ReadUint8(&h.Version) || !r.CopyBytes(h.Salt) || !r.CopyBytes(h.IV) || !r.ReadUint32(&h.Rounds) {
		return nil, fmt.Errorf("%w: truncated header", keyexport.ErrMalformed)
	}
	if h.Version != keyexport.Version {
		return nil, fmt.Errorf("%w: 0x%02x", keyexport.ErrUnsupportedVersion, h.Version)
	}
	if h.Rounds == 0 {
		return nil, fmt.Errorf("%w: 0", keyexport.ErrBadRounds)
	}
	h.Ciphertext = r.Len() - 32
	return h, nil
}

func inspectKeyExport(file []byte) (*report, error) {
	h, err := parseKeyExport(file)
	if err != nil {
		r := newReport("key_export", "key export file (MEGOLM SESSION DATA), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r, nil
	}
	r := newReport("key_export", "key export file (MEGOLM SESSION DATA)")
	r.add("version", h.Version)
	r.add("salt", unpadded(h.Salt))
	r.add("iv", unpadded(h.IV))
	r.add("pbkdf2 rounds", h.Rounds)
	r.add("ciphertext", fmt.Sprintf("%d bytes (AES-256-CTR)", h.Ciphertext))
	r.add("mac", "32 bytes (HMAC-SHA-256; checked with the passphrase)")
	if int64(h.Rounds) > keyexport.DefaultMaxRounds {
		r.note("%d rounds is more than sicher accepts by default (%d): use keyexport decrypt --max-rounds", h.Rounds, keyexport.DefaultMaxRounds)
	}
	if h.Rounds < 100_000 {
		r.note("fewer than 100000 rounds: the spec recommends more")
	}
	r.note("decrypt with: sicher keyexport decrypt --list FILE")
	return r, nil
}

// ---- JSON ----

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
	case obj["device_keys"] != nil:
		return inspectDeviceKeys(obj["device_keys"]), nil
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
	return nil, errors.New("not recognised: a JSON object, but not a message, event content, EncryptedFile, device keys, room key, backup or secret storage object")
}

func inspectEvent(obj map[string]json.RawMessage, pickleKey []byte) (*report, error) {
	var typ, sender, id string
	json.Unmarshal(obj["type"], &typ)
	json.Unmarshal(obj["sender"], &sender)
	json.Unmarshal(obj["event_id"], &id)
	inner, err := inspectJSON(obj["content"], pickleKey, 1)
	if err != nil {
		return nil, fmt.Errorf("event of type %q: content: %w", typ, err)
	}
	r := newReport("event", fmt.Sprintf("event %s", typ))
	if sender != "" {
		r.add("sender", sender)
	}
	if id != "" {
		r.add("event id", id)
	}
	var room string
	if json.Unmarshal(obj["room_id"], &room) == nil && room != "" {
		r.add("room id", room)
	}
	r.part(inner)
	return r, nil
}

func inspectOlmJSON(in []byte) *report {
	var m olm.EncryptedMessage
	if err := json.Unmarshal(in, &m); err != nil {
		r := newReport("olm.message", "Olm message JSON {type, body}, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	return describeOlmEncrypted(m)
}

func describeOlmEncrypted(m olm.EncryptedMessage) *report {
	switch m.Type {
	case olm.TypePreKey:
		pm, err := olm.ParsePreKeyMessage(m.Body)
		if err != nil {
			r := newReport("olm.prekey_message", "Olm pre-key message (type 0), INVALID")
			r.add("error", err.Error())
			r.Invalid = true
			return r
		}
		return describePreKey(pm, len(m.Body))
	default:
		om, err := olm.ParseMessage(m.Body)
		if err != nil {
			r := newReport("olm.message", "Olm message (type 1), INVALID")
			r.add("error", err.Error())
			if _, perr := olm.ParsePreKeyMessage(m.Body); perr == nil {
				r.note("the body is a pre-key message: the type should be 0")
			}
			r.Invalid = true
			return r
		}
		return describeOlmMessage(om, len(m.Body))
	}
}

func inspectOlmContent(in []byte) *report {
	c, err := event.ParseOlmContent(in)
	if err != nil {
		r := newReport("m.room.encrypted.olm", "m.room.encrypted content (Olm), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("m.room.encrypted.olm", "m.room.encrypted content, m.olm.v1.curve25519-aes-sha2 (to-device)")
	r.add("sender key", c.SenderKey.String())
	r.add("recipients", len(c.Ciphertext))
	keys := make([]string, 0, len(c.Ciphertext))
	for k := range c.Ciphertext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := describeOlmEncrypted(c.Ciphertext[k])
		p.Title = "for recipient key " + k + ": " + p.Title
		r.part(p)
	}
	r.note("a device decrypts only the entry under its own Curve25519 identity key")
	return r
}

func inspectMegolmContent(in []byte) *report {
	c, err := event.ParseMegolmContent(in)
	if err != nil {
		r := newReport("m.room.encrypted.megolm", "m.room.encrypted content (Megolm), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("m.room.encrypted.megolm", "m.room.encrypted content, m.megolm.v1.aes-sha2 (room event)")
	r.add("session id", c.SessionID.String())
	if c.SenderKey != nil {
		r.add("sender key", c.SenderKey.String()+" (deprecated field)")
	}
	if c.DeviceID != "" {
		r.add("device id", c.DeviceID+" (deprecated field)")
	}
	if c.RelatesTo != nil {
		r.add("m.relates_to", string(*c.RelatesTo))
	}
	m := new(megolm.Message)
	if err := m.UnmarshalText([]byte(c.Ciphertext)); err != nil {
		p := newReport("megolm.message", "Megolm message, INVALID")
		p.add("error", err.Error())
		p.Invalid = true
		r.part(p)
		return r
	}
	sid := c.SessionID
	r.part(describeMegolmMessage(m, len(m.Bytes()), &sid))
	r.note("to decrypt, a device needs session %s at index %d or earlier", short(c.SessionID.String()), m.Index())
	return r
}

func inspectEncryptedFile(in []byte) *report {
	f, err := attachment.ParseEncryptedFile(in)
	if err != nil {
		r := newReport("encrypted_file", "EncryptedFile, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("encrypted_file", "EncryptedFile (encrypted attachment)")
	if f.URL != "" {
		r.add("url", f.URL)
	}
	v := f.Version
	if v == "" {
		v = "(none: legacy v0)"
	}
	r.add("version", v)
	if f.MimeType != "" {
		r.add("mimetype", f.MimeType)
	}
	r.add("iv", unpadded(f.IV[:]))
	r.add("sha256", unpadded(f.SHA256[:]))
	r.add("key", "A256CTR JWK present (secret, not printed)")
	if f.Version == attachment.Version2 && binary.BigEndian.Uint64(f.IV[8:]) != 0 {
		r.note("v2 requires the low 64 bits of the IV to be zero; these are not")
	}
	if f.Version != attachment.Version2 {
		r.note("legacy version: decrypt with --allow-legacy")
	}
	r.note("decrypt with: sicher attachment decrypt -j FILE.json CIPHERTEXT")
	return r
}

func inspectBackupEntry(in []byte) *report {
	var e keybackup.KeyBackupData
	if err := json.Unmarshal(in, &e); err != nil {
		r := newReport("key_backup_data", "key backup entry (KeyBackupData), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("key_backup_data", "key backup entry, m.megolm_backup.v1.curve25519-aes-sha2")
	r.add("first message index", e.FirstMessageIndex)
	r.add("forwarded count", e.ForwardedCount)
	r.add("is verified", e.IsVerified)
	r.add("ephemeral key", e.SessionData.Ephemeral.String())
	r.add("ciphertext", fmt.Sprintf("%d bytes (AES-256-CBC)", len(e.SessionData.Ciphertext)))
	r.add("mac", "8 bytes (over the empty string: it does not authenticate the ciphertext)")
	return r
}

func inspectDeviceKeys(in []byte) *report {
	dk, err := signing.ParseDeviceKeys(in)
	if err != nil {
		r := newReport("device_keys", "device keys, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("device_keys", "device keys")
	r.add("user id", dk.UserID).add("device id", dk.DeviceID).add("algorithms", dk.Algorithms)
	r.add("curve25519", dk.Curve25519.String()).add("ed25519", dk.Ed25519.String())
	if n := dk.DisplayName(); n != "" {
		r.add("display name", n)
	}
	if err := dk.VerifySelfSignature(); err != nil {
		r.add("self-signature", "INVALID: "+err.Error())
		r.Invalid = true
	} else {
		r.add("self-signature", "valid")
	}
	return r
}

func inspectRoomKey(in []byte) *report {
	var c struct {
		Algorithm  string `json:"algorithm"`
		RoomID     string `json:"room_id"`
		SessionID  string `json:"session_id"`
		SessionKey string `json:"session_key"`
		SenderKey  string `json:"sender_key"`
	}
	if err := json.Unmarshal(in, &c); err != nil {
		r := newReport("room_key", "room key, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("room_key", "room key content (m.room_key, m.forwarded_room_key or exported session)")
	r.add("algorithm", c.Algorithm).add("room id", c.RoomID).add("session id", c.SessionID)
	if c.SenderKey != "" {
		r.add("sender key", c.SenderKey)
	}
	var p *report
	if k, err := parseSessionKeyText(c.SessionKey); err == nil {
		p = describeSessionKey(k)
		if k.SessionID().String() != c.SessionID {
			r.note("the session key's id %s is not the session_id field", k.SessionID())
			r.Invalid = true
		}
	} else if k, err2 := parseExportedKeyText(c.SessionKey); err2 == nil {
		p = describeExportedKey(k)
		if k.SessionID().String() != c.SessionID {
			r.note("the session key's id %s is not the session_id field", k.SessionID())
			r.Invalid = true
		}
	} else {
		p = newReport("megolm.session_key", "session_key, INVALID")
		p.add("error", err.Error())
		p.Invalid = true
	}
	r.part(p)
	return r
}

func inspectSessionList(in []byte) (*report, error) {
	sessions, skipped, err := keyexport.ParseSessions(in)
	if err != nil {
		return nil, fmt.Errorf("not recognised: a JSON array, but not a session list: %w", err)
	}
	r := newReport("key_export.sessions", "decrypted key export (session list)")
	r.add("sessions", len(sessions)).add("invalid entries", len(skipped))
	rooms := map[string]int{}
	for _, s := range sessions {
		rooms[s.RoomID]++
	}
	names := make([]string, 0, len(rooms))
	for n := range rooms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.add("room "+n, fmt.Sprintf("%d sessions", rooms[n]))
	}
	for _, e := range skipped {
		r.note("%v", e)
	}
	r.Invalid = len(skipped) > 0
	r.note("the session keys in this list are secret (not printed)")
	return r, nil
}

func invalid(format, title string, err error) *report {
	r := newReport(format, title+", INVALID")
	r.add("error", err.Error())
	r.Invalid = true
	return r
}

// signers lists the key ids of a signatures object: "@user: ed25519:KEY".
func signers(sigs map[string]map[string]string) []string {
	var out []string
	for user, keys := range sigs {
		for id := range keys {
			out = append(out, user+" "+id)
		}
	}
	sort.Strings(out)
	return out
}

func inspectBackupVersion(obj map[string]json.RawMessage) *report {
	const title = "key backup version (GET /room_keys/version)"
	var v struct {
		Algorithm string `json:"algorithm"`
		Version   string `json:"version"`
		Count     *int   `json:"count"`
		AuthData  struct {
			PublicKey  string                       `json:"public_key"`
			Signatures map[string]map[string]string `json:"signatures"`
			Salt       string                       `json:"private_key_salt"`
			Iterations int                          `json:"private_key_iterations"`
		} `json:"auth_data"`
	}
	raw, _ := json.Marshal(obj)
	if err := json.Unmarshal(raw, &v); err != nil {
		return invalid("key_backup_version", title, err)
	}
	r := newReport("key_backup_version", title)
	r.add("algorithm", v.Algorithm)
	if v.Version != "" {
		r.add("version", v.Version)
	}
	if v.Count != nil {
		r.add("sessions", *v.Count)
	}
	if _, err := key.ParseCurve25519(v.AuthData.PublicKey); err != nil {
		r.add("public key", "INVALID: "+err.Error())
		r.Invalid = true
	} else {
		r.add("public key", v.AuthData.PublicKey)
	}
	r.add("signatures", signers(v.AuthData.Signatures))
	if v.AuthData.Salt != "" {
		r.add("passphrase", fmt.Sprintf("m.pbkdf2, %d iterations, salt of %d characters", v.AuthData.Iterations, len(v.AuthData.Salt)))
	}
	if v.Algorithm != keybackup.Algorithm {
		r.note("sicher reads only %s backups", keybackup.Algorithm)
		r.Invalid = true
	}
	r.note("check a recovery key against it with: sicher recovery-key check --auth-data FILE")
	return r
}

func inspectKeyDescription(in []byte) *report {
	const title = "secret storage key description (m.secret_storage.key.*)"
	var d secretstorage.KeyDescription
	if err := json.Unmarshal(in, &d); err != nil {
		return invalid("secret_storage_key", title, err)
	}
	r := newReport("secret_storage_key", title)
	if d.Name != "" {
		r.add("name", d.Name)
	}
	r.add("algorithm", d.Algorithm)
	if p := d.Passphrase; p != nil {
		r.add("passphrase", fmt.Sprintf("%s, %d iterations, salt of %d characters", p.Algorithm, p.Iterations, len(p.Salt)))
	} else {
		r.add("passphrase", "none (the key is a random key shown as a recovery key)")
	}
	if d.IV != "" && d.MAC != "" {
		r.add("key check", "iv and mac present")
		r.note("check a recovery key against it with: sicher recovery-key check --key-description FILE")
	} else {
		r.add("key check", "absent: any key is accepted until a secret fails to decrypt")
	}
	return r
}

func inspectSecret(in []byte) *report {
	const title = "secret storage secret (account data \"encrypted\")"
	var enc map[string]secretstorage.EncryptedData
	if err := json.Unmarshal(in, &enc); err != nil {
		return invalid("secret_storage_secret", title, err)
	}
	r := newReport("secret_storage_secret", title)
	ids := make([]string, 0, len(enc))
	for id := range enc {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	r.add("encrypted under", ids)
	for _, id := range ids {
		e := enc[id]
		p := newReport("secret_storage_secret", "under key "+id)
		for _, f := range []struct{ name, v, want string }{{"iv", e.IV, "16 bytes"}, {"ciphertext", e.Ciphertext, ""}, {"mac", e.MAC, "32 bytes"}} {
			b, err := decodeLenient(f.v)
			switch {
			case err != nil || f.v == "":
				p.add(f.name, "INVALID (not base64)")
				p.Invalid = true
			case f.want != "" && fmt.Sprintf("%d bytes", len(b)) != f.want:
				p.add(f.name, fmt.Sprintf("INVALID: %d bytes, want %s", len(b), f.want))
				p.Invalid = true
			default:
				p.add(f.name, fmt.Sprintf("%d bytes", len(b)))
			}
		}
		r.part(p)
	}
	r.note("AES-256-CTR + HMAC-SHA-256 under keys derived from the secret storage key and the secret's name")
	return r
}

// ---- pickles ----

// openPickle tries the pickle key on every kind of pickle sicher knows;
// nil if none opens.
func openPickle(text string, b []byte, pickleKey []byte) *report {
	text = strings.Join(strings.Fields(text), "")
	var key32 *[32]byte
	switch {
	case len(pickleKey) == 32:
		key32 = (*[32]byte)(pickleKey)
	default:
		s := strings.TrimSpace(string(pickleKey))
		if k, err := decodeLenient(s); err == nil && len(k) == 32 {
			key32 = (*[32]byte)(k)
		} else if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
			key32 = (*[32]byte)(k)
		}
	}
	if len(b) > 0 && b[0] == 1 && key32 != nil {
		if r := openSicherPickle(key32, text); r != nil {
			return r
		}
	}
	keys := [][]byte{pickleKey}
	if key32 != nil && !bytes.Equal(key32[:], pickleKey) {
		keys = append(keys, key32[:])
	}
	for _, k := range keys {
		if r := openLibolmPickle(k, text); r != nil {
			return r
		}
	}
	return nil
}

func openSicherPickle(k *[32]byte, text string) *report {
	title := "sicher pickle (AES-256-GCM), opened: "
	if a, err := olm.UnpickleAccount(k, text); err == nil {
		return describeAccount(newReport("sicher.pickle.account", title+"Olm account"), a)
	}
	if s, err := olm.UnpickleSession(k, text); err == nil {
		return describeOlmSession(newReport("sicher.pickle.session", title+"Olm session"), s)
	}
	if s, err := megolm.UnpickleInboundSession(k, text); err == nil {
		return describeInbound(newReport("sicher.pickle.inbound_group_session", title+"Megolm inbound session"), s)
	}
	if s, err := megolm.UnpickleOutboundSession(k, text); err == nil {
		return describeOutbound(newReport("sicher.pickle.outbound_group_session", title+"Megolm outbound session"), s)
	}
	if d, err := keybackup.Unpickle(k, text); err == nil {
		r := newReport("sicher.pickle.pk_decryption", title+"backup decryption key (PkDecryption)")
		r.add("public key", d.PublicKey().String())
		return r
	}
	return nil
}

func openLibolmPickle(k []byte, text string) *report {
	plain, err := pickle.OpenLibolm(k, text)
	if err != nil {
		return nil
	}
	var version uint32
	if len(plain) >= 4 {
		version = binary.BigEndian.Uint32(plain)
	}
	title := "libolm pickle, opened: "
	if a, err := olm.UnpickleLibolmAccount(k, text); err == nil {
		return describeAccount(newReport("libolm.pickle.account", title+"Olm account").add("pickle version", version), a)
	}
	if s, err := olm.UnpickleLibolmSession(k, text); err == nil {
		return describeOlmSession(newReport("libolm.pickle.session", title+"Olm session").add("pickle version", version), s)
	}
	if s, err := megolm.UnpickleLibolmInboundSession(k, text); err == nil {
		return describeInbound(newReport("libolm.pickle.inbound_group_session", title+"Megolm inbound session").add("pickle version", version), s)
	}
	if s, err := megolm.UnpickleLibolmOutboundSession(k, text); err == nil {
		return describeOutbound(newReport("libolm.pickle.outbound_group_session", title+"Megolm outbound session").add("pickle version", version), s)
	}
	if d, err := keybackup.UnpickleLibolm(k, text); err == nil {
		r := newReport("libolm.pickle.pk_decryption", title+"PkDecryption (backup key)").add("pickle version", version)
		r.add("public key", d.PublicKey().String())
		return r
	}
	r := newReport("libolm.pickle", "libolm pickle: the key is right (the MAC verifies) but the contents are not an object sicher reads")
	r.add("pickle version", version).add("plaintext", fmt.Sprintf("%d bytes", len(plain)))
	r.Invalid = true
	return r
}

func describeAccount(r *report, a *olm.Account) *report {
	r.add("curve25519", a.Curve25519().String()).add("ed25519", a.Ed25519().String())
	r.add("one-time keys", fmt.Sprintf("%d stored, %d unpublished", a.StoredOneTimeKeys(), len(a.OneTimeKeys())))
	if fk, ok := a.UnpublishedFallbackKey(); ok {
		r.add("fallback key", fmt.Sprintf("%s (id %s, unpublished)", fk.Key, fk.ID))
	} else {
		r.add("fallback key", "none unpublished")
	}
	r.note("private keys are not printed")
	return r
}

func describeOlmSession(r *report, s *olm.Session) *report {
	r.add("session id", s.ID())
	r.add("received a message", s.HasReceivedMessage())
	r.add("state", fmt.Sprint(s))
	r.note("chain and message keys are not printed")
	return r
}

func describeInbound(r *report, s *megolm.InboundSession) *report {
	r.add("session id", s.SessionID().String())
	r.add("first known index", s.FirstKnownIndex())
	r.add("verified", s.IsVerified())
	r.note("the ratchet is not printed")
	return r
}

func describeOutbound(r *report, s *megolm.OutboundSession) *report {
	r.add("session id", s.SessionID().String())
	r.add("next message index", s.MessageIndex())
	r.note("the ratchet and signing key are not printed")
	return r
}

// keyExportMinSize is the smallest binary key export file: version, salt,
// IV and round count, then the MAC around an empty ciphertext.
const keyExportMinSize = 1 + 16 + 16 + 4 + 32

func parseSessionKeyText(s string) (*megolm.SessionKey, error) {
	k := new(megolm.SessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

func parseExportedKeyText(s string) (*megolm.ExportedSessionKey, error) {
	k := new(megolm.ExportedSessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

// megolmCiphertextLen returns the length of the (last) ciphertext field of
// a parsed Megolm message: version, fields, then MAC (8) and signature (64).
func megolmCiphertextLen(raw []byte) int {
	r := wire.Reader(raw[1 : len(raw)-8-key.Ed25519SignatureSize])
	var f wire.Field
	n := 0
	for !r.Empty() && r.ReadField(&f) {
		if f.IsBytes(2) {
			n = len(f.Bytes)
		}
	}
	return n
}
