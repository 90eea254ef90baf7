package olm

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/ratchet"
)

const (
	// MaxOneTimeKeys is the number of one-time keys an Account stores
	// (vodozemac's bound). Generating more evicts the oldest (lowest id).
	MaxOneTimeKeys = 5000
	// MaxPublishedOneTimeKeys is how many one-time keys a client should
	// keep on the server (vodozemac's max_number_of_one_time_keys). The
	// generous store behind it means keys still on the server are not
	// discarded early.
	MaxPublishedOneTimeKeys = 50
)

// IdentityKeys are a device's public identity keys. The JSON form is
// {"curve25519": "...", "ed25519": "..."}, as in libolm's
// olm_account_identity_keys.
type IdentityKeys struct {
	Curve25519 key.Curve25519 `json:"curve25519"`
	Ed25519    key.Ed25519    `json:"ed25519"`
}

// OneTimeKey is the public half of a one-time or fallback key and its id.
type OneTimeKey struct {
	ID  key.KeyID
	Key key.Curve25519
}

// OneTimeKeys is a list of public one-time (or fallback) keys. Its JSON
// form is libolm's: {"curve25519": {"<key id>": "<key>", ...}}.
type OneTimeKeys []OneTimeKey

// MarshalJSON implements json.Marshaler.
func (ks OneTimeKeys) MarshalJSON() ([]byte, error) {
	m := make(map[string]key.Curve25519, len(ks))
	for _, k := range ks {
		m[k.ID.String()] = k.Key
	}
	return json.Marshal(map[string]any{"curve25519": m})
}

// oneTimeKey is a one-time or fallback key pair. priv is secret.
type oneTimeKey struct {
	id        key.KeyID
	published bool
	priv      [32]byte
	pub       key.Curve25519
	ecdh      *ecdh.PrivateKey // priv as an X25519 key, when already made
}

// x25519 returns the key as an *ecdh.PrivateKey, making it on first use
// (crypto/ecdh computes the public key with a full scalar multiplication,
// so imported accounts do not pay it for keys that are never used). A key
// whose stored public half does not match its private half (possible only
// in a pickle made by broken software and sealed with the right key) is
// reported here, when it is first used, rather than at import.
func (k *oneTimeKey) x25519() (*ecdh.PrivateKey, error) {
	if k.ecdh == nil {
		priv, err := key.NewCurve25519PrivateKey(k.priv[:])
		if err != nil {
			panic("olm: internal error: " + err.Error())
		}
		if k.pub != (key.Curve25519{}) && key.Curve25519Public(priv) != k.pub {
			if k.id == 0 { // the identity key (key ids start at 1)
				return nil, fmt.Errorf("%w: Curve25519 identity key does not match its private key", ErrBadPickle)
			}
			return nil, fmt.Errorf("%w: one-time key %s does not match its private key", ErrBadPickle, k.id)
		}
		k.ecdh = priv
	}
	return k.ecdh, nil
}

// setECDH makes k the key pair of priv.
func (k *oneTimeKey) setECDH(priv *ecdh.PrivateKey) {
	copy(k.priv[:], priv.Bytes())
	k.ecdh, k.pub = priv, key.Curve25519Public(priv)
}

// derivePublic fills k's public key from its freshly drawn private key.
func (k *oneTimeKey) derivePublic() {
	priv, err := key.NewCurve25519PrivateKey(k.priv[:])
	if err != nil {
		panic("olm: internal error: " + err.Error())
	}
	k.ecdh, k.pub = priv, key.Curve25519Public(priv)
}

func (k *oneTimeKey) public() OneTimeKey { return OneTimeKey{ID: k.id, Key: k.pub} }

