package floor

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestHMACMatchesStd(t *testing.T) {
	p := New()
	for _, n := range []int{0, 1, 31, 55, 56, 64, 100, 1024} {
		key := bytes.Repeat([]byte{byte(n)}, 32)
		msg := bytes.Repeat([]byte{0xa5}, n)
		h := hmac.New(sha256.New, key)
		h.Write(msg)
		want := h.Sum(nil)
		if got := p.HMAC(key, msg); !bytes.Equal(got[:], want) {
			t.Fatalf("HMAC len %d mismatch", n)
		}
		p.SetKey(key)
		if got := p.MAC(msg[:n/2], msg[n/2:]); !bytes.Equal(got[:], want) {
			t.Fatalf("MAC len %d mismatch", n)
		}
	}
}

func TestHKDFMatchesStd(t *testing.T) {
	p := New()
	for _, n := range []int{6, 32, 64, 80, 96} {
		secret := bytes.Repeat([]byte{7}, 96)
		want, err := hkdf.Key(sha256.New, secret, nil, "MEGOLM_KEYS", n)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		p.HKDF(got, secret, []byte("MEGOLM_KEYS"))
		if !bytes.Equal(got, want) {
			t.Fatalf("HKDF %d mismatch", n)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	p := New()
	key := make([]byte, 32)
	msg := make([]byte, 100)
	out := make([]byte, 80)
	if n := testing.AllocsPerRun(100, func() {
		p.HMAC(key, msg)
		p.SetKey(key)
		p.MAC(msg, msg)
		p.HKDF(out, key, msg[:8])
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}
