package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
)

// counterReader is a deterministic stream: SHA-256(next ‖ block counter),
// so tests are reproducible and keys never repeat.
type counterReader struct {
	next  byte
	block uint64
	buf   []byte
}

func (c *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		if len(c.buf) == 0 {
			h := sha256.Sum256([]byte{c.next, byte(c.block), byte(c.block >> 8), byte(c.block >> 16), byte(c.block >> 24)})
			c.buf = h[:]
			c.block++
		}
		p[i] = c.buf[0]
		c.buf = c.buf[1:]
	}
	return len(p), nil
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no randomness") }

// pair returns Alice's and Bob's ratchets for the same 3DH secret, with
// Alice's first ratchet key from rand.
func pair(t testing.TB, rand *counterReader) (alice, bob *Ratchet) {
	t.Helper()
	shared := make([]byte, 96)
	rand.Read(shared)
	priv, err := key.GenerateCurve25519(rand)
	if err != nil {
		t.Fatal(err)
	}
	return NewAlice(shared, priv), NewBob(shared, key.Curve25519Public(priv))
}

// sent is a message "on the wire": its chain, index and key.
type sent struct {
	ratchetKey key.Curve25519
	mk         MessageKey
}

func send(t testing.TB, r *Ratchet, rand *counterReader) sent {
	t.Helper()
	rk, mk, err := r.NextMessageKey(rand)
	if err != nil {
		t.Fatal(err)
	}
	return sent{rk, mk}
}

// expect opens a message by comparing the derived key with the sender's,
// as a MAC check would.
func expect(m sent) func(MessageKey) error {
	return func(got MessageKey) error {
		if got.index != m.mk.index || !hmac.Equal(got.key[:], m.mk.key[:]) {
			return errors.New("test: wrong message key")
		}
		return nil
	}
}

func receive(r *Ratchet, m sent) error { return r.Receive(m.ratchetKey, m.mk.index, expect(m)) }

func mustReceive(t testing.TB, r *Ratchet, m sent) {
	t.Helper()
	if err := receive(r, m); err != nil {
		t.Fatalf("message %d: %v", m.mk.index, err)
	}
}

// unchanged fails the test if f changes r's state.
func unchanged(t *testing.T, r *Ratchet, what string, f func()) {
	t.Helper()
	before := r.AppendState(nil)
	f()
	if !bytes.Equal(before, r.AppendState(nil)) {
		t.Errorf("%s changed the ratchet state", what)
	}
}

// TestChainKnownAnswer checks the chain steps against HMAC from crypto/hmac
// (olm.md: M = HMAC(C, 0x01), C' = HMAC(C, 0x02)).
func TestChainKnownAnswer(t *testing.T) {
	var c chainKey
	for i := range c.key {
		c.key[i] = byte(i)
	}
	ref := func(k []byte, b byte) []byte {
		h := hmac.New(sha256.New, k)
		h.Write([]byte{b})
		return h.Sum(nil)
	}
	want := append([]byte(nil), c.key[:]...)
	for i := range 100 {
		mk := c.messageKey()
		if !bytes.Equal(mk.key[:], ref(want, 1)) || mk.index != uint32(i) {
			t.Fatalf("message key %d differs from HMAC(C, 0x01)", i)
		}
		c.advance()
		want = ref(want, 2)
		if !bytes.Equal(c.key[:], want) {
			t.Fatalf("chain key %d differs from HMAC(C, 0x02)", i+1)
		}
	}
}

func TestConversation(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	if alice.sender == nil || bob.sender != nil {
		t.Fatal("Alice starts with a sending chain, Bob without")
	}
	for round := range 10 {
		for range round % 3 {
			mustReceive(t, bob, send(t, alice, rand))
		}
		m := send(t, alice, rand)
		mustReceive(t, bob, m)
		mustReceive(t, alice, send(t, bob, rand))
	}
	if len(alice.receivers) != MaxReceiverChains {
		t.Errorf("alice has %d receiver chains, want %d", len(alice.receivers), MaxReceiverChains)
	}
}

