package olm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/key"
)

func TestKeyIDsAndListing(t *testing.T) {
	rand := &streamReader{seed: 10}
	a, err := NewAccountFrom(rand)
	if err != nil {
		t.Fatal(err)
	}
	created, evicted, err := a.GenerateOneTimeKeysFrom(rand, 3)
	if err != nil || len(evicted) != 0 {
		t.Fatal(err)
	}
	for i, k := range created {
		if k.ID != key.KeyID(i+1) {
			t.Errorf("key %d has id %d", i, k.ID)
		}
	}
	if created[0].ID.String() != "AAAAAQ" {
		t.Errorf("first key id %s, want AAAAAQ", created[0].ID)
	}
	dropped, err := a.GenerateFallbackKeyFrom(rand)
	if err != nil || dropped != nil {
		t.Fatal(err)
	}
	fb, ok := a.UnpublishedFallbackKey()
	if !ok || fb.ID != 4 {
		t.Fatalf("fallback key id %d, want 4 (shared counter)", fb.ID)
	}
	more, _, _ := a.GenerateOneTimeKeysFrom(rand, 1)
	if more[0].ID != 5 {
		t.Fatalf("next one-time key id %d, want 5", more[0].ID)
	}
	if got := a.OneTimeKeys(); len(got) != 4 || got[0] != created[0] || got[3] != more[0] {
		t.Fatalf("OneTimeKeys = %v", got)
	}
	if n := a.MarkKeysAsPublished(); n != 4 {
		t.Errorf("MarkKeysAsPublished marked %d", n)
	}
	if len(a.OneTimeKeys()) != 0 || a.StoredOneTimeKeys() != 4 {
		t.Error("published keys still listed or removed")
	}
	if _, ok := a.UnpublishedFallbackKey(); ok {
		t.Error("published fallback key still listed")
	}
}

