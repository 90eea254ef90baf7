package megolm

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/key"
)

// InboundSession is the receiving side of a Megolm session. It keeps two
// ratchets: the initial one at the first known index, from which every later
// message key can be derived, and the latest one, at the highest index
// decrypted so far, so that decrypting messages in order never re-derives
// from the start (megolm.md "Receiving messages").
//
// A session made by [NewInboundSession] from a signed [SessionKey] is
// verified: its signing key signed the ratchet. One imported from an
// [ExportedSessionKey] is not, and decrypting messages does not change that.
// This follows vodozemac: libolm marks an imported session verified after
// its first successful decryption, but a valid message proves only that the
// sender holds the signing key the importer was given, not that the key
// belongs to the claimed sender. [InboundSession.Merge] with a verified copy
// of the same session is the way to upgrade.
//
// Indices are compared as plain unsigned numbers (vodozemac), not modulo
// 2^32 (libolm): a message below the first known index is always unknown,
// and a message 2^31 or more above it is decrypted (libolm refuses it).
//
// An InboundSession is secret; fmt prints only its session ID, first known
// index and verification state. It is not safe for concurrent use (Decrypt
// moves the latest ratchet forward).
type InboundSession struct {
	initial    ratchet
	latest     ratchet
	signingKey key.Ed25519
	// verifier is signingKey decoded, made on the first successful
	// decryption unless the session key brought one: a restored session
	// pays neither the time nor the memory of a decoded key it may never
	// use. It is an immutable cache (clones share it): not pickled, not
	// compared.
	verifier *key.Verifier
	verified bool
	config   SessionConfig // zero: SessionConfigV1
}

// Clone returns an independent copy of s: a decryption on the copy (for
// example one that a later check may refuse) never moves s. The copy is as
// secret as s.
func (s *InboundSession) Clone() *InboundSession {
	c := *s
	return &c
}

// NewInboundSession creates a verified session from a signed session key
// (the session_key of an m.room_key event). The key's signature was checked
// when it was parsed.
func NewInboundSession(k *SessionKey) (*InboundSession, error) {
	return newInbound(&k.r, k.signingKey, k.verifier, true)
}

// ImportInboundSession creates an unverified session from an exported
// session key (m.forwarded_room_key, key backup, key export).
func ImportInboundSession(k *ExportedSessionKey) (*InboundSession, error) {
	return newInbound(&k.r, k.signingKey, k.verifier, false)
}

// newInbound makes a session. v is signingKey's Verifier if the caller has
// one, or nil; a key of small order is refused either way (a
// key that is no point at all is refused by the first decryption).
func newInbound(r *ratchet, signingKey key.Ed25519, v *key.Verifier, verified bool) (*InboundSession, error) {
	if signingKey.SmallOrder() {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, key.ErrWeakKey)
	}
	return &InboundSession{initial: *r, latest: *r, signingKey: signingKey, verifier: v, verified: verified}, nil
}

// SessionID returns the session's signing key, its identifier.
func (s *InboundSession) SessionID() key.Ed25519 { return s.signingKey }

// FirstKnownIndex returns the lowest message index the session can decrypt.
func (s *InboundSession) FirstKnownIndex() uint32 { return s.initial.counter }

// IsVerified reports whether the session came from a signed session key
// (directly or through Merge). Decrypting never changes it.
func (s *InboundSession) IsVerified() bool { return s.verified }

// Decrypt authenticates and decrypts a binary Megolm message, appends the
// plaintext to dst and returns the extended slice and the message index.
// Callers must use the index for replay detection: remember (session,
// index) → event and reject a second, different event at the same index.
//
// The order is that of megolm.md and vodozemac: parse, verify the Ed25519
// signature over the received bytes, pick the ratchet for the index, verify
// the MAC, decrypt. A failure at any step returns an error and leaves the
// session unchanged; in particular the latest ratchet moves forward only
// for a message that authenticated and decrypted. Errors: wrapped
// [ErrMalformed], [ErrAuthentication], [*UnknownIndexError] (matches
// [ErrUnknownIndex]), [ErrBadMAC], and [ErrSessionConfigV2] for an
// authentic message of vodozemac's session config v2 given to a session
// without it (see [SessionConfig]). dst is not modified on error.
func (s *InboundSession) Decrypt(dst, message []byte) (plaintext []byte, index uint32, err error) {
	var m Message
	if err := parseMessage(message, &m); err != nil {
		return nil, 0, err
	}
	if err := s.checkConfig(&m); err != nil {
		return nil, 0, err
	}
	return s.decrypt(dst, &m)
}

func (s *InboundSession) decrypt(dst []byte, m *Message) ([]byte, uint32, error) {
	v := s.verifier
	made := v == nil
	if made {
		nv, err := key.NewVerifier(s.signingKey)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", errBadSignature, err)
		}
		v = &nv
	}
	if err := v.Verify(m.signatureInput(), key.Ed25519Signature(m.signature())); err != nil {
		return nil, 0, errBadSignature
	}
	r, fromLatest, err := s.ratchetAt(m.index)
	if err != nil {
		return nil, 0, err
	}
	defer r.wipe()
	keys := r.keys()
	out, err := keys.Open(dst, m.macInput(), m.mac(), m.ciphertext)
	if errors.Is(err, aessha2.ErrAuthentication) {
		return nil, 0, errBadMAC
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: authenticated ciphertext has bad length or padding", ErrMalformed)
	}
	if fromLatest && m.index > s.latest.counter {
		s.latest = r
	}
	if made {
		s.verifier = v // kept only once a message authenticated
	}
	return out, m.index, nil
}

