package megolm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
)

// Algorithm is the room encryption algorithm this package implements.
const Algorithm = "m.megolm.v1.aes-sha2"

// ExportedSession is a Megolm session that travels between devices with
// the metadata a client needs to use it: an entry of a key export file
// (spec "Key exports", ExportedSessionData:
// https://spec.matrix.org/v1.19/client-server-api/#key-exports), the
// plaintext of a server-side key backup entry (BackedUpSessionData:
// https://spec.matrix.org/v1.19/client-server-api/#backup-algorithm-mmegolm_backupv1curve25519-aes-sha2)
// or the content of an m.forwarded_room_key event. keyexport, keybackup
// and event convert their wire forms to and from it.
//
// Every field but the session key is a claim of whoever made the export:
// nothing in an exported session proves who created it, and
// [ExportedSession.InboundSession] makes an unverified session.
//
// The session key is secret. It is held in an unexported field, leaves
// only through [ExportedSession.SessionKey] and
// [ExportedSession.MarshalSecretJSON], and is redacted by fmt, log/slog and
// encoding/json (which sees the public fields only). An ExportedSession is
// a plain value owned by its caller.
type ExportedSession struct {
	// Algorithm is the session's algorithm, [Algorithm].
	Algorithm string
	// RoomID is the room the session belongs to.
	RoomID string
	// SenderKey is the Curve25519 identity key of the device that created
	// the session, or the zero key if RawSenderKey is not a valid key.
	SenderKey key.Curve25519
	// RawSenderKey is sender_key as it was parsed. A malformed sender_key
	// must not make a usable session unrestorable (old backups hold such
	// entries), so ParseExportedSession keeps the text here; it is written
	// back when SenderKey is zero.
	RawSenderKey string
	// SenderClaimedKeys are the keys the sending device claimed, by
	// algorithm; "ed25519" is its fingerprint key.
	SenderClaimedKeys map[string]string
	// ForwardingCurve25519KeyChain lists the Curve25519 keys of the
	// devices that forwarded the session, oldest first.
	ForwardingCurve25519KeyChain []string
	// SharedHistory is the shared_history flag (MSC3061, spec v1.19): the
	// session may be shared with users invited later.
	SharedHistory bool

	sessionKey *ExportedSessionKey
}

// NewExportedSession returns an exported session of algorithm [Algorithm]
// for k, with the room and the sending device's keys. k is kept, not
// copied (it is immutable). To export an [InboundSession] with everything
// it can decrypt, pass its [InboundSession.ExportAtFirstKnownIndex].
func NewExportedSession(k *ExportedSessionKey, roomID string, senderKey key.Curve25519, claimedEd25519 key.Ed25519) *ExportedSession {
	return &ExportedSession{
		Algorithm:         Algorithm,
		RoomID:            roomID,
		SenderKey:         senderKey,
		SenderClaimedKeys: map[string]string{"ed25519": claimedEd25519.String()},
		sessionKey:        k,
	}
}

// SessionKey returns the exported session key (secret), or nil for a zero
// ExportedSession.
func (e *ExportedSession) SessionKey() *ExportedSessionKey { return e.sessionKey }

// SessionID returns the session's ID, the signing key the session key
// carries (the zero key if there is none).
func (e *ExportedSession) SessionID() key.Ed25519 {
	if e.sessionKey == nil {
		return key.Ed25519{}
	}
	return e.sessionKey.signingKey
}

// ClaimedEd25519 returns the sender's claimed Ed25519 fingerprint key, if
// SenderClaimedKeys has a valid one.
func (e *ExportedSession) ClaimedEd25519() (key.Ed25519, bool) {
	k, err := key.ParseEd25519(e.SenderClaimedKeys["ed25519"])
	return k, err == nil
}

// InboundSession creates the session e describes, unverified as every
// session imported from an exported key is (see [ImportInboundSession]).
// It refuses an algorithm other than [Algorithm] and an ExportedSession
// without a session key (errors wrap [ErrMalformed]).
func (e *ExportedSession) InboundSession() (*InboundSession, error) {
	if e.Algorithm != Algorithm {
		return nil, fmt.Errorf("%w: algorithm %q", ErrMalformed, e.Algorithm)
	}
	if e.sessionKey == nil {
		return nil, fmt.Errorf("%w: no session key", ErrMalformed)
	}
	return ImportInboundSession(e.sessionKey)
}

// senderKeyText returns sender_key as it is written.
func (e *ExportedSession) senderKeyText() string {
	if e.SenderKey == (key.Curve25519{}) && e.RawSenderKey != "" {
		return e.RawSenderKey
	}
	return e.SenderKey.String()
}

