package olm

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"

	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/key"
)

// MaxOneTimeKeys is the number of one-time keys an Account stores
// (vodozemac's bound). Generating more evicts the oldest (lowest id). A
// client should keep about 50 published on the server (vodozemac's
// max_number_of_one_time_keys); the generous store behind that means keys
// still on the server are not discarded early.
const MaxOneTimeKeys = 5000

// OneTimeKey is the public half of a one-time or fallback key and its id.
type OneTimeKey struct {
	ID  key.KeyID
	Key key.Curve25519
}

// keyPair is a Curve25519 key pair: the identity key of an account, or the
// key of a one-time or fallback key. priv is secret.
type keyPair struct {
	priv [32]byte
	pub  key.Curve25519
	ecdh *ecdh.PrivateKey // priv as an X25519 key, when already made
}

// oneTimeKey is a one-time or fallback key pair with its id.
type oneTimeKey struct {
	keyPair
	id        key.KeyID
	published bool
}

// x25519 returns the key as an *ecdh.PrivateKey, making it on first use
// (crypto/ecdh computes the public key with a full scalar multiplication,
// so an account loaded with thousands of one-time keys does not pay it for
// keys that are never used). A one-time key whose stored public half does
// not match its private half (possible only in a pickle made by broken
// software and sealed with the right key) is reported here, when it is
// first used, as ErrBadPickle. Identity keys are checked when an account
// is loaded (checkIdentity).
func (k *keyPair) x25519() (*ecdh.PrivateKey, error) {
	if k.ecdh == nil {
		priv, err := key.NewCurve25519PrivateKey(k.priv[:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
		}
		if key.Curve25519Public(priv) != k.pub {
			return nil, fmt.Errorf("%w: a stored Curve25519 key does not match its private key", ErrBadPickle)
		}
		k.ecdh = priv
	}
	return k.ecdh, nil
}

// set makes k the key pair of priv.
func (k *keyPair) set(priv *ecdh.PrivateKey) {
	copy(k.priv[:], priv.Bytes())
	k.ecdh, k.pub = priv, key.Curve25519Public(priv)
}

// generate draws k's private key from rand (32 bytes, libolm's order) and
// derives its public key.
func (k *keyPair) generate(rand io.Reader) error {
	priv, err := key.GenerateCurve25519(rand)
	if err != nil {
		return fmt.Errorf("olm: %w", err)
	}
	k.set(priv)
	return nil
}

// derive fills k's public key (and X25519 key) from its private key.
func (k *keyPair) derive() error {
	priv, err := key.NewCurve25519PrivateKey(k.priv[:])
	if err != nil {
		return err
	}
	k.set(priv)
	return nil
}

// wipe clears the private key.
func (k *keyPair) wipe() {
	clear(k.priv[:])
	k.ecdh = nil
}

func (k *oneTimeKey) public() OneTimeKey { return OneTimeKey{ID: k.id, Key: k.pub} }

// Account is a device's long-term Olm state: its identity keys (Ed25519 for
// signing, Curve25519 for the 3DH), its one-time keys and its fallback
// keys. All private keys are secret. An Account is not safe for concurrent
// use.
type Account struct {
	signing  *key.SigningKey
	identity keyPair // the Curve25519 identity key

	otks     []oneTimeKey // ascending id, at most MaxOneTimeKeys
	fallback *oneTimeKey  // current fallback key
	previous *oneTimeKey  // the one it replaced, until forgotten
	lastID   uint32       // the last key id handed out (libolm's next_one_time_key_id)
}

// NewAccount creates an account with fresh identity keys from
// crypto/rand.
func NewAccount() (*Account, error) { return NewAccountFrom(nil) }

// NewAccountFrom creates an account reading 64 bytes from rand (nil means
// crypto/rand) in libolm's order: the 32-byte Ed25519 seed, then the
// 32-byte Curve25519 private key. A failing reader gives an error that
// wraps the reader's error.
func NewAccountFrom(rand io.Reader) (*Account, error) {
	signing, err := key.GenerateSigningKey(rand)
	if err != nil {
		return nil, fmt.Errorf("olm: %w", err)
	}
	a := &Account{signing: signing}
	if err := a.identity.generate(rand); err != nil {
		return nil, err
	}
	return a, nil
}

// Curve25519 returns the Curve25519 identity key (the device's
// "curve25519:<device id>" key, and an Olm envelope's sender_key).
func (a *Account) Curve25519() key.Curve25519 { return a.identity.pub }

// Ed25519 returns the Ed25519 identity (fingerprint) key.
func (a *Account) Ed25519() key.Ed25519 { return a.signing.Public() }

// Sign signs msg with the Ed25519 identity key.
func (a *Account) Sign(msg []byte) key.Ed25519Signature { return a.signing.Sign(msg) }

// loadIdentity sets the Curve25519 identity key from its stored halves,
// taking the public half as stored: X25519 computes with the private half
// alone, so a mismatched public half (from broken software) can only make
// sessions fail, never expose the key. The Ed25519 key is taken as stored
// too: signing hashes the public key computed from the private half
// (key.NewSigningKeyWithPublic), so a wrong stored key only makes
// signatures fail to verify.
func (a *Account) loadIdentity(priv []byte, public key.Curve25519) {
	copy(a.identity.priv[:], priv)
	a.identity.pub = public
}

func (a *Account) nextID() (key.KeyID, error) {
	if a.lastID == math.MaxUint32 {
		return 0, errors.New("olm: key ids exhausted")
	}
	a.lastID++
	return key.KeyID(a.lastID), nil
}

// GenerateOneTimeKeys creates n one-time keys from crypto/rand. See
// GenerateOneTimeKeysFrom.
func (a *Account) GenerateOneTimeKeys(n int) (created, evicted []OneTimeKey, err error) {
	return a.GenerateOneTimeKeysFrom(nil, n)
}

// GenerateOneTimeKeysFrom creates n one-time keys, reading 32 bytes from
// rand for each, and returns their public halves. The new keys get the
// next ids of the counter shared with fallback keys. If the account then
// holds more than MaxOneTimeKeys, the oldest keys (lowest ids) are
// discarded and returned as evicted, so the caller can tell the server.
// n must be between 0 and MaxOneTimeKeys. On error the account is
// unchanged.
func (a *Account) GenerateOneTimeKeysFrom(rand io.Reader, n int) (created, evicted []OneTimeKey, err error) {
	if n < 0 || n > MaxOneTimeKeys {
		return nil, nil, fmt.Errorf("olm: cannot generate %d one-time keys (between 0 and %d)", n, MaxOneTimeKeys)
	}
	if uint64(a.lastID)+uint64(n) > math.MaxUint32 {
		return nil, nil, errors.New("olm: key ids exhausted")
	}
	fresh := make([]oneTimeKey, n)
	for i := range fresh {
		if err := fresh[i].generate(rand); err != nil {
			clearKeys(fresh)
			return nil, nil, err
		}
	}
	created = make([]OneTimeKey, n)
	for i := range fresh {
		fresh[i].id, _ = a.nextID() // cannot fail: checked above
		created[i] = fresh[i].public()
	}
	a.otks = append(a.otks, fresh...)
	if drop := len(a.otks) - MaxOneTimeKeys; drop > 0 {
		for i := range a.otks[:drop] {
			evicted = append(evicted, a.otks[i].public())
		}
		clearKeys(a.otks[:drop])
		a.otks = slices.Delete(a.otks, 0, drop)
	}
	return created, evicted, nil
}

func clearKeys(ks []oneTimeKey) {
	for i := range ks {
		ks[i].wipe()
	}
}

// OneTimeKeys returns the unpublished one-time keys, oldest first.
func (a *Account) OneTimeKeys() []OneTimeKey {
	ks := []OneTimeKey{}
	for i := range a.otks {
		if !a.otks[i].published {
			ks = append(ks, a.otks[i].public())
		}
	}
	return ks
}

// StoredOneTimeKeys returns the number of one-time keys held, published or
// not.
func (a *Account) StoredOneTimeKeys() int { return len(a.otks) }

// MarkKeysAsPublished marks all one-time keys and the current fallback key
// as published, so OneTimeKeys and UnpublishedFallbackKey stop returning
// them. It returns the number of one-time keys it marked.
func (a *Account) MarkKeysAsPublished() int {
	n := 0
	for i := range a.otks {
		if !a.otks[i].published {
			a.otks[i].published = true
			n++
		}
	}
	if a.fallback != nil {
		a.fallback.published = true
	}
	return n
}

// GenerateFallbackKey creates a fallback key from crypto/rand. See
// GenerateFallbackKeyFrom.
func (a *Account) GenerateFallbackKey() (dropped *OneTimeKey, err error) {
	return a.GenerateFallbackKeyFrom(nil)
}

// GenerateFallbackKeyFrom creates a new fallback key (MSC2732), reading 32
// bytes from rand. The current fallback key becomes the previous one, still
// usable until ForgetOldFallbackKey; the previous one before it is
// discarded and returned (nil if there was none). The new key takes the
// next id of the counter shared with one-time keys and is unpublished.
func (a *Account) GenerateFallbackKeyFrom(rand io.Reader) (dropped *OneTimeKey, err error) {
	k := new(oneTimeKey)
	if err := k.generate(rand); err != nil {
		return nil, err
	}
	if k.id, err = a.nextID(); err != nil {
		k.wipe()
		return nil, err
	}
	if a.previous != nil {
		p := a.previous.public()
		dropped = &p
		a.previous.wipe()
	}
	a.previous, a.fallback = a.fallback, k
	return dropped, nil
}

// FallbackKey returns the current fallback key, published or not.
func (a *Account) FallbackKey() (OneTimeKey, bool) {
	if a.fallback == nil {
		return OneTimeKey{}, false
	}
	return a.fallback.public(), true
}

// UnpublishedFallbackKey returns the current fallback key if it has not
// been marked as published.
func (a *Account) UnpublishedFallbackKey() (OneTimeKey, bool) {
	if a.fallback == nil || a.fallback.published {
		return OneTimeKey{}, false
	}
	return a.fallback.public(), true
}

// ForgetOldFallbackKey discards the previous fallback key, reporting
// whether there was one. Call it once the peers that might still use it
// have had time to do so.
func (a *Account) ForgetOldFallbackKey() bool {
	if a.previous == nil {
		return false
	}
	a.previous.wipe()
	a.previous = nil
	return true
}

// lookup finds the private key of a one-time key, then of the current and
// previous fallback keys (libolm's order).
func (a *Account) lookup(pub key.Curve25519) (*oneTimeKey, bool) {
	for i := range a.otks {
		if a.otks[i].pub == pub {
			return &a.otks[i], false
		}
	}
	for _, k := range []*oneTimeKey{a.fallback, a.previous} {
		if k != nil && k.pub == pub {
			return k, true
		}
	}
	return nil, false
}

// RemoveOneTimeKeys removes the one-time key session s was created from
// (libolm olm_remove_one_time_keys), for the two-step flow of
// InboundOptions.KeepOneTimeKey. A fallback key is never removed; for one
// the call succeeds without change. A key that is gone is
// ErrUnknownOneTimeKey.
func (a *Account) RemoveOneTimeKeys(s *Session) error { return a.removeOneTimeKey(s.bobOneTime) }

// removeOneTimeKey removes the one-time key with public key pub.
func (a *Account) removeOneTimeKey(pub key.Curve25519) error {
	for i := range a.otks {
		if a.otks[i].pub == pub {
			a.otks[i].wipe()
			a.otks = slices.Delete(a.otks, i, i+1)
			return nil
		}
	}
	if _, fallback := a.lookup(pub); fallback {
		return nil
	}
	return ErrUnknownOneTimeKey
}

// NewOutboundSession starts a session with the device whose Curve25519
// identity key is theirIdentity, using one of its one-time or fallback keys,
// with randomness from crypto/rand. See NewOutboundSessionFrom.
func (a *Account) NewOutboundSession(theirIdentity, theirOneTimeKey key.Curve25519) (*Session, error) {
	return a.NewOutboundSessionFrom(nil, theirIdentity, theirOneTimeKey)
}

// NewOutboundSessionFrom starts a session as libolm does: it reads 64
// bytes from rand (nil means crypto/rand; the base key E_A, then the first
// ratchet key T0) and runs the 3DH. A low-order key of theirs fails with
// key.ErrNonContributory. The caller should have verified the one-time
// key's signature. The session is bound to theirIdentity: see
// Session.PeerIdentityKey.
func (a *Account) NewOutboundSessionFrom(rand io.Reader, theirIdentity, theirOneTimeKey key.Curve25519) (*Session, error) {
	base, err := key.GenerateCurve25519(rand)
	if err != nil {
		return nil, fmt.Errorf("olm: %w", err)
	}
	ratchetKey, err := key.GenerateCurve25519(rand)
	if err != nil {
		return nil, fmt.Errorf("olm: %w", err)
	}
	identityKey, err := a.identity.x25519()
	if err != nil {
		return nil, err
	}
	// Alice: X25519(I_A, E_B) ‖ X25519(E_A, I_B) ‖ X25519(E_A, E_B).
	shared, err := tripleDH(identityKey, base, base, theirOneTimeKey, theirIdentity, theirOneTimeKey)
	if err != nil {
		return nil, err
	}
	defer clear(shared[:])
	return &Session{
		aliceIdentity: a.identity.pub,
		aliceBase:     key.Curve25519Public(base),
		bobOneTime:    theirOneTimeKey,
		peer:          theirIdentity,
		bound:         true,
		r:             ratchet.NewAlice(shared[:], ratchetKey),
	}, nil
}

// tripleDH computes the Olm 3DH secret S = X25519(p1, k1) ‖ X25519(p2, k2)
// ‖ X25519(p3, k3) (olm.md "Initial setup"): Alice passes (I_A, E_B),
// (E_A, I_B), (E_A, E_B) and Bob the same pairs from his side, (E_B, I_A),
// (I_B, E_A), (E_B, E_A). A low-order public key fails with
// key.ErrNonContributory. The result is secret.
func tripleDH(p1, p2, p3 *ecdh.PrivateKey, k1, k2, k3 key.Curve25519) (*[96]byte, error) {
	shared := new([96]byte)
	for i, dh := range [3]struct {
		priv *ecdh.PrivateKey
		pub  key.Curve25519
	}{{p1, k1}, {p2, k2}, {p3, k3}} {
		s, err := key.X25519(dh.priv, dh.pub)
		if err != nil {
			clear(shared[:])
			return nil, fmt.Errorf("olm: %w", err)
		}
		copy(shared[32*i:], s[:])
		clear(s[:])
	}
	return shared, nil
}

// InboundOptions adjusts NewInboundSession. The zero value (or nil) is
// what most callers want.
type InboundOptions struct {
	// TheirIdentityKey, if set, is the Curve25519 identity key the sender
	// must have (the envelope's sender_key). A message carrying another
	// identity key fails with ErrIdentityKeyMismatch; a message without
	// one uses this key.
	TheirIdentityKey *key.Curve25519
	// KeepOneTimeKey leaves the one-time key in the account after the
	// session is created (libolm's two-step flow, where the caller removes
	// it with RemoveOneTimeKeys once the session is stored).
	KeepOneTimeKey bool
	// DeferDecryption makes NewInboundSession the first step of libolm's
	// two-step flow (olm_create_inbound_session, then olm_decrypt): it
	// checks that the first message authenticates, on a copy of the new
	// session, and returns the session as it was before that message and
	// no plaintext. The message's key stays in the session, so the caller
	// decrypts the same pre-key message later with Session.Decrypt, also
	// after a pickle round trip. The one-time key is kept (KeepOneTimeKey
	// is implied): remove it with RemoveOneTimeKeys once the message is
	// decrypted and the session stored.
	DeferDecryption bool
	// AcceptSessionConfigV2 lets a pre-key message of vodozemac's
	// experimental session config v2 (inner message version 4, untruncated
	// MAC; see SessionConfig) create a session of SessionConfigV2. Without
	// it such a message creates nothing and fails with
	// ErrSessionConfigV2. A version 3 message makes a v1 session either
	// way.
	AcceptSessionConfigV2 bool
}

// NewInboundSession creates the session a pre-key message starts and
// decrypts that message, in one step: it finds the one-time or fallback
// key the message names, runs the 3DH, decrypts the first message, and
// only then removes the one-time key (fallback keys are never removed by
// use). A message that fails at any step (a forged or corrupted pre-key
// message, for instance) neither creates a session nor burns the key.
//
// The session is bound to the sender's identity key: the message's, which
// must equal opts.TheirIdentityKey if that is set (else
// ErrIdentityKeyMismatch). Pass the envelope's sender_key there; a caller
// that does not must compare Session.PeerIdentityKey with it before using
// the plaintext.
//
// Before calling it, try the sessions already established with the sender
// (Session.Matches): a pre-key message for a
// known session must go to that session, and a replayed pre-key message
// naming a fallback key (which use does not remove) would otherwise start
// a second session.
func (a *Account) NewInboundSession(m *PreKeyMessage, opts *InboundOptions) (*Session, []byte, error) {
	if opts == nil {
		opts = &InboundOptions{}
	}
	if m == nil || m.Message == nil {
		return nil, nil, fmt.Errorf("%w: no pre-key message", ErrMalformed)
	}
	identity := m.IdentityKey
	switch {
	case opts.TheirIdentityKey != nil:
		if m.hasIdentityKey && m.IdentityKey != *opts.TheirIdentityKey {
			return nil, nil, ErrIdentityKeyMismatch
		}
		identity = *opts.TheirIdentityKey
	case !m.hasIdentityKey:
		return nil, nil, fmt.Errorf("%w: no identity key in the pre-key message and none given", ErrMalformed)
	}
	otk, _ := a.lookup(m.OneTimeKey)
	if otk == nil {
		return nil, nil, ErrUnknownOneTimeKey
	}
	priv, err := otk.x25519()
	if err != nil {
		return nil, nil, err
	}
	identityKey, err := a.identity.x25519()
	if err != nil {
		return nil, nil, err
	}
	// Bob: X25519(E_B, I_A) ‖ X25519(I_B, E_A) ‖ X25519(E_B, E_A).
	shared, err := tripleDH(priv, identityKey, priv, identity, m.BaseKey, m.BaseKey)
	if err != nil {
		return nil, nil, err
	}
	defer clear(shared[:])
	s := &Session{
		aliceIdentity: identity,
		aliceBase:     m.BaseKey,
		bobOneTime:    m.OneTimeKey,
		peer:          identity,
		bound:         true,
		r:             ratchet.NewBob(shared[:], m.Message.RatchetKey),
		config:        inboundConfig(m.Message, opts),
	}
	if opts.DeferDecryption {
		// Authenticate on a copy; s keeps the first message's key.
		if _, err := s.Clone().decryptMessage(nil, m.Message); err != nil {
			return nil, nil, err
		}
		// As in libolm, HasReceivedMessage turns true with the first
		// decryption, not before.
		return s, nil, nil
	}
	plaintext, err := s.decryptMessage(nil, m.Message)
	if err != nil {
		return nil, nil, err
	}
	if !opts.KeepOneTimeKey {
		if err := a.removeOneTimeKey(m.OneTimeKey); err != nil {
			panic("olm: internal error: one-time key vanished: " + err.Error())
		}
	}
	return s, plaintext, nil
}

// Format prints the public keys and key counts only, for every verb. It has
// a value receiver so that an Account value is redacted too.
func (a Account) Format(f fmt.State, _ rune) {
	fmt.Fprint(f, a.describe())
}

// LogValue implements slog.LogValuer: the public keys and key counts only.
func (a Account) LogValue() slog.Value { return slog.StringValue(a.describe()) }

func (a *Account) describe() string {
	nf := 0
	for _, k := range []*oneTimeKey{a.fallback, a.previous} {
		if k != nil {
			nf++
		}
	}
	var ed key.Ed25519
	if a.signing != nil {
		ed = a.signing.Public()
	}
	return fmt.Sprintf("olm.Account{curve25519: %s, ed25519: %s, one-time keys: %d, fallback keys: %d}",
		a.identity.pub, ed, len(a.otks), nf)
}
