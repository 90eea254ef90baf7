package keybackup

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// TestUnpickleLegacy: a DecryptionKey pickle written before objects
// carried a u8 version (libolm's layout with a u32 version 1, committed in
// testdata/pickle_legacy.json) still loads.
func TestUnpickleLegacy(t *testing.T) {
	raw, err := os.ReadFile("testdata/pickle_legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		PickleKeyHex string `json:"pickle_key_hex"`
		Pickle       string `json:"pickle"`
		PublicKey    string `json:"public_key"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var pk [PickleKeySize]byte
	hex.Decode(pk[:], []byte(v.PickleKeyHex))
	k, err := Unpickle(&pk, v.Pickle)
	if err != nil {
		t.Fatal(err)
	}
	if k.PublicKey().String() != v.PublicKey {
		t.Fatalf("public key %s, want %s", k.PublicKey(), v.PublicKey)
	}
	p, err := k.Pickle(&pk)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Unpickle(&pk, p)
	if err != nil || !k2.Equal(k) {
		t.Fatalf("current version: %v", err)
	}
}
