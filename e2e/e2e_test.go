package e2e

import (
	"context"
	"fmt"
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
		ms = append(ms, login(t, s, kind, s.MustRegister(t, fmt.Sprintf("%s%d", kind, i))))
	}
	return ms
}

// login starts a peer of the given kind and logs it in as u, with a new
// device.
func login(t *testing.T, s *hs.Server, kind string, u *hs.User) member {
	t.Helper()
	var p *peer.Peer
	switch kind {
	case "nio":
		p = peer.Nio(t)
	case "jssdk":
		p = peer.JSSDK(t)
	default:
		t.Fatalf("unknown peer kind %q", kind)
	}
	dev, err := p.Login(s.URL, u.ID, u.Password)
	p.Must(t, "login", err)
	if dev.DeviceID == "" || dev.Ed25519 == "" || dev.Curve25519 == "" {
		t.Fatalf("%s: login returned no device or keys: %+v", kind, dev)
	}
	return member{p: p, u: u, dev: dev}
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
//
// With trust set, every member first checks that the device keys it
// downloaded for the others are the ones they reported at login, marks
// every device verified, and then every decrypted message must say so.
func converse(t *testing.T, s *hs.Server, ms []member, perMember int, trust bool) {
	t.Helper()
	var others []*hs.User
	seenUser := map[string]bool{ms[0].u.ID: true}
	for _, m := range ms[1:] {
		if !seenUser[m.u.ID] {
			others = append(others, m.u)
			seenUser[m.u.ID] = true
		}
	}
	room := s.EncryptedRoom(t, ms[0].u, others...)
	syncAll(t, ms)
	syncAll(t, ms)
	if trust {
		checkKeysAndTrust(t, ms)
	}

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

	t.Logf("%d messages sent by %d devices", len(sent), len(ms))
	for _, m := range ms {
		want := 0
		for _, f := range from {
			if f.dev.DeviceID != m.dev.DeviceID {
				want++
			}
		}
		got, failed := received(t, m, room, sent, from, trust)
		deadline := time.Now().Add(30 * time.Second)
		for got+len(failed) < want || len(failed) > 0 {
			if time.Now().After(deadline) {
				break
			}
			m.p.Must(t, "sync", m.p.Sync(1000))
			got, failed = received(t, m, room, sent, from, trust)
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
func received(t *testing.T, m member, room string, sent map[string]string, from map[string]member, trust bool) (int, []string) {
	t.Helper()
	msgs, err := m.p.Messages(room)
	m.p.Must(t, "messages", err)
	got := 0
	var failed []string
	seen := map[string]bool{}
	for _, msg := range msgs {
		body, ok := sent[msg.EventID]
		if !ok || seen[msg.EventID] || from[msg.EventID].dev.DeviceID == m.dev.DeviceID {
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
		case trust && !msg.Verified:
			failed = append(failed, fmt.Sprintf("event %s from %s: sender device not verified after trust_all_devices", msg.EventID, f))
		default:
			got++
		}
	}
	return got, failed
}

// checkKeysAndTrust checks that each member knows every other member's
// device with the identity keys that device reported at login, then has
// each member mark all devices it knows verified.
func checkKeysAndTrust(t *testing.T, ms []member) {
	t.Helper()
	for _, m := range ms {
		for _, o := range ms {
			if o.dev.DeviceID == m.dev.DeviceID {
				continue
			}
			devs, err := m.p.DeviceKeys(o.u.ID)
			m.p.Must(t, "device_keys", err)
			found := false
			for _, d := range devs {
				if d.DeviceID != o.dev.DeviceID {
					continue
				}
				found = true
				if d.Ed25519 != o.dev.Ed25519 || d.Curve25519 != o.dev.Curve25519 {
					t.Errorf("%s sees %s with keys %s/%s, it reported %s/%s", m, o, d.Ed25519, d.Curve25519, o.dev.Ed25519, o.dev.Curve25519)
				}
			}
			if !found {
				t.Errorf("%s does not know device %s (knows %+v)", m, o, devs)
			}
		}
		n, err := m.p.TrustAllDevices()
		m.p.Must(t, "trust_all_devices", err)
		if n < len(ms)-1 {
			t.Errorf("%s: trust_all_devices verified %d devices, want at least %d", m, n, len(ms)-1)
		}
	}
}

func TestNioWithNio(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "nio", "nio"), 3, false)
}

func TestJSSDKWithJSSDK(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "jssdk", "jssdk"), 3, false)
}

func TestNioWithJSSDK(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	converse(t, s, start(t, s, "nio", "jssdk"), 3, false)
}

// TestThreeDevices has one user on two devices (nio and js-sdk) and a
// second user on a third (nio), all verifying each other first.
func TestThreeDevices(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	alice := s.MustRegister(t, "alice")
	bob := s.MustRegister(t, "bob")
	ms := []member{login(t, s, "nio", alice), login(t, s, "jssdk", alice), login(t, s, "nio", bob)}
	converse(t, s, ms, 2, true)
}

// TestLateJoinerCannotDecryptEarlier checks that the peers report an
// event they cannot decrypt, with a reason, rather than hide it: a member
// who joins after a message was sent never got its room key (Megolm keys
// go to the devices in the room when the session is shared,
// https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2),
// while the message sent after the join decrypts.
func TestLateJoinerCannotDecryptEarlier(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"nio", "jssdk"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := hs.ForTest(t)
			ms := start(t, s, "nio", "jssdk")
			room := s.EncryptedRoom(t, ms[0].u, ms[1].u)
			syncAll(t, ms)
			before, err := ms[0].p.SendText(room, "before the late joiner")
			ms[0].p.Must(t, "send_text", err)

			late := login(t, s, kind, s.MustRegister(t, "late"+kind))
			ctx := context.Background()
			if err := s.Invite(ctx, ms[0].u, room, late.u.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.Join(ctx, late.u, room); err != nil {
				t.Fatal(err)
			}
			all := append(ms, late)
			syncAll(t, all)
			syncAll(t, all)
			after, err := ms[1].p.SendText(room, "after the late joiner")
			ms[1].p.Must(t, "send_text", err)

			var got map[string]peer.Message
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
				late.p.Must(t, "sync", late.p.Sync(1000))
				msgs, err := late.p.Messages(room)
				late.p.Must(t, "messages", err)
				got = map[string]peer.Message{}
				for _, m := range msgs {
					got[m.EventID] = m
				}
				if got[after].Decrypted {
					break
				}
			}
			if m, ok := got[before]; !ok {
				t.Errorf("%s: the event sent before the join is not in the timeline", late)
			} else if m.Decrypted {
				t.Errorf("%s decrypted %q, sent before it joined", late, m.Body)
			} else if m.Reason == "" {
				t.Errorf("%s: undecryptable event without a reason", late)
			} else {
				t.Logf("%s: event sent before the join does not decrypt: %s", late, m.Reason)
			}
			if m := got[after]; !m.Decrypted || m.Body != "after the late joiner" {
				t.Errorf("%s: event sent after the join: %+v", late, m)
			}
		})
	}
}
