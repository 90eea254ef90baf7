// Package wire parses and builds the binary formats of Olm and Megolm: a
// version byte followed by protobuf-style fields (varint and
// length-delimited), and the fixed-width big-endian layouts of Megolm
// session keys and pickles.
//
// [Reader] follows golang.org/x/crypto/cryptobyte: every Read method reports
// success, consumes nothing on failure, never panics, and never reads past
// the end of its input. After a failed read, stop parsing and report the
// input as malformed. [Builder] is append-style and never fails.
package wire

import (
	"encoding/binary"
	"math"
)

// Wire types used by Olm and Megolm. libolm skips unknown fields of these
// two types and rejects everything else; so do we.
const (
	TypeVarint = 0
	TypeBytes  = 2
)

// Reader is a cursor over a byte slice. The zero value is an empty reader.
type Reader []byte

// Empty reports whether all input has been consumed.
func (r Reader) Empty() bool { return len(r) == 0 }

// Len returns the number of unread bytes.
func (r Reader) Len() int { return len(r) }

// take returns the next n bytes as a full slice expression, so that
// appending to the result cannot overwrite the input that follows.
func (r *Reader) take(n int) ([]byte, bool) {
	if n < 0 || n > len(*r) {
		return nil, false
	}
	b := (*r)[:n:n]
	*r = (*r)[n:]
	return b, true
}

// ReadUint8 reads one byte.
func (r *Reader) ReadUint8(out *uint8) bool {
	b, ok := r.take(1)
	if ok {
		*out = b[0]
	}
	return ok
}

// ReadBool reads one byte that must be 0 or 1.
func (r *Reader) ReadBool(out *bool) bool {
	if len(*r) < 1 || (*r)[0] > 1 {
		return false
	}
	*out = (*r)[0] == 1
	*r = (*r)[1:]
	return true
}

// ReadUint32 reads a big-endian uint32.
func (r *Reader) ReadUint32(out *uint32) bool {
	b, ok := r.take(4)
	if ok {
		*out = binary.BigEndian.Uint32(b)
	}
	return ok
}

// ReadBytes reads n bytes. The result aliases the input.
func (r *Reader) ReadBytes(out *[]byte, n int) bool {
	b, ok := r.take(n)
	if ok {
		*out = b
	}
	return ok
}

// CopyBytes fills out completely from the input.
func (r *Reader) CopyBytes(out []byte) bool {
	b, ok := r.take(len(out))
	if ok {
		copy(out, b)
	}
	return ok
}

// ReadUvarint reads a base-128 little-endian varint of at most 64 bits.
// Truncated varints and varints that overflow 64 bits are rejected.
func (r *Reader) ReadUvarint(out *uint64) bool {
	v, n := binary.Uvarint(*r)
	if n <= 0 {
		return false // 0: truncated; < 0: overflows 64 bits
	}
	*r, *out = (*r)[n:], v
	return true
}

// Field is one protobuf-style field. For wire type 0 the value is in
// Varint, for wire type 2 in Bytes (which aliases the input).
type Field struct {
	Num    uint64
	Type   uint8
	Varint uint64
	Bytes  []byte
}

// IsVarint reports whether f is field num with wire type 0.
func (f *Field) IsVarint(num uint64) bool { return f.Num == num && f.Type == TypeVarint }

// IsBytes reports whether f is field num with wire type 2.
func (f *Field) IsBytes(num uint64) bool { return f.Num == num && f.Type == TypeBytes }

// ReadField reads one field of wire type 0 or 2. Any other wire type, a
// truncated field or a length beyond the input fails.
func (r *Reader) ReadField(f *Field) bool {
	rest := *r
	var tag uint64
	if !rest.ReadUvarint(&tag) {
		return false
	}
	g := Field{Num: tag >> 3, Type: uint8(tag & 7)}
	switch g.Type {
	case TypeVarint:
		if !rest.ReadUvarint(&g.Varint) {
			return false
		}
	case TypeBytes:
		var n uint64
		if !rest.ReadUvarint(&n) || n > uint64(len(rest)) { // compare before converting to int
			return false
		}
		g.Bytes, _ = rest.take(int(n))
	default:
		return false
	}
	*r, *f = rest, g
	return true
}

// Uint32 converts a varint field value to uint32, reporting false if it
// does not fit (libolm would silently truncate it).
func Uint32(v uint64) (uint32, bool) {
	if v > math.MaxUint32 {
		return 0, false
	}
	return uint32(v), true
}

// Builder appends encoded values to a byte slice. The zero value is ready
// to use; NewBuilder appends to an existing slice.
type Builder struct {
	buf []byte
}

// NewBuilder returns a Builder that appends to dst.
func NewBuilder(dst []byte) *Builder { return &Builder{buf: dst} }

// Bytes returns the built bytes.
func (b *Builder) Bytes() []byte { return b.buf }

// Len returns the number of bytes built so far.
func (b *Builder) Len() int { return len(b.buf) }

// AddUint8 appends one byte.
func (b *Builder) AddUint8(v uint8) { b.buf = append(b.buf, v) }

// AddBool appends 1 for true, 0 for false.
func (b *Builder) AddBool(v bool) {
	if v {
		b.buf = append(b.buf, 1)
	} else {
		b.buf = append(b.buf, 0)
	}
}

// AddUint32 appends a big-endian uint32.
func (b *Builder) AddUint32(v uint32) { b.buf = binary.BigEndian.AppendUint32(b.buf, v) }

// AddBytes appends p unchanged.
func (b *Builder) AddBytes(p []byte) { b.buf = append(b.buf, p...) }

// AddUvarint appends a varint.
func (b *Builder) AddUvarint(v uint64) { b.buf = binary.AppendUvarint(b.buf, v) }

// AddVarintField appends field num with wire type 0.
func (b *Builder) AddVarintField(num, v uint64) {
	b.AddUvarint(num<<3 | TypeVarint)
	b.AddUvarint(v)
}

// AddBytesField appends field num with wire type 2.
func (b *Builder) AddBytesField(num uint64, p []byte) {
	b.AddUvarint(num<<3 | TypeBytes)
	b.AddUvarint(uint64(len(p)))
	b.AddBytes(p)
}

// UvarintLen returns the encoded length of v.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// BytesFieldLen returns the encoded length of a length-delimited field num
// holding n bytes.
func BytesFieldLen(num uint64, n int) int {
	return UvarintLen(num<<3|TypeBytes) + UvarintLen(uint64(n)) + n
}

// VarintFieldLen returns the encoded length of a varint field.
func VarintFieldLen(num, v uint64) int {
	return UvarintLen(num<<3|TypeVarint) + UvarintLen(v)
}
