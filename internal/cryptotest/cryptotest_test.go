package cryptotest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures instead of reporting
// them, so that the suites can be tested on broken inputs.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// run calls f with a recorder and returns what it recorded.
func run(t *testing.T, f func(testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.errors
}

var macKey = []byte("tamper test key")

func seal(body []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write(body)
	return m.Sum(bytes.Clone(body))
}

func openSealed(msg []byte) error {
	if len(msg) < sha256.Size {
		return errors.New("short")
	}
	body := msg[:len(msg)-sha256.Size]
	if !hmac.Equal(seal(body), msg) {
		return errors.New("bad MAC")
	}
	return nil
}

func TestTamperAcceptsAuthenticatedFormat(t *testing.T) {
	msg := seal([]byte("an authenticated message"))
	if errs := run(t, func(tb testing.TB) { Tamper(tb, msg, openSealed) }); len(errs) != 0 {
		t.Fatal(errs)
	}
}

func TestTamperFindsGaps(t *testing.T) {
	msg := seal([]byte("\x03version and body"))
	// The version byte's low bit is ignored: eight... no, one bit of one
	// byte opens.
	ignoreLowBit := func(b []byte) error {
		if len(b) == len(msg) && b[0]&^1 == msg[0]&^1 {
			b = bytes.Clone(b)
			b[0] = msg[0]
		}
		return openSealed(b)
	}
	errs := run(t, func(tb testing.TB) {
		Tamper(tb, msg, ignoreLowBit, Regions(Region{"version", 0, 1}, Region{"MAC", -32, 0}))
	})
	if len(errs) != 1 || !strings.Contains(errs[0], "version byte 0") {
		t.Errorf("a malleable version bit: %q", errs)
	}
	if errs := run(t, func(tb testing.TB) { Tamper(tb, msg, ignoreLowBit, SkipBits(0, 1, 0x01)) }); len(errs) != 0 {
		t.Errorf("a skipped bit is still tried: %q", errs)
	}
	// A format that ignores trailing bytes, or accepts a truncated MAC.
	trailing := func(b []byte) error { return openSealed(b[:min(len(b), len(msg))]) }
	if errs := run(t, func(tb testing.TB) { Tamper(tb, msg, trailing) }); len(errs) != 1 || !strings.Contains(errs[0], "appended") {
		t.Errorf("trailing bytes: %q", errs)
	}
	truncated := func(b []byte) error {
		if len(b) == len(msg)-1 && bytes.Equal(b, msg[:len(b)]) {
			return nil
		}
		return openSealed(b)
	}
	if errs := run(t, func(tb testing.TB) { Tamper(tb, msg, truncated) }); len(errs) != 1 || !strings.Contains(errs[0], "prefix") {
		t.Errorf("a truncated MAC: %q", errs)
	}
	if errs := run(t, func(tb testing.TB) { Tamper(tb, msg, func([]byte) error { return errors.New("no") }) }); len(errs) != 1 {
		t.Errorf("a message that never opens: %q", errs)
	}
}

type redactedKey struct{ b [32]byte }

func (redactedKey) Format(f fmt.State, _ rune) { f.Write([]byte("redactedKey(REDACTED)")) }
func (redactedKey) LogValue() slog.Value       { return slog.StringValue("REDACTED") }

// fmtOnlyKey redacts in fmt and has an exported field, which
// encoding/json and slog's JSON handler show.
type fmtOnlyKey struct{ Key []byte }

func (fmtOnlyKey) Format(f fmt.State, _ rune) { f.Write([]byte("fmtOnlyKey(REDACTED)")) }

type textKey struct{ b [16]byte }

func (textKey) Format(f fmt.State, _ rune)     { f.Write([]byte("textKey(REDACTED)")) }
func (k textKey) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%x", k.b), nil }

// arrayKey redacts in fmt but encoding/json prints it as numbers.
type arrayKey [16]byte

func (arrayKey) Format(f fmt.State, _ rune) { f.Write([]byte("arrayKey(REDACTED)")) }

type plainKey struct{ b []byte }

func TestRedactedFindsLeaks(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	var k redactedKey
	copy(k.b[:], secret)
	if errs := run(t, func(tb testing.TB) { Redacted(tb, k, secret); Redacted(tb, &k, secret) }); len(errs) != 0 {
		t.Errorf("a redacting type: %q", errs)
	}
	var ak arrayKey
	copy(ak[:], secret)
	var tk textKey
	copy(tk.b[:], secret)
	for _, c := range []struct {
		v    any
		want string
	}{
		{fmtOnlyKey{secret}, "slog JSON"},
		{textKey{}, ""}, // no secret in it: nothing to find
		{tk, "slog text"},
		{ak, "encoding/json"},
		{plainKey{secret}, "printed with %v"},
		{fmt.Sprintf("%x", secret[3:19]), "printed with"},
	} {
		errs := run(t, func(tb testing.TB) { Redacted(tb, c.v, secret[:16], secret[3:19]) })
		if c.want == "" {
			if len(errs) != 0 {
				t.Errorf("%T: %q", c.v, errs)
			}
			continue
		}
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("%T: want a failure for %s, got %q", c.v, c.want, errs)
		}
	}
	if errs := run(t, func(tb testing.TB) { Redacted(tb, k, []byte("short")) }); len(errs) != 1 {
		t.Errorf("a secret too short to search for: %q", errs)
	}
}
