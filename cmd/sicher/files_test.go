package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/secretstorage"
)

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noTerminal makes every passphrase prompt fail as it does without a
// terminal, and records whether one was attempted.
func noTerminal(t *testing.T) *bool {
	asked := false
	old := askSecret
	askSecret = func(string, io.Writer) (string, error) { asked = true; return "", errNoTerminal }
	t.Cleanup(func() { askSecret = old })
	return &asked
}

// typed makes the prompts return answers in turn.
func typed(t *testing.T, answers ...string) {
	old := askSecret
	askSecret = func(string, io.Writer) (string, error) {
		if len(answers) == 0 {
			return "", errors.New("no more answers")
		}
		a := answers[0]
		answers = answers[1:]
		return a, nil
	}
	t.Cleanup(func() { askSecret = old })
}

// noLeftovers fails if dir holds temporary files of an atomic write.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*.part"))
	if len(m) > 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
}

func TestGroupHelp(t *testing.T) {
	out, _, code := runCLI(t, "", "help")
	for _, c := range []string{"demo", "inspect", "attachment", "keyexport", "recovery-key", "peer", "version"} {
		if code != 0 || !strings.Contains(out, "  "+c+" ") {
			t.Errorf("help lacks %q (exit %d):\n%s", c, code, out)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string // on stdout if code 0, else on stderr
	}{
		{[]string{"attachment"}, 2, "Usage: sicher attachment COMMAND"},
		{[]string{"attachment", "-h"}, 0, "decrypt"},
		{[]string{"keyexport", "help"}, 0, "encrypt"},
		{[]string{"keyexport", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"recovery-key", "--help"}, 0, "from-passphrase"},
		{[]string{"attachment", "encrypt", "-h"}, 0, "Usage: sicher attachment encrypt"},
		{[]string{"attachment", "decrypt", "-h"}, 0, "Usage: sicher attachment decrypt"},
		{[]string{"keyexport", "decrypt", "-h"}, 0, "--passphrase-file"},
		{[]string{"keyexport", "encrypt", "-h"}, 0, "-rounds"},
		{[]string{"recovery-key", "generate", "-h"}, 0, "Usage: sicher recovery-key generate"},
		{[]string{"recovery-key", "check", "-h"}, 0, "-key-description"},
		{[]string{"recovery-key", "from-passphrase", "-h"}, 0, "-salt"},
		{[]string{"demo", "-h"}, 0, "Usage: sicher demo"},
		{[]string{"recovery-key", "generate", "extra"}, 2, "unexpected argument"},
		{[]string{"recovery-key", "generate", "--bogus"}, 2, "flag provided but not defined: -bogus"},
	} {
		out, errOut, code := runCLI(t, "", tc.args...)
		got := out
		if tc.code != 0 {
			got = errOut
		}
		if code != tc.code || !strings.Contains(got, tc.out) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, tc.code, tc.out)
		}
	}
}

