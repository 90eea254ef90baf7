package main

// Peer commands for Olm: accounts, one-time and fallback keys, 1:1 sessions
// (package olm). Names, arguments and results follow docs/peer.md.

import (
	"bytes"
	"fmt"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
)

// peerSession is an Olm session in the peer. pendingBody/pendingPlaintext
// keep the first message of an inbound session created without decrypt:
// the session decrypted it on creation, and a following decrypt of the same
// body returns it once (libolm's two-step flow).
type peerSession struct {
	s                *olm.Session
	pendingBody      []byte
	pendingPlaintext []byte
}

// libolmKeys is libolm's JSON form of a list of one-time or fallback keys:
// {"curve25519": {"<key id>": "<key>", ...}}.
func libolmKeys(ks []olm.OneTimeKey) map[string]map[string]key.Curve25519 {
	m := make(map[string]key.Curve25519, len(ks))
	for _, k := range ks {
		m[k.ID.String()] = k.Key
	}
	return map[string]map[string]key.Curve25519{"curve25519": m}
}

func oneTimeKeysResult(a *olm.Account) map[string]map[string]key.Curve25519 {
	return libolmKeys(a.OneTimeKeys())
}

func fallbackKeyResult(a *olm.Account) map[string]map[string]key.Curve25519 {
	if k, ok := a.UnpublishedFallbackKey(); ok {
		return libolmKeys([]olm.OneTimeKey{k})
	}
	return libolmKeys(nil)
}

// identityKeysResult is libolm's JSON form of an account's identity keys.
func identityKeysResult(a *olm.Account) map[string]string {
	return map[string]string{"curve25519": a.Curve25519().String(), "ed25519": a.Ed25519().String()}
}

func accountResult(a *olm.Account) result {
	return result{"identity_keys": identityKeysResult(a), "one_time_keys": oneTimeKeysResult(a)}
}

// curveArg parses a Curve25519 public key argument.
func curveArg(r *request, name string) (key.Curve25519, error) {
	s, err := r.string(name)
	if err != nil {
		return key.Curve25519{}, err
	}
	return key.ParseCurve25519(s)
}

// bodyArg decodes the unpadded base64 "body" of an Olm message.
func bodyArg(r *request) ([]byte, error) {
	s, err := r.string("body")
	if err != nil {
		return nil, err
	}
	return b64.Decode(s)
}

func typeArg(r *request, def int64) (int, error) {
	t, err := r.optInt("type", def)
	if err != nil {
		return 0, err
	}
	if t != int64(olm.TypePreKey) && t != int64(olm.TypeMessage) {
		return 0, errPeer("argument \"type\" must be 0 or 1")
	}
	return int(t), nil
}