func TestEncryptDrawsRandomOnlyForNewChain(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	if _, _, err := alice.NextMessageKey(failReader{}); err != nil {
		t.Fatalf("Alice's first chain needs no randomness: %v", err)
	}
	m := send(t, alice, rand)
	mustReceive(t, bob, m)
	unchanged(t, bob, "failed Encrypt", func() {
		if _, _, err := bob.NextMessageKey(failReader{}); err == nil {
			t.Fatal("Bob's first message needs 32 random bytes")
		}
	})
	mustReceive(t, alice, send(t, bob, rand))
	if _, _, err := bob.NextMessageKey(failReader{}); err != nil {
		t.Fatalf("second message on a chain needs no randomness: %v", err)
	}
}

func TestOutOfOrderAndDropped(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	var ms []sent
	for range 10 {
		ms = append(ms, send(t, alice, rand))
	}
	for _, i := range []int{3, 1, 9, 0, 4} { // 2, 5-8 dropped
		mustReceive(t, bob, ms[i])
	}
	if got := len(bob.receivers[0].skipped); got != 5 { // 2, 5, 6, 7, 8
		t.Errorf("%d skipped keys kept, want 5", got)
	}
	for _, i := range []int{3, 1, 9, 0, 4} {
		unchanged(t, bob, "replay", func() {
			if err := receive(bob, ms[i]); !errors.Is(err, ErrUnknownMessageIndex) {
				t.Errorf("replay of %d: %v", i, err)
			}
		})
	}
	for _, i := range []int{8, 2, 5, 7, 6} {
		mustReceive(t, bob, ms[i])
	}
	if got := len(bob.receivers[0].skipped); got != 0 {
		t.Errorf("%d skipped keys left", got)
	}
}

func TestMaxGap(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  int
		ok   bool
	}{{"2000", MaxMessageGap, true}, {"2001", MaxMessageGap + 1, false}} {
		t.Run("existing chain "+tc.name, func(t *testing.T) {
			rand := &counterReader{}
			alice, bob := pair(t, rand)
			mustReceive(t, bob, send(t, alice, rand)) // chain at 1
			var m sent
			for range tc.gap + 1 {
				m = send(t, alice, rand) // index gap+1: gap from chain index 1
			}
			if !tc.ok {
				unchanged(t, bob, "gap", func() {
					if err := receive(bob, m); !errors.Is(err, ErrMessageGap) {
						t.Fatalf("gap %d: %v", tc.gap, err)
					}
				})
				return
			}
			mustReceive(t, bob, m)
			if n := len(bob.receivers[0].skipped); n != MaxSkippedKeys {
				t.Errorf("%d skipped keys kept, want %d", n, MaxSkippedKeys)
			}
		})
		t.Run("new chain "+tc.name, func(t *testing.T) {
			rand := &counterReader{}
			alice, bob := pair(t, rand)
			mustReceive(t, bob, send(t, alice, rand))
			var m sent
			for range tc.gap + 1 {
				m = send(t, bob, rand) // a new chain for Alice; index = gap
			}
			if !tc.ok {
				unchanged(t, alice, "gap", func() {
					if err := receive(alice, m); !errors.Is(err, ErrMessageGap) {
						t.Fatalf("gap %d: %v", tc.gap, err)
					}
				})
				return
			}
			mustReceive(t, alice, m)
		})
	}
}

// TestGapCheckedBeforeDerivation proves the gap is rejected before any key
// is derived: open is never called, and a gap of 2^32-2 returns at once.
func TestGapCheckedBeforeDerivation(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	m := send(t, alice, rand)
	called := false
	err := bob.Receive(m.ratchetKey, 1<<32-2, func(MessageKey) error { called = true; return nil })
	if !errors.Is(err, ErrMessageGap) || called {
		t.Fatalf("err %v, open called %v", err, called)
	}
	if err := bob.Receive(m.ratchetKey, 1<<32-1, func(MessageKey) error { called = true; return nil }); err == nil || called {
		t.Fatalf("index 2^32-1: %v", err)
	}
}