func TestAttachmentRoundTrip(t *testing.T) {
	rnd := mrand.NewChaCha8([32]byte{'a'})
	for _, size := range []int{0, 1, 4095, 128<<10 + 1, 1 << 20} {
		dir := t.TempDir()
		plain := make([]byte, size)
		rnd.Read(plain)
		in := writeFile(t, dir, "doc.pdf", plain)
		js, enc, dec := filepath.Join(dir, "doc.json"), filepath.Join(dir, "doc.enc"), filepath.Join(dir, "doc.out")
		out, errOut, code := runCLI(t, "", "attachment", "encrypt", "-j", js, "-o", enc, "--url", "mxc://example.org/doc", in)
		wantErr := fmt.Sprintf("sicher: wrote %s of ciphertext to %s\nsicher: wrote the EncryptedFile JSON (it holds the key: secret) to %s\n", humanBytes(int64(size)), enc, js)
		if code != 0 || out != "" || errOut != wantErr {
			t.Fatalf("size %d: encrypt: exit %d, %q, %q", size, code, out, errOut)
		}
		if fi, err := os.Stat(js); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("EncryptedFile JSON not private: %v %v", fi.Mode(), err)
		}
		f, err := attachment.ParseEncryptedFile(readFile(t, js))
		if err != nil || f.URL != "mxc://example.org/doc" || f.Version != "v2" {
			t.Fatalf("EncryptedFile %v, %v", f, err)
		}
		ct := readFile(t, enc)
		if len(ct) != size || (size > 16 && bytes.Equal(ct, plain)) {
			t.Fatalf("size %d: ciphertext of %d bytes", size, len(ct))
		}
		// The library decrypts what the command wrote.
		if got, err := attachment.Decrypt(ct, f, nil); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: library decrypt: %v", size, err)
		}
		if _, errOut, code := runCLI(t, "", "attachment", "decrypt", "-j", js, "-o", dec, enc); code != 0 {
			t.Fatalf("size %d: decrypt: exit %d %s", size, code, errOut)
		}
		if !bytes.Equal(readFile(t, dec), plain) {
			t.Fatalf("size %d: decrypted file differs", size)
		}
		// stdin to stdout, both ways.
		ct2, errOut, code := runCLI(t, string(plain), "attachment", "encrypt", "-j", js+"2")
		if code != 0 {
			t.Fatalf("stdin encrypt: %d %s", code, errOut)
		}
		pt2, errOut, code := runCLI(t, ct2, "attachment", "decrypt", "-j", js+"2")
		if code != 0 || pt2 != string(plain) {
			t.Fatalf("stdin decrypt: %d %s", code, errOut)
		}
		noLeftovers(t, dir)
	}
}