// Account is a device's long-term Olm state: its identity keys (Ed25519 for
// signing, Curve25519 for the 3DH), its one-time keys and its fallback
// keys. All private keys are secret. An Account is not safe for concurrent
// use.
type Account struct {
	signing *key.SigningKey
	// identity is the Curve25519 identity key pair (its id unused). Like a
	// one-time key, a restored account makes its *ecdh.PrivateKey on first
	// use, so that loading a libolm pickle costs no scalar multiplication.
	identity oneTimeKey
	otks     []oneTimeKey // ascending id, at most MaxOneTimeKeys
	fallback *oneTimeKey  // current fallback key
	previous *oneTimeKey  // the one it replaced, until forgotten
	lastID   uint32       // the last key id handed out (libolm's next_one_time_key_id)
}

// NewAccount creates an account with fresh identity keys from
// crypto/rand.
func NewAccount() (*Account, error) { return NewAccountFrom(rand.Reader) }

// NewAccountFrom creates an account reading 64 bytes from rand in
// libolm's order: the 32-byte Ed25519 seed, then the 32-byte Curve25519
// private key.
func NewAccountFrom(rand io.Reader) (*Account, error) {
	signing, err := key.GenerateSigningKey(rand)
	if err != nil {
		return nil, fmt.Errorf("olm: %w", err)
	}
	curve, err := key.GenerateCurve25519(rand)
	if err != nil {
		return nil, fmt.Errorf("olm: %w", err)
	}
	a := &Account{signing: signing}
	a.identity.setECDH(curve)
	return a, nil
}

// IdentityKeys returns the account's public identity keys.
func (a *Account) IdentityKeys() IdentityKeys {
	return IdentityKeys{Curve25519: a.identity.pub, Ed25519: a.signing.Public()}
}

// Curve25519 returns the Curve25519 identity key.
func (a *Account) Curve25519() key.Curve25519 { return a.identity.pub }

// Ed25519 returns the Ed25519 identity (fingerprint) key.
func (a *Account) Ed25519() key.Ed25519 { return a.signing.Public() }

// Sign signs msg with the Ed25519 identity key.
func (a *Account) Sign(msg []byte) key.Ed25519Signature { return a.signing.Sign(msg) }

// CheckIdentityKeys reports whether both identity keys' public halves are
// the keys of their private halves. That holds for every account sicher
// made; an account loaded from a libolm pickle is taken as stored (libolm
// never checks), and its keys are checked when first used: the Curve25519
// key by the first session, which fails with ErrBadPickle if it is wrong,
// the Ed25519 key by the first signature, which is then made with the key
// derived from the private half and will not verify under IdentityKeys.
// Call this after loading to find such an account up front; it costs two
// scalar multiplications. Errors wrap ErrBadPickle.
func (a *Account) CheckIdentityKeys() error {
	if err := a.signing.CheckPublic(); err != nil {
		return fmt.Errorf("%w: Ed25519 identity key: %w", ErrBadPickle, err)
	}
	if _, err := a.identity.x25519(); err != nil {
		return err
	}
	return nil
}

// MaxNumberOfOneTimeKeys returns MaxPublishedOneTimeKeys: the number of
// one-time keys to keep published on the server.
func (a *Account) MaxNumberOfOneTimeKeys() int { return MaxPublishedOneTimeKeys }

func (a *Account) nextID() (key.KeyID, error) {
	if a.lastID == math.MaxUint32 {
		return 0, fmt.Errorf("%w: key ids exhausted", ErrTooManyKeys)
	}
	a.lastID++
	return key.KeyID(a.lastID), nil
}

// GenerateOneTimeKeys creates n one-time keys from crypto/rand. See
// GenerateOneTimeKeysFrom.
func (a *Account) GenerateOneTimeKeys(n int) (created, evicted OneTimeKeys, err error) {
	return a.GenerateOneTimeKeysFrom(rand.Reader, n)
}

