package megolm

import (
	"crypto/rand"
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

	pickleVersion = 1

	// Forms of the signing key in an outbound pickle.
	signingKeySeed     = 1 // 32-byte seed
	signingKeyExpanded = 2 // libolm's 64-byte expanded key (sessions imported from libolm)
)

// Pickle serialises the session in sicher's own format: versioned, then
// sealed with AES-256-GCM under key with a fresh random nonce (crypto/rand)
// and the object kind as additional data. The result is secret only as far
// as key is; keep key secret. For libolm's format see
// [OutboundSession.PickleLibolm].
func (s *OutboundSession) Pickle(key *[PickleKeySize]byte) (string, error) {
	return s.PickleFrom(rand.Reader, key)
}

// PickleFrom is [OutboundSession.Pickle] reading the 12-byte nonce from rnd.
func (s *OutboundSession) PickleFrom(rnd io.Reader, k *[PickleKeySize]byte) (string, error) {
	w := wire.NewBuilder(make([]byte, 0, 4+ratchetSize+4+1+key.ExpandedSigningKeySize))
	w.AddUint32(pickleVersion)
	w.AddBytes(s.r.data[:])
	w.AddUint32(s.r.counter)
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
	pt := w.Bytes()
	defer clear(pt)
	return pickle.Seal(rnd, k, outboundPickleKind, pt[0], pt[1:])
}

// UnpickleOutboundSession restores a session pickled by
// [OutboundSession.Pickle] under the same key. Errors wrap [ErrBadPickle].
func UnpickleOutboundSession(k *[PickleKeySize]byte, p string) (*OutboundSession, error) {
	v0, body, err := pickle.Open(k, outboundPickleKind, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	pt := append([]byte{v0}, body...) // TODO(api-v1): parse by version
	clear(body)
	defer clear(pt)
	r := wire.Reader(pt)
	var version uint32
	if !r.ReadUint32(&version) || version != pickleVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadPickle, version)
	}
	s := new(OutboundSession)
	var form uint8
	var sk []byte
	if !r.CopyBytes(s.r.data[:]) || !r.ReadUint32(&s.r.counter) || !r.ReadUint8(&form) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	switch form {
	case signingKeySeed:
		if !r.ReadBytes(&sk, key.SigningKeySeedSize) {
			return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
		}
		s.signing, err = key.NewSigningKey(sk)
	case signingKeyExpanded:
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
	if !r.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadPickle)
	}
	return s, nil
}

// Pickle serialises the session (both ratchets, the signing key and the
// verification flag) in sicher's own format; see [OutboundSession.Pickle].
func (s *InboundSession) Pickle(key *[PickleKeySize]byte) (string, error) {
	return s.PickleFrom(rand.Reader, key)
}

// PickleFrom is [InboundSession.Pickle] reading the 12-byte nonce from rnd.
func (s *InboundSession) PickleFrom(rnd io.Reader, k *[PickleKeySize]byte) (string, error) {
	w := wire.NewBuilder(make([]byte, 0, 4+2*(ratchetSize+4)+key.Ed25519Size+1))
	w.AddUint32(pickleVersion)
	appendRatchet(w, &s.initial)
	appendRatchet(w, &s.latest)
	w.AddBytes(s.signingKey[:])
	w.AddBool(s.verified)
	pt := w.Bytes()
	defer clear(pt)
	return pickle.Seal(rnd, k, inboundPickleKind, pt[0], pt[1:])
}

// UnpickleInboundSession restores a session pickled by
// [InboundSession.Pickle] under the same key. Errors wrap [ErrBadPickle].
func UnpickleInboundSession(k *[PickleKeySize]byte, p string) (*InboundSession, error) {
	v0, body, err := pickle.Open(k, inboundPickleKind, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	pt := append([]byte{v0}, body...) // TODO(api-v1): parse by version
	clear(body)
	defer clear(pt)
	r := wire.Reader(pt)
	var version uint32
	if !r.ReadUint32(&version) || version != pickleVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadPickle, version)
	}
	var initial, latest ratchet
	var signingKey key.Ed25519
	var verified bool
	defer initial.wipe()
	defer latest.wipe()
	if !readRatchet(&r, &initial) || !readRatchet(&r, &latest) ||
		!r.CopyBytes(signingKey[:]) || !r.ReadBool(&verified) {
		return nil, fmt.Errorf("%w: truncated", ErrBadPickle)
	}
	if !r.Empty() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadPickle)
	}
	return restoreInbound(&initial, &latest, signingKey, verified)
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
