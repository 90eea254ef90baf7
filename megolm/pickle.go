package megolm

import (
	"bytes"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// PickleKeySize is the size of the key for sicher's own pickle format.
const PickleKeySize = pickle.KeySize

const (
	outboundPickleKind = "megolm.OutboundSession"
	inboundPickleKind  = "megolm.InboundSession"

	// Forms of the signing key in an outbound pickle of version 1 (as in
	// olm's pickles).
	signingKeySeed     = 0 // 32-byte seed
	signingKeyExpanded = 1 // libolm's 64-byte expanded key (sessions imported from libolm)

	// The same forms in legacy pickles.
	legacySigningKeySeed     = 1
	legacySigningKeyExpanded = 2
)

// legacyVersion is the rest of the u32 version 1 that legacy pickles
// start with; its first byte, 0, is the u8 version pickle.Open returns.
var legacyVersion = []byte{0, 0, 1}

// Pickle serialises the session in sicher's own format: versioned, then
// sealed with AES-256-GCM under pickleKey with a fresh random nonce
// (crypto/rand) and the object kind as additional data. The result is
// secret only as far as pickleKey is; keep pickleKey secret. For libolm's
// format see [OutboundSession.PickleLibolm].
func (s *OutboundSession) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	return s.pickleFrom(nil, pickleKey)
}

// pickleFrom is Pickle reading the 12-byte nonce from rand (nil means
// crypto/rand), for reproducible test pickles.
func (s *OutboundSession) pickleFrom(rand io.Reader, pickleKey *[PickleKeySize]byte) (string, error) {
	w := wire.NewBuilder(pickle.Buffer(1 + ratchetSize + 4 + 1 + key.ExpandedSigningKeySize))
	w.AddUint8(pickle.MegolmOutboundV1)
	appendRatchet(w, &s.r)
	if seed, ok := s.signing.Seed(); ok {
		w.AddUint8(signingKeySeed)
		w.AddBytes(seed)
		clear(seed)
	} else {
		x := s.signing.Expanded()
		w.AddUint8(signingKeyExpanded)
		w.AddBytes(x[:])
		clear(x[:])
	}
	appendConfig(w, s.config)
	p, err := pickle.SealBuffer(rand, pickleKey, outboundPickleKind, w.Bytes())
	if err != nil {
		return "", fmt.Errorf("megolm: %w", err)
	}
	return p, nil
}

// UnpickleOutboundSession restores a session pickled by
// [OutboundSession.Pickle] under the same key, in any version sicher has
// written. Errors wrap [ErrBadPickle].
func UnpickleOutboundSession(pickleKey *[PickleKeySize]byte, p string) (*OutboundSession, error) {
	opened, err := pickle.OpenScratch(pickleKey, outboundPickleKind, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	version, body := opened.Version, opened.Body
	r := wire.Reader(body)
	var s *OutboundSession
	switch version {
	case pickle.MegolmOutboundLegacy:
		s, err = parseOutbound(&r, true)
	case pickle.MegolmOutboundV1:
		s, err = parseOutbound(&r, false)
	default:
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadPickle, version)
	}
	if err != nil {
		return nil, err
	}
	if s.config, err = readConfig(&r); err != nil {
		return nil, err
	}
	return s, nil
}

