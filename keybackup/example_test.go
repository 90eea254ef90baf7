package keybackup_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
)

// Alice backs up a Megolm session, loses her device, and restores the
// session on a new one by typing her recovery key.
func Example() {
	// Setting up the backup: a new decryption key, its public key in the
	// backup version's auth_data, the recovery key shown to Alice once.
	backupKey, err := keybackup.GenerateDecryptionKey()
	if err != nil {
		panic(err)
	}
	auth := keybackup.AuthData{PublicKey: backupKey.PublicKey()}
	recoveryKey := backupKey.RecoveryKey().Encode() // "EsT… …" — show it, never log it

	// Any of Alice's devices that trusts auth_data backs up its sessions.
	outbound, _ := megolm.NewOutboundSession()
	inbound, _ := megolm.NewInboundSession(outbound.SessionKey())
	message := outbound.Encrypt(nil, []byte(`{"type":"m.room.message","content":{"body":"Termin am Montag"}}`))
	session := megolm.NewExportedSession(inbound.ExportAtFirstKnownIndex(), "!praxis:example.org",
		key.Curve25519{ /* Alice's device keys */ }, key.Ed25519{})
	encrypted, err := keybackup.EncryptSession(auth.PublicKey, session)
	if err != nil {
		panic(err)
	}
	upload, _ := json.Marshal(keybackup.KeyBackupData{SessionData: encrypted})

	// On the new device: Alice types the recovery key, the client fetches
	// the backup and restores the session.
	typed, err := keybackup.ParseRecoveryKey(recoveryKey)
	if err != nil {
		panic(err) // tell the user which check failed: errors.Is(err, keybackup.ErrMalformed) ...
	}
	restoreKey := typed.DecryptionKey()
	fmt.Println("key matches backup:", restoreKey.Matches(auth))

	var fetched keybackup.KeyBackupData
	if err := json.Unmarshal(upload, &fetched); err != nil {
		panic(err)
	}
	results := restoreKey.DecryptAll(context.Background(), []keybackup.EncryptedSessionData{fetched.SessionData})
	if results[0].Err != nil {
		panic(results[0].Err)
	}
	restored, err := results[0].Session.InboundSession() // unverified: backups prove nothing
	if err != nil {
		panic(err)
	}
	plaintext, index, err := restored.Decrypt(nil, message)
	fmt.Println(string(plaintext), index, err)
	// Output:
	// key matches backup: true
	// {"type":"m.room.message","content":{"body":"Termin am Montag"}} 0 <nil>
}

// Recovery keys tolerate any spacing and report typos.
func ExampleParseRecoveryKey() {
	rk, err := keybackup.ParseRecoveryKey("EsTcLW2KPGiFwKEA3As5g5c4BXwkqeeJZJV8Q9fugUMNUE4d")
	fmt.Println(rk.DecryptionKey().PublicKey(), err)
	_, err = keybackup.ParseRecoveryKey("EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4e")
	fmt.Println(err)
	// Output:
	// hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo <nil>
	// keybackup: malformed backup data: recovery key: recovery key parity check failed
}
