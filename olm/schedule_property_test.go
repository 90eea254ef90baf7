package olm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/key"
)

// Randomised state-safety property test for Olm. Each schedule sets up Alice and Bob, then runs a random
// sequence of actions: either side sends (so ratchet steps interleave with
// messages in flight), a message in flight is delivered (in any order),
// dropped, delivered again (replay), delivered tampered (a flipped bit,
// truncation or trailing bytes) or a forged pre-key message reaches Bob's
// account or session. At the end everything still in flight is delivered
// in random order.
//
// A model of the receiving ratchet (libolm's and vodozemac's limits: at
// most 5 receiver chains, newest first; at most 40 skipped keys per chain,
// oldest dropped first; a message on a chain evicted or superseded is
// lost) predicts, for every authentic delivery, whether it must decrypt.
// The properties checked on every step:
//   - an authentic message the model accepts decrypts, to its own
//     plaintext, exactly once; one the model rejects fails;
//   - a replayed, tampered or forged message fails;
//   - after any failure the session (and Bob's account) pickles to the
//     same bytes as before;
//   - a forged or tampered pre-key message never consumes a one-time key,
//     and a replayed one never creates a second session.

// olmScheduleSeed fixes the generator: a failure names the schedule, and
// rerunning reproduces it exactly.
const olmScheduleSeed = 0x5ec0_0108

type schedMsg struct {
	from      int // 0 Alice, 1 Bob
	chain     int // ordinal of the sender's ratchet key (0 = Alice's T0)
	index     uint32
	enc       EncryptedMessage
	inner     int // offset of the inner normal message in enc.Body
	plaintext []byte
	delivered bool
	dropped   bool
	held      bool // delivered only at the end of the schedule
}

// chainModel is the model of one receiver chain.
type chainModel struct {
	chain   int
	next    uint32
	skipped []uint32 // oldest first
}

// receiverModel models one side's receiving ratchet.
type receiverModel struct {
	chains   []chainModel // newest first
	newest   int          // newest chain opened, -1 if none
	evicted  int          // chains evicted so far
	overflow int          // skipped keys dropped or never stored (limit reached)
}

// deliver predicts whether (chain, index) decrypts and, if so, updates
// the model as the ratchet would.
func (r *receiverModel) deliver(chain int, index uint32) bool {
	for i := range r.chains {
		c := &r.chains[i]
		if c.chain != chain {
			continue
		}
		if index < c.next {
			j := slices.Index(c.skipped, index)
			if j < 0 {
				return false
			}
			c.skipped = slices.Delete(c.skipped, j, j+1)
			return true
		}
		if index-c.next > ratchet.MaxMessageGap {
			return false
		}
		var lost int
		c.skipped, lost = addSkipped(c.skipped, skippedRange(c.next, index))
		r.overflow += lost + int(index-c.next) - min(int(index-c.next), ratchet.MaxSkippedKeys)
		c.next = index + 1
		return true
	}
	if chain < r.newest || index > ratchet.MaxMessageGap {
		return false // superseded or evicted chain: the keys are gone
	}
	nc := chainModel{chain: chain, next: index + 1, skipped: skippedRange(0, index)}
	r.overflow += int(index) - len(nc.skipped)
	r.chains = slices.Insert(r.chains, 0, nc)
	if len(r.chains) > ratchet.MaxReceiverChains {
		r.chains = r.chains[:ratchet.MaxReceiverChains]
		r.evicted++
	}
	r.newest = chain
	return true
}

