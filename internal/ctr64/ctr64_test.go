package ctr64

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// reference computes the keystream block by block, straight from the
// WebCrypto definition: counter block = hi ‖ (lo + i mod 2^64).
func reference(key, iv []byte, n int) []byte {
	block, _ := aes.NewCipher(key)
	lo := binary.BigEndian.Uint64(iv[8:])
	var cb, ks [16]byte
	copy(cb[:8], iv[:8])
	out := make([]byte, 0, n+16)
	for len(out) < n {
		binary.BigEndian.PutUint64(cb[8:], lo)
		block.Encrypt(ks[:], cb[:])
		out = append(out, ks[:]...)
		lo++
	}
	return out[:n]
}

func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	los := []uint64{0, 1, 0x7fffffffffffffff, 0xfffffffffffffff0, 0xfffffffffffffffe, 0xffffffffffffffff}
	for _, lo := range los {
		for trial := 0; trial < 20; trial++ {
			iv := make([]byte, 16)
			binary.BigEndian.PutUint64(iv[:8], r.Uint64())
			if trial == 0 {
				copy(iv[:8], bytes.Repeat([]byte{0xff}, 8)) // a carry would flip all of these
			}
			binary.BigEndian.PutUint64(iv[8:], lo)
			n := 1 + r.IntN(200)
			want := reference(key, iv, n)
			// Feed the stream in random pieces so that pieces straddle
			// both block boundaries and the wrap.
			s := NewAES(key, iv)
			got := make([]byte, n)
			for off := 0; off < n; {
				k := min(n-off, r.IntN(40))
				s.XORKeyStream(got[off:off+k], got[off:off+k])
				off += k
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("lo=%#x iv=%x n=%d:\n got %x\nwant %x", lo, iv, n, got, want)
			}
		}
	}
}

// TestDiffersFromStdAtWrap pins the reason the package exists: at a wrap
// the standard CTR carries into the high half and this one does not.
func TestDiffersFromStdAtWrap(t *testing.T) {
	key := make([]byte, 32)
	iv := bytes.Repeat([]byte{0xff}, 16)
	block, _ := aes.NewCipher(key)
	std := make([]byte, 32)
	cipher.NewCTR(block, iv).XORKeyStream(std, std)
	ours := make([]byte, 32)
	XORKeyStream(key, iv, ours, ours)
	if !bytes.Equal(std[:16], ours[:16]) {
		t.Fatal("first block differs from std CTR")
	}
	if bytes.Equal(std[16:], ours[16:]) {
		t.Fatal("second block equals std CTR: counter carried into the high half")
	}
	if want := reference(key, iv, 32); !bytes.Equal(ours, want) {
		t.Fatal("mismatch with reference")
	}
}

func TestMatchesStdWithoutWrap(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	iv := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}
	block, _ := aes.NewCipher(key)
	want := make([]byte, 1<<16)
	cipher.NewCTR(block, iv).XORKeyStream(want, want)
	got := make([]byte, 1<<16)
	New(block, iv).XORKeyStream(got, got)
	if !bytes.Equal(got, want) {
		t.Fatal("differs from std CTR where no wrap occurs")
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"short iv": func() { NewAES(make([]byte, 32), make([]byte, 8)) },
		"bad key":  func() { NewAES(make([]byte, 31), make([]byte, 16)) },
		"short dst": func() {
			NewAES(make([]byte, 32), make([]byte, 16)).XORKeyStream(make([]byte, 1), make([]byte, 2))
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestAllocs(t *testing.T) {
	s := NewAES(make([]byte, 32), make([]byte, 16))
	buf := make([]byte, 4096)
	if n := testing.AllocsPerRun(100, func() { s.XORKeyStream(buf, buf) }); n != 0 {
		t.Errorf("XORKeyStream allocates %v times", n)
	}
}

func BenchmarkXORKeyStream(b *testing.B) {
	s := NewAES(make([]byte, 32), make([]byte, 16))
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		s.XORKeyStream(buf, buf)
	}
}
