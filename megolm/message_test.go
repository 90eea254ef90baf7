package megolm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// buildMessage assembles a message from parts (no valid MAC or signature).
func buildMessage(version byte, fields func(w *wire.Builder)) []byte {
	w := wire.NewBuilder(nil)
	w.AddUint8(version)
	fields(w)
	w.AddBytes(bytes.Repeat([]byte{0xaa}, trailerSize))
	return w.Bytes()
}

// TestMessageEncoding checks the layout libolm's test_message.cpp pins for
// Megolm (index 200 is encoded 08 C8 01) on a message sicher encrypted.
func TestMessageEncoding(t *testing.T) {
	out := newTestOutbound(t, 'M')
	out.r.counter = 200
	b := out.Encrypt(nil, []byte("hello"))
	want := []byte{0x03, 0x08, 0xc8, 0x01, 0x12, 0x10}
	if !bytes.HasPrefix(b, want) || len(b) != len(want)+16+trailerSize {
		t.Fatalf("message %x: want prefix %x and %d bytes", b, want, len(want)+16+trailerSize)
	}
	m, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Index() != 200 || !bytes.Equal(m.ciphertext, b[6:22]) || !bytes.Equal(m.MAC(), b[22:30]) || key.Ed25519Signature(m.signature()) != key.Ed25519Signature(b[30:]) || m.Version() != 3 {
		t.Errorf("parsed %+v", m)
	}
	if !bytes.Equal(m.Bytes(), b) || b64.Encode(m.raw) != b64.Encode(b) {
		t.Error("Bytes/String do not round-trip")
	}
	b[0] = 0 // ParseMessage copied its input
	if m.Bytes()[0] != messageVersion {
		t.Error("ParseMessage aliases its input")
	}
	// Index 0 is written too (libolm requires the field).
	out2 := newTestOutbound(t, 'N')
	if b := out2.Encrypt(nil, nil); !bytes.HasPrefix(b, []byte{0x03, 0x08, 0x00, 0x12, 0x10}) {
		t.Errorf("index 0 message %x", b[:5])
	}
}

func TestParseMessageInvalid(t *testing.T) {
	ct := bytes.Repeat([]byte{1}, 16)
	ok := buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddBytesField(2, ct) })
	if m, err := ParseMessage(ok); err != nil || m.Index() != 5 {
		t.Fatalf("baseline: %v", err)
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version only", []byte{3}, ErrMalformed},
		{"version 4", buildMessage(4, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddBytesField(2, ct) }), ErrUnsupportedVersion},
		{"version 4 alone", []byte{4}, ErrUnsupportedVersion},
		{"version 2", buildMessage(2, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddBytesField(2, ct) }), ErrUnsupportedVersion},
		{"version 2 alone", []byte{2}, ErrUnsupportedVersion},
		{"no index", buildMessage(3, func(w *wire.Builder) { w.AddBytesField(2, ct) }), ErrMalformed},
		{"no ciphertext", buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddVarintField(3, 1) }), ErrMalformed},
		{"empty ciphertext", buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddBytesField(2, nil) }), ErrMalformed},
		{"index over 32 bits", buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 1<<32); w.AddBytesField(2, ct) }), ErrMalformed},
		{"index as bytes", buildMessage(3, func(w *wire.Builder) { w.AddBytesField(1, []byte{5}); w.AddBytesField(2, ct) }), ErrMalformed},
		{"ciphertext as varint", buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddVarintField(2, 7) }), ErrMalformed},
		{"wire type 5", buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddBytesField(2, ct); w.AddUint8(3<<3 | 5) }), ErrMalformed},
		{"length past end", buildMessage(3, func(w *wire.Builder) { w.AddVarintField(1, 5); w.AddUvarint(2<<3 | 2); w.AddUvarint(200) }), ErrMalformed},
		{"truncated varint", buildMessage(3, func(w *wire.Builder) { w.AddBytesField(2, ct); w.AddUint8(0x08); w.AddUint8(0x80) }), ErrMalformed},
		{"too long", append([]byte{3}, make([]byte, maxMessageSize)...), ErrMalformed},
		{"version 3 alone", []byte{3}, ErrMalformed},
	}
	for _, c := range cases {
		m, err := ParseMessage(c.b)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrMalformed) || m != nil {
			t.Errorf("%s: %v, %v; want %v", c.name, m, err, c.want)
		}
	}
	// Unknown fields are skipped; a repeated field replaces the earlier one.
	m, err := ParseMessage(buildMessage(3, func(w *wire.Builder) {
		w.AddVarintField(1, 9)
		w.AddBytesField(7, []byte("unknown"))
		w.AddVarintField(5, 1)
		w.AddBytesField(2, ct)
		w.AddVarintField(1, 5)
	}))
	if err != nil || m.Index() != 5 || !bytes.Equal(m.ciphertext, ct) {
		t.Errorf("unknown and repeated fields: %v %v", m, err)
	}
	for _, s := range []string{"", "!!", "AwgAEhAc*", "A"} {
		if _, err := decodeMessage(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeMessage(%q): %v", s, err)
		}
	}
}

