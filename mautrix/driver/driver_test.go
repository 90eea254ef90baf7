package driver_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/mautrix/driver"
	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/crypto/goolm/account"
	"maunium.net/go/mautrix/crypto/goolm/session"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// TestRegister installs every hook.
func TestRegister(t *testing.T) {
	driver.Register()
	if olm.Driver != driver.Name {
		t.Fatalf("olm.Driver = %q", olm.Driver)
	}
	a := must(olm.NewAccount())
	if _, ok := a.(*driver.Account); !ok {
		t.Fatalf("olm.NewAccount made a %T", a)
	}
	for _, v := range []any{olm.NewBlankAccount(), olm.NewBlankSession(), olm.NewBlankInboundGroupSession(), olm.NewBlankOutboundGroupSession(), must(olm.NewOutboundGroupSession()), must(olm.NewPKSigning())} {
		switch v.(type) {
		case *driver.Account, *driver.Session, *driver.InboundGroupSession, *driver.OutboundGroupSession, *driver.PKSigning:
		default:
			t.Fatalf("a %T", v)
		}
	}
	olm.SetPickleKey([]byte("ignored")) // must not panic
}

// TestMigration: objects pickled by goolm (libolm's format) load in the
// default driver, which pickles them in sicher's format from then on; a
// driver with LibolmPickles writes libolm's format again, which goolm
// loads (switching back).
func TestMigration(t *testing.T) {
	d := driver.Driver{}
	g := must(account.NewAccount())
	if err := g.GenOneTimeKeys(10); err != nil {
		t.Fatal(err)
	}
	gp := must(g.Pickle(pickleKey))
	a := must(d.AccountFromPickled(bytes.Clone(gp), pickleKey))
	own := must(a.Pickle(pickleKey))
	if _, err := account.AccountFromPickled(bytes.Clone(own), pickleKey); err == nil {
		t.Fatal("the default driver wrote libolm's format")
	}
	a2 := must(d.AccountFromPickled(own, pickleKey))
	back := must(driver.Driver{Pickles: driver.LibolmPickles}.AccountFromPickled(must(a2.Pickle(pickleKey)), pickleKey))
	g2 := must(account.AccountFromPickled(must(back.Pickle(pickleKey)), pickleKey))
	if !bytes.Equal(must(g2.Pickle(pickleKey)), gp) {
		t.Fatal("the account changed on its way through sicher's format")
	}
	// A sicher-format account made by sicher keeps its Ed25519 seed, so
	// it can still dehydrate; one that went through libolm's format cannot.
	fresh := must(d.NewAccount())
	reloaded := must(d.AccountFromPickled(must(fresh.Pickle(pickleKey)), pickleKey))
	if _, err := reloaded.(*driver.Account).Sicher().Dehydrate(new([32]byte)); err != nil {
		t.Fatalf("sicher format lost the seed: %v", err)
	}
	if _, err := a.(*driver.Account).Sicher().Dehydrate(new([32]byte)); err == nil {
		t.Fatal("an account from a libolm pickle dehydrated")
	}
	// Wrong key: refused, object unchanged.
	if err := a.Unpickle(own, []byte("wrong")); err == nil {
		t.Fatal("wrong pickle key accepted")
	}
	if _, err := a.Pickle(pickleKey); err != nil {
		t.Fatal(err)
	}
}

