package peer

// Megolm group sessions (package megolm). Pickles use libolm's format
// (OutboundGroupSession version 1, InboundGroupSession version 2) with the
// passphrase as libolm's pickle key.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/megolm"
)

func outboundInfo(s *megolm.OutboundSession) result {
	return result{
		"session_id":    s.SessionID().String(),
		"session_key":   s.SessionKey().Base64(),
		"message_index": s.MessageIndex(),
	}
}

func inboundInfo(s *megolm.InboundSession) result {
	return result{
		"session_id":        s.SessionID().String(),
		"first_known_index": s.FirstKnownIndex(),
		"is_verified":       s.IsVerified(),
	}
}

// stored puts obj under a handle of the given kind and adds the handle to
// the result res.
func (p *peer) stored(r *request, kind string, obj any, res result) (result, error) {
	h, err := p.put(r, kind, obj)
	if err != nil {
		return nil, err
	}
	res["handle"] = h
	return res, nil
}

// createOutboundGroupSession takes an optional "random_b64": the bytes
// libolm would read (ratchet, then the Ed25519 seed), to replay libolm
// transcripts.
func createOutboundGroupSession(p *peer, r *request) (result, error) {
	var a struct {
		Random rawB64 `arg:"random_b64,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	var s *megolm.OutboundSession
	var err error
	if a.Random != nil {
		if len(a.Random) != megolmRandomSize {
			return nil, errPeer("argument \"random_b64\" must hold %d bytes, not %d", megolmRandomSize, len(a.Random))
		}
		s, err = megolm.NewOutboundSessionFrom(bytes.NewReader(a.Random))
	} else {
		s, err = megolm.NewOutboundSession()
	}
	if err != nil {
		return nil, err
	}
	return p.stored(r, "outbound_group_session", s, outboundInfo(s))
}

// outbound is the argument of the commands that take an outbound session.
type outbound struct {
	Session ref[*megolm.OutboundSession] `arg:"session"`
}

// inbound is the argument of the commands that take an inbound session.
type inbound struct {
	Session ref[*megolm.InboundSession] `arg:"session"`
}

func outboundGroupSessionInfo(p *peer, r *request) (result, error) {
	var a outbound
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return outboundInfo(a.Session.v), nil
}

func groupEncrypt(p *peer, r *request) (result, error) {
	var a struct {
		Session   ref[*megolm.OutboundSession] `arg:"session"`
		Plaintext data                         `arg:"plaintext"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s := a.Session.v
	index := s.MessageIndex()
	return result{"ciphertext": b64.Encode(s.Encrypt(nil, a.Plaintext)), "message_index": index, "session_id": s.SessionID().String()}, nil
}

func createInboundGroupSession(p *peer, r *request) (result, error) {
	var a struct {
		SessionKey string `arg:"session_key"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	k := new(megolm.SessionKey)
	if err := k.UnmarshalText([]byte(a.SessionKey)); err != nil {
		return nil, groupError(err, errBadSessionKey)
	}
	s, err := megolm.NewInboundSession(k)
	if err != nil {
		return nil, err
	}
	return p.stored(r, "inbound_group_session", s, inboundInfo(s))
}

func importInboundGroupSession(p *peer, r *request) (result, error) {
	var a struct {
		ExportedKey string `arg:"exported_key"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	k := new(megolm.ExportedSessionKey)
	if err := k.UnmarshalText([]byte(a.ExportedKey)); err != nil {
		return nil, groupError(err, errBadSessionKey)
	}
	s, err := megolm.ImportInboundSession(k)
	if err != nil {
		return nil, err
	}
	return p.stored(r, "inbound_group_session", s, inboundInfo(s))
}

func inboundGroupSessionInfo(p *peer, r *request) (result, error) {
	var a inbound
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return inboundInfo(a.Session.v), nil
}

func groupDecrypt(p *peer, r *request) (result, error) {
	var a struct {
		Session    ref[*megolm.InboundSession] `arg:"session"`
		Ciphertext string                      `arg:"ciphertext"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	m := new(megolm.Message)
	if err := m.UnmarshalText([]byte(a.Ciphertext)); err != nil {
		return nil, groupError(err, nil)
	}
	pt, index, err := a.Session.v.Decrypt(nil, m.Bytes())
	if err != nil {
		return nil, groupError(err, nil)
	}
	res := result{"message_index": index}
	addPlaintext(res, "plaintext", pt)
	return res, nil
}

func exportSession(p *peer, r *request) (result, error) {
	var a struct {
		Session      ref[*megolm.InboundSession] `arg:"session"`
		MessageIndex *int64                      `arg:"message_index,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s := a.Session.v
	at := int64(s.FirstKnownIndex())
	if a.MessageIndex != nil {
		at = *a.MessageIndex
	}
	if at < 0 || at > math.MaxUint32 {
		return nil, errPeer("argument %q must be between 0 and %d", "message_index", uint32(math.MaxUint32))
	}
	k, err := s.Export(uint32(at))
	if err != nil {
		return nil, err
	}
	return result{"exported_key": k.Base64(), "message_index": k.Index(), "session_id": k.SessionID().String()}, nil
}

func groupSessionPickle(p *peer, r *request) (result, error) {
	var a struct {
		Session    string `arg:"session"`
		Passphrase string `arg:"passphrase,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	switch s := p.objects[a.Session].(type) {
	case *megolm.OutboundSession:
		pk, err := s.PickleLibolm([]byte(a.Passphrase))
		return result{"pickle": pk}, err
	case *megolm.InboundSession:
		pk, err := s.PickleLibolm([]byte(a.Passphrase))
		return result{"pickle": pk}, err
	case nil:
		return nil, errPeer("unknown handle %q in \"session\"", a.Session)
	default:
		return nil, errPeer("handle %q in \"session\" is a %s, not a group session", a.Session, p.kinds[a.Session])
	}
}

func outboundGroupSessionUnpickle(p *peer, r *request) (result, error) {
	var a pickled
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s, err := megolm.UnpickleLibolmOutboundSession([]byte(a.Passphrase), a.Pickle)
	if err != nil {
		return nil, err
	}
	return p.stored(r, "outbound_group_session", s, outboundInfo(s))
}

func inboundGroupSessionUnpickle(p *peer, r *request) (result, error) {
	var a pickled
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s, err := megolm.UnpickleLibolmInboundSession([]byte(a.Passphrase), a.Pickle)
	if err != nil {
		return nil, err
	}
	return p.stored(r, "inbound_group_session", s, inboundInfo(s))
}

// megolm reports a failed signature and a failed MAC as one error,
// megolm.ErrAuthentication, and every parse failure as megolm.ErrMalformed;
// the peer protocol keeps libolm's finer classes (BadSignature,
// BadSessionKey), so the megolm commands add them.
var (
	errBadSignature  = errors.New("bad signature")
	errBadSessionKey = errors.New("bad session key")
)

// groupError adds the peer's class to a megolm error: errBadSignature for a
// signature that fails, malformed (if not nil) for other malformed input.
func groupError(err, malformed error) error {
	switch {
	case errors.Is(err, megolm.ErrAuthentication) && strings.Contains(err.Error(), "signature"):
		return fmt.Errorf("%w: %w", errBadSignature, err)
	case malformed != nil && errors.Is(err, megolm.ErrMalformed):
		return fmt.Errorf("%w: %w", malformed, err)
	}
	return err
}

// megolmRandomSize is what megolm.NewOutboundSessionFrom reads: the
// 128-byte ratchet, then the 32-byte Ed25519 seed (libolm's
// olm_init_outbound_group_session_random_length).
const megolmRandomSize = 128 + 32
