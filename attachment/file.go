package attachment

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// Sizes of the values in an EncryptedFile.
const (
	keySize  = 32 // AES-256 key
	ivSize   = 16 // AES-CTR counter block
	hashSize = 32 // SHA-256
)

// Version2 is the current attachment format, the only one this package
// writes: the low 64 bits of the IV are zero. Two legacy formats are read
// with Options.AllowLegacy: "v1", with a random 128-bit IV and a 64-bit
// wrapping counter, and the unversioned format (no "v" member, Version
// ""), whose counter carried through all 128 bits.
const Version2 = "v2"

const (
	version1 = "v1"
	version0 = ""
)

// maxFileJSON bounds the EncryptedFile JSON UnmarshalJSON parses: the
// object is a few hundred bytes (a key, an IV, a hash, an mxc URL), so
// larger input is refused before the decoder allocates for it.
const maxFileJSON = 64 << 10

var (
	// ErrAuthentication means the SHA-256 of the ciphertext is not the one
	// in the EncryptedFile: the file was corrupted or replaced. It is the
	// attachment's authentication failure: the hash travels inside the
	// end-to-end encrypted event.
	ErrAuthentication = errors.New("attachment: ciphertext SHA-256 does not match")
	// ErrMalformed means an EncryptedFile object is malformed: not strict
	// JSON, wrong key type, algorithm or length, wrong IV length, missing
	// SHA-256 hash.
	ErrMalformed = errors.New("attachment: invalid EncryptedFile")
	// ErrUnsupportedVersion means the EncryptedFile has a version this
	// package does not decrypt (or a legacy one without
	// Options.AllowLegacy).
	ErrUnsupportedVersion = errors.New("attachment: unsupported EncryptedFile version")
)

// errNotFinished is returned by File before an encrypting stream has
// reached the end of its input.
var errNotFinished = errors.New("attachment: encryption not finished")

// Options adjusts decryption. The zero value (or a nil *Options) accepts
// only version "v2".
type Options struct {
	// AllowLegacy accepts files of version "v1" and of the unversioned
	// "v0" format that some very old clients wrote.
	AllowLegacy bool
}

// EncryptedFile is the EncryptedFile object of the Matrix spec: what a
// receiver needs to fetch, check and decrypt an attachment. It is sent
// inside an encrypted event as the "file" (or "thumbnail_file") property.
//
// The AES key is secret. It is held in an unexported field and redacted by
// fmt (Format) and log/slog (LogValue). MarshalJSON writes it: the JSON
// form is the wire form, which travels only inside an end-to-end
// encrypted event, so marshal an EncryptedFile only into the content you
// are about to encrypt, never into a log or an unencrypted store. The
// other fields are public. The zero value has no key and cannot decrypt anything;
// obtain an EncryptedFile from an encryption function or by unmarshalling
// one. An EncryptedFile is a plain value: safe for concurrent reads.
type EncryptedFile struct {
	// URL is the mxc:// URI of the uploaded ciphertext. It is left to the
	// caller, who learns it from the media upload.
	URL string
	// MimeType is the optional "mimetype" some clients include here;
	// spec-following senders put it in the event's info block instead.
	MimeType string
	// Version is Version2 for everything this package produces.
	Version string
	// IV is the initial AES-CTR counter block.
	IV [16]byte
	// SHA256 is the SHA-256 digest of the ciphertext.
	SHA256 [32]byte

	key    [keySize]byte
	hasKey bool
}

// Equal reports whether f and g describe the same encrypted file, keys
// included (compared in constant time).
func (f *EncryptedFile) Equal(g *EncryptedFile) bool {
	keyEq := subtle.ConstantTimeCompare(f.key[:], g.key[:]) == 1 && f.hasKey == g.hasKey
	return keyEq && f.URL == g.URL && f.MimeType == g.MimeType && f.Version == g.Version &&
		f.IV == g.IV && f.SHA256 == g.SHA256
}

// Format implements fmt.Formatter. It prints the public fields and never
// the key.
func (f EncryptedFile) Format(s fmt.State, _ rune) {
	fmt.Fprintf(s, "attachment.EncryptedFile{URL:%q Version:%q IV:%s SHA256:%s key:REDACTED}",
		f.URL, f.Version, b64.Encode(f.IV[:]), b64.Encode(f.SHA256[:]))
}

// LogValue implements slog.LogValuer: the public fields, never the key.
func (f EncryptedFile) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", f.URL),
		slog.String("version", f.Version),
		slog.String("iv", b64.Encode(f.IV[:])),
		slog.String("sha256", b64.Encode(f.SHA256[:])),
		slog.String("key", "REDACTED"),
	)
}

// JSON shapes. The "k" string is secret; it is decoded and encoded by the
// constant-time codec and the intermediate strings are not retained.
type jwkJSON struct {
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	K      string   `json:"k"`
	Ext    *bool    `json:"ext"`
}

type fileJSON struct {
	URL      string            `json:"url,omitempty"`
	MimeType string            `json:"mimetype,omitempty"`
	V        *string           `json:"v,omitempty"`
	Key      *jwkJSON          `json:"key"`
	IV       string            `json:"iv"`
	Hashes   map[string]string `json:"hashes"`
}

