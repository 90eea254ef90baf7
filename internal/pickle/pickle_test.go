package pickle

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestLibolmPkDecryptionVector: source libolm tests/test_pk.cpp. The
// PkDecryption pickle (version 1, public ‖ private key of RFC 7748's Alice)
// under the pickle key "secret_key" — exercises the whole libolm envelope.
func TestLibolmPkDecryptionVector(t *testing.T) {
	const want = "qx37WTQrjZLz5tId/uBX9B3/okqAbV1ofl9UnHKno1eipByCpXleAAlAZoJgYnCDOQZDQWzo3luTSfkF9pU1mOILCbbouubs6TVeDyPfgGD9i86J8irHjA"
	pub, _ := hex.DecodeString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	plain := append([]byte{0, 0, 0, 1}, append(pub, priv...)...)
	if got := SealLibolm([]byte("secret_key"), plain); got != want {
		t.Fatalf("SealLibolm = %s\nwant        %s", got, want)
	}
	got, err := OpenLibolm([]byte("secret_key"), want)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenLibolm = %x, %v", got, err)
	}
	if _, err := OpenLibolm([]byte("secret_kez"), want); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	// Flip one bit in each byte of the decoded pickle.
	raw := []byte(want)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 1
		if _, err := OpenLibolm([]byte("secret_key"), string(bad)); err == nil {
			t.Errorf("tampered character %d accepted", i)
		}
	}
	for i := range len(want) {
		if _, err := OpenLibolm([]byte("secret_key"), want[:i]); err == nil {
			t.Errorf("%d-character prefix accepted", i)
		}
	}
}

func TestLibolmEmptyKey(t *testing.T) {
	p := SealLibolm(nil, []byte("state"))
	got, err := OpenLibolm([]byte{}, p)
	if err != nil || string(got) != "state" {
		t.Fatalf("empty key round trip: %q, %v", got, err)
	}
}

func TestOwnFormat(t *testing.T) {
	var key [KeySize]byte
	key[0] = 1
	p1, err := Seal(rand.Reader, &key, "olm.Account", 7, []byte("state"))
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := Seal(rand.Reader, &key, "olm.Account", 7, []byte("state"))
	if p1 == p2 {
		t.Fatal("two pickles of the same state are equal: nonce not random")
	}
	v, got, err := Open(&key, "olm.Account", p1)
	if err != nil || v != 7 || string(got) != "state" {
		t.Fatalf("Open = %d %q, %v", v, got, err)
	}
	if _, _, err := Open(&key, "olm.Session", p1); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("opened as another kind: %v", err)
	}
	other := key
	other[31] = 9
	if _, _, err := Open(&other, "olm.Account", p1); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("opened with another key: %v", err)
	}
	for i := range len(p1) {
		if _, _, err := Open(&key, "olm.Account", p1[:i]); err == nil {
			t.Errorf("%d-character prefix accepted", i)
		}
	}
	if _, _, err := Open(&key, "olm.Account", strings.Repeat("A", MaxEncodedLen+4)); !errors.Is(err, ErrFormat) {
		t.Fatalf("oversized pickle: %v", err)
	}
	if _, err := Seal(bytes.NewReader(nil), &key, "x", 1, nil); err == nil {
		t.Fatal("Seal without randomness succeeded")
	}
}

func FuzzOpen(f *testing.F) {
	var key [KeySize]byte
	p, _ := Seal(rand.Reader, &key, "k", 1, []byte("seed"))
	f.Add(p)
	f.Add("qx37WTQrjZLz5tId/uBX9B3/okqAbV1ofl9UnHKno1eipByCpXleAAlAZoJgYnCDOQZDQWzo3luTSfkF9pU1mOILCbbouubs6TVeDyPfgGD9i86J8irHjA")
	f.Fuzz(func(t *testing.T, s string) {
		// The second seed was sealed before the object version was split
		// out: its whole plaintext "seed" reads as version 's', body "eed".
		if v, out, err := Open(&key, "k", s); err == nil && string(append([]byte{v}, out...)) != "\x01seed" && string(append([]byte{v}, out...)) != "seed" {
			t.Fatalf("forged own pickle: %q", out)
		}
		_, _ = OpenLibolm([]byte("secret_key"), s)
	})
}

// TestSealLibolmInPlace: the in-place form gives the same pickle as
// SealLibolm whether or not the plaintext has room, leaves no plaintext
// behind in either case, and SealLibolm leaves its input alone.
func TestSealLibolmInPlace(t *testing.T) {
	key := []byte("key")
	for _, n := range []int{0, 1, 15, 16, 17, 100} {
		pt := bytes.Repeat([]byte{0xa5}, n)
		orig := bytes.Clone(pt)
		want := SealLibolm(key, pt)
		if !bytes.Equal(pt, orig) {
			t.Fatalf("n=%d: SealLibolm changed its input", n)
		}
		for _, room := range []bool{false, true} {
			var c []byte
			if room {
				c = append(make([]byte, 0, LibolmCap(n)), orig...)
			} else {
				c = bytes.Clone(orig)
			}
			if got := SealLibolmInPlace(key, c); got != want {
				t.Fatalf("n=%d room=%v: %q, want %q", n, room, got, want)
			}
			if n > 0 && bytes.Contains(c, orig) {
				t.Fatalf("n=%d room=%v: the plaintext survived", n, room)
			}
		}
		got, err := OpenLibolm(key, want)
		if err != nil || !bytes.Equal(got, orig) {
			t.Fatalf("n=%d: OpenLibolm = %x, %v", n, got, err)
		}
	}
}

// TestSealBuffer: an object serialised into a Buffer seals to a pickle that
// Open reads back, also when it outgrew the Buffer's capacity; sealing
// from a Buffer with room allocates only the cipher and the output.
func TestSealBuffer(t *testing.T) {
	var k [KeySize]byte
	for _, n := range []int{1, 4, 40} {
		buf := append(Buffer(4), 7)
		buf = append(buf, bytes.Repeat([]byte{0xaa}, n-1)...)
		p, err := SealBuffer(nil, &k, "test", buf)
		if err != nil {
			t.Fatal(err)
		}
		v, body, err := Open(&k, "test", p)
		if err != nil || v != 7 || !bytes.Equal(body, bytes.Repeat([]byte{0xaa}, n-1)) {
			t.Fatalf("%d bytes: version %d, %x, %v", n, v, body, err)
		}
	}
	if _, err := SealBuffer(nil, &k, "test", Buffer(0)); !errors.Is(err, ErrFormat) {
		t.Fatalf("no version: %v", err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		buf := append(Buffer(33), 1)
		buf = append(buf, make([]byte, 32)...)
		_, _ = SealBuffer(nil, &k, "test", buf)
	})
	// The buffer, AES, GCM and the base64 string.
	if allocs > 4 {
		t.Errorf("SealBuffer: %v allocations", allocs)
	}
}
