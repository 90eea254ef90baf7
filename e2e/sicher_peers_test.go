package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
	"github.com/sicher-go/sicher/machine"
)

func TestSicherWithNio(t *testing.T) {
	t.Parallel()
	sicherWithPeer(t, "nio")
}

func TestSicherWithJSSDK(t *testing.T) {
	t.Parallel()
	sicherWithPeer(t, "jssdk")
}

// sicherWithPeer puts alice on two sicher devices and bob on a peer (nio
// or js-sdk) into an encrypted room that sicher creates: both sides send,
// and every device must decrypt every message of the others, the peer
// naming the right sending device for sicher's messages and sicher naming
// the peer's device. The room keys travel both ways over Olm.
func sicherWithPeer(t *testing.T, kind string) {
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	a1, a2 := sicherc.Login(t, s, alice), sicherc.Login(t, s, alice)
	p := login(t, s, kind, bob)

	room, err := a1.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, kind+" joins", func() error {
		if err := p.p.Sync(0); err != nil {
			return err
		}
		return p.p.Join(room)
	})
	for _, c := range []*sicherc.Client{a1, a2} {
		c.WaitMembers(room, alice.ID, bob.ID)
		c.WaitDevices(alice.ID, a1.DeviceID, a2.DeviceID)
		c.WaitDevices(bob.ID, p.dev.DeviceID)
	}
	waitPeerKnows(t, p, alice.ID, a1.DeviceID, a2.DeviceID)

	l := ledger{}
	for round := range 2 {
		l.send(t, a1, room, fmt.Sprintf("sicher a1 says %d", round))
		p.p.Must(t, "sync", p.p.Sync(0))
		body := fmt.Sprintf("%s says %d", kind, round)
		id, err := p.p.SendText(room, body)
		p.p.Must(t, "send_text", err)
		l[id] = sent{body, bob.ID, p.dev.DeviceID}
		l.send(t, a2, room, fmt.Sprintf("sicher a2 says %d", round))
		p.p.Must(t, "sync", p.p.Sync(0))
	}
	for _, c := range []*sicherc.Client{a1, a2} {
		expectDecrypts(t, c, room, l)
	}
	peerDecrypts(t, p, room, l)
}

// waitPeerKnows syncs the peer until it knows the given devices of userID.
func waitPeerKnows(t *testing.T, p member, userID string, deviceIDs ...string) {
	t.Helper()
	sicherc.Eventually(t, 60*time.Second, p.String()+" knows the devices of "+userID, func() error {
		if err := p.p.Sync(500); err != nil {
			return err
		}
		devs, err := p.p.DeviceKeys(userID)
		if err != nil {
			return err
		}
		for _, id := range deviceIDs {
			found := false
			for _, d := range devs {
				found = found || d.DeviceID == id
			}
			if !found {
				return fmt.Errorf("device %s not known (knows %d)", id, len(devs))
			}
		}
		return nil
	})
}

// peerDecrypts waits until the peer decrypts every message of want not
// sent by its own device, with the right body, sender and device.
func peerDecrypts(t *testing.T, p member, room string, want ledger) int {
	t.Helper()
	var n int
	var failures []string
	deadline := time.Now().Add(45 * time.Second)
	for {
		n, failures = 0, nil
		expected := 0
		msgs, err := p.p.Messages(room)
		p.p.Must(t, "messages", err)
		byID := map[string]int{}
		for i, m := range msgs {
			byID[m.EventID] = i
		}
		for id, s := range want {
			if s.device == p.dev.DeviceID {
				continue
			}
			expected++
			i, ok := byID[id]
			if !ok {
				failures = append(failures, fmt.Sprintf("event %s (%q) not received", id, s.body))
				continue
			}
			m := msgs[i]
			switch {
			case !m.Decrypted || !m.Encrypted:
				failures = append(failures, fmt.Sprintf("event %s (%q from %s) not decrypted (encrypted %v): %s", id, s.body, s.device, m.Encrypted, m.Reason))
			case m.Body != s.body:
				failures = append(failures, fmt.Sprintf("event %s decrypted to %q, sent %q", id, m.Body, s.body))
			case m.Sender != s.sender || (m.DeviceID != "" && m.DeviceID != s.device):
				failures = append(failures, fmt.Sprintf("event %s from %s/%s, sent by %s/%s", id, m.Sender, m.DeviceID, s.sender, s.device))
			default:
				n++
			}
		}
		if len(failures) == 0 || time.Now().After(deadline) {
			t.Logf("%s: %d of %d messages from the sicher devices decrypted", p, n, expected)
			break
		}
		p.p.Must(t, "sync", p.p.Sync(1000))
	}
	for _, f := range failures {
		t.Errorf("%s: %s", p, f)
	}
	return n
}