// The attachment matrix-nio (python3-matrix-nio 0.20.1, libolm 3.2.13)
// encrypted, recorded in keyexport/testdata/nio_export.json.
func TestAttachmentDecryptNioVector(t *testing.T) {
	var v struct {
		Attachment struct {
			Plaintext     string          `json:"plaintext"`
			CiphertextHex string          `json:"ciphertext_hex"`
			Info          json.RawMessage `json:"info"`
		} `json:"attachment"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join("..", "..", "keyexport", "testdata", "nio_export.json")), &v); err != nil {
		t.Fatal(err)
	}
	ct, err := hex.DecodeString(v.Attachment.CiphertextHex)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	js := writeFile(t, dir, "file.json", v.Attachment.Info)
	out, errOut, code := runCLI(t, string(ct), "attachment", "decrypt", "-j", js)
	if code != 0 || out != v.Attachment.Plaintext {
		t.Fatalf("exit %d, %q, stderr %q", code, out, errOut)
	}
	// The same EncryptedFile inside an m.file content and inside an event.
	content := `{"msgtype":"m.file","body":"x","file":` + string(v.Attachment.Info) + `}`
	for _, wrapped := range []string{content, `{"type":"m.room.message","content":` + content + `}`} {
		js := writeFile(t, dir, "wrapped.json", []byte(wrapped))
		if out, errOut, code := runCLI(t, string(ct), "attachment", "decrypt", "-j", js); code != 0 || out != v.Attachment.Plaintext {
			t.Fatalf("wrapped: exit %d, %q, %s", code, out, errOut)
		}
	}
}

func TestAttachmentDecryptBadInput(t *testing.T) {
	dir := t.TempDir()
	plain := bytes.Repeat([]byte("Befund "), 50_000)
	in := writeFile(t, dir, "doc", plain)
	js, enc := filepath.Join(dir, "doc.json"), filepath.Join(dir, "doc.enc")
	if _, errOut, code := runCLI(t, "", "attachment", "encrypt", "-j", js, "-o", enc, in); code != 0 {
		t.Fatal(errOut)
	}
	ct := readFile(t, enc)
	flipped := bytes.Clone(ct)
	flipped[len(flipped)/3] ^= 0x20
	var fileObj map[string]any
	json.Unmarshal(readFile(t, js), &fileObj)
	fileObj["v"] = "v1"
	v1, _ := json.Marshal(fileObj)
	fileObj["v"] = "v2"
	fileObj["key"].(map[string]any)["k"] = "c2hvcnQ"
	shortKey, _ := json.Marshal(fileObj)

	for _, tc := range []struct {
		name       string
		json       []byte // nil: the right one
		ciphertext []byte
		args       []string
		code       int
		msg        string
	}{
		{"flipped bit", nil, flipped, nil, 1, "SHA-256 does not match"},
		{"truncated", nil, ct[:len(ct)-1], nil, 1, "SHA-256 does not match"},
		{"empty", nil, nil, nil, 1, "SHA-256 does not match"},
		{"extended", nil, append(bytes.Clone(ct), 0), nil, 1, "SHA-256 does not match"},
		{"garbage JSON", []byte("not json"), ct, nil, 1, "not a JSON object"},
		{"key too short", shortKey, ct, nil, 1, "invalid EncryptedFile"},
		{"legacy version", v1, ct, nil, 1, "--allow-legacy"},
		{"no -j", nil, ct, []string{"-j", ""}, 2, "-j FILE.json is required"},
		{"two inputs", nil, ct, []string{"a", "b"}, 2, "at most one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jsPath := js
			if tc.json != nil {
				jsPath = writeFile(t, dir, "bad.json", tc.json)
			}
			// To a file: nothing appears at the output path.
			outPath := filepath.Join(dir, "out-"+tc.name)
			ctPath := writeFile(t, dir, "ct", tc.ciphertext)
			args := append([]string{"attachment", "decrypt", "-j", jsPath, "-o", outPath}, tc.args...)
			if tc.args == nil {
				args = append(args, ctPath)
			}
			_, errOut, code := runCLI(t, "", args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("to file: exit %d, %q; want %d, %q", code, errOut, tc.code, tc.msg)
			}
			if _, err := os.Stat(outPath); err == nil {
				t.Error("output file written despite the failure")
			}
			noLeftovers(t, dir)
			// To stdout: not a byte of plaintext.
			if tc.code == 1 {
				out, errOut, code := runCLI(t, string(tc.ciphertext), "attachment", "decrypt", "-j", jsPath)
				if code != 1 || out != "" || !strings.HasPrefix(errOut, "sicher attachment decrypt: ") {
					t.Errorf("to stdout: exit %d, %d bytes out, %q", code, len(out), errOut)
				}
			}
		})
	}
	if _, errOut, code := runCLI(t, "", "attachment", "decrypt", "-j", js, filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing input: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "attachment", "encrypt", "-j", js, filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("encrypt missing input: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "x", "attachment", "encrypt", "-j", "-"); code != 2 || !strings.Contains(errOut, "needs -o FILE") {
		t.Errorf("encrypt with both outputs on stdout: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "x", "attachment", "encrypt"); code != 2 || !strings.Contains(errOut, "key would be lost") {
		t.Errorf("encrypt without -j: %d %q", code, errOut)
	}
}

// reactExport is vector 2 of matrix-react-sdk's
// test/utils/MegolmExportEncryption-test.js (as in keyexport's tests).
const reactExport = "-----BEGIN MEGOLM SESSION DATA-----\n" +
	"AW1vcmVzYWx0bW9yZXNhbHT//////////wAAAAAAAAAAAAAD6KyBpe1Niv5M5NPm4ZATsJo5nghk\n" +
	"KYu63a0YQ5DRhUWEKk7CcMkrKnAUiZny\n" +
	"-----END MEGOLM SESSION DATA-----\n"

func nioExport(t *testing.T) (file []byte, passphrase string, sessionIDs []string) {
	t.Helper()
	var v struct {
		Passphrase string `json:"passphrase"`
		Sessions   []struct {
			RoomID    string `json:"room_id"`
			SessionID string `json:"session_id"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join("..", "..", "keyexport", "testdata", "nio_export.json")), &v); err != nil {
		t.Fatal(err)
	}
	for _, s := range v.Sessions {
		sessionIDs = append(sessionIDs, s.RoomID+"  "+s.SessionID)
	}
	return readFile(t, filepath.Join("..", "..", "keyexport", "testdata", "nio_export.txt")), v.Passphrase, sessionIDs
}

