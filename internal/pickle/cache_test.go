package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
)

// TestLibolmKeyCache checks that cached derivations never answer for
// another key: more keys than the cache holds, keys that are prefixes of
// each other and the empty key, pickled and opened in an order that
// evicts entries between uses. Each pickle is also compared with one
// sealed from a fresh derivation.
func TestLibolmKeyCache(t *testing.T) {
	keys := [][]byte{nil, []byte("a"), []byte("ab"), []byte("abc"), []byte("secret_key"), []byte("secret_kez"),
		bytes.Repeat([]byte{0}, 32), bytes.Repeat([]byte{0}, 33)}
	plain := []byte("the same plaintext under every key")
	for round := range 3 {
		for i, k := range keys {
			p := SealLibolm(k, plain)
			fresh := aessha2.Derive(k, aessha2.InfoPickle)
			ct := fresh.Encrypt(nil, plain)
			if want := b64.Encode(fresh.AppendTag(ct, ct)); p != want {
				t.Fatalf("round %d, key %q: cached pickle differs from a fresh derivation's", round, k)
			}
			for j, other := range keys {
				got, err := OpenLibolm(other, p)
				if i == j && (err != nil || !bytes.Equal(got, plain)) {
					t.Fatalf("round %d, key %q: OpenLibolm = %q, %v", round, k, got, err)
				}
				if i != j && !errors.Is(err, ErrDecrypt) {
					t.Fatalf("round %d: pickle under %q opened under %q: %v", round, k, other, err)
				}
			}
		}
	}
}

// TestOwnKeyCache is TestLibolmKeyCache for the own format.
func TestOwnKeyCache(t *testing.T) {
	keys := make([]*[KeySize]byte, 2*cacheSize+1)
	for i := range keys {
		keys[i] = new([KeySize]byte)
		keys[i][i%KeySize] = byte(i) // keys[0] is all zeros
	}
	for round := range 3 {
		for i, k := range keys {
			p, err := Seal(nil, k, "test", 1, []byte("body"))
			if err != nil {
				t.Fatal(err)
			}
			for j, other := range keys {
				v, body, err := Open(other, "test", p)
				if i == j && (err != nil || v != 1 || string(body) != "body") {
					t.Fatalf("round %d, key %d: Open = %d, %q, %v", round, i, v, body, err)
				}
				if i != j && !errors.Is(err, ErrDecrypt) {
					t.Fatalf("round %d: pickle under key %d opened under key %d: %v", round, i, j, err)
				}
			}
		}
	}
}

// TestScratchOpen checks the pooled openers against the allocating ones,
// and that a released buffer goes back clear.
func TestScratchOpen(t *testing.T) {
	var k [KeySize]byte
	k[0] = 1
	for _, n := range []int{0, 1, 100, 600, 3000, 9000, 40000} {
		body := bytes.Repeat([]byte{0x5a}, n)
		p, err := Seal(nil, &k, "test", 3, body)
		if err != nil {
			t.Fatal(err)
		}
		o, err := OpenScratch(&k, "test", p)
		if err != nil || o.Version != 3 || !bytes.Equal(o.Body, body) {
			t.Fatalf("%d bytes: OpenScratch = %d, %d bytes, %v", n, o.Version, len(o.Body), err)
		}
		buf := o.buf
		o.Release()
		o.Release() // a second call is a no-op
		if o.Body != nil {
			t.Fatalf("%d bytes: Body kept after Release", n)
		}
		if i := bytes.IndexFunc(buf[:cap(buf)], func(r rune) bool { return r != 0 }); i >= 0 {
			t.Fatalf("%d bytes: released buffer not clear at %d", n, i)
		}

		lp := SealLibolm([]byte("key"), body)
		lo, err := OpenLibolmScratch([]byte("key"), lp)
		if err != nil || !bytes.Equal(lo.Body, body) {
			t.Fatalf("%d bytes: OpenLibolmScratch = %d bytes, %v", n, len(lo.Body), err)
		}
		buf = lo.buf
		lo.Release()
		if i := bytes.IndexFunc(buf[:cap(buf)], func(r rune) bool { return r != 0 }); i >= 0 {
			t.Fatalf("%d bytes: released libolm buffer not clear at %d", n, i)
		}
	}
	// Errors release the buffer too and return a zero Plaintext.
	for _, bad := range []string{"!!!!", "AAAA", SealLibolm([]byte("other"), []byte("x"))} {
		if o, err := OpenLibolmScratch([]byte("key"), bad); err == nil || o.Body != nil {
			t.Fatalf("OpenLibolmScratch(%q) = %v, %v", bad, o.Body, err)
		}
		if o, err := OpenScratch(&k, "test", bad); err == nil || o.Body != nil {
			t.Fatalf("OpenScratch(%q) = %v, %v", bad, o.Body, err)
		}
	}
}

// TestConcurrentKeys pickles and opens under several keys from several
// goroutines at once (run with -race to check the caches and pools).
func TestConcurrentKeys(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			key := []byte(fmt.Sprintf("key %d", g%(cacheSize+2)))
			var own [KeySize]byte
			own[0] = byte(g % (cacheSize + 2))
			for i := range 50 {
				body := bytes.Repeat([]byte{byte(i)}, 10+i*40)
				o, err := OpenLibolmScratch(key, SealLibolmInPlace(key, append(LibolmBuffer(len(body)), body...)))
				if err != nil || !bytes.Equal(o.Body, body) {
					errs <- fmt.Errorf("goroutine %d, libolm %d: %v", g, i, err)
					return
				}
				o.Release()
				p, err := Seal(nil, &own, "test", 1, body)
				if err != nil {
					errs <- err
					return
				}
				oo, err := OpenScratch(&own, "test", p)
				if err != nil || !bytes.Equal(oo.Body, body) {
					errs <- fmt.Errorf("goroutine %d, own %d: %v", g, i, err)
					return
				}
				oo.Release()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRoundTripAllocs pins the allocations of a pooled round trip of a
// session-sized plaintext under a cached key: the returned string alone
// when sealing (plus GCM's for the own format), none when opening.
func TestRoundTripAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	key := []byte("a libolm pickle key")
	body := bytes.Repeat([]byte{7}, 300)
	p := SealLibolm(key, body)
	if n := testing.AllocsPerRun(100, func() {
		_ = SealLibolmInPlace(key, append(LibolmBuffer(len(body)), body...))
	}); n > 1 {
		t.Errorf("SealLibolmInPlace: %v allocations, want 1 (the string)", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		o, err := OpenLibolmScratch(key, p)
		if err != nil {
			t.Fatal(err)
		}
		o.Release()
	}); n > 0 {
		t.Errorf("OpenLibolmScratch: %v allocations, want 0", n)
	}
	var k [KeySize]byte
	op, _ := Seal(nil, &k, "test", 1, body)
	if n := testing.AllocsPerRun(100, func() {
		o, err := OpenScratch(&k, "test", op)
		if err != nil {
			t.Fatal(err)
		}
		o.Release()
	}); n > 0 {
		t.Errorf("OpenScratch: %v allocations, want 0", n)
	}
}
