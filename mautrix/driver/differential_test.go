package driver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/mautrix/driver"
	"maunium.net/go/mautrix/crypto/goolm/account"
	"maunium.net/go/mautrix/crypto/goolm/pk"
	"maunium.net/go/mautrix/crypto/goolm/session"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// The differential tests put the same inputs through goolm and the sicher
// driver (in libolm-pickle mode, the format both share) and compare the
// outputs byte for byte.

var libolmDriver = driver.Driver{Pickles: driver.LibolmPickles}

var pickleKey = []byte("differential pickle key")

// must returns v, panicking (a test failure with its stack) on err.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func curve(a olm.Account) id.Curve25519 {
	_, c, err := a.IdentityKeys()
	if err != nil {
		panic(err)
	}
	return c
}

// TestDifferentialAccountPickle: a goolm account pickle loads in sicher
// and pickles back byte for byte, and the reverse; both sign identically.
func TestDifferentialAccountPickle(t *testing.T) {
	g := must(account.NewAccount())
	if err := g.GenOneTimeKeys(50); err != nil {
		t.Fatal(err)
	}
	gp := must(g.Pickle(pickleKey))
	s := must(libolmDriver.AccountFromPickled(bytes.Clone(gp), pickleKey))
	if sp := must(s.Pickle(pickleKey)); !bytes.Equal(sp, gp) {
		t.Fatal("goolm account → sicher → pickle differs")
	}
	g2 := must(account.AccountFromPickled(must(s.Pickle(pickleKey)), pickleKey))
	if !bytes.Equal(must(g2.Pickle(pickleKey)), gp) {
		t.Fatal("sicher account → goolm → pickle differs")
	}
	for _, msg := range [][]byte{[]byte("x"), bytes.Repeat([]byte("signed"), 100)} {
		if !bytes.Equal(must(g.Sign(msg)), must(s.Sign(msg))) {
			t.Fatal("signatures differ")
		}
	}
	// Equal as JSON (libolm writes curve25519 first, goolm ed25519).
	var gm, sm map[string]string
	gj, sj := must(g.IdentityKeysJSON()), must(s.IdentityKeysJSON())
	if json.Unmarshal(gj, &gm) != nil || json.Unmarshal(sj, &sm) != nil || fmt.Sprint(gm) != fmt.Sprint(sm) {
		t.Fatalf("identity keys JSON: goolm %s, sicher %s", gj, sj)
	}
	gk, sk := must(g.OneTimeKeys()), must(s.OneTimeKeys())
	if fmt.Sprint(gk) != fmt.Sprint(sk) {
		t.Fatal("one-time keys differ")
	}
	if g.MaxNumberOfOneTimeKeys() != s.MaxNumberOfOneTimeKeys() {
		t.Fatal("MaxNumberOfOneTimeKeys differs")
	}
}

// TestDifferentialMegolm: a goolm outbound session loaded in sicher
// encrypts to the same bytes; both decrypt each other's messages alike;
// group session pickles are byte-identical both ways.
func TestDifferentialMegolm(t *testing.T) {
	g := must(session.NewMegolmOutboundSession())
	gp := must(g.Pickle(pickleKey))
	s := must(libolmDriver.OutboundGroupSessionFromPickled(bytes.Clone(gp), pickleKey))
	if !bytes.Equal(must(s.Pickle(pickleKey)), gp) {
		t.Fatal("outbound pickle differs")
	}
	if s.Key() != g.Key() || s.ID() != g.ID() {
		t.Fatal("session key or id differs")
	}
	gi := must(session.NewMegolmInboundSession([]byte(g.Key())))
	si := must(libolmDriver.NewInboundGroupSession([]byte(g.Key())))
	if !bytes.Equal(must(gi.Pickle(pickleKey)), must(si.Pickle(pickleKey))) {
		t.Fatal("inbound pickle differs")
	}
	for i, n := range []int{1, 100, 1024, 65536} {
		pt := bytes.Repeat([]byte{byte(i + 'a')}, n)
		gc, sc := must(g.Encrypt(pt)), must(s.Encrypt(pt))
		if !bytes.Equal(gc, sc) {
			t.Fatalf("%d bytes: ciphertexts differ", n)
		}
		for _, in := range []olm.InboundGroupSession{gi, si} {
			got, idx, err := in.Decrypt(bytes.Clone(sc))
			if err != nil || !bytes.Equal(got, pt) || idx != uint(i) {
				t.Fatalf("%T: %v, index %d", in, err, idx)
			}
		}
	}
	if !bytes.Equal(must(gi.Pickle(pickleKey)), must(si.Pickle(pickleKey))) {
		t.Fatal("inbound pickle differs after decryption")
	}
	ge, se := must(gi.Export(2)), must(si.Export(2))
	if !bytes.Equal(ge, se) {
		t.Fatal("exports differ")
	}
	imp := must(libolmDriver.InboundGroupSessionImport(ge))
	if imp.FirstKnownIndex() != 2 || imp.IsVerified() {
		t.Fatal("import: wrong first index or verified")
	}
	gimp := must(session.NewMegolmInboundSessionFromExport(ge))
	if !bytes.Equal(must(gimp.Pickle(pickleKey)), must(imp.Pickle(pickleKey))) {
		t.Fatal("imported session pickles differ")
	}
	// An index before the first known: both fail with ErrUnknownMessageIndex.
	first := must(session.NewMegolmOutboundSession())
	m0 := must(first.Encrypt([]byte("zero")))
	in := must(libolmDriver.NewInboundGroupSession([]byte(first.Key())))
	if _, _, err := in.Decrypt(m0); !isErr(err, olm.ErrUnknownMessageIndex) {
		t.Fatalf("old index: %v", err)
	}
}