func TestKeyExportDecryptVectors(t *testing.T) {
	dir := t.TempDir()
	asked := noTerminal(t)
	// matrix-react-sdk: the plaintext is not a session list, so decrypt
	// warns and writes it; --list refuses.
	pass := writeFile(t, dir, "pass", []byte("betterpassword\n"))
	out, errOut, code := runCLI(t, reactExport, "keyexport", "decrypt", "--passphrase-file", pass)
	if code != 0 || out != "Hello, World" || !strings.Contains(errOut, "not a session list") {
		t.Errorf("react-sdk vector: exit %d, %q, %q", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, reactExport, "keyexport", "decrypt", "--list", "--passphrase-file", pass); code != 1 || !strings.Contains(errOut, "not a session list") {
		t.Errorf("react-sdk vector --list: exit %d, %q", code, errOut)
	}

	// matrix-nio: two sessions, listed without their keys.
	file, passphrase, ids := nioExport(t)
	t.Setenv("SICHER_TEST_PASSPHRASE", passphrase)
	out, errOut, code = runCLI(t, string(file), "keyexport", "decrypt", "--list", "--passphrase-env", "SICHER_TEST_PASSPHRASE")
	if code != 0 || errOut != "" {
		t.Fatalf("nio --list: exit %d, %q", code, errOut)
	}
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Errorf("nio --list lacks %q:\n%s", id, out)
		}
	}
	if !strings.Contains(out, "2 sessions") || strings.Contains(out, "session_key") || strings.Contains(out, "AQAAAA") {
		t.Errorf("nio --list:\n%s", out)
	}
	outPath := filepath.Join(dir, "keys.json")
	if _, errOut, code := runCLI(t, string(file), "keyexport", "decrypt", "-o", outPath, "--passphrase-env", "SICHER_TEST_PASSPHRASE"); code != 0 {
		t.Fatal(errOut)
	}
	if fi, _ := os.Stat(outPath); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Error("decrypted keys not written with mode 0600")
	}
	sessions, skipped, err := keyexport.ParseSessions(readFile(t, outPath))
	if err != nil || len(skipped) != 0 || len(sessions) != 2 {
		t.Errorf("decrypted file: %d sessions, %v, %v", len(sessions), skipped, err)
	}
	if *asked {
		t.Error("prompted for a passphrase although one was given")
	}
}

func TestKeyExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	noTerminal(t)
	var list []*megolm.ExportedSession
	for i := range 3 {
		out, err := megolm.NewOutboundSessionFrom(mrand.NewChaCha8([32]byte{byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		in, _ := megolm.NewInboundSession(out.SessionKey())
		list = append(list, megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), "!room:example.org", [32]byte{1}, [32]byte{2}))
	}
	plain, err := keyexport.MarshalSessions(list)
	if err != nil {
		t.Fatal(err)
	}
	pass := writeFile(t, dir, "pass", []byte("Sommer im Garten\n"))
	exported := filepath.Join(dir, "keys.txt")
	if _, errOut, code := runCLI(t, string(plain), "keyexport", "encrypt", "--rounds", "1000", "--passphrase-file", pass, "-o", exported); code != 0 {
		t.Fatal(errOut)
	}
	file := readFile(t, exported)
	// The library (and so Element's format) reads it.
	got, _, err := keyexport.Import(file, "Sommer im Garten", nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("Import: %d sessions, %v", len(got), err)
	}
	out, _, code := runCLI(t, string(file), "keyexport", "decrypt", "--passphrase-file", pass)
	if code != 0 || out != string(plain) {
		t.Fatalf("decrypt after encrypt: exit %d", code)
	}
	// A typed passphrase is asked twice and must match.
	typed(t, "eins", "zwei")
	if _, errOut, code := runCLI(t, string(plain), "keyexport", "encrypt", "--rounds", "1000"); code != 1 || !strings.Contains(errOut, "differ") {
		t.Errorf("mismatched passphrases: exit %d, %q", code, errOut)
	}
	typed(t, "eins", "eins", "eins")
	out, errOut, code := runCLI(t, string(plain), "keyexport", "encrypt", "--rounds", "1000")
	if code != 0 {
		t.Fatalf("typed passphrase: exit %d, %q", code, errOut)
	}
	if out2, _, code := runCLI(t, out, "keyexport", "decrypt"); code != 0 || out2 != string(plain) {
		t.Errorf("decrypt with typed passphrase: exit %d", code)
	}
}

