package matrixrtc_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sicher-go/sicher/matrixrtc"
)

// liveKitVectors is what testdata/livekit/vectors.mjs prints: for each material (HKDF mode)
// and password (PBKDF2 mode), the frame key's probe and each ratchet step's material and probe,
// computed by livekit-client itself.
type liveKitVectors struct {
	Source string `json:"source"`
	HKDF   []struct {
		Material string        `json:"material"`
		Steps    []liveKitStep `json:"steps"`
	} `json:"hkdf"`
	PBKDF2 []struct {
		Password string        `json:"password"`
		Steps    []liveKitStep `json:"steps"`
	} `json:"pbkdf2"`
}

type liveKitStep struct {
	Material string `json:"material"`
	Probe    string `json:"frame_key_probe"`
}

// probe is what vectors.mjs reads a non-extractable frame key back as: AES-128-GCM of 16 zero
// bytes under a zero IV, ciphertext and tag.
func probe(t *testing.T, k [matrixrtc.FrameKeySize]byte) string {
	t.Helper()
	b, err := aes.NewCipher(k[:])
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(g.Seal(nil, make([]byte, 12), make([]byte, 16), nil))
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkLiveKit replays vectors through FrameKey and Ratchet (and the password forms) and
// returns how many derivations it compared.
func checkLiveKit(t *testing.T, v *liveKitVectors) int {
	t.Helper()
	n := 0
	for _, c := range v.HKDF {
		material := unhex(t, c.Material)
		for i, s := range c.Steps {
			if i > 0 {
				next := matrixrtc.Ratchet(material)
				if got := hex.EncodeToString(next[:]); got != s.Material {
					t.Fatalf("%s: ratchet %d: %s, livekit-client %s", c.Material, i, got, s.Material)
				}
				material = next[:]
				n++
			}
			if got := probe(t, matrixrtc.FrameKey(material)); got != s.Probe {
				t.Fatalf("%s: frame key after %d ratchets: probe %s, livekit-client %s", c.Material, i, got, s.Probe)
			}
			n++
		}
	}
	for _, c := range v.PBKDF2 {
		material := unhex(t, c.Password)
		for i, s := range c.Steps {
			if i > 0 {
				next, err := matrixrtc.PasswordRatchet(material)
				if err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(next[:]); got != s.Material {
					t.Fatalf("password %s: ratchet %d: %s, livekit-client %s", c.Password, i, got, s.Material)
				}
				material = next[:]
				n++
			}
			fk, err := matrixrtc.PasswordFrameKey(material)
			if err != nil {
				t.Fatal(err)
			}
			if got := probe(t, fk); got != s.Probe {
				t.Fatalf("password %s: frame key after %d ratchets: probe %s, livekit-client %s", c.Password, i, got, s.Probe)
			}
			n++
		}
	}
	return n
}

// TestLiveKitVectors replays testdata/livekit-vectors.json, made by npm livekit-client 2.23.0
// (its exported deriveKeys and ratchet, src/e2ee/utils.ts) under Node's WebCrypto with
// `node testdata/livekit/vectors.mjs < testdata/livekit-input.json`.
func TestLiveKitVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/livekit-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v liveKitVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if n := checkLiveKit(t, &v); n != 49 {
		t.Fatalf("compared %d derivations, want 49", n)
	}
}

// TestLiveKitNode runs livekit-client in Node on fresh random material and compares. It skips
// without Node (fails under CI=true) and installs the pinned package with npm ci first.
func TestLiveKitNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and node is not installed")
		}
		t.Skip("node is not installed")
	}
	dir := filepath.Join("testdata", "livekit")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "livekit-client")); err != nil {
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("npm ci: %v\n%s", err, out)
			}
			t.Skipf("npm ci: %v", err)
		}
	}
	in := map[string]any{"ratchets": 4}
	var hkdf, pw []string
	for _, n := range []int{32, 32, 16, 1} {
		b := make([]byte, n)
		rand.Read(b)
		hkdf = append(hkdf, hex.EncodeToString(b))
	}
	pwBytes := make([]byte, 20)
	rand.Read(pwBytes)
	pw = append(pw, hex.EncodeToString([]byte(hex.EncodeToString(pwBytes)))) // a UTF-8 password
	in["hkdf"], in["pbkdf2"] = hkdf, pw
	req, _ := json.Marshal(in)
	cmd := exec.Command(node, "vectors.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node vectors.mjs: %v\n%s", err, stderr.String())
	}
	var v liveKitVectors
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.HKDF) != 4 || len(v.PBKDF2) != 1 {
		t.Fatalf("node answered %d and %d cases", len(v.HKDF), len(v.PBKDF2))
	}
	t.Logf("%d derivations equal to %s", checkLiveKit(t, &v), v.Source)
}

// BenchmarkFrameKey compares FrameKey (internal/hmacsha256's HKDF) with the same derivation
// through the standard library's crypto/hkdf: run both in one go test invocation and compare.
func BenchmarkFrameKey(b *testing.B) {
	material := make([]byte, 32)
	info := string(make([]byte, 128))
	b.Run("sicher", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			matrixrtc.FrameKey(material)
		}
	})
	b.Run("crypto-hkdf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hkdf.Key(sha256.New, material, []byte("LKFrameEncryptionKey"), info, 16); err != nil {
				b.Fatal(err)
			}
		}
	})
}
