package olm

import (
	"crypto/hmac"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
)

// SessionConfig selects the message format of a session, as vodozemac's
// olm::SessionConfig does (vodozemac src/olm/session_config.rs).
//
// The zero value, config v1, is Olm as the Matrix specification defines it
// (https://spec.matrix.org/v1.19/client-server-api/#molmv1curve25519-aes-sha2,
// olm.md "Version 1"): normal messages of version 3 ending with an
// HMAC-SHA-256 truncated to 8 bytes. It is the default.
//
// SessionConfigV2 is vodozemac's experimental "session config v2" (cargo
// feature experimental-session-config, off by default since vodozemac
// 0.10): the normal message, also the one inside a pre-key message, has
// version 4 and ends with the whole 32-byte HMAC-SHA-256 (vodozemac
// src/olm/messages/message.rs, src/cipher/mod.rs). Everything else is v1's:
// the 3DH, the Double Ratchet, the key derivation, AES-256-CBC, the bytes
// the MAC covers, and the pre-key message around the normal one (still
// version 3). It is in no specification; some clients (FluffyChat with
// dart-vodozemac before vodozemac 0.10) send it. sicher makes a v2 session
// only when asked: Account.NewOutboundSessionWithConfig, or
// InboundOptions.AcceptSessionConfigV2 for a v2 pre-key message. A v1
// session refuses a v2 message with ErrSessionConfigV2, and a v2 session
// refuses a v1 message, as vodozemac's do.
type SessionConfig uint8

// SessionConfigV2 is vodozemac's experimental config with untruncated MACs.
// Opt in only for peers known to use it.
const SessionConfigV2 SessionConfig = 2

// ErrSessionConfigV2 is returned by Session.Decrypt of a session with
// SessionConfigV1, and by Account.NewInboundSession without
// InboundOptions.AcceptSessionConfigV2, for a message of vodozemac's
// session config v2 whose full MAC verifies under the session's message
// key: the peer's app uses that unsupported variant. The session and the
// account are unchanged (no session is created, no one-time key used). It
// matches ErrUnsupportedVersion too.
var ErrSessionConfigV2 = fmt.Errorf("%w: peer uses session config v2 (vodozemac experimental, untruncated MACs); enable it with olm.InboundOptions.AcceptSessionConfigV2", ErrUnsupportedVersion)

// messageVersion returns the version byte of the config's normal messages.
func (c SessionConfig) messageVersion() uint8 {
	if c == SessionConfigV2 {
		return versionV2
	}
	return protocolVersion
}

// macLen returns the length of the config's MACs.
func (c SessionConfig) macLen() int {
	if c == SessionConfigV2 {
		return macSizeV2
	}
	return macSize
}

// appendTag appends the MAC of msg under keys, as long as the config's.
func (c SessionConfig) appendTag(keys *aessha2.Keys, dst, msg []byte) []byte {
	if c != SessionConfigV2 {
		return keys.AppendTag(dst, msg)
	}
	mac := keys.MAC(msg)
	return append(dst, mac[:]...)
}

// check refuses a message whose version is not the config's, before the
// session changes. A version 4 message for a v1 session is
// ErrSessionConfigV2 only if its whole MAC verifies under the message key,
// so that the reason a caller reports is the peer's, not that of anyone on
// the path; else it is ErrAuthentication.
func (c SessionConfig) check(keys *aessha2.Keys, m *Message) error {
	if m.Version() == c.messageVersion() {
		return nil
	}
	if m.Version() != versionV2 {
		return fmt.Errorf("%w: a version %d message (8-byte MAC) for a session with session config v2", ErrAuthentication, m.Version())
	}
	n := len(m.raw) - macSizeV2
	mac := keys.MAC(m.raw[:n])
	if !hmac.Equal(mac[:], m.raw[n:]) {
		return fmt.Errorf("%w: %w", ErrAuthentication, aessha2.ErrAuthentication)
	}
	return ErrSessionConfigV2
}

// pickleVersion returns the version of sicher's session pickle that
// stores a session of the config.
func (c SessionConfig) pickleVersion() uint8 {
	if c == SessionConfigV2 {
		return pickle.OlmSessionV3ConfigV2
	}
	return pickle.OlmSessionV3
}

// configOfPickleVersion is the inverse of pickleVersion.
func configOfPickleVersion(v uint8) SessionConfig {
	if v == pickle.OlmSessionV3ConfigV2 {
		return SessionConfigV2
	}
	return 0
}

// inboundConfig returns the config of the session a pre-key message
// starts: v2 for a version 4 inner message if the options accept it, else
// v1 (and a version 4 message then fails with ErrSessionConfigV2).
func inboundConfig(m *Message, opts *InboundOptions) SessionConfig {
	if m.Version() == versionV2 && opts.AcceptSessionConfigV2 {
		return SessionConfigV2
	}
	return 0
}

// SessionConfig returns the session's config: zero for v1, or
// SessionConfigV2.
func (s *Session) SessionConfig() SessionConfig { return s.config }

// NewOutboundSessionWithConfig is NewOutboundSessionFrom for a session of
// the given config: the zero value (v1) or SessionConfigV2 (1, vodozemac's
// number for v1, means v1 too). With SessionConfigV2 its messages have version 4 and
// the whole MAC, and only a peer that opted in to v2 decrypts them.
func (a *Account) NewOutboundSessionWithConfig(rand io.Reader, theirIdentity, theirOneTimeKey key.Curve25519, c SessionConfig) (*Session, error) {
	if c != 0 && c != 1 && c != SessionConfigV2 {
		return nil, fmt.Errorf("olm: unknown session config %d", uint8(c))
	}
	s, err := a.NewOutboundSessionFrom(rand, theirIdentity, theirOneTimeKey)
	if err != nil {
		return nil, err
	}
	if c == SessionConfigV2 {
		s.config = SessionConfigV2
	}
	return s, nil
}
