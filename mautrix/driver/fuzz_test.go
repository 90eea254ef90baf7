package driver_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"maunium.net/go/mautrix/crypto/goolm/account"
	"maunium.net/go/mautrix/crypto/goolm/session"
	"maunium.net/go/mautrix/id"
)

// FuzzDifferentialSign: the same account in goolm and sicher signs every
// message identically.
func FuzzDifferentialSign(f *testing.F) {
	g := must(account.NewAccount())
	s := must(libolmDriver.AccountFromPickled(must(g.Pickle(pickleKey)), pickleKey))
	f.Add([]byte("message"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		gs, gerr := g.Sign(bytes.Clone(msg))
		ss, serr := s.Sign(bytes.Clone(msg))
		if (gerr == nil) != (serr == nil) || !bytes.Equal(gs, ss) {
			t.Fatalf("goolm %s %v, sicher %s %v", gs, gerr, ss, serr)
		}
	})
}

// FuzzDifferentialMegolmEncrypt: the same outbound session encrypts every
// plaintext to the same ciphertext, and both inbound sessions decrypt it.
func FuzzDifferentialMegolmEncrypt(f *testing.F) {
	g := must(session.NewMegolmOutboundSession())
	s := must(libolmDriver.OutboundGroupSessionFromPickled(must(g.Pickle(pickleKey)), pickleKey))
	gi := must(session.NewMegolmInboundSession([]byte(g.Key())))
	si := must(libolmDriver.NewInboundGroupSession([]byte(g.Key())))
	f.Add([]byte("plaintext"))
	f.Fuzz(func(t *testing.T, pt []byte) {
		gc, gerr := g.Encrypt(bytes.Clone(pt))
		sc, serr := s.Encrypt(bytes.Clone(pt))
		if (gerr == nil) != (serr == nil) || !bytes.Equal(gc, sc) {
			t.Fatalf("goolm %v, sicher %v, equal %v", gerr, serr, bytes.Equal(gc, sc))
		}
		if gerr != nil {
			return
		}
		a, ai, aerr := gi.Decrypt(bytes.Clone(sc))
		b, bi, berr := si.Decrypt(bytes.Clone(sc))
		if aerr != nil || berr != nil || !bytes.Equal(a, pt) || !bytes.Equal(b, pt) || ai != bi {
			t.Fatalf("decrypt: goolm %v, sicher %v", aerr, berr)
		}
	})
}

// FuzzDifferentialMegolmDecrypt: arbitrary (mutated) messages decrypt to
// the same plaintext and index in both, or fail in both.
func FuzzDifferentialMegolmDecrypt(f *testing.F) {
	out := must(session.NewMegolmOutboundSession())
	gi := must(session.NewMegolmInboundSession([]byte(out.Key())))
	si := must(libolmDriver.NewInboundGroupSession([]byte(out.Key())))
	for _, p := range []string{"a", "hello world", string(make([]byte, 100))} {
		c := must(out.Encrypt([]byte(p)))
		f.Add(must(base64.RawStdEncoding.DecodeString(string(c))))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg := []byte(base64.RawStdEncoding.EncodeToString(raw))
		a, ai, aerr := gi.Decrypt(bytes.Clone(msg))
		b, bi, berr := si.Decrypt(bytes.Clone(msg))
		if (aerr == nil) != (berr == nil) {
			t.Fatalf("goolm %v, sicher %v", aerr, berr)
		}
		if aerr == nil && (!bytes.Equal(a, b) || ai != bi) {
			t.Fatal("different plaintexts")
		}
	})
}

// FuzzDifferentialOlmDecrypt: arbitrary normal messages to two copies of
// the same established session (one goolm, one sicher) decrypt alike or
// fail in both, and leave equal states.
func FuzzDifferentialOlmDecrypt(f *testing.F) {
	alice := must(account.NewAccount())
	bob := must(account.NewAccount())
	if err := bob.GenOneTimeKeys(1); err != nil {
		f.Fatal(err)
	}
	var otk id.Curve25519
	for _, k := range must(bob.OneTimeKeys()) {
		otk = k
	}
	_, bc, _ := bob.IdentityKeys()
	as := must(alice.NewOutboundSession(bc, otk))
	_, c0, _ := as.Encrypt([]byte("hi"))
	bs := must(bob.NewInboundSession(string(c0)))
	if _, err := bs.Decrypt(string(c0), id.OlmMsgTypePreKey); err != nil {
		f.Fatal(err)
	}
	_, r, _ := bs.Encrypt([]byte("reply"))
	if _, err := as.Decrypt(string(r), id.OlmMsgTypeMsg); err != nil {
		f.Fatal(err)
	}
	bp := must(bs.Pickle(pickleKey))
	var last string
	for i := range 3 {
		_, c, _ := as.Encrypt([]byte{byte(i)})
		f.Add(must(base64.RawStdEncoding.DecodeString(string(c))))
		last = string(c)
	}
	// goolm before mautrix v0.33 pickles skipped message keys oldest
	// first; libolm, sicher and later goolm newest first. Compare states
	// only where goolm follows libolm's order.
	g := must(session.OlmSessionFromPickled(bytes.Clone(bp), pickleKey))
	s := must(libolmDriver.SessionFromPickled(bytes.Clone(bp), pickleKey))
	must(g.Decrypt(last, id.OlmMsgTypeMsg))
	must(s.Decrypt(last, id.OlmMsgTypeMsg))
	compareStates := bytes.Equal(must(g.Pickle(pickleKey)), must(s.Pickle(pickleKey)))
	if !compareStates {
		f.Log("this goolm stores skipped message keys in another order than libolm: states not compared")
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		g := must(session.OlmSessionFromPickled(bytes.Clone(bp), pickleKey))
		s := must(libolmDriver.SessionFromPickled(bytes.Clone(bp), pickleKey))
		msg := base64.RawStdEncoding.EncodeToString(raw)
		a, aerr := g.Decrypt(msg, id.OlmMsgTypeMsg)
		b, berr := s.Decrypt(msg, id.OlmMsgTypeMsg)
		if (aerr == nil) != (berr == nil) {
			t.Fatalf("goolm %v, sicher %v", aerr, berr)
		}
		if aerr == nil && !bytes.Equal(a, b) {
			t.Fatal("different plaintexts")
		}
		if compareStates && !bytes.Equal(must(g.Pickle(pickleKey)), must(s.Pickle(pickleKey))) {
			t.Fatal("states differ after the message")
		}
	})
}

// FuzzDifferentialPickle: a libolm-format group session pickle that both
// load pickles back to the same bytes in both.
func FuzzDifferentialPickle(f *testing.F) {
	out := must(session.NewMegolmOutboundSession())
	in := must(session.NewMegolmInboundSession([]byte(out.Key())))
	f.Add([]byte(must(in.Pickle(pickleKey))))
	f.Fuzz(func(t *testing.T, p []byte) {
		g, gerr := session.MegolmInboundSessionFromPickled(bytes.Clone(p), pickleKey)
		s, serr := libolmDriver.InboundGroupSessionFromPickled(bytes.Clone(p), pickleKey)
		if gerr != nil || serr != nil {
			return // sicher validates more than goolm; both refusing or one refusing is fine
		}
		if !bytes.Equal(must(g.Pickle(pickleKey)), must(s.Pickle(pickleKey))) {
			t.Fatal("pickles differ")
		}
	})
}
