package secretstorage

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/recoverykey"
)

func seeded(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors from matrix-rust-sdk crates/matrix-sdk-crypto/src/secret_storage.rs
// tests.

// TestPassphraseVector: from_account_data_and_passphrase. The key check of
// the stored description passes only if both the m.pbkdf2 derivation and
// the check computation are right.
func TestPassphraseVector(t *testing.T) {
	const js = `{
		"algorithm": "m.secret_storage.v1.aes-hmac-sha2",
		"iv": "gH2iNpiETFhApvW6/FFEJQ",
		"mac": "9Lw12m5SKDipNghdQXKjgpfdj1/K7HFI2brO+UWAGoM",
		"passphrase": {"algorithm": "m.pbkdf2", "salt": "IuLnH7S85YtZmkkBJKwNUKxWF42g9O1H", "iterations": 10}
	}`
	var d KeyDescription
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatal(err)
	}
	k, err := keyFromPassphrase("It's a secret to everybody", d.Passphrase, true)
	if err != nil {
		t.Fatal(err)
	}
	// Computed by an independent Python implementation (hashlib); the key
	// check below is the real external proof.
	if want := mustHex(t, "397aff44a04238741cff9b76b38126073c34bf25599fa9969287f01ccf77559f"); !bytes.Equal(k.key[:], want) {
		t.Fatalf("key %x", k.key)
	}
	if err := k.Check(&d); err != nil {
		t.Fatal(err)
	}
	k2, err := KeyFromDescription("It's a secret to everybody", &d, lowIterations)
	if err != nil || !k2.Equal(k) {
		t.Fatalf("KeyFromDescription: %v", err)
	}
	if _, err := KeyFromDescription("It's a secret to nobody", &d, lowIterations); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// TestRecoveryKeyVector: from_account_data_and_base58, with padded iv and
// mac.
func TestRecoveryKeyVector(t *testing.T) {
	const rk = "EsTj 3yST y93F SLpB jJsz eAXc 2XzA ygD3 w69H fGaN TKBj jXEd"
	d := &KeyDescription{
		Algorithm: Algorithm,
		IV:        "xv5b6/p3ExEw++wTyfSHEg==",
		MAC:       "ujBBbXahnTAMkmPUX2/0+VTfUh63pGyVRuBcDMgmJC8=",
	}
	k, err := KeyFromRecoveryKey(rk)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, "8da2453dc22b51355ad77ab75b3e9863af7f4a7bc4af0ce8865b57e2d02196d1"); !bytes.Equal(k.key[:], want) {
		t.Fatalf("key %x", k.key)
	}
	if err := k.Check(d); err != nil {
		t.Fatal(err)
	}
	if k.RecoveryKey() != rk {
		t.Fatalf("RecoveryKey() = %q", k.RecoveryKey())
	}
	if k2, err := KeyFromDescription(strings.ReplaceAll(rk, " ", ""), d, lowIterations); err != nil || !k2.Equal(k) {
		t.Fatal(err)
	}
	// Wrong lengths of the check values must be rejected, not compared.
	for _, bad := range []KeyDescription{
		{Algorithm: Algorithm, IV: base64.StdEncoding.EncodeToString(make([]byte, 14)), MAC: d.MAC},
		{Algorithm: Algorithm, IV: d.IV, MAC: base64.StdEncoding.EncodeToString(make([]byte, 10))},
		{Algorithm: Algorithm, IV: d.IV},
		{Algorithm: Algorithm, MAC: d.MAC},
		{Algorithm: Algorithm, IV: "!!", MAC: d.MAC},
	} {
		if err := k.Check(&bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if err := k.Check(&KeyDescription{Algorithm: "m.secret_storage.v2"}); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Error(err)
	}
	// A different key fails the check.
	other, _ := newKeyFrom(seeded(1))
	if err := other.Check(d); !errors.Is(err, ErrAuthentication) {
		t.Fatal(err)
	}
	if _, err := KeyFromDescription("EsTj 3yST y93F SLpB jJsz eAXc 2XzA ygD3 w69H fGaN TKBj jXEe", d, lowIterations); !errors.Is(err, ErrBadRecoveryKey) || !errors.Is(err, recoverykey.ErrBadParity) {
		t.Fatalf("mistyped recovery key: %v", err)
	}
}

// TestServerRewrittenDescriptionDowngrade is the key description
// downgrade: the server rewrites m.secret_storage.key.* without iv and mac
// (matrix-rust-sdk's accepts_any_passphrase_if_mac_and_iv_are_missing),
// with its own salt and one PBKDF2 iteration. Any passphrase then yields a
// key, and a secret stored under it lets the server test passphrases at
// one HMAC each. The unchecked description must be refused unless the
// caller accepts it, the low count refused unless allowed, and storing
// under the key refused unless allowed separately.
func TestServerRewrittenDescriptionDowngrade(t *testing.T) {
	d := &KeyDescription{Algorithm: Algorithm, Passphrase: &PassphraseInfo{Algorithm: PassphraseAlgorithm, Salt: "server-chosen", Iterations: 1}}
	if k, err := KeyFromDescription("It's a secret to nobody", d, nil); !errors.Is(err, ErrUnchecked) || k != nil {
		t.Fatalf("unchecked description accepted: %v", err)
	}
	if _, err := KeyFromDescription("It's a secret to nobody", d, &Options{AllowUnchecked: true}); !errors.Is(err, ErrBadPassphraseParams) {
		t.Fatalf("1 iteration accepted: %v", err)
	}
	var k Key
	if err := k.Check(d); !errors.Is(err, ErrUnchecked) {
		t.Fatalf("Check of an unchecked description: %v", err)
	}

	// Accepted explicitly, the key decrypts but does not encrypt.
	k2, err := KeyFromDescription("It's a secret to nobody", d, &Options{AllowUnchecked: true, AllowFewIterations: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Encrypt(SecretMegolmBackup, []byte("backup key")); !errors.Is(err, ErrUnchecked) {
		t.Fatalf("stored a secret under an unchecked key: %v", err)
	}
	honest, _ := NewKeyFromBytes(k2.Bytes())
	enc, _ := honest.Encrypt(SecretMegolmBackup, []byte("backup key"))
	if got, err := k2.Decrypt(SecretMegolmBackup, enc); err != nil || string(got) != "backup key" {
		t.Fatalf("unchecked key does not decrypt: %q, %v", got, err)
	}
	k3, err := KeyFromDescription("It's a secret to nobody", d, &Options{AllowUnchecked: true, AllowFewIterations: true, AllowStoreUnderUnchecked: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k3.Encrypt(SecretMegolmBackup, []byte("backup key")); err != nil {
		t.Fatalf("AllowStoreUnderUnchecked: %v", err)
	}
}

// TestServerChosenIterationCount checks the bounds on a count the server
// supplies: below the floor without the option, and far above the
// ceiling, it is refused before any PBKDF2 work.
func TestServerChosenIterationCount(t *testing.T) {
	k, _ := newKeyFrom(seeded(30))
	d, _ := k.descriptionFrom(seeded(31), "", &PassphraseInfo{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: 1})
	if _, err := KeyFromDescription("pw", d, nil); !errors.Is(err, ErrBadPassphraseParams) {
		t.Errorf("1 iteration: %v", err)
	}
	for _, n := range []int{recoverykey.MaxIterations + 1, 1 << 40} {
		d.Passphrase.Iterations = n
		if _, err := KeyFromDescription("pw", d, &Options{AllowFewIterations: true}); !errors.Is(err, ErrBadPassphraseParams) {
			t.Errorf("%d iterations: %v", n, err)
		}
	}
	if _, _, err := NewPassphraseKey("pw", 10); !errors.Is(err, ErrBadPassphraseParams) {
		t.Errorf("NewPassphraseKey with 10 iterations: %v", err)
	}
}

// TestZeroKeyCheck: an all-zero key and IV give this check MAC (computed
// by an independent Python implementation of the spec's key check).
func TestZeroKeyCheck(t *testing.T) {
	var k Key
	var iv [ivSize]byte
	mac := k.checkMAC(&iv)
	if got := base64.RawStdEncoding.EncodeToString(mac[:]); got != "HwRM9acFfsmgx1IlMgQI2n1pdsF6jVbAq9RIGTiIosQ" {
		t.Fatalf("check MAC %s", got)
	}
}

// TestEncryptedDataDecoding: encrypted_data_decoding parses padded values;
// here they must reach the MAC check (and fail it, the key being unknown),
// while truncated iv or mac are rejected as malformed before any MAC work.
func TestEncryptedDataDecoding(t *testing.T) {
	const js = `{"iv": "bdfCwu+ECYgZ/jWTkGrQ/A==",
		"ciphertext": "lCRSSA1lChONEXj/8RyogsgAa8ouQwYDnLr4XBCheRikrZykLRzPCx3doCE=",
		"mac": "NXeV1dZaOe2JLvQ6Hh6tFto7AgFFdaQnY0l9pruwdtE="}`
	var d EncryptedData
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatal(err)
	}
	k, _ := newKeyFrom(seeded(2))
	if _, err := k.Decrypt("secret_message", &d); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("got %v, want ErrAuthentication", err)
	}
	bad := d
	bad.MAC = "NXeV1dZaOe2JLvQ6Hh6tFto7AgFFdaQnY0l9pruwdt"
	if _, err := k.Decrypt("secret_message", &bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated mac: %v", err)
	}
	bad = d
	bad.IV = "bdfCwu+ECYgZ/jWTkGrQ"
	if _, err := k.Decrypt("secret_message", &bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated iv: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	k, err := newKeyFrom(seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"", "x", "It's a secret to everybody", strings.Repeat("long secret ", 1000)} {
		d, err := k.encryptFrom(seeded(4), "secret_message", []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{d.IV, d.Ciphertext, d.MAC} {
			if strings.HasSuffix(s, "=") {
				t.Fatalf("padded output %q", s)
			}
		}
		got, err := k.Decrypt("secret_message", d)
		if err != nil || string(got) != secret {
			t.Fatalf("round trip: %q %v", got, err)
		}
		if _, err := k.Decrypt("other_name", d); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("wrong name: %v", err)
		}
		other, _ := newKeyFrom(seeded(5))
		if _, err := other.Decrypt("secret_message", d); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("wrong key: %v", err)
		}
		// Padded forms decode too.
		p := *d
		p.IV = base64.StdEncoding.EncodeToString(mustB64(t, d.IV))
		p.MAC = base64.StdEncoding.EncodeToString(mustB64(t, d.MAC))
		p.Ciphertext = base64.StdEncoding.EncodeToString(mustB64(t, d.Ciphertext))
		if got, err := k.Decrypt("secret_message", &p); err != nil || string(got) != secret {
			t.Fatalf("padded: %v", err)
		}
	}
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIVBit63 checks that bit 63 of every generated IV is cleared.
func TestIVBit63(t *testing.T) {
	k, _ := newKeyFrom(seeded(6))
	ff := bytes.NewReader(bytes.Repeat([]byte{0xff}, 16))
	d, err := k.encryptFrom(ff, "n", []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	iv := mustB64(t, d.IV)
	if want := append(bytes.Repeat([]byte{0xff}, 8), 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff); !bytes.Equal(iv, want) {
		t.Fatalf("iv %x", iv)
	}
	desc, _ := k.descriptionFrom(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)), "", nil)
	if iv := mustB64(t, desc.IV); iv[8] != 0x7f {
		t.Fatalf("check iv %x", iv)
	}
}

// TestTamper runs cryptotest.Tamper on the ciphertext and the MAC (every
// bit, every prefix, an extension), and flips every bit of the IV, which
// the spec leaves unauthenticated.
func TestTamper(t *testing.T) {
	k, _ := newKeyFrom(seeded(7))
	d, _ := k.encryptFrom(seeded(8), SecretMegolmBackup, []byte("backup key secret"))
	for name, f := range map[string]*string{"ciphertext": &d.Ciphertext, "mac": &d.MAC} {
		t.Run(name, func(t *testing.T) {
			raw := mustB64(t, *f)
			cryptotest.Tamper(t, raw, func(b []byte) error {
				e := d
				if f == &d.MAC {
					e.MAC = base64.RawStdEncoding.EncodeToString(b)
				} else {
					e.Ciphertext = base64.RawStdEncoding.EncodeToString(b)
				}
				_, err := k.Decrypt(SecretMegolmBackup, e)
				return err
			})
		})
	}
	// The spec's MAC covers the ciphertext only: a changed IV goes
	// undetected and garbles the plaintext (documented on Decrypt).
	iv := mustB64(t, d.IV)
	for i := range iv {
		for bit := range 8 {
			e := d
			bad := bytes.Clone(iv)
			bad[i] ^= 1 << bit
			e.IV = base64.RawStdEncoding.EncodeToString(bad)
			if pt, err := k.Decrypt(SecretMegolmBackup, e); err != nil || string(pt) == "backup key secret" {
				t.Fatalf("iv byte %d bit %d: %q %v", i, bit, pt, err)
			}
		}
	}
}

func TestInvalidEncryptedData(t *testing.T) {
	k, _ := newKeyFrom(seeded(9))
	good, _ := k.encryptFrom(seeded(10), "n", []byte("s"))
	cases := map[string]EncryptedData{
		"empty":         {},
		"no iv":         {Ciphertext: good.Ciphertext, MAC: good.MAC},
		"no mac":        {IV: good.IV, Ciphertext: good.Ciphertext},
		"iv not b64":    {IV: "!!!!!!!!!!!!!!!!!!!!!!", Ciphertext: good.Ciphertext, MAC: good.MAC},
		"ct not b64":    {IV: good.IV, Ciphertext: "a!", MAC: good.MAC},
		"mac not b64":   {IV: good.IV, Ciphertext: good.Ciphertext, MAC: strings.Repeat("!", 43)},
		"iv newline":    {IV: good.IV[:10] + "\n" + good.IV[10:], Ciphertext: good.Ciphertext, MAC: good.MAC},
		"ct oversized":  {IV: good.IV, Ciphertext: strings.Repeat("A", 2<<20), MAC: good.MAC},
		"mac too short": {IV: good.IV, Ciphertext: good.Ciphertext, MAC: good.MAC[:20]},
	}
	for name, d := range cases {
		_, err := k.Decrypt("n", &d)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "secretstorage: ") {
			t.Errorf("%s: message %q", name, err)
		}
	}
	if _, err := k.Decrypt("n", nil); !errors.Is(err, ErrMalformed) {
		t.Error(err)
	}
}

func TestKeySecrets(t *testing.T) {
	k, _ := newKeyFrom(seeded(11))
	seed := mustHex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	d, err := k.encryptFrom(seeded(12), SecretCrossSigningMaster, []byte(base64.RawStdEncoding.EncodeToString(seed)))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := k.Decrypt(SecretCrossSigningMaster, d)
	if err != nil || string(secret) != base64.RawStdEncoding.EncodeToString(seed) {
		t.Fatalf("stored secret %q, %v", secret, err)
	}
}

func TestPassphraseParams(t *testing.T) {
	for _, info := range []*PassphraseInfo{
		nil,
		{Algorithm: "m.argon2", Salt: "s", Iterations: 1},
		{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: 0},
		{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: -5},
		{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: recoverykey.MaxIterations + 1},
		{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: 1, Bits: 128},
		{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: 1, Bits: 512},
	} {
		if _, err := keyFromPassphrase("pw", info, true); err == nil {
			t.Errorf("%+v accepted", info)
		}
	}
	if _, err := keyFromPassphrase("pw", &PassphraseInfo{Algorithm: PassphraseAlgorithm, Salt: "s", Iterations: 1, Bits: 256}, true); err != nil {
		t.Error(err)
	}
	k, info, err := newPassphraseKeyFrom(seeded(15), "correct horse", 1000, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Salt) != 32 || info.Iterations != 1000 || info.Algorithm != PassphraseAlgorithm {
		t.Fatalf("%+v", info)
	}
	k2, err := keyFromPassphrase("correct horse", info, true)
	if err != nil || !k2.Equal(k) {
		t.Fatal(err)
	}
	_, info, _ = newPassphraseKeyFrom(nil, "x", 1, true)
	if info.Iterations != 1 {
		t.Fatal(info.Iterations)
	}
}

func TestDescriptionRoundTrip(t *testing.T) {
	k, info, _ := newPassphraseKeyFrom(seeded(16), "pw", 10, true)
	d, err := k.descriptionFrom(seeded(17), "My key", info)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(d)
	var back KeyDescription
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if err := k.Check(&back); err != nil {
		t.Fatal(err)
	}
	got, err := KeyFromDescription("pw", &back, lowIterations)
	if err != nil || !got.Equal(k) {
		t.Fatal(err)
	}
	got, err = KeyFromDescription(k.RecoveryKey(), &back, lowIterations)
	if err != nil || !got.Equal(k) {
		t.Fatal(err)
	}
	id, err := randomString(seeded(18), 32)
	if err != nil || len(id) != 32 || strings.Trim(id, alphanumeric) != "" {
		t.Fatalf("key ID %q", id)
	}
}

func TestRandomStringUniform(t *testing.T) {
	s, err := randomString(seeded(19), 62*400)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, c := range s {
		counts[c]++
	}
	for _, c := range alphanumeric {
		if n := counts[c]; n < 300 || n > 500 {
			t.Fatalf("character %c drawn %d times of an expected 400", c, n)
		}
	}
	if _, err := randomString(bytes.NewReader(nil), 1); err == nil {
		t.Fatal("no randomness accepted")
	}
}

func TestNewKeyFromBytes(t *testing.T) {
	b := bytes.Repeat([]byte{5}, 32)
	k, err := NewKeyFromBytes(b)
	if err != nil || !bytes.Equal(k.Bytes(), b) {
		t.Fatal(err)
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := NewKeyFromBytes(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	if _, err := newKeyFrom(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("short randomness accepted")
	}
}

// TestRedaction: fmt, log/slog and encoding/json never show the key, in
// bytes or as its recovery key.
func TestRedaction(t *testing.T) {
	for _, k := range []*Key{
		must(NewKeyFromBytes(mustHex(t, "8da2453dc22b51355ad77ab75b3e9863af7f4a7bc4af0ce8865b57e2d02196d1"))),
		must(newKeyFrom(seeded(40))),
	} {
		secrets := [][]byte{k.key[:], []byte(k.RecoveryKey())}
		for _, v := range []any{k, *k, []*Key{k}, struct{ K *Key }{k}} {
			cryptotest.Redacted(t, v, secrets...)
		}
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	k, _ := newKeyFrom(seeded(20))
	d, _ := k.encryptFrom(seeded(21), "n", make([]byte, 32))
	if n := testing.AllocsPerRun(100, func() { k.Decrypt("n", d) }); n > 8 {
		t.Errorf("Decrypt: %v allocations", n)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k, _ := newKeyFrom(seeded(22))
	d, _ := k.encryptFrom(seeded(23), SecretMegolmBackup, make([]byte, 44))
	b.ReportAllocs()
	b.SetBytes(44)
	for b.Loop() {
		if _, err := k.Decrypt(SecretMegolmBackup, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	k, _ := newKeyFrom(seeded(24))
	d, _ := k.descriptionFrom(seeded(25), "", nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Check(d); err != nil {
			b.Fatal(err)
		}
	}
}

// lowIterations admits the 10-iteration vectors of other implementations'
// tests (and nothing else).
var lowIterations = &Options{AllowFewIterations: true}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
