package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/keyexport"
)

// FuzzInspect feeds hostile input to inspect (every recogniser, the key
// export header parser and, with a key, every unpickler): it must never
// panic, and every result must render as text and JSON.
func FuzzInspect(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "inspect", "*"))
	for _, p := range files {
		if strings.HasSuffix(p, ".golden") {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Add([]byte("-----BEGIN MEGOLM SESSION DATA-----\nAQ\n-----END MEGOLM SESSION DATA-----"), false)
	f.Add([]byte(`{"type":"m.room.encrypted","content":{"type":"m.room.encrypted","content":{}}}`), false)
	// Cross-signing documents, built as in TestInspectKeysQuery.
	const user = "@fuzz:example.org"
	c := newCrossSigned(f, user)
	f.Add([]byte(mustMarshal(f, map[string]any{
		"device_keys":       map[string]any{user: map[string]any{"DEV1": c.dev1, "DEV2": c.dev2}},
		"master_keys":       map[string]any{user: c.msk},
		"self_signing_keys": map[string]any{user: c.ssk},
		"user_signing_keys": map[string]any{user: c.usk},
	})), false)
	f.Add([]byte(mustMarshal(f, map[string]any{"master_key": c.msk, "self_signing_key": c.ssk, "user_signing_key": c.usk})), false)
	f.Add([]byte(`{"rooms":{"!r:x":{"sessions":{"s":{"first_message_index":1,"forwarded_count":0,"is_verified":false,"session_data":{"ephemeral":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA","mac":"AAAAAAAAAAA"}}}}}}`), false)
	f.Fuzz(func(t *testing.T, in []byte, withKey bool) {
		var key []byte
		if withKey {
			key = []byte("secret_key")
		}
		r, err := inspect(in, key)
		if err != nil {
			if r != nil {
				t.Fatal("a report and an error")
			}
			return
		}
		r.write(io.Discard, "")
		if _, err := r.Fields.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseKeyExport: describing a key export file never panics, and a
// file it calls valid has a header keyexport.ParseHeader accepts.
func FuzzParseKeyExport(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "inspect", "key_export.txt")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(reactExport))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := inspectKeyExport(in)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := keyexport.ParseHeader(in); !r.Invalid && (err != nil || h.CiphertextLen < 0 || h.Rounds == 0) {
			t.Fatalf("valid report for %+v, %v", h, err)
		}
	})
}

func BenchmarkInspectMegolmContent(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "inspect", "megolm_content.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inspect(in, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// The attachment commands' streaming path, stdin to stdout, 4 MiB.
func BenchmarkAttachmentEncryptCommand(b *testing.B) {
	plain := bytes.Repeat([]byte("Befund "), 4<<20/7)
	js := filepath.Join(b.TempDir(), "f.json")
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if code := run([]string{"attachment", "encrypt", "-j", js}, bytes.NewReader(plain), io.Discard, io.Discard); code != 0 {
			b.Fatal(code)
		}
	}
}