func TestSkippedKeyBound(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	var ms []sent
	for range 60 {
		ms = append(ms, send(t, alice, rand))
	}
	mustReceive(t, bob, ms[59]) // skips 0..58: keeps 19..58
	if n := len(bob.receivers[0].skipped); n != MaxSkippedKeys {
		t.Fatalf("%d skipped keys, want %d", n, MaxSkippedKeys)
	}
	unchanged(t, bob, "dropped skipped key", func() {
		if err := receive(bob, ms[18]); !errors.Is(err, ErrUnknownMessageIndex) {
			t.Errorf("index 18: %v", err)
		}
	})
	mustReceive(t, bob, ms[19])
	mustReceive(t, bob, ms[58])

	// Keys are kept per chain: a second chain with 40 skipped keys does not
	// evict the first chain's (libolm's single list of 40 would).
	mustReceive(t, alice, send(t, bob, rand))
	var ms2 []sent
	for range 41 {
		ms2 = append(ms2, send(t, alice, rand))
	}
	mustReceive(t, bob, ms2[40])
	mustReceive(t, bob, ms[20])
	mustReceive(t, bob, ms2[0])
}

func TestReceiverChainEviction(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	mustReceive(t, bob, send(t, alice, rand))
	held := send(t, bob, rand) // on Bob's first chain; delivered late
	mustReceive(t, alice, send(t, bob, rand))
	mustReceive(t, alice, send(t, bob, rand)) // (same chain as held)
	for range MaxReceiverChains - 1 {
		mustReceive(t, bob, send(t, alice, rand))
		mustReceive(t, alice, send(t, bob, rand))
	}
	// Alice holds 5 chains; held's chain is the oldest and still there.
	if i := alice.findReceiver(held.ratchetKey); i != MaxReceiverChains-1 {
		t.Fatalf("held chain at %d", i)
	}
	before := alice.AppendState(nil)
	mustReceive(t, alice, held)
	r2, err := ParseState(before)
	if err != nil {
		t.Fatal(err)
	}
	// A 6th chain evicts it.
	mustReceive(t, bob, send(t, r2, rand))
	mustReceive(t, r2, send(t, bob, rand))
	unchanged(t, r2, "message on an evicted chain", func() {
		if err := receive(r2, held); err == nil {
			t.Fatal("message on an evicted chain decrypted")
		}
	})
	if i := r2.findReceiver(held.ratchetKey); i != -1 || len(r2.receivers) != MaxReceiverChains {
		t.Fatalf("oldest chain not evicted: index %d, %d chains", i, len(r2.receivers))
	}
}

func TestFailedOpenLeavesStateUnchanged(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	boom := errors.New("bad MAC")
	fail := func(MessageKey) error { return boom }
	ms := []sent{send(t, alice, rand), send(t, alice, rand), send(t, alice, rand)}
	for _, m := range []sent{ms[2], ms[0]} { // a gap, then in order
		unchanged(t, bob, "failed open", func() {
			if err := bob.Receive(m.ratchetKey, m.mk.index, fail); err != boom {
				t.Fatalf("got %v", err)
			}
		})
	}
	mustReceive(t, bob, ms[2])
	unchanged(t, bob, "failed open of a skipped key", func() {
		if err := bob.Receive(ms[0].ratchetKey, 0, fail); err != boom {
			t.Fatal(err)
		}
	})
	m := send(t, bob, rand)
	unchanged(t, alice, "failed open on a new chain", func() {
		if err := alice.Receive(m.ratchetKey, 0, fail); err != boom {
			t.Fatal(err)
		}
	})
	mustReceive(t, alice, m)
}

