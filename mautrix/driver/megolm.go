package driver

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/sicher-go/sicher/megolm"
	"maunium.net/go/mautrix/crypto/olm"
	"maunium.net/go/mautrix/id"
)

// megolmError maps an error of sicher's megolm package to mautrix's
// sentinels: an unknown index to olm.ErrUnknownMessageIndex (which
// mautrix's OlmMachine tests with errors.Is), a bad signature to
// olm.ErrBadSignature, any other authentication failure to olm.ErrBadMAC.
func megolmError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, megolm.ErrUnknownIndex):
		return wrap(olm.ErrUnknownMessageIndex, err)
	case errors.Is(err, megolm.ErrAuthentication):
		// megolm words the two failures differently (errors.go) but
		// exports one sentinel for both.
		if strings.Contains(err.Error(), "signature") {
			return wrap(olm.ErrBadSignature, err)
		}
		return wrap(olm.ErrBadMAC, err)
	case errors.Is(err, megolm.ErrUnsupportedVersion):
		return wrap(olm.ErrWrongProtocolVersion, err)
	case errors.Is(err, megolm.ErrMalformed):
		return wrap(olm.ErrBadMessageFormat, err)
	case errors.Is(err, megolm.ErrBadPickle):
		return wrap(olm.ErrLibolmCorruptedPickle, err)
	}
	return err
}

// InboundGroupSession is mautrix's olm.InboundGroupSession backed by a
// sicher megolm.InboundSession.
type InboundGroupSession struct {
	s       *megolm.InboundSession // nil for a blank session
	pickles PickleFormat
}

var _ olm.InboundGroupSession = (*InboundGroupSession)(nil)

// NewInboundGroupSession creates an inbound session from a signed session
// key (an m.room_key's "session_key", unpadded base64;
// olm.InitNewInboundGroupSession). The session is verified.
func (d Driver) NewInboundGroupSession(sessionKey []byte) (olm.InboundGroupSession, error) {
	if len(sessionKey) == 0 {
		return nil, olm.ErrEmptyInput
	}
	var k megolm.SessionKey
	if err := k.UnmarshalText(sessionKey); err != nil {
		return nil, wrap(olm.ErrLibolmBadSessionKey, megolmError(err))
	}
	s, err := megolm.NewInboundSession(&k)
	if err != nil {
		return nil, wrap(olm.ErrLibolmBadSessionKey, megolmError(err))
	}
	return &InboundGroupSession{s: s, pickles: d.Pickles}, nil
}

// InboundGroupSessionImport creates an unverified inbound session from an
// exported session key (unpadded base64; olm.InitInboundGroupSessionImport).
func (d Driver) InboundGroupSessionImport(sessionKey []byte) (olm.InboundGroupSession, error) {
	if len(sessionKey) == 0 {
		return nil, olm.ErrEmptyInput
	}
	var k megolm.ExportedSessionKey
	if err := k.UnmarshalText(sessionKey); err != nil {
		return nil, wrap(olm.ErrLibolmBadSessionKey, megolmError(err))
	}
	s, err := megolm.ImportInboundSession(&k)
	if err != nil {
		return nil, wrap(olm.ErrLibolmBadSessionKey, megolmError(err))
	}
	return &InboundGroupSession{s: s, pickles: d.Pickles}, nil
}

// NewBlankInboundGroupSession returns a session to Unpickle into
// (olm.InitBlankInboundGroupSession).
func (d Driver) NewBlankInboundGroupSession() olm.InboundGroupSession {
	return &InboundGroupSession{pickles: d.Pickles}
}

// InboundGroupSessionFromPickled loads a session pickled in either format
// (olm.InitInboundGroupSessionFromPickled).
func (d Driver) InboundGroupSessionFromPickled(pickled, key []byte) (olm.InboundGroupSession, error) {
	s := &InboundGroupSession{pickles: d.Pickles}
	if err := s.Unpickle(pickled, key); err != nil {
		return nil, err
	}
	return s, nil
}

// Sicher returns the sicher session, nil for a blank one.
func (s *InboundGroupSession) Sicher() *megolm.InboundSession { return s.s }

// Pickle encrypts the session under key (empty means " ") in the Driver's
// format.
func (s *InboundGroupSession) Pickle(key []byte) ([]byte, error) {
	if s.s == nil {
		return nil, ErrBlank
	}
	return pickleGroup(s.pickles, key, s.s.Pickle, s.s.PickleLibolm)
}

// Unpickle loads a session pickled in either format. On error the session
// is unchanged.
func (s *InboundGroupSession) Unpickle(pickled, key []byte) error {
	ss, err := unpickle(pickled, groupKey(key), megolm.UnpickleInboundSession, megolm.UnpickleLibolmInboundSession)
	if err != nil {
		return megolmError(err)
	}
	s.s = ss
	return nil
}

// Decrypt decrypts a Megolm message (unpadded base64) and returns the
// plaintext and the message index. A message older than the first known
// index matches olm.ErrUnknownMessageIndex.
func (s *InboundGroupSession) Decrypt(message []byte) ([]byte, uint, error) {
	if s.s == nil {
		return nil, 0, ErrBlank
	}
	if len(message) == 0 {
		return nil, 0, olm.ErrEmptyInput
	}
	raw := getScratch(base64.RawStdEncoding.DecodedLen(len(message)))
	defer putScratch(raw)
	n, err := base64.RawStdEncoding.Decode(*raw, message)
	if err != nil {
		return nil, 0, wrap(olm.ErrLibolmInvalidBase64, err)
	}
	pt, index, err := s.s.Decrypt(nil, (*raw)[:n])
	if err != nil {
		return nil, 0, megolmError(err)
	}
	return pt, uint(index), nil
}

