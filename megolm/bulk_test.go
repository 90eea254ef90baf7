package megolm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// bulkFixture makes nSessions sessions with perSession messages each and
// returns their inbound sessions (at index 0) and a shuffled schedule that
// also holds duplicates, tampered messages, garbage and messages without a
// session.
func bulkFixture(t *testing.T, rng *rand.Rand, nSessions, perSession int) (ins []*InboundSession, msgs []BulkMessage) {
	t.Helper()
	for s := range nSessions {
		out, err := NewOutboundSessionFrom(bytes.NewReader(bytes.Repeat([]byte{byte(s + 1)}, randomSize+32)))
		if err != nil {
			t.Fatal(err)
		}
		in, err := NewInboundSession(out.SessionKey())
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
		for i := range perSession {
			m := out.Encrypt(nil, fmt.Appendf(nil, "session %d message %d", s, i))
			msgs = append(msgs, BulkMessage{in, m})
			switch rng.IntN(8) {
			case 0: // a duplicate
				msgs = append(msgs, BulkMessage{in, m})
			case 1: // tampered
				bad := bytes.Clone(m)
				bad[rng.IntN(len(bad))] ^= 1 << rng.IntN(8)
				msgs = append(msgs, BulkMessage{in, bad})
			case 2: // garbage and a message without a session
				msgs = append(msgs, BulkMessage{in, []byte("not a message")}, BulkMessage{nil, m})
			}
		}
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	return ins, msgs
}

// TestDecryptAllEqualsSequential: for any schedule and any number of
// workers, DecryptAll returns what Decrypt returns message by message in
// input order, and leaves every session in the same state.
func TestDecryptAllEqualsSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 6 {
		ins, msgs := bulkFixture(t, rng, 1+round*3, 20)
		// The sequential reference runs on clones.
		clones := make(map[*InboundSession]*InboundSession)
		for _, in := range ins {
			clones[in] = in.Clone()
		}
		want := make([]BulkResult, len(msgs))
		for i, m := range msgs {
			if m.Session == nil {
				want[i].Err = errNoSession
				continue
			}
			want[i].Plaintext, want[i].Index, want[i].Err = clones[m.Session].Decrypt(nil, m.Message)
		}
		for _, workers := range []int{0, 1, 2, 7} {
			// Each run starts from fresh clones of the original sessions.
			fresh := make(map[*InboundSession]*InboundSession)
			run := make([]BulkMessage, len(msgs))
			for i, m := range msgs {
				run[i] = m
				if m.Session != nil {
					if fresh[m.Session] == nil {
						fresh[m.Session] = m.Session.Clone()
					}
					run[i].Session = fresh[m.Session]
				}
			}
			got := decryptAll(context.Background(), run, workers)
			if len(got) != len(want) {
				t.Fatalf("%d results for %d messages", len(got), len(want))
			}
			ok := 0
			for i := range want {
				g, w := got[i], want[i]
				if !bytes.Equal(g.Plaintext, w.Plaintext) || g.Index != w.Index || fmt.Sprint(g.Err) != fmt.Sprint(w.Err) {
					t.Fatalf("round %d, %d workers, message %d: got (%q, %d, %v), want (%q, %d, %v)",
						round, workers, i, g.Plaintext, g.Index, g.Err, w.Plaintext, w.Index, w.Err)
				}
				if g.Err == nil {
					ok++
				}
			}
			if ok == 0 {
				t.Fatal("no message decrypted: the test compares only failures")
			}
			for orig, f := range fresh {
				if !sameState(f, clones[orig]) {
					t.Fatalf("round %d, %d workers: a session ended in another state than sequential decryption left it", round, workers)
				}
			}
		}
	}
}

func TestDecryptAllCancelled(t *testing.T) {
	ins, msgs := bulkFixture(t, rand.New(rand.NewPCG(1, 1)), 3, 5)
	before := ins[0].Clone()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, r := range DecryptAll(ctx, msgs) {
		if msgs[i].Session == nil {
			if !errors.Is(r.Err, errNoSession) {
				t.Fatalf("message %d without a session: %v", i, r.Err)
			}
			continue
		}
		if !errors.Is(r.Err, context.Canceled) || r.Plaintext != nil {
			t.Fatalf("message %d after cancel: %q, %v", i, r.Plaintext, r.Err)
		}
	}
	if !sameState(ins[0], before) {
		t.Fatal("a cancelled DecryptAll moved a session")
	}
	if got := DecryptAll(context.Background(), nil); len(got) != 0 {
		t.Fatalf("%d results for no messages", len(got))
	}
}