func TestKeyExportBadInput(t *testing.T) {
	dir := t.TempDir()
	file, passphrase, _ := nioExport(t)
	pass := writeFile(t, dir, "pass", []byte(passphrase))
	wrong := writeFile(t, dir, "wrong", []byte(passphrase+"!"))
	body := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(string(file), keyexport.Header)), keyexport.Footer))
	truncated := keyexport.Header + "\n" + body[:len(body)-16] + "\n" + keyexport.Footer + "\n"
	headerOnly := keyexport.Header + "\nAQ==\n" + keyexport.Footer + "\n"
	badVersion := strings.Replace(string(file), "\nAT", "\nAj", 1)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
		prompts     bool
	}{
		{"wrong passphrase", string(file), []string{"--passphrase-file", wrong}, 1, "wrong passphrase, or the file is corrupted", false},
		{"truncated body", truncated, []string{"--passphrase-file", pass}, 1, "wrong passphrase, or the file is corrupted", false},
		{"truncated file", string(file[:len(file)/2]), []string{"--passphrase-file", pass}, 1, "truncated?", false},
		{"too short", headerOnly, []string{"--passphrase-file", pass}, 1, "is too short", false},
		{"bad version", badVersion, []string{"--passphrase-file", pass}, 1, "unsupported export format version", false},
		{"garbage", "hello", []string{"--passphrase-file", pass}, 1, "malformed key export", false},
		{"empty", "", []string{"--passphrase-file", pass}, 1, "malformed key export", false},
		{"too many rounds", string(file), []string{"--max-rounds", "9999"}, 1, "more than --max-rounds 9999", false},
		{"no terminal", string(file), nil, 1, "cannot ask for the passphrase", true},
		{"missing passphrase file", string(file), []string{"--passphrase-file", filepath.Join(dir, "nope")}, 1, "reading the passphrase", false},
		{"unset variable", string(file), []string{"--passphrase-env", "SICHER_NO_SUCH_VARIABLE"}, 1, "is not set", false},
		{"file and env", string(file), []string{"--passphrase-file", pass, "--passphrase-env", "X"}, 1, "not both", false},
		{"list and -o", string(file), []string{"--list", "-o", "x"}, 2, "exclude each other", false},
		{"two files", "", []string{"a", "b"}, 2, "at most one", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := noTerminal(t)
			out, errOut, code := runCLI(t, tc.stdin, append([]string{"keyexport", "decrypt"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.msg)
			}
			if *asked != tc.prompts {
				t.Errorf("prompted: %v", *asked)
			}
		})
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"not JSON", "nope", []string{"--passphrase-file", pass}, 1, "not a session list"},
		{"object", "{}", []string{"--passphrase-file", pass}, 1, "not a session list"},
		{"empty passphrase", "[]", []string{"--passphrase-file", writeFile(t, dir, "empty", nil)}, 1, "empty passphrase"},
		{"zero rounds", "[]", []string{"--rounds", "0"}, 2, "--rounds"},
	} {
		t.Run("encrypt "+tc.name, func(t *testing.T) {
			noTerminal(t)
			out, errOut, code := runCLI(t, tc.stdin, append([]string{"keyexport", "encrypt"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.msg)
			}
		})
	}
	// Invalid entries are reported but do not stop the export.
	out, errOut, code := runCLI(t, `[{"algorithm":"m.megolm.v1.aes-sha2"}]`, "keyexport", "encrypt", "--rounds", "10", "--passphrase-file", pass)
	if code != 0 || !strings.Contains(errOut, "warning") || !strings.HasPrefix(out, keyexport.Header) {
		t.Errorf("invalid entry: exit %d, %q", code, errOut)
	}
}

