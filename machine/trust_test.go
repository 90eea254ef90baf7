package machine_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// crossSign gives user a new master and self-signing key on the server and signs the listed
// devices with it.
func (w *world) crossSign(user string, devices ...string) {
	w.t.Helper()
	mk, err := key.GenerateSigningKey(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	sk, err := key.GenerateSigningKey(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	msk := signing.NewCrossSigningKey(user, signing.UsageMaster, mk.Public())
	msk.AddSignature(user, msk.KeyName(), mk)
	ssk := signing.NewCrossSigningKey(user, signing.UsageSelfSigning, sk.Public())
	ssk.AddSignature(user, msk.KeyName(), mk)
	mj, _ := msk.MarshalJSON()
	sj, _ := ssk.MarshalJSON()
	for _, d := range devices {
		dk, err := signing.ParseDeviceKeys(w.hs.DeviceKeys(user, d))
		if err != nil {
			w.t.Fatal(err)
		}
		dk.AddSignature(user, ssk.KeyName(), sk)
		b, _ := dk.MarshalJSON()
		w.hs.SetDeviceKeys(user, d, b)
	}
	w.hs.SetCrossSigningKeys(user, mj, sj, nil)
}

func withheldCode(t *testing.T, err error) string {
	t.Helper()
	var de *machine.DecryptionError
	if !errors.As(err, &de) {
		t.Fatalf("not a DecryptionError: %v", err)
	}
	if de.Reason != machine.FailureWithheld {
		return ""
	}
	return de.Code
}

// TestSharePolicies: AllDevices shares with everyone; OnlyVerified only with devices we
// verified; IdentityBased (MSC4153) only with cross-signed devices of users whose identity did
// not change unacknowledged. Left-out devices get m.room_key.withheld with the code.
func TestSharePolicies(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")       // cross-signed
	bobOld := w.device("@bob:example.org", "BOLD") // not cross-signed
	carol := w.device("@carol:example.org", "C")   // no identity
	w.crossSign("@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID(), carol.UserID())
	all := []*machine.Machine{alice, bob, bobOld, carol}
	w.sync(all...)

	// Identity-based: bob's cross-signed device only.
	rs := machine.RoomSettings{Policy: machine.IdentityBased}
	ev := w.say(alice, room, "identity", rs)
	d := w.mustRead(bob, room, ev, "identity")
	if d.Info.Shield != machine.ShieldRed { // Alice's own device is not cross-signed.
		t.Fatalf("shield %v", d.Info.Shield)
	}
	for _, m := range []*machine.Machine{bobOld, carol} {
		_, _, err := w.read(m, room, ev)
		if code := withheldCode(t, err); code != "m.unverified" {
			t.Fatalf("%s: code %q (%v)", m.DeviceID(), code, err)
		}
	}
	devs, err := alice.Devices(w.ctx, bob.UserID())
	if err != nil || len(devs) != 2 || !devs[0].CrossSigned || devs[1].CrossSigned {
		t.Fatalf("bob's devices %+v %v", devs, err)
	}

	// Bob's identity changes: until Alice acknowledges it, he gets nothing.
	w.crossSign("@bob:example.org", "B")
	w.sync(alice)
	w.send(alice)
	rs.RotationMessages = 1
	ev = w.say(alice, room, "changed", rs)
	if _, _, err := w.read(bob, room, ev); withheldCode(t, err) != "m.unverified" {
		t.Fatalf("changed identity: %v", err)
	}
	if err := alice.AcknowledgeIdentity(w.ctx, bob.UserID()); err != nil {
		t.Fatal(err)
	}
	w.mustRead(bob, room, w.say(alice, room, "acknowledged", rs), "acknowledged")

	// Only verified: nobody until Alice verifies Carol's device.
	vs := machine.RoomSettings{Policy: machine.OnlyVerified, RotationMessages: 1}
	ev = w.say(alice, room, "verified only", vs)
	if _, _, err := w.read(carol, room, ev); withheldCode(t, err) != "m.unverified" {
		t.Fatalf("unverified carol: %v", err)
	}
	if err := alice.SetDeviceTrust(w.ctx, carol.UserID(), "C", machine.TrustVerified); err != nil {
		t.Fatal(err)
	}
	w.mustRead(carol, room, w.say(alice, room, "now verified", vs), "now verified")

	// All devices.
	ev = w.say(alice, room, "all", machine.RoomSettings{RotationMessages: 1})
	for _, m := range all[1:] {
		w.mustRead(m, room, ev, "all")
	}
}

// TestShields: a message from a cross-signed device shows no shield, one whose key came
// forwarded shows grey, an unsigned device red.
func TestShields(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bob := w.device("@bob:example.org", "B")
	w.crossSign("@alice:example.org", "A")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	d := w.mustRead(bob, room, w.say(alice, room, "signed", machine.RoomSettings{}), "signed")
	if d.Info.Shield != machine.ShieldNone || !d.Info.CrossSigned || d.Info.SenderDevice != "A" {
		t.Fatalf("info %+v", d.Info)
	}
}

// TestWedgedSession: Bob loses his Olm session with Alice (a restore from an old copy). Alice's
// next message over it fails; Bob starts a new session and sends m.dummy, at most once an hour,
// and the next room key reaches him over the new session.
func TestWedgedSession(t *testing.T) {
	w := newWorld(t)
	alice := w.device("@alice:example.org", "A")
	bobStore := newMemory()
	bob := w.deviceOn(bobStore, "@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	w.mustRead(bob, room, w.say(alice, room, "before", machine.RoomSettings{}), "before")
	w.mustRead(alice, room, w.say(bob, room, "reply", machine.RoomSettings{}), "reply")

	// Bob's device is replaced by one with the same keys but no Olm sessions: copy the
	// account and pickle key only.
	fresh := cloneWithoutSessions(t, w, bobStore, bob, alice.UserID())
	rs := machine.RoomSettings{RotationMessages: 1}
	ev := w.say(alice, room, "lost", rs)
	evs := w.sync(fresh)
	if len(evs) != 1 || evs[0].Err == nil {
		t.Fatalf("to-device over a lost session: %+v", evs)
	}
	w.send(fresh) // claim + m.dummy
	if _, _, err := w.read(fresh, room, ev); err == nil {
		t.Fatal("decrypted without the key")
	}
	// Alice receives the dummy over the new session, which she then uses.
	w.sync(alice)
	w.mustRead(fresh, room, w.say(alice, room, "recovered", rs), "recovered")

	// Another undecryptable message within the hour starts no new session; one after the
	// hour does.
	aliceCurve, _ := alice.IdentityKeys()
	bobCurve, _ := fresh.IdentityKeys()
	junk := junkOlm(t, alice.UserID(), aliceCurve, bobCurve)
	w.hs.InjectToDevice(bob.UserID(), "B", junk)
	if evs := w.sync(fresh); len(evs) != 1 || evs[0].Err == nil {
		t.Fatalf("junk: %+v", evs)
	}
	if reqs, _ := fresh.OutgoingRequests(w.ctx); len(reqs) != 0 {
		t.Fatalf("a second recovery within the hour: %v", reqs)
	}
	w.advance(61 * time.Minute)
	w.hs.InjectToDevice(bob.UserID(), "B", junk)
	w.sync(fresh)
	if reqs, _ := fresh.OutgoingRequests(w.ctx); len(reqs) != 1 || reqs[0].Kind != machine.KindKeysClaim {
		t.Fatalf("no recovery after the hour: %v", reqs)
	}
}

// junkOlm is a well-formed Olm normal message that claims to come from sender's device but
// belongs to no session of the recipient.
func junkOlm(t *testing.T, sender string, from, to key.Curve25519) json.RawMessage {
	t.Helper()
	x, _ := olm.NewAccount()
	y, _ := olm.NewAccount()
	otks, _, err := y.GenerateOneTimeKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := x.NewOutboundSession(y.Curve25519(), otks[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Encrypt(nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := olm.ParsePreKeyMessage(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	ys, _, err := y.NewInboundSession(pm, nil)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := ys.Encrypt(nil, []byte("y"))
	if err != nil || reply.Type != olm.TypeMessage {
		t.Fatalf("reply %v %v", reply.Type, err)
	}
	content, _ := json.Marshal(map[string]any{"algorithm": "m.olm.v1.curve25519-aes-sha2", "sender_key": from.String(),
		"ciphertext": map[string]olm.EncryptedMessage{to.String(): reply}})
	ev, _ := json.Marshal(map[string]any{"type": "m.room.encrypted", "sender": sender, "content": json.RawMessage(content)})
	return ev
}

// cloneWithoutSessions starts a machine for m's device on a new store holding only its account
// and pickle key (what a device restored from an old backup of its account would have), and
// lets it query the users it talks to.
func cloneWithoutSessions(t *testing.T, w *world, st store.Store, m *machine.Machine, peers ...string) *machine.Machine {
	t.Helper()
	owner := store.Owner{UserID: m.UserID(), DeviceID: m.DeviceID()}
	fresh := store.NewMemory()
	err := st.View(w.ctx, owner, func(tx store.Tx) error {
		acct, err := tx.Account(w.ctx)
		if err != nil {
			return err
		}
		pk, err := tx.Secret(w.ctx, "sicher.machine.pickle_key")
		if err != nil {
			return err
		}
		return fresh.Update(w.ctx, owner, func(ftx store.Tx) error {
			if err := ftx.PutAccount(w.ctx, acct); err != nil {
				return err
			}
			if err := ftx.PutValue(w.ctx, "sicher.machine.device_keys_up", []byte("1")); err != nil {
				return err
			}
			return ftx.PutSecret(w.ctx, "sicher.machine.pickle_key", pk)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := machine.New(w.ctx, machine.Config{UserID: m.UserID(), DeviceID: m.DeviceID(), Store: fresh, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTrackedUsers(w.ctx, peers); err != nil {
		t.Fatal(err)
	}
	w.send(c)
	return c
}
