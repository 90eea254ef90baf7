// Package cryptotest holds the test suites every sicher package shares:
//
//   - Tamper: an authenticated message must not open after any change to
//     its bytes (every bit of every byte, every strict prefix, one byte
//     more). The idea follows the standard library's testing/cryptotest
//     (TestAEAD), applied to each of sicher's message formats.
//   - Redacted: a secret-holding value shows none of its secret bytes in
//     fmt, log/slog or encoding/json output (RedactedInLogs: fmt and
//     log/slog only, for a type whose JSON is its wire form).
//
// and a few helpers: the memory a call allocates, a reader of zeros, the
// low-order Curve25519 points. Its own tests are the cross-package ones:
// redaction of every secret-holding type, resource bounds of every text
// decoder, known-attack regressions and concurrency.
//
// It is internal and used only by tests.
package cryptotest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// A Region names a byte range [Start, End) of a message, so that Tamper
// reports "MAC byte 3 bit 0x01" rather than an offset alone. A negative
// Start or End counts from the end of the message (-8 is len(msg)-8); an
// End of 0 means the end of the message.
type Region struct {
	Name       string
	Start, End int
}

// A TamperOption changes what Tamper tries.
type TamperOption func(*tamperConfig)

type tamperConfig struct {
	regions []Region
	skips   []skip
}

type skip struct {
	start, end int
	mask       byte
}

// Regions names the parts of the message in Tamper's failure reports.
// Bytes outside every region are reported as "byte".
func Regions(rs ...Region) TamperOption {
	return func(c *tamperConfig) { c.regions = append(c.regions, rs...) }
}

// SkipBits leaves the bits of mask unflipped in the bytes [start, end) of
// the message. It is for the few bits a format leaves unauthenticated on
// purpose (the caller's test says why, and tests them separately).
func SkipBits(start, end int, mask byte) TamperOption {
	return func(c *tamperConfig) { c.skips = append(c.skips, skip{start, end, mask}) }
}

// Tamper checks that open refuses every change to msg: each of the eight
// bits of every byte flipped, every strict prefix (the empty message
// included) and msg with one byte appended; then that open accepts msg
// itself. Trying msg last suits a stateful receiver (a ratchet that must
// not move on a refused message): a refusal that changed the state shows
// as msg no longer opening. open must return a non-nil error for a message
// it does not accept; it may also check, and report through t, that a
// refused message left its state and output unchanged. open is never
// given a slice that aliases msg.
func Tamper(t testing.TB, msg []byte, open func([]byte) error, opts ...TamperOption) {
	t.Helper()
	var c tamperConfig
	for _, o := range opts {
		o(&c)
	}
	n := len(msg)
	bad := make([]byte, n)
	for i := range n {
		var skipped byte
		for _, s := range c.skips {
			if i >= s.start && i < s.end {
				skipped |= s.mask
			}
		}
		for bit := range 8 {
			mask := byte(1) << bit
			if skipped&mask != 0 {
				continue
			}
			copy(bad, msg)
			bad[i] ^= mask
			if open(bad) == nil {
				t.Errorf("%s bit %#02x flipped: the message opens", c.where(i, n), mask)
			}
		}
	}
	for l := range n {
		if open(bytes.Clone(msg[:l])) == nil {
			t.Errorf("prefix of %d of %d bytes opens", l, n)
		}
	}
	if open(append(bytes.Clone(msg), 0)) == nil {
		t.Errorf("the message with one byte appended opens")
	}
	if err := open(bytes.Clone(msg)); err != nil {
		t.Errorf("the untampered message does not open after the tampered ones: %v", err)
	}
}

func (c *tamperConfig) where(i, n int) string {
	for _, r := range c.regions {
		start, end := r.Start, r.End
		if start < 0 {
			start += n
		}
		if end <= 0 {
			end += n
		}
		if i >= start && i < end {
			return fmt.Sprintf("%s byte %d (offset %d)", r.Name, i-start, i)
		}
	}
	return fmt.Sprintf("byte %d", i)
}

// Verbs are the fmt verbs a redacted value is printed with.
var Verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"}

