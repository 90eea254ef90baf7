package machine_test

import (
	"context"
	"fmt"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// A bot sets up cross-signing, secret storage and key backup on its first device, shows the
// recovery key once, and recovers on a second device (docs/backup.md).
func ExampleMachine_Bootstrap() {
	ctx := context.Background()
	hs := machinetest.NewServer()
	device := func(id string) *machine.Machine {
		m, err := machine.New(ctx, machine.Config{UserID: "@bot:example.org", DeviceID: id, Store: store.NewMemory()})
		if err != nil {
			panic(err)
		}
		if err := hs.SendAll(ctx, m); err != nil { // keys upload, our own keys query
			panic(err)
		}
		return m
	}
	first := device("FIRST")
	res, err := first.Bootstrap(ctx, machine.BootstrapOptions{})
	if err != nil {
		panic(err)
	}
	// res.RecoveryKey: show it to the user, once.
	if err := hs.SendAll(ctx, first); err != nil { // signing keys, signatures, account data, backup version
		panic(err)
	}

	second := device("SECOND")
	if _, err := hs.SyncMachine(ctx, second); err != nil { // the account data arrives
		panic(err)
	}
	if err := hs.SendAll(ctx, second); err != nil {
		panic(err)
	}
	if err := second.Recover(ctx, res.RecoveryKey); err != nil {
		panic(err)
	}
	if err := hs.SendAll(ctx, second); err != nil { // signs SECOND, checks the backup version
		panic(err)
	}
	fmt.Println("backup restorable:", second.RestoreBackup(ctx, "", "") == nil)

	again, _ := first.Bootstrap(ctx, machine.BootstrapOptions{})
	fmt.Println("second bootstrap changed nothing:", again.AlreadyDone)
	// Output:
	// backup restorable: true
	// second bootstrap changed nothing: true
}
