package keybackup

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"testing/iotest"

	"github.com/sicher-go/sicher/key"
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

// TestRandomness: a nil reader means crypto/rand, and a failing reader
// gives an error that wraps the reader's, never a panic.
func TestRandomness(t *testing.T) {
	k := aliceKey(t)
	if _, err := EncryptFrom(nil, k.PublicKey(), []byte("x")); err != nil {
		t.Errorf("EncryptFrom(nil): %v", err)
	}
	s := newTestSession(t, key.Curve25519{1}, key.Ed25519{2})
	if _, err := EncryptSessionFrom(nil, k.PublicKey(), s); err != nil {
		t.Errorf("EncryptSessionFrom(nil): %v", err)
	}
	boom := errors.New("reader failed")
	if _, err := EncryptFrom(iotest.ErrReader(boom), k.PublicKey(), []byte("x")); !errors.Is(err, boom) {
		t.Errorf("EncryptFrom with a failing reader: %v", err)
	}
	if _, err := EncryptSessionFrom(iotest.ErrReader(boom), k.PublicKey(), s); !errors.Is(err, boom) {
		t.Errorf("EncryptSessionFrom with a failing reader: %v", err)
	}
}