// MarshalJSON encodes f as a spec EncryptedFile object, including the
// secret key as an unpadded URL-safe JWK "k": the wire form, for the
// "file" member of content that is then end-to-end encrypted. It fails
// for an EncryptedFile without a key.
func (f *EncryptedFile) MarshalJSON() ([]byte, error) {
	if !f.hasKey {
		return nil, fmt.Errorf("%w: no key", ErrMalformed)
	}
	t := true
	k := b64URLFromStd(b64.AppendEncodeSecret(nil, f.key[:]))
	j := fileJSON{
		URL:      f.URL,
		MimeType: f.MimeType,
		Key: &jwkJSON{
			Kty:    "oct",
			KeyOps: []string{"encrypt", "decrypt"},
			Alg:    "A256CTR",
			K:      string(k),
			Ext:    &t,
		},
		IV:     b64.Encode(f.IV[:]),
		Hashes: map[string]string{"sha256": b64.Encode(f.SHA256[:])},
	}
	clear(k)
	if f.Version != version0 {
		v := f.Version
		j.V = &v
	}
	return json.Marshal(j)
}

// UnmarshalJSON parses a spec EncryptedFile object. It checks the JWK (kty
// "oct", alg "A256CTR", key_ops containing "encrypt" and "decrypt", ext
// true, a 32-byte k in URL-safe or standard base64), a 16-byte iv, a
// 32-byte hashes.sha256 and a known version ("v2", "v1", or absent for v0;
// which versions decrypt is decided by Options). The JSON is decoded
// strictly: member names must match exactly and duplicate names, even
// ones differing only in case, are refused. Errors wrap ErrMalformed or
// ErrUnsupportedVersion; on error f is unchanged.
func (f *EncryptedFile) UnmarshalJSON(data []byte) error {
	if len(data) > maxFileJSON {
		return fmt.Errorf("%w: %d bytes of JSON, at most %d accepted", ErrMalformed, len(data), maxFileJSON)
	}
	var j fileJSON
	if err := jsonstrict.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var g EncryptedFile
	g.URL, g.MimeType = j.URL, j.MimeType
	if j.V != nil {
		switch *j.V {
		case Version2, version1:
			g.Version = *j.V
		default:
			return fmt.Errorf("%w: %q", ErrUnsupportedVersion, *j.V)
		}
	}
	if j.Key == nil {
		return fmt.Errorf("%w: missing key", ErrMalformed)
	}
	if err := checkJWK(j.Key); err != nil {
		return err
	}
	if len(j.Key.K) > b64.EncodedLen(keySize)+1 { // 43 characters, or 44 padded
		return fmt.Errorf("%w: key must be 32 bytes of base64", ErrMalformed)
	}
	kb := b64StdFromURL([]byte(j.Key.K))
	key, err := b64.DecodeSecret(string(kb))
	clear(kb)
	if err != nil || len(key) != keySize {
		clear(key)
		return fmt.Errorf("%w: key must be 32 bytes of base64", ErrMalformed)
	}
	copy(g.key[:], key)
	clear(key)
	g.hasKey = true
	defer clear(g.key[:])
	if err := b64.DecodeInto(g.IV[:], j.IV); err != nil {
		return fmt.Errorf("%w: iv must be 16 bytes of base64", ErrMalformed)
	}
	h, ok := j.Hashes["sha256"]
	if !ok {
		return fmt.Errorf("%w: missing hashes.sha256", ErrMalformed)
	}
	if err := b64.DecodeInto(g.SHA256[:], h); err != nil {
		return fmt.Errorf("%w: hashes.sha256 must be 32 bytes of base64", ErrMalformed)
	}
	*f = g
	return nil
}

// ParseEncryptedFile parses the JSON of an EncryptedFile (the "file" or
// "thumbnail_file" member of a message) into a new EncryptedFile, as
// UnmarshalJSON does.
func ParseEncryptedFile(data []byte) (*EncryptedFile, error) {
	f := new(EncryptedFile)
	if err := f.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return f, nil
}

func checkJWK(k *jwkJSON) error {
	if k.Kty != "oct" {
		return fmt.Errorf("%w: key kty %q, want \"oct\"", ErrMalformed, k.Kty)
	}
	if k.Alg != "A256CTR" {
		return fmt.Errorf("%w: key alg %q, want \"A256CTR\"", ErrMalformed, k.Alg)
	}
	var enc, dec bool
	for _, op := range k.KeyOps {
		enc = enc || op == "encrypt"
		dec = dec || op == "decrypt"
	}
	if !enc || !dec {
		return fmt.Errorf("%w: key_ops must contain \"encrypt\" and \"decrypt\"", ErrMalformed)
	}
	if k.Ext == nil || !*k.Ext {
		return fmt.Errorf("%w: key ext must be true", ErrMalformed)
	}
	return nil
}

// check reports whether f may be decrypted under opts.
func (f *EncryptedFile) check(opts *Options) error {
	if !f.hasKey {
		return fmt.Errorf("%w: no key", ErrMalformed)
	}
	if f.Version == Version2 {
		return nil
	}
	if (f.Version == version1 || f.Version == version0) && opts != nil && opts.AllowLegacy {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedVersion, f.Version)
}

// b64URLFromStd rewrites standard base64 to the URL-safe alphabet in place
// without branching on the (secret) characters.
func b64URLFromStd(b []byte) []byte {
	for i, c := range b {
		c = byte(subtle.ConstantTimeSelect(subtle.ConstantTimeByteEq(c, '+'), '-', int(c)))
		c = byte(subtle.ConstantTimeSelect(subtle.ConstantTimeByteEq(c, '/'), '_', int(c)))
		b[i] = c
	}
	return b
}

// b64StdFromURL rewrites URL-safe base64 to the standard alphabet in place
// without branching on the (secret) characters.
func b64StdFromURL(b []byte) []byte {
	for i, c := range b {
		c = byte(subtle.ConstantTimeSelect(subtle.ConstantTimeByteEq(c, '-'), '+', int(c)))
		c = byte(subtle.ConstantTimeSelect(subtle.ConstantTimeByteEq(c, '_'), '/', int(c)))
		b[i] = c
	}
	return b
}