// base58 encodes b with the Bitcoin alphabet (for building recovery keys
// with a wrong prefix in tests).
func base58(b []byte) string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	n := new(big.Int).SetBytes(b)
	var out []byte
	for n.Sign() > 0 {
		m := new(big.Int)
		n.DivMod(n, big.NewInt(58), m)
		out = append(out, alphabet[m.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func TestRecoveryKey(t *testing.T) {
	dir := t.TempDir()
	out, _, code := runCLI(t, "", "recovery-key", "generate", "--json")
	var gen recoveryOutput
	if err := json.Unmarshal([]byte(out), &gen); err != nil || code != 0 {
		t.Fatalf("generate: %d %q %v", code, out, err)
	}
	rk, err := keybackup.ParseRecoveryKey(gen.RecoveryKey)
	if err != nil || rk.DecryptionKey().PublicKey().String() != gen.PublicKey {
		t.Fatalf("generated key %v, public key mismatch", err)
	}
	out, _, code = runCLI(t, "", "recovery-key", "generate")
	if code != 0 || !strings.HasPrefix(out, "recovery key:      Es") || !strings.Contains(out, "backup public key: ") {
		t.Errorf("generate: %q", out)
	}

	keyFile := writeFile(t, dir, "rk", []byte(gen.RecoveryKey+"\n"))
	other, _ := keybackup.GenerateDecryptionKey()
	goodAuth := writeFile(t, dir, "version.json", []byte(`{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","version":"1","auth_data":{"public_key":"`+gen.PublicKey+`","signatures":{}}}`))
	badAuth := writeFile(t, dir, "auth_data.json", []byte(`{"public_key":"`+other.PublicKey().String()+`"}`))
	otherAlg := writeFile(t, dir, "other.json", []byte(`{"algorithm":"org.example.other","auth_data":{"public_key":"`+gen.PublicKey+`"}}`))
	b := rk.DecryptionKey().Bytes()
	sk, _ := secretstorage.NewKeyFromBytes(b[:])
	desc, _ := sk.Description("Wiederherstellung", nil)
	descJSON, _ := json.Marshal(desc)
	goodDesc := writeFile(t, dir, "desc.json", descJSON)
	ob := other.Bytes()
	osk, _ := secretstorage.NewKeyFromBytes(ob[:])
	odesc, _ := osk.Description("", nil)
	odescJSON, _ := json.Marshal(odesc)
	badDesc := writeFile(t, dir, "odesc.json", odescJSON)

	// A fixed key, so that the mistyped character is one the parity byte
	// catches (a random one passes parity 1 time in 256).
	fixed, err := keybackup.NewDecryptionKey(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatal(err)
	}
	typo := []byte(fixed.RecoveryKey().Encode())
	typo[7] = map[bool]byte{true: 'x', false: 'y'}[typo[7] != 'x']
	prefixed := make([]byte, 35)
	prefixed[0], prefixed[1] = 0x8b, 0x02
	for _, c := range prefixed[:34] {
		prefixed[34] ^= c
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		out         string // stdout for 0, stderr otherwise
	}{
		{"stdin", gen.RecoveryKey, nil, 0, "valid recovery key\nbackup public key: " + gen.PublicKey},
		{"key file", "", []string{"--key-file", keyFile}, 0, "valid recovery key"},
		{"no spaces", strings.ReplaceAll(gen.RecoveryKey, " ", ""), nil, 0, "valid recovery key"},
		{"public key", gen.RecoveryKey, []string{"--public-key", gen.PublicKey}, 0, "matches the backup public key"},
		{"auth data", gen.RecoveryKey, []string{"--auth-data", goodAuth}, 0, "opens the backup"},
		{"key description", gen.RecoveryKey, []string{"--key-description", goodDesc}, 0, `opens the secret storage key "Wiederherstellung"`},
		{"wrong public key", gen.RecoveryKey, []string{"--public-key", other.PublicKey().String()}, 1, "wrong recovery key"},
		{"wrong auth data", gen.RecoveryKey, []string{"--auth-data", badAuth}, 1, "wrong recovery key"},
		{"other algorithm", gen.RecoveryKey, []string{"--auth-data", otherAlg}, 1, "is not m.megolm_backup.v1"},
		{"wrong key description", gen.RecoveryKey, []string{"--key-description", badDesc}, 1, "wrong recovery key for this secret storage key"},
		{"bad public key", gen.RecoveryKey, []string{"--public-key", "xyz"}, 1, "--public-key"},
		{"typo", string(typo), nil, 1, "a character is mistyped"},
		{"not base58", strings.Replace(gen.RecoveryKey, gen.RecoveryKey[5:6], "0", 1), nil, 1, "not base58"},
		{"too short", gen.RecoveryKey[:40], nil, 1, "48 characters"},
		{"wrong prefix", base58(prefixed), nil, 1, "wrong prefix"},
		{"empty", "", nil, 1, "no recovery key"},
		{"argument", "", []string{gen.RecoveryKey}, 2, "not taken from the command line"},
		{"two targets", gen.RecoveryKey, []string{"--public-key", gen.PublicKey, "--auth-data", goodAuth}, 2, "at most one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.stdin, append([]string{"recovery-key", "check"}, tc.args...)...)
			got := out
			if tc.code != 0 {
				got = errOut
			}
			if code != tc.code || !strings.Contains(got, tc.out) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.out)
			}
			if strings.Contains(out+errOut, gen.RecoveryKey[5:]) {
				t.Error("check printed the recovery key")
			}
		})
	}
}