func init() {
	register("create_account", func(p *peer, r *request) (result, error) {
		n, err := r.optInt("one_time_keys", 0)
		if err != nil {
			return nil, err
		}
		withFallback, err := r.optBool("fallback_key", false)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > olm.MaxOneTimeKeys {
			return nil, errPeer("argument \"one_time_keys\" must be between 0 and %d", olm.MaxOneTimeKeys)
		}
		a, err := olm.NewAccount()
		if err != nil {
			return nil, err
		}
		if _, _, err := a.GenerateOneTimeKeys(int(n)); err != nil {
			return nil, err
		}
		if withFallback {
			if _, err := a.GenerateFallbackKey(); err != nil {
				return nil, err
			}
		}
		h, err := p.put(r, "account", a)
		if err != nil {
			return nil, err
		}
		res := accountResult(a)
		res["handle"] = h
		if withFallback {
			res["fallback_key"] = fallbackKeyResult(a)
		}
		return res, nil
	}, "account_create")

	register("account_identity_keys", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		return result{"identity_keys": identityKeysResult(a)}, nil
	})

	register("account_generate_one_time_keys", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		n, err := r.int("count")
		if err != nil {
			return nil, err
		}
		if n < 0 || n > olm.MaxOneTimeKeys {
			return nil, errPeer("argument \"count\" must be between 0 and %d", olm.MaxOneTimeKeys)
		}
		_, evicted, err := a.GenerateOneTimeKeys(int(n))
		if err != nil {
			return nil, err
		}
		return result{"one_time_keys": oneTimeKeysResult(a), "evicted": evicted}, nil
	})

	register("account_one_time_keys", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		return result{"one_time_keys": oneTimeKeysResult(a)}, nil
	})

	register("account_mark_keys_as_published", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		a.MarkKeysAsPublished()
		return result{"one_time_keys": oneTimeKeysResult(a)}, nil
	})

	register("account_max_one_time_keys", func(p *peer, r *request) (result, error) {
		if _, err := object[*olm.Account](p, r, "account"); err != nil {
			return nil, err
		}
		// vodozemac's max_number_of_one_time_keys: how many to keep
		// published (olm.MaxOneTimeKeys documents it).
		return result{"max_one_time_keys": 50}, nil
	})

	register("account_generate_fallback_key", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		if _, err := a.GenerateFallbackKey(); err != nil {
			return nil, err
		}
		return result{"fallback_key": fallbackKeyResult(a)}, nil
	})

	register("account_fallback_key", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		return result{"fallback_key": fallbackKeyResult(a)}, nil
	})

	register("account_forget_old_fallback_key", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		a.ForgetOldFallbackKey()
		return result{}, nil
	})

	register("account_sign", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		msg, err := r.data("message")
		if err != nil {
			return nil, err
		}
		return result{"signature": a.Sign(msg).String()}, nil
	})

	register("account_remove_one_time_keys", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		s, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		if err := a.RemoveOneTimeKeys(s.s); err != nil {
			return nil, err
		}
		return result{"one_time_keys": oneTimeKeysResult(a)}, nil
	})

	register("account_pickle", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		pass, err := r.optString("passphrase", "")
		if err != nil {
			return nil, err
		}
		return result{"pickle": a.PickleLibolm([]byte(pass))}, nil
	})

	register("account_unpickle", func(p *peer, r *request) (result, error) {
		a, h, err := unpickle(p, r, "account", olm.UnpickleLibolmAccount)
		if err != nil {
			return nil, err
		}
		res := accountResult(a)
		res["handle"] = h
		return res, nil
	})

	register("create_outbound_session", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		identity, err := curveArg(r, "identity_key")
		if err != nil {
			return nil, err
		}
		otk, err := curveArg(r, "one_time_key")
		if err != nil {
			return nil, err
		}
		s, err := a.NewOutboundSession(identity, otk)
		if err != nil {
			return nil, err
		}
		h, err := p.put(r, "session", &peerSession{s: s})
		if err != nil {
			return nil, err
		}
		return result{"handle": h, "session_id": s.ID()}, nil
	})

	register("create_inbound_session", func(p *peer, r *request) (result, error) {
		a, err := object[*olm.Account](p, r, "account")
		if err != nil {
			return nil, err
		}
		if t, err := typeArg(r, 0); err != nil {
			return nil, err
		} else if t != olm.TypePreKey {
			return nil, errPeer("create_inbound_session needs a pre-key message (type 0)")
		}
		body, err := bodyArg(r)
		if err != nil {
			return nil, err
		}
		remove, err := r.optBool("remove_one_time_keys", true)
		if err != nil {
			return nil, err
		}
		decrypt, err := r.optBool("decrypt", false)
		if err != nil {
			return nil, err
		}
		opts := &olm.InboundOptions{KeepOneTimeKey: !remove}
		if r.has("identity_key") {
			k, err := curveArg(r, "identity_key")
			if err != nil {
				return nil, err
			}
			opts.TheirIdentityKey = &k
		}
		msg, err := olm.ParsePreKeyMessage(body)
		if err != nil {
			return nil, err
		}
		s, pt, err := a.NewInboundSession(msg, opts)
		if err != nil {
			return nil, err
		}
		ps := &peerSession{s: s}
		if !decrypt {
			ps.pendingBody, ps.pendingPlaintext = body, pt
		}
		h, err := p.put(r, "session", ps)
		if err != nil {
			return nil, err
		}
		res := result{"handle": h, "session_id": s.ID()}
		if decrypt {
			addPlaintext(res, "plaintext", pt)
		}
		return res, nil
	})

	register("encrypt", func(p *peer, r *request) (result, error) {
		s, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		pt, err := r.data("plaintext")
		if err != nil {
			return nil, err
		}
		m, err := s.s.Encrypt(nil, pt)
		if err != nil {
			return nil, err
		}
		return result{"type": int(m.Type), "body": b64.Encode(m.Body)}, nil
	})

	register("decrypt", func(p *peer, r *request) (result, error) {
		s, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		t, err := typeArg(r, -1)
		if err != nil {
			return nil, err
		}
		body, err := bodyArg(r)
		if err != nil {
			return nil, err
		}
		res := result{}
		if t == olm.TypePreKey && s.pendingBody != nil && bytes.Equal(body, s.pendingBody) {
			addPlaintext(res, "plaintext", s.pendingPlaintext)
			s.pendingBody, s.pendingPlaintext = nil, nil
			return res, nil
		}
		pt, err := s.s.Decrypt(nil, olm.EncryptedMessage{Type: t, Body: body})
		if err != nil {
			return nil, err
		}
		addPlaintext(res, "plaintext", pt)
		return res, nil
	})

	register("session_matches", func(p *peer, r *request) (result, error) {
		s, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		body, err := bodyArg(r)
		if err != nil {
			return nil, err
		}
		var identity *key.Curve25519
		if r.has("identity_key") {
			k, err := curveArg(r, "identity_key")
			if err != nil {
				return nil, err
			}
			identity = &k
		}
		msg, err := olm.ParsePreKeyMessage(body)
		if err != nil {
			return nil, err
		}
		return result{"matches": s.s.Matches(msg, identity)}, nil
	})

	register("session_info", func(p *peer, r *request) (result, error) {
		s, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		return result{
			"session_id":           s.s.ID(),
			"has_received_message": s.s.HasReceivedMessage(),
			"describe":             fmt.Sprint(s.s),
		}, nil
	})

	register("session_pickle", func(p *peer, r *request) (result, error) {
		s, err := object[*peerSession](p, r, "session")
		if err != nil {
			return nil, err
		}
		pass, err := r.optString("passphrase", "")
		if err != nil {
			return nil, err
		}
		return result{"pickle": s.s.PickleLibolm([]byte(pass))}, nil
	})

	register("session_unpickle", func(p *peer, r *request) (result, error) {
		ps, h, err := unpickle(p, r, "session", func(key []byte, pickle string) (*peerSession, error) {
			s, err := olm.UnpickleLibolmSession(key, pickle)
			if err != nil {
				return nil, err
			}
			// libolm's pickle does not store the peer: bind the session
			// to the keys the caller names, if it names them.
			if r.has("our_identity_key") || r.has("their_identity_key") {
				ours, err := curveArg(r, "our_identity_key")
				if err != nil {
					return nil, err
				}
				theirs, err := curveArg(r, "their_identity_key")
				if err != nil {
					return nil, err
				}
				if err := s.BindPeer(ours, theirs); err != nil {
					return nil, err
				}
			}
			return &peerSession{s: s}, nil
		})
		if err != nil {
			return nil, err
		}
		s := ps.s
		return result{"handle": h, "session_id": s.ID()}, nil
	})

	registerErrorClass(olm.ErrAuthentication, "BadMessageMAC")
	registerErrorClass(olm.ErrUnknownMessageIndex, "UnknownMessageIndex")
	registerErrorClass(olm.ErrMessageGap, "TooBigMessageGap")
	registerErrorClass(olm.ErrUnsupportedVersion, "BadMessageVersion")
	registerErrorClass(olm.ErrMalformed, "BadMessageFormat")
	registerErrorClass(olm.ErrUnknownOneTimeKey, "BadMessageKeyID")
	registerErrorClass(olm.ErrIdentityKeyMismatch, "MismatchedIdentityKey")
	registerErrorClass(olm.ErrBadPickle, "BadPickle")
}
