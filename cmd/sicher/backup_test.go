package main

import (
	"encoding/json"
	mrand "math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
)

// backupDownload builds a /room_keys/keys body with n sessions encrypted to bk, and returns the
// session ids.
func backupDownload(t *testing.T, bk *keybackup.DecryptionKey, n int) ([]byte, map[string]bool) {
	t.Helper()
	rooms := map[string]map[string]any{}
	ids := map[string]bool{}
	for i := range n {
		out, err := megolm.NewOutboundSessionFrom(mrand.NewChaCha8([32]byte{byte(i), 7}))
		if err != nil {
			t.Fatal(err)
		}
		in, _ := megolm.NewInboundSession(out.SessionKey())
		room := "!room" + string(rune('a'+i%2)) + ":example.org"
		e := megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), room, [32]byte{1}, [32]byte{2})
		d, err := keybackup.EncryptSession(bk.PublicKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		if rooms[room] == nil {
			rooms[room] = map[string]any{"sessions": map[string]any{}}
		}
		sid := in.SessionID().String()
		rooms[room]["sessions"].(map[string]any)[sid] = keybackup.KeyBackupData{SessionData: d}
		ids[sid] = true
	}
	b, err := json.Marshal(map[string]any{"rooms": rooms})
	if err != nil {
		t.Fatal(err)
	}
	return b, ids
}

func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	noTerminal(t)
	bk, err := keybackup.DecryptionKeyFromPassphrase("backup words", "salty", 1000)
	if err != nil {
		t.Fatal(err)
	}
	body, ids := backupDownload(t, bk, 5)
	rkFile := writeFile(t, dir, "rk", []byte(bk.RecoveryKey().Encode()+"\n"))
	expPass := writeFile(t, dir, "exp", []byte("export words\n"))
	out := filepath.Join(dir, "keys.txt")
	_, errOut, code := runCLI(t, string(body), "backup", "restore", "--recovery-key-file", rkFile,
		"--export-passphrase-file", expPass, "--rounds", "1000", "-o", out)
	if code != 0 || !strings.Contains(errOut, "5 sessions restored, 0 entries failed") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got, _, err := keyexport.Import(readFile(t, out), "export words", nil)
	if err != nil || len(got) != 5 {
		t.Fatalf("the key export holds %d sessions: %v", len(got), err)
	}
	for _, s := range got {
		if !ids[s.SessionID().String()] || !strings.HasPrefix(s.RoomID, "!room") {
			t.Fatalf("unexpected session %s in %s", s.SessionID(), s.RoomID)
		}
	}

	// The passphrase with the version's auth_data (legacy salt and iterations).
	version, _ := json.Marshal(map[string]any{"algorithm": keybackup.Algorithm, "version": "3", "auth_data": map[string]any{
		"public_key": bk.PublicKey().String(), "private_key_salt": "salty", "private_key_iterations": 1000}})
	vFile := writeFile(t, dir, "version.json", version)
	pFile := writeFile(t, dir, "pass", []byte("backup words\n"))
	if _, errOut, code := runCLI(t, string(body), "backup", "restore", "--passphrase-file", pFile, "--auth-data", vFile,
		"--export-passphrase-file", expPass, "--rounds", "1000", "-o", out); code != 0 {
		t.Fatalf("passphrase: exit %d: %s", code, errOut)
	}

	// A wrong key: nothing decrypts, exit 1; with auth_data, refused before decrypting.
	other, _ := keybackup.GenerateDecryptionKey()
	wrong := writeFile(t, dir, "wrong", []byte(other.RecoveryKey().Encode()))
	if _, errOut, code := runCLI(t, string(body), "backup", "restore", "--recovery-key-file", wrong,
		"--export-passphrase-file", expPass, "-o", out); code != 1 || !strings.Contains(errOut, "no entry decrypted") {
		t.Errorf("wrong key: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, string(body), "backup", "restore", "--recovery-key-file", wrong, "--auth-data", vFile,
		"--export-passphrase-file", expPass, "-o", out); code != 1 || !strings.Contains(errOut, "does not open this backup") {
		t.Errorf("wrong key with auth_data: exit %d: %s", code, errOut)
	}
	// Command-line mistakes.
	for _, args := range [][]string{
		{"--passphrase-file", pFile},
		{"--passphrase-file", pFile, "--recovery-key-file", rkFile, "--auth-data", vFile},
		{"--rounds", "0"},
		{"a", "b"},
	} {
		if _, _, code := runCLI(t, string(body), append([]string{"backup", "restore"}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, _, code := runCLI(t, "{", "backup", "restore", "--recovery-key-file", rkFile); code != 1 {
		t.Errorf("malformed input: exit %d", code)
	}
}
