package megolm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
)

// fuzzSeeds returns the binary messages of the session vectors and the
// libolm interop transcripts.
func fuzzMessageSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, v := range loadSessionVectors(t) {
		for _, s := range []string{v.Message, v.BadMessage} {
			if b, err := b64.Decode(s); err == nil && s != "" {
				seeds = append(seeds, b)
			}
		}
	}
	for _, v := range loadInterop(t) {
		for _, m := range v.Messages {
			b, _ := b64.Decode(m.Message)
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range fuzzMessageSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{4})
	out2, _ := newConfigPair(f, SessionConfigV2, 0) // session config v2: version 4, 32-byte MAC
	f.Add(out2.Encrypt(nil, []byte("seed")))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil message with an error")
			}
			return
		}
		// Semantically stable: the kept bytes parse to the same message.
		m2, err := ParseMessage(m.Bytes())
		if err != nil || m2.Index() != m.Index() || !bytes.Equal(m2.ciphertext, m.ciphertext) ||
			!bytes.Equal(m2.MAC(), m.MAC()) || key.Ed25519Signature(m2.signature()) != key.Ed25519Signature(m.signature()) || !bytes.Equal(m.Bytes(), b) {
			t.Fatalf("reparse differs: %v", err)
		}
		if len(m.ciphertext) == 0 {
			t.Fatal("empty ciphertext accepted")
		}
	})
}

func FuzzSessionKey(f *testing.F) {
	for _, v := range loadSessionVectors(f) {
		b, _ := b64.Decode(v.SessionKey)
		f.Add(b)
	}
	for _, v := range loadInterop(f) {
		b, _ := b64.Decode(v.Key)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseSessionKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Bytes(), b) {
			t.Fatal("session key does not round-trip")
		}
		if _, err := NewInboundSession(k); err != nil {
			t.Fatalf("a parsed session key makes no session: %v", err)
		}
	})
}

func FuzzExportedSessionKey(f *testing.F) {
	for _, v := range loadInterop(f) {
		for _, e := range v.Exports {
			b, _ := b64.Decode(e)
			f.Add(b)
		}
		b, _ := b64.Decode(v.Key)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseExportedSessionKey(b)
		if err != nil {
			return
		}
		if len(b) == exportedKeySize && !bytes.Equal(k.Bytes(), b) {
			t.Fatal("exported key does not round-trip")
		}
		s, err := ImportInboundSession(k)
		if err != nil {
			t.Fatalf("a parsed exported key makes no session: %v", err)
		}
		if s.IsVerified() {
			t.Fatal("imported session is verified")
		}
	})
}

// FuzzDecrypt decrypts arbitrary bytes with V5's session (seeded with the
// vectors' messages, which are valid for their own sessions) and the
// interop session at index 255: no panic, and a failure never changes the
// session.
func FuzzDecrypt(f *testing.F) {
	for _, s := range fuzzMessageSeeds(f) {
		f.Add(s)
	}
	v5 := loadSessionVectors(f)[0]
	iv := loadInterop(f)[2]
	var sessions []*InboundSession
	for _, s := range []string{v5.SessionKey, iv.Key} {
		k, err := parseSessionKeyText(s)
		if err != nil {
			f.Fatal(err)
		}
		in, err := NewInboundSession(k)
		if err != nil {
			f.Fatal(err)
		}
		sessions = append(sessions, in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range sessions {
			before := *in
			pt, _, err := in.Decrypt(nil, b)
			if err != nil {
				if pt != nil || !sameState(in, &before) {
					t.Fatal("failed decryption returned output or changed the session")
				}
				continue
			}
			*in = before // keep the sessions fixed across inputs
		}
	})
}

func FuzzUnpickle(f *testing.F) {
	out := newTestOutbound(f, 'F')
	in, _ := NewInboundSession(out.SessionKey())
	po, _ := out.Pickle(&testPickleKey)
	pi, _ := in.Pickle(&testPickleKey)
	f.Add(po)
	f.Add(pi)
	for _, v := range loadInterop(f)[:2] {
		f.Add(v.OutboundPickle)
		f.Add(v.InboundPickle)
	}
	f.Fuzz(func(t *testing.T, s string) {
		UnpickleOutboundSession(&testPickleKey, s)
		UnpickleInboundSession(&testPickleKey, s)
		UnpickleLibolmOutboundSession(nil, s)
		UnpickleLibolmInboundSession([]byte("secret_key"), s)
	})
}

// Fuzz targets of the mutation of authentic messages, the base64 message form, and the stability of every
// pickle parser (parse -> encode -> parse), own and libolm formats.

// authenticMessages returns a verified inbound session and messages at
// indices 0, 1 and 7 of its outbound session.
func authenticMessages(t testing.TB) (*InboundSession, [][]byte) {
	out := newTestOutbound(t, 'M')
	in, err := NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for i := range 8 {
		m := out.Encrypt(nil, []byte("authentic plaintext of some length"))
		if i == 0 || i == 1 || i == 7 {
			msgs = append(msgs, m)
		}
	}
	return in, msgs
}

