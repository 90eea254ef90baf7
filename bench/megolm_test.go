package bench

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/crypto/goolm/megolm"

	"github.com/sicher-go/sicher/bench/floor"
	"github.com/sicher-go/sicher/bench/internal/olmc"
)

var sizes = []int{100, 1024, 65536}

func sizeName(n int) string {
	switch {
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%dKiB", n/1024)
	default:
		return fmt.Sprintf("%dB", n)
	}
}

var sink byte

// Package-level inputs so that the floor does not allocate them.
var (
	infoMegolm = []byte("MEGOLM_KEYS")
	infoOlm    = []byte("OLM_KEYS")
	infoRoot   = []byte("OLM_ROOT")
	infoRatch  = []byte("OLM_RATCHET")
	infoPickle = []byte("Pickle")
	partIdx    = [][]byte{{0}, {1}, {2}, {3}}
)

// megolmWire is a Megolm message of n plaintext bytes laid out as on the
// wire (version, index field, ciphertext field, 8-byte MAC, signature),
// for the floor.
type megolmWire struct {
	msg     []byte // whole message
	body    int    // len of version+fields (MAC input)
	ctOff   int
	ctLen   int
	pt      []byte
	b64     []byte
	edPriv  ed25519.PrivateKey
	edPub   ed25519.PublicKey
	ratchet [128]byte
	keys    [80]byte
	dec     []byte
}

