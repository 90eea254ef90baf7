package bench

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/sicher-go/sicher/megolm"
)

// The sicher side of the Megolm operations, through megolm's public API:
// append-style Encrypt/Decrypt into reused buffers, with the wire text
// (unpadded base64) encoded and decoded by encoding/base64 into reused
// buffers too, so the benchmark sees what a careful caller gets.

func init() {
	for _, n := range sizes {
		sicherBench["MegolmEncrypt/"+sizeName(n)] = func(b *testing.B) {
			out := must(megolm.NewOutboundSession())
			pt := payload(n)
			var msg, text []byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				msg = out.Encrypt(msg[:0], pt)
				text = base64.RawStdEncoding.AppendEncode(text[:0], msg)
			}
		}
		sicherBench["MegolmDecrypt/"+sizeName(n)] = func(b *testing.B) {
			in := must(megolm.NewInboundSession(must(megolm.ParseSessionKey(must(base64.RawStdEncoding.DecodeString(string(megolmFix.sessionKey)))))))
			text := megolmFix.msgs[n]
			var raw, pt []byte
			var err error
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				raw, err = base64.RawStdEncoding.AppendDecode(raw[:0], text)
				if err != nil {
					b.Fatal(err)
				}
				if pt, _, err = in.Decrypt(pt[:0], raw); err != nil {
					b.Fatal(err)
				}
			}
			if !bytes.Equal(pt, payload(n)) {
				b.Fatal("wrong plaintext")
			}
		}
	}
	for name, c := range map[string]struct {
		msg []byte
		idx uint32
	}{"at0": {megolmFix.msgs[100], 0}, "at1M": {megolmFix.msg1M, 1_000_000}} {
		sicherBench["MegolmFreshInbound/"+name] = func(b *testing.B) {
			export := []byte(megolmFix.export0)
			var raw, pt []byte
			b.ReportAllocs()
			for b.Loop() {
				k := new(megolm.ExportedSessionKey)
				if err := k.UnmarshalText(export); err != nil {
					b.Fatal(err)
				}
				in, err := megolm.ImportInboundSession(k)
				if err != nil {
					b.Fatal(err)
				}
				raw, _ = base64.RawStdEncoding.AppendDecode(raw[:0], c.msg)
				var idx uint32
				if pt, idx, err = in.Decrypt(pt[:0], raw); err != nil || idx != c.idx {
					b.Fatal(err, idx)
				}
			}
		}
	}
	// megolm has no public raw ratchet: the nearest public operation is
	// InboundSession.AdvanceTo on a copy of a session imported at index 0
	// (a struct copy of the session value, so no allocation or key
	// validation is timed).
	sicherBench["MegolmAdvance"] = func(b *testing.B) {
		s0 := must(megolm.ImportInboundSession(must(megolm.ParseExportedSessionKey(must(base64.RawStdEncoding.DecodeString(string(megolmFix.export0)))))))
		b.ReportAllocs()
		for b.Loop() {
			s := *s0
			if !s.AdvanceTo(1_000_000) {
				b.Fatal("no advance")
			}
		}
	}
}