// FuzzMutatedMessage flips bits of authentic messages: every mutation fails,
// returns no plaintext, and leaves the session as it was (same pickle).
func FuzzMutatedMessage(f *testing.F) {
	in, msgs := authenticMessages(f)
	before, err := in.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), uint16(0), uint8(1))
	f.Add(uint8(1), uint16(5), uint8(0x80))
	f.Add(uint8(2), uint16(100), uint8(0x40))
	f.Fuzz(func(t *testing.T, which uint8, pos uint16, mask uint8) {
		if mask == 0 {
			return
		}
		m := bytes.Clone(msgs[int(which)%len(msgs)])
		m[int(pos)%len(m)] ^= mask
		pt, _, err := in.Decrypt(nil, m)
		if err == nil {
			t.Fatalf("mutated message decrypted to %q", pt)
		}
		if pt != nil {
			t.Fatal("plaintext returned with an error")
		}
		after, _ := in.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey)
		if after != before {
			t.Fatalf("failed decryption changed the session: %v", err)
		}
	})
}

// FuzzDecodeMessage checks the base64 form: whatever DecodeMessage accepts
// is the binary message ParseMessage accepts, and re-encodes to the same
// unpadded text.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range fuzzMessageSeeds(f) {
		f.Add(b64.Encode(s))
	}
	f.Add("Aw")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := decodeMessage(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		raw, err := b64.Decode(s)
		if err != nil {
			t.Fatalf("DecodeMessage accepted %q, which is not base64", s)
		}
		m2, err := ParseMessage(raw)
		if err != nil || m2.Index() != m.Index() || !bytes.Equal(m2.Bytes(), m.Bytes()) {
			t.Fatalf("binary form differs: %v", err)
		}
		m3, err := decodeMessage(b64.Encode(m.raw))
		if err != nil || !bytes.Equal(m3.Bytes(), m.Bytes()) {
			t.Fatalf("String does not round-trip: %v", err)
		}
	})
}

var fuzzLibolmKey = []byte("fuzz pickle key")

// FuzzPickleStable seals arbitrary plaintexts as pickles (the envelope is
// authenticated, so this is what a corrupted store with the right key
// reaches) and checks that whatever parses encodes to a fixed point:
// unpickle -> pickle -> unpickle -> pickle gives the same bytes twice.
//
//	kind 0: own inbound; 1: own outbound; 2: libolm inbound; 3: libolm outbound.
func FuzzPickleStable(f *testing.F) {
	out := newTestOutbound(f, 'P')
	out.Encrypt(nil, []byte("x"))
	in, _ := NewInboundSession(out.SessionKey())
	in2, _ := ImportInboundSession(in.ExportAtFirstKnownIndex())
	for _, s := range []*InboundSession{in, in2} {
		p, _ := s.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey)
		pt, _ := pickle.OpenRaw(&testPickleKey, inboundPickleKind, p)
		f.Add(uint8(0), pt)
		lpt, _ := pickle.OpenLibolm(fuzzLibolmKey, mustPickleLibolm(f, s, fuzzLibolmKey))
		f.Add(uint8(2), lpt)
	}
	p, _ := out.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey)
	pt, _ := pickle.OpenRaw(&testPickleKey, outboundPickleKind, p)
	f.Add(uint8(1), pt)
	lpt, _ := pickle.OpenLibolm(fuzzLibolmKey, mustPickleLibolm(f, out, fuzzLibolmKey))
	f.Add(uint8(3), lpt)
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		var encode func(pt []byte) ([]byte, error)
		open := func(p string, err error) ([]byte, error) {
			if err != nil {
				t.Fatal(err)
			}
			return pickle.OpenRaw(&testPickleKey, map[bool]string{true: inboundPickleKind, false: outboundPickleKind}[kind%4 == 0], p)
		}
		switch kind % 4 {
		case 0:
			encode = func(pt []byte) ([]byte, error) {
				p, _ := pickle.SealRaw(cryptotest.ZeroReader{}, &testPickleKey, inboundPickleKind, pt)
				s, err := UnpickleInboundSession(&testPickleKey, p)
				if err != nil {
					return nil, err
				}
				return open(s.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey))
			}
		case 1:
			encode = func(pt []byte) ([]byte, error) {
				p, _ := pickle.SealRaw(cryptotest.ZeroReader{}, &testPickleKey, outboundPickleKind, pt)
				s, err := UnpickleOutboundSession(&testPickleKey, p)
				if err != nil {
					return nil, err
				}
				return open(s.pickleFrom(cryptotest.ZeroReader{}, &testPickleKey))
			}
		case 2:
			encode = func(pt []byte) ([]byte, error) {
				s, err := UnpickleLibolmInboundSession(fuzzLibolmKey, pickle.SealLibolm(fuzzLibolmKey, pt))
				if err != nil {
					return nil, err
				}
				return pickle.OpenLibolm(fuzzLibolmKey, mustPickleLibolm(t, s, fuzzLibolmKey))
			}
		case 3:
			encode = func(pt []byte) ([]byte, error) {
				s, err := UnpickleLibolmOutboundSession(fuzzLibolmKey, pickle.SealLibolm(fuzzLibolmKey, pt))
				if err != nil {
					return nil, err
				}
				return pickle.OpenLibolm(fuzzLibolmKey, mustPickleLibolm(t, s, fuzzLibolmKey))
			}
		}
		e1, err := encode(b)
		if err != nil {
			if !errors.Is(err, ErrBadPickle) {
				t.Fatalf("pickle error does not wrap ErrBadPickle: %v", err)
			}
			return
		}
		e2, err := encode(e1)
		if err != nil {
			t.Fatalf("re-encoded pickle does not parse: %v", err)
		}
		if !bytes.Equal(e1, e2) {
			t.Fatalf("unpickle -> pickle is not stable:\n%x\n%x", e1, e2)
		}
	})
}
