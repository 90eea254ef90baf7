package keyexport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// MegolmAlgorithm is the room encryption algorithm of exported sessions.
const MegolmAlgorithm = "m.megolm.v1.aes-sha2"

// MaxSessions bounds the number of entries ParseSessions accepts.
const MaxSessions = 1_000_000

// Session is one entry of a key export file (spec ExportedSessionData):
// a Megolm session's key at its first known index, with the metadata a
// client needs to trust and use it.
//
// The session key is secret: it is held in an unexported field, written
// only by MarshalJSON, and redacted by fmt. The other fields are public.
// A Session is a plain value; it is safe for concurrent reads.
type Session struct {
	// Algorithm is MegolmAlgorithm.
	Algorithm string
	// RoomID is the room the session belongs to.
	RoomID string
	// SenderKey is the Curve25519 identity key of the device that created
	// the session.
	SenderKey key.Curve25519
	// SenderClaimedKeys are the keys the sending device claimed, by
	// algorithm; "ed25519" is its fingerprint key.
	SenderClaimedKeys map[string]string
	// ForwardingCurve25519KeyChain lists the Curve25519 keys of the
	// devices that forwarded the key, oldest first.
	ForwardingCurve25519KeyChain []string
	// SharedHistory says the session may be shared with users invited
	// later (MSC3061 / spec v1.19 "shared_history").
	SharedHistory bool

	sessionKey *megolm.ExportedSessionKey
}

// SessionID returns the session's ID: the Ed25519 public key of its
// signing key, as the session key carries it.
func (s *Session) SessionID() key.Ed25519 {
	if s.sessionKey == nil {
		return key.Ed25519{}
	}
	return s.sessionKey.SessionID()
}

// SessionKey returns the exported session key (secret).
func (s *Session) SessionKey() *megolm.ExportedSessionKey { return s.sessionKey }

// ClaimedEd25519 returns the sender's claimed Ed25519 fingerprint key, if
// the entry has a valid one.
func (s *Session) ClaimedEd25519() (key.Ed25519, bool) {
	k, err := key.ParseEd25519(s.SenderClaimedKeys["ed25519"])
	return k, err == nil
}

// Format implements fmt.Formatter: it prints the public fields and never
// the session key.
func (s Session) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "keyexport.Session{RoomID:%q SenderKey:%s SessionID:%s SharedHistory:%v session_key:REDACTED}",
		s.RoomID, s.SenderKey, s.SessionID(), s.SharedHistory)
}

type sessionJSON struct {
	Algorithm     string            `json:"algorithm"`
	Chain         []string          `json:"forwarding_curve25519_key_chain"`
	RoomID        string            `json:"room_id"`
	SenderKey     *key.Curve25519   `json:"sender_key"`
	ClaimedKeys   map[string]string `json:"sender_claimed_keys"`
	SessionID     *key.Ed25519      `json:"session_id"`
	SessionKey    *string           `json:"session_key"`
	SharedHistory bool              `json:"shared_history"`
}

