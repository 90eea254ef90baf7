package keyexport

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/ctr64"
	"github.com/sicher-go/sicher/internal/wire"
)

// Armor lines.
const (
	Header = "-----BEGIN MEGOLM SESSION DATA-----"
	Footer = "-----END MEGOLM SESSION DATA-----"
)

// Format constants and defaults.
const (
	// Version is the only version of the binary format.
	Version = 0x01
	// DefaultRounds is the PBKDF2 round count Encrypt writes when
	// Options.Rounds is 0: Element's default.
	DefaultRounds = 500_000
	// MinRounds is the smallest round count Encrypt writes unless
	// Options.InsecureAllowLowRounds is set: the Matrix specification's
	// recommended minimum (100 000).
	MinRounds = 100_000
	// DefaultMaxRounds is the largest round count Decrypt accepts when
	// Options.MaxRounds is 0. The round count comes from the file, so from
	// whoever wrote it; each round costs the importer about a microsecond
	// of CPU. 1 000 000 is twice the largest count mainstream clients write
	// (Element's 500 000) and bounds the work to a second or two, where a
	// hostile 10 000 000 took 9 to 21 seconds on a laptop. A caller that
	// must read files with more rounds raises Options.MaxRounds explicitly.
	DefaultMaxRounds = 1_000_000
	// DefaultLineWidth is the armor line width Encrypt uses when
	// Options.LineWidth is 0 (Element writes 96 columns).
	DefaultLineWidth = 96

	saltSize   = 16
	ivSize     = 16
	macSize    = 32
	headerSize = 1 + saltSize + ivSize + 4
	// minSize is the length of the smallest valid binary file: header and
	// MAC around an empty ciphertext.
	minSize = headerSize + macSize
)

var (
	// ErrMalformed is wrapped by the errors for input that does not parse:
	// no header or footer line, base64 that does not decode, a file
	// shorter than its fixed header and MAC, a session list that is not a
	// JSON array, or (wrapped in an *EntryError) an invalid entry.
	ErrMalformed = errors.New("keyexport: malformed key export")
	// ErrUnsupportedVersion: the version byte is not 0x01.
	ErrUnsupportedVersion = errors.New("keyexport: unsupported export format version")
	// ErrBadRounds: a PBKDF2 round count outside the allowed range: 0 or
	// above Options.MaxRounds in a file, or below MinRounds or above 2^32-1
	// for Encrypt.
	ErrBadRounds = errors.New("keyexport: invalid PBKDF2 round count")
	// ErrAuthentication: the MAC does not verify: a wrong passphrase, or a
	// corrupted or tampered file.
	ErrAuthentication = errors.New("keyexport: MAC mismatch (wrong passphrase or corrupted file)")
)

// Options adjusts Encrypt and Decrypt. The zero value (or a nil *Options)
// gives the defaults.
type Options struct {
	// Rounds is the PBKDF2 round count Encrypt writes (DefaultRounds if
	// 0). It must be at least MinRounds and at most 2^32-1.
	Rounds int
	// InsecureAllowLowRounds lets Encrypt write fewer than MinRounds
	// rounds (at least 1), for tests and interoperability checks. Files
	// written so are cheap to brute-force.
	InsecureAllowLowRounds bool
	// LineWidth is the armor line width (DefaultLineWidth if 0, one line
	// if negative).
	LineWidth int
	// MaxRounds is the largest round count Decrypt accepts
	// (DefaultMaxRounds if 0). Raise it only for a file the user chose to
	// wait for: the round count is the file writer's choice.
	MaxRounds int
}

func (o *Options) rounds() int {
	if o == nil || o.Rounds == 0 {
		return DefaultRounds
	}
	return o.Rounds
}

func (o *Options) minRounds() int {
	if o != nil && o.InsecureAllowLowRounds {
		return 1
	}
	return MinRounds
}

func (o *Options) maxRounds() int {
	if o == nil || o.MaxRounds == 0 {
		return DefaultMaxRounds
	}
	return o.MaxRounds
}

func (o *Options) lineWidth() int {
	if o == nil || o.LineWidth == 0 {
		return DefaultLineWidth
	}
	return o.LineWidth
}