func newMegolmWire(n int) *megolmWire {
	w := &megolmWire{pt: payload(n)}
	ctLen := floor.PadLen(n)
	hdr := []byte{3, 0x08, 0x85, 0x80, 0x01, 0x12} // version, index 16389, ct tag
	hdr = appendUvarint(hdr, uint64(ctLen))
	w.ctOff, w.ctLen = len(hdr), ctLen
	w.msg = append(hdr, make([]byte, ctLen+8+64)...)
	w.body = w.ctOff + ctLen
	w.b64 = make([]byte, base64.RawStdEncoding.EncodedLen(len(w.msg)))
	w.dec = make([]byte, len(w.msg))
	w.edPub, w.edPriv, _ = ed25519.GenerateKey(nil)
	copy(w.ratchet[:], randBytes(128))
	copy(w.msg[w.body+8:], ed25519.Sign(w.edPriv, w.msg[:w.body+8]))
	base64.RawStdEncoding.Encode(w.b64, w.msg)
	return w
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// encrypt: HKDF + pad + AES-CBC + HMAC + Ed25519 sign + one ratchet HMAC +
// base64 of the message.
func (w *megolmWire) encrypt(p *floor.Prims) {
	p.HKDF(w.keys[:], w.ratchet[:], infoMegolm)
	ct := w.msg[w.ctOff : w.ctOff+w.ctLen]
	copy(ct, w.pt)
	for i := len(w.pt); i < len(ct); i++ {
		ct[i] = byte(len(ct) - len(w.pt))
	}
	floor.CBCEncrypt(w.keys[:32], w.keys[64:], ct, ct)
	p.SetKey(w.keys[32:64])
	mac := p.MAC(w.msg[:w.body], nil)
	copy(w.msg[w.body:], mac[:8])
	sig := ed25519.Sign(w.edPriv, w.msg[:w.body+8])
	copy(w.msg[w.body+8:], sig)
	r := p.HMAC(w.ratchet[96:], partIdx[3])
	copy(w.ratchet[96:], r[:])
	base64.RawStdEncoding.Encode(w.b64, w.msg)
}

// decrypt: base64 decode + Ed25519 verify + HKDF + HMAC + AES-CBC.
func (w *megolmWire) decrypt(p *floor.Prims) {
	n, _ := base64.RawStdEncoding.Decode(w.dec, w.b64)
	m := w.dec[:n]
	if !ed25519.Verify(w.edPub, m[:w.body+8], m[w.body+8:]) {
		panic("floor: verify")
	}
	p.HKDF(w.keys[:], w.ratchet[:], infoMegolm)
	p.SetKey(w.keys[32:64])
	mac := p.MAC(m[:w.body], nil)
	sink ^= mac[0]
	ct := m[w.ctOff : w.ctOff+w.ctLen]
	floor.CBCDecrypt(w.keys[:32], w.keys[64:], ct, ct)
}

// megolmAdvanceSteps is the number of ratchet HMACs libolm's
// megolm_advance_to does from 0 to 1,000,000 (0x0F4240): part 1: 14+3,
// part 2: 65+2, part 3: 63+1.
const megolmAdvanceSteps = 148

func floorAdvance(p *floor.Prims, r *[128]byte) {
	for i := range megolmAdvanceSteps {
		part := r[(i%4)*32 : (i%4)*32+32]
		h := p.HMAC(part, partIdx[i%4])
		copy(part, h[:])
	}
}

func BenchmarkMegolmEncrypt(b *testing.B) {
	for _, n := range sizes {
		name := sizeName(n)
		b.Run(name, func(b *testing.B) {
			pt := payload(n)
			m := impls{}
			for pn, p := range peers {
				m[pn] = func(b *testing.B) {
					out := must(p.newOutboundGroup())
					b.SetBytes(int64(n))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := out.Encrypt(pt); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			m["floor"] = func(b *testing.B) {
				w, p := newMegolmWire(n), floor.New()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					w.encrypt(p)
				}
			}
			run(b, "MegolmEncrypt/"+name, m)
		})
	}
}

func BenchmarkMegolmDecrypt(b *testing.B) {
	for _, n := range sizes {
		name := sizeName(n)
		b.Run(name, func(b *testing.B) {
			msg := megolmFix.msgs[n]
			m := impls{}
			for pn, p := range peers {
				m[pn] = func(b *testing.B) {
					in := must(p.newInboundGroup(megolmFix.sessionKey))
					pt, _, err := in.Decrypt(msg)
					if err != nil || !bytes.Equal(pt, payload(n)) {
						b.Fatal("decrypt", err)
					}
					b.SetBytes(int64(n))
					b.ReportAllocs()
					for b.Loop() {
						if _, _, err := in.Decrypt(msg); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			m["floor"] = func(b *testing.B) {
				w, p := newMegolmWire(n), floor.New()
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					w.decrypt(p)
				}
			}
			run(b, "MegolmDecrypt/"+name, m)
		})
	}
}

// BenchmarkMegolmFreshInbound imports a session from its export at index 0
// and decrypts one 100-byte message at index 0 or 1,000,000 (a fresh
// session has to fast-forward its ratchet).
func BenchmarkMegolmFreshInbound(b *testing.B) {
	for _, c := range []struct {
		name string
		msg  []byte
		idx  uint
	}{{"at0", megolmFix.msgs[100], 0}, {"at1M", megolmFix.msg1M, 1_000_000}} {
		b.Run(c.name, func(b *testing.B) {
			m := impls{}
			for pn, p := range peers {
				m[pn] = func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						in, err := p.importGroup(megolmFix.export0)
						if err != nil {
							b.Fatal(err)
						}
						_, idx, err := in.Decrypt(c.msg)
						if err != nil || idx != c.idx {
							b.Fatal("decrypt", err, idx)
						}
					}
				}
			}
			m["floor"] = func(b *testing.B) {
				w, p := newMegolmWire(100), floor.New()
				b.ReportAllocs()
				for b.Loop() {
					if c.idx != 0 {
						floorAdvance(p, &w.ratchet)
					}
					w.decrypt(p)
				}
			}
			run(b, "MegolmFreshInbound/"+c.name, m)
		})
	}
}

// BenchmarkMegolmAdvance advances a raw ratchet from 0 to 1,000,000.
func BenchmarkMegolmAdvance(b *testing.B) {
	var data [128]byte
	copy(data[:], randBytes(128))
	run(b, "MegolmAdvance", impls{
		"goolm": func(b *testing.B) {
			r0 := must(megolm.New(0, data))
			b.ReportAllocs()
			for b.Loop() {
				r := *r0
				r.AdvanceTo(1_000_000)
				sink ^= r.Data[0]
			}
		},
		"libolm": func(b *testing.B) {
			var r0 olmc.Ratchet
			r0.Init(&data, 0)
			b.ReportAllocs()
			for b.Loop() {
				r := r0
				r.AdvanceTo(1_000_000)
				sink ^= byte(r.Counter())
			}
		},
		"floor": func(b *testing.B) {
			p := floor.New()
			b.ReportAllocs()
			for b.Loop() {
				r := data
				floorAdvance(p, &r)
				sink ^= r[0]
			}
		},
	})
}

// TestPeersAgree checks the fixtures: goolm's and libolm's raw ratchets
// agree at 1,000,000, and both drivers decrypt the shared messages.
func TestPeersAgree(t *testing.T) {
	var data [128]byte
	copy(data[:], randBytes(128))
	g := must(megolm.New(0, data))
	g.AdvanceTo(1_000_000)
	var l olmc.Ratchet
	l.Init(&data, 0)
	l.AdvanceTo(1_000_000)
	if l.Data() != g.Data || l.Counter() != g.Counter {
		t.Fatal("goolm and libolm ratchets differ at 1,000,000")
	}
	for pn, p := range peers {
		in := must(p.importGroup(megolmFix.export0))
		pt, idx, err := in.Decrypt(megolmFix.msg1M)
		if err != nil || idx != 1_000_000 || !bytes.Equal(pt, payload(100)) {
			t.Fatalf("%s: decrypt at 1M: %v", pn, err)
		}
	}
}
