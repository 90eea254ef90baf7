package olm

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// Messages of the libolm Loopback transcript (libolm 3.2.13,
// tests/test_olm.cpp, "Loopback test").
const (
	loopbackMessage1 = "AwogGPifSqNX5o/gxYSEJ4ZgkWCK7it8c3XYfrSUXbBFaCwSIFDwi4mQecAUHmDUkrlRqKVXelMZjLEO9htQCKZrbfxRGiDeLp0Xm0rhQwH5FKAdHWDoeL2FIqmnTPxqVStjKf11TCI/Awog1g5NLrb43IU10JaIrjRx+lHYHfjHyMVXBLqnUeJN3RIQACIQTKAMw5MASbuBfb+MP1bBRy2I95Uk5RwC"
	loopbackMessage2 = "AwogMUrVCqfHn1z7/NJ+5cvvI1SSuCt/y9U3BGVUBHieBUQQACIQ3toh8/x4vYHo++al5vFGTSDT4eWldhZD"
)

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := b64.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLoopbackMessages(t *testing.T) {
	pk, err := ParsePreKeyMessage(mustDecode(t, loopbackMessage1))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		got  key.Curve25519
		want string
	}{
		{"one-time key", pk.OneTimeKey, "GPifSqNX5o/gxYSEJ4ZgkWCK7it8c3XYfrSUXbBFaCw"},
		{"identity key", pk.IdentityKey, "3i6dF5tK4UMB+RSgHR1g6Hi9hSKpp0z8alUrYyn9dUw"},
	} {
		if c.got.String() != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}
	if id, _ := preKeySessionID(pk); id != "I/pzQ59c24PJ3DoKqpjMZjgR6AjwOAwgH3TaAJHJW6Y" {
		t.Errorf("session id %s", id)
	}
	if pk.Message.Index != 0 || len(pk.Message.Ciphertext) != 16 {
		t.Errorf("inner message: index %d, %d ciphertext bytes", pk.Message.Index, len(pk.Message.Ciphertext))
	}
	if !bytes.Equal(pk.raw, mustDecode(t, loopbackMessage1)) {
		t.Error("Bytes differs from the input")
	}
	m, err := ParseMessage(mustDecode(t, loopbackMessage2))
	if err != nil {
		t.Fatal(err)
	}
	if m.RatchetKey.String() != "MUrVCqfHn1z7/NJ+5cvvI1SSuCt/y9U3BGVUBHieBUQ" || m.Index != 0 || len(m.Ciphertext) != 16 {
		t.Errorf("message 2: %s %d %d", m.RatchetKey, m.Index, len(m.Ciphertext))
	}
}