// deriveKeys runs PBKDF2-HMAC-SHA-512 and splits its 64 bytes into the
// AES key and the HMAC key. The result is secret; the caller wipes it.
func deriveKeys(passphrase string, salt []byte, rounds int) ([]byte, error) {
	k, err := pbkdf2.Key(sha512.New, passphrase, salt, rounds, 64)
	if err != nil {
		return nil, fmt.Errorf("keyexport: deriving keys: %w", err)
	}
	return k, nil
}

// Encrypt encrypts plaintext (normally the JSON session list; see Export)
// under passphrase and returns the armored file, with salt and IV from
// crypto/rand. Errors: ErrBadRounds for opts.Rounds below MinRounds (unless
// opts.InsecureAllowLowRounds) or above 2^32-1.
func Encrypt(plaintext []byte, passphrase string, opts *Options) ([]byte, error) {
	return EncryptFrom(rand.Reader, plaintext, passphrase, opts)
}

// EncryptFrom is Encrypt reading 16 bytes of salt, then 16 bytes of IV,
// from rand (nil means crypto/rand), for known-answer tests. It clears bit
// 63 of the IV, as Element does. A failing reader gives an error that wraps
// the reader's.
func EncryptFrom(rand io.Reader, plaintext []byte, passphrase string, opts *Options) ([]byte, error) {
	if rand == nil {
		return Encrypt(plaintext, passphrase, opts)
	}
	rounds := opts.rounds()
	if _, ok := wire.Uint32(uint64(rounds)); !ok || rounds < opts.minRounds() {
		return nil, fmt.Errorf("%w: %d (allowed %d..%d)", ErrBadRounds, rounds, opts.minRounds(), uint32(1<<32-1))
	}
	var salt [saltSize]byte
	var iv [ivSize]byte
	r := rand
	if _, err := io.ReadFull(r, salt[:]); err != nil {
		return nil, fmt.Errorf("keyexport: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(r, iv[:]); err != nil {
		return nil, fmt.Errorf("keyexport: reading randomness: %w", err)
	}
	iv[8] &= 0x7f
	bin, err := seal(plaintext, passphrase, &salt, &iv, uint32(rounds))
	if err != nil {
		return nil, err
	}
	return armor(bin, opts.lineWidth()), nil
}

// seal builds the binary file for fixed salt, IV and rounds.
func seal(plaintext []byte, passphrase string, salt *[saltSize]byte, iv *[ivSize]byte, rounds uint32) ([]byte, error) {
	keys, err := deriveKeys(passphrase, salt[:], int(rounds))
	if err != nil {
		return nil, err
	}
	defer clear(keys)
	b := wire.NewBuilder(make([]byte, 0, headerSize+len(plaintext)+macSize))
	b.AddUint8(Version)
	b.AddBytes(salt[:])
	b.AddBytes(iv[:])
	b.AddUint32(rounds)
	out := b.Bytes()
	out = out[:headerSize+len(plaintext)]
	ctr64.XORKeyStream(keys[:32], iv[:], out[headerSize:], plaintext)
	m := hmac.New(sha256.New, keys[32:])
	m.Write(out)
	return m.Sum(out), nil
}

// armor wraps bin in the header and footer, as padded standard base64 in
// lines of width characters (one line if width < 0).
func armor(bin []byte, width int) []byte {
	enc := base64.StdEncoding.EncodeToString(bin)
	var buf bytes.Buffer
	buf.Grow(len(Header) + len(Footer) + len(enc) + len(enc)/max(width, 1) + 4)
	buf.WriteString(Header)
	buf.WriteByte('\n')
	if width < 0 {
		width = len(enc)
	}
	for len(enc) > 0 {
		n := min(width, len(enc))
		buf.WriteString(enc[:n])
		buf.WriteByte('\n')
		enc = enc[n:]
	}
	buf.WriteString(Footer)
	buf.WriteByte('\n')
	return buf.Bytes()
}

// unarmor finds the header and footer lines (surrounding text, blank
// lines, CRLF and indentation are tolerated) and decodes the base64
// between them, padded or not.
func unarmor(file []byte) ([]byte, error) {
	var body []byte
	inside := false
	for len(file) > 0 {
		var line []byte
		line, file, _ = bytes.Cut(file, []byte("\n"))
		line = bytes.TrimSpace(line)
		if !inside {
			inside = string(line) == Header
			continue
		}
		if string(line) == Footer {
			return decodeBody(body)
		}
		body = append(body, line...)
	}
	if !inside {
		return nil, fmt.Errorf("%w: header line not found", ErrMalformed)
	}
	return nil, fmt.Errorf("%w: footer line not found", ErrMalformed)
}

func decodeBody(body []byte) ([]byte, error) {
	body = bytes.TrimRight(body, "=")
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(body)))
	n, err := base64.RawStdEncoding.Decode(out, body)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid base64", ErrMalformed)
	}
	return out[:n], nil
}

