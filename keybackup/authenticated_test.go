package keybackup

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/signing"
)

// TestMACKeyIndependent recomputes the MSC4048 MAC key and MAC with crypto/hkdf, crypto/hmac
// and the signing package's canonical JSON, from the MSC's text.
func TestMACKeyIndependent(t *testing.T) {
	priv := make([]byte, KeySize)
	for i := range priv {
		priv[i] = byte(i)
	}
	k, err := NewDecryptionKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	mk := k.MACKey()
	want, err := hkdf.Key(sha256.New, priv, nil, "MATRIX_BACKUP_MAC_KEY", 32)
	if err != nil {
		t.Fatal(err)
	}
	if !hmac.Equal(mk.k[:], want) {
		t.Fatal("MAC key differs from HKDF-SHA-256(salt empty, key, MATRIX_BACKUP_MAC_KEY)")
	}
	d, err := Encrypt(k.PublicKey(), []byte(`{"session_key":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := mk.SignSessionData(d, "@alice:example.org")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(sd, &obj); err != nil {
		t.Fatal(err)
	}
	sig := obj["signatures"].(map[string]any)["@alice:example.org"].(map[string]any)[MACKeyID].(string)
	unsigned, err := signing.SigningBytes(sd)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, want)
	h.Write(unsigned)
	if got := base64.RawStdEncoding.EncodeToString(h.Sum(nil)); got != sig {
		t.Fatalf("MAC %s, independent %s", sig, got)
	}
	got, err := mk.VerifySessionData(sd, "@alice:example.org")
	if err != nil || got.Ephemeral != d.Ephemeral {
		t.Fatalf("verify: %v", err)
	}
	if _, err := k.DecryptSession(got); err == nil {
		t.Fatal("a non-session plaintext decrypted as a session")
	}
}

func TestVerifySessionDataRefuses(t *testing.T) {
	k, err := GenerateDecryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateDecryptionKey()
	d, err := Encrypt(k.PublicKey(), []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := k.MACKey().SignSessionData(d, "@alice:example.org")
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(d)
	var withExtra map[string]any
	_ = json.Unmarshal(sd, &withExtra)
	withExtra["extra"] = "x"
	extra, _ := json.Marshal(withExtra)
	stable := strings.Replace(string(sd), MACKeyID, MACKeyIDStable, 1)
	flipped := []byte(string(sd))
	i := strings.Index(string(sd), `"ciphertext":"`) + len(`"ciphertext":"`)
	if flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	for _, c := range []struct {
		name, user string
		data       []byte
		mk         *MACKey
		want       error
	}{
		{"valid", "@alice:example.org", sd, k.MACKey(), nil},
		{"stable key id", "@alice:example.org", []byte(stable), k.MACKey(), nil},
		{"v1 entry without MAC", "@alice:example.org", plain, k.MACKey(), ErrNotAuthenticated},
		{"other user", "@mallory:example.org", sd, k.MACKey(), ErrNotAuthenticated},
		{"other backup key", "@alice:example.org", sd, other.MACKey(), ErrNotAuthenticated},
		{"ciphertext changed", "@alice:example.org", flipped, k.MACKey(), ErrNotAuthenticated},
		{"member outside the MAC", "@alice:example.org", extra, k.MACKey(), ErrNotAuthenticated},
		{"not JSON", "@alice:example.org", []byte("{"), k.MACKey(), ErrMalformed},
		{"duplicate member", "@alice:example.org", []byte(`{"mac":"a","mac":"b"}`), k.MACKey(), ErrMalformed},
	} {
		_, err := c.mk.VerifySessionData(c.data, c.user)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMACKeyRedacted(t *testing.T) {
	k, _ := GenerateDecryptionKey()
	mk := k.MACKey()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if s := fmt.Sprintf(verb, mk); !strings.Contains(s, "REDACTED") || strings.Contains(s, fmt.Sprintf("%x", mk.k[:4])) {
			t.Errorf("%s shows %s", verb, s)
		}
	}
}

// FuzzVerifySessionData: any input gives a result or an error, never a panic, and a
// verified entry re-signs to the same MAC.
func FuzzVerifySessionData(f *testing.F) {
	k, err := NewDecryptionKey(make([]byte, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	mk := k.MACKey()
	d, _ := EncryptFrom(strings.NewReader(strings.Repeat("e", 32)), k.PublicKey(), []byte("{}"))
	sd, _ := mk.SignSessionData(d, "@a:x")
	f.Add([]byte(sd))
	f.Add([]byte(`{"ciphertext":"","ephemeral":"","mac":""}`))
	f.Add([]byte(`{"signatures":{"@a:x":{"hmac-sha-256:backup_mac_key":"AAAA"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := mk.VerifySessionData(b, "@a:x")
		if err != nil {
			return
		}
		again, err := mk.SignSessionData(got, "@a:x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mk.VerifySessionData(again, "@a:x"); err != nil {
			t.Fatalf("re-signed entry does not verify: %v", err)
		}
	})
}
