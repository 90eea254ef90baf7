package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/peer"
)

// member is one client in a test room: a peer logged in as its own user.
type member struct {
	p   *peer.Peer
	u   *hs.User
	dev peer.Device
}

func (m member) String() string { return m.p.Kind + " " + m.u.ID + "/" + m.dev.DeviceID }

// start starts one peer of each kind given ("nio" or "jssdk"), each as a
// new user logged in on s.
func start(t *testing.T, s *hs.Server, kinds ...string) []member {
	t.Helper()
	var ms []member
	for i, kind := range kinds {
		var p *peer.Peer
		switch kind {
		case "nio":
			p = peer.Nio(t)
		case "jssdk":
			p = peer.JSSDK(t)
		default:
			t.Fatalf("unknown peer kind %q", kind)
		}
		u := s.MustRegister(t, fmt.Sprintf("%s%d", kind, i))
		dev, err := p.Login(s.URL, u.ID, u.Password)
		p.Must(t, "login", err)
		if dev.DeviceID == "" || dev.Ed25519 == "" || dev.Curve25519 == "" {
			t.Fatalf("%s: login returned no device or keys: %+v", kind, dev)
		}
		ms = append(ms, member{p: p, u: u, dev: dev})
	}
	return ms
}

// syncAll runs one sync on every member.
func syncAll(t *testing.T, ms []member) {
	t.Helper()
	for _, m := range ms {
		m.p.Must(t, "sync", m.p.Sync(0))
	}
}

// converse puts the members in one new encrypted room (the first creates
// it through the harness, the others join), lets each send perMember
// messages in turn, and checks that every member decrypts every message
// the others sent, reporting sent and decrypted counts. An event that
// does not decrypt fails the test with the peer's reason.
func converse(t *testing.T, s *hs.Server, ms []member, perMember int) {
	t.Helper()
	var others []*hs.User
	for _, m := range ms[1:] {
		others = append(others, m.u)
	}
	room := s.EncryptedRoom(t, ms[0].u, others...)
	syncAll(t, ms)
	syncAll(t, ms)

	sent := map[string]string{} // event ID -> body
	from := map[string]member{} // event ID -> sender
	for round := range perMember {
		for _, m := range ms {
			body := fmt.Sprintf("%s says %d to the room", m.p.Kind, round)
			id, err := m.p.SendText(room, body)
			m.p.Must(t, "send_text", err)
			sent[id] = body
			from[id] = m
			syncAll(t, ms)
		}
	}

	for _, m := range ms {
		want := 0
		for _, f := range from {
			if f.u.ID != m.u.ID {
				want++
			}
		}
		got, failed := received(t, m, room, sent, from)
		deadline := time.Now().Add(30 * time.Second)
		for got+len(failed) < want || len(failed) > 0 {
			if time.Now().After(deadline) {
				break
			}
			m.p.Must(t, "sync", m.p.Sync(1000))
			got, failed = received(t, m, room, sent, from)
		}
		t.Logf("%s: %d of %d messages from the others decrypted", m, got, want)
		for _, f := range failed {
			t.Errorf("%s: %s", m, f)
		}
		if got != want {
			t.Errorf("%s: decrypted %d of %d messages", m, got, want)
		}
	}
}

// received counts the messages m decrypted correctly and describes each
// one that did not decrypt or decrypted wrongly.
func received(t *testing.T, m member, room string, sent map[string]string, from map[string]member) (int, []string) {
	t.Helper()
	msgs, err := m.p.Messages(room)
	m.p.Must(t, "messages", err)
	got := 0
	var failed []string
	seen := map[string]bool{}
	for _, msg := range msgs {
		body, ok := sent[msg.EventID]
		if !ok || seen[msg.EventID] || from[msg.EventID].u.ID == m.u.ID {
			continue
		}
		seen[msg.EventID] = true
		f := from[msg.EventID]
		switch {
		case !msg.Decrypted:
			failed = append(failed, fmt.Sprintf("event %s from %s does not decrypt: %s", msg.EventID, f, msg.Reason))
		case !msg.Encrypted:
			failed = append(failed, fmt.Sprintf("event %s from %s arrived unencrypted", msg.EventID, f))
		case msg.Body != body:
			failed = append(failed, fmt.Sprintf("event %s from %s decrypted to %q, sent %q", msg.EventID, f, msg.Body, body))
		case msg.Sender != f.u.ID:
			failed = append(failed, fmt.Sprintf("event %s: sender %s, want %s", msg.EventID, msg.Sender, f.u.ID))
		case msg.DeviceID != "" && msg.DeviceID != f.dev.DeviceID:
			failed = append(failed, fmt.Sprintf("event %s: device %s, want %s", msg.EventID, msg.DeviceID, f.dev.DeviceID))
		default:
			got++
		}
	}
	return got, failed
}

func TestNioWithNio(t *testing.T) {
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "nio", "nio"), 3)
}

func TestJSSDKWithJSSDK(t *testing.T) {
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "jssdk", "jssdk"), 3)
}

func TestNioWithJSSDK(t *testing.T) {
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "nio", "jssdk"), 3)
}

func TestThreeDevices(t *testing.T) {
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "nio", "jssdk", "nio"), 2)
}

var _ = strings.TrimSpace
