package megolm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

var testPickleKey = [PickleKeySize]byte{1, 2, 3}

func TestOutboundPickleRoundTrip(t *testing.T) {
	out := newTestOutbound(t, 'Q')
	out.Encrypt(nil, []byte("advance"))
	p1, err := out.Pickle(&testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := out.Pickle(&testPickleKey)
	if p1 == p2 {
		t.Error("two pickles of the same state are equal: the nonce is not random")
	}
	got, err := UnpickleOutboundSession(&testPickleKey, p1)
	if err != nil {
		t.Fatal(err)
	}
	if got.r != out.r || got.signing.Expanded() != out.signing.Expanded() || got.SessionID() != out.SessionID() {
		t.Fatal("restored session differs")
	}
	if _, ok := got.signing.Seed(); !ok {
		t.Error("seed lost")
	}
	if !bytes.Equal(got.Encrypt(nil, []byte("x")), out.Encrypt(nil, []byte("x"))) {
		t.Error("restored session encrypts differently")
	}
	// A session known only by its expanded key (from libolm) round-trips too.
	v := loadInterop(t)[2]
	lo, err := UnpickleLibolmOutboundSession([]byte(v.OutboundPickleKey), v.OutboundPickle)
	if err != nil {
		t.Fatal(err)
	}
	p, err := lo.Pickle(&testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	lo2, err := UnpickleOutboundSession(&testPickleKey, p)
	if err != nil || lo2.r != lo.r || lo2.signing.Expanded() != lo.signing.Expanded() {
		t.Fatalf("expanded-key session: %v", err)
	}
}

func TestInboundPickleRoundTrip(t *testing.T) {
	out := newTestOutbound(t, 'R')
	for range 3 {
		out.Encrypt(nil, nil)
	}
	sk := out.SessionKey()
	var msgs [][]byte
	for range 10 {
		msgs = append(msgs, out.Encrypt(nil, []byte("m")))
	}
	for _, verified := range []bool{true, false} {
		var in *InboundSession
		if verified {
			in, _ = NewInboundSession(sk)
		} else {
			in, _ = ImportInboundSession(sk.exported())
		}
		if _, _, err := in.Decrypt(nil, msgs[7]); err != nil {
			t.Fatal(err)
		}
		p, err := in.Pickle(&testPickleKey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnpickleInboundSession(&testPickleKey, p)
		if err != nil {
			t.Fatal(err)
		}
		if !sameState(got, in) {
			t.Errorf("verified=%v: restored session differs: %v vs %v", verified, got, in)
		}
		// The libolm format round-trips as well.
		got, err = UnpickleLibolmInboundSession([]byte("k"), mustPickleLibolm(t, in, []byte("k")))
		if err != nil || !sameState(got, in) {
			t.Errorf("verified=%v: libolm round trip: %v", verified, err)
		}
	}
}

func TestPickleInvalid(t *testing.T) {
	out := newTestOutbound(t, 'S')
	in, _ := NewInboundSession(out.SessionKey())
	po, _ := out.Pickle(&testPickleKey)
	pi, _ := in.Pickle(&testPickleKey)
	wrong := [PickleKeySize]byte{9}
	if _, err := UnpickleOutboundSession(&wrong, po); !errors.Is(err, ErrBadPickle) || !errors.Is(err, pickle.ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := UnpickleOutboundSession(&testPickleKey, pi); !errors.Is(err, ErrBadPickle) {
		t.Errorf("inbound pickle as outbound: %v", err)
	}
	if _, err := UnpickleInboundSession(&testPickleKey, po); !errors.Is(err, ErrBadPickle) {
		t.Errorf("outbound pickle as inbound: %v", err)
	}
	for _, s := range []string{"", "!!!", po[:len(po)-4], po + "AAAA"} {
		if _, err := UnpickleOutboundSession(&testPickleKey, s); !errors.Is(err, ErrBadPickle) {
			t.Errorf("bad text %q: %v", s, err)
		}
	}

	// Plaintexts sealed by hand: wrong versions, truncation, trailing
	// bytes, inconsistent state.
	seed := bytes.Repeat([]byte{7}, 32)
	outPT := func(version uint32, form uint8, keyLen int, extra []byte) []byte {
		w := wire.NewBuilder(nil)
		w.AddUint32(version)
		w.AddBytes(make([]byte, ratchetSize))
		w.AddUint32(5)
		w.AddUint8(form)
		w.AddBytes(bytes.Repeat([]byte{7}, keyLen))
		w.AddBytes(extra)
		return w.Bytes()
	}
	sk, _ := key.NewSigningKey(seed)
	inPT := func(version uint32, first, latest uint32, pub key.Ed25519, verified byte, extra []byte) []byte {
		w := wire.NewBuilder(nil)
		w.AddUint32(version)
		w.AddBytes(make([]byte, ratchetSize))
		w.AddUint32(first)
		w.AddBytes(make([]byte, ratchetSize))
		w.AddUint32(latest)
		w.AddBytes(pub[:])
		w.AddUint8(verified)
		w.AddBytes(extra)
		return w.Bytes()
	}
	seal := func(kind string, pt []byte) string {
		s, err := pickle.SealRaw(bytes.NewReader(make([]byte, 64)), &testPickleKey, kind, pt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := UnpickleOutboundSession(&testPickleKey, seal(outboundPickleKind, outPT(1, 1, 32, nil))); err != nil {
		t.Fatalf("baseline outbound: %v", err)
	}
	if _, err := UnpickleOutboundSession(&testPickleKey, seal(outboundPickleKind, outPT(1, 2, 64, nil))); err != nil {
		t.Fatalf("baseline expanded outbound: %v", err)
	}
	if _, err := UnpickleInboundSession(&testPickleKey, seal(inboundPickleKind, inPT(1, 3, 4, sk.Public(), 1, nil))); err != nil {
		t.Fatalf("baseline inbound: %v", err)
	}
	outCases := map[string][]byte{
		"version 0":      outPT(0, 1, 32, nil),
		"version 2":      outPT(2, 1, 32, nil),
		"unknown form":   outPT(1, 3, 32, nil),
		"short seed":     outPT(1, 1, 31, nil),
		"short expanded": outPT(1, 2, 63, nil),
		"trailing":       outPT(1, 1, 32, []byte{0}),
	}
	for name, pt := range outCases {
		if _, err := UnpickleOutboundSession(&testPickleKey, seal(outboundPickleKind, pt)); !errors.Is(err, ErrBadPickle) {
			t.Errorf("outbound %s: %v", name, err)
		}
	}
	inCases := map[string][]byte{
		"version 2":         inPT(2, 3, 4, sk.Public(), 1, nil),
		"latest before":     inPT(1, 4, 3, sk.Public(), 1, nil),
		"weak signing key":  inPT(1, 3, 4, key.Ed25519{1}, 1, nil),
		"verified flag 2":   inPT(1, 3, 4, sk.Public(), 2, nil),
		"trailing":          inPT(1, 3, 4, sk.Public(), 1, []byte{0}),
		"truncated":         inPT(1, 3, 4, sk.Public(), 1, nil)[:200],
		"truncated at flag": inPT(1, 3, 4, sk.Public(), 1, nil)[:4+2*132+32],
	}
	for name, pt := range inCases {
		if _, err := UnpickleInboundSession(&testPickleKey, seal(inboundPickleKind, pt)); !errors.Is(err, ErrBadPickle) {
			t.Errorf("inbound %s: %v", name, err)
		}
	}
}

// TestLibolmPickleVersions: inbound version 1 (no flag, read as verified)
// and 2; anything else, truncation and trailing bytes are refused.
func TestLibolmPickleVersions(t *testing.T) {
	sk, _ := key.NewSigningKey(bytes.Repeat([]byte{3}, 32))
	pub := sk.Public()
	body := func(version uint32, withFlag bool, flag byte, extra []byte) []byte {
		w := wire.NewBuilder(nil)
		w.AddUint32(version)
		w.AddBytes(bytes.Repeat([]byte{1}, ratchetSize))
		w.AddUint32(7)
		w.AddBytes(bytes.Repeat([]byte{2}, ratchetSize))
		w.AddUint32(9)
		w.AddBytes(pub[:])
		if withFlag {
			w.AddUint8(flag)
		}
		w.AddBytes(extra)
		return w.Bytes()
	}
	k := []byte("")
	s, err := UnpickleLibolmInboundSession(k, pickle.SealLibolm(k, body(1, false, 0, nil)))
	if err != nil || !s.IsVerified() || s.FirstKnownIndex() != 7 || s.latest.counter != 9 {
		t.Fatalf("v1: %v %v", s, err)
	}
	if got := mustPickleLibolm(t, s, k); got != pickle.SealLibolm(k, body(2, true, 1, nil)) {
		t.Error("v1 is not rewritten as v2")
	}
	s, err = UnpickleLibolmInboundSession(k, pickle.SealLibolm(k, body(2, true, 0, nil)))
	if err != nil || s.IsVerified() {
		t.Fatalf("v2 unverified: %v %v", s, err)
	}
	for name, pt := range map[string][]byte{
		"v1 with flag":   body(1, true, 1, nil),
		"v2 without":     body(2, false, 0, nil),
		"v3":             body(3, true, 1, nil),
		"v2 trailing":    body(2, true, 1, []byte{0}),
		"v2 bad flag":    body(2, true, 7, nil),
		"version only":   body(2, true, 0, nil)[:4],
		"latest < first": func() []byte { b := body(2, true, 1, nil); b[4+128+3] = 10; return b }(),
	} {
		if _, err := UnpickleLibolmInboundSession(k, pickle.SealLibolm(k, pt)); !errors.Is(err, ErrBadPickle) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Outbound: version 1 only; the public key must match the private key.
	x := sk.Expanded()
	ob := func(version uint32, pub key.Ed25519, extra []byte) []byte {
		w := wire.NewBuilder(nil)
		w.AddUint32(version)
		w.AddBytes(make([]byte, ratchetSize))
		w.AddUint32(0)
		w.AddBytes(pub[:])
		w.AddBytes(x[:])
		w.AddBytes(extra)
		return w.Bytes()
	}
	if _, err := UnpickleLibolmOutboundSession(k, pickle.SealLibolm(k, ob(1, pub, nil))); err != nil {
		t.Fatalf("outbound baseline: %v", err)
	}
	for name, pt := range map[string][]byte{
		"v2":           ob(2, pub, nil),
		"wrong public": ob(1, key.Ed25519{9}, nil),
		"trailing":     ob(1, pub, []byte{1}),
		"truncated":    ob(1, pub, nil)[:200],
	} {
		if _, err := UnpickleLibolmOutboundSession(k, pickle.SealLibolm(k, pt)); !errors.Is(err, ErrBadPickle) {
			t.Errorf("outbound %s: %v", name, err)
		}
	}
}
