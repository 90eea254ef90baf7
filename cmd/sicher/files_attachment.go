package main

// sicher attachment: encrypt and decrypt Matrix encrypted attachments, streaming.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/attachment"
)

func runAttachment(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup("attachment", `Encrypt files for, and decrypt files from, Matrix encrypted attachments
(EncryptedFile "v2": AES-256-CTR, SHA-256 of the ciphertext). Both commands
stream: memory use does not grow with the file.`,
		map[string]subcommand{
			"encrypt": {"encrypt a file; write the ciphertext and its EncryptedFile JSON", runAttachmentEncrypt},
			"decrypt": {"decrypt a file with its EncryptedFile JSON, verifying the hash", runAttachmentDecrypt},
		}, []string{"encrypt", "decrypt"}, args, stdin, stdout, stderr)
}

var attachmentEncryptCmd = cliCommand{
	name: "attachment encrypt",
	args: "-j FILE.json [-o CIPHERTEXT] [--url MXC] [INPUT]",
	about: `Encrypt INPUT (or stdin) under a fresh random key. The ciphertext goes to
CIPHERTEXT (or stdout, which must not be a terminal); the EncryptedFile
JSON with the key, IV and hash goes to FILE.json, created with mode 0600:
it is secret, send it only inside an encrypted event.`,
}

func runAttachmentEncrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := attachmentEncryptCmd
	fs := newFlags(c)
	jsonPath := fs.String("j", "", "write the EncryptedFile JSON (secret) to this file (required)")
	outPath := fs.String("o", "", "write the ciphertext to this file instead of stdout")
	url := fs.String("url", "", "mxc:// URL to put in the EncryptedFile (after uploading)")
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one INPUT")
	}
	if *jsonPath == "" {
		return usageError(stderr, c, "-j FILE.json is required: without it the key would be lost")
	}
	if *jsonPath == "-" && (*outPath == "" || *outPath == "-") {
		return usageError(stderr, c, "-j - writes the EncryptedFile to stdout, so the ciphertext needs -o FILE")
	}
	if (*outPath == "" || *outPath == "-") && isTerminalWriter(stdout) {
		return usageError(stderr, c, "refusing to write ciphertext to a terminal; use -o FILE or redirect stdout")
	}
	in, size, err := openInput(fs.Arg(0), stdin)
	if err != nil {
		return fail(stderr, c, err)
	}
	defer in.Close()
	p := newProgress(stderr, "encrypting", size, "")
	defer p.finish()
	enc, err := attachment.NewEncryptingReader(progressReader{in, p})
	if err != nil {
		return fail(stderr, c, err)
	}
	var out io.Writer = stdout
	var af *atomicFile
	if *outPath != "" && *outPath != "-" {
		if af, err = createAtomic(*outPath, 0o644); err != nil {
			return fail(stderr, c, err)
		}
		defer af.abort()
		out = af
	}
	n, err := io.Copy(out, enc)
	if err != nil {
		return fail(stderr, c, err)
	}
	f, err := enc.File()
	if err != nil {
		return fail(stderr, c, err)
	}
	f.URL = *url
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fail(stderr, c, err)
	}
	if af != nil {
		if err := af.commit(); err != nil {
			return fail(stderr, c, err)
		}
	}
	if err := writeOutput(*jsonPath, append(js, '\n'), true, stdout); err != nil {
		return fail(stderr, c, err)
	}
	p.finish()
	fmt.Fprintf(stderr, "sicher: wrote %s of ciphertext to %s\n", humanBytes(n), outputName(*outPath))
	fmt.Fprintf(stderr, "sicher: wrote the EncryptedFile JSON (it holds the key: secret) to %s\n", outputName(*jsonPath))
	return exitOK
}

// outputName names an output path in messages.
func outputName(path string) string {
	if path == "" || path == "-" {
		return "stdout"
	}
	return path
}

var attachmentDecryptCmd = cliCommand{
	name: "attachment decrypt",
	args: "-j FILE.json [-o OUTPUT] [--allow-legacy] [CIPHERTEXT]",
	about: `Decrypt CIPHERTEXT (or stdin) with the EncryptedFile in FILE.json (an
EncryptedFile object, or an event or content with a "file" member). The
SHA-256 of the ciphertext is checked before any plaintext is kept: OUTPUT
is written to a temporary file and renamed into place only after the hash
matched; for stdout the ciphertext is first spooled to a temporary file and
checked. On a mismatch nothing is written and the exit code is 1.`,
}

func runAttachmentDecrypt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := attachmentDecryptCmd
	fs := newFlags(c)
	jsonPath := fs.String("j", "", "the EncryptedFile JSON (required)")
	outPath := fs.String("o", "", "write the plaintext to this file instead of stdout")
	legacy := fs.Bool("allow-legacy", false, `also decrypt the legacy versions "v1" and unversioned files of old clients`)
	if code, ok := parseFlags(c, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return usageError(stderr, c, "at most one CIPHERTEXT")
	}
	if *jsonPath == "" {
		return usageError(stderr, c, "-j FILE.json is required")
	}
	raw, err := readAllInput(*jsonPath, nil, maxJSONFile)
	if err != nil {
		return fail(stderr, c, err)
	}
	f, err := findEncryptedFile(raw)
	if err != nil {
		return fail(stderr, c, fmt.Errorf("%s: %w", *jsonPath, err))
	}
	in, size, err := openInput(fs.Arg(0), stdin)
	if err != nil {
		return fail(stderr, c, err)
	}
	defer in.Close()
	opts := &attachment.Options{AllowLegacy: *legacy}
	p := newProgress(stderr, "decrypting", size, "")
	defer p.finish()
	src := progressReader{in, p}
	if *outPath == "" || *outPath == "-" {
		vr, err := attachment.NewDecryptingReader(src, f, nil, opts)
		if err != nil {
			return fail(stderr, c, explainAttachment(err))
		}
		defer vr.Close()
		if _, err := io.Copy(stdout, vr); err != nil {
			return fail(stderr, c, explainAttachment(err))
		}
		return exitOK
	}
	dr, err := attachment.NewUnverifiedReader(src, f, opts)
	if err != nil {
		return fail(stderr, c, explainAttachment(err))
	}
	out, err := createAtomic(*outPath, 0o600)
	if err != nil {
		return fail(stderr, c, err)
	}
	defer out.abort()
	if _, err := io.Copy(out, dr); err != nil {
		return fail(stderr, c, explainAttachment(err))
	}
	if err := out.commit(); err != nil {
		return fail(stderr, c, err)
	}
	return exitOK
}

// findEncryptedFile parses an EncryptedFile, or finds one under "file" in
// a message content or under "content"."file" in an event.
func findEncryptedFile(raw []byte) (*attachment.EncryptedFile, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if c, ok := obj["content"]; ok {
		var content map[string]json.RawMessage
		if json.Unmarshal(c, &content) == nil && content["file"] != nil {
			obj = content
		}
	}
	if f, ok := obj["file"]; ok {
		raw = f
	}
	return attachment.ParseEncryptedFile(raw)
}

func explainAttachment(err error) error {
	switch {
	case errors.Is(err, attachment.ErrAuthentication):
		return fmt.Errorf("%w: the download is corrupted or is not the file the event describes; no plaintext was kept", err)
	case errors.Is(err, attachment.ErrUnsupportedVersion):
		return fmt.Errorf("%w (try --allow-legacy for files of very old clients)", err)
	}
	return err
}
