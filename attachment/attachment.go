package attachment

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
)

// Encrypt encrypts plaintext under a fresh key and IV read from rand
// (crypto/rand if nil; 32 bytes of key, then 8 bytes of IV) and returns the
// ciphertext to upload and the EncryptedFile to send. The caller sets URL
// after uploading.
func Encrypt(plaintext []byte, rand io.Reader) ([]byte, *EncryptedFile, error) {
	f, err := newFile(rand)
	if err != nil {
		return nil, nil, err
	}
	ct := make([]byte, len(plaintext))
	f.newStream().XORKeyStream(ct, plaintext)
	f.SHA256 = sha256.Sum256(ct)
	return ct, f, nil
}

// Decrypt checks the SHA-256 of ciphertext against f and, only if it
// matches, returns the plaintext. It fails for a version opts does not
// allow (nil opts: only "v2").
func Decrypt(ciphertext []byte, f *EncryptedFile, opts *Options) ([]byte, error) {
	if err := f.check(opts); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(ciphertext)
	if subtle.ConstantTimeCompare(sum[:], f.SHA256[:]) != 1 {
		return nil, ErrHashMismatch
	}
	pt := make([]byte, len(ciphertext))
	f.newStream().XORKeyStream(pt, ciphertext)
	return pt, nil
}
