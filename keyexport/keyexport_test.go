package keyexport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/sicher-go/sicher/internal/cryptotest"
)

func seeded(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

// reactVectors are the key export files of matrix-react-sdk
// test/utils/MegolmExportEncryption-test.js, with the salt, IV and rounds
// their bodies carry.
var reactVectors = []struct {
	plaintext, passphrase string
	body                  []string
	salt, iv              string
	rounds                uint32
}{
	{
		"plain", "password",
		[]string{"AXNhbHRzYWx0c2FsdHNhbHSIiIiIiIiIiIiIiIiIiIiIAAAACmIRUW2OjZ3L2l6j9h0lHlV3M2dx", "cissyYBxjsfsAndErh065A8="},
		"saltsaltsaltsalt", strings.Repeat("\x88", 16), 10,
	},
	{
		"Hello, World", "betterpassword",
		[]string{"AW1vcmVzYWx0bW9yZXNhbHT//////////wAAAAAAAAAAAAAD6KyBpe1Niv5M5NPm4ZATsJo5nghk", "KYu63a0YQ5DRhUWEKk7CcMkrKnAUiZny"},
		"moresaltmoresalt", strings.Repeat("\xff", 8) + strings.Repeat("\x00", 8), 1000,
	},
	{
		strings.Repeat("alphanumerically", 4), "SWORDFISH",
		[]string{"AXllc3NhbHR5Z29vZG5lc3P//////////wAAAAAAAAAAAAAD6OIW+Je7gwvjd4kYrb+49gKCfExw", "MgJBMD4mrhLkmgAngwR1pHjbWXaoGybtiAYr0moQ93GrBQsCzPbvl82rZhaXO3iH5uHo/RCEpOqp", "Pgg29363BGR+/Ripq/VCLKGNbw=="},
		"yessaltygoodness", strings.Repeat("\xff", 8) + strings.Repeat("\x00", 8), 1000,
	},
	{
		// IV all 0xFF: the counter wraps its low 64 bits after the first
		// block. Go's cipher.NewCTR would carry into the high half and fail.
		strings.Repeat("alphanumerically", 4), strings.Repeat("password", 32),
		[]string{"Af//////////////////////////////////////////AAAD6IAZJy7IQ7Y0idqSw/bmpngEEVVh", "gsH+8ptgqxw6ZVWQnohr8JsuwH9SwGtiebZuBu5smPCO+RFVWH2cQYslZijXv/BEH/txvhUrrtCd", "bWnSXS9oymiqwUIGs08sXI33ZA=="},
		strings.Repeat("\xff", 16), strings.Repeat("\xff", 16), 1000,
	},
}

func reactFile(body []string) []byte {
	return []byte(Header + "\n" + strings.Join(body, "\n") + "\n" + Footer + "\n")
}

func TestReactSDKVectors(t *testing.T) {
	for i, v := range reactVectors {
		pt, err := Decrypt(reactFile(v.body), v.passphrase, nil)
		if err != nil || string(pt) != v.plaintext {
			t.Fatalf("vector %d: %q, %v", i, pt, err)
		}
		// Re-encrypting with the vector's salt, IV and rounds reproduces
		// the file byte for byte (at the vector's 76-column wrapping).
		var salt [saltSize]byte
		var iv [ivSize]byte
		copy(salt[:], v.salt)
		copy(iv[:], v.iv)
		bin, err := seal([]byte(v.plaintext), v.passphrase, &salt, &iv, v.rounds)
		if err != nil {
			t.Fatal(err)
		}
		if got := armor(bin, 76); !bytes.Equal(got, reactFile(v.body)) {
			t.Fatalf("vector %d: re-encryption gives\n%s", i, got)
		}
		if _, err := Decrypt(reactFile(v.body), v.passphrase+"x", nil); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("vector %d: wrong passphrase: %v", i, err)
		}
	}
}

