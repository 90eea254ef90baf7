package megolm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Randomised state-safety property test for Megolm. Each schedule creates an outbound session, encrypts a run
// of messages and hands them, in random order and with repeats, to a
// changing set of inbound sessions: made from the signed session key at
// a random index, imported from exports at random indices (unverified),
// merged, advanced, and restored from pickles. Between deliveries it also
// sends tampered messages, messages signed by another key and messages
// with a valid signature but a MAC from another ratchet.
//
// Properties, on every step:
//   - an authentic message decrypts to its plaintext and its index iff
//     the index is not below the receiver's first known index (Megolm has
//     no replay protection of its own: a repeat decrypts again, and the
//     index it returns is what the caller's replay table needs);
//   - an authentic message below the first known index fails with
//     ErrUnknownIndex; a tampered or forged message fails;
//   - after any failure the session pickles (fixed nonce) to the same
//     bytes as before;
//   - a session imported from an export is never verified, whatever it
//     decrypts; only NewInboundSession or Merge with a verified copy make
//     one verified.

const megolmScheduleSeed = 0x5ec0_0208

type megolmReceiver struct {
	s        *InboundSession
	origin   string
	verified bool
}

type zeroNonce struct{}

func (zeroNonce) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func inboundPickle(t *testing.T, s *InboundSession) string {
	t.Helper()
	p, err := s.pickleFrom(zeroNonce{}, &testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type megolmStats struct {
	decrypted, repeats, unknownIndex, tampers, foreignSig, badMAC, imports, merges, advances, unpickles int
}

func runMegolmSchedule(t *testing.T, n int, st *megolmStats) {
	rng := rand.New(rand.NewPCG(megolmScheduleSeed, uint64(n)))
	var seed [32]byte
	copy(seed[:], fmt.Sprintf("megolm schedule %d", n))
	crand := rand.NewChaCha8(seed)
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("schedule %d: %s\nlast steps:\n  %s", n, fmt.Sprintf(format, args...),
			strings.Join(log[max(0, len(log)-10):], "\n  "))
	}

	out, err := NewOutboundSessionFrom(crand)
	if err != nil {
		t.Fatal(err)
	}
	// A second session with the same signing key but another ratchet:
	// its messages carry valid signatures and wrong MACs.
	other, err := NewOutboundSessionFrom(crand)
	if err != nil {
		t.Fatal(err)
	}
	sameKey := &OutboundSession{r: other.r, signing: out.signing}
	stranger, err := NewOutboundSessionFrom(crand)
	if err != nil {
		t.Fatal(err)
	}

	type sent struct {
		index     uint32
		body      []byte
		plaintext []byte
	}
	var msgs []sent
	var receivers []*megolmReceiver
	send := func(k int) {
		for range k {
			pt := fmt.Appendf(nil, "event %d of schedule %d", out.MessageIndex(), n)
			idx := out.MessageIndex()
			msgs = append(msgs, sent{idx, out.Encrypt(nil, pt), pt})
		}
	}
	addFromKey := func() {
		s, err := NewInboundSession(out.SessionKey())
		if err != nil {
			fail("NewInboundSession: %v", err)
		}
		receivers = append(receivers, &megolmReceiver{s, fmt.Sprintf("session key at %d", s.FirstKnownIndex()), true})
		log = append(log, "new receiver: "+receivers[len(receivers)-1].origin)
	}
	// mustFail checks that body fails on r and leaves it unchanged.
	mustFail := func(what string, r *megolmReceiver, body []byte, want error) {
		before := inboundPickle(t, r.s)
		pt, _, err := r.s.Decrypt(nil, body)
		if err == nil {
			fail("%s decrypted to %q on %s", what, pt, r.origin)
		}
		if want != nil && !errors.Is(err, want) {
			fail("%s on %s: %v, want %v", what, r.origin, err, want)
		}
		if inboundPickle(t, r.s) != before {
			fail("%s changed %s (%v)", what, r.origin, err)
		}
		if r.s.IsVerified() != r.verified {
			fail("%s changed the verification flag of %s", what, r.origin)
		}
	}

	send(rng.IntN(4))
	addFromKey()
	send(1 + rng.IntN(8))
	steps := 20 + rng.IntN(60)
	for range steps {
		r := receivers[rng.IntN(len(receivers))]
		switch a := rng.IntN(100); {
		case a < 15:
			send(1 + rng.IntN(5))
		case a < 50:
			m := msgs[rng.IntN(len(msgs))]
			log = append(log, fmt.Sprintf("deliver %d to %s (first known %d)", m.index, r.origin, r.s.FirstKnownIndex()))
			if m.index < r.s.FirstKnownIndex() {
				mustFail("message below the first known index", r, m.body, ErrUnknownIndex)
				st.unknownIndex++
				continue
			}
			pt, idx, err := r.s.Decrypt(nil, m.body)
			if err != nil {
				fail("authentic message %d failed on %s: %v", m.index, r.origin, err)
			}
			if idx != m.index || !bytes.Equal(pt, m.plaintext) {
				fail("message %d decrypted to (%d, %q)", m.index, idx, pt)
			}
			if r.s.IsVerified() != r.verified {
				fail("decryption changed the verification flag of %s", r.origin)
			}
			// Decrypt it again: same result (the caller's replay table,
			// keyed by the returned index, is what rejects a repeat).
			if pt2, idx2, err := r.s.Decrypt(nil, m.body); err != nil || idx2 != idx || !bytes.Equal(pt2, pt) {
				fail("repeat of message %d: %v", m.index, err)
			}
			st.decrypted++
			st.repeats++
		case a < 65:
			m := msgs[rng.IntN(len(msgs))]
			body := slices.Clone(m.body)
			switch rng.IntN(4) {
			case 0:
				body = body[:rng.IntN(len(body))]
			case 1:
				body = append(body, byte(rng.Uint32()))
			default:
				body[rng.IntN(len(body))] ^= 1 << rng.IntN(8)
			}
			log = append(log, fmt.Sprintf("tampered %d to %s", m.index, r.origin))
			mustFail("tampered message", r, body, nil)
			st.tampers++
		case a < 70:
			mustFail("message signed by another session", r, stranger.Encrypt(nil, []byte("forged")), ErrAuthentication)
			st.foreignSig++
		case a < 75:
			// Bring the impostor to an index the receiver knows.
			if idx := max(r.s.FirstKnownIndex(), out.MessageIndex()-1); sameKey.MessageIndex() < idx {
				sameKey.r.advanceTo(idx)
			}
			mustFail("validly signed message with another ratchet's MAC", r, sameKey.Encrypt(nil, []byte("forged")), ErrAuthentication)
			st.badMAC++
		case a < 83:
			// Import an export at a random index at or above the first known.
			span := max(out.MessageIndex()+3, r.s.FirstKnownIndex()+1) - r.s.FirstKnownIndex()
			at := r.s.FirstKnownIndex() + uint32(rng.IntN(int(span)))
			before := inboundPickle(t, r.s)
			k, err := r.s.Export(at)
			if err != nil {
				fail("Export(%d): %v", at, err)
			}
			if inboundPickle(t, r.s) != before {
				fail("Export changed the session")
			}
			s, err := ImportInboundSession(k)
			if err != nil {
				fail("import: %v", err)
			}
			if s.IsVerified() || s.FirstKnownIndex() != at {
				fail("imported session at %d: verified %v, first known %d", at, s.IsVerified(), s.FirstKnownIndex())
			}
			receivers = append(receivers, &megolmReceiver{s, fmt.Sprintf("import at %d", at), false})
			log = append(log, "new receiver: import at "+fmt.Sprint(at))
			st.imports++
		case a < 87:
			o := receivers[rng.IntN(len(receivers))]
			m, err := r.s.Merge(o.s)
			if err != nil {
				fail("merge of copies of one session: %v", err)
			}
			if m.FirstKnownIndex() != min(r.s.FirstKnownIndex(), o.s.FirstKnownIndex()) || m.IsVerified() != (r.verified || o.verified) {
				fail("merge of %s and %s: first known %d, verified %v", r.origin, o.origin, m.FirstKnownIndex(), m.IsVerified())
			}
			receivers = append(receivers, &megolmReceiver{m, "merge of " + r.origin + " and " + o.origin, m.IsVerified()})
			st.merges++
		case a < 90:
			to := r.s.FirstKnownIndex() + uint32(rng.IntN(4))
			r.s.AdvanceTo(to)
			if r.s.FirstKnownIndex() < to {
				fail("AdvanceTo(%d) left first known index %d", to, r.s.FirstKnownIndex())
			}
			log = append(log, fmt.Sprintf("advance %s to %d", r.origin, to))
			st.advances++
		case a < 95:
			s, err := UnpickleInboundSession(&testPickleKey, inboundPickle(t, r.s))
			if err != nil {
				fail("unpickle: %v", err)
			}
			if s.IsVerified() != r.verified || s.FirstKnownIndex() != r.s.FirstKnownIndex() {
				fail("unpickled copy differs")
			}
			receivers = append(receivers, &megolmReceiver{s, "unpickled " + r.origin, r.verified})
			st.unpickles++
		default:
			addFromKey()
		}
	}
}

func TestPropertyMegolmSchedules(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	var st megolmStats
	for i := range n {
		runMegolmSchedule(t, i, &st)
	}
	t.Logf("%+v", st)
	if testing.Short() {
		return
	}
	for name, v := range map[string]int{
		"decrypted": st.decrypted, "unknown index": st.unknownIndex, "tampers": st.tampers,
		"foreign signatures": st.foreignSig, "bad MACs": st.badMAC, "imports": st.imports,
		"merges": st.merges, "advances": st.advances, "unpickles": st.unpickles,
	} {
		if v < 50 {
			t.Errorf("only %d events of kind %q", v, name)
		}
	}
}