// TestSicherVerifiesWithJSSDK verifies a js-sdk device and a sicher device
// with each other by SAS over to-device messages: js-sdk requests and
// starts, sicher accepts; both must show the same seven emoji and three
// numbers, and after both confirmed each shows the other device verified.
func TestSicherVerifiesWithJSSDK(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	a := sicherc.Login(t, s, alice)
	p := login(t, s, "jssdk", bob)
	// js-sdk's crypto keeps the devices of users it shares an encrypted
	// room with (others are looked up but not kept, and it verifies only
	// devices it keeps): put the two in a room.
	room, err := a.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "js-sdk joins", func() error {
		if err := p.p.Sync(0); err != nil {
			return err
		}
		return p.p.Join(room)
	})
	a.WaitDevices(bob.ID, p.dev.DeviceID)
	a.WaitUploaded()
	waitPeerKnows(t, p, alice.ID, a.DeviceID)
	start := time.Now()

	txn, err := p.p.VerifyRequest(alice.ID, a.DeviceID)
	p.p.Must(t, "verify_request", err)
	var v *machine.Verification
	sicherc.Eventually(t, 30*time.Second, "sicher receives the request", func() error {
		vs, err := a.M().Verifications(ctx)
		if err != nil {
			return err
		}
		for _, x := range vs {
			if x.ID == txn && x.State == machine.VerificationRequested {
				v = x
				return nil
			}
		}
		return fmt.Errorf("%d flows, none is %s", len(vs), txn)
	})
	if err := v.Accept(ctx); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if err := a.C().SendRequests(ctx); err != nil {
		t.Logf("send requests: %v", err)
	}
	shown, err := p.p.VerifyStartSAS(txn)
	p.p.Must(t, "verify_start_sas", err)
	var code *machine.SASCode
	sicherc.Eventually(t, 30*time.Second, "sicher shows the SAS", func() error {
		var err error
		code, err = v.SAS(ctx)
		return err
	})
	var names []string
	for _, e := range code.Emoji {
		names = append(names, e.Description)
	}
	if !slices.Equal(shown.Decimals, code.Decimals[:]) || !slices.Equal(shown.Emoji, names) {
		t.Fatalf("codes differ: js-sdk %v %v, sicher %v %v", shown.Decimals, shown.Emoji, code.Decimals, names)
	}
	if err := v.ConfirmSAS(ctx); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if err := a.C().SendRequests(ctx); err != nil {
		t.Logf("send requests: %v", err)
	}
	verified, err := p.p.VerifyConfirm(txn)
	p.p.Must(t, "verify_confirm", err)
	if !verified {
		t.Errorf("js-sdk does not show the sicher device verified after SAS")
	}
	waitState(t, a, v, machine.VerificationDone)
	devs, err := a.M().Devices(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(devs, func(d machine.Device) bool { return d.Keys.DeviceID == p.dev.DeviceID })
	if i < 0 || !devs[i].Verified {
		t.Errorf("sicher does not show the js-sdk device verified after SAS")
	}
	t.Logf("SAS js-sdk %s <-> sicher %s: same emoji %v and decimals %v, both verified, in %v", p.dev.DeviceID, a.DeviceID, names, code.Decimals, time.Since(start).Round(time.Millisecond))
}
