package olm

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/key"
)

// Session is an Olm session between two devices: the keys of its 3DH
// handshake, the peer's identity key and its Double Ratchet. The ratchet
// state is secret; the handshake keys and the session id are public. A
// Session is not safe for concurrent use; guard it with a mutex when
// several goroutines share it. Sessions come from
// Account.NewOutboundSession, Account.NewInboundSession and the Unpickle
// functions.
//
// A blank session has no ratchet chain: the zero value, or a libolm
// pickle of a session that was never initialised (libolm's olm_session
// before olm_create_*_session, which pickles with zero chains; such
// pickles exist in old stores). It has an id (of its handshake keys, all
// zero for libolm's blank session), pickles in both formats and loads
// back, but Encrypt and Decrypt fail with ErrBlankSession: a ratchet
// without a chain has no key that a peer shares.
type Session struct {
	aliceIdentity key.Curve25519 // I_A
	aliceBase     key.Curve25519 // E_A
	bobOneTime    key.Curve25519 // E_B (a one-time or fallback key)
	peer          key.Curve25519 // the peer's identity key: I_B if we are Alice, I_A if we are Bob
	bound         bool           // peer is known (false only for a session loaded from a format without it)
	received      bool
	r             *ratchet.Ratchet // nil for a blank session
	config        SessionConfig    // zero: SessionConfigV1
}

// Clone returns an independent copy of s: a decryption attempted on the
// copy (for example one that a later validation may refuse) never changes
// s. The copy is as secret as s.
func (s *Session) Clone() *Session {
	c := *s
	if s.r != nil {
		c.r = s.r.Clone()
	}
	return &c
}

func sessionID(identity, base, oneTime *key.Curve25519) string {
	h := sha256.New()
	h.Write(identity[:])
	h.Write(base[:])
	h.Write(oneTime[:])
	var sum [sha256.Size]byte
	return b64.Encode(h.Sum(sum[:0]))
}

// ID returns the session id: the unpadded base64 of SHA-256(I_A ‖ E_A ‖
// E_B), the same on both sides.
func (s *Session) ID() string { return sessionID(&s.aliceIdentity, &s.aliceBase, &s.bobOneTime) }

// PeerIdentityKey returns the Curve25519 identity key of the device at the
// other end: for an outbound session the key it was opened to, for an
// inbound one the key of the pre-key message that created it. Only that
// device can have made the messages the session decrypts, so a caller
// must check it against the sender it attributes a message to (an
// m.room.encrypted event's sender_key). It reports false for a session
// loaded from a format that does not store the peer until BindPeer.
func (s *Session) PeerIdentityKey() (key.Curve25519, bool) { return s.peer, s.bound }

// BindPeer tells a session loaded from a format that does not store its
// peer (libolm's session pickle, which stores only the initiator's key
// I_A, ours for an outbound session; sicher's version 1) which device it
// belongs to: ours is our account's Curve25519 identity key, peer the
// identity key the caller stored the session under. I_A must be one of
// them: peer for an inbound session, ours for an outbound one, else the
// session belongs to someone else and ErrIdentityKeyMismatch is returned.
// For an outbound session the peer cannot be checked against the state
// and is taken as given. A session that already knows its peer accepts
// only that peer. Until it is bound, PeerIdentityKey reports false, so a
// caller that checks the sender against it refuses every message.
func (s *Session) BindPeer(ours, peer key.Curve25519) error {
	switch {
	case s.bound && peer != s.peer,
		!s.bound && s.aliceIdentity != ours && s.aliceIdentity != peer:
		return ErrIdentityKeyMismatch
	}
	s.peer, s.bound = peer, true
	return nil
}

// HasReceivedMessage reports whether the session has decrypted a message
// from its peer. Until it has, Encrypt produces pre-key messages. Inbound
// sessions have received one (the message that created them), except one
// made with InboundOptions.DeferDecryption until that message is decrypted.
func (s *Session) HasReceivedMessage() bool { return s.received }

// Matches reports whether a pre-key message belongs to this session: its
// base key and one-time key are the session's, and so is its identity key
// if it carries one. If theirIdentity is not nil it must be the initiator's
// identity key too (libolm olm_matches_inbound_session_from).
func (s *Session) Matches(m *PreKeyMessage, theirIdentity *key.Curve25519) bool {
	same := m.BaseKey == s.aliceBase && m.OneTimeKey == s.bobOneTime
	if m.hasIdentityKey {
		same = same && m.IdentityKey == s.aliceIdentity
	}
	if theirIdentity != nil {
		same = same && *theirIdentity == s.aliceIdentity
	}
	return same
}

func (s *Session) describe() string {
	if s.r == nil {
		return "olm.Session{blank}"
	}
	peer := "unknown"
	if s.bound {
		peer = s.peer.String()
	}
	return fmt.Sprintf("olm.Session{session %s: peer %s; received message %t; %s}", s.ID(), peer, s.received, s.r.Describe())
}

// Format prints the session id, the peer, and its chains with their
// indices and skipped-key counts, for every verb; no secret is shown. It
// has a value receiver so that a Session value is redacted too.
func (s Session) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.describe()) }

// LogValue implements slog.LogValuer with what Format prints.
func (s Session) LogValue() slog.Value { return slog.StringValue(s.describe()) }

