package matrixrtc_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/matrixrtc"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// Alice and Bob are in a call. Each sends the other its media key over Olm, and both derive the
// same LiveKit frame key for each sender. A real client sends the machine's requests with an
// HTTP client and feeds it /sync, as docs/client.md shows.
func Example() {
	ctx := context.Background()
	hs := machinetest.NewServer()
	now := time.Now()
	newDevice := func(user, device string) *machine.Machine {
		m, err := machine.New(ctx, machine.Config{UserID: user, DeviceID: device, Store: store.NewMemory()})
		if err != nil {
			panic(err)
		}
		if err := hs.SendAll(ctx, m); err != nil {
			panic(err)
		}
		// Keys are accepted only from devices their owner cross-signed (MSC4153): each user
		// signs its device, as its client does at login.
		crossSignOnServer(hs, user, device)
		return m
	}
	alice := newDevice("@alice:example.org", "ALICE")
	bob := newDevice("@bob:example.org", "BOB")

	room := "!call:example.org"
	members := []matrixrtc.Member{
		{UserID: "@alice:example.org", DeviceID: "ALICE", MemberID: "alice-call-1"},
		{UserID: "@bob:example.org", DeviceID: "BOB", MemberID: "bob-call-1"},
	}
	ak, _ := matrixrtc.New(matrixrtc.Config{Machine: alice, RoomID: room, MemberID: "alice-call-1"})
	bk, _ := matrixrtc.New(matrixrtc.Config{Machine: bob, RoomID: room, MemberID: "bob-call-1"})
	for _, k := range []*matrixrtc.Manager{ak, bk} {
		if err := k.SetMembers(ctx, now, members); err != nil {
			panic(err)
		}
	}
	// The caller's loop: send the machine's requests, sync, hand the to-device events over,
	// tick. A few rounds query the devices, claim one-time keys and deliver the keys.
	for range 4 {
		for _, p := range []struct {
			m *machine.Machine
			k *matrixrtc.Manager
		}{{alice, ak}, {bob, bk}} {
			if err := hs.SendAll(ctx, p.m); err != nil {
				panic(err)
			}
			evs, err := hs.SyncMachine(ctx, p.m)
			if err != nil {
				panic(err)
			}
			for _, ev := range evs {
				if _, err := p.k.Receive(ctx, now, ev); err != nil {
					fmt.Println("refused:", err)
				}
			}
			if _, err := p.k.Tick(ctx, now); err != nil {
				panic(err)
			}
		}
	}

	own, _ := ak.SendingKey()
	atBob, ok := bk.PeerKey(members[0], own.Index)
	fmt.Println("Bob holds Alice's key", own.Index, ok)
	fmt.Println("same material:", bytes.Equal(own.Bytes(), atBob.Bytes()))
	fmt.Println("same LiveKit frame key:", own.FrameKey() == atBob.FrameKey())
	// Output:
	// Bob holds Alice's key 0 true
	// same material: true
	// same LiveKit frame key: true
}

// crossSignOnServer gives user a master and a self-signing key and signs devices with them.
func crossSignOnServer(hs *machinetest.Server, user string, devices ...string) {
	mk, _ := key.GenerateSigningKey(nil)
	sk, _ := key.GenerateSigningKey(nil)
	msk := signing.NewCrossSigningKey(user, signing.UsageMaster, mk.Public())
	msk.AddSignature(user, msk.KeyName(), mk)
	ssk := signing.NewCrossSigningKey(user, signing.UsageSelfSigning, sk.Public())
	ssk.AddSignature(user, msk.KeyName(), mk)
	for _, device := range devices {
		dk, err := signing.ParseDeviceKeys(hs.DeviceKeys(user, device))
		if err != nil {
			panic(err)
		}
		dk.AddSignature(user, ssk.KeyName(), sk)
		b, _ := dk.MarshalJSON()
		hs.SetDeviceKeys(user, device, b)
	}
	mj, _ := msk.MarshalJSON()
	sj, _ := ssk.MarshalJSON()
	hs.SetCrossSigningKeys(user, mj, sj, nil)
}
