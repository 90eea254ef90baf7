package main

// The file tools: encrypted attachments, key export files and recovery
// keys. Secrets (passphrases, recovery keys, pickle keys) never come from
// argv: they are read from a file, an environment variable named on the
// command line, or the terminal with echo off. Nothing secret is printed
// unless it is what the command was asked to produce.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func init() {
	commands["attachment"] = command{"encrypt or decrypt a file as a Matrix encrypted attachment (EncryptedFile v2)", runAttachment}
	commands["keyexport"] = command{"decrypt or encrypt a MEGOLM SESSION DATA key export file", runKeyExport}
	commands["recovery-key"] = command{"generate, check or derive (from a passphrase) a recovery key", runRecoveryKey}
}

// Bounds on what the tools read into memory.
const (
	maxKeyExportFile = 1 << 30 // a million sessions is about 1 GiB of armored text
	maxJSONFile      = 16 << 20
)

// openInput opens the file named by arg, or stdin for "" and "-". size is
// the file's size if known, else 0.
func openInput(arg string, stdin io.Reader) (r io.ReadCloser, size int64, err error) {
	if arg == "" || arg == "-" {
		if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		return io.NopCloser(stdin), size, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, 0, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, nil
}

// readAllInput reads the whole input named by arg, at most limit bytes.
func readAllInput(arg string, stdin io.Reader, limit int64) ([]byte, error) {
	return readAllInputProgress(arg, stdin, limit, nil, "")
}

// readAllInputProgress is readAllInput showing progress labelled label on
// stderr while it reads (when stderr is a terminal).
func readAllInputProgress(arg string, stdin io.Reader, limit int64, stderr io.Writer, label string) ([]byte, error) {
	r, size, err := openInput(arg, stdin)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p := newProgress(stderr, label, size, "")
	defer p.finish()
	b, err := io.ReadAll(io.LimitReader(progressReader{r, p}, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("input larger than %s", humanBytes(limit))
	}
	return b, nil
}

// atomicFile writes to a temporary file next to path and renames it into
// place on commit, so a failed or unverified result never appears at path.
type atomicFile struct {
	*os.File
	path string
	done bool
}

func createAtomic(path string, perm os.FileMode) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
}

func (a *atomicFile) commit() error {
	if err := a.File.Close(); err != nil {
		os.Remove(a.Name())
		return err
	}
	a.done = true
	return os.Rename(a.Name(), a.path)
}

// abort removes the temporary file unless commit succeeded.
func (a *atomicFile) abort() {
	if !a.done {
		a.File.Close()
		os.Remove(a.Name())
	}
}

// writeOutput writes b to path (0600 if secret, else 0644) or, for "" or
// "-", to stdout.
func writeOutput(path string, b []byte, secret bool, stdout io.Writer) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	perm := os.FileMode(0o644)
	if secret {
		perm = 0o600
	}
	f, err := createAtomic(path, perm)
	if err != nil {
		return err
	}
	defer f.abort()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.commit()
}
