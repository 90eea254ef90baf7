package attachment

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"runtime"
)

// parallelBulk is the smallest in-memory input that Encrypt and Decrypt
// split between two goroutines.
const parallelBulk = 1 << 20

// Encrypt encrypts plaintext under a fresh key and IV read from
// crypto/rand and returns the ciphertext to upload and the EncryptedFile
// to send. The caller sets URL after uploading.
func Encrypt(plaintext []byte) ([]byte, *EncryptedFile, error) { return EncryptFrom(nil, plaintext) }

// EncryptFrom is Encrypt with the key and IV read from rand (crypto/rand
// if nil; 32 bytes of key, then 8 bytes of IV), for known-answer tests.
func EncryptFrom(rand io.Reader, plaintext []byte) ([]byte, *EncryptedFile, error) {
	f, err := newFile(rand)
	if err != nil {
		return nil, nil, err
	}
	ct := make([]byte, len(plaintext))
	s := f.newStream()
	if len(plaintext) < parallelBulk || runtime.GOMAXPROCS(0) < 2 {
		s.XORKeyStream(ct, plaintext)
		f.SHA256 = sha256.Sum256(ct)
		return ct, f, nil
	}
	// Hash each chunk of ciphertext on a second goroutine as soon as it
	// is written.
	done := make(chan int, len(ct)/chunkSize+1)
	sum := make(chan [hashSize]byte)
	go func() {
		h := sha256.New()
		start := 0
		for end := range done {
			h.Write(ct[start:end])
			start = end
		}
		var s [hashSize]byte
		h.Sum(s[:0])
		sum <- s
	}()
	for off := 0; off < len(ct); off += chunkSize {
		end := min(off+chunkSize, len(ct))
		s.XORKeyStream(ct[off:end], plaintext[off:end])
		done <- end
	}
	close(done)
	f.SHA256 = <-sum
	return ct, f, nil
}

// Decrypt checks the SHA-256 of ciphertext against f and, only if it
// matches, returns the plaintext (ErrAuthentication otherwise). It fails for a version opts does not
// allow (nil opts: only "v2"). For large inputs the hash and the
// decryption run in parallel; plaintext of a ciphertext whose hash does
// not match is wiped and never returned.
func Decrypt(ciphertext []byte, f *EncryptedFile, opts *Options) ([]byte, error) {
	if err := f.check(opts); err != nil {
		return nil, err
	}
	pt := make([]byte, len(ciphertext))
	var sum [hashSize]byte
	if len(ciphertext) < parallelBulk || runtime.GOMAXPROCS(0) < 2 {
		sum = sha256.Sum256(ciphertext)
		if subtle.ConstantTimeCompare(sum[:], f.SHA256[:]) != 1 {
			return nil, ErrAuthentication
		}
		f.newStream().XORKeyStream(pt, ciphertext)
		return pt, nil
	}
	// Both goroutines only read ciphertext.
	hashed := make(chan [hashSize]byte)
	go func() { hashed <- sha256.Sum256(ciphertext) }()
	f.newStream().XORKeyStream(pt, ciphertext)
	sum = <-hashed
	if subtle.ConstantTimeCompare(sum[:], f.SHA256[:]) != 1 {
		clear(pt)
		return nil, ErrAuthentication
	}
	return pt, nil
}