// TestMessageStrictPrefix: no strict prefix of a message parses, and none
// decrypts.
func TestMessageStrictPrefix(t *testing.T) {
	out := newTestOutbound(t, 'P')
	in, _ := NewInboundSession(out.SessionKey())
	for _, v := range loadSessionVectors(t) {
		b, _ := b64.Decode(v.Message)
		for i := range len(b) {
			if _, err := ParseMessage(b[:i]); err == nil {
				// A prefix can parse only if it ends where the fields end;
				// then it must still fail authentication.
				if _, _, err := in.Decrypt(nil, b[:i]); err == nil {
					t.Errorf("%s: a %d-byte prefix decrypted", v.Name, i)
				}
			}
		}
	}
	b := out.Encrypt(nil, []byte("prefix test"))
	before := *in
	for i := range len(b) {
		if _, _, err := in.Decrypt(nil, b[:i]); err == nil {
			t.Errorf("a %d-byte prefix of a %d-byte message decrypted", i, len(b))
		}
	}
	if !sameState(in, &before) {
		t.Error("prefixes changed the session")
	}
}

// TestTamper flips every bit region of a message — version, index field,
// ciphertext length and bytes, MAC, signature — and checks that decryption
// fails and leaves the session (both ratchets) unchanged, and that dst is
// untouched. It also forges messages that carry a valid signature but a
// wrong MAC or ratchet.
func TestTamper(t *testing.T) {
	out := newTestOutbound(t, 'T')
	sk := out.SessionKey()
	for range 3 {
		out.Encrypt(nil, nil)
	}
	in, _ := NewInboundSession(sk)
	msg := out.Encrypt(nil, []byte("tamper with every byte of this message"))
	if _, _, err := in.Decrypt(nil, out.Encrypt(nil, nil)); err != nil { // index 4: latest moves past 3
		t.Fatal(err)
	}
	before := *in
	dst := []byte("dst")
	var got []byte
	cryptotest.Tamper(t, msg, func(b []byte) error {
		pt, _, err := in.Decrypt(dst, b)
		if err != nil {
			if pt != nil || string(dst) != "dst" {
				t.Fatalf("output on failure: %q", pt)
			}
			if !sameState(in, &before) {
				t.Fatalf("a refused message changed the session: %v", err)
			}
		}
		got = pt
		return err
	}, cryptotest.Regions(
		cryptotest.Region{Name: "version", Start: 0, End: 1},
		cryptotest.Region{Name: "signature", Start: -signatureSize, End: 0},
		cryptotest.Region{Name: "MAC", Start: -trailerSize, End: -signatureSize},
		cryptotest.Region{Name: "index and ciphertext", Start: 1, End: -trailerSize},
	))
	if string(got) != "dst"+"tamper with every byte of this message" {
		t.Fatalf("genuine message: %q", got)
	}
	before = *in

	// Signed by the session key but with a wrong MAC: the signature
	// verifies, the MAC does not, and the latest ratchet must not move.
	forge := func(idx uint32, mutate func(b []byte)) []byte {
		o := *out
		o.r = in.initial
		o.r.advanceTo(idx)
		b := o.Encrypt(nil, []byte("forged"))
		mutate(b)
		body := b[:len(b)-signatureSize]
		sig := out.signing.Sign(body)
		copy(b[len(b)-signatureSize:], sig[:])
		return b
	}
	for _, idx := range []uint32{3, 9, 1000} {
		b := forge(idx, func(b []byte) { b[len(b)-trailerSize] ^= 1 }) // MAC
		if _, _, err := in.Decrypt(nil, b); !errors.Is(err, ErrAuthentication) {
			t.Errorf("index %d, bad MAC: %v", idx, err)
		}
		b = forge(idx, func(b []byte) { b[1+2+1+4] ^= 1 }) // ciphertext under a MAC for other bytes
		if _, _, err := in.Decrypt(nil, b); !errors.Is(err, ErrAuthentication) {
			t.Errorf("index %d, bad ciphertext: %v", idx, err)
		}
		if !sameState(in, &before) {
			t.Fatalf("index %d: a message failing its MAC moved the session", idx)
		}
	}
	// Correctly signed and MACed, but the padding is garbage (the sender is
	// malicious): an error, no state change.
	o := *out
	o.r = in.initial
	o.r.advanceTo(500)
	keys := o.r.keys()
	w := wire.NewBuilder(nil)
	w.AddUint8(3)
	w.AddVarintField(1, 500)
	raw := bytes.Repeat([]byte{0x10}, 16)
	raw[15] = 0x11 // padding byte 17: invalid
	// CBC: the first block of the ciphertext of raw decrypts to raw alone.
	ct := keys.Encrypt(nil, raw)[:16]
	w.AddBytesField(2, ct)
	b := keys.AppendTag(w.Bytes(), w.Bytes())
	sig := out.signing.Sign(b)
	b = append(b, sig[:]...)
	if _, _, err := in.Decrypt(nil, b); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad padding: %v", err)
	}
	if !sameState(in, &before) {
		t.Fatal("bad padding moved the session")
	}
	// The untampered message still decrypts.
	if pt, idx, err := in.Decrypt(nil, msg); err != nil || idx != 3 || string(pt) != "tamper with every byte of this message" {
		t.Errorf("original: %q %d %v", pt, idx, err)
	}
}