// ratchetAt returns a copy of the ratchet advanced to index, and whether it
// was taken from the latest ratchet (so that the caller may commit it).
func (s *InboundSession) ratchetAt(index uint32) (r ratchet, fromLatest bool, err error) {
	switch {
	case index < s.initial.counter:
		return ratchet{}, false, &UnknownIndexError{Index: index, FirstKnown: s.initial.counter}
	case index >= s.latest.counter:
		r = s.latest
		r.advanceTo(index)
		return r, true, nil
	default:
		r = s.initial
		r.advanceTo(index)
		return r, false, nil
	}
}

// Export returns the session's key at index in the unsigned export format,
// for forwarding, backup or key export. index must not be below the first
// known index (*UnknownIndexError). The session is not changed. The result
// is secret.
func (s *InboundSession) Export(index uint32) (*ExportedSessionKey, error) {
	r, _, err := s.ratchetAt(index)
	if err != nil {
		return nil, err
	}
	return &ExportedSessionKey{r: r, signingKey: s.signingKey, verifier: s.verifier}, nil
}

// ExportAtFirstKnownIndex returns the session's key at its first known
// index: everything the session can decrypt, and nothing more.
func (s *InboundSession) ExportAtFirstKnownIndex() *ExportedSessionKey {
	return &ExportedSessionKey{r: s.initial, signingKey: s.signingKey, verifier: s.verifier}
}

// AdvanceTo permanently forgets the keys of every index below index (as
// vodozemac's advance_to), for example to honour a history-visibility
// boundary. It reports whether anything changed: false if index is not
// above the first known index.
func (s *InboundSession) AdvanceTo(index uint32) bool {
	if index <= s.initial.counter {
		return false
	}
	s.initial.advanceTo(index)
	if s.latest.counter < index {
		s.latest = s.initial
	}
	return true
}

// ordering is the result of compare.
type ordering int

// The results of compare, as vodozemac's SessionOrdering.
const (
	// unconnected: different sessions (other signing key), or ratchets
	// that do not derive from each other.
	unconnected ordering = iota
	// equal: the same session with the same first known index.
	equal
	// better: the same session, and this copy knows earlier indices.
	better
	// worse: the same session, and the other copy knows earlier indices.
	worse
)

// String returns "equal", "better", "worse" or "unconnected".
func (o ordering) String() string {
	switch o {
	case equal:
		return "equal"
	case better:
		return "better"
	case worse:
		return "worse"
	default:
		return "unconnected"
	}
}

// compare tells how s relates to other, a copy of the session from another
// source (vodozemac's compare): unconnected unless both have the same
// signing key and the ratchet with the higher first known index is the other
// one's ratchet advanced to that index (checked in constant time); then
// equal, better (s has the lower first known index) or worse. The
// verification flags are not compared. Neither session changes.
func (s *InboundSession) compare(other *InboundSession) ordering {
	if s.signingKey != other.signingKey {
		return unconnected
	}
	a, b := s.initial, other.initial
	defer a.wipe()
	defer b.wipe()
	switch {
	case a.counter < b.counter:
		a.advanceTo(b.counter)
	case b.counter < a.counter:
		b.advanceTo(a.counter)
	}
	if !a.equal(&b) {
		return unconnected
	}
	switch {
	case s.initial.counter < other.initial.counter:
		return better
	case s.initial.counter > other.initial.counter:
		return worse
	default:
		return equal
	}
}

// Merge combines two copies of one session (vodozemac's merge): it returns
// a new session holding the ratchets of the copy that knows the earlier
// indices (s's when both start at the same index), and
// verified if either copy was, so that an unverified backup copy with an
// earlier index and a verified copy from m.room_key combine into the best
// of both. It returns [ErrUnconnected] for copies that are not the same
// session: different signing keys, or ratchets that do not derive from each
// other (checked in constant time), or that have different session
// configs (as vodozemac's). Neither session changes.
func (s *InboundSession) Merge(other *InboundSession) (*InboundSession, error) {
	if s.config != other.config {
		return nil, fmt.Errorf("%w: different session configs", ErrUnconnected)
	}
	var merged InboundSession
	switch s.compare(other) {
	case equal, better:
		merged = *s
	case worse:
		merged = *other
	default:
		return nil, ErrUnconnected
	}
	merged.verified = s.verified || other.verified
	// Keep the furthest latest ratchet of the two: both are connected.
	if l := &other.latest; merged.latest.counter < l.counter {
		merged.latest = *l
	}
	if l := &s.latest; merged.latest.counter < l.counter {
		merged.latest = *l
	}
	return &merged, nil
}

// Format prints the session ID, first known index and verification state
// only, for every verb.
func (s InboundSession) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "megolm.InboundSession{session: %s, first_known_index: %d, verified: %t}",
		s.signingKey, s.initial.counter, s.verified)
}

// LogValue implements slog.LogValuer: the session ID, first known index and
// verification state only.
func (s InboundSession) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session_id", s.signingKey.String()),
		slog.Uint64("first_known_index", uint64(s.initial.counter)), slog.Bool("verified", s.verified))
}
