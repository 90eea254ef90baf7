package olm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// duo is Alice and Bob with an established session: Bob has decrypted
// Alice's first (pre-key) message; Alice has not heard back.
type duo struct {
	t          testing.TB
	rand       *streamReader
	alice, bob *Account
	as, bs     *Session
}

func newDuo(t testing.TB) *duo {
	t.Helper()
	d := &duo{t: t, rand: &streamReader{seed: 1}}
	var err error
	if d.alice, err = NewAccountFrom(d.rand); err != nil {
		t.Fatal(err)
	}
	if d.bob, err = NewAccountFrom(d.rand); err != nil {
		t.Fatal(err)
	}
	otks, _, err := d.bob.GenerateOneTimeKeysFrom(d.rand, 5)
	if err != nil {
		t.Fatal(err)
	}
	if d.as, err = d.alice.NewOutboundSessionFrom(d.rand, d.bob.Curve25519(), otks[0].Key); err != nil {
		t.Fatal(err)
	}
	m := d.send(d.as, "first")
	pk, err := ParsePreKeyMessage(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	var pt []byte
	if d.bs, pt, err = d.bob.NewInboundSession(pk, nil); err != nil {
		t.Fatal(err)
	}
	if string(pt) != "first" {
		t.Fatalf("first plaintext %q", pt)
	}
	return d
}

func (d *duo) send(from *Session, pt string) EncryptedMessage {
	d.t.Helper()
	m, err := from.EncryptFrom(d.rand, nil, []byte(pt))
	if err != nil {
		d.t.Fatal(err)
	}
	return m
}

func (d *duo) recv(to *Session, m EncryptedMessage, want string) {
	d.t.Helper()
	pt, err := to.Decrypt(nil, m)
	if err != nil {
		d.t.Fatalf("decrypt %q: %v", want, err)
	}
	if string(pt) != want {
		d.t.Fatalf("decrypted %q, want %q", pt, want)
	}
}

var testPickleKey = &[PickleKeySize]byte{1, 2, 3}

// pickled returns the session's pickle with a fixed nonce: equal states
// give equal strings.
func pickled(t testing.TB, s *Session) string {
	t.Helper()
	p, err := s.pickleFrom(zeroReader{}, testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pickledAccount(t testing.TB, a *Account) string {
	t.Helper()
	p, err := a.pickleFrom(zeroReader{}, testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func clone(t testing.TB, s *Session) *Session {
	t.Helper()
	c, err := UnpickleSession(testPickleKey, pickled(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustFail decrypts m, which must fail with an error matching want (if not
// nil), and checks that the session is byte-for-byte unchanged.
func mustFail(t *testing.T, s *Session, m EncryptedMessage, want error, what string) {
	t.Helper()
	before := pickled(t, s)
	_, err := s.Decrypt(nil, m)
	if err == nil {
		t.Fatalf("%s: decrypted", what)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
	if pickled(t, s) != before {
		t.Fatalf("%s: failed decryption changed the session", what)
	}
}

func TestConversationTypes(t *testing.T) {
	d := newDuo(t)
	if d.as.ID() != d.bs.ID() {
		t.Fatal("session ids differ")
	}
	if d.as.HasReceivedMessage() || !d.bs.HasReceivedMessage() {
		t.Fatal("HasReceivedMessage: Alice false, Bob true expected")
	}
	// Alice keeps sending pre-key messages until she hears back; Bob
	// decrypts them with the existing session.
	m := d.send(d.as, "second")
	if m.Type != TypePreKey {
		t.Fatal("Alice's second message is not a pre-key message")
	}
	pk, _ := ParsePreKeyMessage(m.Body)
	if !d.bs.Matches(pk, nil) {
		t.Fatal("Bob's session does not match Alice's pre-key message")
	}
	d.recv(d.bs, m, "second")
	r := d.send(d.bs, "reply")
	if r.Type != TypeMessage {
		t.Fatal("Bob's reply is not a normal message")
	}
	d.recv(d.as, r, "reply")
	for i := range 20 {
		from, to := d.as, d.bs
		if i%3 == 2 {
			from, to = to, from
		}
		m := d.send(from, fmt.Sprint(i))
		if m.Type != TypeMessage {
			t.Fatalf("message %d has type %d", i, m.Type)
		}
		d.recv(to, m, fmt.Sprint(i))
	}
	// An empty plaintext and a long one.
	d.recv(d.bs, d.send(d.as, ""), "")
	long := strings.Repeat("x", 100000)
	d.recv(d.bs, d.send(d.as, long), long)
}

func TestOutOfOrderDroppedReplay(t *testing.T) {
	d := newDuo(t)
	d.recv(d.as, d.send(d.bs, "hi"), "hi")
	var ms []EncryptedMessage
	for i := range 12 {
		ms = append(ms, d.send(d.as, fmt.Sprint(i)))
	}
	order := []int{5, 0, 11, 3, 1} // 2, 4, 6-10 dropped
	for _, i := range order {
		d.recv(d.bs, ms[i], fmt.Sprint(i))
	}
	for _, i := range order {
		mustFail(t, d.bs, ms[i], ErrUnknownMessageIndex, fmt.Sprintf("replay of %d", i))
	}
	for _, i := range []int{10, 2, 4, 9, 6, 8, 7} {
		d.recv(d.bs, ms[i], fmt.Sprint(i))
	}
	mustFail(t, d.bs, ms[7], ErrUnknownMessageIndex, "replay of a skipped message")
}

func TestMessageGap(t *testing.T) {
	d := newDuo(t) // Bob's chain is at index 1
	var ms []EncryptedMessage
	for i := range ratchet.MaxMessageGap + 2 {
		ms = append(ms, d.send(d.as, fmt.Sprint(i+1)))
	}
	ok, bad := clone(t, d.bs), clone(t, d.bs)
	d.recv(ok, ms[ratchet.MaxMessageGap], fmt.Sprint(ratchet.MaxMessageGap+1)) // index 2001: gap 2000
	mustFail(t, bad, ms[ratchet.MaxMessageGap+1], ErrMessageGap, "gap 2001")
	// The newest 40 skipped keys are kept (at least 40 per chain).
	for i := ratchet.MaxMessageGap - 1; i >= ratchet.MaxMessageGap-ratchet.MaxSkippedKeys; i-- {
		d.recv(ok, ms[i], fmt.Sprint(i+1))
	}
	mustFail(t, ok, ms[ratchet.MaxMessageGap-ratchet.MaxSkippedKeys-1], ErrUnknownMessageIndex, "skipped key beyond the bound")
}

func TestReceiverChainEvictionSession(t *testing.T) {
	d := newDuo(t)
	held := d.send(d.bs, "held") // Bob's first chain
	d.recv(d.as, d.send(d.bs, "on chain 1"), "on chain 1")
	for i := range ratchet.MaxReceiverChains - 1 {
		d.recv(d.bs, d.send(d.as, "ping"), "ping")
		d.recv(d.as, d.send(d.bs, fmt.Sprint("chain ", i+2)), fmt.Sprint("chain ", i+2))
	}
	five := clone(t, d.as)
	d.recv(five, held, "held") // 5 chains: still there
	d.recv(d.bs, d.send(d.as, "ping"), "ping")
	d.recv(d.as, d.send(d.bs, "chain 6"), "chain 6")
	if !strings.Contains(d.as.describe(), "receiver chains (5") {
		t.Fatalf("describe: %s", d.as.describe())
	}
	mustFail(t, d.as, held, ErrAuthentication, "message on an evicted chain")
}

// region names the part of a normal message byte i lies in.
// TestTamper runs cryptotest.Tamper on a normal and a pre-key message
// (every bit of the version, keys, index, ciphertext and MAC; every
// prefix; an extension): decryption must fail and leave the session
// byte-for-byte unchanged, for a receiver with and without a sending
// chain, and the genuine message must still decrypt.
func TestTamper(t *testing.T) {
	d := newDuo(t)
	pre := d.send(d.as, "pre-key message")
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	normal := d.send(d.as, "normal message") // on a new chain for Bob
	onChain := d.send(d.as, "same chain")
	d.send(d.bs, "Bob has a sending chain") // ... until he receives normal
	m, _ := ParseMessage(normal.Body)
	indexEnd := 1 + 2 + 32 + wire.VarintFieldLen(fieldIndex, uint64(m.Index))
	for _, tc := range []struct {
		name string
		m    EncryptedMessage
		want string
		opts []cryptotest.TamperOption
	}{
		{"normal", normal, "normal message", []cryptotest.TamperOption{cryptotest.Regions(
			cryptotest.Region{Name: "version", Start: 0, End: 1},
			cryptotest.Region{Name: "ratchet key", Start: 1, End: 1 + 2 + 32},
			cryptotest.Region{Name: "index", Start: 1 + 2 + 32, End: indexEnd},
			cryptotest.Region{Name: "MAC", Start: -macSize, End: 0},
			cryptotest.Region{Name: "ciphertext", Start: indexEnd, End: -macSize},
		)}},
		{"pre-key", pre, "pre-key message", []cryptotest.TamperOption{
			cryptotest.Regions(
				cryptotest.Region{Name: "version", Start: 0, End: 1},
				cryptotest.Region{Name: "one-time key", Start: 1, End: 35},
				cryptotest.Region{Name: "base key", Start: 35, End: 69},
				cryptotest.Region{Name: "identity key", Start: 69, End: 103},
				cryptotest.Region{Name: "inner message", Start: 103, End: 0},
			),
			// The outer keys of a pre-key message select or create a
			// session; an existing session decrypts the inner message
			// whatever they say (libolm and vodozemac alike). The
			// one-time and base keys' tags and lengths are checked; the
			// identity key is optional (see PreKeyMessage.IdentityKey), so
			// renaming its field to an unknown one is not an error either.
			cryptotest.SkipBits(3, 35, 0xff),
			cryptotest.SkipBits(37, 69, 0xff),
			cryptotest.SkipBits(69, 103, 0xff),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			cryptotest.Tamper(t, tc.m.Body, func(b []byte) error {
				before := pickled(t, d.bs)
				pt, err := d.bs.Decrypt(nil, EncryptedMessage{tc.m.Type, b})
				if err != nil && pickled(t, d.bs) != before {
					t.Fatalf("a refused message changed the session: %v", err)
				}
				got = pt
				return err
			}, tc.opts...)
			if string(got) != tc.want {
				t.Errorf("genuine message decrypted to %q", got)
			}
		})
	}
	// The other type number for the same body fails too.
	mustFail(t, d.bs, EncryptedMessage{TypePreKey, onChain.Body}, ErrMalformed, "normal body as pre-key")
	mustFail(t, d.bs, EncryptedMessage{7, onChain.Body}, ErrMalformed, "type 7")
	d.recv(d.bs, onChain, "same chain")
}

// TestForgedPreKeyMessageKeepsOneTimeKey checks the one-call inbound
// creation: a pre-key message whose inner message does not authenticate
// creates no session and leaves the account (and its one-time key)
// byte-for-byte as it was.
func TestForgedPreKeyMessageKeepsOneTimeKey(t *testing.T) {
	rand := &streamReader{seed: 2}
	alice, _ := NewAccountFrom(rand)
	bob, _ := NewAccountFrom(rand)
	otks, _, _ := bob.GenerateOneTimeKeysFrom(rand, 1)
	s, _ := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), otks[0].Key)
	m, _ := s.EncryptFrom(rand, nil, []byte("hello"))
	before := pickledAccount(t, bob)
	for i := range m.Body {
		body := bytes.Clone(m.Body)
		body[i] ^= 0x04
		pk, err := ParsePreKeyMessage(body)
		if err != nil {
			continue
		}
		if _, _, err := bob.NewInboundSession(pk, nil); err == nil {
			t.Fatalf("forged pre-key message (byte %d) accepted", i)
		}
		if pickledAccount(t, bob) != before {
			t.Fatalf("forged pre-key message (byte %d) changed the account", i)
		}
	}
	// A pre-key message from another sender naming Bob's key: the 3DH
	// differs, the MAC fails, the key stays.
	mallory, _ := NewAccountFrom(rand)
	ms, _ := mallory.NewOutboundSessionFrom(rand, bob.Curve25519(), otks[0].Key)
	fm, _ := ms.EncryptFrom(rand, nil, []byte("forged"))
	fpk, _ := ParsePreKeyMessage(fm.Body)
	fpk.Message = nil
	if _, _, err := bob.NewInboundSession(fpk, nil); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if len(bob.OneTimeKeys()) != 1 {
		t.Fatal("one-time key burnt")
	}
	pk, _ := ParsePreKeyMessage(m.Body)
	if _, pt, err := bob.NewInboundSession(pk, nil); err != nil || string(pt) != "hello" {
		t.Fatalf("genuine message after forgeries: %q %v", pt, err)
	}
	if _, _, err := bob.NewInboundSession(pk, nil); !errors.Is(err, ErrUnknownOneTimeKey) {
		t.Fatalf("one-time key reused: %v", err)
	}
}

func TestInboundIdentityKey(t *testing.T) {
	rand := &streamReader{seed: 3}
	alice, _ := NewAccountFrom(rand)
	bob, _ := NewAccountFrom(rand)
	otks, _, _ := bob.GenerateOneTimeKeysFrom(rand, 2)
	s, _ := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), otks[0].Key)
	m, _ := s.EncryptFrom(rand, nil, []byte("hello"))
	pk, _ := ParsePreKeyMessage(m.Body)
	other := bob.Curve25519()
	if _, _, err := bob.NewInboundSession(pk, &InboundOptions{TheirIdentityKey: &other}); !errors.Is(err, ErrIdentityKeyMismatch) {
		t.Fatalf("mismatched identity key: %v", err)
	}
	// Without the identity key field, the caller must supply it.
	b := wire.NewBuilder([]byte{protocolVersion})
	b.AddBytesField(fieldOneTimeKey, pk.OneTimeKey[:])
	b.AddBytesField(fieldBaseKey, pk.BaseKey[:])
	b.AddBytesField(fieldMessage, pk.Message.raw)
	noID, err := ParsePreKeyMessage(b.Bytes())
	if err != nil || noID.hasIdentityKey {
		t.Fatalf("pre-key message without identity key: %v", err)
	}
	if _, ok := preKeySessionID(noID); ok {
		t.Fatal("SessionID without an identity key")
	}
	if _, _, err := bob.NewInboundSession(noID, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("no identity key at all: %v", err)
	}
	aid := alice.Curve25519()
	bs, pt, err := bob.NewInboundSession(noID, &InboundOptions{TheirIdentityKey: &aid, KeepOneTimeKey: true})
	if err != nil || string(pt) != "hello" || bs.ID() != s.ID() {
		t.Fatalf("with the identity key supplied: %q %v", pt, err)
	}
	if !bs.Matches(noID, &aid) || bs.Matches(noID, &other) || bs.aliceIdentity != aid {
		t.Fatal("Matches")
	}
	if len(bob.OneTimeKeys()) != 2 {
		t.Fatal("KeepOneTimeKey removed the key")
	}
	if err := bob.RemoveOneTimeKeys(bs); err != nil || len(bob.OneTimeKeys()) != 1 {
		t.Fatalf("RemoveOneTimeKeys: %v", err)
	}
	if err := bob.RemoveOneTimeKeys(bs); !errors.Is(err, ErrUnknownOneTimeKey) {
		t.Fatalf("second RemoveOneTimeKeys: %v", err)
	}
}

var lowOrderPoints = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func lowOrderKeys() []key.Curve25519 {
	var ks []key.Curve25519
	for _, h := range lowOrderPoints {
		var k key.Curve25519
		hex.Decode(k[:], []byte(h))
		ks = append(ks, k)
	}
	return ks
}

func TestNonContributoryKeys(t *testing.T) {
	d := newDuo(t)
	good := d.bob.Curve25519()
	for _, bad := range lowOrderKeys() {
		if _, err := d.alice.NewOutboundSessionFrom(d.rand, good, bad); !errors.Is(err, key.ErrNonContributory) {
			t.Errorf("outbound with low-order one-time key %x: %v", bad, err)
		}
		if _, err := d.alice.NewOutboundSessionFrom(d.rand, bad, good); !errors.Is(err, key.ErrNonContributory) {
			t.Errorf("outbound with low-order identity key %x: %v", bad, err)
		}
	}
	// Inbound: a pre-key message with a low-order base key or identity key.
	otks, _, _ := d.bob.GenerateOneTimeKeysFrom(d.rand, 1)
	s, _ := d.alice.NewOutboundSessionFrom(d.rand, d.bob.Curve25519(), otks[0].Key)
	m, _ := s.EncryptFrom(d.rand, nil, []byte("x"))
	for _, bad := range lowOrderKeys() {
		for _, field := range []string{"base", "identity"} {
			pk, _ := ParsePreKeyMessage(m.Body)
			if field == "base" {
				pk.BaseKey = bad
			} else {
				pk.IdentityKey = bad
			}
			before := pickledAccount(t, d.bob)
			if _, _, err := d.bob.NewInboundSession(pk, nil); !errors.Is(err, key.ErrNonContributory) {
				t.Errorf("inbound with low-order %s key %x: %v", field, bad, err)
			}
			if pickledAccount(t, d.bob) != before {
				t.Error("failed inbound session changed the account")
			}
		}
	}
	// A normal message on a low-order ratchet key.
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	d.send(d.as, "Alice has a sending chain")
	r := d.send(d.bs, "template")
	for _, bad := range lowOrderKeys() {
		msg, _ := ParseMessage(r.Body)
		copy(msg.raw[3:35], bad[:])
		mustFail(t, d.as, EncryptedMessage{TypeMessage, msg.raw}, key.ErrNonContributory, fmt.Sprintf("ratchet key %x", bad))
	}
}

func TestSessionRedaction(t *testing.T) {
	d := newDuo(t)
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	var secrets [][]byte
	for _, s := range []*Session{d.as, d.bs} {
		st := s.r.AppendState(nil)
		secrets = append(secrets, st[:32]) // root key
	}
	secrets = append(secrets, d.alice.identity.priv[:], d.bob.identity.priv[:])
	seed, _ := d.alice.signing.Seed()
	exp := d.alice.signing.Expanded()
	secrets = append(secrets, seed, exp[:32], exp[32:])
	for i := range d.bob.otks {
		secrets = append(secrets, d.bob.otks[i].priv[:])
	}
	for _, v := range []any{d.alice, d.bob, *d.alice, d.as, d.bs, *d.as} {
		cryptotest.Redacted(t, v, secrets...)
	}
}

func TestDescribe(t *testing.T) {
	d := newDuo(t)
	d.send(d.as, "a")
	desc := d.as.describe()
	for _, want := range []string{d.as.ID(), "received message false", "sender chain: index 2", "receiver chains (0"} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe() = %q, missing %q", desc, want)
		}
	}
	if got := fmt.Sprint(d.as); !strings.Contains(got, desc) {
		t.Errorf("fmt shows %q", got)
	}
}

func TestEncryptDecryptAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	d := newDuo(t)
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	pt := make([]byte, 1024)
	d.send(d.as, "start a sending chain")
	enc := testing.AllocsPerRun(100, func() {
		if _, err := d.as.EncryptFrom(failReader{}, nil, pt); err != nil {
			t.Fatal(err)
		}
	})
	dec := testing.AllocsPerRun(100, func() {
		m, _ := d.as.EncryptFrom(failReader{}, nil, pt)
		if _, err := d.bs.Decrypt(nil, m); err != nil {
			t.Fatal(err)
		}
	}) - enc
	t.Logf("Encrypt: %v allocations, Decrypt: %v", enc, dec)
	// Encrypt: HKDF output, the message buffer, the result. Decrypt: HKDF
	// output, the parsed message, the plaintext.
	if enc > 4 {
		t.Errorf("Encrypt: %v allocations, budget 4", enc)
	}
	if dec > 4 {
		t.Errorf("Decrypt: %v allocations, budget 4", dec)
	}

	// Append-style into buffers of enough capacity: only crypto/aes's
	// key schedule allocates (1 measured; one spare for other platforms).
	body := make([]byte, 0, 2048)
	out := make([]byte, 0, 2048)
	appendEnc := testing.AllocsPerRun(100, func() {
		if _, err := d.as.EncryptFrom(failReader{}, body[:0], pt); err != nil {
			t.Fatal(err)
		}
	})
	appendDec := testing.AllocsPerRun(100, func() {
		m, _ := d.as.EncryptFrom(failReader{}, body[:0], pt)
		got, err := d.bs.Decrypt(out[:0], m)
		if err != nil || len(got) != len(pt) {
			t.Fatal(err)
		}
	}) - appendEnc
	t.Logf("Encrypt into dst: %v allocations, Decrypt into dst: %v", appendEnc, appendDec)
	if appendEnc > 2 {
		t.Errorf("Encrypt into dst: %v allocations, budget 2", appendEnc)
	}
	if appendDec > 2 {
		t.Errorf("Decrypt into dst: %v allocations, budget 2", appendDec)
	}
}
