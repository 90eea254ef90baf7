package secretstorage

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

// sicherSecrets is the file testdata/gen_jssdk.mjs asks matrix-js-sdk to
// decrypt.
type sicherSecrets struct {
	KeyHex   string          `json:"key_hex"`
	KeyCheck *KeyDescription `json:"key_check"`
	Secrets  []struct {
		Name      string         `json:"name"`
		Secret    string         `json:"secret"`
		Encrypted *EncryptedData `json:"encrypted"`
	} `json:"secrets"`
}

// TestSicherSecretsForJSSDK writes (with SICHER_WRITE_TESTDATA=1)
// testdata/sicher_secrets.json; otherwise it checks the committed file.
func TestSicherSecretsForJSSDK(t *testing.T) {
	if os.Getenv("SICHER_WRITE_TESTDATA") == "1" {
		k, _ := NewKey()
		d, _ := k.Description("", nil)
		var s sicherSecrets
		s.KeyHex = hex.EncodeToString(k.Bytes())
		s.KeyCheck = d
		for _, sec := range [][2]string{
			{SecretCrossSigningSelfSigning, base64.RawStdEncoding.EncodeToString(make([]byte, 32))},
			{"org.matrix.msc3814", "sicher secret ✓"},
		} {
			e, err := k.Encrypt(sec[0], []byte(sec[1]))
			if err != nil {
				t.Fatal(err)
			}
			s.Secrets = append(s.Secrets, struct {
				Name      string         `json:"name"`
				Secret    string         `json:"secret"`
				Encrypted *EncryptedData `json:"encrypted"`
			}{sec[0], sec[1], e})
		}
		js, _ := json.MarshalIndent(s, "", " ")
		if err := os.WriteFile("testdata/sicher_secrets.json", js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, err := os.ReadFile("testdata/sicher_secrets.json")
	if err != nil {
		t.Fatal(err)
	}
	var s sicherSecrets
	if err := json.Unmarshal(js, &s); err != nil {
		t.Fatal(err)
	}
	kb, _ := hex.DecodeString(s.KeyHex)
	k, err := NewKeyFromBytes(kb)
	if err != nil {
		t.Fatal(err)
	}
	s.KeyCheck.Algorithm = Algorithm
	if err := k.Check(s.KeyCheck); err != nil {
		t.Fatal(err)
	}
	for _, sec := range s.Secrets {
		if got, err := k.Decrypt(sec.Name, sec.Encrypted); err != nil || string(got) != sec.Secret {
			t.Fatalf("%s: %q %v", sec.Name, got, err)
		}
	}
}

// TestJSSDKInterop checks testdata/jssdk.json, made by matrix-js-sdk
// 37.5.0 (testdata/gen_jssdk.mjs): the passphrase key, its recovery key
// and key check agree with sicher's; the secrets js-sdk encrypted decrypt
// here; and js-sdk decrypted the secrets sicher encrypted.
func TestJSSDKInterop(t *testing.T) {
	js, err := os.ReadFile("testdata/jssdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Passphrase  string          `json:"passphrase"`
		Salt        string          `json:"salt"`
		Iterations  int             `json:"iterations"`
		KeyHex      string          `json:"key_hex"`
		RecoveryKey string          `json:"recovery_key"`
		KeyCheck    *KeyDescription `json:"key_check"`
		Secrets     []struct {
			Name      string         `json:"name"`
			Secret    string         `json:"secret"`
			Encrypted *EncryptedData `json:"encrypted"`
		} `json:"secrets"`
		SicherKeyCheckOK bool `json:"sicher_key_check_ok"`
		SicherDecrypted  []struct {
			Name   string `json:"name"`
			Secret string `json:"secret"`
		} `json:"sicher_decrypted"`
	}
	if err := json.Unmarshal(js, &d); err != nil {
		t.Fatal(err)
	}
	k, err := keyFromPassphrase(d.Passphrase, &PassphraseInfo{Algorithm: PassphraseAlgorithm, Salt: d.Salt, Iterations: d.Iterations}, true)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(k.Bytes()) != d.KeyHex || k.RecoveryKey() != d.RecoveryKey {
		t.Fatalf("key %x / %s", k.Bytes(), k.RecoveryKey())
	}
	d.KeyCheck.Algorithm = Algorithm
	if err := k.Check(d.KeyCheck); err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Secrets {
		got, err := k.Decrypt(s.Name, s.Encrypted)
		if err != nil || string(got) != s.Secret {
			t.Fatalf("%s: %q %v", s.Name, got, err)
		}
	}
	if got, err := k.Decrypt(SecretCrossSigningMaster, d.Secrets[0].Encrypted); err != nil || len(got) != 44 {
		t.Fatalf("js-sdk's padded key secret: %q, %v", got, err)
	}

	var ours sicherSecrets
	raw, err := os.ReadFile("testdata/sicher_secrets.json")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &ours)
	if !d.SicherKeyCheckOK || len(d.SicherDecrypted) != len(ours.Secrets) {
		t.Fatalf("js-sdk: key check %v, %d secrets", d.SicherKeyCheckOK, len(d.SicherDecrypted))
	}
	for i, s := range ours.Secrets {
		if d.SicherDecrypted[i].Name != s.Name || d.SicherDecrypted[i].Secret != s.Secret {
			t.Fatalf("js-sdk decrypted %v, want %q", d.SicherDecrypted[i], s.Secret)
		}
	}
}

// TestEncryptKnownAnswer: with the IVs matrix-js-sdk drew as randomness,
// Encrypt and Description reproduce js-sdk's ciphertexts and MACs.
func TestEncryptKnownAnswer(t *testing.T) {
	js, err := os.ReadFile("testdata/jssdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		KeyHex   string `json:"key_hex"`
		KeyCheck struct {
			IV, MAC string
		} `json:"key_check"`
		Secrets []struct {
			Name      string        `json:"name"`
			Secret    string        `json:"secret"`
			Encrypted EncryptedData `json:"encrypted"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(js, &d); err != nil {
		t.Fatal(err)
	}
	kb, _ := hex.DecodeString(d.KeyHex)
	k, _ := NewKeyFromBytes(kb)
	unpad := func(s string) string { return strings.TrimRight(s, "=") }
	iv := func(s string) io.Reader {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(b)
	}
	desc, err := k.descriptionFrom(iv(d.KeyCheck.IV), "", nil)
	if err != nil || desc.MAC != unpad(d.KeyCheck.MAC) || desc.IV != unpad(d.KeyCheck.IV) {
		t.Fatalf("key check %+v, want %+v", desc, d.KeyCheck)
	}
	for _, s := range d.Secrets {
		e, err := k.encryptFrom(iv(s.Encrypted.IV), s.Name, []byte(s.Secret))
		if err != nil {
			t.Fatal(err)
		}
		if e.Ciphertext != unpad(s.Encrypted.Ciphertext) || e.MAC != unpad(s.Encrypted.MAC) || e.IV != unpad(s.Encrypted.IV) {
			t.Fatalf("%s: %+v, want %+v", s.Name, e, s.Encrypted)
		}
	}
}
