package machine_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// sasRun drives an SAS verification between two ready flows to the end, a starting.
func (w *world) sasRun(feed *roomFeed, a, b *machine.Machine, va, vb *machine.Verification) {
	w.t.Helper()
	if err := va.StartSAS(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(feed, a, b); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	w.wantState(va, machine.VerificationKeysExchanged)
	w.wantState(vb, machine.VerificationKeysExchanged)
	ca, err := va.SAS(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	cb, err := vb.SAS(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if ca.Emoji != cb.Emoji || ca.Decimals != cb.Decimals {
		w.t.Fatalf("the two sides show different codes: %v %v / %v %v", ca.Emoji, ca.Decimals, cb.Emoji, cb.Decimals)
	}
	if err := va.ConfirmSAS(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(feed, a, b); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	w.wantState(vb, machine.VerificationKeysExchanged) // b's user has not confirmed yet
	if err := vb.ConfirmSAS(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(feed, a, b); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	w.wantState(va, machine.VerificationDone)
	w.wantState(vb, machine.VerificationDone)
}

// readyPair sends a to-device request from a to b and accepts it on b.
func (w *world) readyPair(a, b *machine.Machine) (va, vb *machine.Verification) {
	w.t.Helper()
	va, err := a.RequestVerification(w.ctx, b.UserID(), b.DeviceID())
	if err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(nil, a, b); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	vb, err = b.Verification(w.ctx, va.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	if vb.ID != va.ID || vb.State != machine.VerificationRequested || vb.WeRequested || vb.OtherDevice != a.DeviceID() {
		w.t.Fatalf("b sees %+v", vb)
	}
	if err := vb.Accept(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if errs := w.pump(nil, a, b); len(errs) > 0 {
		w.t.Fatal(errs)
	}
	w.wantState(va, machine.VerificationReady)
	return va, vb
}

func TestVerificationSASOtherUser(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.sasRun(nil, a, b, va, vb)

	_, bobMaster := w.serverKeys(b.UserID())
	msk, err := signing.ParseCrossSigningKey(bobMaster)
	if err != nil {
		t.Fatal(err)
	}
	if va.Result == nil || va.Result.DeviceID != b.DeviceID() || va.Result.MasterKey != msk.Key.String() || !va.Result.Signed || va.Result.NotSigned != "" {
		t.Fatalf("alice's result %+v", va.Result)
	}
	// Bob's master key now carries the signature of Alice's user-signing key, on the server.
	_, aliceMaster := w.serverKeys(a.UserID())
	amsk, _ := signing.ParseCrossSigningKey(aliceMaster)
	var usk *signing.CrossSigningKey
	w.track(a, b.UserID())
	for _, ok := range []bool{true} {
		_ = ok
		body, _ := json.Marshal(map[string]any{"device_keys": map[string][]string{a.UserID(): {}}})
		var resp struct {
			UserSigning map[string]json.RawMessage `json:"user_signing_keys"`
		}
		_ = json.Unmarshal(w.do(a.UserID(), "X", machine.Request{Kind: machine.KindKeysQuery, Body: body}), &resp)
		usk, err = signing.ParseCrossSigningKey(resp.UserSigning[a.UserID()])
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := signing.VerifyUser(msk, amsk, usk); err != nil {
		t.Fatalf("bob's master key is not signed by alice's user-signing key: %v", err)
	}
	for _, c := range []struct {
		m    *machine.Machine
		user string
	}{{a, b.UserID()}, {b, a.UserID()}} {
		ok, err := c.m.UserVerified(w.ctx, c.user)
		if err != nil || !ok {
			t.Fatalf("%s: UserVerified(%s) = %v, %v", c.m.UserID(), c.user, ok, err)
		}
	}
	devs, _ := a.Devices(w.ctx, b.UserID())
	if len(devs) != 1 || !devs[0].Verified {
		t.Fatalf("alice's view of bob's device: %+v", devs)
	}
}

// ownDevices sets up two devices of one user; the first holds the cross-signing keys.
func (w *world) ownDevices() (a1, a2 *machine.Machine, st1, st2 store.Store) {
	w.t.Helper()
	st1, st2 = store.NewMemory(), store.NewMemory()
	a1 = w.deviceOn(st1, "@alice:x.org", "ALICE1")
	a2 = w.deviceOn(st2, "@alice:x.org", "ALICE2")
	w.newCrossSigning(a1.UserID(), a1.DeviceID(), st1)
	w.track(a1)
	w.track(a2)
	return a1, a2, st1, st2
}

func TestVerificationSASOwnDevice(t *testing.T) {
	w := newWorld(t)
	a1, a2, _, _ := w.ownDevices()
	devs, _ := a1.Devices(w.ctx, a1.UserID())
	for _, d := range devs {
		if d.Keys.DeviceID == a2.DeviceID() && d.CrossSigned {
			t.Fatal("the new device is cross-signed before the verification")
		}
	}
	// The new device asks every other device of its user.
	va, err := a2.RequestVerification(w.ctx, a2.UserID())
	if err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a1, a2)
	v1 := w.only(a1)
	if err := v1.Accept(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a1, a2)
	w.sasRun(nil, a2, a1, va, v1)
	if v1.Result.DeviceID != a2.DeviceID() || !v1.Result.Signed {
		t.Fatalf("old device's result %+v", v1.Result)
	}
	if va.Result.MasterKey == "" || !va.Result.Signed {
		t.Fatalf("new device's result %+v", va.Result)
	}
	w.track(a1)
	w.track(a2)
	for _, m := range []*machine.Machine{a1, a2} {
		devs, _ := m.Devices(w.ctx, a1.UserID())
		for _, d := range devs {
			if !d.CrossSigned {
				t.Fatalf("%s sees %s not cross-signed after the verification", m.DeviceID(), d.Keys.DeviceID)
			}
		}
	}
	if ok, _ := a2.UserVerified(w.ctx, a2.UserID()); !ok {
		t.Fatal("the new device does not trust its master key")
	}
	// The master key carries the new device's signature on the server.
	_, master := w.serverKeys(a1.UserID())
	msk, _ := signing.ParseCrossSigningKey(master)
	_, ed := a2.IdentityKeys()
	if err := msk.VerifySignature(a2.UserID(), a2.DeviceID(), ed); err != nil {
		t.Fatalf("master key not signed by the new device: %v", err)
	}
}

func TestVerificationWithoutPrivateKeys(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	// Alice's store loses her private keys: the verification holds locally, unsigned.
	stA := store.NewMemory()
	a2 := w.deviceOn(stA, a.UserID(), "ALICE2")
	w.track(a2, b.UserID())
	va, vb := w.readyPair(a2, b)
	w.sasRun(nil, a2, b, va, vb)
	if va.Result.Signed || va.Result.NotSigned == "" {
		t.Fatalf("result without private keys: %+v", va.Result)
	}
	if ok, _ := a2.UserVerified(w.ctx, b.UserID()); !ok {
		t.Fatal("not verified locally")
	}
}

func TestVerificationInRoom(t *testing.T) {
	w := newWorld(t)
	w.now = time.UnixMilli(1_700_000_000_000) // machinetest's origin_server_ts
	a, b, _, _, room := w.pair()
	feed := w.roomFeed(room)
	va, err := a.RequestVerificationInRoom(w.ctx, room, b.UserID())
	if err != nil {
		t.Fatal(err)
	}
	if errs := w.pump(feed, a, b); len(errs) > 0 {
		t.Fatal(errs)
	}
	w.refresh(va)
	vb := w.only(b)
	if vb.ID != va.ID || vb.RoomID != room || va.ID[0] != '$' {
		t.Fatalf("flow ids: %q %q", va.ID, vb.ID)
	}
	if err := vb.Accept(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(feed, a, b)
	w.wantState(va, machine.VerificationReady)
	w.sasRun(feed, a, b, va, vb)
	// Every event after the request references it.
	for _, ev := range w.hs.Messages(room)[1:] {
		var e struct {
			Type    string `json:"type"`
			Content struct {
				Rel struct {
					Type, ID string
				} `json:"m.relates_to"`
			} `json:"content"`
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(ev, &e)
		_ = json.Unmarshal(ev, &raw)
		var c struct {
			Rel struct {
				RelType string `json:"rel_type"`
				EventID string `json:"event_id"`
			} `json:"m.relates_to"`
		}
		_ = json.Unmarshal(raw["content"], &c)
		if c.Rel.RelType != "m.reference" || c.Rel.EventID != va.ID {
			t.Fatalf("%s relates to %+v", e.Type, c.Rel)
		}
	}
}

func TestVerificationRestartSAS(t *testing.T) {
	w := newWorld(t)
	a, b, stA, stB, _ := w.pair()
	va, vb := w.readyPair(a, b)
	if err := va.StartSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	before, _ := vb.SAS(w.ctx)
	// Both devices restart: new machines on the same stores.
	a = w.deviceOn(stA, a.UserID(), a.DeviceID())
	b = w.deviceOn(stB, b.UserID(), b.DeviceID())
	va, vb = w.only(a), w.only(b)
	after, err := vb.SAS(w.ctx)
	if err != nil || before == nil || after.Emoji != before.Emoji {
		t.Fatalf("SAS after restart: %v", err)
	}
	for _, v := range []*machine.Verification{va, vb} {
		if err := v.ConfirmSAS(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.pump(nil, a, b)
	w.wantState(va, machine.VerificationDone)
	w.wantState(vb, machine.VerificationDone)
}

func TestVerificationRequestWindow(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	for _, skew := range []int64{-11 * 60_000, 6 * 60_000} {
		content, _ := json.Marshal(map[string]any{"from_device": a.DeviceID(), "methods": []string{"m.sas.v1"},
			"timestamp": w.clock().UnixMilli() + skew, "transaction_id": "old" + string(rune('a'+len(w.hs.Messages(w.hs.CreateRoom()))))})
		ev, _ := json.Marshal(map[string]any{"type": "m.key.verification.request", "sender": a.UserID(), "content": json.RawMessage(content)})
		w.hs.InjectToDevice(b.UserID(), b.DeviceID(), ev)
		errs := w.pump(nil, b)
		if len(errs) != 1 || !errors.Is(errs[0], machine.ErrRequestExpired) {
			t.Fatalf("skew %d ms: %v", skew, errs)
		}
	}
	if vs, _ := b.Verifications(w.ctx); len(vs) != 0 {
		t.Fatalf("stale requests were kept: %d", len(vs))
	}
}

func TestVerificationEncryptedEvents(t *testing.T) {
	// Newer clients send verification events Olm-encrypted: the request arrives encrypted
	// here, and a ready from another device than the one Olm authenticated is refused.
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	if _, err := a.GetMissingSessions(w.ctx, []string{b.UserID()}); err != nil {
		t.Fatal(err)
	}
	w.send(a)
	content, _ := json.Marshal(map[string]any{"from_device": a.DeviceID(), "methods": []string{"m.sas.v1"},
		"timestamp": w.now.UnixMilli(), "transaction_id": "encrypted-flow"})
	enc, err := a.OlmEncryptForTest(w.ctx, b.UserID(), b.DeviceID(), "m.key.verification.request", content)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(map[string]any{"type": "m.room.encrypted", "sender": a.UserID(), "content": enc})
	w.hs.InjectToDevice(b.UserID(), b.DeviceID(), ev)
	evs := w.sync(b)
	if len(evs) != 1 || evs[0].Err != nil || evs[0].Type != "m.key.verification.request" || !evs[0].Encrypted || evs[0].Content != nil {
		t.Fatalf("encrypted request: %+v", evs)
	}
	vb := w.only(b)
	if vb.ID != "encrypted-flow" || vb.OtherDevice != a.DeviceID() {
		t.Fatalf("flow %+v", vb)
	}
	// Olm says the next event comes from ALICE1, its content claims another device.
	content, _ = json.Marshal(map[string]any{"from_device": "ALICE9", "method": "m.sas.v1", "transaction_id": "encrypted-flow"})
	if err := vb.Accept(w.ctx); err != nil {
		t.Fatal(err)
	}
	enc, _ = a.OlmEncryptForTest(w.ctx, b.UserID(), b.DeviceID(), "m.key.verification.start", content)
	ev, _ = json.Marshal(map[string]any{"type": "m.room.encrypted", "sender": a.UserID(), "content": enc})
	w.hs.InjectToDevice(b.UserID(), b.DeviceID(), ev)
	w.sync(b)
	w.wantCancel(vb, machine.CancelUnexpectedMessage)
}

// TestVerificationSASMethods runs SAS with each key agreement protocol and MAC method package
// sas implements, and with decimals only.
func TestVerificationSASMethods(t *testing.T) {
	for _, c := range []struct{ agreement, mac, short string }{
		{"curve25519-hkdf-sha256", "hkdf-hmac-sha256.v2", "emoji"},
		{"curve25519-hkdf-sha256", "org.matrix.msc3783.hkdf-hmac-sha256", "emoji"},
		{"curve25519-hkdf-sha256", "hkdf-hmac-sha256", "decimal"},
		{"curve25519", "hkdf-hmac-sha256", "emoji"},
		{"curve25519", "hmac-sha256", "decimal"},
	} {
		t.Run(c.agreement+"/"+c.mac+"/"+c.short, func(t *testing.T) {
			defer machine.SetSASOfferForTest(sas.Methods{KeyAgreementProtocols: []string{c.agreement}, Hashes: []string{"sha256"},
				MessageAuthenticationCodes: []string{c.mac}, ShortAuthenticationString: []string{c.short}})()
			w := newWorld(t)
			a, b, _, _, _ := w.pair()
			va, vb := w.readyPair(a, b)
			if err := va.StartSAS(w.ctx); err != nil {
				t.Fatal(err)
			}
			w.pump(nil, a, b)
			code, err := vb.SAS(w.ctx)
			if err != nil || len(code.Methods) != 1 || code.Methods[0] != c.short {
				t.Fatalf("SAS %+v, %v", code, err)
			}
			for _, v := range []*machine.Verification{va, vb} {
				if err := v.ConfirmSAS(w.ctx); err != nil {
					t.Fatal(err)
				}
			}
			w.pump(nil, a, b)
			w.wantState(va, machine.VerificationDone)
			w.wantState(vb, machine.VerificationDone)
		})
	}
}
