package bench

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
)

// sicherOlmPair mirrors olmPair: one message each way already exchanged.
type sicherOlmPair struct {
	alice, bob   *olm.Account
	aliceS, bobS *olm.Session
	preKeyB64    []byte
	bobIdentity  key.Curve25519
	otk          key.Curve25519
}

func newSicherOlmPair() *sicherOlmPair {
	x := &sicherOlmPair{alice: must(olm.NewAccount()), bob: must(olm.NewAccount())}
	x.bobIdentity = x.bob.Curve25519()
	created, _, err := x.bob.GenerateOneTimeKeys(1)
	if err != nil {
		panic(err)
	}
	x.otk = created[0].Key
	x.aliceS = must(x.alice.NewOutboundSession(x.bobIdentity, x.otk))
	m := must(x.aliceS.Encrypt(nil, []byte("hello")))
	x.preKeyB64 = base64.RawStdEncoding.AppendEncode(nil, m.Body)
	pkm := must(olm.ParsePreKeyMessage(m.Body))
	var pt []byte
	x.bobS, pt, err = x.bob.NewInboundSession(pkm, &olm.InboundOptions{KeepOneTimeKey: true})
	if err != nil || string(pt) != "hello" {
		panic("sicher olm setup")
	}
	r := must(x.bobS.Encrypt(nil, []byte("hi")))
	if _, err := x.aliceS.Decrypt(nil, r); err != nil {
		panic(err)
	}
	return x
}

// olmWire sends m as unpadded base64 and receives it back, into reused
// buffers: what crossing the wire costs a careful caller.
type olmWire struct{ text, raw []byte }

func (w *olmWire) cross(m olm.EncryptedMessage) olm.EncryptedMessage {
	w.text = base64.RawStdEncoding.AppendEncode(w.text[:0], m.Body)
	var err error
	w.raw, err = base64.RawStdEncoding.AppendDecode(w.raw[:0], w.text)
	if err != nil {
		panic(err)
	}
	return olm.EncryptedMessage{Type: m.Type, Body: w.raw}
}

func init() {
	sicherBench["OlmAccount"] = func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			must(olm.NewAccount())
		}
	}
	sicherBench["OlmOneTimeKeys100"] = func(b *testing.B) {
		a := must(olm.NewAccount())
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := a.GenerateOneTimeKeys(100); err != nil {
				b.Fatal(err)
			}
		}
	}
	sicherBench["OlmOutbound"] = func(b *testing.B) {
		x := newSicherOlmPair()
		b.ReportAllocs()
		for b.Loop() {
			must(x.alice.NewOutboundSession(x.bobIdentity, x.otk))
		}
	}
	sicherBench["OlmInbound"] = func(b *testing.B) {
		x := newSicherOlmPair()
		opts := &olm.InboundOptions{KeepOneTimeKey: true}
		var raw []byte
		b.ReportAllocs()
		for b.Loop() {
			raw, _ = base64.RawStdEncoding.AppendDecode(raw[:0], x.preKeyB64)
			pkm, err := olm.ParsePreKeyMessage(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := x.bob.NewInboundSession(pkm, opts); err != nil {
				b.Fatal(err)
			}
		}
	}
	sicherBench["OlmSameChain"] = func(b *testing.B) {
		x := newSicherOlmPair()
		pt := payload(1024)
		var w olmWire
		body := make([]byte, 0, 2048)
		out := make([]byte, 0, 2048)
		b.SetBytes(1024)
		b.ReportAllocs()
		for b.Loop() {
			// Append-style, into reused buffers (as for Megolm).
			m, err := x.aliceS.Encrypt(body[:0], pt)
			if err != nil {
				b.Fatal(err)
			}
			got, err := x.bobS.Decrypt(out[:0], w.cross(m))
			if err != nil || !bytes.Equal(got, pt) {
				b.Fatal(err)
			}
		}
	}
	sicherBench["OlmPingPong"] = func(b *testing.B) {
		x := newSicherOlmPair()
		pt := payload(1024)
		var w olmWire
		b.SetBytes(2048)
		b.ReportAllocs()
		for b.Loop() {
			m := must(x.aliceS.Encrypt(nil, pt))
			if _, err := x.bobS.Decrypt(nil, w.cross(m)); err != nil {
				b.Fatal(err)
			}
			m = must(x.bobS.Encrypt(nil, pt))
			if _, err := x.aliceS.Decrypt(nil, w.cross(m)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