// GenerateOneTimeKeysFrom creates n one-time keys, reading 32 bytes from
// rand for each, and returns their public halves. The new keys get the
// next ids of the counter shared with fallback keys. If the account then
// holds more than MaxOneTimeKeys, the oldest keys (lowest ids) are
// discarded and returned as evicted, so the caller can tell the server.
// n must be between 0 and MaxOneTimeKeys. On error the account is
// unchanged.
func (a *Account) GenerateOneTimeKeysFrom(rand io.Reader, n int) (created, evicted OneTimeKeys, err error) {
	if n < 0 || n > MaxOneTimeKeys {
		return nil, nil, fmt.Errorf("%w: cannot generate %d one-time keys (at most %d)", ErrTooManyKeys, n, MaxOneTimeKeys)
	}
	if uint64(a.lastID)+uint64(n) > math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: key ids exhausted", ErrTooManyKeys)
	}
	fresh := make([]oneTimeKey, n)
	for i := range fresh {
		k := &fresh[i]
		if _, err := io.ReadFull(rand, k.priv[:]); err != nil {
			clearKeys(fresh)
			return nil, nil, fmt.Errorf("olm: reading randomness: %w", err)
		}
		k.derivePublic()
	}
	created = make(OneTimeKeys, n)
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
		clear(ks[i].priv[:])
		ks[i].ecdh = nil
	}
}

// OneTimeKeys returns the unpublished one-time keys, oldest first.
func (a *Account) OneTimeKeys() OneTimeKeys {
	ks := OneTimeKeys{}
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
	return a.GenerateFallbackKeyFrom(rand.Reader)
}

// GenerateFallbackKeyFrom creates a new fallback key (MSC2732), reading 32
// bytes from rand. The current fallback key becomes the previous one, still
// usable until ForgetOldFallbackKey; the previous one before it is
// discarded and returned (nil if there was none). The new key takes the
// next id of the counter shared with one-time keys and is unpublished.
func (a *Account) GenerateFallbackKeyFrom(rand io.Reader) (dropped *OneTimeKey, err error) {
	k := new(oneTimeKey)
	if _, err := io.ReadFull(rand, k.priv[:]); err != nil {
		return nil, fmt.Errorf("olm: reading randomness: %w", err)
	}
	if k.id, err = a.nextID(); err != nil {
		clear(k.priv[:])
		return nil, err
	}
	k.derivePublic()
	if a.previous != nil {
		p := a.previous.public()
		dropped = &p
		clear(a.previous.priv[:])
	}
	a.previous, a.fallback = a.fallback, k
	return dropped, nil
}

// UnpublishedFallbackKey returns the current fallback key if it has not
// been marked as published.
func (a *Account) UnpublishedFallbackKey() (OneTimeKey, bool) {
	if a.fallback == nil || a.fallback.published {
		return OneTimeKey{}, false
	}
	return a.fallback.public(), true
}