// Decrypt reads an armored key export file, verifies its MAC under
// passphrase and returns the plaintext (secret: the session list JSON).
// Errors wrap ErrMalformed, ErrUnsupportedVersion, ErrBadRounds (0, or
// above opts.MaxRounds, DefaultMaxRounds by default: checked before any
// PBKDF2 work) or ErrAuthentication. Only opts.MaxRounds is used.
func Decrypt(file []byte, passphrase string, opts *Options) ([]byte, error) {
	bin, err := unarmor(file)
	if err != nil {
		return nil, err
	}
	return decryptBinary(bin, passphrase, opts.maxRounds())
}

// FileHeader is the public, unauthenticated part of a key export file. A
// client can show Rounds (how long decryption will take) before asking
// for the passphrase; nothing in it is trustworthy until Decrypt has
// verified the MAC.
type FileHeader struct {
	Version uint8
	Salt    [saltSize]byte
	IV      [ivSize]byte
	Rounds  uint32
	// CiphertextLen is the length of the encrypted session list.
	CiphertextLen int
}

// ParseHeader reads the armor and the fixed header of a key export file
// without the passphrase. Errors wrap ErrMalformed or
// ErrUnsupportedVersion; the round count is not judged here.
func ParseHeader(file []byte) (*FileHeader, error) {
	bin, err := unarmor(file)
	if err != nil {
		return nil, err
	}
	h, _, _, err := parseBinary(bin)
	return h, err
}

// parseBinary splits a decoded file into its header, the bytes the MAC
// covers and the MAC.
func parseBinary(bin []byte) (h *FileHeader, signed, mac []byte, err error) {
	if len(bin) < minSize {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(bin))
	}
	signed, mac = bin[:len(bin)-macSize], bin[len(bin)-macSize:]
	r := wire.Reader(signed)
	h = new(FileHeader)
	if !r.ReadUint8(&h.Version) || !r.CopyBytes(h.Salt[:]) || !r.CopyBytes(h.IV[:]) || !r.ReadUint32(&h.Rounds) {
		panic("keyexport: internal error: header shorter than minSize")
	}
	h.CiphertextLen = r.Len()
	if h.Version != Version {
		return nil, nil, nil, fmt.Errorf("%w: %#02x", ErrUnsupportedVersion, h.Version)
	}
	return h, signed, mac, nil
}

func decryptBinary(bin []byte, passphrase string, maxRounds int) ([]byte, error) {
	h, signed, mac, err := parseBinary(bin)
	if err != nil {
		return nil, err
	}
	if h.Rounds == 0 || uint64(h.Rounds) > uint64(maxRounds) {
		return nil, fmt.Errorf("%w: %d (allowed 1..%d)", ErrBadRounds, h.Rounds, maxRounds)
	}
	keys, err := deriveKeys(passphrase, h.Salt[:], int(h.Rounds))
	if err != nil {
		return nil, err
	}
	defer clear(keys)
	m := hmac.New(sha256.New, keys[32:])
	m.Write(signed)
	if !hmac.Equal(m.Sum(nil), mac) {
		return nil, ErrAuthentication
	}
	ct := signed[headerSize:]
	pt := make([]byte, len(ct))
	ctr64.XORKeyStream(keys[:32], h.IV[:], pt, ct)
	return pt, nil
}
