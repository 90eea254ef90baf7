package driver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/key"
	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// maxOneTimeKeys is what MaxNumberOfOneTimeKeys reports: libolm's
// capacity. mautrix keeps half of it published on the server.
const maxOneTimeKeys = 100

// Account is mautrix's olm.Account backed by a sicher olm.Account.
type Account struct {
	a       *sicherolm.Account // nil for a blank account
	pickles PickleFormat
}

var _ olm.Account = (*Account)(nil)

// NewAccount creates an account with fresh keys (mautrix's
// olm.InitNewAccount).
func (d Driver) NewAccount() (olm.Account, error) {
	a, err := sicherolm.NewAccount()
	if err != nil {
		return nil, err
	}
	return &Account{a: a, pickles: d.Pickles}, nil
}

// NewBlankAccount returns an account to Unpickle into
// (olm.InitBlankAccount).
func (d Driver) NewBlankAccount() olm.Account { return &Account{pickles: d.Pickles} }

// AccountFromPickled loads an account pickled in sicher's or libolm's
// format (olm.InitNewAccountFromPickled).
func (d Driver) AccountFromPickled(pickled, key []byte) (olm.Account, error) {
	a := &Account{pickles: d.Pickles}
	if err := a.Unpickle(pickled, key); err != nil {
		return nil, err
	}
	return a, nil
}

// Sicher returns the sicher account, nil for a blank one.
func (a *Account) Sicher() *sicherolm.Account { return a.a }

// Pickle encrypts the account under key in the Driver's format.
func (a *Account) Pickle(key []byte) ([]byte, error) {
	if a.a == nil {
		return nil, ErrBlank
	}
	if err := errNoKey(key); err != nil {
		return nil, err
	}
	if a.pickles == LibolmPickles {
		return []byte(a.a.PickleLibolm(key)), nil
	}
	p, err := a.a.Pickle(pickleKey(key))
	return []byte(p), err
}

// Unpickle loads an account pickled in either format. On error the
// account is unchanged.
func (a *Account) Unpickle(pickled, key []byte) error {
	acct, err := unpickle(pickled, key, sicherolm.UnpickleAccount, sicherolm.UnpickleLibolmAccount)
	if err != nil {
		return olmError(err)
	}
	a.a = acct
	return nil
}

// IdentityKeysJSON returns {"curve25519":…,"ed25519":…}, as libolm does.
func (a *Account) IdentityKeysJSON() ([]byte, error) {
	ed, curve, err := a.IdentityKeys()
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Curve25519 id.Curve25519 `json:"curve25519"`
		Ed25519    id.Ed25519    `json:"ed25519"`
	}{curve, ed})
}

// IdentityKeys returns the public identity keys.
func (a *Account) IdentityKeys() (id.Ed25519, id.Curve25519, error) {
	if a.a == nil {
		return "", "", ErrBlank
	}
	return id.Ed25519(a.a.Ed25519().String()), id.Curve25519(a.a.Curve25519().String()), nil
}

// Sign signs message with the Ed25519 identity key and returns the
// signature as unpadded base64.
func (a *Account) Sign(message []byte) ([]byte, error) {
	if a.a == nil {
		return nil, ErrBlank
	}
	if len(message) == 0 {
		return nil, olm.ErrEmptyInput
	}
	sig := a.a.Sign(message)
	return base64.RawStdEncoding.AppendEncode(nil, sig[:]), nil
}

// OneTimeKeys returns the unpublished one-time keys by key id.
func (a *Account) OneTimeKeys() (map[string]id.Curve25519, error) {
	if a.a == nil {
		return nil, ErrBlank
	}
	keys := a.a.OneTimeKeys()
	m := make(map[string]id.Curve25519, len(keys))
	for _, k := range keys {
		m[k.ID.String()] = id.Curve25519(k.Key.String())
	}
	return m, nil
}

