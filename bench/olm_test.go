package bench

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/sicher-go/sicher/bench/floor"
)

// olmFloor holds buffers for the Olm floors.
type olmFloor struct {
	p       *floor.Prims
	seed    [32]byte
	secret  [96]byte
	keys    [80]byte
	root    [64]byte
	peer    *ecdh.PublicKey
	msg     []byte // header + ciphertext + MAC of a 1 KiB Olm message
	ctOff   int
	ctLen   int
	b64     []byte
	dec     []byte
	pt      []byte
	prekeyB []byte // base64 of a pre-key message (about 220 bytes)
}

func newOlmFloor() *olmFloor {
	f := &olmFloor{p: floor.New(), pt: payload(1024)}
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	f.peer = k.PublicKey()
	ctLen := floor.PadLen(1024)
	hdr := []byte{3, 0x0a, 0x20}
	hdr = append(hdr, make([]byte, 32)...)
	hdr = append(hdr, 0x10, 0x05, 0x22)
	hdr = appendUvarint(hdr, uint64(ctLen))
	f.ctOff, f.ctLen = len(hdr), ctLen
	f.msg = append(hdr, make([]byte, ctLen+8)...)
	f.b64 = make([]byte, base64.RawStdEncoding.EncodedLen(len(f.msg)))
	f.dec = make([]byte, len(f.msg))
	f.prekeyB = make([]byte, base64.RawStdEncoding.EncodedLen(220))
	base64.RawStdEncoding.Encode(f.prekeyB, randBytes(220))
	return f
}

func (f *olmFloor) keygen() *ecdh.PrivateKey {
	rand.Read(f.seed[:])
	k, err := ecdh.X25519().NewPrivateKey(f.seed[:])
	if err != nil {
		panic(err)
	}
	k.PublicKey()
	return k
}

func (f *olmFloor) dh(k *ecdh.PrivateKey, slot int) {
	s, err := k.ECDH(f.peer)
	if err != nil {
		panic(err)
	}
	copy(f.secret[slot*32:], s)
}

// send: two chain HMACs, HKDF, pad + AES-CBC, HMAC over the message,
// base64 encode.
func (f *olmFloor) send() {
	ck := f.root[32:]
	mk := f.p.HMAC(ck, partIdx[1])
	nk := f.p.HMAC(ck, partIdx[2])
	copy(ck, nk[:])
	f.p.HKDF(f.keys[:], mk[:], infoOlm)
	ct := f.msg[f.ctOff : f.ctOff+f.ctLen]
	copy(ct, f.pt)
	for i := len(f.pt); i < len(ct); i++ {
		ct[i] = byte(len(ct) - len(f.pt))
	}
	floor.CBCEncrypt(f.keys[:32], f.keys[64:], ct, ct)
	f.p.SetKey(f.keys[32:64])
	mac := f.p.MAC(f.msg[:f.ctOff+f.ctLen], nil)
	copy(f.msg[f.ctOff+f.ctLen:], mac[:8])
	base64.RawStdEncoding.Encode(f.b64, f.msg)
}

// receive: base64 decode, two chain HMACs, HKDF, HMAC, AES-CBC.
func (f *olmFloor) receive() {
	n, _ := base64.RawStdEncoding.Decode(f.dec, f.b64)
	m := f.dec[:n]
	ck := f.root[32:]
	mk := f.p.HMAC(ck, partIdx[1])
	nk := f.p.HMAC(ck, partIdx[2])
	copy(ck, nk[:])
	f.p.HKDF(f.keys[:], mk[:], infoOlm)
	f.p.SetKey(f.keys[32:64])
	mac := f.p.MAC(m[:f.ctOff+f.ctLen], nil)
	sink ^= mac[0]
	ct := m[f.ctOff : f.ctOff+f.ctLen]
	floor.CBCDecrypt(f.keys[:32], f.keys[64:], ct, ct)
}

// receiveSmall decrypts the 5-byte first message inside a pre-key
// message: two chain HMACs, HKDF, HMAC, one AES block.
func (f *olmFloor) receiveSmall() {
	ck := f.root[32:]
	mk := f.p.HMAC(ck, partIdx[1])
	nk := f.p.HMAC(ck, partIdx[2])
	copy(ck, nk[:])
	f.p.HKDF(f.keys[:], mk[:], infoOlm)
	f.p.SetKey(f.keys[32:64])
	mac := f.p.MAC(f.dec[:40], nil)
	sink ^= mac[0]
	floor.CBCDecrypt(f.keys[:32], f.keys[64:], f.dec[:16], f.dec[:16])
}

// ratchetStep: one side's new ratchet key and DH + root KDF, the other
// side's DH + root KDF.
func (f *olmFloor) ratchetStep() {
	k := f.keygen()
	f.dh(k, 0)
	f.p.HKDF(f.root[:], f.secret[:32], infoRatch)
	f.dh(k, 1)
	f.p.HKDF(f.root[:], f.secret[32:64], infoRatch)
}