// Encodings returns the forms a secret may take in text: the raw bytes,
// hex (both cases), standard and URL base64 (padded and not, and at each
// alignment inside a longer base64 string), and the number lists fmt and
// encoding/json print for a byte array. Secrets shorter than 8 bytes have
// no forms (they would match by chance).
func Encodings(secret []byte) []string {
	if len(secret) < 8 {
		return nil
	}
	nums := make([]string, len(secret))
	for i, b := range secret {
		nums[i] = strconv.Itoa(int(b))
	}
	out := []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		strings.Join(nums, " "), // fmt: [1 2 3 ...]
		strings.Join(nums, ","), // encoding/json: [1,2,3,...]
	}
	// Inside the base64 of a longer string the secret starts at any of
	// three alignments: its whole 3-byte groups from offset j appear
	// verbatim, whatever surrounds them.
	for j := range 3 {
		whole := secret[j : j+(len(secret)-j)/3*3]
		out = append(out,
			base64.StdEncoding.EncodeToString(whole),
			base64.URLEncoding.EncodeToString(whole))
	}
	return out
}

// forms returns the encodings of every secret, plus the first and last
// twelve characters of the longer text encodings (a partial leak).
func forms(t testing.TB, secrets [][]byte) []string {
	t.Helper()
	var out []string
	for _, s := range secrets {
		if len(s) < 8 {
			t.Fatalf("Redacted: a secret of %d bytes is too short to search for", len(s))
		}
		for i, e := range Encodings(s) {
			out = append(out, e)
			if i > 0 && i < 7 && len(e) > 24 { // hex and base64 forms
				out = append(out, e[:12], e[len(e)-12:])
			}
		}
	}
	return out
}

// Redacted checks that value shows none of the secrets, in any of the
// forms of Encodings (or the ends of its hex and base64 forms), when it is
//
//   - printed by fmt with each of Verbs (a verb fmt does not handle, "%!",
//     fails too: a redacting Format handles every verb);
//   - logged by log/slog's text and JSON handlers, as an attribute and
//     inside a group;
//   - marshalled by encoding/json, which must fail or show no secret.
//
// Callers pass a pointer and a value where a type has both forms.
func Redacted(t testing.TB, value any, secrets ...[]byte) {
	t.Helper()
	fs := forms(t, secrets)
	if len(fs) == 0 {
		t.Fatal("Redacted: no secrets to search for")
	}
	redactedFmt(t, value, fs)
	redactedSlog(t, value, fs)
	redactedJSON(t, value, fs)
}

// RedactedInLogs is Redacted without the encoding/json check, for a type
// whose JSON form is its wire form and carries the secret on purpose
// (attachment.EncryptedFile: the spec's EncryptedFile object, written
// only into content that is then end-to-end encrypted).
func RedactedInLogs(t testing.TB, value any, secrets ...[]byte) {
	t.Helper()
	fs := forms(t, secrets)
	redactedFmt(t, value, fs)
	redactedSlog(t, value, fs)
}

// check fails t if out contains any of forms, quoting the output around
// the first match.
func check(t testing.TB, value any, how, out string, forms []string) {
	t.Helper()
	for _, f := range forms {
		if i := strings.Index(out, f); i >= 0 {
			from, to := max(i-60, 0), min(i+len(f)+60, len(out))
			t.Errorf("%T %s shows secret material %q: …%s…", value, how, f, out[from:to])
			return
		}
	}
}

func redactedFmt(t testing.TB, value any, fs []string) {
	t.Helper()
	for _, verb := range Verbs {
		out := fmt.Sprintf(verb, value)
		check(t, value, "printed with "+verb, out, fs)
		if _, isString := value.(string); !isString && strings.Contains(out, "%!") {
			t.Errorf("%T printed with %s: fmt error %s", value, verb, out)
		}
	}
}

func redactedSlog(t testing.TB, value any, fs []string) {
	t.Helper()
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"slog text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"slog JSON", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		var buf bytes.Buffer
		log := slog.New(h.new(&buf))
		log.Info("value", "v", value)
		log.Info("group", slog.Group("g", slog.Any("v", value)))
		log.With("w", value).Info("with")
		check(t, value, "logged by "+h.name, buf.String(), fs)
	}
}

func redactedJSON(t testing.TB, value any, fs []string) {
	t.Helper()
	if b, err := json.Marshal(value); err == nil {
		check(t, value, "marshalled by encoding/json", string(b), fs)
	}
}

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

// LowOrderCurve25519 are the Curve25519 points of small order (RFC 7748
// section 6.1; libsodium's blocklist, with the top bit clear): X25519 with
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

// Read fills p with zeros.
func (ZeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
