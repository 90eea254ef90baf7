package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
)

var updateGolden = flag.Bool("update", false, "rewrite the generated inputs and golden files under testdata")

// runCLI runs the sicher command in this process.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/sicher -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from the golden file (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}

// libolmPickle returns the first "ok" vector of testvectors/pickle/file
// made under the pickle key "secret_key".
func libolmPickle(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testvectors", "pickle", file+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Vectors []map[string]any `json:"vectors"`
	}
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	for _, v := range vf.Vectors {
		if v["key"] == hex.EncodeToString([]byte("secret_key")) && v["expect"] == "ok" {
			return v
		}
	}
	t.Fatalf("%s: no vector under the key secret_key", file)
	return nil
}

// inspectInputs makes one input per format inspect knows, deterministically.
func inspectInputs(t *testing.T) map[string]string {
	t.Helper()
	rnd := mrand.NewChaCha8([32]byte{'i', 'n', 's', 'p', 'e', 'c', 't'})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	js := func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		must(err)
		return string(b) + "\n"
	}
	in := map[string]string{}

	alice, err := olm.NewAccountFrom(rnd)
	must(err)
	bob, err := olm.NewAccountFrom(rnd)
	must(err)
	_, _, err = bob.GenerateOneTimeKeysFrom(rnd, 2)
	must(err)
	otks := bob.OneTimeKeys()
	as, err := alice.NewOutboundSessionFrom(rnd, bob.Curve25519(), otks[0].Key)
	must(err)
	pre, err := as.EncryptFrom(rnd, nil, []byte("Hallo Bob"))
	must(err)
	pm, err := olm.ParsePreKeyMessage(pre.Body)
	must(err)
	bs, _, err := bob.NewInboundSession(pm, nil)
	must(err)
	reply, err := bs.EncryptFrom(rnd, nil, []byte("Hallo Alice"))
	must(err)
	_, err = as.Decrypt(nil, reply)
	must(err)
	in["olm_prekey.json"] = js(pre)
	in["olm_prekey.b64"] = unpadded(pre.Body) + "\n"
	in["olm_message.json"] = js(reply)
	in["olm_message.b64"] = unpadded(reply.Body) + "\n"
	in["olm_wrong_type.json"] = js(olm.EncryptedMessage{Type: olm.TypeMessage, Body: pre.Body})

	out, err := megolm.NewOutboundSessionFrom(rnd)
	must(err)
	inbound, err := megolm.NewInboundSession(out.SessionKey())
	must(err)
	in["session_key.b64"] = out.SessionKey().Base64() + "\n"
	in["megolm_message.b64"] = base64.RawStdEncoding.EncodeToString(out.Encrypt(nil, []byte("Befund ist da"))) + "\n"
	exp, err := inbound.Export(1)
	must(err)
	in["exported_session_key.b64"] = exp.Base64() + "\n"

	const room = "!praxis:example.org"
	dk, err := signing.NewDeviceKeys("@bob:example.org", "BOBPHONE", nil, bob.Curve25519(), bob.Ed25519(), bob)
	must(err)
	dkJSON, err := dk.MarshalJSON()
	must(err)
	in["device_keys.json"] = string(dkJSON) + "\n"
	in["device_keys_forged.json"] = strings.Replace(string(dkJSON), bob.Curve25519().String(), alice.Curve25519().String(), 1) + "\n"

	as2, err := alice.NewOutboundSessionFrom(rnd, bob.Curve25519(), otks[1].Key)
	must(err)
	roomKey, err := event.RoomKeyContent(room, out, false)
	must(err)
	in["room_key.json"] = string(roomKey) + "\n"
	olmContent, _, err := event.EncryptOlmFrom(rnd, alice, as2, event.OlmEncryptParams{
		Sender: "@alice:example.org", Recipient: "@bob:example.org",
		RecipientEd25519: bob.Ed25519(), RecipientCurve25519: bob.Curve25519(),
		Type: "m.room_key", Content: roomKey,
	})
	must(err)
	in["olm_content.json"] = string(olmContent) + "\n"

	ck := alice.Curve25519()
	megolmContent, _, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: room, Type: "m.room.message",
		Content: json.RawMessage(`{"msgtype":"m.text","body":"Termin um 9"}`), SenderKey: &ck, DeviceID: "ALICEPHONE"})
	must(err)
	in["megolm_content.json"] = string(megolmContent) + "\n"
	other, err := megolm.NewOutboundSessionFrom(rnd)
	must(err)
	in["megolm_content_wrong_session.json"] = strings.Replace(string(megolmContent), out.SessionID().String(), other.SessionID().String(), 1) + "\n"
	in["megolm_event.json"] = js(map[string]any{
		"type": "m.room.encrypted", "sender": "@alice:example.org", "event_id": "$befund", "room_id": room,
		"origin_server_ts": 1700000000000, "content": json.RawMessage(megolmContent),
	})

	ct, f, err := attachment.EncryptFrom(rnd, []byte("%PDF-1.7 Befund"))
	must(err)
	_ = ct
	f.URL = "mxc://example.org/befund"
	in["encrypted_file.json"] = js(f)
	in["file_content.json"] = js(map[string]any{"msgtype": "m.file", "body": "Befund.pdf", "file": f})

	nio, err := os.ReadFile(filepath.Join("..", "..", "keyexport", "testdata", "nio_export.txt"))
	must(err)
	in["key_export.txt"] = string(nio)
	in["key_export_truncated.txt"] = string(nio[:300]) + "\n"
	list, err := keyexport.MarshalSessions([]*megolm.ExportedSession{
		megolm.NewExportedSession(inbound.ExportAtFirstKnownIndex(), room, alice.Curve25519(), alice.Ed25519()),
	})
	must(err)
	in["session_list.json"] = string(list) + "\n"

	bk, err := newBackupKeyFrom(rnd)
	must(err)
	in["recovery_key.txt"] = bk.RecoveryKey().Encode() + "\n"
	typo := []byte(bk.RecoveryKey().Encode())
	typo[10] = map[bool]byte{true: 'x', false: 'y'}[typo[10] != 'x']
	in["recovery_key_typo.txt"] = string(typo) + "\n"
	enc, err := keybackup.EncryptSessionFrom(rnd, bk.PublicKey(), megolm.NewExportedSession(exp, "", alice.Curve25519(), alice.Ed25519()))
	must(err)
	in["backup_entry.json"] = js(keybackup.KeyBackupData{FirstMessageIndex: 1, IsVerified: false, SessionData: enc})

	var pk [32]byte
	copy(pk[:], "a 32-byte sicher pickle key!!!!!")
	in["pickle_key.txt"] = string(pk[:])
	// olm pickles read their nonce from crypto/rand; draw the 12 bytes each
	// used to take from rnd, so that the inputs made after them stay the same.
	rnd.Read(make([]byte, 2*12))
	p, err := alice.Pickle(&pk)
	must(err)
	in["sicher_account.pickle"] = p + "\n"
	p, err = as.Pickle(&pk)
	must(err)
	in["sicher_session.pickle"] = p + "\n"
	p, err = inbound.Pickle(&pk)
	must(err)
	in["sicher_inbound.pickle"] = p + "\n"
	p, err = out.Pickle(&pk)
	must(err)
	in["sicher_outbound.pickle"] = p + "\n"

	in["libolm_key.txt"] = "secret_key\n"
	in["libolm_wrong_key.txt"] = "another key\n"
	for _, name := range []string{"account", "session", "inbound_group_session", "outbound_group_session"} {
		in["libolm_"+name+".pickle"] = libolmPickle(t, name)["pickle"].(string) + "\n"
	}
	sskey, err := secretstorage.NewKeyFromBytes(readN(rnd, 32))
	must(err)
	desc, err := sskey.Description("Wiederherstellungsschlüssel", nil)
	must(err)
	in["ssss_key_description.json"] = js(desc)
	pinfo := &secretstorage.PassphraseInfo{Algorithm: secretstorage.PassphraseAlgorithm, Salt: "U19EiSXIvnslKwT1gtJkp29TvDbduVJq", Iterations: 10}
	in["ssss_key_description_passphrase.json"] = js(secretstorage.KeyDescription{Algorithm: secretstorage.Algorithm, Passphrase: pinfo})
	bkBytes := bk.Bytes()
	secret, err := sskey.Encrypt(secretstorage.SecretMegolmBackup, bkBytes[:])
	must(err)
	in["ssss_secret.json"] = js(secretstorage.SecretContent{Encrypted: map[string]secretstorage.EncryptedData{"KEYID": *secret}})
	in["backup_version.json"] = js(map[string]any{
		"algorithm": keybackup.Algorithm, "version": "3", "count": 42, "etag": "7",
		"auth_data": map[string]any{"public_key": bk.PublicKey(), "signatures": map[string]any{
			"@bob:example.org": map[string]string{"ed25519:BOBPHONE": "c2ln"},
		}},
	})
	in["garbage.txt"] = "this is not anything sicher knows!\n"
	in["random.b64"] = "3q2+7w\n"
	return in
}

