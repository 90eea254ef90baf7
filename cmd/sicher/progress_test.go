package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressOnFakeTerminal drives the progress line with its terminal
// flag set, as on a real terminal: bytes, percentage and rate.
func TestProgressOnFakeTerminal(t *testing.T) {
	var tty bytes.Buffer
	p := &progress{w: &tty, label: "decrypting", total: 4 << 20, active: true, start: time.Now().Add(-2 * time.Second)}
	p.add(2 << 20)
	got := tty.String()
	if !strings.HasPrefix(got, "\rdecrypting: 2.0 MiB of 4.0 MiB (50%), ") || !strings.HasSuffix(got, " KiB/s\x1b[K") {
		t.Errorf("progress line %q", got)
	}
	// Unknown size: bytes and rate, no percentage.
	tty.Reset()
	p = &progress{w: &tty, label: "encrypting", active: true, start: time.Now().Add(-time.Second)}
	p.add(3 << 20)
	if got := tty.String(); !strings.HasPrefix(got, "\rencrypting: 3.0 MiB, ") || strings.Contains(got, "%") || !strings.Contains(got, "MiB/s") {
		t.Errorf("unknown size: %q", got)
	}
}

// TestProgressQuietOffTerminal: a regular file, a pipe-like buffer and
// the null device get no progress.
func TestProgressQuietOffTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, w := range []any{f, null, &bytes.Buffer{}} {
		p := newProgress(w.(interface{ Write([]byte) (int, error) }), "x", 10, "")
		if p.active {
			t.Errorf("%T is taken for a terminal", w)
		}
		p.add(5)
		p.finish()
	}
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Errorf("progress written to a file: %d bytes", fi.Size())
	}
}
