package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreImportMautrixUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), "store") {
		t.Fatalf("help does not list store: %q", out.String())
	}
	out.Reset()
	if code := run([]string{"store", "import-mautrix", "-h"}, nil, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), "--pickle-key-file") || !strings.Contains(out.String(), "dry-run") {
		t.Fatalf("-h: %d %q", code, out.String())
	}
	dir := t.TempDir()
	pk := filepath.Join(dir, "pk")
	if err := os.WriteFile(pk, []byte("key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--pickle-key-file", pk, "--user", "@u:x", "--device", "D", "--dry-run"},                                     // no source
		{"--sqlite", "a", "--postgres", "b", "--pickle-key-file", pk, "--user", "@u:x", "--device", "D", "--dry-run"}, // two
		{"--sqlite", "a", "--user", "@u:x", "--device", "D", "--dry-run"},                                             // no pickle key
		{"--sqlite", "a", "--pickle-key-file", pk, "--device", "D", "--dry-run"},                                      // no user
		{"--sqlite", "a", "--pickle-key-file", pk, "--user", "@u:x", "--device", "D"},                                 // no --to
		{"--sqlite", "a", "--pickle-key", "secret"},                                                                   // no such flag
	} {
		errb.Reset()
		if code := run(append([]string{"store", "import-mautrix"}, args...), nil, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
		}
	}

	// A SQLite file that is not a mautrix crypto store.
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", "file:"+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE x (y INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	errb.Reset()
	code := run([]string{"store", "import-mautrix", "--sqlite", other, "--pickle-key-file", "-", "--user", "@u:x", "--device", "D", "--dry-run"},
		strings.NewReader("key\n"), &out, &errb)
	if code != exitFail || !strings.Contains(errb.String(), "mautrix crypto store") {
		t.Fatalf("not a mautrix store: exit %d, %q", code, errb.String())
	}
}

func TestReadStoreKey(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte{7}, 32)
	for name, content := range map[string][]byte{
		"raw": raw, "hex": []byte(strings.Repeat("07", 32) + "\n"), "b64": []byte("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readStoreKey(p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	p := filepath.Join(dir, "short")
	if err := os.WriteFile(p, []byte("abcd"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readStoreKey(p); err == nil {
		t.Error("a 2-byte key was accepted")
	}
}
