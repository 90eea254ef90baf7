package driver

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	sicherolm "github.com/sicher-go/sicher/olm"
)

// TestPickleKeyCache: the cached key is always the one DerivePickleKey
// gives for the key passed now, whatever was derived before, including
// after the caller overwrote its slice, for keys that are prefixes of
// each other, for more keys than slots, and from many goroutines.
func TestPickleKeyCache(t *testing.T) {
	check := func(k []byte) {
		t.Helper()
		if got, want := pickleKey(k), sicherolm.DerivePickleKey(k); *got != *want {
			t.Fatalf("pickleKey(%q) is not DerivePickleKey's", k)
		}
	}
	k := []byte("store key")
	check(k)
	check(k)
	copy(k, "STORE")
	check(k) // the cache holds its own copy
	check([]byte("store"))
	check([]byte("store key and more"))
	check(nil)
	check([]byte{})
	for i := range 3 * len(derivedKeys) {
		check(fmt.Appendf(nil, "key %d", i%(len(derivedKeys)+1)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := fmt.Appendf(nil, "key %d", (g+i)%6)
				if got, want := pickleKey(k), sicherolm.DerivePickleKey(k); *got != *want {
					t.Errorf("pickleKey(%q) is not DerivePickleKey's", k)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestPickleKeyCacheWrongKey: a pickle written under one key does not
// open under another after both were cached.
func TestPickleKeyCacheWrongKey(t *testing.T) {
	a, err := Driver{}.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Pickle([]byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Driver{}).AccountFromPickled(bytes.Clone(p), []byte("right")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"wrong", "righ", "right!", "right"[:4] + "T"} {
		if _, err := (Driver{}).AccountFromPickled(bytes.Clone(p), []byte(k)); err == nil {
			t.Fatalf("pickle opened under %q", k)
		}
	}
	if _, err := (Driver{}).AccountFromPickled(bytes.Clone(p), []byte("right")); err != nil {
		t.Fatal(err)
	}
}