func TestRecoveryKeyFromPassphrase(t *testing.T) {
	dir := t.TempDir()
	noTerminal(t)
	// m.pbkdf2 vector of matrix-rust-sdk (reference §14.7), as in
	// keybackup's tests.
	const pass, salt = "It's a secret to everybody", "IuLnH7S85YtZmkkBJKwNUKxWF42g9O1H"
	want, _ := hex.DecodeString("397aff44a04238741cff9b76b38126073c34bf25599fa9969287f01ccf77559f")
	wk, err := keybackup.NewDecryptionKey(want)
	if err != nil {
		t.Fatal(err)
	}
	passFile := writeFile(t, dir, "pass", []byte(pass+"\n"))
	wrongFile := writeFile(t, dir, "wrong", []byte("It's no secret"))
	out, errOut, code := runCLI(t, "", "recovery-key", "from-passphrase", "--salt", salt, "--iterations", "10", "--passphrase-file", passFile, "--json")
	var got recoveryOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("exit %d, %q, %q", code, out, errOut)
	}
	if got.RecoveryKey != wk.RecoveryKey().Encode() || got.PublicKey != wk.PublicKey().String() || got.Salt != "" {
		t.Errorf("got %+v", got)
	}

	authData := writeFile(t, dir, "auth.json", []byte(`{"public_key":"`+wk.PublicKey().String()+`","private_key_salt":"`+salt+`","private_key_iterations":10}`))
	noSalt := writeFile(t, dir, "nosalt.json", []byte(`{"public_key":"`+wk.PublicKey().String()+`"}`))
	sk, info, err := secretstorage.NewPassphraseKey(pass, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	desc, _ := sk.Description("", info)
	descJSON, _ := json.Marshal(desc)
	descFile := writeFile(t, dir, "desc.json", descJSON)
	noPassDesc, _ := sk.Description("", nil)
	noPassJSON, _ := json.Marshal(noPassDesc)
	noPassFile := writeFile(t, dir, "nopass.json", noPassJSON)
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"auth data", []string{"--auth-data", authData, "--passphrase-file", passFile}, 0, wk.RecoveryKey().Encode()},
		{"auth data, wrong passphrase", []string{"--auth-data", authData, "--passphrase-file", wrongFile}, 1, "wrong passphrase"},
		{"auth data without salt", []string{"--auth-data", noSalt, "--passphrase-file", passFile}, 1, "not made from a passphrase"},
		{"key description", []string{"--key-description", descFile, "--passphrase-file", passFile}, 0, sk.RecoveryKey()},
		{"key description, wrong passphrase", []string{"--key-description", descFile, "--passphrase-file", wrongFile}, 1, "wrong passphrase for this secret storage key"},
		{"key description without passphrase", []string{"--key-description", noPassFile, "--passphrase-file", passFile}, 1, "not made from a passphrase"},
		{"salt without iterations", []string{"--salt", "x", "--passphrase-file", passFile}, 2, "--salt needs --iterations"},
		{"two sources", []string{"--salt", "x", "--auth-data", authData}, 2, "only one of"},
		{"too many iterations", []string{"--salt", "x", "--iterations", "20000000"}, 2, "--iterations"},
		{"no terminal", []string{"--salt", "x", "--iterations", "1"}, 1, "cannot ask for the passphrase"},
		{"argument", []string{"my passphrase"}, 2, "not taken from the command line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append([]string{"recovery-key", "from-passphrase"}, tc.args...)...)
			got := out
			if tc.code != 0 {
				got = errOut
			}
			if code != tc.code || !strings.Contains(got, tc.out) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.out)
			}
		})
	}

	// A new salt is made and printed; deriving again with it gives the
	// same key.
	out, errOut, code = runCLI(t, "", "recovery-key", "from-passphrase", "--iterations", "100", "--passphrase-file", passFile, "--json")
	var fresh recoveryOutput
	if err := json.Unmarshal([]byte(out), &fresh); err != nil || code != 0 || len(fresh.Salt) != 32 || fresh.Iterations != 100 {
		t.Fatalf("new salt: exit %d, %q, %q", code, out, errOut)
	}
	out, _, _ = runCLI(t, "", "recovery-key", "from-passphrase", "--salt", fresh.Salt, "--iterations", "100", "--passphrase-file", passFile, "--json")
	var again recoveryOutput
	json.Unmarshal([]byte(out), &again)
	if again.RecoveryKey != fresh.RecoveryKey {
		t.Error("deriving with the printed salt gives another key")
	}
	out2, _, _ := runCLI(t, "", "recovery-key", "from-passphrase", "--iterations", "100", "--passphrase-file", passFile, "--json")
	if out2 == out {
		t.Error("two new salts are equal")
	}
}

func TestInspectKeyExportHeader(t *testing.T) {
	file, _, _ := nioExport(t)
	r, err := inspectKeyExport(file)
	if err != nil || r.Invalid {
		t.Fatalf("%+v, %v", r, err)
	}
	got := map[string]any{}
	for _, f := range r.Fields {
		got[f.name] = f.value
	}
	if got["pbkdf2 rounds"] != uint32(10000) || got["ciphertext"] != "1110 bytes (AES-256-CTR)" {
		t.Fatalf("fields %v", got)
	}
	// Every strict prefix of the armored text is reported invalid.
	for n := range len(file) - 2 {
		if r, err := inspectKeyExport(file[:n]); err != nil || !r.Invalid {
			t.Fatalf("prefix of %d bytes: %+v, %v", n, r, err)
		}
	}
}