// TestReactSDKNegative: the failure cases of the same test file.
func TestReactSDKNegative(t *testing.T) {
	v := reactVectors[0]
	cases := map[string]struct {
		file string
		want error
	}{
		"no header":     {"-----", ErrMalformed},
		"no trailer":    {Header + "\n" + v.body[0] + "\n", ErrMalformed},
		"truncated":     {Header + "\nAXNhbHRzYWx0c2FsdHNhbHSIiIiIiIiIiIiIiIiIiIiIAAAACmIRUW2OjZ3L2l6j9h0lHlV3M2dx\ncissyYBxjsfsAn\n" + Footer, ErrMalformed},
		"empty":         {"", ErrMalformed},
		"empty body":    {Header + "\n" + Footer, ErrMalformed},
		"bad base64":    {Header + "\n" + "AXNh!bHRz\n" + Footer, ErrMalformed},
		"inner space":   {Header + "\nAXNh bHRz\n" + Footer, ErrMalformed},
		"footer first":  {Footer + "\n" + v.body[0] + "\n" + Header + "\n", ErrMalformed},
		"version 2":     {Header + "\n" + base64.StdEncoding.EncodeToString(append([]byte{2}, make([]byte, 80)...)) + "\n" + Footer, ErrUnsupportedVersion},
		"zero rounds":   {Header + "\n" + base64.StdEncoding.EncodeToString(append([]byte{1}, make([]byte, 80)...)) + "\n" + Footer, ErrBadRounds},
		"absurd rounds": {Header + "\n" + base64.StdEncoding.EncodeToString(append(append([]byte{1}, make([]byte, 32)...), append([]byte{0xff, 0xff, 0xff, 0xff}, make([]byte, 40)...)...)) + "\n" + Footer, ErrBadRounds},
	}
	for name, c := range cases {
		_, err := Decrypt([]byte(c.file), v.passphrase, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "keyexport: ") {
			t.Errorf("%s: message %q", name, err)
		}
	}
}

// TestArmorTolerance: surrounding text, CRLF, indentation, blank lines,
// unpadded base64 and a missing final newline (matrix-nio writes one line
// without padding or final newline) all decode.
func TestArmorTolerance(t *testing.T) {
	v := reactVectors[2]
	joined := strings.Join(v.body, "")
	for name, f := range map[string]string{
		"crlf":       strings.ReplaceAll(string(reactFile(v.body)), "\n", "\r\n"),
		"around":     "Keys for Bob:\n\n" + string(reactFile(v.body)) + "\nbye\n",
		"indented":   "  " + Header + "\n\t" + strings.Join(v.body, "\n  ") + "\n\n  " + Footer + "  ",
		"one line":   Header + "\n" + joined + "\n" + Footer,
		"unpadded":   Header + "\n" + strings.TrimRight(joined, "=") + "\n" + Footer,
		"cr only ok": Header + "\r\n" + joined + "\r\n" + Footer + "\r\n",
	} {
		pt, err := Decrypt([]byte(f), v.passphrase, nil)
		if err != nil || string(pt) != v.plaintext {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	pt := []byte(`[{"hello":"world"}]`)
	for _, width := range []int{0, 1, 64, 96, -1} {
		opts := &Options{Rounds: 1000, LineWidth: width, InsecureAllowLowRounds: true}
		file, err := EncryptFrom(seeded(1), pt, "pass", opts)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(file), "\n"), "\n")
		if lines[0] != Header || lines[len(lines)-1] != Footer {
			t.Fatalf("armor: %q", file)
		}
		want := width
		if width == 0 {
			want = DefaultLineWidth
		}
		body := lines[1 : len(lines)-1]
		for i, l := range body {
			if width < 0 {
				if len(body) != 1 {
					t.Fatalf("width %d: %d lines", width, len(body))
				}
			} else if len(l) > want || (i < len(body)-1 && len(l) != want) {
				t.Fatalf("width %d: line %d has %d characters", width, i, len(l))
			}
		}
		got, err := Decrypt(file, "pass", nil)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("width %d: %v", width, err)
		}
		bin, _ := unarmor(file)
		if bin[0] != Version || bin[1+16+8]&0x80 != 0 {
			t.Fatalf("version or IV bit 63: %x", bin[:headerSize])
		}
		if r := uint32(bin[33])<<24 | uint32(bin[34])<<16 | uint32(bin[35])<<8 | uint32(bin[36]); r != 1000 {
			t.Fatalf("rounds %d", r)
		}
	}
	// Padded base64 at 96 columns by default.
	file, _ := EncryptFrom(seeded(2), make([]byte, 100), "p", &Options{Rounds: 1, InsecureAllowLowRounds: true})
	if !strings.Contains(string(file), "=\n"+Footer) && (len(file)%4 != 0) {
		t.Logf("%s", file)
	}
	// Default rounds.
	file, _ = EncryptFrom(seeded(3), nil, "p", &Options{InsecureAllowLowRounds: true})
	bin, _ := unarmor(file)
	if r := uint32(bin[33])<<24 | uint32(bin[34])<<16 | uint32(bin[35])<<8 | uint32(bin[36]); r != DefaultRounds {
		t.Fatalf("default rounds %d", r)
	}
}

