package main

// The demo's story, last chapter: the same conversation on the client machine
// (package machine), which keeps the state and says what to send, against the
// in-memory homeserver of machine/machinetest.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/store"
)

// shieldNames are the badges of machine.Shield as a client draws them.
var shieldNames = map[machine.Shield]string{machine.ShieldNone: "no shield", machine.ShieldGrey: "grey shield", machine.ShieldRed: "red shield"}

// demoMachine is a client with its machine: what it sends goes to the fake homeserver.
type demoMachine struct {
	s  *demoStory
	hs *machinetest.Server
	m  *machine.Machine
}

// send executes the machine's requests as a client's HTTP loop would, and narrates them.
func (c *demoMachine) send(ctx context.Context) {
	for range 10 {
		reqs, err := c.m.OutgoingRequests(ctx)
		c.s.must("the requests of "+c.m.DeviceID(), err)
		if len(reqs) == 0 {
			return
		}
		for _, r := range reqs {
			resp, err := c.hs.Do(c.m.UserID(), c.m.DeviceID(), r)
			c.s.must(fmt.Sprintf("the server executes %s %s", r.Method, r.Path), err)
			c.s.must("hand the response back (MarkRequestSent)", c.m.MarkRequestSent(ctx, r.ID, resp))
			path := strings.TrimPrefix(r.Path, "/_matrix/client/v3")
			if r.Kind == machine.KindToDevice { // the transaction id is the request id, random
				path = path[:strings.LastIndex(path, "/")+1] + "{txnId}"
			}
			c.s.say("%s → %s %s%s", c.m.DeviceID(), r.Method, path, describeRequest(r))
		}
	}
	c.s.must("send the requests of "+c.m.DeviceID(), errors.New("the machine keeps asking"))
}

// describeRequest says what a request carries, without anything random.
func describeRequest(r machine.Request) string {
	switch r.Kind {
	case machine.KindKeysUpload:
		var b struct {
			DeviceKeys  json.RawMessage            `json:"device_keys"`
			OneTimeKeys map[string]json.RawMessage `json:"one_time_keys"`
			Fallback    map[string]json.RawMessage `json:"fallback_keys"`
		}
		if json.Unmarshal(r.Body, &b) != nil {
			return ""
		}
		var parts []string
		if b.DeviceKeys != nil {
			parts = append(parts, "signed device keys")
		}
		parts = append(parts, plural(len(b.OneTimeKeys), "one-time key"))
		if len(b.Fallback) > 0 {
			parts = append(parts, "a fallback key")
		}
		return " (" + strings.Join(parts, ", ") + ")"
	case machine.KindToDevice:
		var b struct {
			Messages map[string]map[string]json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(r.Body, &b) != nil {
			return ""
		}
		n := 0
		for _, devs := range b.Messages {
			n += len(devs)
		}
		return fmt.Sprintf(" (%s to %s)", r.EventType, plural(n, "device"))
	}
	return ""
}

// sync feeds the machine its device's /sync and narrates the to-device events.
func (c *demoMachine) sync(ctx context.Context) {
	evs, err := c.hs.SyncMachine(ctx, c.m)
	c.s.must("/sync of "+c.m.DeviceID(), err)
	for _, ev := range evs {
		if ev.Err != nil {
			c.s.check(fmt.Sprintf("%s accepts the %s from %s", c.m.DeviceID(), ev.Type, ev.Sender), ev.Err)
			continue
		}
		c.s.say("%s ← /sync: %s from %s, Olm-encrypted: %v", c.m.DeviceID(), ev.Type, ev.Sender, ev.Encrypted)
	}
}

func (s *demoStory) machine() {
	s.step("The same conversation on the client machine, through a homeserver in memory")
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_200_000)
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	hs := machinetest.NewServer()
	newMachine := func(user, dev string) *demoMachine {
		m, err := machine.NewFrom(ctx, s.rand, machine.Config{UserID: user, DeviceID: dev, Store: store.NewMemory(), Clock: clock})
		s.must("create the machine of "+dev, err)
		c := &demoMachine{s: s, hs: hs, m: m}
		c.send(ctx)
		return c
	}
	s.say("each device runs a machine.Machine on its store; the machine opens no socket, it says what to send")
	alice, bob := newMachine(demoAlice, "ALICEDESK"), newMachine(demoBob, "BOBDESK")
	room := hs.CreateRoom(demoAlice, demoBob)
	members := hs.Members(room)

	s.say("Alice's machine tracks the room's members, queries their devices, claims a one-time key and shares the room key")
	s.must("track the members", alice.m.UpdateTrackedUsers(ctx, members))
	alice.send(ctx)
	devs, err := alice.m.Devices(ctx, demoBob)
	s.must("Bob's devices", err)
	s.expect("Alice's machine knows BOBDESK, its self-signature checked", len(devs) == 1 && devs[0].Keys.DeviceID == "BOBDESK",
		"devices %v", devs)
	_, err = alice.m.GetMissingSessions(ctx, members)
	s.must("claim one-time keys", err)
	alice.send(ctx)
	s.must("share the room key", alice.m.ShareRoomKey(ctx, room, members, machine.RoomSettings{Policy: machine.AllDevices}))
	alice.send(ctx)
	content, err := alice.m.EncryptRoomEvent(ctx, room, "m.room.message", json.RawMessage(`{"msgtype":"m.text","body":"Bob, der Termin ist bestätigt."}`))
	s.must("encrypt the room event", err)
	ev := hs.Send(room, demoAlice, content)
	s.say("Alice sends an m.room.encrypted event of %d bytes", len(ev))

	s.must("Bob tracks the members", bob.m.UpdateTrackedUsers(ctx, members))
	bob.sync(ctx)
	bob.send(ctx)
	read := func(what string, want machine.Shield) {
		dec, err := bob.m.DecryptRoomEvent(ctx, room, ev)
		if !s.check(what, err) {
			return
		}
		var c struct{ Body string }
		s.must("read the content", json.Unmarshal(dec.Content, &c))
		i := dec.Info
		s.say("%q from %s, device %s, room key received over Olm from that device: %v", c.Body, i.Sender, i.SenderDevice, i.Provenance == event.OverOlm)
		s.say("%s%s", shieldNames[i.Shield], strings.TrimSuffix(": "+i.ShieldReason, ": "))
		s.expect("the sender and its device are the ones that shared the key", i.Sender == demoAlice && i.SenderDevice == "ALICEDESK", "%s %s", i.Sender, i.SenderDevice)
		s.expect("Bob's client shows "+shieldNames[want], i.Shield == want, "%s", shieldNames[i.Shield])
	}
	read("Bob's machine decrypts the event", machine.ShieldRed)
	s.must("Bob verifies ALICEDESK (as with SAS in step 5)", bob.m.SetDeviceTrust(ctx, demoAlice, "ALICEDESK", machine.TrustVerified))
	s.say("Bob marks ALICEDESK verified after comparing emoji")
	read("the same event again, after the verification", machine.ShieldNone)

	forged := hs.Send(room, "@mallory:example.org", content)
	_, err = bob.m.DecryptRoomEvent(ctx, room, forged)
	var de *machine.DecryptionError
	if errors.As(err, &de) && de.Reason == machine.FailureSenderMismatch {
		s.check("the same ciphertext re-sent by the server as Mallory's is refused ("+err.Error()+")", nil)
	} else {
		s.check("the same ciphertext re-sent by the server as Mallory's is refused", fmt.Errorf("got %v", err))
	}
}

// plural says "1 device", "2 devices".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
