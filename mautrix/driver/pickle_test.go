package driver

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/id"
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

// TestUnpickleKeepsNoReference: Unpickle reads mautrix's bytes through a
// string view without copying them, which is sound only if nothing of the
// pickle is kept. Overwriting the bytes after loading must not change the
// object: its libolm pickle (deterministic) stays the original's.
func TestUnpickleKeepsNoReference(t *testing.T) {
	key := []byte("no reference")
	libolm := Driver{Pickles: LibolmPickles}
	alice, err := Driver{}.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := Driver{}.NewAccount()
	if err := bob.GenOneTimeKeys(10); err != nil {
		t.Fatal(err)
	}
	otks, _ := bob.OneTimeKeys()
	var otk string
	for _, k := range otks {
		otk = string(k)
	}
	_, bobCurve, _ := bob.IdentityKeys()
	sess, err := alice.NewOutboundSession(bobCurve, id.Curve25519(otk))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := Driver{}.NewOutboundGroupSession()
	in, _ := Driver{}.NewInboundGroupSession([]byte(out.Key()))

	type pickler interface {
		Pickle([]byte) ([]byte, error)
	}
	objects := []struct {
		name string
		obj  pickler
		load func(p, k []byte) (pickler, error)
	}{
		{"account", bob, func(p, k []byte) (pickler, error) { return libolm.AccountFromPickled(p, k) }},
		{"olm session", sess, func(p, k []byte) (pickler, error) { return libolm.SessionFromPickled(p, k) }},
		{"inbound group session", in, func(p, k []byte) (pickler, error) { return libolm.InboundGroupSessionFromPickled(p, k) }},
		{"outbound group session", out, func(p, k []byte) (pickler, error) { return libolm.OutboundGroupSessionFromPickled(p, k) }},
	}
	for _, o := range objects {
		// want: the object's libolm pickle, through a load from it.
		lp, err := o.obj.Pickle(key)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := o.load(bytes.Clone(lp), key)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ref.Pickle(key)
		for _, format := range []PickleFormat{SicherPickles, LibolmPickles} {
			var p []byte
			switch obj := o.obj.(type) {
			case *Account:
				obj.pickles = format
				p, err = obj.Pickle(key)
			case *Session:
				obj.pickles = format
				p, err = obj.Pickle(key)
			case *InboundGroupSession:
				obj.pickles = format
				p, err = obj.Pickle(key)
			case *OutboundGroupSession:
				obj.pickles = format
				p, err = obj.Pickle(key)
			}
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := o.load(p, key)
			if err != nil {
				t.Fatalf("%s, format %d: %v", o.name, format, err)
			}
			for i := range p {
				p[i] = 'A'
			}
			if got, _ := loaded.Pickle(key); !bytes.Equal(got, want) {
				t.Fatalf("%s, format %d: the object changed with the bytes it was loaded from", o.name, format)
			}
		}
	}
}
