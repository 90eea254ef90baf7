package secretstorage_test

import (
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/secretstorage"
)

// Alice stores her key-backup key in secret storage on her laptop, and
// restores it on her new phone from her recovery key.
func Example() {
	// Laptop: create a storage key and its description, and store the
	// backup key encrypted under it.
	storageKey, _ := secretstorage.NewKey(nil)
	keyID, _ := secretstorage.NewKeyID(nil)
	desc, _ := storageKey.Description("Alice's key", nil, nil)
	var backupKey [32]byte // the m.megolm_backup.v1 private key
	backupKey[0] = 42
	enc, _ := storageKey.EncryptKey(secretstorage.SecretMegolmBackup, &backupKey, nil)
	content := secretstorage.SecretContent{Encrypted: map[string]secretstorage.EncryptedData{keyID: *enc}}
	accountData, _ := json.Marshal(content) // PUT .../account_data/m.megolm_backup.v1
	recovery := storageKey.RecoveryKey()    // shown to Alice once

	// Phone: Alice types her recovery key; it is checked against the key
	// description before anything is decrypted.
	key, err := secretstorage.KeyFromDescription(recovery, desc)
	if err != nil {
		panic(err) // secretstorage.ErrWrongKey for a different key
	}
	var stored secretstorage.SecretContent
	json.Unmarshal(accountData, &stored)
	e := stored.Encrypted[keyID]
	restored, err := key.DecryptKey(secretstorage.SecretMegolmBackup, &e)
	fmt.Println(restored == backupKey, err)
	// Output: true <nil>
}

// A passphrase-derived key: the description records salt and iterations.
func ExampleNewPassphraseKey() {
	key, info, _ := secretstorage.NewPassphraseKey("correct horse battery staple", 10_000, nil)
	desc, _ := key.Description("", info, nil)
	again, err := secretstorage.KeyFromDescription("correct horse battery staple", desc)
	fmt.Println(err, again.Equal(key))
	_, err = secretstorage.KeyFromDescription("wrong horse", desc)
	fmt.Println(err)
	// Output:
	// <nil> true
	// secretstorage: wrong secret storage key
}
