package ratchet

import (
	"crypto/ecdh"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"

	"github.com/sicher-go/sicher/internal/hmacsha256"
	"github.com/sicher-go/sicher/key"
)

// Limits, as in libolm 3.2.13 (src/ratchet.cpp) and vodozemac.
const (
	// MaxReceiverChains is the number of receiver chains kept.
	MaxReceiverChains = 5
	// MaxMessageGap is how far ahead of its chain a message index may be.
	MaxMessageGap = 2000
	// MaxSkippedKeys is the number of skipped message keys kept per
	// receiver chain.
	MaxSkippedKeys = 40
)

// KDF info strings (olm.md).
const (
	infoRoot    = "OLM_ROOT"
	infoRatchet = "OLM_RATCHET"
)

var (
	// ErrMessageGap is returned for a message more than MaxMessageGap
	// indices ahead of its chain.
	ErrMessageGap = errors.New("ratchet: message index too far ahead of its chain")
	// ErrUnknownMessageIndex is returned for a message whose index is
	// behind its chain and whose key is not kept: a replay, or a message
	// older than the skipped keys still stored.
	ErrUnknownMessageIndex = errors.New("ratchet: no key for this message index (replayed or too old)")
	// ErrNoSendingChain is returned for a message on a new ratchet key
	// while we have no ratchet key of our own to step with (the peer moved
	// to a new chain before receiving one of ours; libolm rejects it too).
	ErrNoSendingChain = errors.New("ratchet: peer started a new chain before we sent one")
	// ErrChainExhausted is returned when a sending chain has used all
	// 2^32-1 message indices.
	ErrChainExhausted = errors.New("ratchet: sending chain exhausted")
)

// MessageKey is the key of one message: M_{i,j} and its index j. It is
// secret. Package olm expands it with HKDF ("OLM_KEYS") into the AES key,
// MAC key and IV of the message.
type MessageKey struct {
	key   [32]byte
	index uint32
}

// Index returns the index of the message the key belongs to.
func (m *MessageKey) Index() uint32 { return m.index }

// Bytes returns the 32-byte message key. The result is secret.
func (m *MessageKey) Bytes() [32]byte { return m.key }

// Format redacts the key for every verb.
func (m MessageKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "ratchet.MessageKey{index: %d, key: REDACTED}", m.index)
}

// LogValue implements slog.LogValuer: the index only.
func (m MessageKey) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("ratchet.MessageKey{index: %d, key: REDACTED}", m.index))
}

// chainKey is C_{i,j}: the key and its index j.
type chainKey struct {
	key   [32]byte
	index uint32
}

// messageKey returns M_{i,j} = HMAC(C_{i,j}, 0x01).
func (c *chainKey) messageKey() MessageKey {
	return MessageKey{key: hmacByte(&c.key, 0x01), index: c.index}
}

// advance replaces C_{i,j} by C_{i,j+1} = HMAC(C_{i,j}, 0x02).
func (c *chainKey) advance() {
	c.key = hmacByte(&c.key, 0x02)
	c.index++
}

// hmacByte is HMAC-SHA-256 of one byte under a 32-byte key, without
// allocating.
func hmacByte(k *[32]byte, b byte) [32]byte {
	return hmacsha256.Sum(k[:], []byte{b})
}

// skippedKey is a message key kept for a message that has not arrived.
type skippedKey struct {
	index uint32
	key   [32]byte
}

// receiverChain is a chain the peer sends on, named by their ratchet key.
type receiverChain struct {
	ratchetKey key.Curve25519
	chain      chainKey
	skipped    []skippedKey // oldest first, at most MaxSkippedKeys
}

// senderChain is our current chain: our ratchet key pair and chain key.
//
// The private half is kept as bytes and turned into a crypto/ecdh key only
// when a receiving step needs it (ecdhKey): crypto/ecdh computes the public
// half on construction, a scalar multiplication that loading a pickle,
// which stores the public half, does not need.
type senderChain struct {
	priv    [32]byte
	pub     key.Curve25519
	chain   chainKey
	ecdhKey *ecdh.PrivateKey // priv as a crypto/ecdh key, or nil until first used
}

// newSenderChain returns a sending chain on the ratchet key pair k.
func newSenderChain(k *ecdh.PrivateKey, ck chainKey) *senderChain {
	s := &senderChain{pub: key.Curve25519Public(k), chain: ck, ecdhKey: k}
	b := k.Bytes()
	copy(s.priv[:], b)
	clear(b)
	return s
}

// privateKey returns the private ratchet key as a crypto/ecdh key, made on
// first use. Only X25519 with the private half uses it, so a wrong stored
// public half can never expose the private key.
func (s *senderChain) privateKey() (*ecdh.PrivateKey, error) {
	if s.ecdhKey == nil {
		k, err := key.NewCurve25519PrivateKey(s.priv[:])
		if err != nil {
			return nil, err
		}
		s.ecdhKey = k
	}
	return s.ecdhKey, nil
}

