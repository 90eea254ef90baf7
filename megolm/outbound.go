package megolm

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// randomSize is the number of random bytes a new outbound session reads:
// 128 for the ratchet, then a 32-byte Ed25519 seed (libolm's
// olm_init_outbound_group_session_random_length, in libolm's order).
const randomSize = ratchetSize + key.SigningKeySeedSize

// OutboundSession is the sending side of a Megolm session: a ratchet at the
// index of the next message and the Ed25519 key that signs every message.
// Share [OutboundSession.SessionKey] with each recipient device over Olm,
// then send [OutboundSession.Encrypt]'s messages to the room. Rotate the
// session as the room's m.room.encryption settings say (by default after
// 100 messages or a week) and whenever a member leaves.
//
// An OutboundSession is secret; fmt prints only its session ID and index.
// It is not safe for concurrent use: each Encrypt advances the ratchet.
type OutboundSession struct {
	r       ratchet
	signing *key.SigningKey
	config  SessionConfig // zero: SessionConfigV1
}

// NewOutboundSession creates a session at index 0 from 160 bytes
// of crypto/rand. The error wraps the reader's, should it fail.
func NewOutboundSession() (*OutboundSession, error) {
	return NewOutboundSessionFrom(rand.Reader)
}

// NewOutboundSessionFrom is [NewOutboundSession] reading its [randomSize]
// bytes from rand (nil means crypto/rand): the ratchet first, then the
// signing key's seed, exactly as libolm consumes them, so a libolm
// transcript with the same random bytes replays byte for byte.
func NewOutboundSessionFrom(rand io.Reader) (*OutboundSession, error) {
	if rand == nil {
		return NewOutboundSession()
	}
	var buf [randomSize]byte
	defer clear(buf[:])
	if _, err := io.ReadFull(rand, buf[:]); err != nil {
		return nil, fmt.Errorf("megolm: reading randomness: %w", err)
	}
	sk, err := key.NewSigningKey(buf[ratchetSize:])
	if err != nil {
		panic("megolm: internal error: " + err.Error())
	}
	s := &OutboundSession{signing: sk}
	copy(s.r.data[:], buf[:ratchetSize])
	return s, nil
}

// SessionID returns the session's public signing key, its identifier
// (session_id in events; its String method gives the base64 form).
func (s *OutboundSession) SessionID() key.Ed25519 { return s.signing.Public() }

// MessageIndex returns the index the next message will be encrypted at.
func (s *OutboundSession) MessageIndex() uint32 { return s.r.counter }

// SessionKey returns the signed session key at the current index, to be
// shared with recipients (m.room_key). The result is secret.
func (s *OutboundSession) SessionKey() *SessionKey {
	k := &SessionKey{r: s.r, signingKey: s.signing.Public()}
	var buf [exportedKeySize]byte
	body := appendKeyBody(buf[:0], sessionKeyVersion, &s.r, k.signingKey)
	k.signature = s.signing.Sign(body)
	clear(buf[:])
	return k
}

// Encrypt encrypts plaintext at the current index, appends the binary
// message to dst and returns the extended slice, then advances the ratchet
// (megolm.md "Encrypting a message"). dst and plaintext may not overlap.
// The event layer encodes the result as the base64 "ciphertext".
//
// After index 2^32-1 the index wraps to 0, as in libolm; recipients
// following vodozemac's rules (sicher among them) refuse the wrapped
// messages, so rotate sessions long before.
func (s *OutboundSession) Encrypt(dst, plaintext []byte) []byte {
	keys := s.r.keys()
	start := len(dst)
	dst = slices.Grow(dst, messageLenMAC(s.r.counter, len(plaintext), s.config.macLen()))
	w := wire.NewBuilder(dst)
	w.AddUint8(s.config.messageVersion())
	w.AddVarintField(fieldIndex, uint64(s.r.counter))
	w.AddUvarint(fieldCiphertext<<3 | wire.TypeBytes)
	w.AddUvarint(uint64(aessha2.CiphertextLen(len(plaintext))))
	out := keys.Encrypt(w.Bytes(), plaintext)
	if s.config == SessionConfigV2 {
		mac := keys.MAC(out[start:])
		out = append(out, mac[:]...)
	} else {
		out = keys.AppendTag(out, out[start:])
	}
	sig := s.signing.Sign(out[start:])
	out = append(out, sig[:]...)
	s.r.advance()
	return out
}

// Format prints the session ID and index only, for every verb.
func (s OutboundSession) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "megolm.OutboundSession{session: %s, index: %d}", s.signing.Public(), s.r.counter)
}

// LogValue implements slog.LogValuer: the session ID and index only.
func (s OutboundSession) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session_id", s.signing.Public().String()), slog.Uint64("index", uint64(s.r.counter)))
}