// TestDifferentialOlm: Olm sessions between a goolm and a sicher account,
// both directions, with a session pickle swap in the middle.
func TestDifferentialOlm(t *testing.T) {
	type mk func() olm.Account
	gAcct := func() olm.Account { return must(account.NewAccount()) }
	sAcct := func() olm.Account { return must(libolmDriver.NewAccount()) }
	for _, pair := range []struct {
		name           string
		sender, recver mk
	}{{"goolm→sicher", gAcct, sAcct}, {"sicher→goolm", sAcct, gAcct}, {"sicher→sicher", sAcct, sAcct}} {
		t.Run(pair.name, func(t *testing.T) {
			sender, recver := pair.sender(), pair.recver()
			if err := recver.GenOneTimeKeys(2); err != nil {
				t.Fatal(err)
			}
			rc, sc := curve(recver), curve(sender)
			var otk id.Curve25519
			for _, k := range must(recver.OneTimeKeys()) {
				otk = k
			}
			out := must(sender.NewOutboundSession(rc, otk))
			typ, c0, err := out.Encrypt([]byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			if typ != id.OlmMsgTypePreKey {
				t.Fatal("first message not pre-key")
			}
			in := must(recver.NewInboundSessionFrom(&sc, string(c0)))
			if in.ID() != out.ID() {
				t.Fatal("session ids differ")
			}
			if ok := must(in.MatchesInboundSessionFrom(string(sc), string(c0))); !ok {
				t.Fatal("no match")
			}
			if pt := must(in.Decrypt(string(c0), typ)); string(pt) != "hello" {
				t.Fatal("wrong plaintext")
			}
			if err := recver.RemoveOneTimeKeys(in); err != nil {
				t.Fatal(err)
			}
			// Swap the receiver's session through the other implementation.
			p := must(in.Pickle(pickleKey))
			var in2 olm.Session
			if _, ok := in.(*driver.Session); ok {
				in2 = must(session.OlmSessionFromPickled(p, pickleKey))
			} else {
				in2 = must(libolmDriver.SessionFromPickled(p, pickleKey))
			}
			if !bytes.Equal(must(in2.Pickle(pickleKey)), p) {
				t.Fatal("session pickle differs after the swap")
			}
			if in.Describe() != in2.Describe() {
				t.Fatalf("describe: %q vs %q", in.Describe(), in2.Describe())
			}
			for i := range 5 {
				typ, c, err := in2.Encrypt(fmt.Appendf(nil, "reply %d", i))
				if err != nil {
					t.Fatal(err)
				}
				if typ != id.OlmMsgTypeMsg {
					t.Fatal("reply is not a normal message")
				}
				if pt := must(out.Decrypt(string(c), typ)); string(pt) != fmt.Sprintf("reply %d", i) {
					t.Fatal("wrong reply")
				}
			}
		})
	}
}

// TestDifferentialBlankSession: goolm's blank session and the driver's
// have the same id, flags, description and libolm pickle.
func TestDifferentialBlankSession(t *testing.T) {
	g := session.NewOlmSession()
	s := libolmDriver.NewBlankSession()
	if g.ID() != s.ID() || g.HasReceivedMessage() != s.HasReceivedMessage() || g.EncryptMsgType() != s.EncryptMsgType() || g.Describe() != s.Describe() {
		t.Fatalf("blank sessions differ: %q %q", g.Describe(), s.Describe())
	}
	gp := must(g.Pickle([]byte("test")))
	if !bytes.Equal(gp, must(s.Pickle([]byte("test")))) {
		t.Fatal("blank pickles differ")
	}
	back := must(driver.Driver{}.SessionFromPickled(gp, []byte("test")))
	if _, _, err := back.Encrypt([]byte("x")); err == nil {
		t.Fatal("a blank session encrypted")
	}
}

// TestDifferentialPKSigning: cross-signing keys from the same seed sign
// identically, JSON included.
func TestDifferentialPKSigning(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, 32)
	g := must(pk.NewSigningFromSeed(seed))
	s := must(libolmDriver.NewPKSigningFromSeed(seed))
	if g.PublicKey() != s.PublicKey() || !bytes.Equal(g.Seed(), s.Seed()) {
		t.Fatal("keys differ")
	}
	if !bytes.Equal(must(g.Sign([]byte("m"))), must(s.Sign([]byte("m")))) {
		t.Fatal("signatures differ")
	}
	obj := map[string]any{"b": 1, "a": "x", "unsigned": map[string]any{"z": 1}, "signatures": map[string]any{}}
	gs, ss := must(g.SignJSON(obj)), must(s.SignJSON(obj))
	if gs != ss {
		t.Fatal("JSON signatures differ")
	}
}
