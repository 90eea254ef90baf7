package peer

// Megolm group sessions (package megolm). Pickles use libolm's format
// (OutboundGroupSession version 1, InboundGroupSession version 2) with the
// passphrase as libolm's pickle key.

import (
	"bytes"
	"math"

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
		if len(a.Random) != megolm.RandomSize {
			return nil, errPeer("argument \"random_b64\" must hold %d bytes, not %d", megolm.RandomSize, len(a.Random))
		}
		s, err = megolm.NewOutboundSession(bytes.NewReader(a.Random))
	} else {
		s, err = megolm.NewOutboundSession(nil)
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
	return result{"ciphertext": s.EncryptBase64(a.Plaintext), "message_index": index, "session_id": s.SessionID().String()}, nil
}

func createInboundGroupSession(p *peer, r *request) (result, error) {
	var a struct {
		SessionKey megolm.SessionKey `arg:"session_key"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s, err := megolm.NewInboundSession(&a.SessionKey)
	if err != nil {
		return nil, err
	}
	return p.stored(r, "inbound_group_session", s, inboundInfo(s))
}

func importInboundGroupSession(p *peer, r *request) (result, error) {
	var a struct {
		ExportedKey megolm.ExportedSessionKey `arg:"exported_key"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s, err := megolm.ImportInboundSession(&a.ExportedKey)
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
	pt, index, err := a.Session.v.DecryptBase64(a.Ciphertext)
	if err != nil {
		return nil, err
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
		return result{"pickle": s.PickleLibolm([]byte(a.Passphrase))}, nil
	case *megolm.InboundSession:
		return result{"pickle": s.PickleLibolm([]byte(a.Passphrase))}, nil
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