func TestWrongSession(t *testing.T) {
	a := newTestOutbound(t, 'X')
	b := newTestOutbound(t, 'Y')
	in, _ := NewInboundSession(a.SessionKey())
	if _, _, err := in.Decrypt(nil, b.Encrypt(nil, []byte("hi"))); !errors.Is(err, ErrAuthentication) {
		t.Errorf("message of another session: %v", err)
	}
}

// TestEncryptDoesNotModifyInput and appends into spare capacity.
func TestEncryptAppend(t *testing.T) {
	out := newTestOutbound(t, 'U')
	in, _ := NewInboundSession(out.SessionKey())
	pt := []byte("plaintext that must not change")
	keep := append([]byte(nil), pt...)
	dst := make([]byte, 3, 500)
	copy(dst, "abc")
	msg := out.Encrypt(dst, pt)
	if &msg[0] != &dst[0] || string(msg[:3]) != "abc" || !bytes.Equal(pt, keep) {
		t.Error("Encrypt did not append in place or modified its input")
	}
	raw := append([]byte(nil), msg[3:]...)
	got, _, err := in.Decrypt(nil, msg[3:])
	if err != nil || !bytes.Equal(got, pt) || !bytes.Equal(raw, msg[3:]) {
		t.Errorf("Decrypt: %v, or it modified the message", err)
	}
}

// TestAllocs pins the allocation budgets of the append-style hot paths
// (1 each measured on Go 1.26/amd64: crypto/aes's key schedule; CBC runs
// without crypto/cipher's mode object; one spare for other platforms).
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	out := newTestOutbound(t, 'V')
	in, _ := NewInboundSession(out.SessionKey())
	pt := make([]byte, 1024)
	buf := make([]byte, 0, 2048)
	msgs := make([][]byte, 200)
	for i := range msgs {
		msgs[i] = out.Encrypt(nil, pt)
	}
	const encryptBudget, decryptBudget = 2, 2
	if n := testing.AllocsPerRun(100, func() { buf = out.Encrypt(buf[:0], pt) }); n > encryptBudget {
		t.Errorf("Encrypt: %v allocations, budget %d", n, encryptBudget)
	} else {
		t.Logf("Encrypt: %v allocations", n)
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		var err error
		buf, _, err = in.Decrypt(buf[:0], msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		i++
	}); n > decryptBudget {
		t.Errorf("Decrypt: %v allocations, budget %d", n, decryptBudget)
	} else {
		t.Logf("Decrypt: %v allocations", n)
	}
}
