package recoverykey

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors from matrix-rust-sdk and matrix-js-sdk recovery key tests (the
// first key is the RFC 7748 Alice private key).
const (
	aliceHex = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
	aliceRK  = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d"
	secondRK = "EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRK"
)

var secondKey = [32]byte{159, 189, 70, 187, 52, 81, 113, 198, 246, 2, 44, 154, 37, 213, 104, 27, 165, 78, 236, 106, 108, 73, 83, 243, 173, 192, 185, 110, 157, 145, 173, 163}

func TestSpecVectors(t *testing.T) {
	alice := [32]byte(mustHex(t, aliceHex))
	if got := Encode(alice); got != aliceRK {
		t.Errorf("Encode(alice) = %q, want %q", got, aliceRK)
	}
	for _, in := range []string{
		aliceRK,
		strings.ReplaceAll(aliceRK, " ", ""),
		"EsTcLW2KPGiF\r\nwKEA3As5g5c4\r\nBXwkqeeJZJV8\r\nQ9fugUMNUE4d",
		"  EsTc\tLW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d\n",
		"EsTc\u00a0LW2K\u2003PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d", // no-break and em space
	} {
		got, err := Decode(in)
		if err != nil || got != alice {
			t.Errorf("Decode(%q) = %x, %v; want %s", in, got, err, aliceHex)
		}
	}
	got, err := Decode(secondRK)
	if err != nil || got != secondKey {
		t.Errorf("Decode(second) = %v, %v", got, err)
	}
	if enc := Encode(secondKey); strings.ReplaceAll(enc, " ", "") != secondRK {
		t.Errorf("Encode(second) = %q", enc)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		// matrix-rust-sdk / matrix-js-sdk
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4e", ErrBadParity},
		{"EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk", ErrBadParity},
		{"AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk", ErrBadPrefix},
		{"AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9", ErrBadLength},
		{"AATpRvZTnjck8YrhRAtwXLS84Nr0OIl", ErrBadCharacter},
		// own cases
		{"", ErrBadLength},
		{"   \n", ErrBadLength},
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4", ErrBadLength},   // 47
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4dd", ErrBadLength}, // 49
		{strings.Repeat("z", 48), ErrBadLength},                                        // 36 bytes
		{"1" + strings.Repeat("z", 47), ErrBadPrefix},                                  // leading zero byte
		{strings.Repeat("1", 48), ErrBadPrefix},
		{"EsTc-LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d", ErrBadCharacter},
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4ä", ErrBadCharacter},
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4\xff", ErrBadCharacter},
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d\x00", ErrBadCharacter},
		{"0sTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d", ErrBadCharacter},
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4I", ErrBadCharacter},
		{strings.Repeat(" ", MaxInputLen+1), ErrBadLength},
		{strings.Repeat("E", MaxInputLen), ErrBadLength},
	} {
		got, err := Decode(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("Decode(%.60q) error = %v, want %v", tc.in, err, tc.want)
		}
		if got != ([32]byte{}) {
			t.Errorf("Decode(%.60q) returned key bytes with an error", tc.in)
		}
		if err != nil && strings.Contains(err.Error(), "recoverykey") {
			t.Errorf("error %q names the internal package", err)
		}
	}
}

// Every single-character substitution in a valid key must be rejected: the
// parity byte catches what the prefix does not.
func TestEverySubstitutionRejected(t *testing.T) {
	enc := strings.ReplaceAll(aliceRK, " ", "")
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	accepted := 0
	for i := range len(enc) {
		for _, c := range []byte(alphabet) {
			if c == enc[i] {
				continue
			}
			mod := enc[:i] + string(c) + enc[i+1:]
			if _, err := Decode(mod); err == nil {
				accepted++
			}
		}
	}
	// A single XOR parity byte cannot catch everything base58 carries
	// across bytes, but almost every typo must fail.
	if total := len(enc) * 57; accepted*100 > total {
		t.Errorf("%d of %d single-character typos accepted", accepted, total)
	}
}

// No strict prefix of a valid key parses (with or without its spaces).
func TestStrictPrefixRejected(t *testing.T) {
	for _, full := range []string{aliceRK, strings.ReplaceAll(aliceRK, " ", ""), secondRK} {
		for i := range len(full) {
			if _, err := Decode(full[:i]); err == nil {
				t.Errorf("prefix %q accepted", full[:i])
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	keys := [][32]byte{{}, secondKey}
	var ff [32]byte
	for i := range ff {
		ff[i] = 0xff
	}
	keys = append(keys, ff)
	for i := range 200 {
		var k [32]byte
		for j := range k {
			k[j] = byte(i*31 + j*17 + i*j)
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		s := Encode(k)
		if len(s) != EncodedLen+EncodedLen/4-1 || !strings.HasPrefix(s, "Es") {
			t.Fatalf("Encode(%x) = %q: unexpected shape", k, s)
		}
		for g, part := range strings.Split(s, " ") {
			if len(part) != 4 {
				t.Fatalf("group %d of %q has %d characters", g, s, len(part))
			}
		}
		got, err := Decode(s)
		if err != nil || got != k {
			t.Fatalf("round trip of %x: %x, %v", k, got, err)
		}
	}
}

func TestDigitCodec(t *testing.T) {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	for v := range uint(58) {
		if got := encodeDigit(v); got != alphabet[v] {
			t.Errorf("encodeDigit(%d) = %q, want %q", v, got, alphabet[v])
		}
	}
	for c := range 256 {
		want := strings.IndexByte(alphabet, byte(c))
		if got := decodeDigit(byte(c)); got != want {
			t.Errorf("decodeDigit(%q) = %d, want %d", byte(c), got, want)
		}
	}
}

func TestFromPassphrase(t *testing.T) {
	for _, tc := range []struct {
		name, pass, salt string
		iter, bits       int
		want             string
	}{
		// matrix-rust-sdk's crates/matrix-sdk-crypto secret_storage.rs test
		// data (the key was computed there and re-checked here with
		// Python's hashlib.pbkdf2_hmac).
		{"rust-sdk", "It's a secret to everybody", "IuLnH7S85YtZmkkBJKwNUKxWF42g9O1H", 10, 256,
			"397aff44a04238741cff9b76b38126073c34bf25599fa9969287f01ccf77559f"},
		// The common PBKDF2-HMAC-SHA-512 test vector ("password", "salt",
		// 1 iteration, 64 bytes), also checked with hashlib.
		{"sha512-c1", "password", "salt", 1, 512,
			"867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"},
	} {
		got, err := FromPassphrase(tc.pass, tc.salt, tc.iter, tc.bits, true)
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("%s: %x, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	// The salt is used as its UTF-8 bytes, not base64-decoded.
	a, _ := FromPassphrase("pw", "AAAA", 1, 256, true)
	b, _ := FromPassphrase("pw", "\x00\x00\x00", 1, 256, true)
	if bytes.Equal(a, b) {
		t.Error("salt was base64-decoded")
	}
}

func TestFromPassphraseErrors(t *testing.T) {
	for _, tc := range []struct{ iter, bits int }{
		{0, 256}, {-1, 256}, {MaxIterations + 1, 256}, {1 << 40, 256},
		{1, 0}, {1, -8}, {1, 7}, {1, 255}, {1, MaxBits + 8},
	} {
		k, err := FromPassphrase("pw", "salt", tc.iter, tc.bits, true)
		if !errors.Is(err, ErrBadPassphraseParams) || k != nil {
			t.Errorf("FromPassphrase(iter %d, bits %d) = %x, %v", tc.iter, tc.bits, k, err)
		}
	}
}

// TestIterationFloor checks that counts below MinIterations, which a
// server that rewrites account data would pick to make passphrase
// guessing cheap, are refused unless the caller allows them.
func TestIterationFloor(t *testing.T) {
	for _, n := range []int{1, 10, MinIterations - 1} {
		if k, err := FromPassphrase("pw", "salt", n, 256, false); !errors.Is(err, ErrBadPassphraseParams) || k != nil {
			t.Errorf("%d iterations accepted: %x, %v", n, k, err)
		}
		if _, err := FromPassphrase("pw", "salt", n, 256, true); err != nil {
			t.Errorf("%d iterations refused although allowed: %v", n, err)
		}
	}
	if _, err := FromPassphrase("pw", "salt", MinIterations, 256, false); err != nil {
		t.Errorf("MinIterations refused: %v", err)
	}
}

func TestAllocs(t *testing.T) {
	s := Encode(secondKey)
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(s) }); n > 0 {
		t.Errorf("Decode allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Encode(secondKey) }); n > 2 {
		t.Errorf("Encode allocates %v times", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(aliceRK)
	f.Add(secondRK)
	f.Add("AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9")
	f.Add("AATpRvZTnjck8YrhRAtwXLS84Nr0OIl")
	f.Add("EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4e")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Decode(s)
		if err != nil {
			if k != ([32]byte{}) {
				t.Fatal("key returned with error")
			}
			return
		}
		// Whatever decodes must re-encode to the same characters.
		var compact strings.Builder
		for _, r := range s {
			if !strings.ContainsRune(" \t\n\r\v\f", r) && r < 0x80 {
				compact.WriteRune(r)
			}
		}
		if got := strings.ReplaceAll(Encode(k), " ", ""); got != compact.String() {
			t.Fatalf("Decode(%q) then Encode = %q", s, got)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Decode(aliceRK)
	}
}

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(secondKey)
	}
}
