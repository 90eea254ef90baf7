package olm

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
)

// libolmPython returns the Python interpreter that has python3-olm
// (Debian's binding of libolm 3.2.13), or skips the test.
func libolmPython(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("live libolm cross-test")
	}
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import olm").Run(); err == nil {
			return py
		}
	}
	t.Skip("python3-olm (libolm 3.2.13) not installed")
	return ""
}

func runLibolm(t *testing.T, py string, req map[string]any) map[string]any {
	t.Helper()
	in, _ := json.Marshal(req)
	cmd := exec.Command(py, "testdata/libolm_live.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("libolm_live.py: %v\n%s", err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLibolmLive talks to libolm 3.2.13 (python3-olm, testdata/libolm_live.py)
// in both directions: libolm loads sicher's account pickle and starts a
// session to it; sicher creates the inbound session from libolm's pre-key
// message, replies, imports libolm's session and account pickles, and
// sends with the imported session; libolm loads sicher's session pickle and
// decrypts, and decrypts sicher's reply with its own session.
func TestLibolmLive(t *testing.T) {
	py := libolmPython(t)
	const pw = "correct horse"
	rand := &streamReader{seed: 40}
	bob, _ := NewAccountFrom(rand)
	bob.GenerateOneTimeKeysFrom(rand, 3)
	bob.GenerateFallbackKeyFrom(rand)

	res := runLibolm(t, py, map[string]any{"step": "start", "passphrase": pw,
		"bob_account": bob.PickleLibolm([]byte(pw)), "plaintext": "hello from libolm"})

	ik, _ := json.Marshal(res["bob_identity_keys"])
	want, _ := json.Marshal(map[string]string{"curve25519": bob.Curve25519().String(), "ed25519": bob.Ed25519().String()})
	if !bytes.Equal(ik, want) {
		t.Errorf("libolm sees identity keys %s, want %s", ik, want)
	}
	otks, _ := json.Marshal(map[string]any{"curve25519": res["bob_one_time_keys"]})
	ks := map[string]string{}
	for _, k := range bob.OneTimeKeys() {
		ks[k.ID.String()] = k.Key.String()
	}
	want, _ = json.Marshal(map[string]any{"curve25519": ks})
	if !bytes.Equal(otks, want) {
		t.Errorf("libolm sees one-time keys %s, want %s", otks, want)
	}
	sig, err := key.ParseEd25519Signature(res["bob_signature"].(string))
	if err != nil || sig != bob.Sign([]byte("signed by libolm")) {
		t.Errorf("libolm's signature with the exported key differs from sicher's: %v", err)
	}

	var first EncryptedMessage
	mj, _ := json.Marshal(res["message"])
	if err := json.Unmarshal(mj, &first); err != nil || first.Type != TypePreKey {
		t.Fatalf("libolm message %s: %v", mj, err)
	}
	pk, err := ParsePreKeyMessage(first.Body)
	if err != nil {
		t.Fatal(err)
	}
	aliceKey, _ := key.ParseCurve25519(res["alice_curve25519"].(string))
	bs, pt, err := bob.NewInboundSession(pk, &InboundOptions{TheirIdentityKey: &aliceKey})
	if err != nil || string(pt) != "hello from libolm" {
		t.Fatalf("inbound from libolm: %q %v", pt, err)
	}
	toAlice, _ := bs.EncryptFrom(rand, nil, []byte("hello from sicher"))

	as, err := UnpickleLibolmSession([]byte(pw), res["alice_session"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if as.ID() != bs.ID() {
		t.Fatal("imported libolm session has another id")
	}
	if pt, err := as.Decrypt(nil, toAlice); err != nil || string(pt) != "hello from sicher" {
		t.Fatalf("imported libolm session decrypts: %q %v", pt, err)
	}
	toBob, err := as.EncryptFrom(rand, nil, []byte("sent with an imported libolm session"))
	if err != nil || toBob.Type != TypeMessage {
		t.Fatal(err)
	}
	aa, err := UnpickleLibolmAccount([]byte(pw), res["alice_account"].(string))
	if err != nil || aa.Curve25519() != aliceKey {
		t.Fatalf("libolm account import: %v", err)
	}

	res = runLibolm(t, py, map[string]any{"step": "finish", "passphrase": pw,
		"bob_session": bs.PickleLibolm([]byte(pw)), "alice_session": res["alice_session"],
		"to_bob":   map[string]any{"type": int(toBob.Type), "body": b64.Encode(toBob.Body)},
		"to_alice": map[string]any{"type": int(toAlice.Type), "body": b64.Encode(toAlice.Body)}})
	if res["bob_reads"] != "sent with an imported libolm session" || res["alice_reads"] != "hello from sicher" {
		t.Errorf("libolm reads %v", res)
	}
	if res["bob_session_id"] != bs.ID() {
		t.Errorf("libolm session id %v, want %s", res["bob_session_id"], bs.ID())
	}
}