// Ratchet is one side of an Olm Double Ratchet. It is secret and not safe
// for concurrent use. The zero value is not usable: make one with
// [NewAlice], [NewBob] or [ParseState].
type Ratchet struct {
	root      rootKey
	sender    *senderChain    // nil until we start a chain (Bob) and after each receiving step
	receivers []receiverChain // newest first, at most MaxReceiverChains
}

// rootKey is the root key R_i (olm.md "Advancing the root key"). It is
// secret.
type rootKey [32]byte

// kdf expands secret with HKDF-SHA-256 into a root key and a chain key.
func kdf(secret, salt []byte, info string) (rootKey, chainKey) {
	var b [64]byte
	hmacsha256.HKDF(b[:], salt, secret, info)
	var root rootKey
	var ck chainKey
	copy(root[:], b[:32])
	copy(ck.key[:], b[32:])
	clear(b[:])
	return root, ck
}

// NewAlice returns the ratchet of the session's initiator: shared is the
// 96-byte 3DH secret, ourRatchet the first ratchet key pair (T0), on whose
// chain Alice sends until Bob replies.
func NewAlice(shared []byte, ourRatchet *ecdh.PrivateKey) *Ratchet {
	root, ck := kdf(shared, nil, infoRoot)
	return &Ratchet{
		root:   root,
		sender: newSenderChain(ourRatchet, ck),
	}
}

// NewBob returns the ratchet of the responder: shared is the 96-byte 3DH
// secret, theirRatchet Alice's first ratchet key (T0, from the pre-key
// message). Bob has no sending chain until he first encrypts.
func NewBob(shared []byte, theirRatchet key.Curve25519) *Ratchet {
	root, ck := kdf(shared, nil, infoRoot)
	return &Ratchet{
		root:      root,
		receivers: []receiverChain{{ratchetKey: theirRatchet, chain: ck}},
	}
}

// NextMessageKey returns our current ratchet key and the key for the next message
// we send, and advances the sending chain. If there is no sending chain
// (first message after a receiving step, or Bob's first message), it reads
// 32 bytes from rand for a new ratchet key and steps the root key first.
// On error the ratchet is unchanged.
func (r *Ratchet) NextMessageKey(rand io.Reader) (key.Curve25519, MessageKey, error) {
	if r.sender == nil {
		if len(r.receivers) == 0 {
			panic("ratchet: internal error: no sending and no receiving chain")
		}
		priv, err := key.GenerateCurve25519(rand)
		if err != nil {
			return key.Curve25519{}, MessageKey{}, err
		}
		shared, err := key.X25519(priv, r.receivers[0].ratchetKey)
		if err != nil {
			return key.Curve25519{}, MessageKey{}, err
		}
		root, ck := kdf(shared[:], r.root[:], infoRatchet)
		clear(shared[:])
		r.root = root
		r.sender = newSenderChain(priv, ck)
	}
	c := &r.sender.chain
	if c.index == math.MaxUint32 {
		return key.Curve25519{}, MessageKey{}, ErrChainExhausted
	}
	mk := c.messageKey()
	c.advance()
	return r.sender.pub, mk, nil
}

// Receive finds or derives the key of message index on the peer's chain
// theirRatchet and calls open with it. Only if open returns nil is the
// ratchet updated (chain advanced, skipped keys stored or used up, a new
// receiver chain and root key adopted); if anything fails, the ratchet is
// unchanged. The error of open is returned as it is.
//
// The gap limit is checked before any key is derived, and a new chain's
// root step rejects a low-order ratchet key with key.ErrNonContributory.
func (r *Ratchet) Receive(theirRatchet key.Curve25519, index uint32, open func(MessageKey) error) error {
	if index == math.MaxUint32 {
		// A chain cannot advance past the last index.
		return fmt.Errorf("%w: index %d", ErrMessageGap, index)
	}
	if i := r.findReceiver(theirRatchet); i >= 0 {
		c := &r.receivers[i]
		if index < c.chain.index {
			j := c.findSkipped(index)
			if j < 0 {
				return fmt.Errorf("%w: index %d, chain at %d", ErrUnknownMessageIndex, index, c.chain.index)
			}
			if err := open(MessageKey{key: c.skipped[j].key, index: index}); err != nil {
				return err
			}
			n := len(c.skipped) - 1
			copy(c.skipped[j:], c.skipped[j+1:])
			clear(c.skipped[n].key[:]) // the used key, or a copy of the last one
			c.skipped = c.skipped[:n]
			return nil
		}
		if gap := index - c.chain.index; gap > MaxMessageGap {
			return fmt.Errorf("%w: gap %d > %d", ErrMessageGap, gap, MaxMessageGap)
		}
		ck := c.chain
		var buf [MaxSkippedKeys]skippedKey
		mk, skipped := deriveTo(&ck, index, buf[:0])
		defer clear(buf[:])
		if err := open(mk); err != nil {
			return err
		}
		c.chain = ck
		c.addSkipped(skipped)
		return nil
	}
	// A new chain: step the root key with our sending ratchet key.
	if r.sender == nil {
		return ErrNoSendingChain
	}
	if index > MaxMessageGap {
		return fmt.Errorf("%w: gap %d > %d", ErrMessageGap, index, MaxMessageGap)
	}
	priv, err := r.sender.privateKey()
	if err != nil {
		return err
	}
	shared, err := key.X25519(priv, theirRatchet)
	if err != nil {
		return err
	}
	root, ck := kdf(shared[:], r.root[:], infoRatchet)
	clear(shared[:])
	var buf [MaxSkippedKeys]skippedKey
	mk, skipped := deriveTo(&ck, index, buf[:0])
	defer clear(buf[:])
	if err := open(mk); err != nil {
		return err
	}
	// Commit: adopt the new root and chain; forget our ratchet key, a new
	// one is made when we next send (libolm and vodozemac alike).
	r.root = root
	nc := receiverChain{ratchetKey: theirRatchet, chain: ck}
	nc.addSkipped(skipped)
	if len(r.receivers) == MaxReceiverChains {
		old := &r.receivers[MaxReceiverChains-1]
		old.wipe()
		r.receivers = r.receivers[:MaxReceiverChains-1]
	}
	r.receivers = append(r.receivers, receiverChain{})
	copy(r.receivers[1:], r.receivers)
	r.receivers[0] = nc
	r.sender.wipe()
	r.sender = nil
	return nil
}

