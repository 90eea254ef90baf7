package machine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/key"
)

func sampleQR() *qrCode {
	q := &qrCode{mode: qrModeUser, flowID: "$event:example.org", secret: []byte("0123456789abcdef")}
	for i := range q.key1 {
		q.key1[i], q.key2[i] = byte(i), byte(255-i)
	}
	return q
}

func TestQRCodeRoundTrip(t *testing.T) {
	q := sampleQR()
	b := q.marshal()
	// The layout the spec gives, byte by byte.
	want := append([]byte("MATRIX\x02\x00\x00\x12$event:example.org"), q.key1[:]...)
	want = append(append(want, q.key2[:]...), "0123456789abcdef"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("payload\n%x\nwant\n%x", b, want)
	}
	p, err := parseQRCode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.mode != q.mode || p.flowID != q.flowID || p.key1 != q.key1 || p.key2 != q.key2 || !bytes.Equal(p.secret, q.secret) {
		t.Fatalf("parsed %+v", p)
	}
	b[len(b)-1] = 'X'
	if p.secret[len(p.secret)-1] == 'X' {
		t.Fatal("the parsed code aliases its input")
	}
}

func TestQRCodeInvalid(t *testing.T) {
	good := sampleQR().marshal()
	with := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	for _, c := range []struct {
		name, part string
		b          []byte
	}{
		{"empty", "prefix", nil},
		{"prefix", "prefix", with(0, 'N')},
		{"version 1", "version", with(6, 1)},
		{"version 3", "version", with(6, 3)},
		{"mode 3", "mode", with(7, 3)},
		{"id length past the end", "flow id", with(8, 0xff)},
		{"empty id", "flow id", append([]byte("MATRIX\x02\x00\x00\x00"), make([]byte, 80)...)},
		{"id not UTF-8", "flow id", append([]byte("MATRIX\x02\x00\x00\x01\xff"), make([]byte, 80)...)},
		{"keys truncated", "keys", good[:10+18+40]},
		{"secret of 7 bytes", "secret", good[:len(good)-9]},
	} {
		_, err := parseQRCode(c.b)
		var qe *QRCodeError
		if !errors.As(err, &qe) || qe.Part != c.part || !errors.Is(err, ErrMalformedQRCode) {
			t.Errorf("%s: %v, want a %s error", c.name, err, c.part)
		}
	}
	// No strict prefix shorter than the 8-byte secret minimum parses.
	for n := range len(good) - 8 {
		if _, err := parseQRCode(good[:n]); err == nil {
			t.Fatalf("prefix of %d bytes parsed", n)
		}
	}
}

func FuzzParseQRCode(f *testing.F) {
	f.Add(sampleQR().marshal())
	q := sampleQR()
	q.mode, q.flowID = qrModeSelfNew, "txn"
	f.Add(q.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseQRCode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedQRCode) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if again := p.marshal(); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
		_ = key.Ed25519(p.key1)
	})
}
