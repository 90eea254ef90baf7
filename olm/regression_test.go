package olm

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// Known-attack regressions and resource bounds for Olm. Tests the
// owners already wrote are referenced, not repeated:
//   - low-order keys in the 3DH (both sides) and as a ratchet key of a
//     normal message: TestNonContributoryKeys (session_test.go);
//     ratchet.TestNonContributoryRatchetKey for both ratchet directions;
//   - gap 2000 accepted, 2001 refused, 40 skipped keys kept:
//     TestMessageGap; 5 receiver chains: TestReceiverChainEvictionSession;
//   - version 4 (vodozemac's session config v2) refused at parse time:
//     TestParseInvalid (message_test.go);
//   - forged pre-key messages keep the one-time key:
//     TestForgedPreKeyMessageKeepsOneTimeKey and, randomised,
//     TestPropertyOlmSchedules.

// TestRegressionPreKeyNonCanonicalKeys: X25519 ignores bit 255 of a public
// key, so flipping it in a pre-key message's base or identity key changes
// the message without changing the 3DH. Before the fix, a path attacker
// could turn Alice's first message into one that made Bob create a session
// with another session id (base key) or identity key, burning the
// one-time key; found by FuzzMutatedMessage (testdata/fuzz corpus entry
// 5782d343cafc5463). ParsePreKeyMessage now refuses such keys.
func TestRegressionPreKeyNonCanonicalKeys(t *testing.T) {
	bob, _, m1, _ := freshPair(t)
	pk, err := ParsePreKeyMessage(m1.Body)
	if err != nil {
		t.Fatal(err)
	}
	before := bob.appendState(nil)
	for name, k := range map[string]key.Curve25519{"one-time": pk.OneTimeKey, "base": pk.BaseKey, "identity": pk.IdentityKey} {
		i := bytes.Index(m1.Body, k[:])
		if i < 0 {
			t.Fatalf("%s key not found in the message", name)
		}
		body := bytes.Clone(m1.Body)
		body[i+31] ^= 0x80
		if _, err := ParsePreKeyMessage(body); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s key with bit 255 set: %v, want ErrMalformed", name, err)
		}
		if !bytes.Equal(bob.appendState(nil), before) {
			t.Fatal("account changed")
		}
	}
	// The unmodified message still works.
	if _, _, err := bob.NewInboundSession(pk, nil); err != nil {
		t.Fatal(err)
	}
}

