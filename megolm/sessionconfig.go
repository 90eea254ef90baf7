package megolm

import (
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// SessionConfig selects the message format of a session, as vodozemac's
// megolm::SessionConfig does (vodozemac src/megolm/session_config.rs).
//
// The zero value, config v1, is m.megolm.v1.aes-sha2 as the Matrix
// specification defines it
// (https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2):
// version byte 3 and an HMAC-SHA-256 truncated to 8 bytes. It is the
// default.
//
// [SessionConfigV2] is vodozemac's experimental "session config v2"
// (cargo feature experimental-session-config, off by default since
// vodozemac 0.10): version byte 4 and the whole 32-byte HMAC-SHA-256. The
// keys, the ratchet, the ciphertext and the signature (over everything
// before it, the longer MAC included) are those of v1. It is in no
// specification, and a session key does not say which config its session
// uses: the two sides agree out of band. Some clients (FluffyChat with
// dart-vodozemac before vodozemac 0.10) send it. sicher decrypts and
// encrypts it only for a session set to SessionConfigV2
// ([InboundSession.SetSessionConfig], [NewOutboundSessionWithConfig]); a
// v1 session refuses a v2 message with [ErrSessionConfigV2], and a v2
// session a v1 message, as vodozemac's do.
type SessionConfig uint8

// SessionConfigV2 is vodozemac's experimental config with untruncated
// MACs. Opt in only for peers known to send it.
const SessionConfigV2 SessionConfig = 2

// ErrSessionConfigV2 is returned by [InboundSession.Decrypt] of a session
// without [SessionConfigV2] for a version 4 message whose signature
// verifies under the session's key: the sender's session uses vodozemac's
// experimental session config v2. The session is unchanged. It matches
// [ErrUnsupportedVersion] too. [InboundSession.PickleLibolm] and
// [OutboundSession.PickleLibolm] return it for a v2 session, which
// libolm's format cannot describe.
var ErrSessionConfigV2 = fmt.Errorf("%w: peer uses session config v2 (vodozemac experimental, untruncated MACs); enable it with megolm.SessionConfigV2 for this session", ErrUnsupportedVersion)

// sessionConfigV1 is vodozemac's number for v1, accepted as the zero value.
const sessionConfigV1 SessionConfig = 1

// valid checks c and returns it with v1 as the zero value.
func (c SessionConfig) valid() (SessionConfig, error) {
	switch c {
	case 0, sessionConfigV1:
		return 0, nil
	case SessionConfigV2:
		return c, nil
	}
	return 0, fmt.Errorf("megolm: unknown session config %d", uint8(c))
}

// messageVersion returns the version byte of the config's messages.
func (c SessionConfig) messageVersion() uint8 {
	if c == SessionConfigV2 {
		return messageVersionV2
	}
	return messageVersion
}

// macLen returns the length of the config's MACs.
func (c SessionConfig) macLen() int {
	if c == SessionConfigV2 {
		return macSizeV2
	}
	return macSize
}

// SetSessionConfig sets the config of the messages the session accepts:
// the zero value (v1, the default) or [SessionConfigV2]. Set it as the
// session is made (a session key does not carry it);
// [InboundSession.Pickle] keeps it. An unknown value is an error and
// changes nothing.
func (s *InboundSession) SetSessionConfig(c SessionConfig) error {
	c, err := c.valid()
	if err != nil {
		return err
	}
	s.config = c
	return nil
}

// NewOutboundSessionWithConfig is [NewOutboundSessionFrom] for a session of
// the given config: with [SessionConfigV2] its messages have version 4 and
// the whole MAC, and only receivers that opted in to v2 decrypt them.
func NewOutboundSessionWithConfig(rand io.Reader, c SessionConfig) (*OutboundSession, error) {
	c, err := c.valid()
	if err != nil {
		return nil, err
	}
	s, err := NewOutboundSessionFrom(rand)
	if err != nil {
		return nil, err
	}
	s.config = c
	return s, nil
}

// SessionConfig returns the session's config: zero for v1, or
// [SessionConfigV2].
func (s *InboundSession) SessionConfig() SessionConfig { return s.config }

// checkConfig refuses a message whose version is not the session config's,
// before anything changes. A version 4 message for a v1 session is
// ErrSessionConfigV2 only if its signature verifies under the session's
// key, so that the reason a caller shows is the session owner's, not
// anyone's on the path; else it is the usual signature failure.
func (s *InboundSession) checkConfig(m *Message) error {
	if m.Version() == s.config.messageVersion() {
		return nil
	}
	if m.Version() != messageVersionV2 {
		return fmt.Errorf("%w: a version %d message (8-byte MAC) for a session with session config v2", ErrAuthentication, m.Version())
	}
	v := s.verifier
	if v == nil {
		nv, err := key.NewVerifier(s.signingKey)
		if err != nil {
			return fmt.Errorf("%w: %w", errBadSignature, err)
		}
		v = &nv
	}
	if err := v.Verify(m.signatureInput(), key.Ed25519Signature(m.signature())); err != nil {
		return errBadSignature
	}
	return ErrSessionConfigV2
}

// pickledConfigV2 ends the body of a sicher pickle of a session with
// SessionConfigV2; a v1 session's body ends without it, so v1 pickles are
// unchanged and a reader that predates v2 refuses a v2 pickle (trailing
// data) instead of loading it as v1.
const pickledConfigV2 = 2

func appendConfig(w *wire.Builder, c SessionConfig) {
	if c == SessionConfigV2 {
		w.AddUint8(pickledConfigV2)
	}
}

// readConfig reads what appendConfig wrote and checks that nothing follows.
func readConfig(r *wire.Reader) (SessionConfig, error) {
	var b uint8
	switch {
	case r.Empty():
		return 0, nil
	case !r.ReadUint8(&b) || b != pickledConfigV2 || !r.Empty():
		return 0, fmt.Errorf("%w: trailing data", ErrBadPickle)
	}
	return SessionConfigV2, nil
}
