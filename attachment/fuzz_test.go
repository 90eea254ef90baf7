package attachment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

func FuzzParseEncryptedFile(f *testing.F) {
	f.Add([]byte(realDecryptInfo))
	m := validInfo()
	m["v"] = "v1"
	js, _ := json.Marshal(m)
	f.Add(js)
	delete(m, "v")
	js, _ = json.Marshal(m)
	f.Add(js)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseEncryptedFile(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// Whatever parses must re-encode and re-parse to the same value.
		out, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseEncryptedFile(out)
		if err != nil || !h.Equal(g) {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

// FuzzDecrypt checks that Decrypt and UnverifiedReader agree on arbitrary
// ciphertexts, never panic, and fail with ErrAuthentication unless the
// ciphertext is the real one.
func FuzzDecrypt(f *testing.F) {
	f.Add([]byte("fake message"), uint8(0))
	f.Add([]byte{0xb3, 0x9a, 0x76, 0x7f, 0xba, 0x7f, 0x6e, 0x21, 0xcb, 0x21, 0x21, 0x86, 0x43, 0x64, 0xad, 0x2e, 0xeb, 0x1b, 0xd7, 0xac, 0x24, 0x1a, 0x4b, 0x2f, 0x21, 0xa0}, uint8(3))
	file, err := ParseEncryptedFile([]byte(realDecryptInfo))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ct []byte, readSize uint8) {
		pt, err := Decrypt(ct, file, nil)
		dr, _ := NewUnverifiedReader(bytes.NewReader(ct), file, nil)
		buf := make([]byte, int(readSize)+1)
		var got []byte
		var rerr error
		for {
			n, e := dr.Read(buf)
			got = append(got, buf[:n]...)
			if e != nil {
				rerr = e
				break
			}
		}
		if err != nil {
			if !errors.Is(err, ErrAuthentication) || !errors.Is(rerr, ErrAuthentication) {
				t.Fatalf("Decrypt %v, reader %v", err, rerr)
			}
			if len(ct) > 0 && len(got) >= len(ct) {
				t.Fatal("reader released all plaintext of a bad ciphertext")
			}
			return
		}
		if rerr != io.EOF || !bytes.Equal(pt, got) {
			t.Fatalf("reader disagrees: %v", rerr)
		}
	})
}