// Encrypt encrypts plaintext with randomness from crypto/rand. See
// EncryptFrom.
func (s *Session) Encrypt(dst, plaintext []byte) (EncryptedMessage, error) {
	return s.EncryptFrom(nil, dst, plaintext)
}

// EncryptFrom encrypts plaintext and appends the message body to dst (nil
// for a fresh slice); the result's Body is the extended slice. It is a
// pre-key message (type 0) until the session has received a message, then
// a normal message (type 1). It reads 32 bytes from rand (nil means
// crypto/rand) only when a new sending chain starts (the first message
// after receiving on a new chain, and Bob's first message), as libolm
// does. With a dst of enough capacity a message costs two allocations (the
// AES cipher and its CBC mode inside crypto/aes). On error the session is
// unchanged.
func (s *Session) EncryptFrom(rand io.Reader, dst, plaintext []byte) (EncryptedMessage, error) {
	if s.r == nil {
		return EncryptedMessage{}, ErrBlankSession
	}
	ratchetKey, mk, err := s.r.NextMessageKey(rand)
	if err != nil {
		return EncryptedMessage{}, ratchetError(err)
	}
	kb := mk.Bytes()
	keys := aessha2.Derive(kb[:], aessha2.InfoOlm)
	clear(kb[:])
	ctLen := aessha2.CiphertextLen(len(plaintext))
	innerLen := messageLen(mk.Index(), ctLen, s.config.macLen())
	typ, size := TypeMessage, innerLen
	if !s.received {
		typ, size = TypePreKey, preKeyHeaderLen(innerLen)+innerLen
	}
	buf := slices.Grow(dst, size)
	if typ == TypePreKey {
		buf = appendPreKeyHeader(buf, &s.bobOneTime, &s.aliceBase, &s.aliceIdentity, innerLen)
	}
	start := len(buf)
	buf = appendMessageHeaderVersion(buf, s.config.messageVersion(), &ratchetKey, mk.Index(), ctLen)
	buf = keys.Encrypt(buf, plaintext)
	buf = s.config.appendTag(&keys, buf, buf[start:])
	return EncryptedMessage{Type: typ, Body: buf}, nil
}

// Decrypt decrypts a message from the peer and appends the plaintext to
// dst (nil for a fresh slice): a normal message, or a pre-key message (the
// first messages of a session whose peer has not yet heard from us). A
// pre-key message must be this session's (Matches) and name the session's
// peer as its sender, else ErrIdentityKeyMismatch: its header is not
// covered by the MAC, so this is what keeps a message from being
// attributed to another device. The MAC is verified over the received
// bytes and the padding checked before the session changes; a message that
// fails in any way (malformed, wrong MAC, replayed, too far ahead, ...)
// leaves the session exactly as it was. With a dst of enough capacity a
// normal message costs two allocations. Errors: ErrMalformed,
// ErrUnsupportedVersion, ErrAuthentication, ErrIdentityKeyMismatch,
// ErrMessageGap, ErrUnknownMessageIndex, ErrBlankSession, and
// ErrSessionConfigV2 for an authentic message of vodozemac's session
// config v2 given to a session without it (see SessionConfig).
func (s *Session) Decrypt(dst []byte, m EncryptedMessage) ([]byte, error) {
	if s.r == nil {
		return nil, ErrBlankSession
	}
	switch m.Type {
	case TypeMessage:
		var msg Message
		if err := msg.parse(m.Body); err != nil {
			return nil, err
		}
		return s.decryptMessage(dst, &msg)
	case TypePreKey:
		var msg PreKeyMessage
		if err := msg.parse(m.Body); err != nil {
			return nil, err
		}
		if !s.Matches(&msg, nil) {
			return nil, fmt.Errorf("%w: the pre-key message is not from this session's peer", ErrIdentityKeyMismatch)
		}
		return s.decryptMessage(dst, msg.Message)
	default:
		return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformed, m.Type)
	}
}

// decryptMessage decrypts a parsed normal message and appends the
// plaintext to dst.
func (s *Session) decryptMessage(dst []byte, m *Message) ([]byte, error) {
	var plaintext []byte
	err := s.r.Receive(m.RatchetKey, m.Index, func(mk ratchet.MessageKey) error {
		var err error
		plaintext, err = open(dst, &mk, m, s.config)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrAuthentication) || errors.Is(err, ErrSessionConfigV2) {
			return nil, err
		}
		return nil, ratchetError(err)
	}
	s.received = true
	return plaintext, nil
}

// open verifies the MAC of m under the message key and appends its
// decryption to dst. The message's version must be the session config's
// (see SessionConfig.check).
func open(dst []byte, mk *ratchet.MessageKey, m *Message, c SessionConfig) ([]byte, error) {
	if len(m.raw) < macSize {
		return nil, fmt.Errorf("%w: message was not parsed", ErrMalformed)
	}
	kb := mk.Bytes()
	keys := aessha2.Derive(kb[:], aessha2.InfoOlm)
	clear(kb[:])
	if err := c.check(&keys, m); err != nil {
		return nil, err
	}
	n := len(m.raw) - m.macLen()
	pt, err := keys.Open(dst, m.raw[:n], m.raw[n:], m.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	return pt, nil
}