// FallbackKey returns the current fallback key, published or not.
func (a *Account) FallbackKey() (OneTimeKey, bool) {
	if a.fallback == nil {
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
	clear(a.previous.priv[:])
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
// (libolm olm_remove_one_time_keys). A fallback key is never removed; for
// one the call succeeds without change. NewInboundSession already removes
// the key unless told to keep it.
func (a *Account) RemoveOneTimeKeys(s *Session) error {
	return a.RemoveOneTimeKey(s.bobOneTime)
}

// RemoveOneTimeKey removes the one-time key with public key pub. A
// fallback key is not removed (nil is returned); an unknown key is
// ErrUnknownOneTimeKey.
func (a *Account) RemoveOneTimeKey(pub key.Curve25519) error {
	for i := range a.otks {
		if a.otks[i].pub == pub {
			clear(a.otks[i].priv[:])
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
	return a.NewOutboundSessionFrom(rand.Reader, theirIdentity, theirOneTimeKey)
}

// NewOutboundSessionFrom starts a session as libolm does: it reads 64
// bytes from rand (the base key E_A, then the first ratchet key T0) and
// runs the 3DH S = X25519(I_A, E_B) ‖ X25519(E_A, I_B) ‖ X25519(E_A, E_B).
// A low-order key of theirs fails with key.ErrNonContributory. The caller
// should have verified the one-time key's signature.
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
	var shared [96]byte
	defer clear(shared[:])
	for i, dh := range [3]struct {
		priv *ecdh.PrivateKey
		pub  key.Curve25519
	}{{identityKey, theirOneTimeKey}, {base, theirIdentity}, {base, theirOneTimeKey}} {
		s, err := key.X25519(dh.priv, dh.pub)
		if err != nil {
			return nil, fmt.Errorf("olm: %w", err)
		}
		copy(shared[32*i:], s[:])
		clear(s[:])
	}
	return &Session{
		aliceIdentity: a.identity.pub,
		aliceBase:     key.Curve25519Public(base),
		bobOneTime:    theirOneTimeKey,
		r:             ratchet.NewAlice(shared[:], ratchetKey),
	}, nil
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
}

// NewInboundSession creates the session a pre-key message starts and
// decrypts that message, in one step: it finds the one-time or fallback
// key the message names, runs the 3DH, decrypts the first message, and
// only then removes the one-time key (fallback keys are never removed by
// use). A message that fails at any step (a forged or corrupted pre-key
// message, for instance) neither creates a session nor burns the key.
//
// Before calling it, try the sessions already established with the sender
// (Session.Matches, or PreKeyMessage.SessionID): a pre-key message for a
// known session must go to that session, and a replayed pre-key message
// naming a fallback key (which use does not remove) would otherwise start
// a second session. Before using the plaintext, check that the session
// belongs to the expected sender (InboundOptions.TheirIdentityKey, or
// Session.AliceIdentityKey against the event's sender_key).
func (a *Account) NewInboundSession(m *PreKeyMessage, opts *InboundOptions) (*Session, []byte, error) {
	if opts == nil {
		opts = &InboundOptions{}
	}
	if m == nil || m.Message == nil {
		return nil, nil, fmt.Errorf("%w: no pre-key message", ErrMalformedMessage)
	}
	identity := m.IdentityKey
	switch {
	case opts.TheirIdentityKey != nil:
		if m.hasIdentityKey && m.IdentityKey != *opts.TheirIdentityKey {
			return nil, nil, ErrIdentityKeyMismatch
		}
		identity = *opts.TheirIdentityKey
	case !m.hasIdentityKey:
		return nil, nil, fmt.Errorf("%w: no identity key in the pre-key message and none given", ErrMalformedMessage)
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
	var shared [96]byte
	defer clear(shared[:])
	for i, dh := range [3]struct {
		priv *ecdh.PrivateKey
		pub  key.Curve25519
	}{{priv, identity}, {identityKey, m.BaseKey}, {priv, m.BaseKey}} {
		s, err := key.X25519(dh.priv, dh.pub)
		if err != nil {
			return nil, nil, fmt.Errorf("olm: %w", err)
		}
		copy(shared[32*i:], s[:])
		clear(s[:])
	}
	s := &Session{
		aliceIdentity: identity,
		aliceBase:     m.BaseKey,
		bobOneTime:    m.OneTimeKey,
		r:             ratchet.NewBob(shared[:], m.Message.RatchetKey),
	}
	plaintext, err := s.DecryptMessage(m.Message)
	if err != nil {
		return nil, nil, err
	}
	if !opts.KeepOneTimeKey {
		if err := a.RemoveOneTimeKey(m.OneTimeKey); err != nil {
			panic("olm: internal error: one-time key vanished: " + err.Error())
		}
	}
	return s, plaintext, nil
}

// Format prints the public keys and key counts only, for every verb. It has
// a value receiver so that an Account value is redacted too.
func (a Account) Format(f fmt.State, _ rune) {
	nf := 0
	for _, k := range []*oneTimeKey{a.fallback, a.previous} {
		if k != nil {
			nf++
		}
	}
	fmt.Fprintf(f, "olm.Account{curve25519: %s, ed25519: %s, one-time keys: %d, fallback keys: %d}",
		a.identity.pub, a.signing.Public(), len(a.otks), nf)
}
