package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
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