// MarkKeysAsPublished marks the one-time keys (and the fallback key) as
// published.
func (a *Account) MarkKeysAsPublished() {
	if a.a != nil {
		a.a.MarkKeysAsPublished()
	}
}

// MaxNumberOfOneTimeKeys returns 100, libolm's capacity: mautrix keeps
// half of it on the server. sicher itself stores up to
// sicherolm.MaxOneTimeKeys, so keys still on the server are never
// evicted early.
func (a *Account) MaxNumberOfOneTimeKeys() uint { return maxOneTimeKeys }

// GenOneTimeKeys creates num one-time keys.
func (a *Account) GenOneTimeKeys(num uint) error {
	if a.a == nil {
		return ErrBlank
	}
	if num > sicherolm.MaxOneTimeKeys {
		return fmt.Errorf("%w: %d one-time keys", olm.ErrBadInput, num)
	}
	_, _, err := a.a.GenerateOneTimeKeys(int(num))
	return err
}

func parseCurve(k id.Curve25519) (key.Curve25519, error) {
	if k == "" {
		return key.Curve25519{}, olm.ErrEmptyInput
	}
	c, err := key.ParseCurve25519(string(k))
	if err != nil {
		return c, wrap(olm.ErrLibolmInvalidBase64, err)
	}
	return c, nil
}

// NewOutboundSession starts a session to theirIdentityKey with one of its
// one-time (or fallback) keys.
func (a *Account) NewOutboundSession(theirIdentityKey, theirOneTimeKey id.Curve25519) (olm.Session, error) {
	if a.a == nil {
		return nil, ErrBlank
	}
	ik, err := parseCurve(theirIdentityKey)
	if err != nil {
		return nil, err
	}
	otk, err := parseCurve(theirOneTimeKey)
	if err != nil {
		return nil, err
	}
	s, err := a.a.NewOutboundSession(ik, otk)
	if err != nil {
		return nil, olmError(err)
	}
	return &Session{s: s, pickles: a.pickles}, nil
}

// NewInboundSession creates the session a pre-key message (unpadded
// base64) starts, without decrypting it: the first step of libolm's
// two-step flow (sicherolm.InboundOptions.DeferDecryption). The message
// must authenticate; otherwise no session is made and no one-time key is
// touched. Decrypt the message with the session, then call
// RemoveOneTimeKeys.
func (a *Account) NewInboundSession(oneTimeKeyMsg string) (olm.Session, error) {
	return a.NewInboundSessionFrom(nil, oneTimeKeyMsg)
}

// NewInboundSessionFrom is NewInboundSession for a message that must come
// from theirIdentityKey (if not nil).
func (a *Account) NewInboundSessionFrom(theirIdentityKey *id.Curve25519, oneTimeKeyMsg string) (olm.Session, error) {
	if a.a == nil {
		return nil, ErrBlank
	}
	opts := &sicherolm.InboundOptions{DeferDecryption: true}
	if theirIdentityKey != nil {
		ik, err := parseCurve(*theirIdentityKey)
		if err != nil {
			return nil, err
		}
		opts.TheirIdentityKey = &ik
	}
	m, err := parsePreKey(oneTimeKeyMsg)
	if err != nil {
		return nil, err
	}
	s, _, err := a.a.NewInboundSession(m, opts)
	if err != nil {
		return nil, olmError(err)
	}
	return &Session{s: s, pickles: a.pickles}, nil
}

// RemoveOneTimeKeys removes the one-time key session s was created from.
// A session of another driver is refused with olm.ErrBadInput.
func (a *Account) RemoveOneTimeKeys(s olm.Session) error {
	if a.a == nil {
		return ErrBlank
	}
	ss, ok := s.(*Session)
	if !ok || ss.s == nil {
		return fmt.Errorf("%w: not a session of the sicher driver", olm.ErrBadInput)
	}
	return olmError(a.a.RemoveOneTimeKeys(ss.s))
}