// lowOrder are Curve25519 points of small order (RFC 7748 §6.1 note;
// libsodium's blocklist): X25519 with any of them gives all zeros.
var lowOrder = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func TestNonContributoryRatchetKey(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	mustReceive(t, bob, send(t, alice, rand))
	mustReceive(t, alice, send(t, bob, rand)) // Alice has no sending chain now
	send(t, alice, rand)                      // now she has one
	for _, h := range lowOrder {
		var k key.Curve25519
		hex.Decode(k[:], []byte(h))
		unchanged(t, alice, "low-order ratchet key", func() {
			err := alice.Receive(k, 0, func(MessageKey) error { t.Fatal("open called"); return nil })
			if !errors.Is(err, key.ErrNonContributory) {
				t.Errorf("%s: %v", h, err)
			}
		})
	}
	// A low-order key as the peer's newest chain fails our next sending step.
	bob2 := NewBob(make([]byte, 96), key.Curve25519{})
	unchanged(t, bob2, "Encrypt against a low-order key", func() {
		if _, _, err := bob2.NextMessageKey(rand); !errors.Is(err, key.ErrNonContributory) {
			t.Errorf("Encrypt: %v", err)
		}
	})
}

func TestNoSendingChain(t *testing.T) {
	rand := &counterReader{}
	_, bob := pair(t, rand)
	other := send(t, NewAlice(make([]byte, 96), mustKey(t, rand)), rand)
	unchanged(t, bob, "new chain without a sending chain", func() {
		if err := receive(bob, other); !errors.Is(err, ErrNoSendingChain) {
			t.Errorf("got %v", err)
		}
	})
}

func mustKey(t testing.TB, rand *counterReader) *ecdh.PrivateKey {
	t.Helper()
	k, err := key.GenerateCurve25519(rand)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestStateRoundTrip(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	var held []sent
	for i := range 8 {
		for j := range 3 {
			m := send(t, alice, rand)
			if j == 1 {
				held = append(held, m)
			} else {
				mustReceive(t, bob, m)
			}
		}
		if i < 7 {
			mustReceive(t, alice, send(t, bob, rand))
		}
	}
	for _, r := range []*Ratchet{alice, bob} {
		st := r.AppendState(nil)
		r2, err := ParseState(st)
		if err != nil {
			t.Fatal(err)
		}
		if !r2.Equal(r) || r2.Describe() != r.Describe() {
			t.Fatal("ParseState(AppendState) differs")
		}
		for n := range len(st) {
			if _, err := ParseState(st[:n]); !errors.Is(err, ErrBadState) {
				t.Fatalf("prefix of %d bytes: %v", n, err)
			}
		}
		if _, err := ParseState(append(st, 0)); !errors.Is(err, ErrBadState) {
			t.Fatal("trailing byte accepted")
		}
		lo := r.AppendLibolmState(nil)
		r3, err := ParseLibolmState(lo)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r3.AppendLibolmState(nil), lo) {
			t.Fatal("libolm state round trip differs")
		}
		for n := range len(lo) {
			if _, err := ParseLibolmState(lo[:n]); !errors.Is(err, ErrBadState) {
				t.Fatalf("libolm prefix of %d bytes: %v", n, err)
			}
		}
	}
	// Bob's held messages still decrypt after a round trip through either layout.
	b2, _ := ParseState(bob.AppendState(nil))
	b3, _ := ParseLibolmState(bob.AppendLibolmState(nil))
	for _, m := range held[len(held)-5:] {
		mustReceive(t, b2, m)
		mustReceive(t, b3, m)
	}
}