// parseOutbound reads an outbound body: ratchet ‖ counter ‖ key form ‖
// key, after the rest of the u32 version in the legacy layout, whose key
// forms are numbered from 1.
func parseOutbound(r *wire.Reader, legacy bool) (*OutboundSession, error) {
	seedForm, expandedForm := uint8(signingKeySeed), uint8(signingKeyExpanded)
	if legacy {
		var v []byte
		if !r.ReadBytes(&v, len(legacyVersion)) || !bytes.Equal(v, legacyVersion) {
			return nil, fmt.Errorf("%w: unknown legacy version", ErrBadPickle)
		}
		seedForm, expandedForm = legacySigningKeySeed, legacySigningKeyExpanded
	}
	s := new(OutboundSession)
	var form uint8
	var sk []byte
	var err error
	if !readRatchet(r, &s.r) || !r.ReadUint8(&form) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	switch form {
	case seedForm:
		if !r.ReadBytes(&sk, key.SigningKeySeedSize) {
			return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
		}
		s.signing, err = key.NewSigningKey(sk)
	case expandedForm:
		if !r.ReadBytes(&sk, key.ExpandedSigningKeySize) {
			return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
		}
		s.signing, err = key.NewExpandedSigningKey(sk)
	default:
		return nil, fmt.Errorf("%w: unknown signing key form %d", ErrBadPickle, form)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	return s, nil
}

// Pickle serialises the session (both ratchets, the signing key and the
// verification flag) in sicher's own format; see [OutboundSession.Pickle].
func (s *InboundSession) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	return s.pickleFrom(nil, pickleKey)
}

// pickleFrom is Pickle reading the 12-byte nonce from rand (nil means
// crypto/rand), for reproducible test pickles.
func (s *InboundSession) pickleFrom(rand io.Reader, pickleKey *[PickleKeySize]byte) (string, error) {
	w := wire.NewBuilder(pickle.Buffer(1 + 2*(ratchetSize+4) + key.Ed25519Size + 1))
	w.AddUint8(pickle.MegolmInboundV1)
	appendRatchet(w, &s.initial)
	appendRatchet(w, &s.latest)
	w.AddBytes(s.signingKey[:])
	w.AddBool(s.verified)
	appendConfig(w, s.config)
	p, err := pickle.SealBuffer(rand, pickleKey, inboundPickleKind, w.Bytes())
	if err != nil {
		return "", fmt.Errorf("megolm: %w", err)
	}
	return p, nil
}

// UnpickleInboundSession restores a session pickled by
// [InboundSession.Pickle] under the same key, in any version sicher has
// written. Errors wrap [ErrBadPickle].
func UnpickleInboundSession(pickleKey *[PickleKeySize]byte, p string) (*InboundSession, error) {
	opened, err := pickle.OpenScratch(pickleKey, inboundPickleKind, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	version, body := opened.Version, opened.Body
	r := wire.Reader(body)
	switch version {
	case pickle.MegolmInboundLegacy:
		var v []byte
		if !r.ReadBytes(&v, len(legacyVersion)) || !bytes.Equal(v, legacyVersion) {
			return nil, fmt.Errorf("%w: unknown legacy version", ErrBadPickle)
		}
	case pickle.MegolmInboundV1:
	default:
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadPickle, version)
	}
	// Both versions share the body after the version.
	var initial, latest ratchet
	var signingKey key.Ed25519
	var verified bool
	defer initial.wipe()
	defer latest.wipe()
	if !readRatchet(&r, &initial) || !readRatchet(&r, &latest) ||
		!r.CopyBytes(signingKey[:]) || !r.ReadBool(&verified) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	config, err := readConfig(&r)
	if err != nil {
		return nil, err
	}
	s, err := restoreInbound(&initial, &latest, signingKey, verified)
	if err != nil {
		return nil, err
	}
	s.config = config
	return s, nil
}

// restoreInbound checks the invariants of a pickled inbound session.
func restoreInbound(initial, latest *ratchet, signingKey key.Ed25519, verified bool) (*InboundSession, error) {
	if latest.counter < initial.counter {
		return nil, fmt.Errorf("%w: latest index %d precedes first known index %d", ErrBadPickle, latest.counter, initial.counter)
	}
	s, err := newInbound(initial, signingKey, nil, verified)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	s.latest = *latest
	return s, nil
}

func appendRatchet(w *wire.Builder, r *ratchet) {
	w.AddBytes(r.data[:])
	w.AddUint32(r.counter)
}

func readRatchet(r *wire.Reader, rt *ratchet) bool {
	return r.CopyBytes(rt.data[:]) && r.ReadUint32(&rt.counter)
}