// TestErrors: the sentinels mautrix compares against, and empty inputs.
func TestErrors(t *testing.T) {
	d := driver.Driver{}
	out := must(d.NewOutboundGroupSession())
	m0 := must(out.Encrypt([]byte("zero")))
	in := must(d.NewInboundGroupSession([]byte(out.Key())))
	if _, _, err := in.Decrypt(m0); !errors.Is(err, olm.ErrUnknownMessageIndex) {
		t.Fatalf("old index: %v", err)
	}
	m1 := must(out.Encrypt([]byte("one")))
	bad := bytes.Clone(m1)
	bad[len(bad)-5] ^= 'A' ^ 'B'
	if _, _, err := in.Decrypt(bad); !errors.Is(err, olm.ErrBadSignature) && !errors.Is(err, olm.ErrLibolmInvalidBase64) && !errors.Is(err, olm.ErrBadMAC) {
		t.Fatalf("tampered: %v", err)
	}
	if pt, idx, err := in.Decrypt(m1); err != nil || string(pt) != "one" || idx != 1 {
		t.Fatalf("after a tampered message: %q %d %v", pt, idx, err)
	}
	empty := []struct {
		name string
		err  error
		want error
	}{
		{"Encrypt", second(out.Encrypt(nil)), olm.ErrEmptyInput},
		{"Decrypt", third(in.Decrypt(nil)), olm.ErrEmptyInput},
		{"NewInboundGroupSession", second(d.NewInboundGroupSession(nil)), olm.ErrEmptyInput},
		{"InboundGroupSessionImport", second(d.InboundGroupSessionImport(nil)), olm.ErrEmptyInput},
		{"InboundGroupSessionFromPickled", second(d.InboundGroupSessionFromPickled(nil, pickleKey)), olm.ErrEmptyInput},
		{"OutboundGroupSessionFromPickled", second(d.OutboundGroupSessionFromPickled(nil, pickleKey)), olm.ErrEmptyInput},
		{"AccountFromPickled", second(d.AccountFromPickled(nil, pickleKey)), olm.ErrEmptyInput},
		{"SessionFromPickled", second(d.SessionFromPickled(nil, pickleKey)), olm.ErrEmptyInput},
		{"NewPKSigningFromSeed", second(d.NewPKSigningFromSeed(nil)), olm.ErrEmptyInput},
		{"Account.Pickle", second(must(d.NewAccount()).Pickle(nil)), olm.ErrNoKeyProvided},
		{"Account.Sign", second(must(d.NewAccount()).Sign(nil)), olm.ErrEmptyInput},
		{"NewOutboundSession", second(must(d.NewAccount()).NewOutboundSession("", "")), olm.ErrEmptyInput},
		{"NewInboundSession", second(must(d.NewAccount()).NewInboundSession("")), olm.ErrEmptyInput},
		{"Session.Pickle", second(d.NewBlankSession().Pickle(nil)), olm.ErrNoKeyProvided},
	}
	for _, e := range empty {
		if !errors.Is(e.err, e.want) {
			t.Errorf("%s: %v, want %v", e.name, e.err, e.want)
		}
	}
	// Olm: a forged pre-key message neither makes a session nor burns a key.
	alice, bob := must(d.NewAccount()), must(d.NewAccount())
	if err := bob.GenOneTimeKeys(1); err != nil {
		t.Fatal(err)
	}
	var otk id.Curve25519
	for _, k := range must(bob.OneTimeKeys()) {
		otk = k
	}
	as := must(alice.NewOutboundSession(curve(bob), otk))
	_, c, _ := as.Encrypt([]byte("hi"))
	forged := []byte(string(c))
	forged[len(forged)-3] ^= 'A' ^ 'B'
	if _, err := bob.NewInboundSession(string(forged)); err == nil {
		t.Fatal("a forged pre-key message made a session")
	}
	if len(must(bob.OneTimeKeys())) != 1 {
		t.Fatal("the forged message burnt the one-time key")
	}
	bs := must(bob.NewInboundSession(string(c)))
	if err := bob.RemoveOneTimeKeys(session.NewOlmSession()); !errors.Is(err, olm.ErrBadInput) {
		t.Fatalf("a goolm session: %v", err)
	}
	if _, err := bs.Decrypt(string(c), id.OlmMsgTypePreKey); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Decrypt(string(c), id.OlmMsgTypePreKey); !errors.Is(err, olm.ErrMessageKeyNotFound) || !errors.Is(err, sicherolm.ErrUnknownMessageIndex) {
		t.Fatalf("replay: %v", err)
	}
	if err := bob.RemoveOneTimeKeys(bs); err != nil {
		t.Fatal(err)
	}
	if err := bob.RemoveOneTimeKeys(bs); !errors.Is(err, olm.ErrBadMessageKeyID) {
		t.Fatalf("second removal: %v", err)
	}
	// A blank session refuses to act with sicher's typed error.
	if _, _, err := d.NewBlankSession().Encrypt([]byte("x")); !errors.Is(err, sicherolm.ErrBlankSession) {
		t.Fatalf("blank: %v", err)
	}
	if _, err := olm.NewBlankAccount().Pickle(pickleKey); !errors.Is(err, driver.ErrBlank) {
		t.Fatalf("blank account: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