// deriveTo advances ck to just past target and returns the key of target
// and the keys of the skipped indices before it (the newest MaxSkippedKeys
// of them, appended to buf). The caller has checked the gap.
func deriveTo(ck *chainKey, target uint32, buf []skippedKey) (MessageKey, []skippedKey) {
	for target-ck.index > MaxSkippedKeys {
		ck.advance()
	}
	for ck.index < target {
		mk := ck.messageKey()
		buf = append(buf, skippedKey{index: mk.index, key: mk.key})
		ck.advance()
	}
	mk := ck.messageKey()
	ck.advance()
	return mk, buf
}

func (r *Ratchet) findReceiver(k key.Curve25519) int {
	for i := range r.receivers {
		if r.receivers[i].ratchetKey == k {
			return i
		}
	}
	return -1
}

func (c *receiverChain) findSkipped(index uint32) int {
	for i := range c.skipped {
		if c.skipped[i].index == index {
			return i
		}
	}
	return -1
}

// addSkipped appends keys (oldest first) and keeps the newest
// MaxSkippedKeys.
func (c *receiverChain) addSkipped(keys []skippedKey) {
	if len(keys) == 0 {
		return
	}
	if drop := len(c.skipped) + len(keys) - MaxSkippedKeys; drop > 0 {
		for i := range c.skipped[:drop] {
			clear(c.skipped[i].key[:])
		}
		c.skipped = append(c.skipped[:0], c.skipped[drop:]...)
	}
	c.skipped = append(c.skipped, keys...)
}

func (c *receiverChain) wipe() {
	clear(c.chain.key[:])
	for i := range c.skipped {
		clear(c.skipped[i].key[:])
	}
	c.skipped = nil
}

func (s *senderChain) wipe() {
	clear(s.chain.key[:])
	clear(s.priv[:])
	s.ecdhKey = nil
}

// Equal reports in constant time whether r and other hold the same state.
func (r *Ratchet) Equal(other *Ratchet) bool {
	a, b := r.AppendState(nil), other.AppendState(nil)
	defer clear(a)
	defer clear(b)
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Clone returns an independent copy of r: work done on the copy (a
// decryption that a later check may refuse) never shows in r. The copy is
// as secret as r.
func (r *Ratchet) Clone() *Ratchet {
	c := &Ratchet{root: r.root}
	if r.sender != nil {
		s := *r.sender // the cached *ecdh.PrivateKey is immutable and can be shared
		c.sender = &s
	}
	c.receivers = make([]receiverChain, len(r.receivers), MaxReceiverChains)
	for i, rc := range r.receivers {
		rc.skipped = slices.Clone(rc.skipped)
		c.receivers[i] = rc
	}
	return c
}

// Describe returns a one-line summary of the chains, for debugging wedged
// sessions: the sending chain's ratchet key and index, and each receiver
// chain's ratchet key, index and skipped-key count. It contains no secret.
func (r *Ratchet) Describe() string {
	var sb strings.Builder
	if r.sender != nil {
		fmt.Fprintf(&sb, "sender chain: index %d (ratchet key %s)", r.sender.chain.index, r.sender.pub)
	} else {
		sb.WriteString("sender chain: none")
	}
	fmt.Fprintf(&sb, "; receiver chains (%d, newest first):", len(r.receivers))
	for i := range r.receivers {
		c := &r.receivers[i]
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, " index %d skipped %d (ratchet key %s)", c.chain.index, len(c.skipped), c.ratchetKey)
	}
	return sb.String()
}

// Format prints Describe for every verb; no secret is shown. It has a value
// receiver so that a Ratchet value is redacted too.
func (r Ratchet) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "ratchet.Ratchet{%s}", r.Describe())
}

// LogValue implements slog.LogValuer with what Format prints.
func (r Ratchet) LogValue() slog.Value {
	return slog.StringValue("ratchet.Ratchet{" + r.Describe() + "}")
}
