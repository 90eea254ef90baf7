package olm

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/ratchet"
)

// Session is an Olm session between two devices: the keys of its 3DH
// handshake and its Double Ratchet. The ratchet state is secret; the
// handshake keys and the session id are public. A Session is not safe for
// concurrent use; guard it with a mutex when several goroutines share it.
// Sessions come from Account.NewOutboundSession, Account.NewInboundSession
// and the Unpickle functions; the zero value is not usable.
type Session struct {
	aliceIdentity key.Curve25519 // I_A
	aliceBase     key.Curve25519 // E_A
	bobOneTime    key.Curve25519 // E_B (a one-time or fallback key)
	received      bool
	r             *ratchet.Ratchet
}

// Clone returns an independent copy of s: a decryption attempted on the
// copy (for example one that a later validation may refuse) never changes
// s. The copy is as secret as s.
func (s *Session) Clone() *Session {
	c := *s
	c.r = s.r.Clone()
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

// HasReceivedMessage reports whether the session has decrypted a message
// from its peer. Until it has, Encrypt produces pre-key messages. Inbound
// sessions have always received one (the message that created them).
func (s *Session) HasReceivedMessage() bool { return s.received }

// AliceIdentityKey returns the Curve25519 identity key I_A of the
// session's initiator (ours for an outbound session, the peer's for an
// inbound one).
func (s *Session) AliceIdentityKey() key.Curve25519 { return s.aliceIdentity }

// BaseKey returns the initiator's base key E_A.
func (s *Session) BaseKey() key.Curve25519 { return s.aliceBase }

// OneTimeKey returns the responder's one-time or fallback key E_B.
func (s *Session) OneTimeKey() key.Curve25519 { return s.bobOneTime }

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

// Describe returns a one-line diagnostic of the session for debugging
// wedged sessions: its id, whether it has received a message, and its
// chains with their indices and skipped-key counts. It contains no secret.
func (s *Session) Describe() string {
	return fmt.Sprintf("session %s: received message %t; %s", s.ID(), s.received, s.r.Describe())
}

// Format prints Describe for every verb; no secret is shown. It has a value
// receiver so that a Session value is redacted too.
func (s Session) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "olm.Session{%s}", s.Describe())
}

// Encrypt encrypts plaintext, reading randomness from crypto/rand when a
// new sending chain starts. See EncryptFrom.
func (s *Session) Encrypt(plaintext []byte) (EncryptedMessage, error) {
	return s.EncryptFrom(rand.Reader, plaintext)
}

// EncryptFrom encrypts plaintext. The result is a pre-key message (type
// 0) until the session has received a message, then a normal message
// (type 1). It reads 32 bytes from rand only when a new sending chain
// starts (the first message after receiving on a new chain, and Bob's
// first message), as libolm does. On error the session is unchanged.
func (s *Session) EncryptFrom(rand io.Reader, plaintext []byte) (EncryptedMessage, error) {
	typ, body, err := s.AppendEncryptFrom(rand, nil, plaintext)
	if err != nil {
		return EncryptedMessage{}, err
	}
	return EncryptedMessage{Type: typ, Body: body}, nil
}

// AppendEncrypt is the append-style form of Encrypt: it appends the
// message body to dst and returns the message type and the extended slice.
// With a dst of enough capacity, a message costs two allocations (the AES
// cipher and its CBC mode inside crypto/aes).
func (s *Session) AppendEncrypt(dst, plaintext []byte) (MessageType, []byte, error) {
	return s.AppendEncryptFrom(rand.Reader, dst, plaintext)
}

// AppendEncryptFrom is AppendEncrypt with the randomness of EncryptFrom.
func (s *Session) AppendEncryptFrom(rand io.Reader, dst, plaintext []byte) (MessageType, []byte, error) {
	ratchetKey, mk, err := s.r.Encrypt(rand)
	if err != nil {
		return 0, nil, fmt.Errorf("olm: %w", err)
	}
	kb := mk.Bytes()
	keys := aessha2.Derive(kb[:], aessha2.InfoOlm)
	clear(kb[:])
	ctLen := aessha2.CiphertextLen(len(plaintext))
	innerLen := messageLen(mk.Index(), ctLen)
	typ, size := TypeMessage, innerLen
	if !s.received {
		typ, size = TypePreKey, preKeyHeaderLen(innerLen)+innerLen
	}
	buf := slices.Grow(dst, size)
	if typ == TypePreKey {
		buf = appendPreKeyHeader(buf, &s.bobOneTime, &s.aliceBase, &s.aliceIdentity, innerLen)
	}
	start := len(buf)
	buf = appendMessageHeader(buf, &ratchetKey, mk.Index(), ctLen)
	buf = keys.Encrypt(buf, plaintext)
	buf = keys.AppendTag(buf, buf[start:])
	return typ, buf, nil
}

// Decrypt decrypts a message from the peer: a normal message, or a
// pre-key message (the first messages of a session whose peer has not yet
// heard from us). The MAC is verified over the received bytes and the
// padding checked before the session changes; a message that fails in any
// way (malformed, wrong MAC, replayed, too far ahead, ...) leaves the
// session exactly as it was.
func (s *Session) Decrypt(m EncryptedMessage) ([]byte, error) {
	return s.AppendDecrypt(nil, m)
}

// AppendDecrypt is the append-style form of Decrypt: it appends the
// plaintext to dst and returns the extended slice. With a dst of enough
// capacity, a normal message costs two allocations (the AES cipher and its
// CBC mode inside crypto/aes).
func (s *Session) AppendDecrypt(dst []byte, m EncryptedMessage) ([]byte, error) {
	switch m.Type {
	case TypeMessage:
		var msg Message
		if err := msg.parse(m.Body); err != nil {
			return nil, err
		}
		return s.AppendDecryptMessage(dst, &msg)
	case TypePreKey:
		msg, err := ParsePreKeyMessage(m.Body)
		if err != nil {
			return nil, err
		}
		return s.AppendDecryptMessage(dst, msg.Message)
	default:
		return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformedMessage, m.Type)
	}
}

// DecryptMessage decrypts a parsed normal message (for a pre-key message,
// pass its Message). See Decrypt.
func (s *Session) DecryptMessage(m *Message) ([]byte, error) {
	return s.AppendDecryptMessage(nil, m)
}

// AppendDecryptMessage is the append-style form of DecryptMessage.
func (s *Session) AppendDecryptMessage(dst []byte, m *Message) ([]byte, error) {
	var plaintext []byte
	err := s.r.Decrypt(m.RatchetKey, m.Index, func(mk ratchet.MessageKey) error {
		var err error
		plaintext, err = open(dst, &mk, m)
		return err
	})
	if err != nil {
		switch {
		case errors.Is(err, ErrAuthentication), errors.Is(err, ErrMessageGap), errors.Is(err, ErrUnknownMessageIndex):
			return nil, err
		case errors.Is(err, ratchet.ErrNoSendingChain):
			return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
		default:
			return nil, fmt.Errorf("olm: %w", err)
		}
	}
	s.received = true
	return plaintext, nil
}

// open verifies the MAC of m under the message key and appends its
// decryption to dst.
func open(dst []byte, mk *ratchet.MessageKey, m *Message) ([]byte, error) {
	if len(m.raw) < MACSize {
		return nil, fmt.Errorf("%w: message was not parsed", ErrMalformedMessage)
	}
	kb := mk.Bytes()
	keys := aessha2.Derive(kb[:], aessha2.InfoOlm)
	clear(kb[:])
	n := len(m.raw) - MACSize
	pt, err := keys.Open(dst, m.raw[:n], m.raw[n:], m.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	return pt, nil
}
