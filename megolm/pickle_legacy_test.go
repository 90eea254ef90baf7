package megolm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// TestUnpickleLegacy: pickles written before objects carried a u8 version
// (a u32 version 1, committed in testdata/pickle_legacy.json) still load,
// and the sessions they hold still work together.
func TestUnpickleLegacy(t *testing.T) {
	raw, err := os.ReadFile("testdata/pickle_legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		PickleKeyHex string `json:"pickle_key_hex"`
		Outbound     string `json:"outbound"`
		Inbound      string `json:"inbound"`
		MessageHex   string `json:"message_hex"`
		Plaintext    string `json:"plaintext"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var pk [PickleKeySize]byte
	hex.Decode(pk[:], []byte(v.PickleKeyHex))
	msg, _ := hex.DecodeString(v.MessageHex)

	out, err := UnpickleOutboundSession(&pk, v.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	in, err := UnpickleInboundSession(&pk, v.Inbound)
	if err != nil {
		t.Fatal(err)
	}
	if out.MessageIndex() != 2 || in.FirstKnownIndex() != 1 || !in.IsVerified() || in.SessionID() != out.SessionID() {
		t.Fatalf("restored %v and %v", out, in)
	}
	pt, idx, err := in.Decrypt(nil, msg)
	if err != nil || idx != 2 || string(pt) != v.Plaintext {
		t.Fatalf("Decrypt = %q, %d, %v", pt, idx, err)
	}
	// The restored outbound session encrypts at index 2 exactly as the
	// old one did (Megolm encryption is deterministic).
	if got := out.Encrypt(nil, []byte(v.Plaintext)); !bytes.Equal(got, msg) {
		t.Error("restored outbound session encrypts differently")
	}
	// Re-pickled, they are written in the current version and load again.
	for _, p := range []func() (string, error){
		func() (string, error) { return out.Pickle(&pk) },
		func() (string, error) { return in.Pickle(&pk) },
	} {
		s, err := p()
		if err != nil {
			t.Fatal(err)
		}
		if _, err1 := UnpickleOutboundSession(&pk, s); err1 != nil {
			if _, err2 := UnpickleInboundSession(&pk, s); err2 != nil {
				t.Errorf("re-pickled session does not load: %v, %v", err1, err2)
			}
		}
	}
}