func TestSign(t *testing.T) {
	a, _ := NewAccountFrom(newMockRandom('A', 0))
	msg := []byte("Hello, World")
	sig := a.Sign(msg)
	if err := a.Ed25519().Verify(msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := a.Ed25519().Verify([]byte("other"), sig); err == nil {
		t.Fatal("signature verifies another message")
	}
	// Signing from libolm's expanded key gives the same signature.
	b, err := UnpickleLibolmAccount(nil, a.PickleLibolm(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.signing.Seed(); ok {
		t.Fatal("libolm import kept a seed")
	}
	if b.Sign(msg) != sig {
		t.Fatal("expanded-key signature differs")
	}
}

func TestOneTimeKeyEviction(t *testing.T) {
	rand := &streamReader{seed: 11}
	a, _ := NewAccountFrom(rand)
	if _, _, err := a.GenerateOneTimeKeysFrom(rand, MaxOneTimeKeys-10); err != nil {
		t.Fatal(err)
	}
	created, evicted, err := a.GenerateOneTimeKeysFrom(rand, 25)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 25 || len(evicted) != 15 {
		t.Fatalf("%d created, %d evicted", len(created), len(evicted))
	}
	for i, k := range evicted {
		if k.ID != key.KeyID(i+1) {
			t.Fatalf("evicted key %d has id %d, want the lowest ids", i, k.ID)
		}
	}
	if a.StoredOneTimeKeys() != MaxOneTimeKeys || a.OneTimeKeys()[0].ID != 16 {
		t.Fatal("wrong keys kept")
	}
	for _, n := range []int{-1, MaxOneTimeKeys + 1} {
		if _, _, err := a.GenerateOneTimeKeysFrom(rand, n); err == nil {
			t.Errorf("n = %d: %v", n, err)
		}
	}
}

func TestFailedRandomnessLeavesAccountUnchanged(t *testing.T) {
	rand := &streamReader{seed: 12}
	a, _ := NewAccountFrom(rand)
	a.GenerateOneTimeKeysFrom(rand, 2)
	before := pickledAccount(t, a)
	if _, _, err := a.GenerateOneTimeKeysFrom(failReader{}, 3); err == nil {
		t.Fatal("no error")
	}
	if _, err := a.GenerateFallbackKeyFrom(failReader{}); err == nil {
		t.Fatal("no error")
	}
	if _, err := a.NewOutboundSessionFrom(failReader{}, a.Curve25519(), a.Curve25519()); err == nil {
		t.Fatal("no error")
	}
	if pickledAccount(t, a) != before {
		t.Fatal("account changed")
	}
	if _, err := NewAccountFrom(failReader{}); err == nil {
		t.Fatal("NewAccountFrom without randomness")
	}
}

// TestFallbackKeyFlows: sessions from a fallback key do not consume it;
// after a rotation the previous key still works until forgotten.
func TestFallbackKeyFlows(t *testing.T) {
	rand := &streamReader{seed: 13}
	alice, _ := NewAccountFrom(rand)
	bob, _ := NewAccountFrom(rand)
	bob.GenerateFallbackKeyFrom(rand)
	fb1, _ := bob.UnpublishedFallbackKey()
	bob.MarkKeysAsPublished()

	inbound := func(fallback key.Curve25519, text string) (*Session, error) {
		t.Helper()
		s, err := alice.NewOutboundSessionFrom(rand, bob.Curve25519(), fallback)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := s.EncryptFrom(rand, nil, []byte(text))
		pk, _ := ParsePreKeyMessage(m.Body)
		bs, pt, err := bob.NewInboundSession(pk, nil)
		if err == nil && string(pt) != text {
			t.Fatalf("plaintext %q", pt)
		}
		return bs, err
	}
	for i := range 2 {
		if _, err := inbound(fb1.Key, "via fallback"); err != nil {
			t.Fatalf("use %d of the fallback key: %v", i, err)
		}
	}
	if k, ok := bob.FallbackKey(); !ok || k != fb1 {
		t.Fatal("fallback key removed by use")
	}
	s, _ := inbound(fb1.Key, "again")
	if err := bob.RemoveOneTimeKeys(s); err != nil {
		t.Fatalf("RemoveOneTimeKeys of a fallback key: %v", err)
	}
	if _, ok := bob.FallbackKey(); !ok {
		t.Fatal("RemoveOneTimeKeys removed the fallback key")
	}

	dropped, _ := bob.GenerateFallbackKeyFrom(rand) // fb1 becomes the previous key
	if dropped != nil {
		t.Fatalf("dropped %v", dropped)
	}
	fb2, ok := bob.UnpublishedFallbackKey()
	if !ok || fb2.ID != fb1.ID+1 {
		t.Fatal("new fallback key")
	}
	if _, err := inbound(fb1.Key, "previous"); err != nil {
		t.Fatalf("previous fallback key: %v", err)
	}
	if _, err := inbound(fb2.Key, "current"); err != nil {
		t.Fatalf("current fallback key: %v", err)
	}
	if !bob.ForgetOldFallbackKey() || bob.ForgetOldFallbackKey() {
		t.Fatal("ForgetOldFallbackKey")
	}
	if _, err := inbound(fb1.Key, "forgotten"); !errors.Is(err, ErrUnknownOneTimeKey) {
		t.Fatalf("forgotten fallback key: %v", err)
	}
	bob.GenerateFallbackKeyFrom(rand)
	dropped, _ = bob.GenerateFallbackKeyFrom(rand)
	if dropped == nil || *dropped != fb2 {
		t.Fatalf("the second rotation drops fb2, got %v", dropped)
	}
}

func TestAccountPickle(t *testing.T) {
	rand := &streamReader{seed: 14}
	a, _ := NewAccountFrom(rand)
	a.GenerateOneTimeKeysFrom(rand, 7)
	a.MarkKeysAsPublished()
	a.GenerateOneTimeKeysFrom(rand, 2)
	a.GenerateFallbackKeyFrom(rand)
	a.GenerateFallbackKeyFrom(rand)
	p, err := a.Pickle(testPickleKey)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := a.Pickle(testPickleKey)
	if p == p2 {
		t.Fatal("two pickles share a nonce")
	}
	b, err := UnpickleAccount(testPickleKey, p)
	if err != nil {
		t.Fatal(err)
	}
	if pickledAccount(t, b) != pickledAccount(t, a) {
		t.Fatal("round trip changed the account")
	}
	wrong := &[PickleKeySize]byte{9}
	if _, err := UnpickleAccount(wrong, p); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := UnpickleSession(testPickleKey, p); !errors.Is(err, ErrBadPickle) {
		t.Fatalf("account pickle opened as a session: %v", err)
	}
	// The plaintext parser rejects every strict prefix and trailing data.
	st := a.appendState(nil)
	for n := range len(st) {
		if _, err := parseAccountState(st[:n]); !errors.Is(err, ErrBadPickle) {
			t.Fatalf("prefix %d: %v", n, err)
		}
	}
	if _, err := parseAccountState(append(st, 0)); !errors.Is(err, ErrBadPickle) {
		t.Fatal("trailing byte accepted")
	}
	// An account imported from libolm (expanded Ed25519 key) pickles too.
	c, _ := UnpickleLibolmAccount(nil, a.PickleLibolm(nil))
	d, err := UnpickleAccount(testPickleKey, pickledAccount(t, c))
	if err != nil || d.Sign([]byte("m")) != a.Sign([]byte("m")) {
		t.Fatalf("expanded-key account: %v", err)
	}
	// libolm export keeps the newest 100 one-time keys.
	a.GenerateOneTimeKeysFrom(rand, 150)
	e, _ := UnpickleLibolmAccount(nil, a.PickleLibolm(nil))
	if e.StoredOneTimeKeys() != 100 || e.otks[99].id != a.otks[len(a.otks)-1].id || e.lastID != a.lastID {
		t.Fatal("libolm export of many keys")
	}
}

func TestSessionPickle(t *testing.T) {
	d := newDuo(t)
	d.recv(d.as, d.send(d.bs, "reply"), "reply")
	held := d.send(d.as, "held")
	d.send(d.as, "dropped")
	for _, s := range []*Session{d.as, d.bs} {
		p, err := s.Pickle(testPickleKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := UnpickleSession(testPickleKey, p)
		if err != nil {
			t.Fatal(err)
		}
		if pickled(t, c) != pickled(t, s) || c.ID() != s.ID() || c.describe() != s.describe() {
			t.Fatal("round trip changed the session")
		}
		l, err := UnpickleLibolmSession([]byte("k"), s.PickleLibolm([]byte("k")))
		if err == nil {
			err = l.BindPeer(s.aliceIdentity, s.peer)
		}
		if err != nil || pickled(t, l) != pickled(t, s) {
			t.Fatalf("libolm round trip: %v", err)
		}
		if _, err := UnpickleAccount(testPickleKey, p); !errors.Is(err, ErrBadPickle) {
			t.Fatalf("session pickle opened as an account: %v", err)
		}
	}
	c := clone(t, d.bs)
	d.recv(c, d.send(d.as, "after"), "after")
	d.recv(c, held, "held")
	for _, bad := range []string{"", "!!!", "AAAA"} {
		if _, err := UnpickleSession(testPickleKey, bad); !errors.Is(err, ErrBadPickle) {
			t.Errorf("%q: %v", bad, err)
		}
		if _, err := UnpickleLibolmSession(nil, bad); !errors.Is(err, ErrBadPickle) {
			t.Errorf("libolm %q: %v", bad, err)
		}
		if _, err := UnpickleLibolmAccount(nil, bad); !errors.Is(err, ErrBadPickle) {
			t.Errorf("libolm account %q: %v", bad, err)
		}
	}
}

func TestKeyIDExhaustion(t *testing.T) {
	rand := &streamReader{seed: 15}
	a, _ := NewAccountFrom(rand)
	a.lastID = 1<<32 - 2
	if _, _, err := a.GenerateOneTimeKeysFrom(rand, 2); err == nil {
		t.Fatalf("ids past 2^32-1: %v", err)
	}
	created, _, err := a.GenerateOneTimeKeysFrom(rand, 1)
	if err != nil || created[0].ID != 1<<32-1 {
		t.Fatalf("last id: %v", err)
	}
	before := pickledAccount(t, a)
	if _, err := a.GenerateFallbackKeyFrom(rand); err == nil {
		t.Fatalf("fallback key past the last id: %v", err)
	}
	if pickledAccount(t, a) != before {
		t.Fatal("failed generation changed the account")
	}
}

// TestAccountPickleVersions: version 1 of the own account format (no
// public keys stored) still loads, to the same account, in both Ed25519
// forms; version 2 checks the stored public keys when it loads.
func TestAccountPickleVersions(t *testing.T) {
	rand := &streamReader{seed: 15}
	seedForm, _ := NewAccountFrom(rand)
	seedForm.GenerateOneTimeKeysFrom(rand, 3)
	expandedForm, err := UnpickleLibolmAccount(nil, seedForm.PickleLibolm(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Account{seedForm, expandedForm} {
		v2 := a.appendState(nil)
		keyLen := key.SigningKeySeedSize
		if v2[1] == ed25519Expanded {
			keyLen = key.ExpandedSigningKeySize
		}
		if v2[0] != 2 {
			t.Fatalf("version %d written", v2[0])
		}
		// v1 = v2 without the two public keys.
		edPubAt := 2 + keyLen
		curvePubAt := edPubAt + 32 + 32
		var v1 []byte
		v1 = append(v1, 1)
		v1 = append(v1, v2[1:edPubAt]...)
		v1 = append(v1, v2[edPubAt+32:curvePubAt]...)
		v1 = append(v1, v2[curvePubAt+32:]...)
		for _, pt := range [][]byte{v1, v2} {
			b, err := parseAccountState(bytes.Clone(pt))
			if err != nil {
				t.Fatalf("version %d: %v", pt[0], err)
			}
			if pickledAccount(t, b) != pickledAccount(t, a) || b.Sign([]byte("m")) != a.Sign([]byte("m")) {
				t.Fatalf("version %d: another account", pt[0])
			}
			seed, ok := b.signing.Seed()
			want, wantOK := a.signing.Seed()
			if ok != wantOK || !bytes.Equal(seed, want) {
				t.Fatalf("version %d: seed %x %v, want %x %v", pt[0], seed, ok, want, wantOK)
			}
		}
		// Version 2's public keys are taken as stored: the pickle
		// authenticated and sicher wrote them. Signing never hashes a
		// stored public key (TestMismatchedIdentityKeyRefused).
		b, err := parseAccountState(bytes.Clone(v2))
		if err != nil || b.Curve25519() != a.Curve25519() || b.Ed25519() != a.Ed25519() {
			t.Fatalf("version 2: stored identity keys not kept: %v", err)
		}
	}
}