// maliciousFirstMessage is what a malicious initiator can send: a pre-key
// message that authenticates (its MAC key comes from the 3DH chain) but
// names a low-order point as its ratchet key T0.
func maliciousFirstMessage(t *testing.T, lowOrder key.Curve25519) (*Account, *PreKeyMessage) {
	rnd := &streamReader{seed: 7}
	alice, _ := NewAccountFrom(rnd)
	bob, _ := NewAccountFrom(rnd)
	otks, _, _ := bob.GenerateOneTimeKeysFrom(rnd, 1)
	as, err := alice.NewOutboundSessionFrom(rnd, bob.Curve25519(), otks[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	_, mk, err := as.r.NextMessageKey(rnd)
	if err != nil {
		t.Fatal(err)
	}
	kb := mk.Bytes()
	keys := aessha2.Derive(kb[:], aessha2.InfoOlm)
	pt := []byte("hello from a low-order ratchet key")
	ctLen := aessha2.CiphertextLen(len(pt))
	inner := appendMessageHeader(nil, &lowOrder, mk.Index(), ctLen)
	inner = keys.Encrypt(inner, pt)
	inner = keys.AppendTag(inner, inner)
	body := appendPreKeyHeader(nil, &as.bobOneTime, &as.aliceBase, &as.aliceIdentity, len(inner))
	pk, err := ParsePreKeyMessage(append(body, inner...))
	if err != nil {
		t.Fatal(err)
	}
	return bob, pk
}

// TestRegressionLowOrderFirstRatchetKey (vodozemac 0.10, Soatok 2026: the
// identity element in every ratchet step): a peer whose first message
// names a low-order ratchet key must not make Bob derive a sending chain
// from an all-zero DH. Bob either refuses the message or refuses to
// encrypt on that session (key.ErrNonContributory), leaving it unchanged.
func TestRegressionLowOrderFirstRatchetKey(t *testing.T) {
	for _, lo := range cryptotest.LowOrder() {
		bob, pk := maliciousFirstMessage(t, key.Curve25519(lo))
		before := bob.appendState(nil)
		s, _, err := bob.NewInboundSession(pk, nil)
		t.Logf("ratchet key %x: NewInboundSession: %v", lo[:4], err)
		if err != nil {
			if !bytes.Equal(bob.appendState(nil), before) {
				t.Fatal("refused message changed the account")
			}
			continue
		}
		state := s.appendState(nil)
		if _, err := s.EncryptFrom(&streamReader{seed: 9}, nil, []byte("reply")); !errors.Is(err, key.ErrNonContributory) {
			t.Errorf("ratchet key %x: Bob encrypted against it (%v)", lo, err)
		}
		if !bytes.Equal(s.appendState(nil), state) {
			t.Error("failed encryption changed the session")
		}
	}
}

// TestRegressionSessionConfigV2NotHonoured: a sender cannot choose
// vodozemac's unspecified session config v2 (version byte 4, untruncated
// MAC): a v1 session never switches configuration on a message's say, so
// a v2 message (here a v1 message relabelled, which does not even parse as
// v2) fails without touching the session (vodozemac#287,
// fluffychat#2430). Authentic v2 messages: sessionconfig_test.go.
func TestRegressionSessionConfigV2NotHonoured(t *testing.T) {
	d := newDuo(t)
	m := d.send(d.bs, "v1 message")
	v2 := bytes.Clone(m.Body)
	v2[0] = 4
	mustFail(t, d.as, EncryptedMessage{TypeMessage, v2}, ErrUnsupportedVersion, "version 4 message")
	// A v2-style full 32-byte MAC on a version 3 message: the extra bytes
	// are part of the "ciphertext" and the MAC does not verify.
	full := append(bytes.Clone(m.Body[:len(m.Body)-macSize]), make([]byte, 32)...)
	mustFail(t, d.as, EncryptedMessage{TypeMessage, full}, nil, "32-byte MAC")
	pk := d.send(d.as, "pre-key")
	pk.Body[0] = 4
	if _, err := ParsePreKeyMessage(pk.Body); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version 4 pre-key message: %v", err)
	}
	d.recv(d.as, m, "v1 message")
}

// TestRegressionShortMAC: a message whose MAC is shorter than 8 bytes (or
// empty) never authenticates.
func TestRegressionShortMAC(t *testing.T) {
	d := newDuo(t)
	m := d.send(d.bs, "short mac")
	for cut := 1; cut <= macSize; cut++ {
		mustFail(t, d.as, EncryptedMessage{TypeMessage, m.Body[:len(m.Body)-cut]}, nil, "truncated MAC")
	}
	d.recv(d.as, m, "short mac")
}

// TestBoundsHostileIndices: a message claiming index 2^32-1, one just over
// the gap limit and a new chain far ahead are refused before any key is
// derived: in bounded time and with a small, fixed allocation budget.
func TestBoundsHostileIndices(t *testing.T) {
	d := newDuo(t)
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	d.send(d.as, "Alice starts a sending chain") // so a new chain is tried
	template := d.send(d.bs, "template")
	known, _ := ParseMessage(template.Body)
	for _, tc := range []struct {
		name  string
		rk    key.Curve25519
		index uint32
		want  error
	}{
		{"index 2^32-1 on a known chain", known.RatchetKey, math.MaxUint32, ErrMessageGap},
		{"gap 2001 on a known chain", known.RatchetKey, known.Index + ratchet.MaxMessageGap + 1, ErrMessageGap},
		{"index 2^32-2 on a known chain", known.RatchetKey, math.MaxUint32 - 1, ErrMessageGap},
		{"new chain at index 2001", key.Curve25519{9}, ratchet.MaxMessageGap + 1, ErrMessageGap},
		{"new chain at index 2^32-1", key.Curve25519{9}, math.MaxUint32, ErrMessageGap},
	} {
		body := appendMessageHeader(nil, &tc.rk, tc.index, 16)
		body = append(body, make([]byte, 16+macSize)...)
		m := EncryptedMessage{TypeMessage, body}
		mustFail(t, d.as, m, tc.want, tc.name)
		// The work bound (no key derived before the gap check) is proven by
		// ratchet's TestGapCheckedBeforeDerivation; here, the memory bound.
		allocated := cryptotest.AllocBytes(50, func() { d.as.Decrypt(nil, m) })
		if allocated > 1024 {
			t.Errorf("%s: rejection allocates %d bytes", tc.name, allocated)
		}
	}
}

// TestBoundsHugeVarints: pre-key and normal messages whose length or index
// varints claim 2^63 (or overflow 64 bits) are refused at parse time
// without allocating for the claim.
func TestBoundsHugeVarints(t *testing.T) {
	field := func(num int, typ byte, v uint64) []byte {
		b := wire.NewBuilder(nil)
		b.AddUvarint(uint64(num)<<3 | uint64(typ))
		b.AddUvarint(v)
		return b.Bytes()
	}
	var k [32]byte
	k[0] = 9
	keyField := func(num int) []byte { return append(field(num, 2, 32), k[:]...) }
	overflow := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01} // 11-byte varint
	cases := map[string][]byte{
		"pre-key: message length 2^63": bytes.Join([][]byte{{3}, keyField(1), keyField(2), keyField(3), field(4, 2, 1<<63)}, nil),
		"pre-key: key length 2^62":     bytes.Join([][]byte{{3}, field(1, 2, 1<<62)}, nil),
		"pre-key: 11-byte varint":      append([]byte{3}, overflow...),
		"pre-key: unknown field 2^63":  bytes.Join([][]byte{{3}, field(9, 2, 1<<63)}, nil),
		"message: index 2^40":          bytes.Join([][]byte{{3}, keyField(1), field(2, 0, 1<<40), field(4, 2, 16), make([]byte, 24)}, nil),
		"message: index 2^64-1":        bytes.Join([][]byte{{3}, keyField(1), field(2, 0, math.MaxUint64), field(4, 2, 16), make([]byte, 24)}, nil),
		"message: ciphertext 2^63":     bytes.Join([][]byte{{3}, keyField(1), field(2, 0, 1), field(4, 2, 1<<63), make([]byte, 8)}, nil),
	}
	for name, b := range cases {
		var err error
		allocated := cryptotest.AllocBytes(100, func() {
			if name[0] == 'p' {
				_, err = ParsePreKeyMessage(b)
			} else {
				_, err = ParseMessage(b)
			}
		})
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
		if allocated > 512 {
			t.Errorf("%s: parsing allocates %d bytes", name, allocated)
		}
	}
}
