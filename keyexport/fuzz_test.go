package keyexport

import (
	"errors"
	"github.com/sicher-go/sicher/megolm"
	"os"
	"testing"
)

// FuzzDecrypt: arbitrary files never panic, and fail with one of the
// package's errors; the seeds are the react-sdk vectors.
func FuzzDecrypt(f *testing.F) {
	for _, v := range reactVectors[:2] {
		f.Add(reactFile(v.body), v.passphrase)
	}
	f.Add([]byte(Header+"\n"+Footer), "")
	f.Fuzz(func(t *testing.T, file []byte, pass string) {
		_, err := Decrypt(file, pass, &Options{MaxRounds: 1000})
		if err == nil {
			return
		}
		for _, e := range []error{ErrMalformed, ErrMalformed, ErrUnsupportedVersion, ErrBadRounds, ErrAuthentication} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unexpected error: %v", err)
	})
}

// FuzzParseSessions: arbitrary session lists never panic; every entry
// that parses re-encodes to an entry that parses to the same key.
func FuzzParseSessions(f *testing.F) {
	if js, err := MarshalSessions([]*megolm.ExportedSession{testSession(f)}); err == nil {
		f.Add(js)
	}
	if d, err := os.ReadFile("testdata/nio_export.txt"); err == nil {
		if pt, err := Decrypt(d, "nio passphrase", nil); err == nil {
			f.Add(pt)
		}
	}
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sessions, _, err := ParseSessions(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		js, err := MarshalSessions(sessions)
		if err != nil {
			t.Fatal(err)
		}
		again, skipped, err := ParseSessions(js)
		if err != nil || len(skipped) != 0 || len(again) != len(sessions) {
			t.Fatalf("re-parse: %v %v", err, skipped)
		}
		for i := range again {
			if again[i].SessionID() != sessions[i].SessionID() {
				t.Fatal("session changed in a round trip")
			}
		}
	})
}