// MarshalJSON writes the entry in the form Element and matrix-rust-sdk
// export, including the secret session key in exported format.
func (s *Session) MarshalJSON() ([]byte, error) {
	if s.sessionKey == nil {
		return nil, fmt.Errorf("%w: no session key", ErrMalformedSession)
	}
	id := s.sessionKey.SessionID()
	sk := s.sessionKey.Base64()
	j := sessionJSON{
		Algorithm:     s.Algorithm,
		Chain:         s.ForwardingCurve25519KeyChain,
		RoomID:        s.RoomID,
		SenderKey:     &s.SenderKey,
		ClaimedKeys:   s.SenderClaimedKeys,
		SessionID:     &id,
		SessionKey:    &sk,
		SharedHistory: s.SharedHistory,
	}
	// Readers such as matrix-nio require these two to be present.
	if j.Chain == nil {
		j.Chain = []string{}
	}
	if j.ClaimedKeys == nil {
		j.ClaimedKeys = map[string]string{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON parses one entry. It requires the algorithm to be
// MegolmAlgorithm, a valid sender_key, and a session_key that parses as an
// exported session key (or a signed m.room_key session key, which is
// verified and converted); session_id, if present, must match the key.
// Errors wrap ErrMalformedSession; on error s is unchanged.
func (s *Session) UnmarshalJSON(data []byte) error {
	var j sessionJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedSession, err)
	}
	if j.Algorithm != MegolmAlgorithm {
		return fmt.Errorf("%w: algorithm %q", ErrMalformedSession, j.Algorithm)
	}
	if j.SenderKey == nil {
		return fmt.Errorf("%w: missing sender_key", ErrMalformedSession)
	}
	if j.SessionKey == nil {
		return fmt.Errorf("%w: missing session_key", ErrMalformedSession)
	}
	sk, err := parseSessionKey(*j.SessionKey)
	if err != nil {
		return err
	}
	if j.SessionID != nil && *j.SessionID != sk.SessionID() {
		return fmt.Errorf("%w: session_id %s does not match the session key's %s", ErrMalformedSession, *j.SessionID, sk.SessionID())
	}
	*s = Session{
		Algorithm:                    j.Algorithm,
		RoomID:                       j.RoomID,
		SenderKey:                    *j.SenderKey,
		SenderClaimedKeys:            j.ClaimedKeys,
		ForwardingCurve25519KeyChain: j.Chain,
		SharedHistory:                j.SharedHistory,
		sessionKey:                   sk,
	}
	return nil
}

// parseSessionKey accepts the exported format (0x01) and, as some clients
// put the m.room_key form there, the signed sharing format (0x02), whose
// signature is verified before it is converted.
func parseSessionKey(s string) (*megolm.ExportedSessionKey, error) {
	sk, err := megolm.ParseExportedSessionKey(s)
	if err == nil {
		return sk, nil
	}
	signed, err2 := megolm.ParseSessionKey(s)
	if err2 != nil {
		return nil, fmt.Errorf("%w: session_key: %w", ErrMalformedSession, err)
	}
	in, err2 := megolm.NewInboundSession(signed)
	if err2 != nil {
		return nil, fmt.Errorf("%w: session_key: %w", ErrMalformedSession, err2)
	}
	return in.ExportAtFirstKnownIndex(), nil
}

// EntryError reports an entry of a session list that was skipped.
type EntryError struct {
	Index int // position in the JSON array
	Err   error
}

// Error implements error.
func (e *EntryError) Error() string { return fmt.Sprintf("keyexport: entry %d: %v", e.Index, e.Err) }

// Unwrap returns the reason the entry was skipped.
func (e *EntryError) Unwrap() error { return e.Err }

// ParseSessions parses a session list (the plaintext of a key export
// file). Entries that are not valid Megolm sessions are skipped and
// reported in skipped (each an *EntryError wrapping ErrMalformedSession),
// so one bad entry does not block importing the rest. err is non-nil only
// if data is not a JSON array or has more than MaxSessions entries.
func ParseSessions(data []byte) (sessions []*Session, skipped []error, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, nil, fmt.Errorf("%w: session list is not a JSON array", ErrMalformedSession)
	}
	for i := 0; dec.More(); i++ {
		if i >= MaxSessions {
			return nil, nil, fmt.Errorf("%w: more than %d sessions", ErrMalformedSession, MaxSessions)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("%w: session list: %v", ErrMalformedSession, err)
		}
		s := new(Session)
		if err := s.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, &EntryError{Index: i, Err: err})
			continue
		}
		sessions = append(sessions, s)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%w: session list: %v", ErrMalformedSession, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: data after the session list", ErrMalformedSession)
	}
	return sessions, skipped, nil
}

// MarshalSessions encodes sessions as a JSON array (the plaintext of a key
// export file). The result is secret.
func MarshalSessions(sessions []*Session) ([]byte, error) {
	if sessions == nil {
		sessions = []*Session{}
	}
	return json.Marshal(sessions)
}

// Export encodes sessions and encrypts them into a key export file.
func Export(sessions []*Session, passphrase string, opts *Options) ([]byte, error) {
	pt, err := MarshalSessions(sessions)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return Encrypt(pt, passphrase, opts)
}

// Import decrypts a key export file and parses its session list; see
// Decrypt and ParseSessions for the errors.
func Import(file []byte, passphrase string, opts *Options) (sessions []*Session, skipped []error, err error) {
	pt, err := Decrypt(file, passphrase, opts)
	if err != nil {
		return nil, nil, err
	}
	defer clear(pt)
	return ParseSessions(pt)
}
