package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/matrixhttp"
)

// sent is one message a client reported as sent.
type sent struct {
	body, sender, device string
}

// ledger records what was sent in a room, by event id.
type ledger map[string]sent

func (l ledger) send(t *testing.T, c *sicherc.Client, room, body string) string {
	t.Helper()
	id := c.SendText(room, body)
	l[id] = sent{body, c.User.ID, c.DeviceID}
	return id
}

// expectDecrypts waits until c decrypts every message of want not sent by
// c's own device, with the right body, sender and sending device, and
// fails the test for each one that still does not (with the machine's
// reason). It returns how many decrypted.
func expectDecrypts(t *testing.T, c *sicherc.Client, room string, want ledger) int {
	t.Helper()
	n := 0
	var failures []string
	deadline := time.Now().Add(45 * time.Second)
	for {
		n, failures = 0, nil
		expected := 0
		msgs := c.Messages(room)
		byID := map[string]sicherc.Message{}
		for _, m := range msgs {
			byID[m.EventID] = m
		}
		for id, s := range want {
			if s.device == c.DeviceID {
				continue
			}
			expected++
			m, ok := byID[id]
			switch {
			case !ok:
				failures = append(failures, fmt.Sprintf("event %s (%q) not in the room's history", id, s.body))
			case m.Err != nil:
				failures = append(failures, fmt.Sprintf("event %s (%q from %s) does not decrypt: %v", id, s.body, s.device, m.Err))
			case m.Body != s.body:
				failures = append(failures, fmt.Sprintf("event %s decrypted to %q, sent %q", id, m.Body, s.body))
			case m.Dec.Info.Sender != s.sender,
				m.Dec.Info.SenderDevice != s.device && (m.Dec.Info.Provenance != event.Backup || m.Dec.Info.SenderDevice != ""):
				// A key restored from backup names the sender's Curve25519 key only; the
				// device is then known only if this device queried the sender's devices.
				failures = append(failures, fmt.Sprintf("event %s: from %s/%s, sent by %s/%s", id, m.Dec.Info.Sender, m.Dec.Info.SenderDevice, s.sender, s.device))
			default:
				n++
			}
		}
		if len(failures) == 0 || time.Now().After(deadline) {
			t.Logf("%s: %d of %d messages from the other devices decrypted", c, n, expected)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, f := range failures {
		t.Errorf("%s: %s", c, f)
	}
	return n
}

// mustNotDecrypt checks that c cannot decrypt the event id of room (taken
// from reader's view of the room: c may not even see it) and that the
// failure is a missing key, not some other error.
func mustNotDecrypt(t *testing.T, c, reader *sicherc.Client, room, id string) {
	t.Helper()
	for _, m := range reader.Messages(room) {
		if m.EventID != id {
			continue
		}
		dec, err := c.Decrypt(room, m.Raw)
		var de *machine.DecryptionError
		switch {
		case err == nil:
			t.Errorf("%s decrypts event %s (%s), which it must not", c, id, dec.Content)
		case !errors.As(err, &de) || (de.Reason != machine.FailureMissingSession && de.Reason != machine.FailureUnknownIndex):
			t.Errorf("%s: event %s fails with %v, want a missing session or unknown index", c, id, err)
		default:
			t.Logf("%s cannot decrypt event %s, as required: %v", c, id, err)
		}
		return
	}
	t.Errorf("%s does not see event %s", reader, id)
}

// TestSicherThreeDevices runs alice on two sicher devices and bob on one
// in an encrypted room: messages both ways, an attachment, a restart of
// every client in the middle, SAS verification over to-device, a late
// joiner and a leaver.
func TestSicherThreeDevices(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob, carol := s.MustRegister(t, "alice"), s.MustRegister(t, "bob"), s.MustRegister(t, "carol")
	a1, a2, b := sicherc.Login(t, s, alice), sicherc.Login(t, s, alice), sicherc.Login(t, s, bob)

	room, err := a1.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "alice's second device and bob see the invite", func() error {
		if _, err := a2.C().JoinRoom(ctx, room); err != nil {
			return err
		}
		_, err := b.C().JoinRoom(ctx, room)
		return err
	})
	all := []*sicherc.Client{a1, a2, b}
	for _, c := range all {
		c.WaitMembers(room, alice.ID, bob.ID)
		c.WaitDevices(alice.ID, a1.DeviceID, a2.DeviceID)
		c.WaitDevices(bob.ID, b.DeviceID)
	}

	l := ledger{}
	for round := range 2 {
		for _, c := range all {
			l.send(t, c, room, fmt.Sprintf("%s says %d", c, round))
		}
	}
	for _, c := range all {
		expectDecrypts(t, c, room, l)
	}

	// An attachment through the media repository.
	file := &matrixhttp.File{Name: "notes.txt", MimeType: "text/plain", Data: bytes.Repeat([]byte("sicher attachment "), 500)}
	fileID, err := b.C().SendFile(ctx, room, file)
	if err != nil {
		t.Fatalf("send file: %v", err)
	}
	for _, c := range []*sicherc.Client{a1, a2} {
		var got *matrixhttp.File
		sicherc.Eventually(t, 30*time.Second, c.String()+" downloads the attachment", func() error {
			for _, m := range c.Messages(room) {
				if m.EventID != fileID {
					continue
				}
				if m.Err != nil {
					return m.Err
				}
				got, err = c.C().DownloadFile(ctx, m.Dec.Content)
				return err
			}
			return errors.New("file event not seen yet")
		})
		if !bytes.Equal(got.Data, file.Data) || got.Name != file.Name {
			t.Errorf("%s: attachment %q with %d bytes, sent %q with %d", c, got.Name, len(got.Data), file.Name, len(file.Data))
		} else {
			t.Logf("%s: attachment of %d bytes downloaded and decrypted", c, len(got.Data))
		}
	}

	// Every client restarts in the middle of the conversation.
	l.send(t, a1, room, "before the restart")
	for _, c := range all {
		c.Restart()
	}
	l.send(t, b, room, "after the restart, from bob")
	l.send(t, a2, room, "after the restart, from alice's second device")
	for _, c := range all {
		expectDecrypts(t, c, room, l)
	}

	// SAS verification over to-device: alice's first device and bob's.
	verifySAS(t, a1, b)

	// A late joiner: carol, invited now, cannot read what was sent before
	// her invite, and reads what follows.
	early := l.send(t, a1, room, "before carol")
	if err := a1.C().Invite(ctx, room, carol.ID); err != nil {
		t.Fatal(err)
	}
	c := sicherc.Login(t, s, carol)
	sicherc.Eventually(t, 60*time.Second, "carol joins", func() error {
		_, err := c.C().JoinRoom(ctx, room)
		return err
	})
	for _, x := range all {
		x.WaitMembers(room, alice.ID, bob.ID, carol.ID)
		x.WaitDevices(carol.ID, c.DeviceID)
	}
	late := ledger{}
	late.send(t, b, room, "welcome carol")
	late.send(t, a2, room, "hello carol")
	expectDecrypts(t, c, room, late)
	mustNotDecrypt(t, c, a1, room, early)

	// A leaver: bob leaves; the next message uses a new session that bob's
	// device never receives.
	beforeLeave := l.send(t, a1, room, "before bob leaves")
	expectDecrypts(t, b, room, ledger{beforeLeave: l[beforeLeave]})
	if err := b.C().LeaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*sicherc.Client{a1, a2, c} {
		x.WaitMembers(room, alice.ID, carol.ID)
	}
	after := ledger{}
	afterID := after.send(t, a1, room, "after bob left")
	expectDecrypts(t, c, room, after)
	expectDecrypts(t, a2, room, after)
	mustNotDecrypt(t, b, a2, room, afterID)
	if sessionOf(t, a2, room, beforeLeave) == sessionOf(t, a2, room, afterID) {
		t.Errorf("the room key did not rotate when bob left")
	}
}

// sessionOf returns the Megolm session id of an event as c sees it.
func sessionOf(t *testing.T, c *sicherc.Client, room, id string) string {
	t.Helper()
	for _, m := range c.Messages(room) {
		if m.EventID == id {
			var content struct {
				Content struct {
					SessionID string `json:"session_id"`
				} `json:"content"`
			}
			if err := json.Unmarshal(m.Raw, &content); err != nil {
				t.Fatal(err)
			}
			return content.Content.SessionID
		}
	}
	t.Fatalf("%s does not see %s", c, id)
	return ""
}

// verifySAS verifies b's device from a's with SAS over to-device
// messages: a requests, b accepts, a starts, both compare the codes and
// confirm, and each then shows the other's device as verified.
func verifySAS(t *testing.T, a, b *sicherc.Client) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	va, err := a.M().RequestVerification(ctx, b.User.ID, b.DeviceID)
	if err != nil {
		t.Fatalf("request verification: %v", err)
	}
	send := func(c *sicherc.Client) {
		if err := c.C().SendRequests(ctx); err != nil {
			t.Logf("%s: send requests: %v", c, err)
		}
	}
	send(a)
	var vb *machine.Verification
	sicherc.Eventually(t, 30*time.Second, "bob receives the request", func() error {
		vs, err := b.M().Verifications(ctx)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.ID == va.ID && v.State == machine.VerificationRequested {
				vb = v
				return nil
			}
		}
		return fmt.Errorf("%d flows, none is %s", len(vs), va.ID)
	})
	if err := vb.Accept(ctx); err != nil {
		t.Fatalf("accept: %v", err)
	}
	send(b)
	waitState(t, a, va, machine.VerificationReady)
	if err := va.StartSAS(ctx); err != nil {
		t.Fatalf("start SAS: %v", err)
	}
	send(a)
	var ca, cb *machine.SASCode
	sicherc.Eventually(t, 30*time.Second, "both sides show the SAS", func() error {
		var err error
		if ca == nil {
			if ca, err = va.SAS(ctx); err != nil {
				ca = nil
				return err
			}
		}
		if cb, err = vb.SAS(ctx); err != nil {
			cb = nil
			return err
		}
		return nil
	})
	if ca.Emoji != cb.Emoji || ca.Decimals != cb.Decimals {
		t.Fatalf("the two sides show different codes: %v / %v", ca.Decimals, cb.Decimals)
	}
	if err := va.ConfirmSAS(ctx); err != nil {
		t.Fatalf("confirm a: %v", err)
	}
	if err := vb.ConfirmSAS(ctx); err != nil {
		t.Fatalf("confirm b: %v", err)
	}
	send(a)
	send(b)
	waitState(t, a, va, machine.VerificationDone)
	waitState(t, b, vb, machine.VerificationDone)
	for _, pair := range [][2]*sicherc.Client{{a, b}, {b, a}} {
		devs, err := pair[0].M().Devices(ctx, pair[1].User.ID)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(devs, func(d machine.Device) bool { return d.Keys.DeviceID == pair[1].DeviceID })
		if i < 0 || !devs[i].Verified {
			t.Errorf("%s does not show %s as verified after SAS", pair[0], pair[1])
		}
	}
	t.Logf("SAS verification %s <-> %s done in %v (decimals %v)", a, b, time.Since(start).Round(time.Millisecond), ca.Decimals)
}

