package main

// Peer commands for Megolm group sessions (package megolm). Names,
// arguments and results follow docs/peer.md. Group session pickles use
// libolm's format (OutboundGroupSession v1, InboundGroupSession v2) with the
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

func withHandle(res result, h string) result {
	res["handle"] = h
	return res
}

// indexArg reads an optional message index argument (0 … 2^32-1).
func indexArg(r *request, name string, def uint32) (uint32, error) {
	n, err := r.optInt(name, int64(def))
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxUint32 {
		return 0, errPeer("argument %q must be between 0 and %d", name, uint32(math.MaxUint32))
	}
	return uint32(n), nil
}

func init() {
	register("create_outbound_group_session", func(p *peer, r *request) (result, error) {
		// Optional "random_b64": the 160 bytes libolm would read (ratchet,
		// then the Ed25519 seed), to replay libolm transcripts.
		var rnd *bytes.Reader
		if r.has("random_b64") {
			b, err := r.bytesB64("random_b64")
			if err != nil {
				return nil, err
			}
			if len(b) != megolmRandomSize {
				return nil, errPeer("argument \"random_b64\" must hold %d bytes, not %d", megolmRandomSize, len(b))
			}
			rnd = bytes.NewReader(b)
		}
		var s *megolm.OutboundSession
		var err error
		if rnd != nil {
			s, err = megolm.NewOutboundSessionFrom(rnd)
		} else {
			s, err = megolm.NewOutboundSession()
		}
		if err != nil {
			return nil, err
		}
		h, err := p.put(r, "outbound_group_session", s)
		if err != nil {
			return nil, err
		}
		return withHandle(outboundInfo(s), h), nil
	})

	register("outbound_group_session_info", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.OutboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		return outboundInfo(s), nil
	})

	register("group_encrypt", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.OutboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		pt, err := r.data("plaintext")
		if err != nil {
			return nil, err
		}
		index := s.MessageIndex()
		return result{
			"ciphertext":    b64.Encode(s.Encrypt(nil, pt)),
			"message_index": index,
			"session_id":    s.SessionID().String(),
		}, nil
	})

	register("create_inbound_group_session", func(p *peer, r *request) (result, error) {
		ks, err := r.string("session_key")
		if err != nil {
			return nil, err
		}
		k := new(megolm.SessionKey)
		if err := k.UnmarshalText([]byte(ks)); err != nil {
			return nil, groupError(err, errPeerBadSessionKey)
		}
		s, err := megolm.NewInboundSession(k)
		if err != nil {
			return nil, err
		}
		h, err := p.put(r, "inbound_group_session", s)
		if err != nil {
			return nil, err
		}
		return withHandle(inboundInfo(s), h), nil
	})

	register("import_inbound_group_session", func(p *peer, r *request) (result, error) {
		ks, err := r.string("exported_key")
		if err != nil {
			return nil, err
		}
		k := new(megolm.ExportedSessionKey)
		if err := k.UnmarshalText([]byte(ks)); err != nil {
			return nil, groupError(err, errPeerBadSessionKey)
		}
		s, err := megolm.ImportInboundSession(k)
		if err != nil {
			return nil, err
		}
		h, err := p.put(r, "inbound_group_session", s)
		if err != nil {
			return nil, err
		}
		return withHandle(inboundInfo(s), h), nil
	})

	register("inbound_group_session_info", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.InboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		return inboundInfo(s), nil
	})

	register("group_decrypt", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.InboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		ct, err := r.string("ciphertext")
		if err != nil {
			return nil, err
		}
		m := new(megolm.Message)
		if err := m.UnmarshalText([]byte(ct)); err != nil {
			return nil, groupError(err, nil)
		}
		pt, index, err := s.Decrypt(nil, m.Bytes())
		if err != nil {
			return nil, groupError(err, nil)
		}
		res := result{"message_index": index}
		addPlaintext(res, "plaintext", pt)
		return res, nil
	})

	register("export_session", func(p *peer, r *request) (result, error) {
		s, err := object[*megolm.InboundSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		at, err := indexArg(r, "message_index", s.FirstKnownIndex())
		if err != nil {
			return nil, err
		}
		k, err := s.Export(at)
		if err != nil {
			return nil, err
		}
		return result{
			"exported_key":  k.Base64(),
			"message_index": k.Index(),
			"session_id":    k.SessionID().String(),
		}, nil
	}, "export_inbound_group_session")

	register("group_session_pickle", func(p *peer, r *request) (result, error) {
		h, err := r.string("session")
		if err != nil {
			return nil, err
		}
		pass, err := r.optString("passphrase", "")
		if err != nil {
			return nil, err
		}
		switch s := p.objects[h].(type) {
		case *megolm.OutboundSession:
			pk, err := s.PickleLibolm([]byte(pass))
			return result{"pickle": pk}, err
		case *megolm.InboundSession:
			pk, err := s.PickleLibolm([]byte(pass))
			return result{"pickle": pk}, err
		case nil:
			return nil, errPeer("unknown handle %q in \"session\"", h)
		default:
			return nil, errPeer("handle %q in \"session\" is a %s, not a group session", h, p.kinds[h])
		}
	}, "outbound_group_session_pickle", "inbound_group_session_pickle")

	register("outbound_group_session_unpickle", func(p *peer, r *request) (result, error) {
		s, h, err := unpickle(p, r, "outbound_group_session", megolm.UnpickleLibolmOutboundSession)
		if err != nil {
			return nil, err
		}
		return withHandle(outboundInfo(s), h), nil
	})

	register("inbound_group_session_unpickle", func(p *peer, r *request) (result, error) {
		s, h, err := unpickle(p, r, "inbound_group_session", megolm.UnpickleLibolmInboundSession)
		if err != nil {
			return nil, err
		}
		return withHandle(inboundInfo(s), h), nil
	})

	registerErrorClass(errPeerBadSignature, "BadSignature")
	registerErrorClass(errPeerBadSessionKey, "BadSessionKey")
	registerErrorClass(megolm.ErrUnknownIndex, "UnknownMessageIndex")
	registerErrorClass(megolm.ErrAuthentication, "BadMessageMAC")
	registerErrorClass(megolm.ErrUnsupportedVersion, "BadMessageVersion")
	registerErrorClass(megolm.ErrMalformed, "BadMessageFormat")
	registerErrorClass(megolm.ErrUnconnected, "UnconnectedSessions")
	registerErrorClass(megolm.ErrBadPickle, "BadPickle")
}

// megolm reports a failed signature and a failed MAC as one error,
// megolm.ErrAuthentication, and every parse failure as megolm.ErrMalformed;
// the peer protocol names libolm's finer classes, so the commands classify.
var (
	errPeerBadSignature  = errors.New("bad signature")
	errPeerBadSessionKey = errors.New("bad session key")
)

// groupError adds the peer's class to a megolm error: BadSignature for a
// signature that fails, malformed for other malformed input (if not nil).
func groupError(err, malformed error) error {
	switch {
	case errors.Is(err, megolm.ErrAuthentication) && strings.Contains(err.Error(), "signature"):
		return fmt.Errorf("%w: %w", errPeerBadSignature, err)
	case malformed != nil && errors.Is(err, megolm.ErrMalformed):
		return fmt.Errorf("%w: %w", malformed, err)
	}
	return err
}

// megolmRandomSize is what megolm.NewOutboundSessionFrom reads: the
// 128-byte ratchet, then the 32-byte Ed25519 seed (libolm's
// olm_init_outbound_group_session_random_length).
const megolmRandomSize = 128 + 32
