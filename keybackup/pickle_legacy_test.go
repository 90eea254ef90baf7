package keybackup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sicher-go/sicher/internal/cryptotest"
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

// TestRedactionSlogJSON: log/slog (text and JSON handlers) and
// encoding/json never show a decryption or recovery key.
func TestRedactionSlogJSON(t *testing.T) {
	k := aliceKey(t)
	secret := unhex(t, alicePrivHex)
	for name, v := range map[string]any{"key": k, "key value": *k, "recovery key": k.RecoveryKey()} {
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		enc, err := json.Marshal(v)
		if err != nil {
			enc = []byte(err.Error())
		}
		for _, out := range []string{text.String(), js.String(), string(enc)} {
			for _, f := range append(cryptotest.Encodings(secret), k.RecoveryKey().Encode()) {
				if strings.Contains(out, f) {
					t.Errorf("%s shows its secret: %s", name, out)
				}
			}
		}
		cryptotest.CheckRedacted(t, name, v, secret)
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
