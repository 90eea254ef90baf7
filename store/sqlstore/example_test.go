package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sicher-go/sicher/store"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// Alice's client keeps its account in a SQLite file sealed with a key from her keyring, and
// opens it again after a restart.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sicher-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "crypto.db")
	key := sqlstore.GenerateKey() // in a client: from the OS keyring or a passphrase
	alice := store.Owner{UserID: "@alice:example.org", DeviceID: "ALICEDEVICE"}

	s, err := sqlstore.OpenSQLite(ctx, path, key)
	if err != nil {
		panic(err)
	}
	err = s.Update(ctx, alice, func(tx store.Tx) error {
		return tx.PutAccount(ctx, store.Secret("account pickle"))
	})
	if err != nil {
		panic(err)
	}
	s.Close()

	_, err = sqlstore.OpenSQLite(ctx, path, sqlstore.GenerateKey())
	fmt.Println(err != nil) // another key does not open it

	s, err = sqlstore.OpenSQLite(ctx, path, key)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.View(ctx, alice, func(tx store.Tx) error {
		account, err := tx.Account(ctx)
		fmt.Println(string(account), err)
		fmt.Println(account) // secrets print as placeholders
		return nil
	})
	// Output:
	// true
	// account pickle <nil>
	// store.Secret(14 bytes)
}