// exportedSessionJSON is the wire form: a key export entry, which is a
// backup entry's plaintext plus room_id and session_id.
type exportedSessionJSON struct {
	Algorithm     string            `json:"algorithm"`
	Chain         []string          `json:"forwarding_curve25519_key_chain"`
	RoomID        string            `json:"room_id"`
	SenderKey     *string           `json:"sender_key"`
	ClaimedKeys   map[string]string `json:"sender_claimed_keys"`
	SessionID     *string           `json:"session_id"`
	SessionKey    *string           `json:"session_key"`
	SharedHistory bool              `json:"shared_history"`
}

// MarshalSecretJSON writes e in the form of a key export entry, as Element
// and matrix-rust-sdk write it, including the secret session key in
// exported format; the result is secret. (ExportedSession deliberately has
// no MarshalJSON.) It fails for an ExportedSession without a session key.
func (e *ExportedSession) MarshalSecretJSON() ([]byte, error) {
	if e.sessionKey == nil {
		return nil, fmt.Errorf("%w: no session key", ErrMalformed)
	}
	id := e.sessionKey.signingKey.String()
	sk := e.sessionKey.Base64()
	sender := e.senderKeyText()
	j := exportedSessionJSON{
		Algorithm:     e.Algorithm,
		Chain:         e.ForwardingCurve25519KeyChain,
		RoomID:        e.RoomID,
		SenderKey:     &sender,
		ClaimedKeys:   e.SenderClaimedKeys,
		SessionID:     &id,
		SessionKey:    &sk,
		SharedHistory: e.SharedHistory,
	}
	// Readers such as matrix-nio require these two to be present.
	if j.Chain == nil {
		j.Chain = []string{}
	}
	if j.ClaimedKeys == nil {
		j.ClaimedKeys = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("megolm: encoding exported session: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ParseExportedSession parses the JSON of an exported session: a key
// export entry or a key backup entry's plaintext, with the strict decoder
// every network input goes through (exact member names, no duplicates).
// algorithm, sender_key and session_key are required. sender_key is kept
// as text in RawSenderKey and, if it is a valid key, in SenderKey.
// session_key is an exported session key or, as some clients write, a
// signed session key (verified, then converted); session_id, if present,
// must name the same session. The legacy member name
// forwardingCurve25519KeyChain of old matrix-js-sdk backups is read too;
// room_id is optional (backup entries carry it in their URL). Errors wrap
// [ErrMalformed] or [ErrAuthentication].
func ParseExportedSession(data []byte) (*ExportedSession, error) {
	var j struct {
		exportedSessionJSON
		LegacyChain []string `json:"forwardingCurve25519KeyChain"`
	}
	if err := jsonstrict.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: exported session: %w", ErrMalformed, err)
	}
	switch {
	case j.Algorithm == "":
		return nil, fmt.Errorf("%w: exported session without algorithm", ErrMalformed)
	case j.SenderKey == nil:
		return nil, fmt.Errorf("%w: exported session without sender_key", ErrMalformed)
	case j.SessionKey == nil:
		return nil, fmt.Errorf("%w: exported session without session_key", ErrMalformed)
	}
	sk := new(ExportedSessionKey)
	if err := sk.UnmarshalText([]byte(*j.SessionKey)); err != nil {
		return nil, fmt.Errorf("session_key: %w", err)
	}
	if j.SessionID != nil && *j.SessionID != sk.signingKey.String() {
		id, err := key.ParseEd25519(*j.SessionID)
		if err != nil || id != sk.signingKey {
			return nil, fmt.Errorf("%w: session_id %q does not match the session key's %s", ErrMalformed, *j.SessionID, sk.signingKey)
		}
	}
	chain := j.Chain
	if chain == nil {
		chain = j.LegacyChain
	}
	if chain == nil {
		chain = []string{}
	}
	e := &ExportedSession{
		Algorithm:                    j.Algorithm,
		RoomID:                       j.RoomID,
		RawSenderKey:                 *j.SenderKey,
		SenderClaimedKeys:            j.ClaimedKeys,
		ForwardingCurve25519KeyChain: chain,
		SharedHistory:                j.SharedHistory,
		sessionKey:                   sk,
	}
	if k, err := key.ParseCurve25519(*j.SenderKey); err == nil {
		e.SenderKey = k
	}
	return e, nil
}

// Format prints the public fields only, for every verb.
func (e ExportedSession) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "megolm.ExportedSession{Algorithm: %q, RoomID: %q, SenderKey: %q, SessionID: %s, SenderClaimedKeys: %v, ForwardingCurve25519KeyChain: %v, SharedHistory: %v, SessionKey: REDACTED}",
		e.Algorithm, e.RoomID, e.senderKeyText(), e.SessionID(), e.SenderClaimedKeys, e.ForwardingCurve25519KeyChain, e.SharedHistory)
}

// LogValue implements slog.LogValuer: the public fields only.
func (e ExportedSession) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("algorithm", e.Algorithm),
		slog.String("room_id", e.RoomID),
		slog.String("sender_key", e.senderKeyText()),
		slog.String("session_id", e.SessionID().String()),
		slog.Bool("shared_history", e.SharedHistory),
		slog.String("session_key", "REDACTED"),
	)
}