func BenchmarkOlmAccount(b *testing.B) {
	m := impls{}
	for pn, p := range peers {
		m[pn] = func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				must(p.newAccount())
			}
		}
	}
	m["floor"] = func(b *testing.B) {
		f := newOlmFloor()
		b.ReportAllocs()
		for b.Loop() {
			rand.Read(f.seed[:])
			sink ^= ed25519.NewKeyFromSeed(f.seed[:])[40]
			f.keygen()
		}
	}
	run(b, "OlmAccount", m)
}

func BenchmarkOlmOneTimeKeys100(b *testing.B) {
	m := impls{}
	for pn, p := range peers {
		m[pn] = func(b *testing.B) {
			a := must(p.newAccount())
			b.ReportAllocs()
			for b.Loop() {
				if err := a.GenOneTimeKeys(100); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	m["floor"] = func(b *testing.B) {
		f := newOlmFloor()
		b.ReportAllocs()
		for b.Loop() {
			for range 100 {
				f.keygen()
			}
		}
	}
	run(b, "OlmOneTimeKeys100", m)
}

func BenchmarkOlmOutbound(b *testing.B) {
	m := impls{}
	for pn, p := range peers {
		m[pn] = func(b *testing.B) {
			alice, bob := must(p.newAccount()), must(p.newAccount())
			_, idk, _ := bob.IdentityKeys()
			otk := firstOTK(bob)
			b.ReportAllocs()
			for b.Loop() {
				must(alice.NewOutboundSession(idk, otk))
			}
		}
	}
	m["floor"] = func(b *testing.B) {
		f := newOlmFloor()
		id := f.keygen()
		b.ReportAllocs()
		for b.Loop() {
			base := f.keygen()
			f.dh(id, 0)
			f.dh(base, 1)
			f.dh(base, 2)
			f.p.HKDF(f.root[:], f.secret[:], infoRoot)
			f.keygen() // first ratchet key
		}
	}
	run(b, "OlmOutbound", m)
}

func BenchmarkOlmInbound(b *testing.B) {
	m := impls{}
	for pn, p := range peers {
		m[pn] = func(b *testing.B) {
			x := newOlmPair(p)
			b.ReportAllocs()
			for b.Loop() {
				s := must(x.bob.NewInboundSession(x.preKeyMsg))
				if _, err := s.Decrypt(x.preKeyMsg, id.OlmMsgTypePreKey); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	m["floor"] = func(b *testing.B) {
		f := newOlmFloor()
		id, otk := f.keygen(), f.keygen()
		b.ReportAllocs()
		for b.Loop() {
			base64.RawStdEncoding.Decode(f.dec, f.prekeyB)
			f.dh(otk, 0)
			f.dh(id, 1)
			f.dh(otk, 2)
			f.p.HKDF(f.root[:], f.secret[:], infoRoot)
			f.receiveSmall()
		}
	}
	run(b, "OlmInbound", m)
}

// BenchmarkOlmInbound creates Bob's session from Alice's pre-key message
// and decrypts that first message (sicher does both in one call; the peers'
// two calls are timed together).

// BenchmarkOlmSameChain: Alice encrypts 1 KiB, Bob decrypts it, on an
// established session (one message each way already).
func BenchmarkOlmSameChain(b *testing.B) {
	pt := payload(1024)
	m := impls{}
	for pn, p := range peers {
		m[pn] = func(b *testing.B) {
			x := newOlmPair(p)
			b.SetBytes(1024)
			b.ReportAllocs()
			for b.Loop() {
				typ, msg, err := x.aliceS.Encrypt(pt)
				if err != nil || typ != id.OlmMsgTypeMsg {
					b.Fatal(err)
				}
				if _, err := x.bobS.Decrypt(string(msg), typ); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	m["floor"] = func(b *testing.B) {
		f := newOlmFloor()
		b.SetBytes(1024)
		b.ReportAllocs()
		for b.Loop() {
			f.send()
			f.receive()
		}
	}
	run(b, "OlmSameChain", m)
}

// BenchmarkOlmPingPong: Alice sends 1 KiB to Bob, Bob answers with 1 KiB;
// each message starts a new ratchet step.
func BenchmarkOlmPingPong(b *testing.B) {
	pt := payload(1024)
	m := impls{}
	for pn, p := range peers {
		m[pn] = func(b *testing.B) {
			x := newOlmPair(p)
			b.SetBytes(2048)
			b.ReportAllocs()
			for b.Loop() {
				typ, msg, _ := x.aliceS.Encrypt(pt)
				if _, err := x.bobS.Decrypt(string(msg), typ); err != nil {
					b.Fatal(err)
				}
				typ, msg, _ = x.bobS.Encrypt(pt)
				if _, err := x.aliceS.Decrypt(string(msg), typ); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	m["floor"] = func(b *testing.B) {
		f := newOlmFloor()
		b.SetBytes(2048)
		b.ReportAllocs()
		for b.Loop() {
			for range 2 {
				f.ratchetStep()
				f.send()
				f.receive()
			}
		}
	}
	run(b, "OlmPingPong", m)
}

// PadLenFor is floor.PadLen (named here to keep call sites short).
func PadLenFor(n int) int { return floor.PadLen(n) }

func floorCBCEnc(key, iv, buf []byte) { floor.CBCEncrypt(key, iv, buf, buf) }
func floorCBCDec(key, iv, buf []byte) { floor.CBCDecrypt(key, iv, buf, buf) }