func TestRoundsBounds(t *testing.T) {
	for _, r := range []int{-1, 1 << 32} {
		if _, err := Encrypt(nil, "p", &Options{Rounds: r}); !errors.Is(err, ErrBadRounds) {
			t.Errorf("rounds %d: %v", r, err)
		}
	}
	file, _ := EncryptFrom(seeded(4), []byte("x"), "p", &Options{Rounds: 2000, InsecureAllowLowRounds: true})
	if _, err := Decrypt(file, "p", &Options{MaxRounds: 1999}); !errors.Is(err, ErrBadRounds) {
		t.Fatal(err)
	}
	if _, err := Decrypt(file, "p", &Options{MaxRounds: 2000}); err != nil {
		t.Fatal(err)
	}
	if _, err := EncryptFrom(bytes.NewReader(make([]byte, 20)), nil, "p", &Options{InsecureAllowLowRounds: true}); err == nil {
		t.Fatal("short randomness accepted")
	}
}

// TestTamper runs cryptotest.Tamper on a small file's binary form: every
// change must fail (version, salt, IV, rounds, ciphertext and MAC are all
// under the MAC or checked before it).
func TestTamper(t *testing.T) {
	file, _ := EncryptFrom(seeded(5), []byte(`[]`), "p", &Options{Rounds: 1, InsecureAllowLowRounds: true})
	bin, _ := unarmor(file)
	cryptotest.Tamper(t, bin, func(b []byte) error {
		_, err := Decrypt(armor(b, 96), "p", nil)
		return err
	},
		cryptotest.Regions(
			cryptotest.Region{Name: "version", Start: 0, End: 1},
			cryptotest.Region{Name: "salt", Start: 1, End: 17},
			cryptotest.Region{Name: "IV", Start: 17, End: 33},
			cryptotest.Region{Name: "rounds", Start: 33, End: 37},
			cryptotest.Region{Name: "MAC", Start: -32, End: 0},
			cryptotest.Region{Name: "ciphertext", Start: 37, End: -32},
		),
		// A high bit of the round count asks for up to 2^31 PBKDF2
		// rounds: refused as ErrBadRounds, or slow (TestRoundsBounds).
		cryptotest.SkipBits(33, 37, 0xf0),
	)
}