// ID returns the session id.
func (s *InboundGroupSession) ID() id.SessionID {
	if s.s == nil {
		return ""
	}
	return id.SessionID(s.s.SessionID().String())
}

// FirstKnownIndex returns the first message index the session can decrypt.
func (s *InboundGroupSession) FirstKnownIndex() uint32 {
	if s.s == nil {
		return 0
	}
	return s.s.FirstKnownIndex()
}

// IsVerified reports whether the session came from a signed session key
// or has decrypted a message.
func (s *InboundGroupSession) IsVerified() bool { return s.s != nil && s.s.IsVerified() }

// Export returns the session key from messageIndex on, in the export
// format (unpadded base64).
func (s *InboundGroupSession) Export(messageIndex uint32) ([]byte, error) {
	if s.s == nil {
		return nil, ErrBlank
	}
	k, err := s.s.Export(messageIndex)
	if err != nil {
		return nil, megolmError(err)
	}
	return []byte(k.Base64()), nil
}

// OutboundGroupSession is mautrix's olm.OutboundGroupSession backed by a
// sicher megolm.OutboundSession.
type OutboundGroupSession struct {
	s       *megolm.OutboundSession // nil for a blank session
	pickles PickleFormat
}

var _ olm.OutboundGroupSession = (*OutboundGroupSession)(nil)

// NewOutboundGroupSession creates a session with fresh keys
// (olm.InitNewOutboundGroupSession).
func (d Driver) NewOutboundGroupSession() (olm.OutboundGroupSession, error) {
	s, err := megolm.NewOutboundSession()
	if err != nil {
		return nil, err
	}
	return &OutboundGroupSession{s: s, pickles: d.Pickles}, nil
}

// NewBlankOutboundGroupSession returns a session to Unpickle into
// (olm.InitNewBlankOutboundGroupSession).
func (d Driver) NewBlankOutboundGroupSession() olm.OutboundGroupSession {
	return &OutboundGroupSession{pickles: d.Pickles}
}

// OutboundGroupSessionFromPickled loads a session pickled in either
// format (olm.InitNewOutboundGroupSessionFromPickled).
func (d Driver) OutboundGroupSessionFromPickled(pickled, key []byte) (olm.OutboundGroupSession, error) {
	s := &OutboundGroupSession{pickles: d.Pickles}
	if err := s.Unpickle(pickled, key); err != nil {
		return nil, err
	}
	return s, nil
}

// Sicher returns the sicher session, nil for a blank one.
func (s *OutboundGroupSession) Sicher() *megolm.OutboundSession { return s.s }

// Pickle encrypts the session under key (empty means " ") in the Driver's
// format.
func (s *OutboundGroupSession) Pickle(key []byte) ([]byte, error) {
	if s.s == nil {
		return nil, ErrBlank
	}
	return pickleGroup(s.pickles, key, s.s.Pickle, s.s.PickleLibolm)
}

// Unpickle loads a session pickled in either format. On error the session
// is unchanged.
func (s *OutboundGroupSession) Unpickle(pickled, key []byte) error {
	ss, err := unpickle(pickled, groupKey(key), megolm.UnpickleOutboundSession, megolm.UnpickleLibolmOutboundSession)
	if err != nil {
		return megolmError(err)
	}
	s.s = ss
	return nil
}

// Encrypt encrypts plaintext and returns the message as unpadded base64.
func (s *OutboundGroupSession) Encrypt(plaintext []byte) ([]byte, error) {
	if s.s == nil {
		return nil, ErrBlank
	}
	if len(plaintext) == 0 {
		return nil, olm.ErrEmptyInput
	}
	// The binary message goes into a reused buffer, its base64 into the
	// result.
	buf := getScratch(0)
	defer putScratch(buf)
	*buf = s.s.Encrypt(*buf, plaintext)
	return base64.RawStdEncoding.AppendEncode(nil, *buf), nil
}

// ID returns the session id.
func (s *OutboundGroupSession) ID() id.SessionID {
	if s.s == nil {
		return ""
	}
	return id.SessionID(s.s.SessionID().String())
}

// MessageIndex returns the index of the next message.
func (s *OutboundGroupSession) MessageIndex() uint {
	if s.s == nil {
		return 0
	}
	return uint(s.s.MessageIndex())
}

// Key returns the signed session key for the current index (unpadded
// base64), what an m.room_key carries.
func (s *OutboundGroupSession) Key() string {
	if s.s == nil {
		return ""
	}
	return s.s.SessionKey().Base64()
}

// pickleGroup pickles a Megolm session under key (empty means " ") in the
// chosen format, with its own or its libolm pickler.
func pickleGroup(f PickleFormat, key []byte, own func(*[megolm.PickleKeySize]byte) (string, error), libolm func([]byte) (string, error)) ([]byte, error) {
	key = groupKey(key)
	if f == LibolmPickles {
		p, err := libolm(key)
		return []byte(p), megolmError(err)
	}
	p, err := own(pickleKey(key))
	return []byte(p), err
}
