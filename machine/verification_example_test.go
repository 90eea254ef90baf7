package machine_test

import (
	"context"
	"fmt"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// Alice verifies Bob's device with emoji (SAS) over to-device messages. Each side's user
// compares the emoji and confirms; the machines exchange MACs and mark the other device
// verified.
func ExampleVerification_sas() {
	ctx := context.Background()
	hs := machinetest.NewServer()
	newDevice := func(user, device string) *machine.Machine {
		m, err := machine.New(ctx, machine.Config{UserID: user, DeviceID: device, Store: store.NewMemory()})
		if err != nil {
			panic(err)
		}
		return m
	}
	alice, bob := newDevice("@alice:example.org", "ALICE"), newDevice("@bob:example.org", "BOB")
	hs.CreateRoom(alice.UserID(), bob.UserID())
	// round sends what both machines want sent and gives both their /sync.
	round := func() {
		for range 2 {
			for _, m := range []*machine.Machine{alice, bob} {
				if err := hs.SendAll(ctx, m); err != nil {
					panic(err)
				}
			}
			for _, m := range []*machine.Machine{alice, bob} {
				if _, err := hs.SyncMachine(ctx, m); err != nil {
					panic(err)
				}
			}
		}
	}
	round() // device keys
	_ = alice.UpdateTrackedUsers(ctx, []string{bob.UserID()})
	_ = bob.UpdateTrackedUsers(ctx, []string{alice.UserID()})
	round() // each queries the other

	va, err := alice.RequestVerification(ctx, bob.UserID())
	if err != nil {
		panic(err)
	}
	round()
	vb, _ := bob.Verification(ctx, va.ID) // or find it in bob.Verifications(ctx)
	_ = vb.Accept(ctx)
	round()
	_ = va.StartSAS(ctx)
	round() // start, accept
	round() // the two keys
	ca, _ := va.SAS(ctx)
	cb, _ := vb.SAS(ctx)
	fmt.Println("same emoji:", ca.Emoji == cb.Emoji)
	_ = va.ConfirmSAS(ctx)
	_ = vb.ConfirmSAS(ctx)
	round()
	_ = va.Refresh(ctx)
	_ = vb.Refresh(ctx)
	fmt.Println(va.State, vb.State)
	fmt.Println("alice verified", va.Result.UserID, va.Result.DeviceID)
	// Output:
	// same emoji: true
	// done done
	// alice verified @bob:example.org BOB
}
