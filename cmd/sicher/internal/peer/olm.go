package peer

// Olm: accounts, one-time and fallback keys, 1:1 sessions (package olm).
// Pickles use libolm's format with the passphrase as libolm's pickle key.

import (
	"bytes"
	"fmt"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/olm"
)

// session is an Olm session in the peer. pendingBody/pendingPlaintext
// keep the first message of an inbound session created without decrypt:
// the session decrypted it on creation, and a following decrypt of the same
// body returns it once (libolm's two-step flow).
type session struct {
	s                *olm.Session
	pendingBody      []byte
	pendingPlaintext []byte
}

// account is the argument of the commands that take only an account.
type account struct {
	Account ref[*olm.Account] `arg:"account"`
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

func oneTimeKeys(a *olm.Account) map[string]map[string]key.Curve25519 {
	return libolmKeys(a.OneTimeKeys())
}

func fallbackKey(a *olm.Account) map[string]map[string]key.Curve25519 {
	if k, ok := a.UnpublishedFallbackKey(); ok {
		return libolmKeys([]olm.OneTimeKey{k})
	}
	return libolmKeys(nil)
}

// identityKeys is libolm's JSON form of an account's identity keys.
func identityKeys(a *olm.Account) map[string]string {
	return map[string]string{"curve25519": a.Curve25519().String(), "ed25519": a.Ed25519().String()}
}

func accountInfo(a *olm.Account, h string) result {
	return result{"handle": h, "identity_keys": identityKeys(a), "one_time_keys": oneTimeKeys(a)}
}

// keyCount checks a number of one-time keys to generate.
func keyCount(arg string, n int64) error {
	if n < 0 || n > olm.MaxOneTimeKeys {
		return errPeer("argument %q must be between 0 and %d", arg, olm.MaxOneTimeKeys)
	}
	return nil
}

// messageType checks an Olm message type argument.
func messageType(t int64) (int, error) {
	if t != olm.TypePreKey && t != olm.TypeMessage {
		return 0, errPeer("argument \"type\" must be 0 or 1")
	}
	return int(t), nil
}

func createAccount(p *peer, r *request) (result, error) {
	var a struct {
		OneTimeKeys int64 `arg:"one_time_keys,optional"`
		FallbackKey bool  `arg:"fallback_key,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if err := keyCount("one_time_keys", a.OneTimeKeys); err != nil {
		return nil, err
	}
	acct, err := olm.NewAccount()
	if err != nil {
		return nil, err
	}
	if _, _, err := acct.GenerateOneTimeKeys(int(a.OneTimeKeys)); err != nil {
		return nil, err
	}
	if a.FallbackKey {
		if _, err := acct.GenerateFallbackKey(); err != nil {
			return nil, err
		}
	}
	h, err := p.put(r, "account", acct)
	if err != nil {
		return nil, err
	}
	res := accountInfo(acct, h)
	if a.FallbackKey {
		res["fallback_key"] = fallbackKey(acct)
	}
	return res, nil
}

func accountIdentityKeys(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return result{"identity_keys": identityKeys(a.Account.v)}, nil
}

func accountGenerateOneTimeKeys(p *peer, r *request) (result, error) {
	var a struct {
		Account ref[*olm.Account] `arg:"account"`
		Count   int64             `arg:"count"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if err := keyCount("count", a.Count); err != nil {
		return nil, err
	}
	_, evicted, err := a.Account.v.GenerateOneTimeKeys(int(a.Count))
	if err != nil {
		return nil, err
	}
	return result{"one_time_keys": oneTimeKeys(a.Account.v), "evicted": evicted}, nil
}

func accountOneTimeKeys(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return result{"one_time_keys": oneTimeKeys(a.Account.v)}, nil
}

func accountMarkKeysAsPublished(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	a.Account.v.MarkKeysAsPublished()
	return result{"one_time_keys": oneTimeKeys(a.Account.v)}, nil
}

func accountMaxOneTimeKeys(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	// vodozemac's max_number_of_one_time_keys: how many to keep published
	// (olm.MaxOneTimeKeys bounds how many one call may generate).
	return result{"max_one_time_keys": 50}, nil
}

func accountGenerateFallbackKey(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if _, err := a.Account.v.GenerateFallbackKey(); err != nil {
		return nil, err
	}
	return result{"fallback_key": fallbackKey(a.Account.v)}, nil
}

func accountFallbackKey(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return result{"fallback_key": fallbackKey(a.Account.v)}, nil
}

func accountForgetOldFallbackKey(p *peer, r *request) (result, error) {
	var a account
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	a.Account.v.ForgetOldFallbackKey()
	return result{}, nil
}

func accountSign(p *peer, r *request) (result, error) {
	var a struct {
		Account ref[*olm.Account] `arg:"account"`
		Message data              `arg:"message"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return result{"signature": a.Account.v.Sign(a.Message).String()}, nil
}

func accountRemoveOneTimeKeys(p *peer, r *request) (result, error) {
	var a struct {
		Account ref[*olm.Account] `arg:"account"`
		Session ref[*session]     `arg:"session"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if err := a.Account.v.RemoveOneTimeKeys(a.Session.v.s); err != nil {
		return nil, err
	}
	return result{"one_time_keys": oneTimeKeys(a.Account.v)}, nil
}

func accountPickle(p *peer, r *request) (result, error) {
	var a struct {
		Account    ref[*olm.Account] `arg:"account"`
		Passphrase string            `arg:"passphrase,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return result{"pickle": a.Account.v.PickleLibolm([]byte(a.Passphrase))}, nil
}

// pickled is the argument of the unpickling commands.
type pickled struct {
	Pickle     string `arg:"pickle"`
	Passphrase string `arg:"passphrase,optional"`
}

func accountUnpickle(p *peer, r *request) (result, error) {
	var a pickled
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	acct, err := olm.UnpickleLibolmAccount([]byte(a.Passphrase), a.Pickle)
	if err != nil {
		return nil, err
	}
	h, err := p.put(r, "account", acct)
	if err != nil {
		return nil, err
	}
	return accountInfo(acct, h), nil
}

func createOutboundSession(p *peer, r *request) (result, error) {
	var a struct {
		Account     ref[*olm.Account] `arg:"account"`
		IdentityKey key.Curve25519    `arg:"identity_key"`
		OneTimeKey  key.Curve25519    `arg:"one_time_key"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s, err := a.Account.v.NewOutboundSession(a.IdentityKey, a.OneTimeKey)
	if err != nil {
		return nil, err
	}
	h, err := p.put(r, "session", &session{s: s})
	if err != nil {
		return nil, err
	}
	return result{"handle": h, "session_id": s.ID()}, nil
}

func createInboundSession(p *peer, r *request) (result, error) {
	a := struct {
		Account           ref[*olm.Account] `arg:"account"`
		Type              int64             `arg:"type,optional"`
		Body              wireB64           `arg:"body"`
		IdentityKey       *key.Curve25519   `arg:"identity_key,optional"`
		RemoveOneTimeKeys bool              `arg:"remove_one_time_keys,optional"`
		Decrypt           bool              `arg:"decrypt,optional"`
	}{RemoveOneTimeKeys: true}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if t, err := messageType(a.Type); err != nil {
		return nil, err
	} else if t != olm.TypePreKey {
		return nil, errPeer("create_inbound_session needs a pre-key message (type 0)")
	}
	msg, err := olm.ParsePreKeyMessage(a.Body)
	if err != nil {
		return nil, err
	}
	opts := &olm.InboundOptions{KeepOneTimeKey: !a.RemoveOneTimeKeys, TheirIdentityKey: a.IdentityKey}
	s, pt, err := a.Account.v.NewInboundSession(msg, opts)
	if err != nil {
		return nil, err
	}
	ps := &session{s: s}
	if !a.Decrypt {
		ps.pendingBody, ps.pendingPlaintext = a.Body, pt
	}
	h, err := p.put(r, "session", ps)
	if err != nil {
		return nil, err
	}
	res := result{"handle": h, "session_id": s.ID()}
	if a.Decrypt {
		addPlaintext(res, "plaintext", pt)
	}
	return res, nil
}

func olmEncrypt(p *peer, r *request) (result, error) {
	var a struct {
		Session   ref[*session] `arg:"session"`
		Plaintext data          `arg:"plaintext"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	m, err := a.Session.v.s.Encrypt(nil, a.Plaintext)
	if err != nil {
		return nil, err
	}
	return result{"type": int(m.Type), "body": encodeWire(m.Body)}, nil
}

func olmDecrypt(p *peer, r *request) (result, error) {
	a := struct {
		Session ref[*session] `arg:"session"`
		Type    int64         `arg:"type,optional"`
		Body    wireB64       `arg:"body"`
	}{Type: -1}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	t, err := messageType(a.Type)
	if err != nil {
		return nil, err
	}
	s, res := a.Session.v, result{}
	if t == olm.TypePreKey && s.pendingBody != nil && bytes.Equal(a.Body, s.pendingBody) {
		addPlaintext(res, "plaintext", s.pendingPlaintext)
		s.pendingBody, s.pendingPlaintext = nil, nil
		return res, nil
	}
	pt, err := s.s.Decrypt(nil, olm.EncryptedMessage{Type: t, Body: a.Body})
	if err != nil {
		return nil, err
	}
	addPlaintext(res, "plaintext", pt)
	return res, nil
}

func sessionMatches(p *peer, r *request) (result, error) {
	var a struct {
		Session     ref[*session]   `arg:"session"`
		Body        wireB64         `arg:"body"`
		IdentityKey *key.Curve25519 `arg:"identity_key,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	msg, err := olm.ParsePreKeyMessage(a.Body)
	if err != nil {
		return nil, err
	}
	return result{"matches": a.Session.v.s.Matches(msg, a.IdentityKey)}, nil
}

func sessionInfo(p *peer, r *request) (result, error) {
	var a struct {
		Session ref[*session] `arg:"session"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	s := a.Session.v.s
	return result{"session_id": s.ID(), "has_received_message": s.HasReceivedMessage(), "describe": fmt.Sprint(s)}, nil
}

func sessionPickle(p *peer, r *request) (result, error) {
	var a struct {
		Session    ref[*session] `arg:"session"`
		Passphrase string        `arg:"passphrase,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	return result{"pickle": a.Session.v.s.PickleLibolm([]byte(a.Passphrase))}, nil
}

func sessionUnpickle(p *peer, r *request) (result, error) {
	var a struct {
		Pickle           string          `arg:"pickle"`
		Passphrase       string          `arg:"passphrase,optional"`
		OurIdentityKey   *key.Curve25519 `arg:"our_identity_key,optional"`
		TheirIdentityKey *key.Curve25519 `arg:"their_identity_key,optional"`
	}
	if err := decode(p, r, &a); err != nil {
		return nil, err
	}
	if (a.OurIdentityKey == nil) != (a.TheirIdentityKey == nil) {
		return nil, errPeer("arguments \"our_identity_key\" and \"their_identity_key\" go together")
	}
	s, err := olm.UnpickleLibolmSession([]byte(a.Passphrase), a.Pickle)
	if err != nil {
		return nil, err
	}
	// libolm's pickle does not store the peer: bind the session to the keys
	// the caller names, if it names them.
	if a.OurIdentityKey != nil {
		if err := s.BindPeer(*a.OurIdentityKey, *a.TheirIdentityKey); err != nil {
			return nil, err
		}
	}
	h, err := p.put(r, "session", &session{s: s})
	if err != nil {
		return nil, err
	}
	return result{"handle": h, "session_id": s.ID()}, nil
}