// TestRedaction: an exported session shows its ID, never its key.
func TestRedaction(t *testing.T) {
	s := testSession(t)
	cryptotest.Redacted(t, s, s.SessionKey().Bytes())
	cryptotest.Redacted(t, *s, s.SessionKey().Bytes())
	if out := fmt.Sprint(s); !strings.Contains(out, s.SessionID().String()) {
		t.Fatalf("session ID missing: %s", out)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	file, _ := EncryptFrom(seeded(6), make([]byte, 64<<10), "p", &Options{Rounds: 1, InsecureAllowLowRounds: true})
	b.ReportAllocs()
	b.SetBytes(64 << 10)
	for b.Loop() {
		if _, err := Decrypt(file, "p", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseHeader(t *testing.T) {
	v := reactVectors[1]
	h, err := ParseHeader(reactFile(v.body))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || string(h.Salt[:]) != v.salt || string(h.IV[:]) != v.iv || h.Rounds != v.rounds || h.CiphertextLen != len(v.plaintext) {
		t.Fatalf("%+v", h)
	}
	for _, bad := range []string{"-----", Header + "\nAAAA\n" + Footer} {
		if _, err := ParseHeader([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestRegressionPBKDF2IterationBomb: the PBKDF2 round count of a key
// export file is chosen by whoever wrote it, so a hostile file (from a
// server, a chat attachment, a phishing mail) can make the importer spend
// tens of seconds of CPU per attempt. Decrypt refuses counts above
// DefaultMaxRounds before any PBKDF2 work unless the caller raises
// Options.MaxRounds, and Encrypt refuses to write fewer than MinRounds.
func TestRegressionPBKDF2IterationBomb(t *testing.T) {
	hostile := func(rounds uint32) []byte {
		bin := make([]byte, minSize+16)
		bin[0] = Version
		bin[33], bin[34], bin[35], bin[36] = byte(rounds>>24), byte(rounds>>16), byte(rounds>>8), byte(rounds)
		return armor(bin, -1)
	}
	for _, rounds := range []uint32{DefaultMaxRounds + 1, 5_000_000, 10_000_000, 1<<32 - 1} {
		start := time.Now()
		_, err := Decrypt(hostile(rounds), "passphrase", nil)
		if !errors.Is(err, ErrBadRounds) {
			t.Errorf("%d rounds: %v, want ErrBadRounds", rounds, err)
		}
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("%d rounds: refused after %v: PBKDF2 ran", rounds, d)
		}
		// ParseHeader still reports the count, so a client can explain.
		if h, err := ParseHeader(hostile(rounds)); err != nil || h.Rounds != rounds {
			t.Errorf("ParseHeader: %v, %v", h, err)
		}
	}
	// The ceiling is raised only explicitly.
	if _, err := Decrypt(hostile(DefaultMaxRounds+1), "p", &Options{MaxRounds: DefaultMaxRounds}); !errors.Is(err, ErrBadRounds) {
		t.Errorf("MaxRounds = DefaultMaxRounds: %v", err)
	}
	// The floor of what sicher writes.
	if _, err := Encrypt(nil, "p", &Options{Rounds: MinRounds - 1}); !errors.Is(err, ErrBadRounds) {
		t.Errorf("Encrypt below MinRounds: %v", err)
	}
	if _, err := Encrypt(nil, "p", &Options{Rounds: 1, InsecureAllowLowRounds: true}); err != nil {
		t.Errorf("Encrypt with InsecureAllowLowRounds: %v", err)
	}
}

// TestRandomness: a nil reader means crypto/rand, and a failing reader
// gives an error that wraps the reader's, never a panic.
func TestRandomness(t *testing.T) {
	opts := &Options{Rounds: 1, InsecureAllowLowRounds: true}
	if _, err := EncryptFrom(nil, []byte("x"), "p", opts); err != nil {
		t.Errorf("EncryptFrom(nil): %v", err)
	}
	boom := errors.New("reader failed")
	if _, err := EncryptFrom(iotest.ErrReader(boom), []byte("x"), "p", opts); !errors.Is(err, boom) {
		t.Errorf("EncryptFrom with a failing reader: %v", err)
	}
}
