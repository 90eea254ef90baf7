package ratchet

import (
	"errors"
	"fmt"

	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// ErrBadState is returned by ParseState and ParseLibolmState for state
// that is truncated, over a limit, or inconsistent.
var ErrBadState = errors.New("ratchet: malformed ratchet state")

// StateVersion is the version byte that starts the state AppendState
// writes. Version 2 is the layout below. Version 1 lacked our ratchet
// public key (it was recomputed from the private key at every load, a
// scalar multiplication); olm session pickles of version 1 stored that
// layout without the byte (see ParseUnversionedState).
const StateVersion = 2

// AppendState appends the complete ratchet state in sicher's layout and
// returns the extended slice. The result is secret: package olm encrypts
// it inside its pickles. The layout (all integers big-endian):
//
//	u8 version 2 ‖ root key 32 ‖ u8 has-sender ‖ [our ratchet private key 32 ‖ our ratchet public key 32
//	‖ chain key 32 ‖ u32 index] ‖ u8 receiver count ‖ per chain (newest first): their ratchet key 32
//	‖ chain key 32 ‖ u32 index ‖ u8 skipped count ‖ per skipped key (oldest first): u32 index ‖ key 32
//
// Version 1 is the same without our ratchet public key.
func (r *Ratchet) AppendState(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(StateVersion)
	b.AddBytes(r.root[:])
	b.AddBool(r.sender != nil)
	if r.sender != nil {
		b.AddBytes(r.sender.priv[:])
		b.AddBytes(r.sender.pub[:])
		b.AddBytes(r.sender.chain.key[:])
		b.AddUint32(r.sender.chain.index)
	}
	b.AddUint8(uint8(len(r.receivers)))
	for i := range r.receivers {
		c := &r.receivers[i]
		b.AddBytes(c.ratchetKey[:])
		b.AddBytes(c.chain.key[:])
		b.AddUint32(c.chain.index)
		b.AddUint8(uint8(len(c.skipped)))
		for _, s := range c.skipped {
			b.AddUint32(s.index)
			b.AddBytes(s.key[:])
		}
	}
	return b.Bytes()
}

// ParseState parses state written by AppendState, of any version. It
// rejects an unknown version, trailing bytes, counts over the limits, and
// a state with neither a sending nor a receiving chain.
func ParseState(state []byte) (*Ratchet, error) {
	if len(state) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadState)
	}
	switch state[0] {
	case 1:
		return parseState(state[1:], false)
	case 2:
		return parseState(state[1:], true)
	default:
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadState, state[0])
	}
}

// ParseUnversionedState parses the version 1 layout without its version
// byte, as olm session pickles of version 1 stored it.
func ParseUnversionedState(state []byte) (*Ratchet, error) { return parseState(state, false) }

// parseState parses the body of state version 2 (withPublic) or 1. The
// stored public ratchet key is taken as stored: the state is only ever
// read from an authenticated pickle that sicher wrote, and only X25519
// with the private key uses the pair, so a wrong public key could never
// expose the private one (the peer's next ratchet step would fail).
func parseState(state []byte, withPublic bool) (*Ratchet, error) {
	rd := wire.Reader(state)
	r := new(Ratchet)
	var hasSender bool
	if !rd.CopyBytes(r.root[:]) || !rd.ReadBool(&hasSender) {
		return nil, fmt.Errorf("%w: truncated", ErrBadState)
	}
	if hasSender {
		s := new(senderChain)
		if !rd.CopyBytes(s.priv[:]) || withPublic && !rd.CopyBytes(s.pub[:]) ||
			!rd.CopyBytes(s.chain.key[:]) || !rd.ReadUint32(&s.chain.index) {
			return nil, fmt.Errorf("%w: truncated sender chain", ErrBadState)
		}
		if !withPublic {
			if err := s.derivePublic(); err != nil {
				return nil, err
			}
		}
		r.sender = s
	}
	var n uint8
	if !rd.ReadUint8(&n) || n > MaxReceiverChains {
		return nil, fmt.Errorf("%w: bad receiver chain count", ErrBadState)
	}
	if n > 0 {
		r.receivers = make([]receiverChain, n)
	}
	for i := range r.receivers {
		c := &r.receivers[i]
		var ns uint8
		if !rd.CopyBytes(c.ratchetKey[:]) || !rd.CopyBytes(c.chain.key[:]) || !rd.ReadUint32(&c.chain.index) ||
			!rd.ReadUint8(&ns) || ns > MaxSkippedKeys {
			return nil, fmt.Errorf("%w: bad receiver chain", ErrBadState)
		}
		if ns > 0 {
			c.skipped = make([]skippedKey, ns)
		}
		for j := range c.skipped {
			if !rd.ReadUint32(&c.skipped[j].index) || !rd.CopyBytes(c.skipped[j].key[:]) {
				return nil, fmt.Errorf("%w: truncated skipped key", ErrBadState)
			}
		}
	}
	if !rd.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadState, rd.Len())
	}
	if r.sender == nil && len(r.receivers) == 0 {
		return nil, fmt.Errorf("%w: no chains", ErrBadState)
	}
	return r, nil
}

// derivePublic sets the public ratchet key from the private one, for
// layouts that do not store it.
func (s *senderChain) derivePublic() error {
	k, err := s.privateKey()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadState, err)
	}
	s.pub = key.Curve25519Public(k)
	return nil
}