func TestParseStateLimits(t *testing.T) {
	root := make([]byte, 32)
	for _, tc := range []struct {
		name  string
		state []byte
	}{
		{"empty", nil},
		{"no chains", append(append([]byte{}, root...), 0, 0)},
		{"bad bool", append(append([]byte{}, root...), 2, 0)},
		{"6 receiver chains", append(append([]byte{}, root...), 0, 6)},
		{"41 skipped keys", append(append(append(append([]byte{}, root...), 0, 1), make([]byte, 68)...), 41)},
	} {
		if _, err := ParseState(append([]byte{StateVersion}, tc.state...)); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	u32 := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	for _, tc := range []struct {
		name  string
		state []byte
	}{
		{"2 sender chains", append(append([]byte{}, root...), u32(2)...)},
		{"6 receiver chains", append(append(append([]byte{}, root...), u32(0)...), u32(6)...)},
		{"huge count", append(append(append([]byte{}, root...), u32(0)...), u32(1<<31)...)},
		{"no chains", append(append(append(append([]byte{}, root...), u32(0)...), u32(0)...), u32(0)...)},
		{"sender chain only", append(append(append([]byte{}, root...), u32(1)...), make([]byte, 100)...)},
	} {
		if _, err := ParseLibolmState(tc.state); !errors.Is(err, ErrBadState) {
			t.Errorf("libolm %s: %v", tc.name, err)
		}
	}
}

// TestRedaction: fmt, log/slog and encoding/json never show a root, chain,
// ratchet or message key.
func TestRedaction(t *testing.T) {
	rand := &counterReader{next: 0x5a}
	alice, bob := pair(t, rand)
	m := send(t, alice, rand)
	mustReceive(t, bob, m)
	secrets := [][]byte{alice.root[:], alice.sender.chain.key[:], alice.sender.priv[:], m.mk.key[:], bob.root[:], bob.receivers[0].chain.key[:]}
	for _, v := range []any{alice, bob, *alice, *bob, m.mk, &m.mk} {
		cryptotest.Redacted(t, v, secrets...)
	}
}

func TestDecryptAllocations(t *testing.T) {
	rand := &counterReader{}
	alice, bob := pair(t, rand)
	noop := func(MessageKey) error { return nil }
	n := testing.AllocsPerRun(100, func() {
		rk, mk, _ := alice.NextMessageKey(rand)
		if err := bob.Receive(rk, mk.index, noop); err != nil {
			t.Fatal(err)
		}
	})
	if n > 0 {
		t.Errorf("Encrypt+Decrypt on one chain: %v allocations, want 0", n)
	}
}

func FuzzParseState(f *testing.F) {
	rand := &counterReader{}
	alice, bob := pair(f, rand)
	mustReceive(f, bob, send(f, alice, rand))
	send(f, alice, rand)
	mustReceive(f, bob, send(f, alice, rand))
	for _, r := range []*Ratchet{alice, bob} {
		f.Add(r.AppendState(nil), false)
		f.Add(r.AppendLibolmState(nil), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, libolm bool) {
		var r *Ratchet
		var err error
		if libolm {
			r, err = ParseLibolmState(b)
		} else {
			r, err = ParseState(b)
		}
		if err != nil {
			return
		}
		// A parsed state can be used without panics.
		r.Describe()
		r.Receive(key.Curve25519{9}, 3, func(MessageKey) error { return nil })
		r.NextMessageKey(rand)
	})
}

func BenchmarkChainStep(b *testing.B) {
	var c chainKey
	b.ReportAllocs()
	for b.Loop() {
		_ = c.messageKey()
		c.advance()
	}
}

func BenchmarkEncryptDecryptOneChain(b *testing.B) {
	rand := &counterReader{}
	alice, bob := pair(b, rand)
	noop := func(MessageKey) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		rk, mk, _ := alice.NextMessageKey(rand)
		if err := bob.Receive(rk, mk.index, noop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRatchetStepPingPong(b *testing.B) {
	rand := &counterReader{}
	alice, bob := pair(b, rand)
	noop := func(MessageKey) error { return nil }
	from, to := alice, bob
	b.ReportAllocs()
	for b.Loop() {
		rk, mk, err := from.NextMessageKey(rand)
		if err != nil {
			b.Fatal(err)
		}
		if err := to.Receive(rk, mk.index, noop); err != nil {
			b.Fatal(err)
		}
		from, to = to, from
	}
}

func BenchmarkGap2000(b *testing.B) {
	rand := &counterReader{}
	alice, bob := pair(b, rand)
	for range MaxMessageGap {
		alice.NextMessageKey(rand)
	}
	rk, mk, _ := alice.NextMessageKey(rand)
	noop := func(MessageKey) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		r, _ := ParseState(bob.AppendState(nil))
		if err := r.Receive(rk, mk.index, noop); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChainExhausted(t *testing.T) {
	rand := &counterReader{}
	alice, _ := pair(t, rand)
	alice.sender.chain.index = 1<<32 - 1
	unchanged(t, alice, "exhausted chain", func() {
		if _, _, err := alice.NextMessageKey(rand); !errors.Is(err, ErrChainExhausted) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCloneIsIndependent(t *testing.T) {
	rand := &counterReader{next: 7}
	alice, bob := pair(t, rand)
	mustReceive(t, bob, send(t, alice, rand))
	reply := send(t, bob, rand)
	mustReceive(t, alice, reply)
	send(t, alice, rand) // a message Bob skips: a skipped key in the copy
	c := bob.Clone()
	if !c.Equal(bob) {
		t.Fatal("clone differs from the original")
	}
	// Work on the clone: receive, skip and reply; the original must not move.
	unchanged(t, bob, "work on a clone", func() {
		mustReceive(t, c, send(t, alice, rand))
		mustReceive(t, alice, send(t, c, rand))
		mustReceive(t, c, send(t, alice, rand))
	})
	if c.Equal(bob) {
		t.Fatal("clone did not change")
	}
}

// TestParseStateVersions: the version byte is required and checked; state
// version 1 (no public ratchet key) and its unversioned form in olm session
// pickles version 1 still parse, deriving the public key.
func TestParseStateVersions(t *testing.T) {
	alice, _ := pair(t, &counterReader{})
	st := alice.AppendState(nil)
	if st[0] != StateVersion || StateVersion != 2 {
		t.Fatalf("version %d written", st[0])
	}
	// Version 1: the same without our public ratchet key (after the root
	// key, the has-sender byte and the private key).
	v1 := append(append([]byte{1}, st[1:1+32+1+32]...), st[1+32+1+32+32:]...)
	for name, parse := range map[string]func() (*Ratchet, error){
		"version 1":   func() (*Ratchet, error) { return ParseState(v1) },
		"unversioned": func() (*Ratchet, error) { return ParseUnversionedState(v1[1:]) },
	} {
		r, err := parse()
		if err != nil || !r.Equal(alice) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, v := range []byte{0, 3, 255} {
		bad := append([]byte{v}, st[1:]...)
		if _, err := ParseState(bad); !errors.Is(err, ErrBadState) {
			t.Errorf("version %d: %v", v, err)
		}
	}
}

// TestParseStateTakesPublicKey: state version 2 and libolm's layout store
// our public ratchet key, and loading takes it as stored instead of
// recomputing it (a scalar multiplication per load). A state whose stored
// public key is wrong still never uses it with X25519.
func TestParseStateTakesPublicKey(t *testing.T) {
	alice, _ := pair(t, &counterReader{})
	var wrong key.Curve25519
	wrong[0] = 9
	st := alice.AppendState(nil)
	copy(st[1+32+1+32:], wrong[:])
	r, err := ParseState(st)
	if err != nil {
		t.Fatal(err)
	}
	if r.sender.pub != wrong || r.sender.ecdhKey != nil {
		t.Fatal("public ratchet key recomputed on load")
	}
	lo := alice.AppendLibolmState(nil)
	copy(lo[32+4:], wrong[:])
	if r, err = ParseLibolmState(lo); err != nil {
		t.Fatal(err)
	}
	if r.sender.pub != wrong || r.sender.ecdhKey != nil {
		t.Fatal("libolm: public ratchet key recomputed on load")
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ParseState(st) }); allocs > 2 {
		t.Errorf("ParseState: %v allocations", allocs)
	}
}
