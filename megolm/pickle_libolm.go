package megolm

import (
	"fmt"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// libolm pickle versions (libolm src/outbound_group_session.c and
// src/inbound_group_session.c).
const (
	libolmOutboundVersion   = 1
	libolmInboundVersionV1  = 1 // no verification flag: read as verified
	libolmInboundVersionV2  = 2
	libolmOutboundPlainSize = 4 + ratchetSize + 4 + key.Ed25519Size + key.ExpandedSigningKeySize
	libolmInboundPlainSize  = 4 + 2*(ratchetSize+4) + key.Ed25519Size + 1
)

// PickleLibolm serialises the session as libolm's OlmOutboundGroupSession
// pickle (version 1: ratchet, counter, Ed25519 public key and expanded
// private key) in libolm's envelope under a pickle key of any length. The
// envelope's IV is derived from the pickle key, so equal sessions pickle
// equally: this format exists for moving state to and from libolm; prefer
// [OutboundSession.Pickle]. Every session of [SessionConfigV1] is
// representable in libolm's format; one of [SessionConfigV2] is refused
// with [ErrSessionConfigV2] (libolm knows no session config).
func (s *OutboundSession) PickleLibolm(pickleKey []byte) (string, error) {
	if s.config == SessionConfigV2 {
		return "", ErrSessionConfigV2
	}
	w := wire.NewBuilder(pickle.LibolmBuffer(libolmOutboundPlainSize))
	w.AddUint32(libolmOutboundVersion)
	appendRatchet(w, &s.r)
	pub := s.signing.Public()
	w.AddBytes(pub[:])
	x := s.signing.Expanded()
	w.AddBytes(x[:])
	clear(x[:])
	pt := w.Bytes()
	return pickle.SealLibolmInPlace(pickleKey, pt), nil // consumes pt
}

// UnpickleLibolmOutboundSession restores an outbound session from a libolm
// pickle (version 1). libolm keeps only the expanded Ed25519 key, so the
// session signs with it (byte-identical signatures) and cannot report a
// seed; it pickles in sicher's format all the same. Errors wrap
// [ErrBadPickle].
func UnpickleLibolmOutboundSession(pickleKey []byte, p string) (*OutboundSession, error) {
	opened, err := pickle.OpenLibolmScratch(pickleKey, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	pt := opened.Body
	r := wire.Reader(pt)
	var version uint32
	if !r.ReadUint32(&version) || version != libolmOutboundVersion {
		return nil, fmt.Errorf("%w: unknown libolm outbound session version %d", ErrBadPickle, version)
	}
	s := new(OutboundSession)
	var pub key.Ed25519
	var expanded []byte
	if !readRatchet(&r, &s.r) || !r.CopyBytes(pub[:]) || !r.ReadBytes(&expanded, key.ExpandedSigningKeySize) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	if !r.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadPickle)
	}
	if s.signing, err = key.NewExpandedSigningKey(expanded); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	if s.signing.Public() != pub {
		return nil, fmt.Errorf("%w: public key does not match the private key", ErrBadPickle)
	}
	return s, nil
}

// PickleLibolm serialises the session as libolm's OlmInboundGroupSession
// pickle, version 2 (initial ratchet, latest ratchet, signing key,
// verification flag), in libolm's envelope under a pickle key of any
// length. See [OutboundSession.PickleLibolm] on the envelope. Every inbound
// session of [SessionConfigV1] is representable in libolm's format; one of
// [SessionConfigV2] is refused with [ErrSessionConfigV2].
func (s *InboundSession) PickleLibolm(pickleKey []byte) (string, error) {
	if s.config == SessionConfigV2 {
		return "", ErrSessionConfigV2
	}
	w := wire.NewBuilder(pickle.LibolmBuffer(libolmInboundPlainSize))
	w.AddUint32(libolmInboundVersionV2)
	appendRatchet(w, &s.initial)
	appendRatchet(w, &s.latest)
	w.AddBytes(s.signingKey[:])
	w.AddBool(s.verified)
	pt := w.Bytes()
	return pickle.SealLibolmInPlace(pickleKey, pt), nil // consumes pt
}

// UnpickleLibolmInboundSession restores an inbound session from a libolm
// pickle of version 1 (which has no verification flag and is read as
// verified, as libolm does) or 2. libolm sets the flag after any successful
// decryption, so a libolm session may arrive verified where sicher would not
// have marked it so. Errors wrap [ErrBadPickle].
func UnpickleLibolmInboundSession(pickleKey []byte, p string) (*InboundSession, error) {
	opened, err := pickle.OpenLibolmScratch(pickleKey, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	pt := opened.Body
	r := wire.Reader(pt)
	var version uint32
	if !r.ReadUint32(&version) || (version != libolmInboundVersionV1 && version != libolmInboundVersionV2) {
		return nil, fmt.Errorf("%w: unknown libolm inbound session version %d", ErrBadPickle, version)
	}
	var initial, latest ratchet
	var signingKey key.Ed25519
	defer initial.wipe()
	defer latest.wipe()
	verified := true
	if !readRatchet(&r, &initial) || !readRatchet(&r, &latest) || !r.CopyBytes(signingKey[:]) ||
		(version == libolmInboundVersionV2 && !r.ReadBool(&verified)) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	if !r.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadPickle)
	}
	return restoreInbound(&initial, &latest, signingKey, verified)
}
