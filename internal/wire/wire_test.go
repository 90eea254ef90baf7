package wire

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestReadFieldKnownAnswers(t *testing.T) {
	// Source: libolm tests/test_message.cpp: Megolm index 200 is encoded as
	// 08 C8 01; a length-delimited field 0x22 with 3 bytes.
	in, _ := hex.DecodeString("08c8012203616263")
	r := Reader(in)
	var f Field
	if !r.ReadField(&f) || !f.IsVarint(1) || f.Varint != 200 {
		t.Fatalf("first field = %+v", f)
	}
	if !r.ReadField(&f) || !f.IsBytes(4) || string(f.Bytes) != "abc" {
		t.Fatalf("second field = %+v", f)
	}
	if !r.Empty() {
		t.Fatal("reader not empty")
	}
}

func TestBuilderRoundTrip(t *testing.T) {
	var b Builder
	b.AddUint8(3)
	b.AddBytesField(1, []byte("key"))
	b.AddVarintField(2, 1<<40)
	b.AddVarintField(3, 0)
	b.AddBytesField(4, nil)
	b.AddUint32(0xdeadbeef)
	b.AddBool(true)
	out := b.Bytes()
	if got, want := len(out), 1+BytesFieldLen(1, 3)+VarintFieldLen(2, 1<<40)+VarintFieldLen(3, 0)+BytesFieldLen(4, 0)+4+1; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	r := Reader(out)
	var v uint8
	var f Field
	var u uint32
	var ok bool
	if !r.ReadUint8(&v) || v != 3 ||
		!r.ReadField(&f) || !f.IsBytes(1) || string(f.Bytes) != "key" ||
		!r.ReadField(&f) || !f.IsVarint(2) || f.Varint != 1<<40 ||
		!r.ReadField(&f) || !f.IsVarint(3) || f.Varint != 0 ||
		!r.ReadField(&f) || !f.IsBytes(4) || len(f.Bytes) != 0 ||
		!r.ReadUint32(&u) || u != 0xdeadbeef || !r.ReadBool(&ok) || !ok || !r.Empty() {
		t.Fatalf("round trip failed at %x", []byte(r))
	}
}

func TestReadFieldInvalid(t *testing.T) {
	tests := map[string]string{
		"empty":                  "",
		"truncated tag":          "80",
		"truncated varint":       "0880",
		"missing varint":         "08",
		"length beyond input":    "220461",
		"truncated length":       "2280",
		"wire type 1":            "0900000000000000",
		"wire type 5":            "0d00000000",
		"wire type 3 (group)":    "0b",
		"varint overflow":        "08ffffffffffffffffff7f",
		"varint 11 bytes":        "088080808080808080808001",
		"huge length":            "22ffffffffffffffff7f",
		"length just beyond end": "2202aa",
	}
	for name, h := range tests {
		in, _ := hex.DecodeString(h)
		r := Reader(in)
		var f Field
		if r.ReadField(&f) {
			t.Errorf("%s: ReadField(%s) succeeded: %+v", name, h, f)
		}
		if !bytes.Equal(r, in) {
			t.Errorf("%s: failed read consumed input", name)
		}
	}
}

func TestFixedWidthBounds(t *testing.T) {
	r := Reader([]byte{1, 2, 3})
	var u uint32
	if r.ReadUint32(&u) || r.Len() != 3 {
		t.Fatal("ReadUint32 on 3 bytes succeeded or consumed input")
	}
	var p []byte
	if r.ReadBytes(&p, 4) || r.ReadBytes(&p, -1) || r.CopyBytes(make([]byte, 4)) {
		t.Fatal("over-long read succeeded")
	}
	var b bool
	r2 := Reader([]byte{2})
	if r2.ReadBool(&b) {
		t.Fatal("ReadBool accepted 2")
	}
	if !r.ReadBytes(&p, 3) || !r.Empty() {
		t.Fatal("exact read failed")
	}
	// The returned slice cannot be appended into the rest of the input.
	r3 := Reader([]byte{1, 2, 3, 4})
	r3.ReadBytes(&p, 2)
	_ = append(p, 9)
	if r3[0] != 3 {
		t.Fatal("append through a read slice overwrote the input")
	}
}

func TestUint32(t *testing.T) {
	if v, ok := Uint32(1<<32 - 1); !ok || v != 1<<32-1 {
		t.Fatal("max uint32 rejected")
	}
	if _, ok := Uint32(1 << 32); ok {
		t.Fatal("2^32 accepted: a 64-bit varint must never be truncated")
	}
}

func FuzzReader(f *testing.F) {
	for _, h := range []string{"08c8012203616263", "030a20", "22ffffffffffffffff7f", "0900"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := Reader(in)
		var fields []Field
		for !r.Empty() {
			var fl Field
			if !r.ReadField(&fl) {
				break
			}
			fields = append(fields, fl)
		}
		consumed := len(in) - r.Len()
		// Re-encoding the fields that parsed and parsing again must give the
		// same fields (the encoding may be shorter: varints may be non-minimal).
		var b Builder
		for _, fl := range fields {
			if fl.Type == TypeVarint {
				b.AddVarintField(fl.Num, fl.Varint)
			} else {
				b.AddBytesField(fl.Num, fl.Bytes)
			}
		}
		if b.Len() > consumed {
			t.Fatalf("re-encoding grew: %d > %d", b.Len(), consumed)
		}
		r2 := Reader(b.Bytes())
		for i, want := range fields {
			var got Field
			if !r2.ReadField(&got) || got.Num != want.Num || got.Type != want.Type || got.Varint != want.Varint || !bytes.Equal(got.Bytes, want.Bytes) {
				t.Fatalf("field %d: got %+v, want %+v", i, got, want)
			}
		}
		if !r2.Empty() {
			t.Fatal("trailing bytes after re-encoding")
		}
		// Fixed-width reads never panic either.
		r3 := Reader(in)
		var u uint32
		var v uint8
		var p []byte
		for r3.ReadUint32(&u) && r3.ReadUint8(&v) && r3.ReadBytes(&p, int(v)) {
		}
	})
}
