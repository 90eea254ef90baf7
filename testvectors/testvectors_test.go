package testvectors_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"testing"

	"github.com/sicher-go/sicher/testvectors"
)

var classes = []string{testvectors.OK, testvectors.BadVersion, testvectors.BadFormat, testvectors.BadBase64,
	testvectors.BadMAC, testvectors.BadSignature, testvectors.BadKey, testvectors.UnknownKeyID,
	testvectors.UnknownIndex, testvectors.MissingMessageKey, testvectors.GapTooLarge,
	testvectors.NonContributory, testvectors.LegacyPickle, testvectors.NoChain, testvectors.IdentityKeyMismatch}

// TestCorpusWellFormed loads every file and checks the Meta of every
// vector: unique names, a source, a known expectation.
func TestCorpusWellFormed(t *testing.T) {
	files := testvectors.Files()
	if len(files) < 5 {
		t.Fatalf("only %d corpus files", len(files))
	}
	total := 0
	for _, name := range files {
		f, err := testvectors.Decode[json.RawMessage](testvectors.Read(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Format == "" || f.Description == "" || len(f.Vectors) == 0 {
			t.Errorf("%s: format %q, %d vectors", name, f.Format, len(f.Vectors))
		}
		seen := map[string]bool{}
		for i, raw := range f.Vectors {
			var m testvectors.Meta
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s #%d: %v", name, i, err)
			}
			if m.Name == "" || seen[m.Name] {
				t.Errorf("%s #%d: empty or duplicate name %q", name, i, m.Name)
			}
			seen[m.Name] = true
			if m.Source == "" {
				t.Errorf("%s: %s: no source", name, m.Name)
			}
			for _, c := range append([]string{m.Expect}, m.Accept...) {
				if !slices.Contains(classes, c) {
					t.Errorf("%s: %s: unknown class %q", name, m.Name, c)
				}
			}
		}
		total += len(f.Vectors)
	}
	t.Logf("%d files, %d vectors", len(files), total)
}

// TestSchemaStrict checks that every file decodes into its schema type with
// unknown fields disallowed.
func TestSchemaStrict(t *testing.T) {
	check := func(name string, load func(testing.TB, string)) {
		t.Run(name, func(t *testing.T) { load(t, name) })
	}
	check("primitives/crypto.json", func(tb testing.TB, n string) { testvectors.Load[testvectors.Primitive](tb, n) })
	check("megolm/ratchet.json", func(tb testing.TB, n string) { testvectors.Load[testvectors.MegolmRatchet](tb, n) })
	check("megolm/ratchet_digest.json", func(tb testing.TB, n string) { testvectors.Load[testvectors.MegolmRatchetDigest](tb, n) })
	check("megolm/sessions.json", func(tb testing.TB, n string) { testvectors.Load[testvectors.MegolmDecrypt](tb, n) })
	check("megolm/outbound.json", func(tb testing.TB, n string) { testvectors.Load[testvectors.MegolmOutbound](tb, n) })
	for _, f := range testvectors.Files() {
		if !slices.Contains([]string{"primitives/crypto.json", "megolm/ratchet.json", "megolm/ratchet_digest.json",
			"megolm/sessions.json", "megolm/outbound.json"}, f) {
			if s, ok := schemas[f]; ok {
				check(f, s)
			} else {
				t.Errorf("%s: no schema registered in this test", f)
			}
		}
	}
}

var schemas = map[string]func(testing.TB, string){
	"olm/transcripts.json":   func(tb testing.TB, n string) { testvectors.Load[testvectors.OlmTranscript](tb, n) },
	"olm/messages.json":      func(tb testing.TB, n string) { testvectors.Load[testvectors.OlmMessage](tb, n) },
	"olm/decrypt.json":       func(tb testing.TB, n string) { testvectors.Load[testvectors.OlmDecrypt](tb, n) },
	"sas/sas.json":           func(tb testing.TB, n string) { testvectors.Load[testvectors.SAS](tb, n) },
	"pk/pk.json":             func(tb testing.TB, n string) { testvectors.Load[testvectors.PK](tb, n) },
	"pk/signing.json":        func(tb testing.TB, n string) { testvectors.Load[testvectors.Signing](tb, n) },
	"primitives/base64.json": func(tb testing.TB, n string) { testvectors.Load[testvectors.Base64](tb, n) },
	"pickle/account.json":    func(tb testing.TB, n string) { testvectors.Load[testvectors.Pickle](tb, n) },
	"pickle/session.json":    func(tb testing.TB, n string) { testvectors.Load[testvectors.Pickle](tb, n) },
	"pickle/outbound_group_session.json": func(tb testing.TB, n string) {
		testvectors.Load[testvectors.Pickle](tb, n)
	},
	"pickle/inbound_group_session.json": func(tb testing.TB, n string) {
		testvectors.Load[testvectors.Pickle](tb, n)
	},
	"pickle/pk_decryption.json": func(tb testing.TB, n string) { testvectors.Load[testvectors.Pickle](tb, n) },
	"sessionconfig/v2.json": func(tb testing.TB, n string) {
		testvectors.Load[testvectors.SessionConfigV2](tb, n)
	},
}

// TestPrimitivesIndependently replays primitives/crypto.json (libolm's
// outputs and the upstream V1/V2 answers) with Go's standard library, an
// implementation independent of libolm.
func TestPrimitivesIndependently(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.Primitive](t, "primitives/crypto.json") {
		t.Run(v.Name, func(t *testing.T) {
			var got, sig []byte
			switch v.Op {
			case "x25519", "x25519_public":
				priv, err := ecdh.X25519().NewPrivateKey(v.Key)
				if err != nil {
					t.Fatal(err)
				}
				if v.Op == "x25519_public" {
					got = priv.PublicKey().Bytes()
					break
				}
				pub, err := ecdh.X25519().NewPublicKey(v.Peer)
				if err != nil {
					t.Fatal(err)
				}
				if got, err = priv.ECDH(pub); err != nil {
					t.Fatal(err)
				}
			case "hkdf_sha256":
				var err error
				if got, err = hkdf.Key(sha256.New, v.Key, v.Salt, string(v.Info), len(v.Output)); err != nil {
					t.Fatal(err)
				}
			case "hmac_sha256":
				m := hmac.New(sha256.New, v.Key)
				m.Write(v.Input)
				got = m.Sum(nil)
			case "sha256":
				s := sha256.Sum256(v.Input)
				got = s[:]
			case "aes256_cbc_pkcs7":
				b, err := aes.NewCipher(v.Key)
				if err != nil {
					t.Fatal(err)
				}
				pad := 16 - len(v.Input)%16
				got = append(bytes.Clone(v.Input), bytes.Repeat([]byte{byte(pad)}, pad)...)
				cipher.NewCBCEncrypter(b, v.IV).CryptBlocks(got, got)
			case "ed25519_seed":
				k := ed25519.NewKeyFromSeed(v.Key)
				got = k.Public().(ed25519.PublicKey)
				sig = ed25519.Sign(k, v.Input)
			default:
				t.Fatalf("unknown op %q", v.Op)
			}
			if !bytes.Equal(got, v.Output) {
				t.Errorf("output %x, want %x", got, v.Output)
			}
			if v.Signature != nil && !bytes.Equal(sig, v.Signature) {
				t.Errorf("signature %x, want %x", sig, v.Signature)
			}
		})
	}
}

