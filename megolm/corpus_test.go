package megolm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/testvectors"
)

// The conformance corpus in testvectors/megolm (generated from Debian
// libolm 3.2.13 by testvectors/libolm, plus upstream vectors; every vector
// names its source). These tests replay all of it.

// corpusClass maps an error of this package to the corpus's failure class.
func corpusClass(err error) string {
	var ue *UnknownIndexError
	switch {
	case err == nil:
		return testvectors.OK
	case errors.Is(err, ErrUnsupportedVersion):
		return testvectors.BadVersion
	case errors.As(err, &ue):
		return testvectors.UnknownIndex
	case errors.Is(err, errBadSignature):
		return testvectors.BadSignature
	case errors.Is(err, errBadMAC):
		return testvectors.BadMAC
	case errors.Is(err, b64.ErrInvalid):
		return testvectors.BadBase64
	case errors.Is(err, ErrMalformed):
		return testvectors.BadFormat
	}
	return "unclassified: " + err.Error()
}

func TestCorpusRatchet(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.MegolmRatchet](t, "megolm/ratchet.json") {
		t.Run(v.Name, func(t *testing.T) {
			r := newRatchetFrom(t, v.Initial, v.Counter)
			for i, op := range v.Ops {
				switch op.Op {
				case "advance":
					r.advance()
				case "advance_to":
					r.advanceTo(op.To)
				default:
					t.Fatalf("unknown op %q", op.Op)
				}
				if r.counter != op.Counter || !bytes.Equal(r.data[:], op.Data) {
					t.Fatalf("op %d (%s %#x): got %#x %x, want %#x %x", i, op.Op, op.To, r.counter, r.data, op.Counter, op.Data)
				}
			}
		})
	}
}

func TestCorpusRatchetDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("accumulated digests skipped in -short mode")
	}
	for _, v := range testvectors.Load[testvectors.MegolmRatchetDigest](t, "megolm/ratchet_digest.json") {
		h := sha256.New()
		var buf [4]byte
		v.Each(func(initial *[128]byte, start, target uint32) {
			r := ratchet{data: *initial, counter: start}
			r.advanceTo(target)
			h.Write(r.data[:])
			binary.BigEndian.PutUint32(buf[:], r.counter)
			h.Write(buf[:])
		})
		if got := h.Sum(nil); !bytes.Equal(got, v.Digest) {
			t.Errorf("%s: digest %x, want %x (%s)", v.Name, got, v.Digest, v.Source)
		}
	}
}

func TestCorpusOutbound(t *testing.T) {
	for _, v := range testvectors.Load[testvectors.MegolmOutbound](t, "megolm/outbound.json") {
		t.Run(v.Name, func(t *testing.T) {
			var s *OutboundSession
			var err error
			if len(v.Random) > 0 {
				s, err = NewOutboundSessionFrom(bytes.NewReader(v.Random))
			} else {
				s, err = UnpickleLibolmOutboundSession(v.PickleKey, v.Pickle)
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Pickle != "" {
				p, err := UnpickleLibolmOutboundSession(v.PickleKey, v.Pickle)
				if err != nil || p.r != s.r || p.SessionID() != s.SessionID() {
					t.Fatalf("pickle and random disagree: %v", err)
				}
				if got := mustPickleLibolm(t, p, v.PickleKey); got != v.Pickle {
					t.Error("libolm pickle not reproduced byte for byte")
				}
			}
			if s.MessageIndex() != v.Index || s.SessionID().String() != v.SessionID || s.SessionKey().Base64() != v.SessionKey {
				t.Fatalf("session at %d %s: key differs", s.MessageIndex(), s.SessionID())
			}
			in, err := NewInboundSession(s.SessionKey())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range v.Messages {
				if s.MessageIndex() != m.Index {
					t.Fatalf("index %d, want %d", s.MessageIndex(), m.Index)
				}
				if got := encryptBase64(s, m.Plaintext); got != m.Message {
					t.Errorf("message at %d differs from libolm's", m.Index)
				}
				if m.Index < v.Index {
					continue // wrapped past 2^32-1: refused by design
				}
				pt, idx, err := decryptBase64(in, m.Message)
				if err != nil || idx != m.Index || !bytes.Equal(pt, m.Plaintext) {
					t.Errorf("decrypt at %d: %v", m.Index, err)
				}
			}
		})
	}
}

// TestCorpusSessions replays megolm/sessions.json. Where the corpus records
// libolm's verified flag after decrypting with an imported session (true),
// sicher keeps vodozemac's (false).
func TestCorpusSessions(t *testing.T) {
	vs := testvectors.Load[testvectors.MegolmDecrypt](t, "megolm/sessions.json")
	classes := map[string]int{}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			var s *InboundSession
			var err error
			imported := v.ExportedKey != ""
			if imported {
				var k *ExportedSessionKey
				if k, err = parseExportedKeyText(v.ExportedKey); err == nil {
					s, err = ImportInboundSession(k)
				}
			} else {
				var k *SessionKey
				if k, err = parseSessionKeyText(v.SessionKey); err == nil {
					s, err = NewInboundSession(k)
				}
			}
			// A failure vector without a session ID is about creation; one
			// with a session ID and no message is about decrypting the
			// empty message.
			if v.Expect != testvectors.OK && v.SessionID == "" {
				c := corpusClass(err)
				classes[c]++
				if !v.Accepts(c) {
					t.Fatalf("creation: %v (class %s), want %s", err, c, v.Expect)
				}
				return
			}
			if err != nil {
				t.Fatalf("creation: %v", err)
			}
			if s.SessionID().String() != v.SessionID || s.FirstKnownIndex() != v.FirstKnownIndex || s.IsVerified() == imported {
				t.Fatalf("session %v, want %s at %d", s, v.SessionID, v.FirstKnownIndex)
			}
			if v.ExportAtFirst != "" && s.ExportAtFirstKnownIndex().Base64() != v.ExportAtFirst {
				t.Error("export at first known index differs from libolm's")
			}
			if v.Message == "" && v.Expect == testvectors.OK {
				return
			}
			before := *s
			pt, idx, err := decryptBase64(s, v.Message)
			c := corpusClass(err)
			classes[c]++
			if !v.Accepts(c) {
				t.Fatalf("decrypt: %v (class %s), want %s (libolm %s)", err, c, v.Expect, v.LibolmError)
			}
			if err != nil {
				if !sameState(s, &before) {
					t.Error("failed decryption changed the session")
				}
				return
			}
			if idx != v.MessageIndex || !bytes.Equal(pt, v.Plaintext) {
				t.Errorf("got %d %x, want %d %x", idx, pt, v.MessageIndex, v.Plaintext)
			}
			wantVerified := v.Verified && !imported
			if s.IsVerified() != wantVerified {
				t.Errorf("verified %t after decrypt, want %t", s.IsVerified(), wantVerified)
			}
		})
	}
	t.Logf("%d vectors, outcomes %v", len(vs), classes)
}