func waitState(t *testing.T, c *sicherc.Client, v *machine.Verification, want machine.VerificationState) {
	t.Helper()
	sicherc.Eventually(t, 30*time.Second, fmt.Sprintf("%s: verification %s", c, want), func() error {
		if err := v.Refresh(context.Background()); err != nil {
			return err
		}
		if v.State == machine.VerificationCancelled {
			t.Fatalf("%s: verification cancelled: %s %s", c, v.CancelCode, v.CancelReason)
		}
		if v.State != want {
			return fmt.Errorf("state %s", v.State)
		}
		return nil
	})
}

// TestSicherBackupRestore bootstraps cross-signing and key backup on
// alice's first device (user-interactive authentication with the password
// on the real server), exchanges messages with bob, then logs alice in on
// a new device that recovers with the recovery key and restores the room
// keys from the backup: the old messages decrypt, marked as from backup.
func TestSicherBackupRestore(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	a1, b := sicherc.Login(t, s, alice), sicherc.Login(t, s, bob)

	m := a1.M()
	res := a1.Bootstrap()

	room, err := a1.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "bob joins", func() error {
		_, err := b.C().JoinRoom(ctx, room)
		return err
	})
	a1.WaitMembers(room, alice.ID, bob.ID)
	b.WaitMembers(room, alice.ID, bob.ID)
	a1.WaitDevices(bob.ID, b.DeviceID)
	b.WaitDevices(alice.ID, a1.DeviceID)
	l := ledger{}
	for i := range 3 {
		l.send(t, a1, room, fmt.Sprintf("alice %d", i))
		l.send(t, b, room, fmt.Sprintf("bob %d", i))
	}
	expectDecrypts(t, a1, room, l)

	// Wait until alice's first device has backed up both sessions (hers
	// and bob's).
	sicherc.Eventually(t, 60*time.Second, "the backup holds the room keys", func() error {
		if err := a1.C().SendRequests(ctx); err != nil {
			return err
		}
		var v struct {
			Count int `json:"count"`
		}
		if err := s.Do(ctx, a1.Token(), "GET", "/_matrix/client/v3/room_keys/version", nil, &v); err != nil {
			return err
		}
		if v.Count < 2 {
			return fmt.Errorf("backup holds %d keys", v.Count)
		}
		return nil
	})

	a3 := sicherc.Login(t, s, alice)
	a3.WaitDevices(alice.ID, a1.DeviceID)
	start := time.Now()
	sicherc.Eventually(t, 30*time.Second, "recover with the recovery key", func() error {
		return a3.M().Recover(ctx, res.RecoveryKey)
	})
	sicherc.Eventually(t, 30*time.Second, "restore the backup", func() error {
		if err := a3.C().SendRequests(ctx); err != nil {
			return err
		}
		if err := a3.M().RestoreBackup(ctx, "", ""); err != nil {
			return err
		}
		return a3.C().SendRequests(ctx)
	})
	a3l := ledger{}
	for id, x := range l {
		a3l[id] = x // every message, alice's first device's included, is from another device
	}
	n := expectDecrypts(t, a3, room, a3l)
	fromBackup := 0
	for _, msg := range a3.Messages(room) {
		if msg.Dec != nil && msg.Dec.Info.Provenance == event.Backup {
			fromBackup++
			if msg.Dec.Info.Shield != machine.ShieldGrey {
				t.Errorf("event %s from backup shows shield %v, want grey", msg.EventID, msg.Dec.Info.Shield)
			}
		}
	}
	if fromBackup != len(l) {
		t.Errorf("%d of %d messages decrypted from backup", fromBackup, len(l))
	}
	t.Logf("new device: recovered and restored %d of %d messages from backup (%d marked from backup) in %v", n, len(l), fromBackup, time.Since(start).Round(time.Millisecond))

	// The new device is cross-signed after Recover: alice's first device
	// shows it verified.
	sicherc.Eventually(t, 30*time.Second, "alice's first device sees the new device cross-signed", func() error {
		if err := m.UpdateTrackedUsers(ctx, []string{alice.ID}); err != nil {
			return err
		}
		devs, err := m.Devices(ctx, alice.ID)
		if err != nil {
			return err
		}
		for _, d := range devs {
			if d.Keys.DeviceID == a3.DeviceID && d.CrossSigned {
				return nil
			}
		}
		return errors.New("not cross-signed yet")
	})
}
