package hmacsha256

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestKeyMatchesStd holds Key.Sum to crypto/hmac for keys shorter than,
// equal to and longer than a block, and messages around block edges.
func TestKeyMatchesStd(t *testing.T) {
	for _, kl := range []int{0, 1, 32, 63, 64, 65, 200} {
		k := make([]byte, kl)
		for i := range k {
			k[i] = byte(i*7 + kl)
		}
		key := NewKey(k)
		for _, ml := range []int{0, 1, 55, 56, 64, 65, 300, 4000} {
			msg := make([]byte, ml)
			for i := range msg {
				msg[i] = byte(i ^ ml)
			}
			h := hmac.New(sha256.New, k)
			h.Write(msg)
			if got := key.Sum(msg); !hmac.Equal(got[:], h.Sum(nil)) {
				t.Fatalf("key %d bytes, message %d bytes: Key.Sum differs from crypto/hmac", kl, ml)
			}
		}
	}
	if s := fmt.Sprintf("%v %+v %x", *NewKey([]byte("k")), *NewKey([]byte("k")), *NewKey([]byte("k"))); s != "hmacsha256.Key{REDACTED} hmacsha256.Key{REDACTED} hmacsha256.Key{REDACTED}" {
		t.Errorf("Key formats as %q", s)
	}
}
