package attachment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReplacedDownloadReleasesNoPlaintext is the streaming-release attack:
// the media server replaces the tail of a large file. The reader with the
// obvious name, NewDecryptingReader, must hand out no plaintext at all;
// the reader that streams unverified plaintext (the former
// NewDecryptingReader, now NewUnverifiedReader) hands out everything but
// the last chunk before it reports the mismatch, which is why it carries
// a name that says so.
func TestReplacedDownloadReleasesNoPlaintext(t *testing.T) {
	plain := bytes.Repeat([]byte("Befund "), 150_000) // about 1 MiB, 8 chunks
	ct, f, err := EncryptFrom(bytes.NewReader(make([]byte, 40)), plain)
	if err != nil {
		t.Fatal(err)
	}
	replaced := bytes.Clone(ct)
	replaced[len(replaced)-1] ^= 1

	var released int
	r, err := NewDecryptingReader(bytes.NewReader(replaced), f, nil, nil)
	if err == nil {
		n, rerr := io.Copy(io.Discard, r)
		released = int(n)
		r.Close()
		err = rerr
	}
	if !errors.Is(err, ErrAuthentication) || released != 0 {
		t.Fatalf("NewDecryptingReader released %d bytes of a replaced file (err %v)", released, err)
	}

	u, err := NewUnverifiedReader(bytes.NewReader(replaced), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, u)
	if !errors.Is(err, ErrAuthentication) || n == 0 || int(n) >= len(plain) {
		t.Fatalf("NewUnverifiedReader: %d bytes, %v", n, err)
	}

	// The honest download decrypts, and Size is known before reading.
	r, err = NewDecryptingReader(bytes.NewReader(ct), f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != int64(len(plain)) {
		t.Fatalf("Size %d, want %d", r.Size(), len(plain))
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("honest download: %v", err)
	}
}

// TestEncryptedFileStrictJSON checks that duplicate and case-variant
// member names are refused, so every client reads the same key and hash.
func TestEncryptedFileStrictJSON(t *testing.T) {
	_, f, _ := EncryptFrom(bytes.NewReader(make([]byte, 40)), []byte("x"))
	good, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEncryptedFile(good); err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for _, bad := range []string{
		strings.Replace(s, `"iv":`, `"iv":"AAAAAAAAAAAAAAAAAAAAAA","iv":`, 1),
		strings.Replace(s, `"iv":`, `"IV":"AAAAAAAAAAAAAAAAAAAAAA","iv":`, 1),
		strings.Replace(s, `"hashes":{`, `"hashes":{"SHA256":"x",`, 1),
	} {
		if _, err := ParseEncryptedFile([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("accepted %s: %v", bad, err)
		}
	}
}
