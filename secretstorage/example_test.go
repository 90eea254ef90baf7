package secretstorage_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/secretstorage"
)

// Alice stores her key-backup key in secret storage on her laptop, and
// restores it on her new phone from her recovery key.
func Example() {
	// Laptop: create a storage key and its description, and store the
	// backup key encrypted under it (keys are stored as unpadded base64).
	storageKey, _ := secretstorage.NewKey()
	keyID, _ := secretstorage.NewKeyID()
	desc, _ := storageKey.Description("Alice's key", nil)
	backupKey := make([]byte, 32) // the m.megolm_backup.v1 private key
	backupKey[0] = 42
	secret := base64.RawStdEncoding.EncodeToString(backupKey)
	enc, _ := storageKey.Encrypt(secretstorage.SecretMegolmBackup, []byte(secret))
	content := secretstorage.SecretContent{Encrypted: map[string]secretstorage.EncryptedData{keyID: *enc}}
	accountData, _ := json.Marshal(content) // PUT .../account_data/m.megolm_backup.v1
	recovery := storageKey.RecoveryKey()    // shown to Alice once

	// Phone: Alice types her recovery key; it is checked against the key
	// description before anything is decrypted.
	key, err := secretstorage.KeyFromDescription(recovery, desc, nil)
	if err != nil {
		panic(err) // secretstorage.ErrAuthentication for a different key
	}
	var stored secretstorage.SecretContent
	if err := json.Unmarshal(accountData, &stored); err != nil {
		panic(err) // secretstorage.ErrMalformed
	}
	e := stored.Encrypted[keyID]
	restored, err := key.Decrypt(secretstorage.SecretMegolmBackup, &e)
	fmt.Println(string(restored) == secret, err)
	// Output: true <nil>
}

// A passphrase-derived key: the description records salt and iterations.
func ExampleNewPassphraseKey() {
	key, info, _ := secretstorage.NewPassphraseKey("correct horse battery staple", 100_000)
	desc, _ := key.Description("", info)
	again, err := secretstorage.KeyFromDescription("correct horse battery staple", desc, nil)
	fmt.Println(err, again.Equal(key))
	_, err = secretstorage.KeyFromDescription("wrong horse", desc, nil)
	fmt.Println(err)
	// Output:
	// <nil> true
	// secretstorage: wrong key or MAC mismatch: the key does not match the key description
}