func TestInspect(t *testing.T) {
	dir := filepath.Join("testdata", "inspect")
	if *updateGolden {
		for name, content := range inspectInputs(t) {
			golden(t, filepath.Join("inspect", name), content)
		}
	}
	key := filepath.Join(dir, "pickle_key.txt")
	libolmKey := filepath.Join(dir, "libolm_key.txt")
	for _, tc := range []struct {
		in     string
		flags  []string
		format string
		code   int
	}{
		{"olm_prekey.json", nil, "olm.prekey_message", 0},
		{"olm_prekey.b64", nil, "olm.prekey_message", 0},
		{"olm_message.json", nil, "olm.message", 0},
		{"olm_message.b64", nil, "olm.message", 0},
		{"olm_wrong_type.json", nil, "olm.message", 1},
		{"megolm_message.b64", nil, "megolm.message", 0},
		{"session_key.b64", nil, "megolm.session_key", 0},
		{"exported_session_key.b64", nil, "megolm.exported_session_key", 0},
		{"olm_content.json", nil, "m.room.encrypted.olm", 0},
		{"megolm_content.json", nil, "m.room.encrypted.megolm", 0},
		{"megolm_content_wrong_session.json", nil, "m.room.encrypted.megolm", 1},
		{"megolm_event.json", nil, "event", 0},
		{"encrypted_file.json", nil, "encrypted_file", 0},
		{"file_content.json", nil, "encrypted_file", 0},
		{"key_export.txt", nil, "key_export", 0},
		{"key_export_truncated.txt", nil, "key_export", 1},
		{"session_list.json", nil, "key_export.sessions", 0},
		{"recovery_key.txt", nil, "recovery_key", 0},
		{"recovery_key_typo.txt", nil, "recovery_key", 1},
		{"device_keys.json", nil, "device_keys", 0},
		{"device_keys_forged.json", nil, "device_keys", 1},
		{"backup_entry.json", nil, "key_backup_data", 0},
		{"room_key.json", nil, "room_key", 0},
		{"backup_version.json", nil, "key_backup_version", 0},
		{"ssss_key_description.json", nil, "secret_storage_key", 0},
		{"ssss_key_description_passphrase.json", nil, "secret_storage_key", 0},
		{"ssss_secret.json", nil, "secret_storage_secret", 0},
		{"sicher_account.pickle", nil, "sicher.pickle", 0},
		{"sicher_account.pickle", []string{"--pickle-key-file", key}, "sicher.pickle.account", 0},
		{"sicher_session.pickle", []string{"--pickle-key-file", key}, "sicher.pickle.session", 0},
		{"sicher_inbound.pickle", []string{"--pickle-key-file", key}, "sicher.pickle.inbound_group_session", 0},
		{"sicher_outbound.pickle", []string{"--pickle-key-file", key}, "sicher.pickle.outbound_group_session", 0},
		{"sicher_session.pickle", []string{"--pickle-key-file", filepath.Join(dir, "libolm_wrong_key.txt")}, "pickle", 1},
		{"libolm_session.pickle", nil, "libolm.pickle", 0},
		{"libolm_account.pickle", []string{"--pickle-key-file", libolmKey}, "libolm.pickle.account", 0},
		{"libolm_session.pickle", []string{"--pickle-key-file", libolmKey}, "libolm.pickle.session", 0},
		{"libolm_inbound_group_session.pickle", []string{"--pickle-key-file", libolmKey}, "libolm.pickle.inbound_group_session", 0},
		{"libolm_outbound_group_session.pickle", []string{"--pickle-key-file", libolmKey}, "libolm.pickle.outbound_group_session", 0},
		{"libolm_session.pickle", []string{"--pickle-key-file", filepath.Join(dir, "libolm_wrong_key.txt")}, "pickle", 1},
		{"random.b64", nil, "unknown", 1},
		{"megolm_message.b64", []string{"--pickle-key-file", libolmKey}, "megolm.message", 0},
	} {
		name := strings.TrimSuffix(tc.in, filepath.Ext(tc.in))
		if len(tc.flags) > 0 {
			name += "." + strings.TrimSuffix(filepath.Base(tc.flags[1]), ".txt")
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, tc.in)
			args := append(append([]string{"inspect"}, tc.flags...), path)
			out, errOut, code := runCLI(t, "", args...)
			if code != tc.code || errOut != "" {
				t.Fatalf("exit %d (want %d), stderr %q, stdout:\n%s", code, tc.code, errOut, out)
			}
			golden(t, filepath.Join("inspect", name+".golden"), out)

			// The same input on stdin, as JSON.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			jout, _, jcode := runCLI(t, string(data), append(append([]string{"inspect", "--json"}, tc.flags...), "-")...)
			var r struct {
				Format  string `json:"format"`
				Invalid bool   `json:"invalid"`
			}
			if err := json.Unmarshal([]byte(jout), &r); err != nil || jcode != tc.code {
				t.Fatalf("--json: exit %d, %v:\n%s", jcode, err, jout)
			}
			if r.Format != tc.format || r.Invalid != (tc.code != 0) {
				t.Errorf("--json: format %q invalid %v, want %q", r.Format, r.Invalid, tc.format)
			}
		})
	}
}

