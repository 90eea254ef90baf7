package matrixrtc_test

import (
	"testing"
	"time"

	"github.com/sicher-go/sicher/matrixrtc"
)

// TestRotationCoalesced: a member leaves while the key made for an earlier leave is still on
// its way; that key is never used, and the one made when its delay ends reaches only the
// members still joined (MSC4143 "Rotating keys").
func TestRotationCoalesced(t *testing.T) {
	c := newCall(t)
	users := []string{"@alice:example.org", "@bob:example.org", "@carol:example.org", "@dave:example.org"}
	var ps []*participant
	for i, u := range users {
		dev := string(rune('A'+i)) + "1"
		m := c.device(u, dev)
		c.crossSign(u, dev)
		ps = append(ps, c.join(m, u[1:2]+"-1", matrixrtc.Config{}))
	}
	a, b, cc, d := ps[0], ps[1], ps[2], ps[3]
	c.setMembers(ps, ps...)
	c.pump(ps...)
	c.wantNoErrors(ps...)
	c.wantKeys(ps, ps)

	// Carol leaves: key 1 goes to Bob and Dave.
	c.setMembers([]*participant{a, b, d}, a, b, d)
	c.pump(a, b, d, cc)
	if _, ok := d.k.PeerKey(a.mb, 1); !ok {
		t.Fatal("Dave did not get key 1")
	}
	// Dave leaves two seconds later, before key 1 is used: it is spoiled.
	c.now = c.now.Add(2 * time.Second)
	c.setMembers([]*participant{a, b}, a, b)
	c.pump(a, b, d)
	c.now = c.now.Add(3 * time.Second) // key 1's delay ends: key 2 is made instead of using 1
	switched, err := a.k.Tick(c.ctx, c.now)
	if err != nil || switched {
		t.Fatalf("Tick at the end of the spoiled key's delay: switched %v, %v", switched, err)
	}
	c.pump(a, b, d)
	if sendingIndex(t, a) != 0 {
		t.Fatalf("Alice uses key %d, want 0 until key 2's delay ends", sendingIndex(t, a))
	}
	if _, ok := d.k.PeerKey(a.mb, 2); ok {
		t.Fatal("Dave got key 2 after he left")
	}
	if _, ok := b.k.PeerKey(a.mb, 2); !ok {
		t.Fatal("Bob did not get key 2")
	}
	c.now = c.now.Add(matrixrtc.DefaultUseDelay)
	switched, err = a.k.Tick(c.ctx, c.now)
	if err != nil || !switched || sendingIndex(t, a) != 2 {
		t.Fatalf("after key 2's delay: switched %v, key %d, %v", switched, sendingIndex(t, a), err)
	}
	c.pump(a, b)
	c.wantNoErrors(a, b)
	c.wantKeys([]*participant{a, b}, []*participant{a, b})

	// A key older than the rotation period is replaced, and used after the delay.
	c.now = c.now.Add(matrixrtc.DefaultRotationPeriod)
	c.pump(a, b)
	c.now = c.now.Add(matrixrtc.DefaultUseDelay)
	c.pump(a, b)
	if sendingIndex(t, a) != 3 || sendingIndex(t, b) != 3 {
		t.Fatalf("after the rotation period: keys %d and %d, want 3 (both coalesced the two leaves)", sendingIndex(t, a), sendingIndex(t, b))
	}
	c.wantKeys([]*participant{a, b}, []*participant{a, b})
}
