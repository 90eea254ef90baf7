// Package testvectors loads sicher's conformance corpus: JSON files of
// known-answer vectors for Olm, Megolm, SAS, PK (backup v1) and libolm
// pickles, most of them generated from libolm 3.2.13 by the separate module
// testvectors/libolm, some copied from libolm's and vodozemac's own tests.
// README.md lists the files and how to regenerate them.
//
// Every vector carries a [Meta]: a name, its source, and what an
// implementation must do with it ([OK] or a failure class such as
// [BadMAC]). The vector types of this package are the corpus schema; the
// generator writes them and the tests of sicher's packages read them:
//
//	for _, v := range testvectors.Load[testvectors.MegolmDecrypt](t, "megolm/sessions.json") {
//		t.Run(v.Name, func(t *testing.T) { ... })
//	}
//
// The package is for tests only; nothing in the library imports it. Secret
// values in the corpus (private keys, ratchets, pickle keys) are test data.
package testvectors

import (
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
)

//go:embed */*.json
var corpus embed.FS

// Failure classes: the values of Meta.Expect other than OK. A consumer maps
// each class to its package's sentinel error.
const (
	// OK means the operation succeeds and its outputs equal the vector's.
	OK = "ok"
	// BadVersion: unknown message, session-key or pickle version.
	BadVersion = "bad_version"
	// BadFormat: malformed, truncated or over-long input, bad field
	// encodings, trailing data, counts above a format's bound.
	BadFormat = "bad_format"
	// BadBase64: the text is not valid (Matrix) base64.
	BadBase64 = "bad_base64"
	// BadMAC: a message MAC does not verify; for pickles, the envelope MAC
	// (a wrong pickle key or a corrupted pickle).
	BadMAC = "bad_mac"
	// BadSignature: an Ed25519 signature does not verify.
	BadSignature = "bad_signature"
	// BadKey: a key of the wrong length or encoding.
	BadKey = "bad_key"
	// UnknownKeyID: a pre-key message names a one-time key the account
	// does not hold (never had, or already removed).
	UnknownKeyID = "unknown_key_id"
	// UnknownIndex: a Megolm message before the session's first known index.
	UnknownIndex = "unknown_index"
	// MissingMessageKey: an Olm message whose key is gone (a replay, or a
	// skipped key evicted from the bounded store).
	MissingMessageKey = "missing_message_key"
	// GapTooLarge: an Olm message more than 2000 steps ahead of its chain.
	GapTooLarge = "gap_too_large"
	// NonContributory: a Diffie-Hellman peer key of small order.
	NonContributory = "non_contributory"
	// LegacyPickle: an account pickle of version 1 (libolm's truncated
	// Ed25519 key), which must be refused as compromised.
	LegacyPickle = "legacy_pickle"
	// NoChain: an Olm message on a new ratchet key arriving while the
	// receiver has not yet sent on its own chain (libolm refuses it).
	NoChain = "no_chain"
	// IdentityKeyMismatch: a pre-key message from another identity key
	// than the one the caller expected.
	IdentityKeyMismatch = "identity_key_mismatch"
)

// Meta is what every vector has.
type Meta struct {
	// Name identifies the vector within its file (unique, stable).
	Name string `json:"name"`
	// Source says where the expected values come from, e.g.
	// "libolm 3.2.13 via testvectors/libolm" or an upstream test file.
	Source string `json:"source"`
	// Expect is OK or a failure class.
	Expect string `json:"expect"`
	// Accept lists further failure classes that are equally correct (for
	// example bad_base64 where libolm, which does not validate base64
	// characters, reports bad_format).
	Accept []string `json:"accept,omitempty"`
	// LibolmError is libolm's error code name for a failure vector
	// (libolm's codes are coarser than the classes: a gap that is too
	// large is BAD_MESSAGE_FORMAT there).
	LibolmError string `json:"libolm_error,omitempty"`
	// LibolmExpect is set where libolm's behaviour differs from what the
	// corpus expects of a hardened implementation: "ok" when libolm
	// accepts input the corpus says to reject (non-contributory keys,
	// over-full pickles).
	LibolmExpect string `json:"libolm_expect,omitempty"`
	// Comment explains anything unusual.
	Comment string `json:"comment,omitempty"`
}

// Accepts reports whether class is an acceptable outcome of the vector.
func (m Meta) Accepts(class string) bool {
	if class == m.Expect {
		return true
	}
	for _, c := range m.Accept {
		if c == class {
			return true
		}
	}
	return false
}

// File is one corpus file.
type File[V any] struct {
	// Format names the file's schema, e.g. "megolm/ratchet".
	Format string `json:"format"`
	// Description says what the vectors exercise.
	Description string `json:"description"`
	// Generator is the command that regenerates the file, if any.
	Generator string `json:"generator,omitempty"`
	// Vectors are the cases, each with a Meta.
	Vectors []V `json:"vectors"`
}

// Hex is binary data, written in JSON as a lowercase hex string.
type Hex []byte

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(out, h)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hex) UnmarshalText(b []byte) error {
	out := make([]byte, hex.DecodedLen(len(b)))
	if _, err := hex.Decode(out, b); err != nil {
		return fmt.Errorf("testvectors: bad hex: %w", err)
	}
	*h = out
	return nil
}

// String returns the hex form.
func (h Hex) String() string { return hex.EncodeToString(h) }

// Files lists the corpus files (paths such as "megolm/ratchet.json").
func Files() []string {
	var out []string
	_ = fs.WalkDir(corpus, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// ReadFile returns the raw bytes of a corpus file, for use outside tests
// (tools, fuzz corpora).
func ReadFile(name string) ([]byte, error) {
	b, err := corpus.ReadFile(path.Clean(name))
	if err != nil {
		return nil, fmt.Errorf("testvectors: %w", err)
	}
	return b, nil
}

// Read returns the raw bytes of a corpus file, failing tb if it is missing.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// LoadFile decodes a corpus file, failing tb on any error (unknown fields
// included, so schema drift is caught).
func LoadFile[V any](tb testing.TB, name string) File[V] {
	tb.Helper()
	f, err := Decode[V](Read(tb, name))
	if err != nil {
		tb.Fatalf("testvectors: %s: %v", name, err)
	}
	if len(f.Vectors) == 0 {
		tb.Fatalf("testvectors: %s: no vectors", name)
	}
	return f
}

// Load returns the vectors of a corpus file.
func Load[V any](tb testing.TB, name string) []V {
	tb.Helper()
	return LoadFile[V](tb, name).Vectors
}

// Decode parses a corpus file's bytes strictly.
func Decode[V any](b []byte) (File[V], error) {
	var f File[V]
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, err
	}
	return f, nil
}
