package driver

import (
	"encoding/base64"
	"fmt"

	"github.com/sicher-go/sicher/key"
	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// Session is mautrix's olm.Session backed by a sicher olm.Session.
type Session struct {
	s       *sicherolm.Session // a blank sicher session until Unpickle
	pickles PickleFormat
}

var _ olm.Session = (*Session)(nil)

// NewBlankSession returns a blank session (olm.InitNewBlankSession): it
// has libolm's blank-session id, pickles, and refuses to encrypt or
// decrypt (sicherolm.ErrBlankSession) until Unpickle.
func (d Driver) NewBlankSession() olm.Session {
	return &Session{s: new(sicherolm.Session), pickles: d.Pickles}
}

// SessionFromPickled loads a session pickled in either format
// (olm.InitSessionFromPickled).
func (d Driver) SessionFromPickled(pickled, key []byte) (olm.Session, error) {
	s := &Session{pickles: d.Pickles}
	if err := s.Unpickle(pickled, key); err != nil {
		return nil, err
	}
	return s, nil
}

// Sicher returns the sicher session.
func (s *Session) Sicher() *sicherolm.Session { return s.s }

// Pickle encrypts the session under key in the Driver's format.
func (s *Session) Pickle(key []byte) ([]byte, error) {
	if err := errNoKey(key); err != nil {
		return nil, err
	}
	if s.pickles == LibolmPickles {
		return []byte(s.s.PickleLibolm(key)), nil
	}
	p, err := s.s.Pickle(pickleKey(key))
	return []byte(p), err
}

// Unpickle loads a session pickled in either format; a libolm pickle with
// no chains loads as a blank session. On error the session is unchanged.
func (s *Session) Unpickle(pickled, key []byte) error {
	ss, err := unpickle(pickled, key, sicherolm.UnpickleSession, sicherolm.UnpickleLibolmSession)
	if err != nil {
		return olmError(err)
	}
	s.s = ss
	return nil
}

// ID returns the session id.
func (s *Session) ID() id.SessionID { return id.SessionID(s.s.ID()) }

// HasReceivedMessage reports whether the session has decrypted a message.
func (s *Session) HasReceivedMessage() bool { return s.s.HasReceivedMessage() }

func parsePreKey(msg string) (*sicherolm.PreKeyMessage, error) {
	if msg == "" {
		return nil, olm.ErrEmptyInput
	}
	b, err := base64.RawStdEncoding.DecodeString(msg)
	if err != nil {
		return nil, wrap(olm.ErrLibolmInvalidBase64, err)
	}
	m, err := sicherolm.ParsePreKeyMessage(b)
	if err != nil {
		return nil, olmError(err)
	}
	return m, nil
}

// MatchesInboundSession reports whether a pre-key message (unpadded
// base64) belongs to this session.
func (s *Session) MatchesInboundSession(oneTimeKeyMsg string) (bool, error) {
	m, err := parsePreKey(oneTimeKeyMsg)
	if err != nil {
		return false, err
	}
	return s.s.Matches(m, nil), nil
}

// MatchesInboundSessionFrom is MatchesInboundSession for a message that
// must also come from theirIdentityKey (unless it is empty).
func (s *Session) MatchesInboundSessionFrom(theirIdentityKey, oneTimeKeyMsg string) (bool, error) {
	m, err := parsePreKey(oneTimeKeyMsg)
	if err != nil {
		return false, err
	}
	var ik *key.Curve25519
	if theirIdentityKey != "" {
		k, err := key.ParseCurve25519(theirIdentityKey)
		if err != nil {
			return false, wrap(olm.ErrLibolmInvalidBase64, err)
		}
		ik = &k
	}
	return s.s.Matches(m, ik), nil
}

// EncryptMsgType returns the type of the next message Encrypt makes.
func (s *Session) EncryptMsgType() id.OlmMsgType {
	if s.s.HasReceivedMessage() {
		return id.OlmMsgTypeMsg
	}
	return id.OlmMsgTypePreKey
}

// Encrypt encrypts plaintext and returns the message type and the body as
// unpadded base64.
func (s *Session) Encrypt(plaintext []byte) (id.OlmMsgType, []byte, error) {
	if len(plaintext) == 0 {
		return 0, nil, olm.ErrEmptyInput
	}
	m, err := s.s.Encrypt(nil, plaintext)
	if err != nil {
		return 0, nil, olmError(err)
	}
	return id.OlmMsgType(m.Type), base64.RawStdEncoding.AppendEncode(nil, m.Body), nil
}

// Decrypt decrypts a message (unpadded base64) of type msgType. On error
// the session is unchanged.
func (s *Session) Decrypt(message string, msgType id.OlmMsgType) ([]byte, error) {
	if message == "" {
		return nil, olm.ErrEmptyInput
	}
	if msgType != id.OlmMsgTypePreKey && msgType != id.OlmMsgTypeMsg {
		return nil, fmt.Errorf("%w: message type %d", olm.ErrBadMessageFormat, msgType)
	}
	b, err := base64.RawStdEncoding.DecodeString(message)
	if err != nil {
		return nil, wrap(olm.ErrLibolmInvalidBase64, err)
	}
	pt, err := s.s.Decrypt(nil, sicherolm.EncryptedMessage{Type: int(msgType), Body: b})
	if err != nil {
		return nil, olmError(err)
	}
	return pt, nil
}

// Describe returns libolm's description of the session's chains
// (olm_session_describe): "sender chain index: N receiver chain indices:
// … skipped message keys: …".
func (s *Session) Describe() string { return describeLibolm(s.s) }
