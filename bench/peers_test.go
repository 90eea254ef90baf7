package bench

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"maunium.net/go/mautrix/crypto/goolm/account"
	"maunium.net/go/mautrix/crypto/goolm/session"
	"maunium.net/go/mautrix/crypto/libolm"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// Impl names, in the default order.
var implOrder = []string{"sicher", "goolm", "libolm", "floor"}

func init() {
	if s := os.Getenv("BENCH_ORDER"); s != "" {
		implOrder = strings.Split(s, ",")
	}
}

// impls maps an implementation name to its benchmark body.
type impls map[string]func(b *testing.B)

// run runs the implementations present in m as adjacent sub-benchmarks in
// implOrder, adding the sicher implementation registered under name.
func run(b *testing.B, name string, m impls) {
	if f, ok := sicherBench[name]; ok {
		m["sicher"] = f
	}
	if collecting {
		// testing.Benchmark may call a Benchmark function several times.
		for _, c := range collected {
			if c.name == name {
				return
			}
		}
		collected = append(collected, collectedOp{name, m})
		return
	}
	for _, n := range implOrder {
		if f, ok := m[n]; ok {
			b.Run(n, f)
		}
	}
}

// sicherBench holds the sicher side of each operation, keyed by the
// benchmark's full name below the top level (e.g. "MegolmEncrypt/100B");
// sicher_test.go fills it.
var sicherBench = map[string]func(b *testing.B){}

var pickleKey = []byte("0123456789abcdef0123456789abcdef")

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// payload returns n bytes of printable JSON-ish text (valid JSON string for
// the backup payload when wrapped).
func payload(n int) []byte {
	b := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), n/32+1)[:n]
	return b
}

// jsonPayload returns a JSON object of exactly n bytes.
func jsonPayload(n int) []byte {
	b := []byte(`{"k":"`)
	b = append(b, payload(n-len(b)-2)...)
	return append(b, '"', '}')
}

// peer is one of the two mautrix drivers, reached through mautrix's
// crypto/olm interfaces.
type peer struct {
	newAccount       func() (olm.Account, error)
	accountFromPkl   func(p, key []byte) (olm.Account, error)
	sessionFromPkl   func(p, key []byte) (olm.Session, error)
	newOutboundGroup func() (olm.OutboundGroupSession, error)
	newInboundGroup  func(key []byte) (olm.InboundGroupSession, error)
	importGroup      func(exp []byte) (olm.InboundGroupSession, error)
	igsFromPkl       func(p, key []byte) (olm.InboundGroupSession, error)
}

var goolmPeer = peer{
	newAccount: func() (olm.Account, error) { return account.NewAccount() },
	accountFromPkl: func(p, key []byte) (olm.Account, error) {
		return account.AccountFromPickled(p, key)
	},
	sessionFromPkl: func(p, key []byte) (olm.Session, error) {
		return session.OlmSessionFromPickled(p, key)
	},
	newOutboundGroup: func() (olm.OutboundGroupSession, error) { return session.NewMegolmOutboundSession() },
	newInboundGroup: func(k []byte) (olm.InboundGroupSession, error) {
		return session.NewMegolmInboundSession(k)
	},
	importGroup: func(k []byte) (olm.InboundGroupSession, error) {
		return session.NewMegolmInboundSessionFromExport(k)
	},
	igsFromPkl: func(p, key []byte) (olm.InboundGroupSession, error) {
		return session.MegolmInboundSessionFromPickled(p, key)
	},
}

// libolm's binding decodes base64 input in place, destroying the caller's
// buffer (reference §5), so every input is cloned first, as mautrix does.
var libolmPeer = peer{
	newAccount: func() (olm.Account, error) { return libolm.NewAccount() },
	accountFromPkl: func(p, key []byte) (olm.Account, error) {
		return libolm.AccountFromPickled(bytes.Clone(p), key)
	},
	sessionFromPkl: func(p, key []byte) (olm.Session, error) {
		return libolm.SessionFromPickled(bytes.Clone(p), key)
	},
	newOutboundGroup: func() (olm.OutboundGroupSession, error) { return libolm.NewOutboundGroupSession() },
	newInboundGroup: func(k []byte) (olm.InboundGroupSession, error) {
		return libolm.NewInboundGroupSession(bytes.Clone(k))
	},
	importGroup: func(k []byte) (olm.InboundGroupSession, error) {
		return libolm.InboundGroupSessionImport(bytes.Clone(k))
	},
	igsFromPkl: func(p, key []byte) (olm.InboundGroupSession, error) {
		return libolm.InboundGroupSessionFromPickled(bytes.Clone(p), key)
	},
}

var peers = map[string]peer{"goolm": goolmPeer, "libolm": libolmPeer}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// firstOTK returns one unpublished one-time key of a (generating one).
func firstOTK(a olm.Account) id.Curve25519 {
	if err := a.GenOneTimeKeys(1); err != nil {
		panic(err)
	}
	for _, k := range must(a.OneTimeKeys()) {
		return k
	}
	panic("no one-time key")
}

// olmPair is an established Olm session pair: Alice sent a pre-key message,
// Bob answered, Alice received it, so both sides now send normal messages.
type olmPair struct {
	alice, bob       olm.Account
	aliceS, bobS     olm.Session
	preKeyMsg        string // Alice's first message
	bobIdentity, otk id.Curve25519
}

func newOlmPair(p peer) *olmPair {
	x := &olmPair{alice: must(p.newAccount()), bob: must(p.newAccount())}
	_, x.bobIdentity, _ = x.bob.IdentityKeys()
	x.otk = firstOTK(x.bob)
	x.aliceS = must(x.alice.NewOutboundSession(x.bobIdentity, x.otk))
	typ, msg, err := x.aliceS.Encrypt([]byte("hello"))
	if err != nil || typ != id.OlmMsgTypePreKey {
		panic("olm setup")
	}
	x.preKeyMsg = string(msg)
	x.bobS = must(x.bob.NewInboundSession(x.preKeyMsg))
	must(x.bobS.Decrypt(x.preKeyMsg, typ))
	typ, msg, _ = x.bobS.Encrypt([]byte("hi"))
	must(x.aliceS.Decrypt(string(msg), typ))
	return x
}

// megolmFixture: an outbound session from goolm whose messages every
// implementation decrypts (same inputs for all).
type megolmFixture struct {
	sessionKey []byte // signed session-sharing format (m.room_key)
	export0    []byte // export format at index 0
	msgs       map[int][]byte
	msg1M      []byte // 100 B at index 1,000,000
}

var megolmFix = func() *megolmFixture {
	out := must(session.NewMegolmOutboundSession())
	f := &megolmFixture{sessionKey: []byte(out.Key()), msgs: map[int][]byte{}}
	in := must(session.NewMegolmInboundSession(f.sessionKey))
	f.export0 = must(in.Export(0))
	for _, n := range []int{100, 1024, 65536} {
		f.msgs[n] = must(out.Encrypt(payload(n)))
	}
	out.Ratchet.AdvanceTo(1_000_000)
	f.msg1M = must(out.Encrypt(payload(100)))
	return f
}()