func TestStream(t *testing.T) {
	a, b := testvectors.NewStream("x"), testvectors.NewStream("x")
	p, q := make([]byte, 100), make([]byte, 0, 100)
	a.Read(p)
	for _, n := range []int{1, 31, 32, 36} {
		c := make([]byte, n)
		b.Read(c)
		q = append(q, c...)
	}
	if !bytes.Equal(p, q) {
		t.Fatal("stream depends on read sizes")
	}
	first := sha256.Sum256([]byte("x\x00\x00\x00\x00"))
	if !bytes.Equal(p[:32], first[:]) {
		t.Fatal("stream block 0 is not SHA-256(seed || 0)")
	}
}

func TestHexRoundTrip(t *testing.T) {
	var h testvectors.Hex
	if err := h.UnmarshalText([]byte("00ff10")); err != nil || !bytes.Equal(h, []byte{0, 0xff, 0x10}) {
		t.Fatal(h, err)
	}
	if err := h.UnmarshalText([]byte("0g")); err == nil {
		t.Fatal("bad hex accepted")
	}
	if b, _ := h.MarshalText(); string(b) != "00ff10" {
		t.Fatal(string(b))
	}
}

func TestDecodeStrict(t *testing.T) {
	good := `{"format":"f","description":"d","vectors":[{"name":"a","source":"s","expect":"ok","op":"sha256","output":"00"}]}`
	if _, err := testvectors.Decode[testvectors.Primitive]([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"format":"f","description":"d","vectors":[{"name":"a","unknown":1}]}`,
		`{"format":"f","vectors":[{"name":"a","output":"0g"}]}`,
		`{"format":`,
	} {
		if _, err := testvectors.Decode[testvectors.Primitive]([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, err := testvectors.ReadFile("no/such.json"); err == nil {
		t.Error("missing file read")
	}
}