// The libolm pickles decode to the objects libolm described when it made
// them (testvectors/pickle, libolm 3.2.13).
func TestInspectLibolmPickleKnownAnswers(t *testing.T) {
	dir := filepath.Join("testdata", "inspect")
	key := filepath.Join(dir, "libolm_key.txt")
	for _, tc := range []struct {
		object string
		want   func(v map[string]any) []string
	}{
		{"account", func(v map[string]any) []string {
			ik := v["identity_keys"].(map[string]any)
			return []string{ik["curve25519"].(string), ik["ed25519"].(string)}
		}},
		{"session", func(v map[string]any) []string { return []string{v["session_id"].(string)} }},
		{"inbound_group_session", func(v map[string]any) []string {
			return []string{v["session_id"].(string), "first known index:  " + fmt.Sprint(v["first_known_index"])}
		}},
		{"outbound_group_session", func(v map[string]any) []string {
			return []string{v["session_id"].(string), "next message index:  " + fmt.Sprint(v["message_index"])}
		}},
	} {
		v := libolmPickle(t, tc.object)
		out, errOut, code := runCLI(t, v["pickle"].(string), "inspect", "--pickle-key-file", key)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.object, code, errOut)
		}
		for _, w := range tc.want(v) {
			if w == "" || !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.object, w, out)
			}
		}
	}
}

