package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadLineFrom(t *testing.T) {
	for in, want := range map[string]string{
		"secret\n":          "secret",
		"secret\r\n":        "secret",
		"secret":            "secret",
		"two words\nmore\n": "two words",
		" spaced \n":        " spaced ",
		"\n":                "",
	} {
		got, err := readLineFrom(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("readLineFrom(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// Only the line is consumed.
	r := strings.NewReader("first\nsecond\n")
	readLineFrom(r)
	if rest, _ := io.ReadAll(r); string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
	if _, err := readLineFrom(strings.NewReader("")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("empty input: %v", err)
	}
	if _, err := readLineFrom(strings.NewReader(strings.Repeat("x", 70<<10))); err == nil {
		t.Error("an endless line is accepted")
	}
}

func TestSecretSource(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"pw\n":      "pw",
		"pw\r\n":    "pw",
		"pw":        "pw",
		"pw\n\n":    "pw\n",
		" pw \n":    " pw ",
		"zwei\nz\n": "zwei\nz",
	} {
		p := filepath.Join(dir, "f")
		os.WriteFile(p, []byte(content), 0o600)
		got, err := secretSource{what: "passphrase", file: p}.read(true, io.Discard)
		if err != nil || got != want {
			t.Errorf("file %q: %q, %v; want %q", content, got, err, want)
		}
	}
	t.Setenv("SICHER_TEST_SECRET", "aus der Umgebung")
	if got, err := (secretSource{what: "passphrase", env: "SICHER_TEST_SECRET"}).read(false, io.Discard); err != nil || got != "aus der Umgebung" {
		t.Errorf("env: %q, %v", got, err)
	}
	t.Setenv("SICHER_TEST_EMPTY", "")
	if got, err := (secretSource{what: "passphrase", env: "SICHER_TEST_EMPTY"}).read(false, io.Discard); err != nil || got != "" {
		t.Errorf("empty env: %q, %v", got, err)
	}
	typed(t, "getippt")
	if got, err := (secretSource{what: "passphrase"}).read(false, io.Discard); err != nil || got != "getippt" {
		t.Errorf("prompt: %q, %v", got, err)
	}
	typed(t, "a", "a")
	if got, err := (secretSource{what: "passphrase"}).read(true, io.Discard); err != nil || got != "a" {
		t.Errorf("confirmed prompt: %q, %v", got, err)
	}
	noTerminal(t)
	if _, err := (secretSource{what: "pickle key"}).read(false, io.Discard); err == nil || !strings.Contains(err.Error(), "cannot ask for the pickle key") {
		t.Errorf("no terminal: %v", err)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, x := range []*os.File{f, r, w, null} {
		if isTerminal(x) {
			t.Errorf("%s is taken for a terminal", x.Name())
		}
	}
	if isTerminalWriter(&bytes.Buffer{}) || isTerminalWriter((*os.File)(nil)) {
		t.Error("a buffer or nil file is taken for a terminal")
	}
}

func TestProgress(t *testing.T) {
	// Not a terminal: silent.
	var quiet bytes.Buffer
	p := newProgress(&quiet, "encrypting", 100, "")
	p.add(50)
	p.finish()
	if quiet.Len() != 0 {
		t.Errorf("progress written to a non-terminal: %q", quiet.String())
	}
	var nilP *progress
	nilP.add(1) // must not panic
	nilP.finish()

	// A terminal: one line, rewritten, cleared at the end.
	var tty bytes.Buffer
	p = &progress{w: &tty, label: "encrypting", total: 3 << 20, active: true}
	p.add(1 << 20)
	if got := tty.String(); got != "\rencrypting: 1.0 MiB of 3.0 MiB (33%)\x1b[K" {
		t.Errorf("progress line %q", got)
	}
	p.add(1 << 20) // within 100 ms: not redrawn
	if strings.Count(tty.String(), "\r") != 1 {
		t.Errorf("redrawn too often: %q", tty.String())
	}
	p.last = time.Time{}
	p.add(1)
	if !strings.Contains(tty.String(), "2.0 MiB of 3.0 MiB (66%)") {
		t.Errorf("progress %q", tty.String())
	}
	p.finish()
	if !strings.HasSuffix(tty.String(), "\r\x1b[K") {
		t.Errorf("not cleared: %q", tty.String())
	}
	tty.Reset()
	p = &progress{w: &tty, label: "reading", unit: "sessions", active: true}
	p.add(7)
	if got := tty.String(); got != "\rreading: 7 sessions\x1b[K" {
		t.Errorf("unknown total: %q", got)
	}

	// progressReader counts what it passes on.
	var out bytes.Buffer
	p = &progress{w: &out, label: "x", active: true}
	b, _ := io.ReadAll(progressReader{strings.NewReader("hello"), p})
	if string(b) != "hello" || p.done != 5 {
		t.Errorf("progressReader: %q, %d", b, p.done)
	}
}

func TestWhileWorking(t *testing.T) {
	var buf bytes.Buffer
	want := errors.New("boom")
	if err := whileWorking(&buf, "deriving", func() error { return want }); err != want {
		t.Errorf("error not passed on: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("writes to a non-terminal: %q", buf.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 20 << 20: "20.0 MiB", 3 << 30: "3.00 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