// libolm's list capacities (src/ratchet.hh): at most one sender chain and
// MaxReceiverChains receiver chains, and MaxSkippedKeys skipped keys in
// total.
const libolmMaxSenderChains = 1

// AppendLibolmState appends the ratchet part of a libolm session pickle
// (version 1, src/ratchet.cpp pickle): root key 32 ‖ sender chains (u32
// count, then our ratchet public key 32 ‖ private key 32 ‖ chain key 32 ‖
// u32 index) ‖ receiver chains (u32 count, then their ratchet key 32 ‖
// chain key 32 ‖ u32 index, newest first) ‖ skipped keys (u32 count, then
// ratchet key 32 ‖ message key 32 ‖ u32 index, newest first). The result
// is secret.
//
// libolm keeps one list of at most MaxSkippedKeys skipped keys for all
// chains. If this ratchet holds more, the export keeps the keys of the
// newest chains (and within a chain the newest keys): a lossy conversion.
func (r *Ratchet) AppendLibolmState(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddBytes(r.root[:])
	if r.sender != nil {
		b.AddUint32(1)
		b.AddBytes(r.sender.pub[:])
		b.AddBytes(r.sender.priv[:])
		b.AddBytes(r.sender.chain.key[:])
		b.AddUint32(r.sender.chain.index)
	} else {
		b.AddUint32(0)
	}
	b.AddUint32(uint32(len(r.receivers)))
	total := 0
	for i := range r.receivers {
		c := &r.receivers[i]
		b.AddBytes(c.ratchetKey[:])
		b.AddBytes(c.chain.key[:])
		b.AddUint32(c.chain.index)
		total += len(c.skipped)
	}
	b.AddUint32(uint32(min(total, MaxSkippedKeys)))
	n := 0
	for i := range r.receivers {
		c := &r.receivers[i]
		for j := len(c.skipped) - 1; j >= 0 && n < MaxSkippedKeys; j-- {
			b.AddBytes(c.ratchetKey[:])
			b.AddBytes(c.skipped[j].key[:])
			b.AddUint32(c.skipped[j].index)
			n++
		}
	}
	return b.Bytes()
}

// ParseLibolmState parses the ratchet part of a libolm session pickle
// (see AppendLibolmState). It rejects lists longer than libolm's
// capacities (libolm would silently overwrite the last entry) and
// trailing bytes. The sender chain's public key is taken as stored. Skipped keys of a ratchet key that is no longer a receiver chain
// are dropped: libolm never consults them.
func ParseLibolmState(state []byte) (*Ratchet, error) {
	rd := wire.Reader(state)
	r := new(Ratchet)
	var n uint32
	if !rd.CopyBytes(r.root[:]) || !rd.ReadUint32(&n) || n > libolmMaxSenderChains {
		return nil, fmt.Errorf("%w: bad sender chain count", ErrBadState)
	}
	if n == 1 {
		// The public key is taken as stored, as in ParseState: the libolm
		// pickle is authenticated under the caller's pickle key.
		s := new(senderChain)
		if !rd.CopyBytes(s.pub[:]) || !rd.CopyBytes(s.priv[:]) || !rd.CopyBytes(s.chain.key[:]) || !rd.ReadUint32(&s.chain.index) {
			return nil, fmt.Errorf("%w: truncated sender chain", ErrBadState)
		}
		r.sender = s
	}
	if !rd.ReadUint32(&n) || n > MaxReceiverChains {
		return nil, fmt.Errorf("%w: bad receiver chain count", ErrBadState)
	}
	if n > 0 {
		r.receivers = make([]receiverChain, n)
	}
	for i := range r.receivers {
		c := &r.receivers[i]
		if !rd.CopyBytes(c.ratchetKey[:]) || !rd.CopyBytes(c.chain.key[:]) || !rd.ReadUint32(&c.chain.index) {
			return nil, fmt.Errorf("%w: truncated receiver chain", ErrBadState)
		}
	}
	if !rd.ReadUint32(&n) || n > MaxSkippedKeys {
		return nil, fmt.Errorf("%w: bad skipped key count", ErrBadState)
	}
	type entry struct {
		ratchetKey key.Curve25519
		sk         skippedKey
	}
	var buf [MaxSkippedKeys]entry
	entries := buf[:n]
	defer clear(buf[:])
	for i := range entries {
		e := &entries[i]
		if !rd.CopyBytes(e.ratchetKey[:]) || !rd.CopyBytes(e.sk.key[:]) || !rd.ReadUint32(&e.sk.index) {
			return nil, fmt.Errorf("%w: truncated skipped key", ErrBadState)
		}
	}
	if !rd.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadState, rd.Len())
	}
	if r.sender == nil && len(r.receivers) == 0 {
		return nil, fmt.Errorf("%w: no chains", ErrBadState)
	}
	// libolm lists the newest skipped key first; keep ours oldest first.
	for i := len(entries) - 1; i >= 0; i-- {
		if j := r.findReceiver(entries[i].ratchetKey); j >= 0 {
			r.receivers[j].skipped = append(r.receivers[j].skipped, entries[i].sk)
		}
	}
	return r, nil
}