// TestParseFieldOrderAndUnknownFields: fields in any order, unknown varint
// and length-delimited fields skipped, the last of duplicate fields wins
// (libolm's and vodozemac's decoders).
func TestParseFieldOrderAndUnknownFields(t *testing.T) {
	rk := key.Curve25519{1, 2, 3}
	b := wire.NewBuilder([]byte{protocolVersion})
	b.AddBytesField(9, []byte("unknown"))
	b.AddBytesField(fieldCiphertext, make([]byte, 32))
	b.AddVarintField(fieldIndex, 7)
	b.AddVarintField(15, 1<<40)
	b.AddBytesField(fieldRatchetKey, make([]byte, 32))
	b.AddBytesField(fieldRatchetKey, rk[:])
	b.AddVarintField(fieldIndex, 300)
	b.AddBytes(make([]byte, macSize))
	m, err := ParseMessage(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.RatchetKey != rk || m.Index != 300 || len(m.Ciphertext) != 32 {
		t.Errorf("parsed %s %d %d", m.RatchetKey, m.Index, len(m.Ciphertext))
	}
}

func TestParseInvalid(t *testing.T) {
	mac := make([]byte, macSize)
	msg := func(fields func(b *wire.Builder)) []byte {
		b := wire.NewBuilder([]byte{protocolVersion})
		fields(b)
		b.AddBytes(mac)
		return b.Bytes()
	}
	rk := make([]byte, 32)
	ct := make([]byte, 16)
	full := func(b *wire.Builder) {
		b.AddBytesField(fieldRatchetKey, rk)
		b.AddVarintField(fieldIndex, 1)
		b.AddBytesField(fieldCiphertext, ct)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version 2", append([]byte{2}, msg(full)[1:]...), ErrUnsupportedVersion},
		{"version 4", append([]byte{4}, msg(full)[1:]...), ErrUnsupportedVersion},
		{"too short", []byte{3, 0x10, 0, 1, 2, 3, 4, 5, 6, 7}, ErrMalformed},
		{"no ratchet key", msg(func(b *wire.Builder) { b.AddVarintField(fieldIndex, 1); b.AddBytesField(fieldCiphertext, ct) }), ErrMalformed},
		{"no index", msg(func(b *wire.Builder) { b.AddBytesField(fieldRatchetKey, rk); b.AddBytesField(fieldCiphertext, ct) }), ErrMalformed},
		{"no ciphertext", msg(func(b *wire.Builder) { b.AddBytesField(fieldRatchetKey, rk); b.AddVarintField(fieldIndex, 1) }), ErrMalformed},
		{"31-byte ratchet key", msg(func(b *wire.Builder) {
			b.AddBytesField(fieldRatchetKey, rk[:31])
			b.AddVarintField(fieldIndex, 1)
			b.AddBytesField(fieldCiphertext, ct)
		}), ErrMalformed},
		{"33-byte ratchet key", msg(func(b *wire.Builder) {
			b.AddBytesField(fieldRatchetKey, append(rk, 0))
			b.AddVarintField(fieldIndex, 1)
			b.AddBytesField(fieldCiphertext, ct)
		}), ErrMalformed},
		{"index over 32 bits", msg(func(b *wire.Builder) {
			b.AddBytesField(fieldRatchetKey, rk)
			b.AddVarintField(fieldIndex, 1<<32)
			b.AddBytesField(fieldCiphertext, ct)
		}), ErrMalformed},
		{"empty ciphertext", msg(func(b *wire.Builder) {
			b.AddBytesField(fieldRatchetKey, rk)
			b.AddVarintField(fieldIndex, 1)
			b.AddBytesField(fieldCiphertext, nil)
		}), ErrMalformed},
		{"15-byte ciphertext", msg(func(b *wire.Builder) {
			b.AddBytesField(fieldRatchetKey, rk)
			b.AddVarintField(fieldIndex, 1)
			b.AddBytesField(fieldCiphertext, ct[:15])
		}), ErrMalformed},
		{"wire type 5", msg(func(b *wire.Builder) { full(b); b.AddUvarint(3<<3 | 5); b.AddUint32(0) }), ErrMalformed},
		{"truncated varint", msg(func(b *wire.Builder) { full(b); b.AddUint8(0x10); b.AddUint8(0x80) }), ErrMalformed},
		{"overlong varint", msg(func(b *wire.Builder) {
			full(b)
			b.AddUint8(0x10)
			b.AddBytes(bytes.Repeat([]byte{0xff}, 10))
			b.AddUint8(1)
		}), ErrMalformed},
		{"length past end", msg(func(b *wire.Builder) { full(b); b.AddUint8(0x22); b.AddUint8(100) }), ErrMalformed},
	} {
		if _, err := ParseMessage(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := ParseMessage(msg(full)); err != nil {
		t.Fatalf("valid base case: %v", err)
	}

	inner := msg(full)
	pre := func(fields func(b *wire.Builder)) []byte {
		b := wire.NewBuilder([]byte{protocolVersion})
		fields(b)
		return b.Bytes()
	}
	k := make([]byte, 32)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version 4", []byte{4, 0x0a, 0}, ErrUnsupportedVersion},
		{"no one-time key", pre(func(b *wire.Builder) { b.AddBytesField(2, k); b.AddBytesField(3, k); b.AddBytesField(4, inner) }), ErrMalformed},
		{"no base key", pre(func(b *wire.Builder) { b.AddBytesField(1, k); b.AddBytesField(3, k); b.AddBytesField(4, inner) }), ErrMalformed},
		{"no message", pre(func(b *wire.Builder) { b.AddBytesField(1, k); b.AddBytesField(2, k); b.AddBytesField(3, k) }), ErrMalformed},
		{"short identity key", pre(func(b *wire.Builder) {
			b.AddBytesField(1, k)
			b.AddBytesField(2, k)
			b.AddBytesField(3, k[:31])
			b.AddBytesField(4, inner)
		}), ErrMalformed},
		{"inner version 4", pre(func(b *wire.Builder) {
			b.AddBytesField(1, k)
			b.AddBytesField(2, k)
			b.AddBytesField(4, append([]byte{4}, inner[1:]...))
		}), ErrUnsupportedVersion},
		{"inner malformed", pre(func(b *wire.Builder) { b.AddBytesField(1, k); b.AddBytesField(2, k); b.AddBytesField(4, inner[:20]) }), ErrMalformed},
		{"varint message field", pre(func(b *wire.Builder) { b.AddBytesField(1, k); b.AddBytesField(2, k); b.AddVarintField(4, 1) }), ErrMalformed},
	} {
		if _, err := ParsePreKeyMessage(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("pre-key %s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestStrictPrefix: no strict prefix of a valid message parses.
func TestStrictPrefix(t *testing.T) {
	for _, s := range []string{loopbackMessage2} {
		b := mustDecode(t, s)
		for n := range len(b) {
			if _, err := ParseMessage(b[:n]); err == nil {
				t.Errorf("prefix of %d bytes of a normal message parses", n)
			}
		}
	}
	d := newDuo(t)
	for _, m := range []EncryptedMessage{d.send(d.as, "a longer message to have many blocks of ciphertext in it"), d.send(d.as, "")} {
		for n := range len(m.Body) {
			if _, err := ParsePreKeyMessage(m.Body[:n]); err == nil {
				t.Errorf("prefix of %d bytes of a pre-key message parses", n)
			}
		}
	}
	b := mustDecode(t, loopbackMessage1)
	for n := range len(b) {
		if _, err := ParsePreKeyMessage(b[:n]); err == nil {
			t.Errorf("prefix of %d bytes of the loopback pre-key message parses", n)
		}
	}
}

func TestEncryptedMessageJSON(t *testing.T) {
	m := EncryptedMessage{Type: TypeMessage, Body: mustDecode(t, loopbackMessage2)}
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":1,"body":"` + loopbackMessage2 + `"}`; string(j) != want {
		t.Errorf("JSON %s, want %s", j, want)
	}
	var back EncryptedMessage
	if err := json.Unmarshal(j, &back); err != nil || back.Type != m.Type || !bytes.Equal(back.Body, m.Body) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{`{"type":2,"body":"AAAA"}`, `{"type":0,"body":"!!"}`, `{"type":"0","body":"AAAA"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &back); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestParseVodozemacVectors parses the messages of vodozemac's
// src/olm/messages/mod.rs tests (PRE_KEY_MESSAGE, MESSAGE, with their
// expected inner ciphertexts) and round-trips their JSON form.
func TestParseVodozemacVectors(t *testing.T) {
	const (
		preKey = "AwoghAEuxPZ+w7M3pgUae4tDNiggUpOsQ/zci457VAtiAEYSIO3xOKRDBWKicIfxjSmYCYZ9DD4RMLjvvclbMlE5" +
			"yIEWGiApLrCr853CKlPpW4Bi7S8ykRcejJ0lq7AfYLXKCjKdHSJPAwoghw3+P+cajhWj9Qzp5g87h+tbpiuh5wEa" +
			"eUppqmWqug4QASIgRhZ2cgZcIWQbIa23R7U4y1Mo1R/tLCaMU+xjzRV5smGsCrJ6AHwktg"
		normal = "AwogI7JhE/UsMZqXKb3xV6kUZWoJc6jTm2+AIgWYmaETIR0QASIQ+X2zb7kEX/3JvoLspcNBcLWOFXYpV0nS"
	)
	preKeyCiphertext := []byte{70, 22, 118, 114, 6, 92, 33, 100, 27, 33, 173, 183, 71, 181, 56, 203,
		83, 40, 213, 31, 237, 44, 38, 140, 83, 236, 99, 205, 21, 121, 178, 97}
	normalCiphertext := []byte{249, 125, 179, 111, 185, 4, 95, 253, 201, 190, 130, 236, 165, 195, 65, 112}
	pk, err := ParsePreKeyMessage(mustDecode(t, preKey))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pk.Message.Ciphertext, preKeyCiphertext) || pk.Message.Index != 1 || !pk.hasIdentityKey {
		t.Errorf("pre-key message: ciphertext %v, index %d", pk.Message.Ciphertext, pk.Message.Index)
	}
	m, err := ParseMessage(mustDecode(t, normal))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Ciphertext, normalCiphertext) || m.Index != 1 {
		t.Errorf("message: ciphertext %v, index %d", m.Ciphertext, m.Index)
	}
	for _, c := range []struct {
		typ  int
		body string
	}{{TypePreKey, preKey}, {TypeMessage, normal}} {
		in := `{"type":` + string('0'+rune(c.typ)) + `,"body":"` + c.body + `"}`
		var em EncryptedMessage
		if err := json.Unmarshal([]byte(in), &em); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(em)
		if string(out) != in {
			t.Errorf("JSON round trip: %s, want %s", out, in)
		}
	}
}
