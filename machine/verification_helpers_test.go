package machine_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/signing"
	"github.com/sicher-go/sicher/store"
)

// crossSigning is a user's cross-signing identity in a test.
type crossSigning struct {
	master, self, user *key.SigningKey
	seeds              [3][]byte
}

// newCrossSigning generates a user's cross-signing keys, uploads them (the subkeys signed by the
// master key) through the fake server as device dev, and signs that device with the
// self-signing key. It keeps the private keys in st when st is not nil, as Bootstrap would.
func (w *world) newCrossSigning(user, dev string, st store.Store) *crossSigning {
	w.t.Helper()
	cs := &crossSigning{}
	for i := range cs.seeds {
		cs.seeds[i] = make([]byte, 32)
		if _, err := rand.Read(cs.seeds[i]); err != nil {
			w.t.Fatal(err)
		}
	}
	cs.master, _ = key.NewSigningKey(cs.seeds[0])
	cs.self, _ = key.NewSigningKey(cs.seeds[1])
	cs.user, _ = key.NewSigningKey(cs.seeds[2])
	msk := signing.NewCrossSigningKey(user, signing.UsageMaster, cs.master.Public())
	ssk := signing.NewCrossSigningKey(user, signing.UsageSelfSigning, cs.self.Public())
	usk := signing.NewCrossSigningKey(user, signing.UsageUserSigning, cs.user.Public())
	ssk.AddSignature(user, msk.KeyName(), cs.master)
	usk.AddSignature(user, msk.KeyName(), cs.master)
	body, _ := json.Marshal(map[string]any{"master_key": msk, "self_signing_key": ssk, "user_signing_key": usk})
	w.do(user, dev, machine.Request{Kind: machine.KindSigningKeysUpload, Body: body})
	dk, err := signing.ParseDeviceKeys(w.hs.DeviceKeys(user, dev))
	if err != nil {
		w.t.Fatal(err)
	}
	dk.AddSignature(user, cs.self.Public().String(), cs.self)
	body, _ = json.Marshal(map[string]map[string]any{user: {dev: dk}})
	w.do(user, dev, machine.Request{Kind: machine.KindSignatureUpload, Body: body})
	if st != nil {
		cs.store(w, st, user, dev)
	}
	return cs
}

// store keeps the private cross-signing keys in a device's store.
func (cs *crossSigning) store(w *world, st store.Store, user, dev string) {
	w.t.Helper()
	err := st.Update(w.ctx, store.Owner{UserID: user, DeviceID: dev}, func(tx store.Tx) error {
		for i, name := range []string{"m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"} {
			if err := tx.PutSecret(w.ctx, name, store.Secret(base64.RawStdEncoding.EncodeToString(cs.seeds[i]))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) do(user, dev string, r machine.Request) []byte {
	w.t.Helper()
	resp, err := w.hs.Do(user, dev, r)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp
}

// serverKeys returns what /keys/query serves for a user: device keys and master key.
func (w *world) serverKeys(user string) (devices map[string]json.RawMessage, master json.RawMessage) {
	w.t.Helper()
	body, _ := json.Marshal(map[string]any{"device_keys": map[string][]string{user: {}}})
	var resp struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
		MasterKeys map[string]json.RawMessage            `json:"master_keys"`
	}
	if err := json.Unmarshal(w.do(user, "X", machine.Request{Kind: machine.KindKeysQuery, Body: body}), &resp); err != nil {
		w.t.Fatal(err)
	}
	return resp.DeviceKeys[user], resp.MasterKeys[user]
}

// rooms feeds each machine the room events it has not seen, as an application would after
// decrypting them; pos counts what each machine saw.
type roomFeed struct {
	w    *world
	room string
	pos  map[*machine.Machine]int
	errs []error
}

func (w *world) roomFeed(room string) *roomFeed {
	return &roomFeed{w: w, room: room, pos: map[*machine.Machine]int{}}
}

func (f *roomFeed) feed(ms ...*machine.Machine) {
	for _, m := range ms {
		evs := f.w.hs.Messages(f.room)
		for _, ev := range evs[f.pos[m]:] {
			if _, err := m.ReceiveRoomEvent(f.w.ctx, f.room, ev); err != nil {
				f.errs = append(f.errs, err)
			}
		}
		f.pos[m] = len(evs)
	}
}

// pump sends and syncs the machines a few rounds (and feeds a room if given), collecting the
// to-device events' errors.
func (w *world) pump(feed *roomFeed, ms ...*machine.Machine) []error {
	w.t.Helper()
	var errs []error
	for range 6 {
		for _, m := range ms {
			w.send(m)
		}
		for _, ev := range w.sync(ms...) {
			if ev.Err != nil {
				errs = append(errs, ev.Err)
			}
		}
		if feed != nil {
			feed.feed(ms...)
		}
	}
	if feed != nil {
		errs = append(errs, feed.errs...)
		feed.errs = nil
	}
	return errs
}

// only returns the one flow a machine has that is not v (nil: any), failing otherwise.
func (w *world) only(m *machine.Machine) *machine.Verification {
	w.t.Helper()
	vs, err := m.Verifications(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(vs) != 1 {
		w.t.Fatalf("%s/%s has %d flows, want 1", m.UserID(), m.DeviceID(), len(vs))
	}
	return vs[0]
}

func (w *world) refresh(vs ...*machine.Verification) {
	w.t.Helper()
	for _, v := range vs {
		if err := v.Refresh(w.ctx); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) wantState(v *machine.Verification, want machine.VerificationState) {
	w.t.Helper()
	w.refresh(v)
	if v.State != want {
		w.t.Fatalf("flow %s is %s (cancel %s %q), want %s", v.ID, v.State, v.CancelCode, v.CancelReason, want)
	}
}

func (w *world) wantCancel(v *machine.Verification, code machine.CancelCode) {
	w.t.Helper()
	w.refresh(v)
	if v.State != machine.VerificationCancelled || v.CancelCode != code {
		w.t.Fatalf("flow %s is %s with %q (%s), want cancelled with %s", v.ID, v.State, v.CancelCode, v.CancelReason, code)
	}
}

// tamper changes the content of to-device events of one type on their way.
func (w *world) tamper(evType string, fn func(c map[string]any)) {
	w.hs.ToDeviceFilter = func(_, _ string, evs []json.RawMessage) []json.RawMessage {
		out := slices.Clone(evs)
		for i, raw := range out {
			var ev map[string]any
			if json.Unmarshal(raw, &ev) != nil || ev["type"] != evType {
				continue
			}
			fn(ev["content"].(map[string]any))
			out[i], _ = json.Marshal(ev)
		}
		return out
	}
}

// pair sets up two users who share a room and track each other, both cross-signed.
func (w *world) pair() (a, b *machine.Machine, stA, stB store.Store, room string) {
	w.t.Helper()
	stA, stB = store.NewMemory(), store.NewMemory()
	a, b = w.deviceOn(stA, "@alice:x.org", "ALICE1"), w.deviceOn(stB, "@bob:x.org", "BOB1")
	room = w.hs.CreateRoom(a.UserID(), b.UserID())
	w.newCrossSigning(a.UserID(), a.DeviceID(), stA)
	w.newCrossSigning(b.UserID(), b.DeviceID(), stB)
	w.track(a, b.UserID())
	w.track(b, a.UserID())
	return a, b, stA, stB, room
}

func (w *world) track(m *machine.Machine, users ...string) {
	w.t.Helper()
	if err := m.UpdateTrackedUsers(w.ctx, users); err != nil {
		w.t.Fatal(err)
	}
	w.sync(m)
	w.send(m)
}
