package driver_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/mautrix/driver"
	"github.com/sicher-go/sicher/mautrix/internal/cputime"
	"maunium.net/go/mautrix/crypto/goolm/account"
	"maunium.net/go/mautrix/crypto/goolm/session"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// impl is one driver's constructors, as mautrix calls them through its
// olm hooks. The benchmarks run every operation for each driver as
// adjacent sub-benchmarks: BenchmarkX/goolm, BenchmarkX/sicher and, in a
// cgo build without the goolm tag, BenchmarkX/libolm.
type impl struct {
	name        string
	newAccount  func() (olm.Account, error)
	accountFrom func(p, k []byte) (olm.Account, error)
	sessionFrom func(p, k []byte) (olm.Session, error)
	newOutbound func() (olm.OutboundGroupSession, error)
	newInbound  func(key []byte) (olm.InboundGroupSession, error)
	inboundFrom func(p, k []byte) (olm.InboundGroupSession, error)
}

var impls = []impl{
	{
		name:        "goolm",
		newAccount:  func() (olm.Account, error) { return account.NewAccount() },
		accountFrom: func(p, k []byte) (olm.Account, error) { return account.AccountFromPickled(p, k) },
		sessionFrom: func(p, k []byte) (olm.Session, error) { return session.OlmSessionFromPickled(p, k) },
		newOutbound: func() (olm.OutboundGroupSession, error) { return session.NewMegolmOutboundSession() },
		newInbound:  func(key []byte) (olm.InboundGroupSession, error) { return session.NewMegolmInboundSession(key) },
		inboundFrom: func(p, k []byte) (olm.InboundGroupSession, error) {
			return session.MegolmInboundSessionFromPickled(p, k)
		},
	},
	{
		name:        "sicher",
		newAccount:  driver.Driver{}.NewAccount,
		accountFrom: driver.Driver{}.AccountFromPickled,
		sessionFrom: driver.Driver{}.SessionFromPickled,
		newOutbound: driver.Driver{}.NewOutboundGroupSession,
		newInbound:  driver.Driver{}.NewInboundGroupSession,
		inboundFrom: driver.Driver{}.InboundGroupSessionFromPickled,
	},
}

func forEach(b *testing.B, f func(b *testing.B, x impl)) {
	for _, x := range impls {
		b.Run(x.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			f(b, x)
		})
	}
}

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it per op as cpu-ns/op. On a machine shared with other
// jobs, waiting for a core inflates ns/op (wall time) but not CPU time.
// The measurement includes the benchmark's setup, which is at most a few
// milliseconds against the loop's benchtime.
func reportCPU(b *testing.B) func() {
	start := cputime.Now()
	return func() {
		if used := cputime.Now() - start; start > 0 && b.N > 0 {
			b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
		}
	}
}

var sizes = []int{100, 1024, 65536}

func sizeName(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkMegolmEncrypt(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			forEach(b, func(b *testing.B, x impl) {
				s := must(x.newOutbound())
				pt := bytes.Repeat([]byte("x"), n)
				b.SetBytes(int64(n))
				for b.Loop() {
					if _, err := s.Encrypt(pt); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkMegolmDecrypt(b *testing.B) {
	for _, n := range sizes {
		b.Run(sizeName(n), func(b *testing.B) {
			forEach(b, func(b *testing.B, x impl) {
				out := must(x.newOutbound())
				in := must(x.newInbound([]byte(out.Key())))
				msg := must(out.Encrypt(bytes.Repeat([]byte("x"), n)))
				b.SetBytes(int64(n))
				buf := make([]byte, len(msg))
				for b.Loop() {
					copy(buf, msg) // libolm decodes in place
					if _, _, err := in.Decrypt(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkAccountCreate(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		for b.Loop() {
			if _, err := x.newAccount(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGenerate100OneTimeKeys(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		a := must(x.newAccount())
		for b.Loop() {
			if err := a.GenOneTimeKeys(100); err != nil {
				b.Fatal(err)
			}
			a.MarkKeysAsPublished()
		}
	})
}

// olmPair returns Bob's account, a pre-key message to him and Alice's
// session.
func olmPair(b *testing.B, x impl) (alice, bob olm.Account, as olm.Session, prekey string) {
	alice, bob = must(x.newAccount()), must(x.newAccount())
	if err := bob.GenOneTimeKeys(1); err != nil {
		b.Fatal(err)
	}
	var otk id.Curve25519
	for _, k := range must(bob.OneTimeKeys()) {
		otk = k
	}
	as = must(alice.NewOutboundSession(curve(bob), otk))
	_, c, err := as.Encrypt([]byte("first message"))
	if err != nil {
		b.Fatal(err)
	}
	return alice, bob, as, string(c)
}

func BenchmarkOlmOutboundSession(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		alice, bob, _, _ := olmPair(b, x)
		var otk id.Curve25519
		for _, k := range must(bob.OneTimeKeys()) {
			otk = k
		}
		ik := curve(bob)
		for b.Loop() {
			if _, err := alice.NewOutboundSession(ik, otk); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOlmInboundSession: the session from a pre-key message and its
// decryption, mautrix's two steps.
func BenchmarkOlmInboundSession(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		_, bob, _, c := olmPair(b, x)
		for b.Loop() {
			s, err := bob.NewInboundSession(c)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Decrypt(c, id.OlmMsgTypePreKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func establish(b *testing.B, x impl) (as, bs olm.Session) {
	_, bob, as, c := olmPair(b, x)
	bs = must(bob.NewInboundSession(c))
	if _, err := bs.Decrypt(c, id.OlmMsgTypePreKey); err != nil {
		b.Fatal(err)
	}
	typ, r, _ := bs.Encrypt([]byte("reply"))
	if _, err := as.Decrypt(string(r), typ); err != nil {
		b.Fatal(err)
	}
	return as, bs
}

// BenchmarkOlmSameChain1KiB: encrypt and decrypt 1 KiB on an established
// chain.
func BenchmarkOlmSameChain1KiB(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		as, bs := establish(b, x)
		pt := bytes.Repeat([]byte("x"), 1024)
		for b.Loop() {
			typ, c, err := as.Encrypt(pt)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bs.Decrypt(string(c), typ); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOlmPingPong1KiB: a message each way, each a ratchet step.
func BenchmarkOlmPingPong1KiB(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		as, bs := establish(b, x)
		pt := bytes.Repeat([]byte("x"), 1024)
		for b.Loop() {
			for _, p := range [][2]olm.Session{{as, bs}, {bs, as}} {
				typ, c, err := p[0].Encrypt(pt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p[1].Decrypt(string(c), typ); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkPickleAccount50(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		a := must(x.newAccount())
		if err := a.GenOneTimeKeys(50); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			p := must(a.Pickle(pickleKey))
			if _, err := x.accountFrom(p, pickleKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPickleOlmSession(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		_, bs := establish(b, x)
		for b.Loop() {
			p := must(bs.Pickle(pickleKey))
			if _, err := x.sessionFrom(p, pickleKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPickleInboundGroupSession(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		out := must(x.newOutbound())
		in := must(x.newInbound([]byte(out.Key())))
		for b.Loop() {
			p := must(in.Pickle(pickleKey))
			if _, err := x.inboundFrom(p, pickleKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	forEach(b, func(b *testing.B, x impl) {
		a := must(x.newAccount())
		msg := bytes.Repeat([]byte("x"), 200)
		for b.Loop() {
			if _, err := a.Sign(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
