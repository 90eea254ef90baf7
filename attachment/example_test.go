package attachment_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sicher-go/sicher/attachment"
)

// Alice sends Bob a referral letter: she encrypts it while uploading,
// puts the EncryptedFile into her (Megolm-encrypted) m.file event, and Bob
// decrypts the download, which fails unless the SHA-256 matches.
func Example() {
	letter := strings.NewReader("Überweisung: Dr. Alice an Dr. Bob, Befund anbei.")

	// Alice: stream the document through the encrypting reader into the
	// upload (a buffer here).
	enc, err := attachment.NewEncryptingReader(letter)
	if err != nil {
		panic(err)
	}
	var upload bytes.Buffer
	if _, err := io.Copy(&upload, enc); err != nil {
		panic(err)
	}
	file, err := enc.File()
	if err != nil {
		panic(err)
	}
	file.URL = "mxc://example.org/referral" // from the media upload response
	content, _ := json.Marshal(map[string]any{"msgtype": "m.file", "body": "referral.txt", "file": file})

	// Bob: parse the event content and decrypt the download.
	var received struct {
		File *attachment.EncryptedFile `json:"file"`
	}
	if err := json.Unmarshal(content, &received); err != nil {
		panic(err)
	}
	dec, err := attachment.NewDecryptingReader(&upload, received.File, nil, nil)
	if err != nil {
		panic(err) // attachment.ErrAuthentication if the download was tampered with
	}
	defer dec.Close()
	plain, err := io.ReadAll(dec)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(plain))
	// Output: Überweisung: Dr. Alice an Dr. Bob, Befund anbei.
}

// Decrypt checks the hash before it decrypts a single byte.
func ExampleDecrypt() {
	ciphertext, file, _ := attachment.Encrypt([]byte("discharge report"))
	ciphertext[0] ^= 1 // corrupted in transit
	_, err := attachment.Decrypt(ciphertext, file, nil)
	fmt.Println(err)
	// Output: attachment: ciphertext SHA-256 does not match
}

// NewDecryptingReader spools the download to a temporary file and checks the
// hash before any plaintext is produced.
func ExampleNewDecryptingReader() {
	ciphertext, file, _ := attachment.Encrypt([]byte("scan.pdf contents"))
	r, err := attachment.NewDecryptingReader(bytes.NewReader(ciphertext), file, nil, nil)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	plain, _ := io.ReadAll(r)
	fmt.Println(string(plain))
	// Output: scan.pdf contents
}
