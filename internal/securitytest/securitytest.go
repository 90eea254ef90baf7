// Package securitytest holds helpers for sicher's robustness and security
// tests (issue 8; SECURITY.md maps each defensive rule to its test): measuring
// the memory a call allocates, checking that fmt never prints secret bytes, and
// the low-order Curve25519 points every key agreement must refuse. Its own
// tests are the cross-package ones: redaction and JSON tags of every
// secret-holding type, resource bounds of every text decoder, known-attack
// regressions and concurrency.
//
// It is internal and used only by tests.
package securitytest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// AllocBytes returns the bytes allocated by one call of f, averaged over
// runs calls (after one warm-up call). Other goroutines' allocations count
// too, so callers should not run in parallel with other tests.
func AllocBytes(runs int, f func()) uint64 {
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// Verbs are the fmt verbs (with flags) a redacted value is printed with.
var Verbs = []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"}

// Encodings returns the forms a secret may take in text: hex (both cases),
// standard and URL base64 (padded and not) and the raw bytes. Secrets
// shorter than 8 bytes are not searched (false positives).
func Encodings(secret []byte) []string {
	if len(secret) < 8 {
		return nil
	}
	return []string{
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawStdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		string(secret),
		fmt.Sprint(secret), // [1 2 3 ...]
	}
}

// CheckRedacted prints v with every verb of Verbs and fails t if any output
// contains a form of any of the secrets, or the first or last 12 characters
// of one of their longer encodings (a partial leak), or if fmt reports a
// verb the value does not handle (a redacting Format handles every verb).
func CheckRedacted(t testing.TB, name string, v any, secrets ...[]byte) {
	t.Helper()
	var forms []string
	for _, s := range secrets {
		for _, e := range Encodings(s) {
			forms = append(forms, e)
			if len(e) > 24 && !strings.HasPrefix(e, "[") {
				forms = append(forms, e[:12], e[len(e)-12:])
			}
		}
	}
	for _, verb := range Verbs {
		out := fmt.Sprintf(verb, v)
		for _, f := range forms {
			if f != "" && strings.Contains(out, f) {
				t.Errorf("%s printed with %s shows secret material %q:\n%s", name, verb, f, out)
			}
		}
		if _, isString := v.(string); !isString && bytes.Contains([]byte(out), []byte("%!")) {
			t.Errorf("%s printed with %s: fmt error %s", name, verb, out)
		}
	}
}

// LowOrderCurve25519 are the Curve25519 points of small order (RFC 7748
// §6.1 note; libsodium's blocklist, with the top bit clear): X25519 with
// any of them is all zeros, whatever the private key.
var LowOrderCurve25519 = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

// LowOrder returns the points of LowOrderCurve25519 as byte arrays.
func LowOrder() [][32]byte {
	var ks [][32]byte
	for _, h := range LowOrderCurve25519 {
		var k [32]byte
		if _, err := hex.Decode(k[:], []byte(h)); err != nil {
			panic(err)
		}
		ks = append(ks, k)
	}
	return ks
}

// ZeroReader reads zeros: a fixed pickle nonce, so that two pickles of the
// same state are byte-identical.
type ZeroReader struct{}

func (ZeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
