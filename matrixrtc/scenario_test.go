package matrixrtc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/matrixrtc"
	"github.com/sicher-go/sicher/store"
)

// call is a fake homeserver with call members on it; the clock is the test's.
type call struct {
	t    *testing.T
	ctx  context.Context
	hs   *machinetest.Server
	room string
	now  time.Time
	// errs are the refusals each participant's Receive returned, by member id.
	errs map[string][]error
	// got counts the media key events each participant's machine delivered, by member id.
	got map[string]int
}

type participant struct {
	m  *machine.Machine
	k  *matrixrtc.Manager
	mb matrixrtc.Member
}

func newCall(t *testing.T) *call {
	return &call{t: t, ctx: context.Background(), hs: machinetest.NewServer(), room: "!call:example.org",
		now: time.UnixMilli(1_765_000_000_000), errs: map[string][]error{}, got: map[string]int{}}
}

func (c *call) clock() time.Time { return c.now }

// device creates a machine on a memory store and uploads its keys.
func (c *call) device(user, dev string) *machine.Machine {
	c.t.Helper()
	m, err := machine.New(c.ctx, machine.Config{UserID: user, DeviceID: dev, Store: store.NewMemory(), Clock: c.clock})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.hs.SendAll(c.ctx, m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// crossSign gives user a master and self-signing key on the server and signs the devices.
func (c *call) crossSign(user string, devices ...string) {
	c.t.Helper()
	crossSignOnServer(c.hs, user, devices...)
}

func (c *call) join(m *machine.Machine, memberID string, cfg matrixrtc.Config) *participant {
	c.t.Helper()
	cfg.Machine, cfg.RoomID, cfg.MemberID = m, c.room, memberID
	k, err := matrixrtc.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	return &participant{m: m, k: k, mb: k.Own()}
}

// setMembers tells each participant the joined members.
func (c *call) setMembers(ps []*participant, members ...*participant) {
	c.t.Helper()
	var mbs []matrixrtc.Member
	for _, p := range members {
		mbs = append(mbs, p.mb)
	}
	for _, p := range ps {
		if err := p.k.SetMembers(c.ctx, c.now, mbs); err != nil {
			c.t.Fatal(err)
		}
	}
}

// pump runs rounds of send, sync, receive and tick for the participants, enough for device
// queries, one-time key claims and the keys themselves to go through.
func (c *call) pump(ps ...*participant) {
	c.t.Helper()
	for range 4 {
		for _, p := range ps {
			if err := c.hs.SendAll(c.ctx, p.m); err != nil {
				c.t.Fatal(err)
			}
		}
		for _, p := range ps {
			evs, err := c.hs.SyncMachine(c.ctx, p.m)
			if err != nil {
				c.t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Type == matrixrtc.EventTypeKey || ev.Type == matrixrtc.EventTypeLegacyKeys {
					c.got[p.mb.MemberID]++
				}
				if _, err := p.k.Receive(c.ctx, c.now, ev); err != nil {
					c.errs[p.mb.MemberID] = append(c.errs[p.mb.MemberID], err)
				}
			}
			if _, err := p.k.Tick(c.ctx, c.now); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

// wantKeys checks that every receiver holds every sender's current key, and that both derive
// the same LiveKit frame key from it.
func (c *call) wantKeys(senders, receivers []*participant) {
	c.t.Helper()
	for _, s := range senders {
		sk, ok := s.k.SendingKey()
		if !ok {
			c.t.Fatalf("%s has no key", s.mb.MemberID)
		}
		for _, r := range receivers {
			if r == s {
				continue
			}
			rk, ok := r.k.PeerKey(s.mb, sk.Index)
			if !ok {
				c.t.Fatalf("%s lacks %s's key %d (refusals %v)", r.mb.MemberID, s.mb.MemberID, sk.Index, c.errs[r.mb.MemberID])
			}
			if !bytes.Equal(rk.Bytes(), sk.Bytes()) || rk.FrameKey() != sk.FrameKey() {
				c.t.Fatalf("%s holds another key %d of %s", r.mb.MemberID, sk.Index, s.mb.MemberID)
			}
		}
	}
}

func (c *call) wantNoErrors(ps ...*participant) {
	c.t.Helper()
	for _, p := range ps {
		if len(c.errs[p.mb.MemberID]) > 0 {
			c.t.Fatalf("%s refused keys: %v", p.mb.MemberID, c.errs[p.mb.MemberID])
		}
	}
}

func sendingIndex(t *testing.T, p *participant) uint8 {
	t.Helper()
	k, ok := p.k.SendingKey()
	if !ok {
		t.Fatalf("%s has no key", p.mb.MemberID)
	}
	return k.Index
}

// TestCall: three members join a call and exchange keys; one leaves and does not get the next
// keys; one joins late and gets the current keys within the grace window; a key from the
// wrong device, a cleartext key and a key from a device that is not cross-signed are refused;
// the legacy format is read; everyone derives the same LiveKit frame keys.
func TestCall(t *testing.T) {
	c := newCall(t)
	am := c.device("@alice:example.org", "A1")
	bm := c.device("@bob:example.org", "B1")
	bm2 := c.device("@bob:example.org", "B2")
	cm := c.device("@carol:example.org", "C1")
	dm := c.device("@dave:example.org", "D1")
	em := c.device("@eve:example.org", "E1") // never cross-signed
	c.crossSign("@alice:example.org", "A1")
	c.crossSign("@bob:example.org", "B1", "B2")
	c.crossSign("@carol:example.org", "C1")
	c.crossSign("@dave:example.org", "D1")
	cfg := matrixrtc.Config{GracePeriod: 10 * time.Second}
	a := c.join(am, "alice-1", cfg)
	legacyCfg := cfg
	legacyCfg.SendLegacy = true
	b := c.join(bm, "bob-1", legacyCfg)
	cc := c.join(cm, "carol-1", cfg)

	// Three members join and exchange keys.
	abc := []*participant{a, b, cc}
	c.setMembers(abc, abc...)
	c.pump(abc...)
	c.wantNoErrors(abc...)
	c.wantKeys(abc, abc)
	// Bob sends both formats: Alice and Carol read the legacy copy too.
	if c.got["alice-1"] != 3 || c.got["carol-1"] != 3 || c.got["bob-1"] != 2 {
		t.Fatalf("key events delivered: %v, want 3, 3 and 2", c.got)
	}

	// Carol leaves: Alice and Bob rotate, and the new keys are used after the delay only.
	ab := []*participant{a, b}
	c.setMembers(ab, ab...)
	gotCarol := c.got["carol-1"]
	c.pump(a, b, cc)
	if c.got["carol-1"] != gotCarol {
		t.Fatal("Carol received a key after she left")
	}
	if sendingIndex(t, a) != 0 {
		t.Fatal("Alice used her new key before the delay")
	}
	c.now = c.now.Add(matrixrtc.DefaultUseDelay)
	c.pump(abc...)
	if sendingIndex(t, a) != 1 || sendingIndex(t, b) != 1 {
		t.Fatalf("after the delay the keys are %d and %d, want 1", sendingIndex(t, a), sendingIndex(t, b))
	}
	c.wantNoErrors(ab...)
	c.wantKeys(ab, ab)
	if _, ok := cc.k.PeerKey(a.mb, 1); ok {
		t.Fatal("Carol holds Alice's key after she left")
	}

	// Dave joins within the grace window of the new keys: he gets them, nobody rotates.
	c.now = c.now.Add(time.Second)
	d := c.join(dm, "dave-1", cfg)
	abd := []*participant{a, b, d}
	c.setMembers(abd, abd...)
	c.pump(abd...)
	c.wantNoErrors(abd...)
	if sendingIndex(t, a) != 1 || sendingIndex(t, b) != 1 {
		t.Fatal("a join within the grace window rotated the keys")
	}
	c.wantKeys(abd, abd)

	// Bob's other device sends a key in the name of Bob's member (on B1): refused.
	forged := keyContent(t, c.room, "bob-1", 9, bytes.Repeat([]byte{9}, 32))
	c.sendTo(bm2, matrixrtc.EventTypeKey, forged, "@alice:example.org", "A1")
	c.pump(a)
	wantRefusal(t, c, a, matrixrtc.ErrSenderMismatch)
	if _, ok := a.k.PeerKey(b.mb, 9); ok {
		t.Fatal("Alice kept the forged key")
	}

	// A key in the clear, as the server could inject it: refused.
	c.hs.InjectToDevice("@alice:example.org", "A1", json.RawMessage(fmt.Sprintf(
		`{"type":%q,"sender":"@bob:example.org","content":%s}`, matrixrtc.EventTypeKey,
		keyContent(t, c.room, "bob-1", 8, bytes.Repeat([]byte{8}, 32)))))
	c.pump(a)
	wantRefusal(t, c, a, matrixrtc.ErrCleartext)

	// The legacy format from matrix-js-sdk, with a 16-byte key as its RTCEncryptionManager
	// makes them: read.
	legacy := json.RawMessage(fmt.Sprintf(`{"keys":{"index":7,"key":%q},"room_id":%q,"member":{"id":"bob-1","claimed_device_id":"B1"},"session":{"call_id":"","application":"m.call","scope":"m.room"},"sent_ts":1}`,
		base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16)), c.room))
	c.sendTo(bm, matrixrtc.EventTypeLegacyKeys, legacy, "@alice:example.org", "A1")
	c.pump(a, b)
	c.wantNoErrors(a)
	if k, ok := a.k.PeerKey(b.mb, 7); !ok || !bytes.Equal(k.Bytes(), bytes.Repeat([]byte{7}, 16)) {
		t.Fatal("Alice did not read the legacy key")
	}

	// Eve joins from a device she never cross-signed: her key is refused, and she gets none.
	// Dave accepts such devices (InsecureAcceptNotCrossSigned).
	dInsecure := cfg
	dInsecure.InsecureAcceptNotCrossSigned = true
	d2 := c.join(dm, "dave-2", dInsecure)
	e := c.join(em, "eve-1", cfg)
	c.now = c.now.Add(time.Minute) // past the grace window: this join rotates
	all := []*participant{a, b, d2, e}
	c.setMembers(all, all...)
	c.pump(all...)
	c.now = c.now.Add(matrixrtc.DefaultUseDelay)
	c.pump(all...)
	if sendingIndex(t, a) != 2 {
		t.Fatalf("Alice's key is %d after a join outside the grace window, want 2", sendingIndex(t, a))
	}
	wantRefusal(t, c, a, matrixrtc.ErrNotCrossSigned)
	wantRefusal(t, c, b, matrixrtc.ErrNotCrossSigned)
	if _, ok := e.k.PeerKey(a.mb, 2); ok {
		t.Fatal("Eve's device, not cross-signed, got Alice's key")
	}
	if _, ok := d2.k.LatestPeerKey(e.mb); !ok {
		t.Fatalf("Dave (insecure) did not accept Eve's key: %v", c.errs["dave-2"])
	}
	c.wantKeys([]*participant{a, b, d2}, []*participant{a, b, d2})
}

// sendTo sends an Olm-encrypted to-device event from m to one device, querying its device
// list and claiming a one-time key first when needed.
func (c *call) sendTo(m *machine.Machine, evType string, content json.RawMessage, user, dev string) {
	c.t.Helper()
	if err := m.UpdateTrackedUsers(c.ctx, []string{user}); err != nil {
		c.t.Fatal(err)
	}
	for range 3 {
		if _, err := c.hs.SyncMachine(c.ctx, m); err != nil {
			c.t.Fatal(err)
		}
		if err := c.hs.SendAll(c.ctx, m); err != nil {
			c.t.Fatal(err)
		}
		rep, err := m.SendEncryptedToDevice(c.ctx, evType, content, []machine.DeviceTarget{{UserID: user, DeviceID: dev}})
		if err != nil {
			c.t.Fatal(err)
		}
		if err := c.hs.SendAll(c.ctx, m); err != nil {
			c.t.Fatal(err)
		}
		if len(rep.Sent) == 1 {
			return
		}
	}
	c.t.Fatalf("%s could not send to %s/%s", m.DeviceID(), user, dev)
}

// wantRefusal checks that p's last refusal is want, and clears the list.
func wantRefusal(t *testing.T, c *call, p *participant, want error) {
	t.Helper()
	errs := c.errs[p.mb.MemberID]
	if len(errs) == 0 || !errors.Is(errs[len(errs)-1], want) {
		t.Fatalf("%s: refusals %v, want %v", p.mb.MemberID, errs, want)
	}
	c.errs[p.mb.MemberID] = nil
}

func keyContent(t *testing.T, room, memberID string, index int, material []byte) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{"room_id": room, "member_id": memberID, "format": 0,
		"media_key": map[string]any{"index": index, "key": base64.RawStdEncoding.EncodeToString(material)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