// inspect never prints secret material: the pickle key, the ratchet of a
// session key or the key of an EncryptedFile.
func TestInspectPrintsNoSecrets(t *testing.T) {
	dir := filepath.Join("testdata", "inspect")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	var f map[string]any
	json.Unmarshal([]byte(read("encrypted_file.json")), &f)
	fileKey := f["key"].(map[string]any)["k"].(string)
	sk := read("session_key.b64")
	rk := read("recovery_key.txt")
	for _, tc := range []struct{ in, secret string }{
		{"encrypted_file.json", fileKey},
		{"file_content.json", fileKey},
		{"session_key.b64", sk[10:60]},
		{"room_key.json", sk[10:60]},
		{"recovery_key.txt", rk[5:20]},
	} {
		for _, mode := range []string{"", "--json"} {
			args := []string{"inspect", filepath.Join(dir, tc.in)}
			if mode != "" {
				args = []string{"inspect", mode, filepath.Join(dir, tc.in)}
			}
			out, _, _ := runCLI(t, "", args...)
			if strings.Contains(out, tc.secret) {
				t.Errorf("inspect %s %s prints the secret %q", mode, tc.in, tc.secret)
			}
		}
	}
	out, _, _ := runCLI(t, "", "inspect", "--pickle-key-file", filepath.Join(dir, "pickle_key.txt"), filepath.Join(dir, "sicher_account.pickle"))
	if strings.Contains(out, read("pickle_key.txt")) {
		t.Error("inspect prints the pickle key")
	}
}

func TestInspectBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"empty", "", nil, 1, "empty input"},
		{"whitespace", " \n\t", nil, 1, "empty input"},
		{"garbage", "this is not anything sicher knows!", nil, 1, "not recognised"},
		{"bad JSON", `{"type": 0, "body": `, nil, 1, "not valid JSON"},
		{"unknown object", `{"hello": "world"}`, nil, 1, "not recognised"},
		{"two key sources", "x", []string{"--pickle-key-file", "a", "--pickle-key-prompt"}, 2, "not both"},
		{"missing key file", "x", []string{"--pickle-key-file", "/nonexistent/key"}, 1, "reading the pickle key"},
		{"bad flag", "x", []string{"--frobnicate"}, 2, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, tc.stdin, append([]string{"inspect"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) || !strings.HasPrefix(errOut, "sicher inspect: ") {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
	out, _, code := runCLI(t, `[1, 2, 3]`, "inspect")
	if code != 1 || !strings.Contains(out, "invalid entries:  3") {
		t.Errorf("a list of numbers: exit %d\n%s", code, out)
	}
	// An argument that is not a file is the input itself; several are
	// joined (a recovery key pasted without quotes).
	rk, err := os.ReadFile(filepath.Join("testdata", "inspect", "recovery_key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "", append([]string{"inspect"}, strings.Fields(string(rk))...)...)
	if code != 0 || !strings.Contains(out, "recovery key") || !strings.Contains(out, "shell history") {
		t.Errorf("recovery key in arguments: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "", "inspect", "-h")
	if code != 0 || !strings.Contains(out, "Usage: sicher inspect") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
}

// Strict prefixes of a message are not recognised as the message.
func TestInspectTruncatedMessages(t *testing.T) {
	for _, name := range []string{"olm_prekey.b64", "olm_message.b64", "megolm_message.b64", "session_key.b64", "exported_session_key.b64"} {
		b, err := os.ReadFile(filepath.Join("testdata", "inspect", name))
		if err != nil {
			t.Fatal(err)
		}
		full, err := decodeLenient(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := runCLI(t, string(b), "inspect", "--json")
		var wr struct{ Format string }
		json.Unmarshal([]byte(want), &wr)
		for n := 1; n < len(full); n++ {
			out, _, _ := runCLI(t, unpadded(full[:n]), "inspect", "--json")
			var r struct {
				Format  string
				Invalid bool
			}
			json.Unmarshal([]byte(out), &r)
			if r.Format == wr.Format && !r.Invalid {
				t.Fatalf("%s: the %d-byte prefix inspects as a valid %s", name, n, r.Format)
			}
		}
	}
}

// readN reads n bytes from r, for keys made from a seeded reader.
func readN(r io.Reader, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(err)
	}
	return b
}
