package megolm

import (
	"bytes"
	"github.com/sicher-go/sicher/key"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
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