// skippedRange is the newest MaxSkippedKeys indices of [from, to).
func skippedRange(from, to uint32) []uint32 {
	if to-from > ratchet.MaxSkippedKeys {
		from = to - ratchet.MaxSkippedKeys
	}
	var s []uint32
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// addSkipped appends add to old, dropping the oldest beyond the limit,
// and returns how many it dropped.
func addSkipped(old, add []uint32) ([]uint32, int) {
	drop := max(0, len(old)+len(add)-ratchet.MaxSkippedKeys)
	return append(slices.Clone(old[drop:]), add...), drop
}

type scheduleStats struct {
	schedules, sent, decrypted, modelRejected, replays, tampers, forgeries, drops int
	chainEvictions, skippedOverflow, restores                                     int
}

type olmSchedule struct {
	t     *testing.T
	rng   *rand.Rand
	crand *rand.ChaCha8
	log   []string
	stats *scheduleStats

	alice, bob   *Account
	otks         []key.Curve25519
	as, bs       *Session
	fallback     bool             // Alice used Bob's fallback key
	model        [2]receiverModel // [0] Alice receiving, [1] Bob receiving
	chainKeys    [2][]key.Curve25519
	msgs         []*schedMsg
	nextPlaintxt int
}

func (s *olmSchedule) fail(format string, args ...any) {
	s.t.Helper()
	tail := s.log[max(0, len(s.log)-12):]
	s.t.Fatalf("%s\nlast steps:\n  %s", fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

func (s *olmSchedule) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf(format, args...))
}

// snapshot is the state a failure must not change: both sessions and
// Bob's account, as pickle plaintexts (the bytes Pickle seals).
func (s *olmSchedule) snapshot() []byte {
	var b []byte
	b = s.bob.appendState(b)
	b = append(b, 0xff)
	if s.as != nil {
		b = s.as.appendState(b)
	}
	b = append(b, 0xff)
	if s.bs != nil {
		b = s.bs.appendState(b)
	}
	return b
}

func (s *olmSchedule) send(from int) {
	sess := s.as
	if from == 1 {
		sess = s.bs
	}
	if sess == nil {
		return // Bob has no session until a pre-key message reached him
	}
	s.nextPlaintxt++
	pt := fmt.Appendf(nil, "m%d from %d", s.nextPlaintxt, from)
	enc, err := sess.EncryptFrom(s.crand, nil, pt)
	if err != nil {
		s.fail("encrypt: %v", err)
	}
	m := &schedMsg{from: from, enc: enc, plaintext: pt}
	var inner *Message
	if enc.Type == TypePreKey {
		pk, err := ParsePreKeyMessage(enc.Body)
		if err != nil {
			s.fail("own pre-key message does not parse: %v", err)
		}
		inner = pk.Message
	} else if inner, err = ParseMessage(enc.Body); err != nil {
		s.fail("own message does not parse: %v", err)
	}
	m.inner = len(enc.Body) - len(inner.raw)
	m.index = inner.Index
	m.chain = slices.Index(s.chainKeys[from], inner.RatchetKey)
	if m.chain < 0 {
		m.chain = len(s.chainKeys[from])
		s.chainKeys[from] = append(s.chainKeys[from], inner.RatchetKey)
	}
	// Ordinals per sender interleave: Alice's chains are 0, 2, 4, ...
	// and Bob's 1, 3, 5, ... in the order the ratchet creates them.
	m.chain = 2*m.chain + from
	s.msgs = append(s.msgs, m)
	s.stats.sent++
	s.logf("send %d: chain %d index %d type %d", from, m.chain, m.index, enc.Type)
}

// receive delivers enc to the other side of its sender and returns the
// plaintext or the error; it creates Bob's session from his first
// pre-key message.
func (s *olmSchedule) receive(from int, enc EncryptedMessage) ([]byte, error) {
	if from == 1 {
		return s.as.Decrypt(nil, enc)
	}
	if s.bs != nil {
		return s.bs.Decrypt(nil, enc)
	}
	if enc.Type != TypePreKey {
		return nil, errors.New("test: no session for a normal message")
	}
	pk, err := ParsePreKeyMessage(enc.Body)
	if err != nil {
		return nil, err
	}
	sess, pt, err := s.bob.NewInboundSession(pk, nil)
	if err != nil {
		return nil, err
	}
	s.bs = sess
	// Bob's ratchet starts with Alice's first chain open at index 0.
	s.model[1] = receiverModel{chains: []chainModel{{chain: 0}}, newest: 0}
	return pt, nil
}

// mustFail delivers a message that must not decrypt and checks that
// nothing changed.
func (s *olmSchedule) mustFail(what string, from int, enc EncryptedMessage) {
	before := s.snapshot()
	otks := s.bob.StoredOneTimeKeys()
	hadSession := s.bs != nil
	pt, err := s.receive(from, enc)
	if err == nil {
		s.fail("%s decrypted to %q", what, pt)
	}
	if !hadSession && s.bs != nil {
		s.fail("%s created a session", what)
	}
	if s.bob.StoredOneTimeKeys() != otks {
		s.fail("%s consumed a one-time key (%v)", what, err)
	}
	if !bytes.Equal(s.snapshot(), before) {
		s.fail("%s changed the state (%v)", what, err)
	}
}

func (s *olmSchedule) deliver(m *schedMsg) {
	if m.delivered {
		s.stats.replays++
		s.logf("replay %d: chain %d index %d", m.from, m.chain, m.index)
		s.mustFail("replayed message", m.from, m.enc)
		if m.enc.Type == TypePreKey {
			// Straight to the account, as a client without the session
			// stored would: the one-time key is gone.
			pk, _ := ParsePreKeyMessage(m.enc.Body)
			before := s.bob.appendState(nil)
			dup, _, err := s.bob.NewInboundSession(pk, nil)
			switch {
			case s.fallback:
				// Use does not remove a fallback key, so the account
				// accepts the replay (as libolm and vodozemac do); the
				// caller's routing catches it: the message matches the
				// session it already has, with the same id.
				if err != nil || dup.ID() != s.bs.ID() || !s.bs.Matches(pk, nil) {
					s.fail("replayed fallback pre-key message: %v", err)
				}
			case !errors.Is(err, ErrUnknownOneTimeKey):
				s.fail("replayed pre-key message to the account: %v, want ErrUnknownOneTimeKey", err)
			}
			if !bytes.Equal(s.bob.appendState(nil), before) {
				s.fail("replayed pre-key message changed the account")
			}
		}
		return
	}
	recv := 1 - m.from
	hadSession := s.bs != nil
	var want bool
	if recv == 1 && !hadSession {
		want = m.enc.Type == TypePreKey
	} else {
		// Predict on a copy: the model commits only if decryption does.
		model := s.model[recv]
		model.chains = slices.Clone(model.chains)
		for i := range model.chains {
			model.chains[i].skipped = slices.Clone(model.chains[i].skipped)
		}
		want = model.deliver(m.chain, m.index)
		if want {
			s.model[recv] = model
		}
	}
	s.logf("deliver %d: chain %d index %d (model: %v)", m.from, m.chain, m.index, want)
	if !want {
		s.stats.modelRejected++
		s.mustFail("message the model rejects", m.from, m.enc)
		m.delivered = true
		return
	}
	pt, err := s.receive(m.from, m.enc)
	if err != nil {
		s.fail("authentic message (chain %d, index %d) failed: %v", m.chain, m.index, err)
	}
	if !bytes.Equal(pt, m.plaintext) {
		s.fail("decrypted %q, sent %q", pt, m.plaintext)
	}
	if recv == 1 && !hadSession {
		s.model[1].deliver(m.chain, m.index)
	}
	m.delivered = true
	s.stats.decrypted++
}

// tamper returns a modified copy of m's body: a flipped bit, a truncation
// or trailing bytes. Pre-key messages are changed inside the inner message
// (the outer keys select the session; Session.Decrypt, like libolm's
// olm_decrypt, leaves matching them to the caller).
func (s *olmSchedule) tamper(m *schedMsg) EncryptedMessage {
	body := slices.Clone(m.enc.Body)
	switch s.rng.IntN(5) {
	case 0:
		body = body[:m.inner+s.rng.IntN(len(body)-m.inner)]
	case 1:
		body = append(body, byte(s.rng.Uint32()))
	default:
		i := m.inner + s.rng.IntN(len(body)-m.inner)
		body[i] ^= 1 << s.rng.IntN(8)
	}
	return EncryptedMessage{Type: m.enc.Type, Body: body}
}

// forge builds a pre-key message that names one of Bob's one-time keys
// (used or not) with a random base key, identity key and inner message.
func (s *olmSchedule) forge() EncryptedMessage {
	var otk, base, identity, rk key.Curve25519
	otk = s.otks[s.rng.IntN(len(s.otks))]
	s.crand.Read(base[:])
	s.crand.Read(rk[:])
	identity = s.alice.Curve25519()
	if s.rng.IntN(2) == 0 {
		s.crand.Read(identity[:])
	}
	base[31] &= 0x7f // canonical encodings: the forgery must get past parsing
	identity[31] &= 0x7f
	ct := make([]byte, 16*(1+s.rng.IntN(3)))
	s.crand.Read(ct)
	index := uint32(s.rng.IntN(5))
	inner := appendMessageHeader(nil, &rk, index, len(ct))
	inner = append(inner, ct...)
	var mac [macSize]byte
	s.crand.Read(mac[:])
	inner = append(inner, mac[:]...)
	body := appendPreKeyHeader(nil, &otk, &base, &identity, len(inner))
	return EncryptedMessage{Type: TypePreKey, Body: append(body, inner...)}
}

// restore replaces both sessions and Bob's account by copies restored
// from their pickles (sicher's format, fixed nonce), as a client that
// stores state after every message and restarts would have: the schedule
// must go on exactly as before.
func (s *olmSchedule) restore() {
	s.stats.restores++
	s.logf("restore from pickles")
	key := &[PickleKeySize]byte{9}
	before := s.snapshot()
	p, err := s.bob.pickleFrom(zeroReader{}, key)
	if err == nil {
		s.bob, err = UnpickleAccount(key, p)
	}
	for _, sess := range []**Session{&s.as, &s.bs} {
		if err != nil || *sess == nil {
			continue
		}
		if p, err = (*sess).pickleFrom(zeroReader{}, key); err == nil {
			*sess, err = UnpickleSession(key, p)
		}
	}
	if err != nil {
		s.fail("restore: %v", err)
	}
	if !bytes.Equal(s.snapshot(), before) {
		s.fail("restored state differs")
	}
}

func (s *olmSchedule) pending() []*schedMsg {
	var p []*schedMsg
	for _, m := range s.msgs {
		if !m.delivered && !m.dropped {
			p = append(p, m)
		}
	}
	return p
}

func runOlmSchedule(t *testing.T, n int, stats *scheduleStats) {
	var seed [32]byte
	copy(seed[:], fmt.Sprintf("olm schedule %d", n))
	s := &olmSchedule{
		t:     t,
		rng:   rand.New(rand.NewPCG(olmScheduleSeed, uint64(n))),
		crand: rand.NewChaCha8(seed),
		stats: stats,
		model: [2]receiverModel{{newest: -1}, {newest: -1}},
	}
	s.logf("schedule %d", n)
	var err error
	if s.alice, err = NewAccountFrom(s.crand); err != nil {
		t.Fatal(err)
	}
	if s.bob, err = NewAccountFrom(s.crand); err != nil {
		t.Fatal(err)
	}
	created, _, err := s.bob.GenerateOneTimeKeysFrom(s.crand, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range created {
		s.otks = append(s.otks, k.Key)
	}
	target := s.otks[0]
	if s.fallback = s.rng.IntN(8) == 0; s.fallback {
		if _, err := s.bob.GenerateFallbackKeyFrom(s.crand); err != nil {
			t.Fatal(err)
		}
		fb, _ := s.bob.FallbackKey()
		target = fb.Key
		s.otks = append(s.otks, target)
	}
	if s.as, err = s.alice.NewOutboundSessionFrom(s.crand, s.bob.Curve25519(), target); err != nil {
		t.Fatal(err)
	}
	// Most schedules are short and busy; some send long bursts (beyond
	// the 40 skipped keys), some switch direction often (beyond 5
	// receiver chains) while holding messages back.
	steps := 10 + s.rng.IntN(40)
	mode := s.rng.IntN(10)
	burst, pingpong := mode == 0, mode == 1
	for step := range steps {
		pend := s.pending()
		if pingpong {
			from := step % 2
			for range 1 + s.rng.IntN(2) {
				s.send(from)
				if n := len(s.msgs); n > 0 && s.rng.IntN(6) == 0 {
					s.msgs[n-1].held = true
				}
			}
			for _, m := range s.pending() {
				if m.from == from && !m.held {
					s.deliver(m)
				}
			}
			continue
		}
		switch r := s.rng.IntN(100); {
		case r < 35 || len(pend) == 0 && r < 70:
			from := s.rng.IntN(2)
			k := 1
			if burst && s.rng.IntN(4) == 0 {
				k = 20 + s.rng.IntN(40)
			}
			for range k {
				s.send(from)
			}
		case r < 70:
			s.deliver(pend[s.rng.IntN(len(pend))])
		case r < 78:
			if len(pend) > 0 {
				m := pend[s.rng.IntN(len(pend))]
				m.dropped = true
				s.stats.drops++
				s.logf("drop %d: chain %d index %d", m.from, m.chain, m.index)
			}
		case r < 85:
			var done []*schedMsg
			for _, m := range s.msgs {
				if m.delivered {
					done = append(done, m)
				}
			}
			if len(done) > 0 {
				s.deliver(done[s.rng.IntN(len(done))])
			}
		case r < 95:
			if len(s.msgs) > 0 {
				m := s.msgs[s.rng.IntN(len(s.msgs))]
				if m.from == 1 && s.bs == nil {
					break
				}
				s.stats.tampers++
				s.logf("tamper %d: chain %d index %d", m.from, m.chain, m.index)
				s.mustFail("tampered message", m.from, s.tamper(m))
			}
		case r >= 98:
			s.restore()
		default:
			s.stats.forgeries++
			f := s.forge()
			s.logf("forged pre-key message")
			s.mustFail("forged pre-key message", 0, f)
			if s.bs != nil {
				// Also straight to the account.
				pk, err := ParsePreKeyMessage(f.Body)
				if err != nil {
					s.fail("forged message does not parse: %v", err)
				}
				before := s.bob.appendState(nil)
				if _, _, err := s.bob.NewInboundSession(pk, nil); err == nil {
					s.fail("forged pre-key message made a session")
				}
				if !bytes.Equal(s.bob.appendState(nil), before) {
					s.fail("forged pre-key message changed the account")
				}
			}
		}
	}
	pend := s.pending()
	s.rng.Shuffle(len(pend), func(i, j int) { pend[i], pend[j] = pend[j], pend[i] })
	for _, m := range pend {
		s.deliver(m)
	}
	stats.chainEvictions += s.model[0].evicted + s.model[1].evicted
	stats.skippedOverflow += s.model[0].overflow + s.model[1].overflow
	stats.schedules++
}

func TestPropertyOlmSchedules(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	var stats scheduleStats
	for i := range n {
		runOlmSchedule(t, i, &stats)
	}
	t.Logf("%+v", stats)
	// The generator must reach every behaviour it claims to test.
	if testing.Short() {
		return
	}
	for name, v := range map[string]int{
		"decrypted": stats.decrypted, "rejected by the model": stats.modelRejected,
		"replays": stats.replays, "tampers": stats.tampers, "forgeries": stats.forgeries,
		"drops": stats.drops, "chain evictions": stats.chainEvictions,
		"skipped keys over the limit": stats.skippedOverflow, "restores": stats.restores,
	} {
		if v < 10 {
			t.Errorf("only %d events of kind %q", v, name)
		}
	}
}
