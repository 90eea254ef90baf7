package aessha2

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

func TestCBCMatchesStd(t *testing.T) {
	for _, n := range []int{16, 32, 48, 64, 256, 1008, 4080, 4096, 65536} {
		key, iv, pt := make([]byte, 32), new([BlockSize]byte), make([]byte, n)
		rand.Read(key)
		rand.Read(iv[:])
		rand.Read(pt)
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, n)
		cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(want, pt)
		got := bytes.Clone(pt)
		cbcEncrypt(block, iv, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: cbcEncrypt differs from crypto/cipher", n)
		}
		// Decryption out of place, then in place.
		dec := make([]byte, n)
		cbcDecrypt(block, iv, dec, got)
		if !bytes.Equal(dec, pt) || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: cbcDecrypt out of place is wrong or modified its input", n)
		}
		cbcDecrypt(block, iv, got, got)
		if !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: cbcDecrypt in place is wrong", n)
		}
	}
}

func TestPreparedMatchesKeys(t *testing.T) {
	k := Derive([]byte("secret"), InfoPickle)
	p := k.Prepare()
	for _, n := range []int{0, 1, 15, 16, 17, 100, 3000} {
		pt := make([]byte, n)
		rand.Read(pt)
		ct := k.Encrypt(nil, pt)
		if got := p.Encrypt(nil, pt); !bytes.Equal(got, ct) {
			t.Fatalf("%d bytes: Prepared.Encrypt differs from Keys.Encrypt", n)
		}
		tag := k.AppendTag(nil, ct)
		if got := p.AppendTag(nil, ct); !bytes.Equal(got, tag) {
			t.Fatalf("%d bytes: Prepared.AppendTag differs from Keys.AppendTag", n)
		}
		out, err := p.Open(nil, ct, tag, ct)
		if err != nil || !bytes.Equal(out, pt) {
			t.Fatalf("%d bytes: Prepared.Open = %x, %v", n, out, err)
		}
		tag[0] ^= 1
		if _, err := p.Open(nil, ct, tag, ct); err != ErrAuthentication {
			t.Fatalf("%d bytes: Prepared.Open of a bad tag = %v, want ErrAuthentication", n, err)
		}
		if _, err := p.Open(nil, ct, tag[:TagSize-1], ct); err != ErrAuthentication {
			t.Fatalf("%d bytes: Prepared.Open of a short tag = %v, want ErrAuthentication", n, err)
		}
	}
}

func BenchmarkCBC4K(b *testing.B) {
	key, iv, buf := make([]byte, 32), new([BlockSize]byte), make([]byte, 4096)
	block, _ := aes.NewCipher(key)
	b.Run("encrypt", func(b *testing.B) {
		b.SetBytes(4096)
		for b.Loop() {
			cbcEncrypt(block, iv, buf)
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.SetBytes(4096)
		for b.Loop() {
			cbcDecrypt(block, iv, buf, buf)
		}
	})
	b.Run("std-encrypt", func(b *testing.B) {
		b.SetBytes(4096)
		for b.Loop() {
			cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(buf, buf)
		}
	})
	b.Run("std-decrypt", func(b *testing.B) {
		b.SetBytes(4096)
		for b.Loop() {
			cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(buf, buf)
		}
	})
}
